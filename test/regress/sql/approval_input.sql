-- Hostile and wrong input to every public function of pg_mpa: NULL anywhere,
-- unknown ids, teams and roles, bad decisions, codes that are not six ASCII
-- digits, statements that are not exactly one parseable statement, oversized
-- text, bad team names, addresses and object patterns, and requests that
-- cannot be approved. Each is a clear error, and nothing changes: the rows of
-- mpa.* that this file owns are compared before and after. (That a
-- malformed code costs no try is test/regress_harness/sql/malformed_codes.sql:
-- it needs codes from delivered mail, which `make installcheck` has not.)
--
-- Shares its database with other tests: roles ai_*, teams ai-*, schema
-- ai_schema and addresses @ai.example.test are this file's own.

-- Runs one call, written with <req> for this file's request; returns 'ok' or
-- "SQLSTATE: message HINT: hint", with request ids written back as labels
-- and line breaks made visible.
CREATE TEMP TABLE ai_ids (label text, id bigint);
GRANT SELECT ON ai_ids TO PUBLIC;
CREATE FUNCTION pg_temp.try(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  state text;
  message text;
  hint text;
  known record;
BEGIN
  FOR known IN SELECT label, id FROM ai_ids LOOP
    call := replace(call, known.label, known.id::text);
  END LOOP;
  EXECUTE 'SELECT ' || call;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  message := state || ': ' || message || CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END;
  FOR known IN SELECT label, id FROM ai_ids LOOP
    message := regexp_replace(message, '(request #?|mpa_[a-z]+\()' || known.id || '\M', '\1' || known.label, 'g');
  END LOOP;
  RETURN replace(replace(message, E'\r', '\r'), E'\n', '\n');
END $$;

-- What this file's rows in mpa.* look like: a count of every table and a
-- digest of the rows that belong to this file.
CREATE FUNCTION pg_temp.ai_state() RETURNS TABLE (tbl text, total bigint, mine text)
LANGUAGE sql AS $$
  SELECT 'teams', (SELECT count(*) FROM mpa.teams),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s', name, threshold, description), ',' ORDER BY name), ''))
            FROM mpa.teams WHERE name LIKE 'ai-%')
  UNION ALL
  SELECT 'approvers', (SELECT count(*) FROM mpa.approvers),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s', team, approver, email), ',' ORDER BY team, approver::text), ''))
            FROM mpa.approvers WHERE team LIKE 'ai-%')
  UNION ALL
  SELECT 'policies', (SELECT count(*) FROM mpa.policies),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s', id, operation, object, team), ',' ORDER BY id), ''))
            FROM mpa.policies WHERE team LIKE 'ai-%')
  UNION ALL
  SELECT 'requests', (SELECT count(*) FROM mpa.requests),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s', id, state, statement, requester), ',' ORDER BY id), ''))
            FROM mpa.requests WHERE team LIKE 'ai-%')
  UNION ALL
  SELECT 'votes', (SELECT count(*) FROM mpa.votes),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s', request_id, approver, decision), ',' ORDER BY request_id, approver::text), ''))
            FROM mpa.votes WHERE request_id IN (SELECT id FROM mpa.requests WHERE team LIKE 'ai-%'))
  UNION ALL
  SELECT 'challenges', (SELECT count(*) FROM mpa.challenges),
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', id, request_id, approver, decision, state), ',' ORDER BY id), ''))
            FROM mpa.challenges WHERE request_id IN (SELECT id FROM mpa.requests WHERE team LIKE 'ai-%'))
  UNION ALL
  -- The mail worker changes the status of queued mail and housekeeping may
  -- queue notices for other tests' codes: count only this file's mail.
  SELECT 'outbox', NULL,
         (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s', id, kind, recipient, subject), ',' ORDER BY id), ''))
            FROM mpa.outbox WHERE recipient LIKE '%@ai.example.test')
$$;

-------------------------------------------------------------------------------
-- Setup: approvers, teams, protected tables, one pending request with a code
-- waiting for ai_bob.
-------------------------------------------------------------------------------
CREATE ROLE ai_alice;
CREATE ROLE ai_bob;
CREATE ROLE ai_carol;
CREATE ROLE ai_dave;
CREATE ROLE ai_erin;
CREATE ROLE ai_frank;   -- in no team
CREATE SCHEMA ai_schema;
CREATE TABLE ai_schema.t1 (id int);      -- DROP TABLE protected by ai-team
CREATE TABLE ai_schema.t2 (id int);      -- DROP TABLE protected by ai-other
CREATE TABLE ai_schema.t3 (id int);      -- DROP TABLE protected by ai-tight
CREATE TABLE ai_schema.free (id int);    -- not protected

-- The teams are kept: a second run in the same database reuses them.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'ai-team') THEN
    PERFORM mpa_team_create('ai-team', 2, 'approval_input: two of three');
    PERFORM mpa_team_create('ai-other', 1, 'approval_input: one of two');
    PERFORM mpa_team_create('ai-tight', 2, 'approval_input: two of two');
    PERFORM mpa_team_create('ai-thin', 2, 'approval_input: two needed, one enrolled');
  END IF;
END $$;
SELECT mpa_approver_add('ai-team', 'ai_alice', 'ai_alice@ai.example.test');
SELECT mpa_approver_add('ai-team', 'ai_bob', 'ai_bob@ai.example.test');
SELECT mpa_approver_add('ai-team', 'ai_carol', 'ai_carol@ai.example.test');
SELECT mpa_approver_add('ai-other', 'ai_dave', 'ai_dave@ai.example.test');
SELECT mpa_approver_add('ai-other', 'ai_erin', 'ai_erin@ai.example.test');
SELECT mpa_approver_add('ai-tight', 'ai_alice', 'ai_alice@ai.example.test');
SELECT mpa_approver_add('ai-tight', 'ai_bob', 'ai_bob@ai.example.test');
SELECT mpa_approver_add('ai-thin', 'ai_alice', 'ai_alice@ai.example.test');
SELECT mpa_protect('DROP TABLE', 'ai_schema.t1', 'ai-team');
SELECT mpa_protect('DROP TABLE', 'ai_schema.t2', 'ai-other');
SELECT mpa_protect('DROP TABLE', 'ai_schema.t3', 'ai-tight');

SET SESSION AUTHORIZATION ai_alice;
SELECT mpa_request('DROP TABLE ai_schema.t1', 'approval_input: a request to vote on') AS req \gset
RESET SESSION AUTHORIZATION;
INSERT INTO ai_ids VALUES ('<req>', :req);
SET SESSION AUTHORIZATION ai_bob;
SELECT mpa_vote(:req, 'approve') LIKE 'a code to approve request%' AS code_sent;
RESET SESSION AUTHORIZATION;

CREATE TEMP TABLE ai_before AS SELECT * FROM pg_temp.ai_state();

-- One line per call: the call => what it returned.
\pset format unaligned
\pset fieldsep ' => '

-------------------------------------------------------------------------------
-- mpa_team_create(team, threshold, description)
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_team_create(NULL, 1)$$),
  ($$mpa_team_create('ai-x', NULL)$$),
  ($$mpa_team_create(NULL, NULL, NULL)$$),
  ($$mpa_team_create('ai-x', 0)$$),
  ($$mpa_team_create('ai-x', -1)$$),
  ($$mpa_team_create('', 1)$$),
  ($$mpa_team_create(' ', 1)$$),
  ($$mpa_team_create(E'ai-x\nBcc: x', 1)$$),
  ($$mpa_team_create(E'ai-x\r', 1)$$),
  ($$mpa_team_create(E'ai-x\r\n', 1)$$),
  ($$mpa_team_create(repeat('a', 100), 1)$$),
  ($$mpa_team_create(repeat('a', 64), 1)$$),
  ($$mpa_team_create(repeat('a', 10 * 1024 * 1024), 1)$$),
  ($$mpa_team_create('ai;x', 1)$$),
  ($$mpa_team_create('ai-é', 1)$$),
  ($$mpa_team_create('ai-x', 1, repeat('d', 1001))$$),
  ($$mpa_team_create('ai-x', 1, repeat('d', 10 * 1024 * 1024))$$),
  ($$mpa_team_create('ai-team', 1)$$)
) AS c(call);

-------------------------------------------------------------------------------
-- mpa_approver_add(team, approver regrole, email)
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_approver_add(NULL, 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', NULL, 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', NULL)$$),
  ($$mpa_approver_add('ai-nonexistent', 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('AI-TEAM', 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add(E'ai-team\n', 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add(repeat('a', 10 * 1024 * 1024), 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_nobody', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', '')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'not an address')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'ai_frank')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', E'ai_frank@ai.example.test\r\nBcc: x@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', E'ai_frank@ai.example.test\n')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', E'ai_frank@ai.example.test\r')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'Frank <ai_frank@ai.example.test>')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', '"Frank" ai_frank@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'ai_frank@ai.example.test, ai_bob@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'ai_frank@ai.example.test;ai_bob@ai.example.test')$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', repeat('x', 10 * 1024 * 1024))$$),
  ($$mpa_approver_add('ai-team', 'ai_alice', 'ai_alice@ai.example.test')$$)
) AS c(call);

-------------------------------------------------------------------------------
-- mpa_approver_remove(team, approver)
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_approver_remove(NULL, 'ai_alice')$$),
  ($$mpa_approver_remove('ai-team', NULL)$$),
  ($$mpa_approver_remove('ai-nonexistent', 'ai_alice')$$),
  ($$mpa_approver_remove('ai-team', 'ai_nobody')$$),
  ($$mpa_approver_remove('ai-team', 4294967295::oid::regrole)$$),
  ($$mpa_approver_remove('ai-team', 'ai_frank')$$),
  -- ai-tight governs ai_schema.t3 with two of two: one less is too few.
  ($$mpa_approver_remove('ai-tight', 'ai_bob')$$),
  -- ai-team needs two of three: removing one leaves two, a second is too many.
  ($$mpa_approver_remove('ai-team', 'ai_carol') FROM mpa_approver_remove('ai-team', 'ai_bob')$$)
) AS c(call);

-------------------------------------------------------------------------------
-- mpa_team_set_threshold(team, threshold)
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_team_set_threshold(NULL, 1)$$),
  ($$mpa_team_set_threshold('ai-team', NULL)$$),
  ($$mpa_team_set_threshold('ai-nonexistent', 1)$$),
  ($$mpa_team_set_threshold(repeat('a', 10 * 1024 * 1024), 1)$$),
  ($$mpa_team_set_threshold('ai-team', 0)$$),
  ($$mpa_team_set_threshold('ai-team', -2147483648)$$),
  ($$mpa_team_set_threshold('ai-team', 4)$$),
  ($$mpa_team_set_threshold('ai-team', 2147483647)$$),
  ($$mpa_team_set_threshold('ai-thin', 2)$$)
) AS c(call);

-------------------------------------------------------------------------------
-- mpa_team_drop(team): NULL, unknown and oversized names are refused, and so
-- are teams that a policy names (MP004; ai-team's request is open too).
-- Nothing is dropped (checked at the end).
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_team_drop(NULL)$$),
  ($$mpa_team_drop('ai-nonexistent')$$),
  ($$mpa_team_drop(repeat('a', 10 * 1024 * 1024))$$),
  ($$mpa_team_drop(E'ai-team\r\nDROP')$$),
  ($$mpa_team_drop('ai-team')$$),
  ($$mpa_team_drop('ai-tight')$$)
) AS c(call);

-------------------------------------------------------------------------------
-- mpa_audit_export(from_seq, to_seq): from_seq is required and at least 1,
-- to_seq (NULL: to the end) not below it; a range past the chain's end is
-- empty, not an error (an export that continues an earlier one may find
-- nothing new). What the lines hold is test/tap/036's.
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_audit_export(NULL)$$),
  ($$mpa_audit_export(NULL, 5)$$),
  ($$mpa_audit_export(0)$$),
  ($$mpa_audit_export(-9223372036854775808, 9223372036854775807)$$),
  ($$mpa_audit_export(5, 4)$$),
  ($$mpa_audit_export(1, NULL)$$)
) AS c(call);
SELECT count(*) AS lines_past_the_end FROM mpa_audit_export(9223372036854775807);

-------------------------------------------------------------------------------
-- mpa_protect(operation, object, team) and mpa_unprotect(operation, object)
-------------------------------------------------------------------------------
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_protect(NULL, 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', NULL, 'ai-team')$$),
  -- there is more than one team: leaving it out is ambiguous
  ($$mpa_protect('DROP TABLE', 'ai_schema.t1')$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema.t1', 'ai-nonexistent')$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema.t1', 'ai-thin')$$),
  -- operations that are not command tags
  ($$mpa_protect('', 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect('DROP_TABLE', 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE;', 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect(E'DROP\nTABLE', 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect('A B C D E F', 'ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect(repeat('A', 10 * 1024 * 1024), 'ai_schema.t1', 'ai-team')$$),
  -- object patterns
  ($$mpa_protect('DROP TABLE', '', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', '   ', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', 'a.b.c', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', 'x.', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', '.x', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', '*.x', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema.t*', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema t1', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', '"ai_schema.t1', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', '""', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', E'ai_schema.t1\n', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', E'ai_schema.\r\nt1', 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema.' || repeat('t', 64), 'ai-team')$$),
  ($$mpa_protect('DROP TABLE', repeat('x', 10 * 1024 * 1024), 'ai-team')$$),
  ($$mpa_unprotect(NULL, 'ai_schema.t1')$$),
  ($$mpa_unprotect('DROP TABLE', NULL)$$),
  ($$mpa_unprotect('DROP TABLE', 'ai_schema.free')$$),
  ($$mpa_unprotect('ALTER TABLE', 'ai_schema.t1')$$),
  ($$mpa_unprotect('DROP TABLE', 'a.b.c')$$),
  ($$mpa_unprotect('DROP TABLE', '')$$)
) AS c(call);

-- Operations that are no command tag the gate could ever see (misspelt,
-- invented, with clauses, or a command that is not a utility statement)
-- would be policies that silently protect nothing: each is refused as an
-- invalid operation (22023) that names it.
SELECT call, outcome <> 'ok' AS refused, left(outcome, 5) AS sqlstate,
       outcome LIKE '%' || operation || '%' AS names_it
  FROM (VALUES
    ($$mpa_protect('DROP TABEL', 'ai_schema.t1', 'ai-team')$$, 'DROP TABEL'),
    ($$mpa_protect('FROBNICATE', 'ai_schema.t1', 'ai-team')$$, 'FROBNICATE'),
    ($$mpa_protect('DROP TABLE IF EXISTS', 'ai_schema.t1', 'ai-team')$$, 'DROP TABLE IF EXISTS'),
    ($$mpa_protect('INSERT', 'ai_schema.t1', 'ai-team')$$, 'INSERT')
  ) AS c(call, operation), pg_temp.try(call) AS outcome;
SELECT call, outcome <> 'ok' AS refused
  FROM (VALUES
    ($$mpa_unprotect('DROP TABEL', 'ai_schema.t1')$$)
  ) AS c(call), pg_temp.try(call) AS outcome;

-- Roles given by OID must exist: OID 0 and an OID no role has are refused.
SELECT call, outcome <> 'ok' AS refused
  FROM (VALUES
    ($$mpa_approver_add('ai-team', 0::oid::regrole, 'ai_frank@ai.example.test')$$),
    ($$mpa_approver_add('ai-team', 4294967295::oid::regrole, 'ai_frank@ai.example.test')$$)
  ) AS c(call), pg_temp.try(call) AS outcome;

-------------------------------------------------------------------------------
-- mpa_request(statement, justification), as ai_alice
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION ai_alice;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_request(NULL, 'why')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2', NULL)$$),
  ($$mpa_request('DROP TABLE ai_schema.t2', '')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2', E' \n\t ')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2', repeat('j', 4001))$$),
  ($$mpa_request('DROP TABLE ai_schema.t2', repeat('j', 10 * 1024 * 1024))$$),
  -- not exactly one statement
  ($$mpa_request('', 'why')$$),
  ($$mpa_request(' ; ; ', 'why')$$),
  ($$mpa_request('-- DROP TABLE ai_schema.t2', 'why')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2; DROP TABLE ai_schema.t3', 'why')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2; SELECT 1', 'why')$$),
  ($$mpa_request(E'DROP TABLE ai_schema.t2;\nDROP TABLE ai_schema.free;', 'why')$$),
  -- statements that do not parse
  ($$mpa_request('DROP TABEL ai_schema.t2', 'why')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2 ))', 'why')$$),
  ($$mpa_request('DROP TABLE ''ai_schema.t2', 'why')$$),
  ($$mpa_request('DROP TABLE ai_schema.t2 /* unterminated', 'why')$$),
  -- a 10 MB statement
  ($$mpa_request('DROP TABLE ai_schema.t2 /*' || repeat('x', 10 * 1024 * 1024) || '*/', 'why')$$),
  -- not protected: MP002
  ($$mpa_request('DROP TABLE ai_schema.free', 'why')$$),
  ($$mpa_request('TRUNCATE ai_schema.t2', 'why')$$),
  ($$mpa_request('SELECT 1', 'why')$$),
  -- tables that do not exist
  ($$mpa_request('DROP TABLE ai_schema.nonexistent', 'why')$$),
  ($$mpa_request('DROP TABLE ai_nonexistent_schema.t2', 'why')$$),
  ($$mpa_request('DROP TABLE IF EXISTS ai_schema.nonexistent', 'why')$$),
  -- ai-tight is two of two: without the requester only one approver is left (MP004)
  ($$mpa_request('DROP TABLE ai_schema.t3', 'why')$$),
  -- ai_schema.t1 is ai-team's, ai_schema.t2 ai-other's
  ($$mpa_request('DROP TABLE ai_schema.t1, ai_schema.t2', 'why')$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- mpa_vote(request_id, decision), mpa_resend(request_id)
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION ai_carol;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_vote(NULL, 'approve')$$),
  ($$mpa_vote(NULL, NULL)$$),
  ($$mpa_vote(-1, 'approve')$$),
  ($$mpa_vote(0, 'approve')$$),
  ($$mpa_vote(9223372036854775807, 'approve')$$),
  ($$mpa_vote(<req>, NULL)$$),
  ($$mpa_vote(<req>, '')$$),
  ($$mpa_vote(<req>, 'yes')$$),
  ($$mpa_vote(<req>, 'Approve')$$),
  ($$mpa_vote(<req>, 'approve ')$$),
  ($$mpa_vote(<req>, 'abstain')$$),
  ($$mpa_vote(<req>, E'approve\n')$$),
  ($$mpa_vote(<req>, repeat('x', 10 * 1024 * 1024))$$),
  ($$mpa_resend(NULL)$$),
  ($$mpa_resend(-1)$$),
  -- ai_carol has asked for no code yet
  ($$mpa_resend(<req>)$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-- Not an approver of the team, or the requester.
SET SESSION AUTHORIZATION ai_frank;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_vote(<req>, 'approve')$$),
  ($$mpa_resend(<req>)$$),
  ($$mpa_verify(<req>, '123456')$$)
) AS c(call);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION ai_alice;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_vote(<req>, 'approve')$$),
  ($$mpa_vote(<req>, 'reject')$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- mpa_verify(request_id, code), as ai_bob, who has a code waiting
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION ai_bob;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_verify(NULL, '123456')$$),
  ($$mpa_verify(<req>, NULL)$$),
  ($$mpa_verify(-1, '123456')$$),
  ($$mpa_verify(0, '123456')$$),
  ($$mpa_verify(<req>, '12345')$$),
  ($$mpa_verify(<req>, '1234567')$$),
  ($$mpa_verify(<req>, ' 12345')$$),
  ($$mpa_verify(<req>, ' 123456')$$),
  ($$mpa_verify(<req>, '123456 ')$$),
  ($$mpa_verify(<req>, E'123456\n')$$),
  ($$mpa_verify(<req>, '١٢٣٤٥٦')$$),
  ($$mpa_verify(<req>, '１２３４５６')$$),
  ($$mpa_verify(<req>, '12345a')$$),
  ($$mpa_verify(<req>, '12 345')$$),
  ($$mpa_verify(<req>, '+12345')$$),
  ($$mpa_verify(<req>, '-12345')$$),
  ($$mpa_verify(<req>, '')$$),
  ($$mpa_verify(<req>, repeat('1', 10 * 1024 * 1024))$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- mpa_cancel(request_id), mpa_execute(request_id)
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION ai_bob;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_cancel(NULL)$$),
  ($$mpa_cancel(-1)$$),
  ($$mpa_cancel(<req>)$$),
  ($$mpa_execute(NULL)$$),
  ($$mpa_execute(-1)$$),
  ($$mpa_execute(<req>)$$)
) AS c(call);
RESET SESSION AUTHORIZATION;
-- The requester cannot execute a request that is still pending.
SET SESSION AUTHORIZATION ai_alice;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_execute(<req>)$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-- Configuration is for superusers.
SET SESSION AUTHORIZATION ai_alice;
SELECT call, pg_temp.try(call) AS outcome FROM (VALUES
  ($$mpa_team_create('ai-x', 1)$$),
  ($$mpa_approver_add('ai-team', 'ai_frank', 'ai_frank@ai.example.test')$$),
  ($$mpa_approver_remove('ai-team', 'ai_bob')$$),
  ($$mpa_team_set_threshold('ai-team', 1)$$),
  ($$mpa_protect('DROP TABLE', 'ai_schema.free', 'ai-team')$$),
  ($$mpa_unprotect('DROP TABLE', 'ai_schema.t1')$$),
  ($$mpa_team_drop('ai-thin')$$),
  -- The audit is readable by everyone, and so is its export.
  ($$mpa_audit_export(1, 1)$$)
) AS c(call);
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Nothing changed.
-------------------------------------------------------------------------------
SELECT b.tbl, a.total IS NOT DISTINCT FROM b.total AND a.mine = b.mine AS unchanged
  FROM ai_before b JOIN pg_temp.ai_state() a USING (tbl) ORDER BY b.tbl;
SELECT count(*) AS ai_teams_created FROM mpa.teams WHERE name LIKE 'ai-x%' OR name LIKE 'aaa%';
SELECT state FROM mpa.requests WHERE id = :req;

-------------------------------------------------------------------------------
-- Cleanup.
-------------------------------------------------------------------------------
\pset format aligned
SET SESSION AUTHORIZATION ai_alice;
SELECT count(mpa_cancel(id)) AS requests_cancelled
  FROM mpa.requests WHERE team LIKE 'ai-%' AND state IN ('pending', 'approved')
   AND requester = 'ai_alice'::regrole;
RESET SESSION AUTHORIZATION;
SELECT count(mpa_unprotect(operation, object)) AS policies_removed
  FROM mpa.policies WHERE team LIKE 'ai-%';
SELECT count(mpa_approver_remove(team, approver)) AS approvers_removed
  FROM mpa.approvers WHERE team LIKE 'ai-%';
SET client_min_messages = warning;
DROP SCHEMA ai_schema CASCADE;
RESET client_min_messages;
DROP ROLE ai_alice, ai_bob, ai_carol, ai_dave, ai_erin, ai_frank;
