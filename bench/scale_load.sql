-- Benchmark "scale" (bench/scale.sh): a year of history in pg_mpa's tables,
-- loaded while pg_mpa is NOT in shared_preload_libraries (it refuses direct
-- writes to its tables while loaded). Rows respect every constraint; the
-- foreign-key triggers are skipped (session_replication_role) because the
-- rows reference existing ones by construction. Sizes come from psql
-- variables: requests (1,000,000), outbox (other mail besides the codes' own, 0).
SET session_replication_role = replica;
SET maintenance_work_mem = '256MB';

-- Requests: all decided long ago (94% executed, 3% rejected, 2% expired,
-- 1% cancelled), one every 30 s over about a year.
INSERT INTO mpa.requests (statement, justification, operation, object, target_classes, target_oids,
                          fingerprint, team, threshold, requester, state, created_at, expires_at,
                          decided_at, executed_at)
SELECT format('DROP TABLE prod_%s.t_%s', i % 20, i % 19), 'history row ' || i, 'DROP TABLE',
       format('prod_%s.t_%s', i % 20, i % 19), ARRAY[1259]::oid[], ARRAY[(100000 + i % 5000)]::oid[],
       encode(sha256(convert_to('history ' || i, 'UTF8')), 'hex'), 'bench', 2, 'dba'::regrole,
       s.state, t.created, t.created + interval '1 day',
       CASE WHEN s.state IN ('executed', 'rejected') THEN t.created + interval '1 hour' END,
       CASE WHEN s.state = 'executed' THEN t.created + interval '2 hours' END
  FROM generate_series(1, :requests) i,
       LATERAL (SELECT now() - interval '400 days' + i * interval '30 seconds' AS created) t,
       LATERAL (SELECT CASE WHEN i % 100 < 94 THEN 'executed' WHEN i % 100 < 97 THEN 'rejected'
                            WHEN i % 100 < 99 THEN 'expired' ELSE 'cancelled' END AS state) s;

-- Two codes per request (alice's and bob's), used; and their votes where the
-- request was decided by votes.
INSERT INTO mpa.challenges (request_id, approver, decision, nonce, email, state, created_at, expires_at)
SELECT r.id, a.approver, CASE r.state WHEN 'rejected' THEN 'reject' ELSE 'approve' END,
       decode(md5(r.id || a.email), 'hex'), a.email, 'used', r.created_at + interval '10 minutes',
       r.created_at + interval '20 minutes'
  FROM mpa.requests r
 CROSS JOIN (VALUES ('alice'::regrole, 'alice@example.com'), ('bob'::regrole, 'bob@example.com')) a(approver, email)
 WHERE r.justification LIKE 'history row %';

INSERT INTO mpa.votes (request_id, approver, decision, voted_at)
SELECT c.request_id, c.approver, c.decision, c.created_at + interval '1 minute'
  FROM mpa.challenges c JOIN mpa.requests r ON r.id = c.request_id
 WHERE r.state IN ('executed', 'rejected') AND r.justification LIKE 'history row %';

-- Delivered mail: each code's mail (what the mail worker joins with the
-- codes), then :outbox other messages (requests, votes, decisions).
INSERT INTO mpa.outbox (kind, recipient, subject, body, message_id, status, attempts, created_at,
                        next_attempt_at, expires_at, sent_at, supersede_key, challenge_id)
SELECT 'code', c.email, format('[pg_mpa] your code to %s request #%s', c.decision, c.request_id),
       'history', format('history-code-%s@db.example.test', c.id), 'sent', 1, c.created_at, c.created_at,
       c.expires_at, c.created_at + interval '1 second', format('code:%s:%s', c.request_id, c.approver::oid), c.id
  FROM mpa.challenges c JOIN mpa.requests r ON r.id = c.request_id
 WHERE r.justification LIKE 'history row %';

INSERT INTO mpa.outbox (kind, recipient, subject, body, message_id, status, attempts, created_at,
                        next_attempt_at, expires_at, sent_at)
SELECT 'request', 'carol@example.com', format('[pg_mpa] approval requested (#%s)', i),
       'history', format('history-%s@db.example.test', i), 'sent', 1,
       now() - interval '400 days' + i * interval '30 seconds',
       now() - interval '400 days' + i * interval '30 seconds',
       now() - interval '399 days' + i * interval '30 seconds',
       now() - interval '400 days' + i * interval '30 seconds'
  FROM generate_series(1, :outbox) i;
