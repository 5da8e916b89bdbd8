-- Backup and restore (sql/install/17_backup_restore.sql): pg_dump carries
-- the approval state, the audit chain and the id sequences' positions; a
-- restore notes the tables it wrote in mpa.restored. The functions are
-- re-created from sql/install.
SELECT pg_catalog.pg_extension_config_dump('mpa.teams', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.approvers', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.policies', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.requests', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.votes', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.temporary_grants', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.challenges', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.audit', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.policies_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.requests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.challenges_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mpa.outbox_id_seq', '');

CREATE TABLE mpa.restored (
  relname     text PRIMARY KEY,
  rows        bigint NOT NULL,
  ended       bigint[] NOT NULL DEFAULT '{}',
  restored_at timestamptz NOT NULL DEFAULT now(),
  restored_by text NOT NULL DEFAULT session_user,
  finished_at timestamptz
);
REVOKE ALL ON mpa.restored FROM PUBLIC;
GRANT SELECT ON mpa.restored TO PUBLIC;
