-- pg_mpa 0.1: multi-party approval of protected statements.
\echo Use "CREATE EXTENSION pg_mpa" to load this file. \quit

-- Refuses the installation unless the library was preloaded by the
-- postmaster (loading it here fails with a hint otherwise) and this is the
-- database named by mpa.database, where the mail worker runs.
CREATE FUNCTION mpa_check_installation() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_installation';
SELECT mpa_check_installation();
REVOKE ALL ON FUNCTION mpa_check_installation() FROM PUBLIC;

-- Tables and views live in schema mpa; functions in the extension's schema.
CREATE SCHEMA mpa;
REVOKE ALL ON SCHEMA mpa FROM PUBLIC;
GRANT USAGE ON SCHEMA mpa TO PUBLIC;

-- The mail queue (transactional outbox). A row is written in the same
-- transaction as the event it announces and delivered by the mail worker
-- after commit. No row ever holds a one-time code: the worker derives codes
-- when it renders a message.
CREATE TABLE mpa.outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('test', 'request', 'code', 'vote', 'decision', 'notice')),
  recipient       text NOT NULL,
  subject         text NOT NULL,
  body            text NOT NULL,
  message_id      text NOT NULL UNIQUE,   -- the same on every retry
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'expired', 'superseded')),
  attempts        integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until     timestamptz,            -- set while the worker holds the row ('sending')
  expires_at      timestamptz NOT NULL,   -- never delivered after this
  sent_at         timestamptz,
  last_error      text,
  -- A newer message with the same key supersedes older undelivered ones
  -- (a new code for the same vote makes the previous code mail pointless).
  supersede_key   text
);
CREATE INDEX outbox_due ON mpa.outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_in_flight ON mpa.outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_supersede ON mpa.outbox (supersede_key)
  WHERE supersede_key IS NOT NULL AND status IN ('pending', 'sending');

-- Only pg_mpa's own functions write the outbox; ordinary roles see status.
REVOKE ALL ON mpa.outbox FROM PUBLIC;
GRANT SELECT (id, kind, status, attempts, created_at, next_attempt_at, expires_at, sent_at)
  ON mpa.outbox TO PUBLIC;

-- A DBA checks the SMTP settings: queues one test message, returns its id.
CREATE FUNCTION mpa_mail_test(email text) RETURNS bigint
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_mail_test';
REVOKE ALL ON FUNCTION mpa_mail_test(text) FROM PUBLIC;

-------------------------------------------------------------------------------
-- Approval: teams, approvers, policies, requests, votes, challenges.
-------------------------------------------------------------------------------

CREATE TABLE mpa.teams (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_. -]{0,62}$'),
  threshold   integer NOT NULL CHECK (threshold >= 1),
  description text CHECK (length(description) <= 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  baselined_at timestamptz,          -- last mpa_team_baseline()
  quorum_reachable boolean           -- as last seen by the worker (mpa.check_team_health)
);

-- An approver's address is confirmed by a code mailed to it: at enrolment,
-- after an approved change of address (the new one takes over only once it
-- confirmed; the old one is told), and when the team is baselined. A vote
-- confirmed with a code mailed to the address also proves it.
CREATE TABLE mpa.approvers (
  team      text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  approver  regrole NOT NULL,
  email     text NOT NULL,
  added_at  timestamptz NOT NULL DEFAULT now(),
  verified_at    timestamptz,            -- NULL: the address never confirmed a code
  last_active_at timestamptz,            -- last vote or confirmation
  pending_email  text,                   -- an approved new address, until it confirms
  confirmation_started_at timestamptz,   -- start of the current confirmation (its tries are counted together)
  PRIMARY KEY (team, approver)
);

-- operation: a PostgreSQL command tag ('DROP TABLE'); object: 'schema.name',
-- 'schema.*', '*' or a bare name for objects outside schemas (roles,
-- databases, settings). The most specific matching policy decides the team.
CREATE TABLE mpa.policies (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation  text NOT NULL,
  object     text NOT NULL,
  team       text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (operation, object)
);

CREATE TABLE mpa.requests (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  statement      text NOT NULL,
  justification  text NOT NULL,
  operation      text NOT NULL,
  object         text NOT NULL,          -- the first target, as policies name it
  target_classes oid[] NOT NULL,         -- targets by OID: a renamed, dropped and
  target_oids    oid[] NOT NULL,         -- recreated object voids the approval
  fingerprint    text NOT NULL,          -- SHA-256 of the normalised statement
  team           text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  threshold      integer NOT NULL,       -- the team's threshold when requested
  requester      regrole NOT NULL,       -- the authenticated (session) role
  state          text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'approved', 'executed', 'rejected', 'expired', 'cancelled')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  executed_at    timestamptz,
  -- Temporary grants: how long the approved GRANT holds once executed, and
  -- the REVOKE the worker runs when it ends (both shown to approvers).
  valid_for      interval CHECK (valid_for > interval '0'),
  revoke_statement text,
  -- Application-defined approvals (mpa_request_action): operation 'ACTION',
  -- object the action's name, statement the payload's text; claimed once
  -- with mpa_consume (state executed).
  kind           text NOT NULL DEFAULT 'statement' CHECK (kind IN ('statement', 'action')),
  payload        jsonb,
  CHECK ((kind = 'action') = (payload IS NOT NULL)),
  -- For drops: what the statement also removes (mpa.cascade_of), by OID,
  -- sorted, as approvers were shown it. Execution finds the same or is
  -- refused.
  cascade_classes oid[] NOT NULL DEFAULT '{}',
  cascade_oids    oid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX requests_open ON mpa.requests (expires_at) WHERE state IN ('pending', 'approved');
CREATE INDEX requests_approved ON mpa.requests (fingerprint) WHERE state = 'approved';
CREATE INDEX requests_by_requester ON mpa.requests (requester, created_at);

CREATE TABLE mpa.votes (
  request_id bigint NOT NULL REFERENCES mpa.requests,
  approver   regrole NOT NULL,
  decision   text NOT NULL CHECK (decision IN ('approve', 'reject')),
  voted_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, approver)
);

-- Executed temporary grants, until the worker revoked them.
CREATE TABLE mpa.temporary_grants (
  request_id       bigint PRIMARY KEY REFERENCES mpa.requests,
  grant_statement  text NOT NULL,
  revoke_statement text NOT NULL,
  requester        regrole NOT NULL,     -- the REVOKE runs as this role, as the GRANT did
  granted_at       timestamptz NOT NULL DEFAULT now(),
  ends_at          timestamptz NOT NULL,
  warned_at        timestamptz,          -- the "ends soon" mail was queued
  revoked_at       timestamptz,
  revoke_outcome   text                  -- what the REVOKE said ('revoked', or why not)
);
CREATE INDEX temporary_grants_active ON mpa.temporary_grants (ends_at) WHERE revoked_at IS NULL;

-- Temporary grants in force and when each ends.
CREATE VIEW mpa.active_grants AS
  SELECT g.request_id, g.grant_statement, g.requester, g.granted_at, g.ends_at,
         g.ends_at - now() AS remaining
    FROM mpa.temporary_grants g WHERE g.revoked_at IS NULL;

-- A challenge is one mailed code for one (request, approver, decision). The
-- code is derived from these columns and the server's code key; it is stored
-- nowhere. Wrong tries are counted in shared memory, outside transactions.
-- A confirmation of an approver's address is a challenge without request,
-- for one team, with decision 'confirm'; its code is bound to the address.
CREATE TABLE mpa.challenges (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id  bigint REFERENCES mpa.requests,
  approver    regrole NOT NULL,
  decision    text NOT NULL CHECK (decision IN ('approve', 'reject', 'confirm')),
  nonce       bytea NOT NULL,
  email       text NOT NULL,
  state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'used', 'superseded', 'expired')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  team        text,
  CHECK ((decision = 'confirm') = (request_id IS NULL)),
  CHECK (decision <> 'confirm' OR team IS NOT NULL)
);
-- Every code of a voter (the resend cooldown looks at the last one, open or not).
CREATE INDEX challenges_by_voter ON mpa.challenges (request_id, approver);
-- The open ones, by expiry: the worker's timers look at them every round.
CREATE INDEX challenges_open ON mpa.challenges (expires_at) WHERE state = 'open';
CREATE INDEX confirmations_by_approver ON mpa.challenges (team, approver) WHERE request_id IS NULL;

ALTER TABLE mpa.outbox ADD COLUMN challenge_id bigint REFERENCES mpa.challenges;

-- Everything pg_mpa did and refused, append-only and hash-chained
-- (src/core/audit_chain.hpp). An event's transaction writes its row with
-- seq NULL; events that happen in a transaction that rolls back (refused
-- statements, wrong codes) travel through shared memory and the worker
-- writes them. The mail worker chains rows in the order it finds them
-- committed: it sets seq (1, 2, ...), previous_hash and hash.
CREATE TABLE mpa.audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind          text NOT NULL,
  request_id    bigint,
  actor         text NOT NULL DEFAULT session_user,
  database      text NOT NULL DEFAULT current_database(),
  detail        jsonb NOT NULL DEFAULT '{}',
  seq           bigint UNIQUE,
  previous_hash text,
  hash          text
);
CREATE INDEX audit_unchained ON mpa.audit (id) WHERE seq IS NULL;

-- Applications read the approval tables; only pg_mpa's functions write them.
REVOKE ALL ON mpa.teams, mpa.approvers, mpa.policies, mpa.requests, mpa.votes, mpa.challenges,
  mpa.temporary_grants, mpa.audit FROM PUBLIC;
GRANT SELECT ON mpa.teams, mpa.policies, mpa.requests, mpa.votes, mpa.temporary_grants,
  mpa.active_grants, mpa.audit TO PUBLIC;
GRANT SELECT (team, approver, added_at, verified_at, last_active_at) ON mpa.approvers TO PUBLIC;
GRANT SELECT (id, request_id, team, approver, decision, state, created_at, expires_at) ON mpa.challenges TO PUBLIC;

-- Requests the current (session) role may vote on.
CREATE VIEW mpa.pending WITH (security_barrier) AS
  SELECT r.id, r.operation, r.object, r.statement, r.justification, r.requester, r.team,
         r.threshold, r.created_at, r.expires_at,
         (SELECT count(*) FROM mpa.votes v WHERE v.request_id = r.id AND v.decision = 'approve') AS approvals
    FROM mpa.requests r
   WHERE r.state = 'pending' AND r.expires_at > statement_timestamp()
     AND r.requester <> session_user::regrole
     AND EXISTS (SELECT FROM mpa.approvers a WHERE a.team = r.team AND a.approver = session_user::regrole)
     AND NOT EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = session_user::regrole);
GRANT SELECT ON mpa.pending TO PUBLIC;

-------------------------------------------------------------------------------
-- Internal functions (schema mpa; not for PUBLIC). The C ones are the doors
-- to pg_mpa's rules in C++; the SQL functions below are built on them.
-------------------------------------------------------------------------------

CREATE FUNCTION mpa.describe(statement text, search_path text, OUT operation text, OUT object text,
                             OUT target_classes oid[], OUT target_oids oid[],
                             OUT fingerprint text, OUT team text, OUT revoke_statement text)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_describe';
CREATE FUNCTION mpa.tally(approvals int, rejections int, eligible int, threshold int) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_tally';
CREATE FUNCTION mpa.check_threshold(threshold int, approvers int) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_threshold';
CREATE FUNCTION mpa.check_email(email text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_email';
CREATE FUNCTION mpa.mask_email(email text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_mask_email';
CREATE FUNCTION mpa.canonical_operation(operation text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_canonical_operation';
CREATE FUNCTION mpa.canonical_object(object text) RETURNS text
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_canonical_object';
CREATE FUNCTION mpa.queue_mail(kind text, recipient text, subject text, body text,
                               ttl_seconds int, supersede_key text, challenge_id bigint) RETURNS bigint
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_queue_mail';
CREATE FUNCTION mpa.new_nonce() RETURNS bytea
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_new_nonce';
CREATE FUNCTION mpa.check_code(challenge_id bigint, code text, OUT outcome text, OUT tries_left int,
                               OUT budget_back_at timestamptz)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_code';
CREATE FUNCTION mpa.code_submitted() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_code_submitted';
CREATE FUNCTION mpa.code_settled() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_code_settled';
CREATE FUNCTION mpa.voter_locked_out(request_id bigint, requested_at timestamptz) RETURNS boolean
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_voter_locked_out';
CREATE FUNCTION mpa.policies_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_policies_changed';
-- Records an event of this transaction in mpa.audit (chained after commit).
CREATE FUNCTION mpa.audit(kind text, request_id bigint, detail jsonb) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_event';

CREATE TRIGGER policies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.policies
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();
CREATE TRIGGER teams_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.teams
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();
-- The gate of every database refuses to drop or rename an approver's role:
-- approvers are published with the policies (src/pg/gate/policy_cache.cpp).
CREATE TRIGGER approvers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mpa.approvers
  FOR EACH STATEMENT EXECUTE FUNCTION mpa.policies_changed();

-- Errors of the SQL functions: pg_mpa's class MP for its own refusals.
--   MP001 approval required (the gate)    MP002 not protected
--   MP003 not allowed to vote / act        MP004 request not in a state for this
--   MP005 code refused                     22023/22004 bad input

-- Raises a clear error for NULL arguments (all SQL-facing functions).
CREATE FUNCTION mpa.require(value anyelement, name text) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', name USING ERRCODE = '22004';
  END IF;
  RETURN value;
END $$;

-- The text a request mail shows for a request.
CREATE FUNCTION mpa.request_summary(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT format(E'Request:       #%s\nOperation:     %s on %s\nRequested by:  %s\n'
                 'Team:          %s (%s approval%s needed)\nExpires:       %s\n%s\n'
                 '%s:\n\n%s\n\nJustification:\n\n%s\n',
                r.id, r.operation, r.object, r.requester, r.team, r.threshold,
                CASE WHEN r.threshold = 1 THEN '' ELSE 's' END,
                to_char(r.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                CASE WHEN r.valid_for IS NULL THEN ''
                     ELSE format(E'Duration:      %s after it runs; then pg_mpa runs: %s\n',
                                 r.valid_for, r.revoke_statement) END,
                CASE r.kind WHEN 'action' THEN 'Payload' ELSE 'Statement' END, r.statement, r.justification)
$$;

-- Mails every approver of the request's team but `except_role`.
CREATE FUNCTION mpa.mail_team(r mpa.requests, kind text, subject text, body text, except_role regrole)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE a record;
BEGIN
  FOR a IN SELECT approver, email FROM mpa.approvers
            WHERE team = r.team AND approver IS DISTINCT FROM except_role
            ORDER BY approver::text LOOP
    PERFORM mpa.queue_mail(kind, a.email, subject, body,
                           greatest(60, extract(epoch FROM r.expires_at - now())::int), NULL, NULL);
  END LOOP;
END $$;

-- Mails the requester, if they are an approver somewhere (the only
-- addresses pg_mpa knows).
CREATE FUNCTION mpa.mail_requester(r mpa.requests, kind text, subject text, body text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE address text;
BEGIN
  SELECT email INTO address FROM mpa.approvers WHERE approver = r.requester
   ORDER BY team = r.team DESC, added_at LIMIT 1;
  IF address IS NOT NULL THEN
    PERFORM mpa.queue_mail(kind, address, subject, body, 3 * 86400, NULL, NULL);
  END IF;
END $$;

-- Tells LISTENing applications, at commit, that a request changed state.
CREATE FUNCTION mpa.announce(r mpa.requests, new_state text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_notify('mpa_events', json_build_object('request_id', r.id, 'kind', r.kind, 'state', new_state)::text)
$$;

-- Raises unless the justification says something, in at most 4000 characters.
CREATE FUNCTION mpa.check_justification(justification text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(justification, 'justification');
  IF justification !~ '[^[:space:]]' THEN
    RAISE EXCEPTION 'justification must say why the statement is needed' USING ERRCODE = '22023';
  ELSIF length(justification) > 4000 THEN
    RAISE EXCEPTION 'justification is too long (at most 4000 characters)' USING ERRCODE = '22001';
  END IF;
END $$;

-- Raises unless the team has enough approvers besides the requester.
-- A flood of requests (any login may make them) would bury the approvers'
-- mail and the requests worth their attention: mpa.max_requests_per_hour
-- per requester, counted over the last hour.
CREATE FUNCTION mpa.check_request_rate(requester regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  allowed int := current_setting('mpa.max_requests_per_hour')::int;
  made int;
BEGIN
  IF allowed = 0 THEN
    RETURN;
  END IF;
  -- Counted under a lock per requester (held to the end of the
  -- transaction, so past its own insert): parallel sessions of one role
  -- cannot each make the full allowance.
  PERFORM pg_catalog.pg_advisory_xact_lock(7170048, (requester::oid::bigint - 2147483648)::int4);
  SELECT count(*) INTO made FROM ONLY mpa.requests r
   WHERE r.requester = check_request_rate.requester AND r.created_at > now() - interval '1 hour';
  IF made >= allowed THEN
    RAISE EXCEPTION 'role % made % requests in the last hour, the most mpa.max_requests_per_hour allows',
      requester, made USING ERRCODE = 'MP006',
      HINT = 'Wait, or ask the server''s administrator to raise mpa.max_requests_per_hour.';
  END IF;
END $$;

CREATE FUNCTION mpa.check_quorum_possible(t mpa.teams, requester regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE eligible int;
BEGIN
  -- Approvers whose role was dropped can no longer vote: they do not count.
  SELECT count(*) INTO eligible FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver
   WHERE a.team = t.name AND a.approver <> requester;
  IF eligible < t.threshold THEN
    RAISE EXCEPTION 'team "%" cannot approve this request: % approvers besides you, threshold %',
                    t.name, eligible, t.threshold USING ERRCODE = 'MP004',
      HINT = 'A superuser must add approvers or lower the team''s threshold.';
  END IF;
END $$;

-- A new request: recorded, announced, and mailed to the team.
CREATE FUNCTION mpa.request_opened(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.audit('request', r.id, jsonb_build_object('kind', r.kind, 'operation', r.operation,
    'object', r.object, 'statement', r.statement, 'justification', r.justification, 'team', r.team,
    'threshold', r.threshold, 'requester', r.requester::text));
  PERFORM mpa.announce(r, 'pending');
  PERFORM mpa.mail_team(r, 'request',
    format('[pg_mpa] approval requested: %s on %s (#%s)', r.operation, r.object, r.id),
    format(E'%s asks your approval for a protected operation.\n\n%s%s\n'
            'To vote, connect as yourself and run one of:\n\n'
            '  SELECT mpa_vote(%s, ''approve'');\n  SELECT mpa_vote(%s, ''reject'');\n\n'
            'A one-time code is then mailed to you; confirm with:\n\n'
            '  SELECT mpa_verify(%s, ''<code>'');\n',
           r.requester, mpa.request_summary(r), mpa.cascade_summary(r), r.id, r.id, r.id),
    r.requester);
END $$;

-- Moves a request to a final state and tells everyone concerned.
CREATE FUNCTION mpa.finish(r mpa.requests, new_state text, reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  subject text := format('[pg_mpa] request #%s %s: %s on %s', r.id, new_state, r.operation, r.object);
  body text := format(E'Request #%s is now %s: %s\n\n%s', r.id, new_state, reason, mpa.request_summary(r));
BEGIN
  UPDATE mpa.requests SET state = new_state, decided_at = now() WHERE id = r.id;
  UPDATE mpa.challenges SET state = 'superseded' WHERE request_id = r.id AND state = 'open';
  PERFORM mpa.audit(new_state, r.id, jsonb_build_object('reason', reason));
  PERFORM mpa.announce(r, new_state);
  PERFORM mpa.mail_team(r, 'decision', subject, body, r.requester);
  PERFORM mpa.mail_requester(r, 'decision', subject, body);
END $$;

-- The one step from approved to executed: the approved statement runs in
-- this transaction (the gate, mpa.execute_configuration), or the
-- application claims its action (mpa_consume). A temporary grant's clock
-- starts here.
CREATE FUNCTION mpa.mark_executed(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE mpa.requests SET state = 'executed', executed_at = now() WHERE id = r.id;
  IF r.valid_for IS NOT NULL THEN
    INSERT INTO mpa.temporary_grants (request_id, grant_statement, revoke_statement, requester, ends_at)
    VALUES (r.id, r.statement, r.revoke_statement, r.requester, now() + r.valid_for);
  END IF;
  IF r.kind = 'action' THEN
    PERFORM mpa.audit('consumed', r.id, jsonb_build_object('action', r.object));
  ELSE
    PERFORM mpa.audit('executed', r.id, jsonb_build_object('statement', r.statement));
  END IF;
  PERFORM mpa.announce(r, 'executed');
END $$;

-- Temporary grants: the worker calls these before a grant ends and when it
-- has run its REVOKE; they tell the requester and the approvers.
CREATE FUNCTION mpa.grant_ends_soon(g mpa.temporary_grants) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = g.request_id;
  UPDATE mpa.temporary_grants SET warned_at = now() WHERE request_id = g.request_id;
  PERFORM mpa.mail_team(r, 'notice',
    format('[pg_mpa] temporary grant #%s ends at %s', r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"')),
    format(E'The temporary grant of request #%s ends at %s; pg_mpa will then run:\n\n  %s\n\n'
            'Extending it needs a new request.\n\n%s',
           r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), g.revoke_statement,
           mpa.request_summary(r)),
    r.requester);
  PERFORM mpa.mail_requester(r, 'notice',
    format('[pg_mpa] your temporary grant #%s ends soon', r.id),
    format(E'Your temporary grant (request #%s) ends at %s.\n\n%s',
           r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), mpa.request_summary(r)));
END $$;

CREATE FUNCTION mpa.grant_ended(g mpa.temporary_grants, outcome text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = g.request_id;
  UPDATE mpa.temporary_grants SET revoked_at = now(), revoke_outcome = outcome
   WHERE request_id = g.request_id;
  PERFORM mpa.audit('grant ended', r.id, jsonb_build_object('revoke', g.revoke_statement, 'outcome', outcome));
  PERFORM mpa.mail_team(r, 'notice', format('[pg_mpa] temporary grant #%s ended', r.id),
    format(E'The temporary grant of request #%s ended: %s\n\n  %s\n\n%s', r.id, outcome,
           g.revoke_statement, mpa.request_summary(r)), r.requester);
  PERFORM mpa.mail_requester(r, 'notice', format('[pg_mpa] your temporary grant #%s ended', r.id),
    format(E'Your temporary grant (request #%s) ended: %s\n\n%s', r.id, outcome, mpa.request_summary(r)));
END $$;

-- What binds each challenge's code (src/pg/approval/challenge_code.hpp) and how its
-- tries are counted: a vote's code is bound to its request and statement,
-- and its tries are counted together for the request's life; a
-- confirmation's code is bound to the address, and its tries are counted
-- together from the start of the confirmation for mpa.request_ttl.
CREATE VIEW mpa.challenge_bindings AS
  SELECT c.id, coalesce(c.request_id, 0) AS request_id,
         coalesce(r.fingerprint, 'address:' || c.email) AS fingerprint,
         c.approver, c.decision, c.nonce, c.state, c.created_at, c.expires_at,
         coalesce(r.created_at, a.confirmation_started_at, c.created_at) AS counted_from,
         coalesce(r.expires_at, a.confirmation_started_at + current_setting('mpa.request_ttl')::interval,
                  c.expires_at) AS counted_until
    FROM mpa.challenges c
    LEFT JOIN mpa.requests r ON r.id = c.request_id
    LEFT JOIN mpa.approvers a ON c.request_id IS NULL AND a.team = c.team AND a.approver = c.approver;
REVOKE ALL ON mpa.challenge_bindings FROM PUBLIC;

-- What a code was for, and how to ask for a new one (said in notices).
CREATE FUNCTION mpa.challenge_purpose(c mpa.challenges) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN c.request_id IS NULL THEN format('the confirmation of your address for team "%s"', c.team)
              ELSE format('request #%s', c.request_id) END
$$;
CREATE FUNCTION mpa.challenge_retry(c mpa.challenges) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN c.request_id IS NULL THEN format('SELECT mpa_confirm_email_resend(%L);', c.team)
              ELSE format('SELECT mpa_resend(%s);', c.request_id) END
$$;

-- What the worker tells an approver about their codes (src/pg/worker/housekeeping.cpp):
-- a code that died of wrong tries ('dead'), a lock-out from a request
-- ('locked'), or their budget of wrong codes spent ('budget': over every
-- request, mpa.max_wrong_codes_per_hour and _per_day), named by the code of
-- the try that spent it. Also recorded in the audit.
CREATE FUNCTION mpa.tell_code_notice(challenge_id bigint, kind text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE c mpa.challenges;
BEGIN
  SELECT * INTO c FROM mpa.challenges WHERE id = challenge_id;
  IF NOT FOUND THEN RETURN; END IF;
  PERFORM mpa.queue_mail('notice', c.email,
    CASE kind WHEN 'locked' THEN format('[pg_mpa] locked out of %s', mpa.challenge_purpose(c))
              WHEN 'budget' THEN '[pg_mpa] too many wrong codes in your name'
              ELSE format('[pg_mpa] your code for %s no longer works', mpa.challenge_purpose(c)) END,
    CASE kind
      WHEN 'locked' THEN format(E'Too many wrong codes were entered in your name for %s.\n'
                                || 'No more codes are accepted for it. If this was not you, tell your '
                                || E'security team: someone may be guessing your codes.\n', mpa.challenge_purpose(c))
      WHEN 'budget' THEN format(E'Too many wrong codes were entered in your name lately (the last one for %s):\n'
                                || 'at most %s an hour and %s a day, over every request. No code of yours '
                                || E'is accepted for a while.\n'
                                || E'If this was not you, tell your security team: someone may be guessing your codes.\n',
                                mpa.challenge_purpose(c), current_setting('mpa.max_wrong_codes_per_hour'),
                                current_setting('mpa.max_wrong_codes_per_day'))
      ELSE format(E'Your one-time code for %s was entered wrongly too often and '
                  || E'no longer works.\nTo ask for a new one: %s\n'
                  || E'If this was not you, tell your security team.\n', mpa.challenge_purpose(c), mpa.challenge_retry(c))
    END,
    86400, NULL, NULL);
  PERFORM mpa.audit(CASE kind WHEN 'locked' THEN 'locked out' WHEN 'budget' THEN 'guess budget spent'
                              ELSE 'code dead' END,
                    c.request_id, jsonb_build_object('challenge', c.id, 'approver', c.approver::text));
END $$;

-- Checks a code against its challenge (the try is counted in shared memory
-- before the comparison: neither an error nor a ROLLBACK gives it back) and
-- raises unless it was right.
CREATE FUNCTION mpa.accept_code(c mpa.challenges, code text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE checked record := mpa.check_code(c.id, code);
BEGIN
  IF checked.outcome = 'wrong' THEN
    RAISE EXCEPTION 'wrong code; % left for this code', CASE checked.tries_left WHEN 1 THEN '1 try' ELSE checked.tries_left || ' tries' END USING ERRCODE = 'MP005';
  ELSIF checked.outcome = 'budget' THEN
    RAISE EXCEPTION 'too many wrong codes were entered in your name lately: no code of yours is accepted until %',
      to_char(checked.budget_back_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') USING ERRCODE = 'MP005',
      HINT = 'If this was not you, tell your security team: someone may be guessing your codes.';
  ELSIF checked.outcome = 'locked' THEN
    RAISE EXCEPTION '%', CASE WHEN c.request_id IS NULL
        THEN format('too many wrong codes for the confirmation of your address for team "%s": ask again later', c.team)
        ELSE format('too many wrong codes for request %s: you can no longer vote on it', c.request_id) END
      USING ERRCODE = 'MP005';
  ELSIF checked.outcome <> 'accepted' THEN
    RAISE EXCEPTION 'this code can no longer be used' USING ERRCODE = 'MP005',
      HINT = 'Ask for a new one: ' || mpa.challenge_retry(c);
  END IF;
END $$;

-- The request, locked, or a clear error.
CREATE FUNCTION mpa.lock_request(request_id bigint) RETURNS mpa.requests
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = mpa.require(request_id, 'request_id') FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  END IF;
  RETURN r;
END $$;

-- Governed configuration (src/pg/protection/configuration.hpp): a change is let
-- through while no team protects MPA CONFIGURE for it, or while its approved
-- request runs through mpa_execute.
CREATE FUNCTION mpa.authorize_configuration(function_name text, call text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_authorize_configuration';
CREATE FUNCTION mpa.execute_configuration(request_id bigint) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_execute_configuration';
CREATE FUNCTION mpa.rehearse_configuration(statement text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_rehearse_configuration';
CREATE FUNCTION mpa.governance_begins() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_governance_begins';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mpa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mpa.require(anyelement, text), mpa.execute_configuration(bigint) TO PUBLIC;

-------------------------------------------------------------------------------
-- Configuration: teams, approvers, policies (superusers; docs/decisions.md).
-------------------------------------------------------------------------------

CREATE FUNCTION mpa_team_create(team text, threshold int, description text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(threshold, 'threshold');
  PERFORM mpa.authorize_configuration('mpa_team_create', format('SELECT mpa_team_create(%L, %s, %L)', team, threshold, description));
  IF team !~ '^[A-Za-z0-9_][A-Za-z0-9_. -]{0,62}$' THEN
    RAISE EXCEPTION 'invalid team name %', quote_literal(left(team, 80)) USING ERRCODE = '22023',
      HINT = 'A team name is 1 to 63 letters, digits, spaces, dots, dashes or underscores.';
  END IF;
  IF threshold < 1 THEN
    RAISE EXCEPTION 'threshold must be at least 1, not %', threshold USING ERRCODE = '22023';
  END IF;
  IF length(description) > 1000 THEN
    RAISE EXCEPTION 'description is too long (at most 1000 characters)' USING ERRCODE = '22001';
  END IF;
  IF EXISTS (SELECT FROM mpa.teams t WHERE t.name = team) THEN
    RAISE EXCEPTION 'team "%" already exists', team USING ERRCODE = '42710';
  END IF;
  INSERT INTO mpa.teams (name, threshold, description) VALUES (team, threshold, description);
END $$;

CREATE FUNCTION mpa.existing_team(team text) RETURNS mpa.teams
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE t mpa.teams;
BEGIN
  SELECT * INTO t FROM mpa.teams WHERE name = mpa.require(team, 'team') FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'team "%" does not exist', left(team, 80) USING ERRCODE = '22023';
  END IF;
  RETURN t;
END $$;
REVOKE ALL ON FUNCTION mpa.existing_team(text) FROM PUBLIC;

-- Opens a confirmation of an approver's address (`address`: the registered
-- one, or an approved new one) and mails its code there. `why` opens the mail.
CREATE FUNCTION mpa.open_confirmation(a mpa.approvers, address text, why text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE c mpa.challenges;
BEGIN
  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = a.approver AND ch.state = 'open';
  INSERT INTO mpa.challenges (team, approver, decision, nonce, email, expires_at)
  VALUES (a.team, a.approver, 'confirm', mpa.new_nonce(), address,
          now() + current_setting('mpa.otp_ttl')::interval)
  RETURNING * INTO c;
  PERFORM mpa.audit('confirmation opened', NULL, jsonb_build_object('team', a.team, 'approver', a.approver::text,
    'challenge', c.id, 'to', mpa.mask_email(address)));
  PERFORM mpa.queue_mail('code', address,
    format('[pg_mpa] confirm your approver address for team "%s"', a.team),
    format(E'%s\n\nYour one-time code: {{code}}\n\n'
            'Connect as %s and confirm with:\n\n  SELECT mpa_confirm_email(%L, ''<code>'');\n\n'
            'The code is valid until %s. If you did not expect this mail, do not use the code '
            'and tell your security team.\n',
           why, a.approver, a.team, to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
    greatest(1, extract(epoch FROM c.expires_at - now())::int),
    format('confirm:%s:%s', a.team, a.approver::oid), c.id);
  RETURN format('a code to confirm the address was sent to %s; it is valid until %s', mpa.mask_email(address),
                to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
END $$;
REVOKE ALL ON FUNCTION mpa.open_confirmation(mpa.approvers, text, text) FROM PUBLIC;

CREATE FUNCTION mpa_approver_add(team text, approver regrole, email text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  enrolled mpa.approvers;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.require(email, 'email');
  PERFORM mpa.authorize_configuration('mpa_approver_add', format('SELECT mpa_approver_add(%L, %L, %L)', t.name, approver, email));
  PERFORM mpa.check_email(email);
  IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = approver) THEN
    RAISE EXCEPTION 'role with OID % does not exist', approver::oid USING ERRCODE = '42704';
  END IF;
  IF EXISTS (SELECT FROM mpa.approvers a WHERE a.team = t.name AND a.approver = mpa_approver_add.approver) THEN
    RAISE EXCEPTION 'role % is already an approver of team "%"', approver, t.name USING ERRCODE = '42710';
  END IF;
  INSERT INTO mpa.approvers (team, approver, email, confirmation_started_at)
  VALUES (t.name, approver, email, now()) RETURNING * INTO enrolled;
  PERFORM mpa.open_confirmation(enrolled, email, format(
    'Role %s was enrolled as an approver of team "%s" of pg_mpa, with this address.', approver, t.name));
END $$;

CREATE FUNCTION mpa_approver_remove(team text, approver regrole)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  remaining int;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.authorize_configuration('mpa_approver_remove', format('SELECT mpa_approver_remove(%L, %L)', t.name, approver));
  DELETE FROM mpa.approvers a WHERE a.team = t.name AND a.approver = mpa_approver_remove.approver;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', approver, t.name USING ERRCODE = '22023';
  END IF;
  SELECT count(*) INTO remaining FROM mpa.approvers a WHERE a.team = t.name;
  IF remaining < t.threshold AND EXISTS (SELECT FROM mpa.policies p WHERE p.team = t.name) THEN
    RAISE EXCEPTION 'team "%" would have % approvers, fewer than its threshold of %',
                    t.name, remaining, t.threshold USING ERRCODE = 'MP004',
      HINT = 'Lower the threshold with mpa_team_set_threshold() first, or add an approver.';
  END IF;
END $$;

-- A new address for an approver (a configuration change: once a team
-- governs, it needs an approved request). The new address takes over only
-- once it has confirmed a code; the old one is told at once, and again
-- when the change takes effect.
CREATE FUNCTION mpa_approver_set_email(team text, approver regrole, email text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  a mpa.approvers;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.require(email, 'email');
  PERFORM mpa.authorize_configuration('mpa_approver_set_email', format('SELECT mpa_approver_set_email(%L, %L, %L)', t.name, approver, email));
  PERFORM mpa.check_email(email);
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = t.name AND ap.approver = mpa_approver_set_email.approver FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', approver, t.name USING ERRCODE = '22023';
  ELSIF a.email = email THEN
    RAISE EXCEPTION '% is already the address of % in team "%"', email, approver, t.name USING ERRCODE = '22023';
  END IF;
  UPDATE mpa.approvers ap SET pending_email = mpa_approver_set_email.email, confirmation_started_at = now()
   WHERE ap.team = t.name AND ap.approver = a.approver RETURNING * INTO a;
  PERFORM mpa.queue_mail('notice', a.email,
    format('[pg_mpa] your approver address for team "%s" is being changed', t.name),
    format(E'The address at which role %s approves for team "%s" is being changed to %s.\n'
            'Until the new address confirms a code, your codes still come here.\n\n'
            'If you did not ask for this, tell your security team now.\n',
           a.approver, t.name, mpa.mask_email(email)),
    86400, NULL, NULL);
  RETURN mpa.open_confirmation(a, email, format(
    'This address is to become the approver address of role %s in team "%s" of pg_mpa.', a.approver, t.name));
END $$;

-- The approver confirms their address (or an approved new one) with the
-- code mailed there.
-- A function that takes a code notes the submission before anything that
-- could wait on a lock (src/pg/approval/code_submission.hpp): a call that does not
-- reach the code's check burns the approver's codes. The work is done by
-- the internal function it then calls.
CREATE FUNCTION mpa_confirm_email(team text, code text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.code_submitted();
  SELECT mpa.confirm_email(team, code);
$$;

CREATE FUNCTION mpa.confirm_email(team text, code text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  a mpa.approvers;
  c mpa.challenges;
BEGIN
  IF team IS NULL OR code IS NULL THEN
    PERFORM mpa.code_settled();
  END IF;
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(code, 'code');
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = confirm_email.team AND ap.approver = me FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', me, left(team, 80) USING ERRCODE = 'MP003';
  END IF;
  SELECT * INTO c FROM mpa.challenges ch
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = me AND ch.state = 'open'
   ORDER BY ch.id DESC LIMIT 1;
  IF NOT FOUND OR c.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'no confirmation code is waiting for you in team "%"', a.team USING ERRCODE = 'MP005',
      HINT = format('Ask for one: SELECT mpa_confirm_email_resend(%L);', a.team);
  END IF;
  PERFORM mpa.accept_code(c, code);
  UPDATE mpa.challenges SET state = 'used' WHERE id = c.id;
  IF c.email = a.pending_email THEN
    UPDATE mpa.approvers ap SET email = ap.pending_email, pending_email = NULL, verified_at = now(),
                                last_active_at = now()
     WHERE ap.team = a.team AND ap.approver = me;
    PERFORM mpa.queue_mail('notice', a.email,
      format('[pg_mpa] your approver address for team "%s" was changed', a.team),
      format(E'From now on, the codes of role %s in team "%s" go to %s, which confirmed a code.\n\n'
              'If you did not ask for this, tell your security team now.\n',
             me, a.team, mpa.mask_email(c.email)),
      86400, NULL, NULL);
    PERFORM mpa.audit('address changed', NULL, jsonb_build_object('team', a.team, 'approver', me::text,
      'from', mpa.mask_email(a.email), 'to', mpa.mask_email(c.email)));
    RETURN format('your address for team "%s" is now %s', a.team, mpa.mask_email(c.email));
  END IF;
  UPDATE mpa.approvers ap SET verified_at = now(), last_active_at = now()
   WHERE ap.team = a.team AND ap.approver = me AND ap.email = c.email;
  PERFORM mpa.audit('address confirmed', NULL, jsonb_build_object('team', a.team, 'approver', me::text,
    'address', mpa.mask_email(c.email)));
  RETURN format('your address for team "%s" (%s) is confirmed', a.team, mpa.mask_email(c.email));
END $$;

-- A new confirmation code, to the address being confirmed.
CREATE FUNCTION mpa_confirm_email_resend(team text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  a mpa.approvers;
  last_code timestamptz;
BEGIN
  PERFORM mpa.require(team, 'team');
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = mpa_confirm_email_resend.team AND ap.approver = me FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', me, left(team, 80) USING ERRCODE = 'MP003';
  END IF;
  SELECT max(created_at) INTO last_code FROM mpa.challenges ch
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = me;
  IF last_code > now() - current_setting('mpa.resend_cooldown')::interval THEN
    RAISE EXCEPTION 'a code was sent less than % ago', current_setting('mpa.resend_cooldown') USING ERRCODE = 'MP005';
  END IF;
  -- Tries are counted together for mpa.request_ttl from the start of a
  -- confirmation; after that, a fresh start.
  IF a.confirmation_started_at IS NULL
     OR a.confirmation_started_at <= now() - current_setting('mpa.request_ttl')::interval THEN
    UPDATE mpa.approvers ap SET confirmation_started_at = now()
     WHERE ap.team = a.team AND ap.approver = me RETURNING * INTO a;
  ELSIF mpa.voter_locked_out(0, a.confirmation_started_at) THEN
    RAISE EXCEPTION 'too many wrong codes for the confirmation of your address for team "%": ask again later', a.team
      USING ERRCODE = 'MP005';
  END IF;
  RETURN mpa.open_confirmation(a, coalesce(a.pending_email, a.email),
    format('Role %s asked for a new code to confirm this address for team "%s" of pg_mpa.', me, a.team));
END $$;

CREATE FUNCTION mpa_team_set_threshold(team text, threshold int)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t mpa.teams := mpa.existing_team(team);
BEGIN
  PERFORM mpa.require(threshold, 'threshold');
  PERFORM mpa.authorize_configuration('mpa_team_set_threshold', format('SELECT mpa_team_set_threshold(%L, %s)', t.name, threshold));
  PERFORM mpa.check_threshold(threshold, (SELECT count(*)::int FROM mpa.approvers a WHERE a.team = t.name));
  UPDATE mpa.teams SET threshold = mpa_team_set_threshold.threshold WHERE name = t.name;
END $$;

CREATE FUNCTION mpa_protect(operation text, object text DEFAULT '*', team text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  op text := mpa.canonical_operation(mpa.require(operation, 'operation'));
  obj text := mpa.canonical_object(mpa.require(object, 'object'));
  t mpa.teams;
  first_governor boolean;
BEGIN
  PERFORM mpa.authorize_configuration('mpa_protect', format('SELECT mpa_protect(%L, %L, %L)', op, obj, team));
  IF team IS NULL THEN
    IF (SELECT count(*) FROM mpa.teams) <> 1 THEN
      RAISE EXCEPTION 'name the team that approves % on %', op, obj USING ERRCODE = '22023',
        HINT = 'team may be left out only while there is exactly one team.';
    END IF;
    SELECT * INTO t FROM mpa.teams;
  ELSE
    t := mpa.existing_team(team);
  END IF;
  IF (SELECT count(*) FROM mpa.approvers a WHERE a.team = t.name) < t.threshold THEN
    RAISE EXCEPTION 'team "%" has fewer approvers than its threshold of %', t.name, t.threshold
      USING ERRCODE = 'MP004', HINT = 'Add approvers with mpa_approver_add() first.';
  END IF;
  first_governor := NOT EXISTS (SELECT FROM mpa.policies p WHERE p.operation = 'MPA CONFIGURE');
  INSERT INTO mpa.policies (operation, object, team) VALUES (op, obj, t.name)
    ON CONFLICT ON CONSTRAINT policies_operation_object_key DO UPDATE SET team = excluded.team;
  -- Governance starts when this transaction commits: the transaction that
  -- made the first policy on MPA CONFIGURE finishes its set-up
  -- (mpa.governance_begins; mpa.authorize_configuration).
  IF first_governor AND op = 'MPA CONFIGURE' THEN
    PERFORM mpa.governance_begins();
  END IF;
  -- Secure by default: the team of the first policy governs pg_mpa too,
  -- unless a team was named to govern it before. (A server may opt out with
  -- mpa.govern_from_first_policy = off: test fixtures do.)
  IF op <> 'MPA CONFIGURE' AND current_setting('mpa.govern_from_first_policy')::boolean AND first_governor THEN
    INSERT INTO mpa.policies (operation, object, team) VALUES ('MPA CONFIGURE', '*', t.name);
    PERFORM mpa.governance_begins();
    RAISE NOTICE 'team "%" now governs pg_mpa as well', t.name
      USING DETAIL = 'From the end of this transaction, changes to teams, approvers and policies '
                     'need its approval (mpa_request, then mpa_execute).',
            HINT = 'To have another team govern pg_mpa, protect MPA CONFIGURE for it first, '
                   'or in the same transaction.';
  END IF;
END $$;

CREATE FUNCTION mpa_unprotect(operation text, object text DEFAULT '*')
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  op text := mpa.canonical_operation(mpa.require(operation, 'operation'));
  obj text := mpa.canonical_object(mpa.require(object, 'object'));
BEGIN
  PERFORM mpa.authorize_configuration('mpa_unprotect', format('SELECT mpa_unprotect(%L, %L)', op, obj));
  DELETE FROM mpa.policies p WHERE p.operation = op AND p.object = obj;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no policy protects % on %', op, obj USING ERRCODE = '22023';
  END IF;
END $$;

REVOKE ALL ON FUNCTION mpa_team_create(text, int, text), mpa_approver_add(text, regrole, text),
  mpa_approver_remove(text, regrole), mpa_team_set_threshold(text, int),
  mpa_approver_set_email(text, regrole, text), mpa_protect(text, text, text), mpa_unprotect(text, text)
  FROM PUBLIC;

-------------------------------------------------------------------------------
-- Requests and votes. Identities are session roles (the authenticated
-- role): SET ROLE changes nothing here, and a code only reaches the
-- approver's registered mailbox.
-------------------------------------------------------------------------------

-- Names in the statement are resolved with the caller's search_path (the
-- one the statement would run with); the request records them by OID.
-- Every name in these wrappers is qualified: they run with the caller's
-- search_path, which they pass on.
CREATE FUNCTION mpa_request(statement text, justification text) RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'), NULL)
$$;

-- A temporary grant: once approved and executed, the GRANT holds for
-- valid_for and is then revoked by the worker.
CREATE FUNCTION mpa_request(statement text, justification text, valid_for interval) RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'),
                            mpa.require(valid_for, 'valid_for'))
$$;

CREATE FUNCTION mpa.create_request(statement text, justification text, caller_search_path text,
                                   valid_for interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d record;
  t mpa.teams;
  r mpa.requests;
  requester regrole := session_user::regrole;
BEGIN
  PERFORM mpa.require(statement, 'statement');
  PERFORM mpa.check_justification(justification);
  PERFORM mpa.check_request_rate(requester);
  d := mpa.describe(statement, caller_search_path);
  IF valid_for IS NOT NULL THEN
    IF d.revoke_statement IS NULL THEN
      RAISE EXCEPTION 'only a GRANT of roles or of table privileges can be temporary, not %', d.operation
        USING ERRCODE = '22023';
    ELSIF valid_for <= interval '0' THEN
      RAISE EXCEPTION 'valid_for must be positive, not %', valid_for USING ERRCODE = '22023';
    ELSIF valid_for > interval '30 days' THEN
      RAISE EXCEPTION 'valid_for is at most 30 days, not %', valid_for USING ERRCODE = '22023',
        HINT = 'Longer access is not temporary: request a plain GRANT.';
    END IF;
  END IF;
  IF d.team IS NULL THEN
    RAISE EXCEPTION '% on % is not protected: it needs no approval', d.operation, d.object
      USING ERRCODE = 'MP002', HINT = 'Run the statement directly.';
  END IF;
  IF d.operation = 'MPA CONFIGURE' THEN
    -- A change that could not run is refused now, not after the votes: it
    -- is rehearsed, and the rehearsal (with the caller's search_path)
    -- rolled back.
    BEGIN
      PERFORM set_config('search_path', caller_search_path, true);
      PERFORM mpa.rehearse_configuration(statement);
    EXCEPTION WHEN SQLSTATE 'MPR00' THEN NULL;
    END;
  END IF;
  SELECT * INTO t FROM mpa.teams WHERE name = d.team;
  PERFORM mpa.check_quorum_possible(t, requester);
  INSERT INTO mpa.requests (statement, justification, operation, object, target_classes, target_oids,
                            fingerprint, team, threshold, requester, expires_at, valid_for,
                            revoke_statement, cascade_classes, cascade_oids)
  SELECT statement, justification, d.operation, d.object, d.target_classes, d.target_oids,
         d.fingerprint, t.name, t.threshold, requester,
         now() + current_setting('mpa.request_ttl')::interval, valid_for,
         CASE WHEN valid_for IS NOT NULL THEN d.revoke_statement END, c.classes, c.oids
    FROM mpa.cascade_arrays(d.operation, d.target_classes, d.target_oids) c
  RETURNING * INTO r;
  PERFORM mpa.request_opened(r);
  RETURN r.id;
END $$;

GRANT EXECUTE ON FUNCTION mpa.create_request(text, text, text, interval) TO PUBLIC;

-- For drops: what the statement would also remove (with CASCADE where
-- needed), sorted: the objects that depend on its targets, transitively
-- (normal and automatic dependencies). One definition for what approvers
-- are shown (mpa.cascade_summary) and what execution compares
-- (mpa.cascade_difference).
CREATE FUNCTION mpa.cascade_of(operation text, target_classes oid[], target_oids oid[])
RETURNS TABLE (classid oid, objid oid)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Drops: objects that depend on one removed (normal and automatic
  -- dependencies), and the object a removed one is part of (an internal
  -- dependency: a view goes with its _RETURN rule).
  WITH RECURSIVE dependents(classid, objid, depth) AS (
    SELECT d.classid, d.objid, 1 FROM pg_depend d
      JOIN unnest(target_classes, target_oids) AS t(classid, objid)
        ON d.refclassid = t.classid AND d.refobjid = t.objid
     WHERE d.deptype IN ('n', 'a') AND operation LIKE 'DROP %'
    UNION
    SELECT CASE WHEN d.deptype = 'i' THEN d.refclassid ELSE d.classid END,
           CASE WHEN d.deptype = 'i' THEN d.refobjid ELSE d.objid END, p.depth + 1
      FROM dependents p JOIN pg_depend d
        ON (d.deptype IN ('n', 'a') AND d.refclassid = p.classid AND d.refobjid = p.objid)
        OR (d.deptype = 'i' AND d.classid = p.classid AND d.objid = p.objid)
     WHERE p.depth < 20
  ),
  -- TRUNCATE: the tables it empties with them, with CASCADE where needed:
  -- tables referencing one emptied by a foreign key, and the partitions
  -- and inheritance children of one emptied (without ONLY).
  emptied(relid, depth) AS (
    SELECT t.objid, 0 FROM unnest(target_classes, target_oids) AS t(classid, objid)
     WHERE t.classid = 'pg_class'::regclass AND operation LIKE 'TRUNCATE%'
    UNION
    SELECT x.relid, e.depth + 1
      FROM emptied e
      CROSS JOIN LATERAL (SELECT c.conrelid FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = e.relid
                          UNION ALL
                          SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = e.relid) AS x(relid)
     WHERE e.depth < 20
  )
  SELECT DISTINCT classid, objid FROM (
    SELECT classid, objid FROM dependents
    UNION ALL
    SELECT 'pg_class'::regclass::oid, relid FROM emptied
  ) removed
   WHERE NOT (classid = ANY (target_classes) AND objid = ANY (target_oids))
   ORDER BY classid, objid
$$;
CREATE FUNCTION mpa.cascade_arrays(operation text, target_classes oid[], target_oids oid[],
                                   OUT classes oid[], OUT oids oid[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(c.classid ORDER BY c.classid, c.objid), '{}'),
         coalesce(array_agg(c.objid ORDER BY c.classid, c.objid), '{}')
    FROM mpa.cascade_of(operation, target_classes, target_oids) c
$$;

-- The recorded cascade, for the request mail.
CREATE FUNCTION mpa.cascade_summary(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN count(*) = 0 THEN ''
              WHEN r.operation LIKE 'TRUNCATE%'
              THEN E'\nTruncating it also empties (with CASCADE where needed, or without ONLY):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n'
              ELSE E'\nDropping it also removes (with CASCADE where needed):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n' END
    FROM (SELECT pg_describe_object(c.classid, c.objid, 0) AS what
            FROM unnest(r.cascade_classes, r.cascade_oids) AS c(classid, objid)) described
   WHERE what IS NOT NULL
$$;

-- At execution: what the statement would remove (or empty) now that
-- approvers were not shown; NULL when nothing. What they were shown that it
-- no longer reaches is said with it, but alone refuses nothing: the
-- statement does less than was approved (a foreign key dropped so that an
-- approved TRUNCATE can run).
CREATE FUNCTION mpa.cascade_difference(operation text, target_classes oid[], target_oids oid[],
                                       cascade_classes oid[], cascade_oids oid[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH now_reached AS (SELECT * FROM mpa.cascade_of(operation, target_classes, target_oids)),
       approved AS (SELECT * FROM unnest(cascade_classes, cascade_oids) AS c(classid, objid)),
       added AS (SELECT * FROM now_reached EXCEPT SELECT * FROM approved),
       gone AS (SELECT * FROM approved EXCEPT SELECT * FROM now_reached),
       verb AS (SELECT CASE WHEN operation LIKE 'TRUNCATE%' THEN 'empties' ELSE 'removes' END AS v)
  SELECT CASE WHEN EXISTS (SELECT FROM added) THEN concat_ws('; ',
           (SELECT 'now also ' || (SELECT v FROM verb) || ' '
                   || string_agg(coalesce(pg_describe_object(classid, objid, 0),
                                          format('object %s of class %s', objid, classid)),
                                 ', ' ORDER BY classid, objid) FROM added),
           (SELECT 'no longer ' || (SELECT v FROM verb) || ' '
                   || string_agg(coalesce(pg_describe_object(classid, objid, 0),
                                          format('object %s of class %s (gone)', objid, classid)),
                                 ', ' ORDER BY classid, objid) FROM gone HAVING count(*) > 0)) END
$$;
REVOKE ALL ON FUNCTION mpa.cascade_summary(mpa.requests) FROM PUBLIC;
REVOKE ALL ON FUNCTION mpa.cascade_of(text, oid[], oid[]), mpa.cascade_arrays(text, oid[], oid[]),
                       mpa.cascade_difference(text, oid[], oid[], oid[], oid[]) FROM PUBLIC;

-- Opens a challenge for (request, caller, decision) and mails its code.
CREATE FUNCTION mpa.open_challenge(r mpa.requests, decision text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  voter regrole := session_user::regrole;
  address text;
  last_code timestamptz;
  c mpa.challenges;
BEGIN
  IF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % is %, not open for votes', r.id,
                    CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END USING ERRCODE = 'MP004';
  END IF;
  IF r.requester = voter THEN
    RAISE EXCEPTION 'you cannot vote on your own request' USING ERRCODE = 'MP003';
  END IF;
  SELECT email INTO address FROM mpa.approvers a WHERE a.team = r.team AND a.approver = voter;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', voter, r.team USING ERRCODE = 'MP003';
  END IF;
  IF EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = voter) THEN
    RAISE EXCEPTION 'you have already voted on request %', r.id USING ERRCODE = 'MP003';
  END IF;
  IF mpa.voter_locked_out(r.id, r.created_at) THEN
    RAISE EXCEPTION 'too many wrong codes for request %: you can no longer vote on it', r.id
      USING ERRCODE = 'MP005';
  END IF;
  SELECT max(created_at) INTO last_code FROM mpa.challenges ch
   WHERE ch.request_id = r.id AND ch.approver = voter;
  IF last_code > now() - current_setting('mpa.resend_cooldown')::interval THEN
    RAISE EXCEPTION 'a code was sent less than % ago', current_setting('mpa.resend_cooldown')
      USING ERRCODE = 'MP005', HINT = format('Wait until %s before asking for another.',
        to_char((last_code + current_setting('mpa.resend_cooldown')::interval)
                AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"'));
  END IF;

  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.request_id = r.id AND ch.approver = voter AND ch.state = 'open';
  INSERT INTO mpa.challenges (request_id, approver, decision, nonce, email, expires_at)
  VALUES (r.id, voter, decision, mpa.new_nonce(), address,
          least(r.expires_at, now() + current_setting('mpa.otp_ttl')::interval))
  RETURNING * INTO c;
  PERFORM mpa.audit('challenge opened', r.id, jsonb_build_object('challenge', c.id, 'approver', voter::text,
    'decision', decision, 'to', mpa.mask_email(address)));
  -- The body holds a placeholder, never the code: the mail worker derives
  -- the code from the challenge when it renders the message.
  PERFORM mpa.queue_mail('code', address,
    format('[pg_mpa] your code to %s request #%s', decision, r.id),
    format(E'Someone connected as %s asked to %s request #%s.\n\n'
            'Your one-time code: {{code}}\n\n'
            'Confirm with:  SELECT mpa_verify(%s, ''<code>'');\n'
            'The code is valid until %s, for this vote only. If you did not ask for it, '
            'do not use it and tell your security team.\n\n%s',
           voter, decision, r.id, r.id,
           to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
           mpa.request_summary(r)),
    greatest(1, extract(epoch FROM c.expires_at - now())::int),
    format('code:%s:%s', r.id, voter::oid), c.id);
  RETURN format('a code to %s request %s was sent to %s; it is valid until %s',
                decision, r.id, mpa.mask_email(address),
                to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
END $$;
REVOKE ALL ON FUNCTION mpa.open_challenge(mpa.requests, text) FROM PUBLIC;

CREATE FUNCTION mpa_vote(request_id bigint, decision text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(decision, 'decision');
  IF decision NOT IN ('approve', 'reject') THEN
    RAISE EXCEPTION 'decision must be ''approve'' or ''reject'', not %', quote_literal(left(decision, 40))
      USING ERRCODE = '22023';
  END IF;
  RETURN mpa.open_challenge(mpa.lock_request(request_id), decision);
END $$;

CREATE FUNCTION mpa_resend(request_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r mpa.requests := mpa.lock_request(request_id);
  last_decision text;
BEGIN
  SELECT decision INTO last_decision FROM mpa.challenges c
   WHERE c.request_id = r.id AND c.approver = session_user::regrole ORDER BY c.id DESC LIMIT 1;
  IF last_decision IS NULL THEN
    RAISE EXCEPTION 'you have asked for no code on request %', r.id USING ERRCODE = 'MP004',
      HINT = format('Vote first: SELECT mpa_vote(%s, ''approve'');', r.id);
  END IF;
  RETURN mpa.open_challenge(r, last_decision);
END $$;

CREATE FUNCTION mpa_verify(request_id bigint, code text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.code_submitted();
  SELECT mpa.verify_vote(request_id, code);
$$;

CREATE FUNCTION mpa.verify_vote(request_id bigint, code text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  voter regrole := session_user::regrole;
  c mpa.challenges;
  r mpa.requests;
  approvals int;
  rejections int;
  eligible int;
  outcome text;
BEGIN
  IF request_id IS NULL OR code IS NULL THEN
    PERFORM mpa.code_settled();
  END IF;
  PERFORM mpa.require(request_id, 'request_id');
  PERFORM mpa.require(code, 'code');
  SELECT * INTO r FROM mpa.requests WHERE id = request_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  ELSIF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % is %, not open for votes', r.id,
                    CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END USING ERRCODE = 'MP004';
  END IF;
  SELECT * INTO c FROM mpa.challenges ch
   WHERE ch.request_id = verify_vote.request_id AND ch.approver = voter AND ch.state = 'open'
   ORDER BY ch.id DESC LIMIT 1;
  IF NOT FOUND OR c.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'no code is waiting for you on request %', request_id USING ERRCODE = 'MP005',
      HINT = format('Ask for one: SELECT mpa_vote(%s, ''approve'') or mpa_resend(%s).', request_id, request_id);
  END IF;
  PERFORM mpa.accept_code(c, code);

  -- Tally under the request's row lock: of two racing final votes, the
  -- second sees the first's result, so the state changes exactly once.
  r := mpa.lock_request(request_id);
  IF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % was decided meanwhile (%)', r.id, r.state USING ERRCODE = 'MP004';
  END IF;
  -- The code may have been replaced (mpa_resend) or expired while we waited
  -- for the request's lock: only a still-open code counts.
  UPDATE mpa.challenges SET state = 'used'
   WHERE id = c.id AND state = 'open' AND expires_at > statement_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'this code can no longer be used' USING ERRCODE = 'MP005',
      HINT = format('Ask for a new one: SELECT mpa_resend(%s);', request_id);
  END IF;
  INSERT INTO mpa.votes (request_id, approver, decision) VALUES (r.id, voter, c.decision);
  PERFORM mpa.audit('vote', r.id, jsonb_build_object('approver', voter::text, 'decision', c.decision,
    'challenge', c.id));
  -- The code came back from the registered address: it is confirmed.
  UPDATE mpa.approvers a SET verified_at = coalesce(a.verified_at, now()), last_active_at = now()
   WHERE a.team = r.team AND a.approver = voter AND a.email = c.email;
  SELECT count(*) FILTER (WHERE v.decision = 'approve'), count(*) FILTER (WHERE v.decision = 'reject')
    INTO approvals, rejections FROM mpa.votes v WHERE v.request_id = r.id;
  SELECT count(*) INTO eligible FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver
   WHERE a.team = r.team AND a.approver <> r.requester;
  eligible := greatest(eligible, approvals + rejections);
  outcome := mpa.tally(approvals, rejections, eligible, r.threshold);

  PERFORM mpa.mail_requester(r, 'vote',
    format('[pg_mpa] %s voted to %s request #%s', voter, c.decision, r.id),
    format(E'%s voted to %s request #%s (%s of %s approvals).\n\n%s',
           voter, c.decision, r.id, approvals, r.threshold, mpa.request_summary(r)));
  IF outcome = 'approved' THEN
    PERFORM mpa.finish(r, 'approved', format(E'%s of %s approvals. The requester may run it once:\n'
      '  SELECT mpa_execute(%s);\nor re-run the identical statement.', approvals, r.threshold, r.id));
  ELSIF outcome = 'rejected' THEN
    PERFORM mpa.finish(r, 'rejected', format('%s rejections: the threshold of %s can no longer be reached.',
      rejections, r.threshold));
  END IF;
  RETURN format('vote recorded: %s request %s (%s of %s approvals); the request is %s',
                c.decision, r.id, approvals, r.threshold, outcome);
END $$;

CREATE FUNCTION mpa_cancel(request_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests := mpa.lock_request(request_id);
BEGIN
  IF r.requester <> session_user::regrole THEN
    RAISE EXCEPTION 'only the requester (%) may cancel request %', r.requester, r.id USING ERRCODE = 'MP003';
  END IF;
  IF r.state NOT IN ('pending', 'approved') THEN
    RAISE EXCEPTION 'request % is already %', r.id, r.state USING ERRCODE = 'MP004';
  END IF;
  PERFORM mpa.finish(r, 'cancelled', format('%s withdrew it.', r.requester));
END $$;

-- Runs the approved statement, once, as the requester (nothing here is
-- SECURITY DEFINER: the statement runs with the caller's own privileges,
-- and with the search_path the caller has now, as if typed). The gate
-- recognises it and spends the approval in this transaction.
CREATE FUNCTION mpa_execute(request_id bigint) RETURNS void
LANGUAGE sql AS $$
  SELECT mpa.execute_request(request_id, pg_catalog.current_setting('search_path'))
$$;

CREATE FUNCTION mpa.run_approved_statement(statement text, search_path text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_run_approved_statement';

CREATE FUNCTION mpa.execute_request(request_id bigint, caller_search_path text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = mpa.require(request_id, 'request_id');
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  ELSIF r.kind = 'action' THEN
    RAISE EXCEPTION 'request % is an application action, not a statement', r.id USING ERRCODE = '22023',
      HINT = format('The application claims it with mpa_consume(%s).', r.id);
  ELSIF r.requester <> session_user::regrole THEN
    RAISE EXCEPTION 'only the requester (%) may execute request %', r.requester, r.id USING ERRCODE = 'MP003';
  ELSIF r.state <> 'approved' THEN
    RAISE EXCEPTION 'request % is %, not approved', r.id, r.state USING ERRCODE = 'MP004';
  ELSIF r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % expired at %', r.id, r.expires_at USING ERRCODE = 'MP004';
  END IF;
  IF r.operation = 'MPA CONFIGURE' THEN
    PERFORM mpa.execute_configuration(r.id);
  ELSE
    PERFORM mpa.run_approved_statement(r.statement, caller_search_path);
  END IF;
  IF (SELECT state FROM mpa.requests WHERE id = r.id) <> 'executed' THEN
    RAISE EXCEPTION 'request % was not executed: its objects changed since it was approved', r.id
      USING ERRCODE = 'MP004';
  END IF;
END $$;
GRANT EXECUTE ON FUNCTION mpa.execute_request(bigint, text), mpa.run_approved_statement(text, text) TO PUBLIC;

-------------------------------------------------------------------------------
-- Audit (mpa.audit): checking the chain, and its head for external checkers.
-------------------------------------------------------------------------------

-- Walks the chain and names the first entry that breaks it (edited,
-- deleted, inserted or moved). Entries not chained yet are counted apart:
-- the mail worker chains them within moments of their commit.
CREATE FUNCTION mpa_audit_verify(OUT intact boolean, OUT entries bigint, OUT first_broken_seq bigint,
                                 OUT first_broken_id bigint, OUT reason text, OUT unchained bigint)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_verify';

-- The chain's last entry. Every mail pg_mpa sends carries it, so a history
-- rewritten afterwards disagrees with what approvers already hold.
CREATE FUNCTION mpa_audit_head(OUT seq bigint, OUT hash text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT seq, hash FROM mpa.audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1
$$;

-------------------------------------------------------------------------------
-- Application-defined approvals: the same votes, codes and tally for an
-- application's own operation (a large refund, a data export).
-------------------------------------------------------------------------------

-- The largest payload, as JSON text, an action request may carry.
CREATE FUNCTION mpa.max_payload_bytes() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 65536';

CREATE FUNCTION mpa_request_action(team text, action text, payload jsonb, justification text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams;
  r mpa.requests;
  requester regrole := session_user::regrole;
BEGIN
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(action, 'action');
  PERFORM mpa.require(payload, 'payload');
  PERFORM mpa.check_justification(justification);
  PERFORM mpa.check_request_rate(requester);
  IF action !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid action name %', quote_literal(left(action, 80)) USING ERRCODE = '22023',
      HINT = 'An action name is 1 to 63 letters, digits, dots, colons, dashes or underscores.';
  ELSIF octet_length(payload::text) > mpa.max_payload_bytes() THEN
    RAISE EXCEPTION 'payload is too large: % bytes as JSON text, at most %', octet_length(payload::text),
      mpa.max_payload_bytes() USING ERRCODE = '54000',
      HINT = 'Store the data in a table and send its key in the payload.';
  END IF;
  SELECT * INTO t FROM mpa.teams WHERE name = team;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'team "%" does not exist', left(team, 80) USING ERRCODE = '22023';
  END IF;
  PERFORM mpa.check_quorum_possible(t, requester);
  INSERT INTO mpa.requests (kind, statement, justification, operation, object, target_classes, target_oids,
                            fingerprint, team, threshold, requester, expires_at, payload)
  VALUES ('action', payload::text, justification, 'ACTION', action, '{}', '{}',
          encode(sha256(convert_to(action || E'\n' || payload::text, 'UTF8')), 'hex'),
          t.name, t.threshold, requester, now() + current_setting('mpa.request_ttl')::interval, payload)
  RETURNING * INTO r;
  PERFORM mpa.request_opened(r);
  RETURN r.id;
END $$;

-- The requester's application claims an approved action, once, in its own
-- transaction: a ROLLBACK leaves it unclaimed. Returns the payload.
CREATE FUNCTION mpa_consume(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests := mpa.lock_request(request_id);
BEGIN
  IF r.kind <> 'action' THEN
    RAISE EXCEPTION 'request % is a statement, not an application action', r.id USING ERRCODE = '22023',
      HINT = 'An approved statement runs with mpa_execute() or by running it again.';
  ELSIF r.requester <> session_user::regrole THEN
    RAISE EXCEPTION 'only the requester (%) may consume request %', r.requester, r.id USING ERRCODE = 'MP003';
  ELSIF r.state = 'executed' THEN
    RAISE EXCEPTION 'request % was already consumed at %', r.id, r.executed_at USING ERRCODE = 'MP004';
  ELSIF r.state <> 'approved' THEN
    RAISE EXCEPTION 'request % is %, not approved', r.id, r.state USING ERRCODE = 'MP004';
  ELSIF r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % expired at %', r.id, r.expires_at USING ERRCODE = 'MP004';
  END IF;
  PERFORM mpa.mark_executed(r);
  RETURN r.payload;
END $$;

-------------------------------------------------------------------------------
-- Team health: who can still approve, like AWS's team baselining.
-------------------------------------------------------------------------------

-- Per team: approvers whose role exists, those whose address is verified,
-- those active within mpa.approver_active_period, whether the verified
-- ones can still reach the threshold, and the pending requests.
CREATE VIEW mpa.team_health AS
  SELECT t.name AS team, t.threshold,
         count(ro.oid) AS approvers,
         count(ro.oid) FILTER (WHERE a.verified_at IS NOT NULL) AS verified,
         count(ro.oid) FILTER (WHERE a.last_active_at >
                               now() - current_setting('mpa.approver_active_period')::interval) AS active,
         count(ro.oid) FILTER (WHERE a.verified_at IS NOT NULL) >= t.threshold AS quorum_reachable,
         t.baselined_at,
         count(ro.oid) FILTER (WHERE a.verified_at >= t.baselined_at) AS confirmed_since_baseline,
         (SELECT count(*) FROM mpa.requests r
           WHERE r.team = t.name AND r.state = 'pending' AND r.expires_at > now()) AS pending_requests,
         (SELECT now() - min(r.created_at) FROM mpa.requests r
           WHERE r.team = t.name AND r.state = 'pending' AND r.expires_at > now()) AS oldest_pending_age
    FROM mpa.teams t
    LEFT JOIN mpa.approvers a ON a.team = t.name
    -- An approver counts while their role can log in: it cannot be dropped
    -- or renamed while it is an approver, but NOLOGIN or an expired
    -- password keeps it from voting all the same.
    LEFT JOIN pg_roles ro ON ro.oid = a.approver AND ro.rolcanlogin
                         AND (ro.rolvaliduntil IS NULL OR ro.rolvaliduntil > now())
   GROUP BY t.name, t.threshold, t.baselined_at;
GRANT SELECT ON mpa.team_health TO PUBLIC;

-- Asks every approver of the team to confirm their address by code now.
-- Returns how many were asked.
CREATE FUNCTION mpa_team_baseline(team text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  a mpa.approvers;
  asked int := 0;
BEGIN
  UPDATE mpa.teams SET baselined_at = now() WHERE name = t.name;
  FOR a IN UPDATE mpa.approvers ap SET confirmation_started_at = now()
            WHERE ap.team = t.name AND EXISTS (SELECT FROM pg_roles ro WHERE ro.oid = ap.approver)
           RETURNING * LOOP
    PERFORM mpa.open_confirmation(a, a.email, format(
      'Team "%s" of pg_mpa is being baselined: every approver confirms their address now.', t.name));
    asked := asked + 1;
  END LOOP;
  PERFORM mpa.audit('baseline', NULL, jsonb_build_object('team', t.name, 'asked', asked));
  RETURN asked;
END $$;
REVOKE ALL ON FUNCTION mpa_team_baseline(text) FROM PUBLIC;

-- The worker, every round: a team whose verified approvers can no longer
-- reach its threshold is mailed to its members, once per fall.
CREATE FUNCTION mpa.check_team_health() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE h record;
BEGIN
  FOR h IN SELECT th.*, t.quorum_reachable AS was_reachable FROM mpa.team_health th
             JOIN mpa.teams t ON t.name = th.team
            WHERE t.quorum_reachable IS DISTINCT FROM th.quorum_reachable
            FOR UPDATE OF t SKIP LOCKED LOOP
    UPDATE mpa.teams SET quorum_reachable = h.quorum_reachable WHERE name = h.team;
    IF h.was_reachable AND NOT h.quorum_reachable THEN
      PERFORM mpa.audit('quorum lost', NULL, jsonb_build_object('team', h.team, 'verified', h.verified,
        'threshold', h.threshold));
      PERFORM mpa.queue_mail('notice', a.email,
        format('[pg_mpa] team "%s" can no longer reach its threshold', h.team),
        format(E'Team "%s" needs %s approvals, but only %s of its approvers have a verified address '
                'and an existing role. Requests to this team cannot be approved until approvers are '
                'added or confirm their address (mpa_team_baseline).', h.team, h.threshold, h.verified),
        86400, NULL, NULL)
        FROM mpa.approvers a WHERE a.team = h.team;
    END IF;
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION mpa.check_team_health(), mpa.max_payload_bytes() FROM PUBLIC;

-------------------------------------------------------------------------------
-- pg_mpa's triggers (its own and the foreign keys' between its tables) fire
-- whatever session_replication_role says, however it was set (SET,
-- set_config, connection options, ALTER ROLE/DATABASE ... SET): "replica"
-- silences ordinary triggers, not these.
-------------------------------------------------------------------------------
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT tg.tgrelid::regclass AS relation, tg.tgname FROM pg_catalog.pg_trigger tg
             JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
            WHERE c.relnamespace = 'mpa'::regnamespace LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.relation, t.tgname);
  END LOOP;
END $$;
