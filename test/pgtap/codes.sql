-- One-time codes: tries, death, resend, single use, the cumulative cap and
-- its lock-out mail, tries that a ROLLBACK does not give back, codes that
-- appear nowhere but in the approver's mail, and identity by session role.
-- Codes are read in the mail the SMTP server received (database setting
-- mpa_test.maildir). Needs mpa.resend_cooldown = 0 (test/run sets it).
--
-- Shares its database with other tests: roles cd_*, team cd-team, schema
-- cd_schema and addresses @cd.example.test are this file's own.
--
-- Four tries are made the way a guesser would make them, with an uncaught
-- error inside BEGIN ... ROLLBACK or SAVEPOINT ... ROLLBACK TO SAVEPOINT:
-- psql prints those four errors ("wrong code; ...") on stderr.
SELECT plan(58);
\set SHOW_CONTEXT never

-------------------------------------------------------------------------------
-- Reading the mail.
-------------------------------------------------------------------------------
\ir common.psql

-- The code in the newest code mail to `address` for `request_id` that no
-- earlier call returned (waiting up to 20 s); every code returned is kept
-- in cd_codes.
CREATE TEMP TABLE cd_seen (file text PRIMARY KEY);
CREATE TEMP TABLE cd_codes (code text);
CREATE FUNCTION pg_temp.next_code(address text, request_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  m record;
  found_code text;
BEGIN
  FOR i IN 1 .. 200 LOOP
    SELECT * INTO m FROM pg_temp.inbox(address) x
     WHERE x.subject LIKE '%your code to % request #' || request_id
       AND x.file NOT IN (SELECT file FROM cd_seen)
     ORDER BY x.file DESC LIMIT 1;
    IF FOUND THEN
      INSERT INTO cd_seen SELECT x.file FROM pg_temp.inbox(address) x
       WHERE x.subject LIKE '%your code to % request #' || request_id AND x.file <= m.file
      ON CONFLICT DO NOTHING;
      found_code := substring(m.body from 'Your one-time code: ([0-9]{6})');
      INSERT INTO cd_codes VALUES (found_code);
      RETURN found_code;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN NULL;
END $$;

-- A six-digit code that is not `code`.
CREATE FUNCTION pg_temp.wrong(code text) RETURNS text LANGUAGE sql AS $$
  SELECT lpad(((code::int + 1) % 1000000)::text, 6, '0')
$$;

-- Every text column of every table in schema mpa that holds `needle`.
CREATE FUNCTION pg_temp.columns_holding(needle text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  c record;
  hits bigint;
BEGIN
  FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname, a.atttypid
             FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
            WHERE r.relnamespace = 'mpa'::regnamespace AND r.relkind IN ('r', 'p', 'm')
              AND a.attnum > 0 AND NOT a.attisdropped
              AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype,
                                 'json'::regtype, 'jsonb'::regtype, 'text[]'::regtype, 'bytea'::regtype)
            ORDER BY 1, 2 LOOP
    IF c.atttypid = 'bytea'::regtype THEN
      EXECUTE format('SELECT count(*) FROM %s WHERE position(convert_to(%L, ''UTF8'') IN %I) > 0',
                     c.tbl, needle, c.attname) INTO hits;
    ELSE
      EXECUTE format('SELECT count(*) FROM %s WHERE strpos(%I::text, %L) > 0', c.tbl, c.attname, needle) INTO hits;
    END IF;
    IF hits > 0 THEN
      RETURN NEXT c.tbl || '.' || c.attname;
    END IF;
  END LOOP;
END $$;

-- What the functions returned to the approvers (none may hold a code).
CREATE TEMP TABLE cd_returned (what text);
GRANT INSERT, SELECT ON cd_returned TO PUBLIC;

-------------------------------------------------------------------------------
-- Setup: cd_req asks; cd_ann, cd_ben, cd_cat and cd_dan approve (two of
-- them are needed). cd_dan is a member of cd_ann: it may SET ROLE cd_ann.
-------------------------------------------------------------------------------
CREATE ROLE cd_req;
CREATE ROLE cd_ann;
CREATE ROLE cd_ben;
CREATE ROLE cd_cat;
CREATE ROLE cd_dan;
GRANT cd_ann TO cd_dan;
CREATE SCHEMA cd_schema;
CREATE TABLE cd_schema.t1 (id int);
CREATE TABLE cd_schema.t2 (id int);
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'cd-team') THEN
    PERFORM mpa_team_create('cd-team', 2, 'codes: two of four');
  END IF;
  PERFORM mpa_approver_add('cd-team', ('cd_' || r)::regrole, r || '@cd.example.test')
     FROM unnest(ARRAY['req', 'ann', 'ben', 'cat', 'dan']) AS r;
  PERFORM mpa_protect('TRUNCATE TABLE', 'cd_schema.*', 'cd-team');
END $$;
SET SESSION AUTHORIZATION cd_req;
SELECT mpa_request('TRUNCATE TABLE cd_schema.t1', 'codes: request one') AS r1 \gset
SELECT mpa_request('TRUNCATE TABLE cd_schema.t2', 'codes: request two') AS r2 \gset
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- cd_ann: what mpa_vote says; a wrong code costs a try; three kill the
-- code; a new one works, once.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cd_ann;
SELECT mpa_vote(:r1, 'approve') AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET SESSION AUTHORIZATION;
SELECT is(:'said',
          (SELECT format('a code to approve request %s was sent to a***@c***.test; it is valid until %s',
                         :r1, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
             FROM mpa.challenges WHERE request_id = :r1 AND approver = 'cd_ann'::regrole AND state = 'open'),
          'mpa_vote says where the code went (masked) and until when');
SELECT ok((SELECT expires_at BETWEEN now() + interval '9 minutes' AND now() + interval '10 minutes'
             FROM mpa.challenges WHERE request_id = :r1 AND approver = 'cd_ann'::regrole AND state = 'open'),
          'the code is valid for mpa.otp_ttl (10 minutes)');
SELECT pg_temp.next_code('ann@cd.example.test', :r1) AS code \gset
SELECT matches(:'code'::text, '^[0-9]{6}$', 'the code arrives by mail');
SELECT ok((SELECT body LIKE '%until ' || (SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
                                            FROM mpa.challenges WHERE request_id = :r1 AND approver = 'cd_ann'::regrole
                                             AND state = 'open') || '%'
             FROM pg_temp.wait_mail('ann@cd.example.test', '%your code to approve request #' || :r1)),
          'the mail says until when it is valid');
SET SESSION AUTHORIZATION cd_ann;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 2 tries left for this code', 'a wrong code costs a try, and says how many are left');
SELECT throws_like(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')),
                   'wrong code; 1 tr% left for this code', 'a second wrong code');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 0 tries left for this code', 'a third wrong code');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, :'code'), 'MP005',
                 'this code can no longer be used', 'three wrong tries kill the code: the right one is refused');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT body LIKE '%mpa_resend(' || :r1 || ')%'
             FROM pg_temp.wait_mail('ann@cd.example.test', '%your code for request #' || :r1 || ' no longer works')),
          'the approver is told by mail that the code died, and how to get another');
SET SESSION AUTHORIZATION cd_ann;
SELECT mpa_resend(:r1) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
SELECT matches(:'said'::text, '^a code to approve request ' || :r1 || ' was sent to a\*\*\*@c\*\*\*\.test; it is valid until ',
               'mpa_resend sends a new code for the same decision');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('ann@cd.example.test', :r1) AS code2 \gset
SELECT isnt(:'code2'::text, :'code'::text, 'the new code is another code');
SET SESSION AUTHORIZATION cd_ann;
SELECT is(mpa_verify(:r1, :'code2'), format('vote recorded: approve request %s (1 of 2 approvals); the request is pending', :r1),
          'the new code is accepted');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, :'code2'), 'MP005',
                 format('no code is waiting for you on request %s', :r1), 'a code is single use');
SELECT throws_ok(format('SELECT mpa_resend(%s)', :r1), 'MP003',
                 format('you have already voted on request %s', :r1), 'no new code after the vote');
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- cd_ben: a ROLLBACK, of a transaction or to a savepoint, gives no try back.
-------------------------------------------------------------------------------
SELECT pg_temp.as_role('cd_ben', format('SELECT mpa_vote(%s, %L)', :r1, 'approve')) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
SELECT pg_temp.next_code('ben@cd.example.test', :r1) AS code \gset
SET SESSION AUTHORIZATION cd_ben;
\set ON_ERROR_STOP 0
BEGIN;
SELECT mpa_verify(:r1, pg_temp.wrong(:'code'));
ROLLBACK;
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_MESSAGE'::text, 'wrong code; 2 tries left for this code', 'BEGIN; a wrong code; ROLLBACK');
\set ON_ERROR_STOP 0
BEGIN;
SELECT mpa_verify(:r1, pg_temp.wrong(:'code'));
ROLLBACK;
\set ON_ERROR_STOP 1
SELECT matches(:'LAST_ERROR_MESSAGE'::text, '^wrong code; 1 tr(y|ies) left for this code$', 'again: the rolled-back try still counted');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 0 tries left for this code', 'after two rolled-back tries, one was left');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, :'code'), 'MP005',
                 'this code can no longer be used', 'and the code is dead');
SELECT mpa_resend(:r1) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('ben@cd.example.test', :r1) AS code \gset
SET SESSION AUTHORIZATION cd_ben;
BEGIN;
SAVEPOINT guess;
\set ON_ERROR_STOP 0
SELECT mpa_verify(:r1, pg_temp.wrong(:'code'));
ROLLBACK TO SAVEPOINT guess;
\set ON_ERROR_STOP 1
SELECT :'LAST_ERROR_MESSAGE' AS first_guess \gset
SAVEPOINT guess;
\set ON_ERROR_STOP 0
SELECT mpa_verify(:r1, pg_temp.wrong(:'code'));
ROLLBACK TO SAVEPOINT guess;
\set ON_ERROR_STOP 1
COMMIT;
SELECT is(:'first_guess'::text, 'wrong code; 2 tries left for this code', 'SAVEPOINT; a wrong code; ROLLBACK TO SAVEPOINT');
SELECT matches(:'LAST_ERROR_MESSAGE'::text, '^wrong code; 1 tr(y|ies) left for this code$', 'again: the rolled-back try still counted');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 0 tries left for this code', 'tries rolled back to a savepoint counted too');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, :'code'), 'MP005',
                 'this code can no longer be used', 'and that code is dead too');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*) FROM mpa.votes WHERE request_id = :r1 AND approver = 'cd_ben'::regrole), 0::bigint,
          'cd_ben has not voted');

-------------------------------------------------------------------------------
-- cd_cat: three codes, three wrong tries each: locked out of the request.
-------------------------------------------------------------------------------
SELECT pg_temp.as_role('cd_cat', format('SELECT mpa_vote(%s, %L)', :r1, 'reject')) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
SELECT pg_temp.next_code('cat@cd.example.test', :r1) AS code \gset
SET SESSION AUTHORIZATION cd_cat;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 2 tries left for this code', 'code 1, wrong 1');
SELECT throws_like(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')),
                   'wrong code; 1 tr% left for this code', 'code 1, wrong 2');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 0 tries left for this code', 'code 1, wrong 3');
SELECT mpa_resend(:r1) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('cat@cd.example.test', :r1) AS code \gset
SET SESSION AUTHORIZATION cd_cat;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 2 tries left for this code', 'code 2, wrong 1');
SELECT throws_like(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')),
                   'wrong code; 1 tr% left for this code', 'code 2, wrong 2');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 0 tries left for this code', 'code 2, wrong 3');
SELECT mpa_resend(:r1) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('cat@cd.example.test', :r1) AS code \gset
SET SESSION AUTHORIZATION cd_cat;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 'wrong code; 2 tries left for this code', 'code 3, wrong 1');
SELECT throws_like(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')),
                   'wrong code; 1 tr% left for this code', 'code 3, wrong 2');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, pg_temp.wrong(:'code')), 'MP005',
                 format('too many wrong codes for request %s: you can no longer vote on it', :r1),
                 'the ninth wrong code locks the approver out');
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r1, :'code'), 'MP005',
                 format('too many wrong codes for request %s: you can no longer vote on it', :r1),
                 'even the right code is refused');
SELECT throws_ok(format('SELECT mpa_resend(%s)', :r1), 'MP005',
                 format('too many wrong codes for request %s: you can no longer vote on it', :r1),
                 'mpa_resend is refused');
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :r1, 'approve'), 'MP005',
                 format('too many wrong codes for request %s: you can no longer vote on it', :r1),
                 'mpa_vote is refused');
RESET SESSION AUTHORIZATION;
SELECT ok((SELECT body LIKE '%Too many wrong codes were entered in your name for request #' || :r1 || '%'
             FROM pg_temp.wait_mail('cat@cd.example.test', '%locked out of request #' || :r1)),
          'the lock-out is mailed to the approver');
SELECT is((SELECT count(*) FROM mpa.votes WHERE request_id = :r1 AND approver = 'cd_cat'::regrole), 0::bigint,
          'cd_cat has not voted');
SELECT is((SELECT state FROM mpa.requests WHERE id = :r1), 'pending', 'the request is still pending');
SELECT is(pg_temp.as_role('cd_dan', format('SELECT count(*) FROM mpa.pending WHERE id = %s', :r1)), '1',
          'and open to the approvers who may still vote');

-------------------------------------------------------------------------------
-- Identity is the session role: SET ROLE changes nothing.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION cd_dan;
SET ROLE cd_ann;
SELECT current_user AS acting_as \gset
SELECT mpa_vote(:r2, 'approve') AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT is(:'acting_as'::text, 'cd_ann', 'cd_dan acts as cd_ann');
SELECT matches(:'said'::text, '^a code to approve request ' || :r2 || ' was sent to d\*\*\*@c\*\*\*\.test; ',
               'mpa_vote sends the code to the session role''s own address');
SELECT is((SELECT string_agg(approver::text || ' ' || email, ',') FROM mpa.challenges WHERE request_id = :r2),
          'cd_dan dan@cd.example.test', 'the challenge is cd_dan''s');
SELECT pg_temp.next_code('dan@cd.example.test', :r2) AS code \gset
SELECT matches((SELECT body FROM pg_temp.wait_mail('dan@cd.example.test', '%your code to approve request #' || :r2)),
               'Someone connected as cd_dan asked to approve request #' || :r2, 'the mail names the session role');
SELECT is((SELECT count(*) FROM pg_temp.inbox('ann@cd.example.test') m
            WHERE m.subject LIKE '%request #' || :r2), 0::bigint, 'cd_ann got no code');
-- cd_dan asks again: the previous code dies.
SET SESSION AUTHORIZATION cd_dan;
SET ROLE cd_ann;
SELECT mpa_resend(:r2) AS said \gset
INSERT INTO cd_returned VALUES (:'said');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT :'code' AS old_code \gset
SELECT pg_temp.next_code('dan@cd.example.test', :r2) AS code \gset
SELECT isnt(:'code'::text, :'old_code'::text, 'mpa_resend mails a new code');
SET SESSION AUTHORIZATION cd_ann;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r2, :'code'), 'MP005',
                 format('no code is waiting for you on request %s', :r2), 'cd_ann cannot use cd_dan''s code');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION cd_dan;
SET ROLE cd_ann;
SELECT throws_ok(format('SELECT mpa_verify(%s, %L)', :r2, :'old_code'), 'MP005',
                 'wrong code; 2 tries left for this code', 'after mpa_resend the old code is refused');
SELECT is(mpa_verify(:r2, :'code'), format('vote recorded: approve request %s (1 of 2 approvals); the request is pending', :r2),
          'the new code is accepted');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(approver::text, ',') FROM mpa.votes WHERE request_id = :r2), 'cd_dan',
          'the vote is cd_dan''s, not cd_ann''s');
SELECT is(pg_temp.as_role('cd_ann', format('SELECT count(*) FROM mpa.pending WHERE id = %s', :r2)), '1',
          'cd_ann may still vote on it');
-- A superuser acting as an approver is still not one.
SET ROLE cd_ann;
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :r2, 'approve'), 'MP003',
                 format('role %s is not an approver of team "cd-team"', session_user), 'SET ROLE gives a superuser no vote');
RESET ROLE;

-------------------------------------------------------------------------------
-- The codes are in the mail, nowhere else.
-------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM cd_codes WHERE code ~ '^[0-9]{6}$'), 9::bigint, 'nine codes were mailed');
SELECT ok('mpa.approvers.email' IN (SELECT pg_temp.columns_holding('dan@cd.example.test'))
          AND 'mpa.outbox.body' IN (SELECT pg_temp.columns_holding('Someone connected as cd_dan')),
          'the search finds what the tables do hold');
SELECT is((SELECT string_agg(DISTINCT c, ', ') FROM cd_codes, pg_temp.columns_holding(code) AS c), NULL,
          'no column of any mpa table holds a mailed code');
SELECT is((SELECT count(*) FROM mpa.outbox o, cd_codes
            WHERE strpos(o.subject, code) > 0 OR strpos(o.body, code) > 0), 0::bigint,
          'no outbox subject or body holds one');
SELECT is((SELECT count(*) FROM cd_returned, cd_codes WHERE strpos(what, code) > 0), 0::bigint,
          'nothing the functions returned holds one');
SELECT is((SELECT count(*) FROM mpa.outbox WHERE kind = 'code' AND body LIKE '%{{code}}%'
              AND recipient LIKE '%@cd.example.test'
              AND challenge_id IN (SELECT id FROM mpa.challenges WHERE request_id IS NOT NULL)), 9::bigint,
          'vote code mails are queued with a placeholder');
SELECT is((SELECT count(*) FROM mpa.outbox o JOIN mpa.challenges c ON c.id = o.challenge_id
            WHERE c.decision = 'confirm' AND o.body LIKE '%{{code}}%' AND o.recipient LIKE '%@cd.example.test'),
          (SELECT count(*) FROM mpa.approvers WHERE email LIKE '%@cd.example.test'),
          'so are the enrolment confirmations, one per approver');

-------------------------------------------------------------------------------
-- Cleanup.
-------------------------------------------------------------------------------
\o /dev/null
SELECT pg_temp.as_role('cd_req', format('SELECT mpa_cancel(%s)', id))
  FROM mpa.requests WHERE team = 'cd-team' AND state IN ('pending', 'approved')
   AND requester = 'cd_req'::regrole;
SELECT mpa_unprotect(operation, object) FROM mpa.policies WHERE team = 'cd-team';
SELECT mpa_approver_remove(team, approver) FROM mpa.approvers WHERE team = 'cd-team';
SET client_min_messages = warning;
DROP SCHEMA cd_schema CASCADE;
DROP ROLE cd_req, cd_ann, cd_ben, cd_cat, cd_dan;
\o

SELECT * FROM finish();
