-------------------------------------------------------------------------------
-- Internal functions (schema mpa; not for PUBLIC). The C ones are the doors
-- to pg_mpa's rules in C++; the SQL functions below are built on them.
-------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION mpa.describe(statement text, search_path text, OUT operation text, OUT object text,
                             OUT target_classes oid[], OUT target_oids oid[],
                             OUT fingerprint text, OUT team text, OUT revoke_statement text)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_describe';
-- The HINT of mpa_request's MP002 for a statement only dry-run policies
-- name (NULL: none does).
CREATE OR REPLACE FUNCTION mpa.dry_run_hint(statement text, search_path text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_dry_run_hint';
CREATE OR REPLACE FUNCTION mpa.tally(approvals int, rejections int, eligible int, threshold int) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_tally';
-- Approval by several teams (src/core/team_assignment.hpp): per voter a bit
-- per team (in the order of thresholds) and the vote ('approve', 'reject',
-- NULL: not yet, 'requester': never counts).
CREATE OR REPLACE FUNCTION mpa.tally_teams(thresholds int[], memberships int[], votes text[], shared_votes boolean,
                             OUT outcome text, OUT counted int[])
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_tally_teams';
-- Whether a request's statement changes pg_mpa's own set-up or objects
-- (beside MPA CONFIGURE): break-glass never approves it.
CREATE OR REPLACE FUNCTION mpa.changes_pg_mpa(statement text, target_classes oid[], target_oids oid[], home boolean)
  RETURNS boolean LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_changes_pg_mpa';
CREATE OR REPLACE FUNCTION mpa.check_threshold(threshold int, approvers int) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_threshold';
CREATE OR REPLACE FUNCTION mpa.check_email(email text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_email';
CREATE OR REPLACE FUNCTION mpa.mask_email(email text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_mask_email';
CREATE OR REPLACE FUNCTION mpa.canonical_operation(operation text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_canonical_operation';
CREATE OR REPLACE FUNCTION mpa.canonical_object(object text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_canonical_object';
-- What mpa.policies.database stores for a policy, validated; whether a
-- policy is published to the other databases, and how many can be
-- (docs/decisions.md, "Every database").
CREATE OR REPLACE FUNCTION mpa.policy_database(operation text, database text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_policy_database';
-- A request for another database's objects (docs/decisions.md, "Every
-- database"): its database validated (NULL: mpa.database's), and the
-- statement described there by a worker connected as the requester, with
-- what a drop there also removes, described there, and (for a statement
-- no enforcing policy there protects) the HINT naming the dry-run policies
-- there that name it.
CREATE OR REPLACE FUNCTION mpa.request_database(database text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_request_database';
CREATE OR REPLACE FUNCTION mpa.describe_in_database(statement text, search_path text, database text,
                             OUT operation text, OUT object text,
                             OUT target_classes oid[], OUT target_oids oid[],
                             OUT fingerprint text, OUT team text, OUT revoke_statement text,
                             OUT database_name text, OUT database_oid oid, OUT cascade_classes oid[],
                             OUT cascade_oids oid[], OUT cascade_descriptions text[], OUT dry_run_hint text)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_describe_in_database';
-- The one text of what a drop or truncation also reaches (mpa.cascade_of
-- runs it here, the describe task in another database).
CREATE OR REPLACE FUNCTION mpa.cascade_query() RETURNS text
  LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'mpa_cascade_query';
CREATE OR REPLACE FUNCTION mpa.reaches_other_databases(operation text, database text) RETURNS boolean
  LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'mpa_reaches_other_databases';
CREATE OR REPLACE FUNCTION mpa.published_policy_slots() RETURNS integer
  LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'mpa_published_policy_slots';
CREATE OR REPLACE FUNCTION mpa.queue_mail(kind text, recipient text, subject text, body text,
                               ttl_seconds int, supersede_key text, challenge_id bigint,
                               request_id bigint DEFAULT NULL) RETURNS bigint
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_queue_mail';
CREATE OR REPLACE FUNCTION mpa.new_nonce() RETURNS bytea
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_new_nonce';
-- The id of this server's code key (drawn with it at start, never the key).
CREATE OR REPLACE FUNCTION mpa.code_key_id() RETURNS bigint
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'mpa_code_key_id';
CREATE OR REPLACE FUNCTION mpa.check_code(challenge_id bigint, code text, OUT outcome text, OUT tries_left int,
                               OUT budget_back_at timestamptz)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_code';
CREATE OR REPLACE FUNCTION mpa.code_submitted() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_code_submitted';
CREATE OR REPLACE FUNCTION mpa.code_settled() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_code_settled';
CREATE OR REPLACE FUNCTION mpa.voter_locked_out(request_id bigint, requested_at timestamptz) RETURNS boolean
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_voter_locked_out';
CREATE OR REPLACE FUNCTION mpa.policies_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_policies_changed';
-- Records an event of this transaction in mpa.audit (chained after commit).
CREATE OR REPLACE FUNCTION mpa.audit(kind text, request_id bigint, detail jsonb) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_event';

CREATE OR REPLACE TRIGGER policies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.policies
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();
-- A policy's teams are part of it: the gate names them all.
CREATE OR REPLACE TRIGGER policy_teams_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.policy_teams
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();
CREATE OR REPLACE TRIGGER teams_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.teams
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();
-- The gate of every database refuses to drop or rename an approver's role:
-- approvers are published with the policies (src/pg/gate/policy_cache.cpp).
CREATE OR REPLACE TRIGGER approvers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.approvers
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();

