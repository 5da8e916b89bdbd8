-- A malformed code (not six ASCII digits) is refused with 22023 and costs no
-- try, but, like every submission that ends before the code's check, it
-- burns the approver's open codes (docs/decisions.md, "Codes" and "A
-- submitted code is spent").
--
-- A test/run-only regression test: it needs test/run's cluster, whose
-- mpa.resend_cooldown = 0 gives a new code at once, and the codes the test
-- SMTP server received (test/lib/mailbox.sql). The hostile input to every
-- function is test/regress/sql/approval_input.sql, which runs anywhere.
--
-- Shares its database with other tests: roles mc_*, team mc-team, schema
-- mc_schema and addresses @mc.example.test are this file's own.

-- Runs one call, written with <req> for this file's request; returns 'ok'
-- or "SQLSTATE: message HINT: hint", the request's id written back as <req>.
CREATE TEMP TABLE mc_request (id bigint);
GRANT SELECT ON mc_request TO PUBLIC;
CREATE FUNCTION pg_temp.try(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  req text := (SELECT id::text FROM mc_request);
  state text;
  message text;
  hint text;
BEGIN
  EXECUTE 'SELECT ' || replace(call, '<req>', req);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
  RETURN regexp_replace(state || ': ' || message || CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END,
                        '(request #?|mpa_[a-z]+\()' || req || '\M', '\1<req>', 'g');
END $$;

-------------------------------------------------------------------------------
-- Setup: a team of three needing two, a protected table, mc_alice's request
-- and a code waiting for mc_bob (mc_carol could still approve it).
-------------------------------------------------------------------------------
CREATE ROLE mc_alice;
CREATE ROLE mc_bob;
CREATE ROLE mc_carol;
CREATE SCHEMA mc_schema;
CREATE TABLE mc_schema.t (id int);
-- Teams cannot be dropped: a second run in the same database reuses it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'mc-team') THEN
    PERFORM mpa_team_create('mc-team', 2, 'malformed_codes: two of three');
  END IF;
END $$;
SELECT mpa_approver_add('mc-team', 'mc_alice', 'mc_alice@mc.example.test'),
       mpa_approver_add('mc-team', 'mc_bob', 'mc_bob@mc.example.test'),
       mpa_approver_add('mc-team', 'mc_carol', 'mc_carol@mc.example.test');
SELECT mpa_protect('DROP TABLE', 'mc_schema.t', 'mc-team');
SET SESSION AUTHORIZATION mc_alice;
SELECT mpa_request('DROP TABLE mc_schema.t', 'malformed_codes: a request to vote on') AS req \gset
RESET SESSION AUTHORIZATION;
INSERT INTO mc_request VALUES (:req);
SET SESSION AUTHORIZATION mc_bob;
SELECT pg_temp.try($$mpa_vote(<req>, 'approve')$$) AS code_sent;
RESET SESSION AUTHORIZATION;

-- One line per call: the call => what it returned.
\pset format unaligned
\pset fieldsep ' => '

-------------------------------------------------------------------------------
-- The burn, and no try charged.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION mc_bob;
-- The burn: a fresh code, a malformed try at it, and the fresh code is dead:
-- the six digits that come next are not even compared (whatever they are).
SELECT pg_temp.try($$mpa_resend(<req>)$$) AS resend;
SELECT pg_temp.try($$mpa_verify(<req>, '12345x')$$) AS malformed;
SELECT pg_temp.try($$mpa_verify(<req>, '000000')$$) AS after_malformed;

-- No try charged: as many rounds of "a fresh code, a malformed try at it"
-- as there are wrong tries before a lock-out (mpa.otp_max_attempts per
-- code, three codes' worth), each round in a transaction of its own. Were
-- a malformed code counted as a wrong try, the last round would lock mc_bob
-- out of the request.
\pset tuples_only on
SELECT format($q$SELECT %s AS round, pg_temp.try('mpa_resend(<req>)') AS resend,
                        pg_temp.try('mpa_verify(<req>, ''%s'')') AS malformed$q$,
              i, (ARRAY['12345x', '1234567', ' 12345', '１２３４５６'])[i % 4 + 1])
  FROM generate_series(1, current_setting('mpa.otp_max_attempts')::int * 3) AS i \gexec

-- mc_bob is not locked out: a new code, and wrong tries (the code mailed,
-- read from the test SMTP server, plus one) count from zero: two tries
-- left after the first, and the lock-out comes with the ninth wrong try,
-- not before. (A resend before every third, in a transaction of its own so
-- that the worker can send the code: a code dies of three wrong tries.)
SELECT CASE WHEN i % 3 = 1 THEN $q$SELECT 'resend', pg_temp.try('mpa_resend(<req>)')$q$ END,
       format($q$SELECT 'wrong try %s', pg_temp.try('mpa_verify(<req>, mpa_test.other_code(mpa_test.code(''mc_bob@mc.example.test'', ''%%your code to approve request #<req>'')))')$q$, i)
  FROM generate_series(1, current_setting('mpa.otp_max_attempts')::int * 3) AS i \gexec
-- And now no code can be had.
SELECT pg_temp.try($$mpa_resend(<req>)$$) AS resend_after_lockout;
\pset tuples_only off
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Cleanup.
-------------------------------------------------------------------------------
\pset format aligned
SET SESSION AUTHORIZATION mc_alice;
SELECT pg_temp.try($$mpa_cancel(<req>)$$) AS cancelled;
RESET SESSION AUTHORIZATION;
SELECT mpa_unprotect('DROP TABLE', 'mc_schema.t');
SELECT count(mpa_approver_remove(team, approver)) AS approvers_removed FROM mpa.approvers WHERE team = 'mc-team';
SET client_min_messages = warning;
DROP SCHEMA mc_schema CASCADE;
RESET client_min_messages;
DROP ROLE mc_alice, mc_bob, mc_carol;
