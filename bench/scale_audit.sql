-- Benchmark "scale" (bench/scale.sh): audit history, loaded like
-- scale_load.sql with pg_mpa unloaded; :audit entries (10,000,000).
-- The entries continue the chain's numbering (seq after the current head)
-- and carry hashes of the right form, but the bulk part is not a chain
-- mpa_audit_verify() would accept: computing 10,000,000 real links takes
-- longer than the whole benchmark may, and no measured path verifies the
-- chain; what is measured is the cost of the table's size.
SET session_replication_role = replica;
SET maintenance_work_mem = '256MB';
INSERT INTO mpa.audit (recorded_at, kind, request_id, actor, database, detail, seq, previous_hash, hash)
SELECT now() - interval '400 days' + i * interval '3 seconds', k.kind,
       CASE WHEN k.kind <> 'address confirmed' THEN first_request.id + i / 10 END,
       CASE i % 3 WHEN 0 THEN 'dba' WHEN 1 THEN 'alice' ELSE 'bob' END, 'mpa_bench',
       jsonb_build_object('history', i),
       head.seq + i,
       encode(sha256(convert_to('history ' || (i - 1), 'UTF8')), 'hex'),
       encode(sha256(convert_to('history ' || i, 'UTF8')), 'hex')
  FROM (SELECT coalesce(max(seq), 0) AS seq FROM mpa.audit) head,
       (SELECT min(id) AS id FROM mpa.requests WHERE justification LIKE 'history row %') first_request,
       generate_series(1, :audit) i,
       LATERAL (SELECT (ARRAY['request', 'challenge opened', 'vote', 'vote', 'challenge opened', 'approved',
                              'executed', 'consumed', 'refused', 'address confirmed'])[i % 10 + 1] AS kind) k;
