-------------------------------------------------------------------------------
-- Backup and restore (docs/operations.md, "Backup and restore"; the window
-- in src/pg/protection/restore_window.hpp).
-------------------------------------------------------------------------------

-- pg_dump carries the approval state and the audit chain, and the id
-- sequences' positions, so that a restored installation enforces the same
-- policies and its ids and chain continue. Not the outbox: mail waiting at
-- the backup is not sent again from a copy (its history is in the audit),
-- and its bodies are the one place addresses appear unmasked besides
-- mpa.approvers. No secret is among them: the code key lives in shared
-- memory only, and a challenge's nonce makes no code without it.
SELECT pg_catalog.pg_extension_config_dump('mpa.teams', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.approvers', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.policies', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.policy_teams', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.requests', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.request_teams', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.votes', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.temporary_grants', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.challenges', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.audit', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.break_glass', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.break_glass_uses', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.reviews', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.policies_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.requests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.challenges_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.audit_id_seq', '');
-- The outbox's rows stay behind, its ids continue (the audit names mail by id).
SELECT pg_catalog.pg_extension_config_dump('mpa.outbox_id_seq', '');

-- The tables a restore wrote in this installation, each once (not carried
-- by pg_dump: a copy of a restored installation is restored anew). The
-- mail worker records the restore in the audit once the window closed
-- (finished_at).
CREATE TABLE IF NOT EXISTS mpa.restored (
  relname     text PRIMARY KEY,
  rows        bigint NOT NULL,
  ended       bigint[] NOT NULL DEFAULT '{}',  -- requests ended, codes made void
  restored_at timestamptz NOT NULL DEFAULT now(),
  restored_by text NOT NULL DEFAULT session_user,
  finished_at timestamptz
);
REVOKE ALL ON mpa.restored FROM PUBLIC;
GRANT SELECT ON mpa.restored TO PUBLIC;

-- Whether the window may restore this table: it is empty and was not
-- restored before (a second COPY of it would mix two backups).
CREATE OR REPLACE FUNCTION mpa.restore_may_copy(relname text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE has_rows boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT FROM mpa.%I)', relname) INTO has_rows;
  RETURN NOT has_rows AND NOT EXISTS (SELECT FROM mpa.restored r WHERE r.relname = restore_may_copy.relname);
END $$;

-- Right after the window's COPY of a table, in its transaction. Restored
-- requests name their objects by OID, and OIDs are another cluster's: an
-- open (pending or approved) request could be spent on whatever object now
-- has that OID, so it ends at once (the worker then tells the audit and
-- the people concerned). Open codes are void: they were made with a code
-- key that was never stored. The id sequence moves past the restored ids
-- (pg_dump also sets it, later in the restore).
CREATE OR REPLACE FUNCTION mpa.restore_copied(relname text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  restored_rows bigint;
  ended bigint[] := '{}';
  id_sequence text := (SELECT pg_get_serial_sequence(a.attrelid::regclass::text, 'id') FROM pg_attribute a
                        WHERE a.attrelid = format('mpa.%I', relname)::regclass AND a.attname = 'id');
BEGIN
  EXECUTE format('SELECT count(*) FROM mpa.%I', relname) INTO restored_rows;
  IF relname = 'requests' THEN
    WITH e AS (UPDATE mpa.requests SET state = 'expired', decided_at = now()
                WHERE state IN ('pending', 'approved', 'executing') RETURNING id)
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ended FROM e;
  ELSIF relname = 'challenges' THEN
    WITH e AS (UPDATE mpa.challenges SET state = 'expired' WHERE state = 'open' RETURNING id)
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ended FROM e;
  END IF;
  IF id_sequence IS NOT NULL AND restored_rows > 0 THEN
    EXECUTE format('SELECT setval(%L, max(id)) FROM mpa.%I', id_sequence, relname);
  END IF;
  INSERT INTO mpa.restored (relname, rows, ended) VALUES (relname, restored_rows, ended);
END $$;

-- The mail worker, once the window closed: the restore goes into the audit
-- chain after the restored entries, then the end of each request it ended,
-- told like any other end (mpa.finish: audit, NOTIFY, mail). Nothing when
-- every restore is recorded already.
CREATE OR REPLACE FUNCTION mpa.finish_restore() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r mpa.requests;
  ended_requests bigint[];
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.restored WHERE finished_at IS NULL) THEN
    RETURN;
  END IF;
  SELECT coalesce((SELECT ended FROM mpa.restored WHERE relname = 'requests' AND finished_at IS NULL), '{}')
    INTO ended_requests;
  PERFORM mpa.audit('restored', NULL, jsonb_build_object(
    'rows', (SELECT jsonb_object_agg(relname, rows) FROM mpa.restored WHERE finished_at IS NULL),
    'restored by', (SELECT min(restored_by) FROM mpa.restored WHERE finished_at IS NULL),
    'restored at', (SELECT min(restored_at) FROM mpa.restored WHERE finished_at IS NULL),
    'requests ended', to_jsonb(ended_requests),
    'codes void', to_jsonb(coalesce((SELECT ended FROM mpa.restored
                                      WHERE relname = 'challenges' AND finished_at IS NULL), '{}'))));
  FOR r IN SELECT * FROM mpa.requests WHERE id = ANY (ended_requests) ORDER BY id LOOP
    PERFORM mpa.finish(r, 'expired',
      'restored from a backup: the objects it names have new identities in this cluster; ask again');
  END LOOP;
  UPDATE mpa.restored SET finished_at = now() WHERE finished_at IS NULL;
END $$;

REVOKE ALL ON FUNCTION mpa.restore_may_copy(text), mpa.restore_copied(text), mpa.finish_restore() FROM PUBLIC;
