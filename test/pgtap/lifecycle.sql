-- The approval lifecycle end to end, with the codes the approvers read in
-- the mail the SMTP server received (its mail directory is the database
-- setting mpa_test.maildir). Identities are session roles: SET SESSION
-- AUTHORIZATION stands for connecting as that role.
--
-- Shares its database with other tests: roles lc_*, team lc-team, schema
-- lc_schema and addresses @lc.example.test are this file's own.
SELECT plan(96);

-------------------------------------------------------------------------------
-- Reading the mail.
-------------------------------------------------------------------------------

\ir common.psql

-- The code in the newest code mail to `address` for `request_id` that no
-- earlier call returned, waiting for it up to 20 s; NULL if none came.
CREATE TEMP TABLE lc_seen (file text PRIMARY KEY);
CREATE FUNCTION pg_temp.next_code(address text, request_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE m record;
BEGIN
  FOR i IN 1 .. 200 LOOP
    SELECT * INTO m FROM pg_temp.inbox(address) x
     WHERE x.subject LIKE '%your code to % request #' || request_id
       AND x.file NOT IN (SELECT file FROM lc_seen)
     ORDER BY x.file DESC LIMIT 1;
    IF FOUND THEN
      INSERT INTO lc_seen SELECT x.file FROM pg_temp.inbox(address) x
       WHERE x.subject LIKE '%your code to % request #' || request_id AND x.file <= m.file
      ON CONFLICT DO NOTHING;
      RETURN substring(m.body from 'Your one-time code: ([0-9]{6})');
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN NULL;
END $$;

-- A vote in two steps, each its own statement: the code mail leaves when
-- the vote commits.
CREATE FUNCTION pg_temp.vote_as(who text, request_id bigint, decision text) RETURNS text
LANGUAGE sql AS $$
  SELECT pg_temp.as_role(who, format('SELECT mpa_vote(%s, %L)', request_id, decision))
$$;
CREATE FUNCTION pg_temp.verify_as(who text, request_id bigint) RETURNS text LANGUAGE sql AS $$
  SELECT pg_temp.as_role(who, format('SELECT mpa_verify(%s, %L)', request_id,
                                     pg_temp.next_code(who || '@lc.example.test', request_id)))
$$;

CREATE FUNCTION pg_temp.state(request_id bigint) RETURNS text LANGUAGE sql AS $$
  SELECT state FROM mpa.requests WHERE id = request_id
$$;

-------------------------------------------------------------------------------
-- Setup: a team of four (two approvals needed), lc_req among them; lc_out
-- in no team. lc_req owns the tables.
-------------------------------------------------------------------------------
CREATE ROLE lc_req;
CREATE ROLE lc_ann;
CREATE ROLE lc_ben;
CREATE ROLE lc_cat;
CREATE ROLE lc_out;
CREATE SCHEMA lc_schema AUTHORIZATION lc_req;
GRANT USAGE ON SCHEMA lc_schema TO PUBLIC;
SET SESSION AUTHORIZATION lc_req;
CREATE TABLE lc_schema.t1 (id int);                         -- the main path
CREATE TABLE lc_schema.t2 (id int);                         -- mpa_execute
CREATE TABLE lc_schema.t3 (id int PRIMARY KEY);             -- a failing execution
CREATE TABLE lc_schema.t3_child (id int REFERENCES lc_schema.t3);
CREATE TABLE lc_schema.t4 (id int);                         -- rejected, cancelled
CREATE TABLE lc_schema.r1 (id int);                         -- renamed after approval
CREATE TABLE lc_schema.r2 (id int);                         -- dropped and recreated
INSERT INTO lc_schema.t1 SELECT generate_series(1, 3);
INSERT INTO lc_schema.t2 SELECT generate_series(1, 3);
INSERT INTO lc_schema.t3 SELECT generate_series(1, 3);
INSERT INTO lc_schema.t3_child VALUES (1);
INSERT INTO lc_schema.t4 SELECT generate_series(1, 3);
RESET SESSION AUTHORIZATION;

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'lc-team') THEN
    PERFORM mpa_team_create('lc-team', 2, 'lifecycle: two of four');
  END IF;
  PERFORM mpa_approver_add('lc-team', r::regrole, r || '@lc.example.test')
     FROM unnest(ARRAY['lc_req', 'lc_ann', 'lc_ben', 'lc_cat']) AS r;
  PERFORM mpa_protect('TRUNCATE TABLE', 'lc_schema.*', 'lc-team');
  PERFORM mpa_protect('DROP TABLE', 'lc_schema.r1', 'lc-team');
  PERFORM mpa_protect('ALTER TABLE', 'lc_schema.r2', 'lc-team');
END $$;

-------------------------------------------------------------------------------
-- Request, votes, approval, execution by re-running the statement.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION lc_req;
SELECT mpa_request('TRUNCATE TABLE lc_schema.t1', 'lifecycle: the main path (LC-1)') AS a \gset
-- The id returned is the request just made: that statement, justification,
-- target (by OID), team and threshold, by this requester, pending.
SELECT is((SELECT format('%s | %s | %s %s %s | %s/%s | %s | %s', statement, justification, operation, object,
                         CASE WHEN target_oids = ARRAY['lc_schema.t1'::regclass::oid] THEN '(its OID)' END,
                         team, threshold, requester, state)
             FROM mpa.requests WHERE id = :a),
          'TRUNCATE TABLE lc_schema.t1 | lifecycle: the main path (LC-1) | TRUNCATE TABLE lc_schema.t1 (its OID) | lc-team/2 | lc_req | pending',
          'the requester gets the id of the request');
SELECT ok(NOT EXISTS (SELECT FROM mpa.pending WHERE id = :a), 'the requester does not see it in mpa.pending');
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :a, 'approve'), 'MP003',
                 'you cannot vote on your own request', 'the requester cannot vote on it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION lc_out;
SELECT ok(NOT EXISTS (SELECT FROM mpa.pending WHERE id = :a), 'a role in no team does not see it');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION lc_ann;
SELECT ok(EXISTS (SELECT FROM mpa.pending WHERE id = :a AND approvals = 0 AND threshold = 2),
          'an approver sees it in mpa.pending');
RESET SESSION AUTHORIZATION;

-- The request mail: to every approver but the requester.
CREATE TEMP TABLE lc_request_mail AS
  SELECT r AS approver, m.* FROM unnest(ARRAY['lc_ann', 'lc_ben', 'lc_cat']) AS r,
         pg_temp.wait_mail(r || '@lc.example.test', '%approval requested: %(#' || :a || ')') AS m;
SELECT is((SELECT count(*) FROM lc_request_mail), 3::bigint, 'each approver got the request mail');
SELECT is((SELECT subject FROM lc_request_mail WHERE approver = 'lc_ann'),
          format('[pg_mpa] approval requested: TRUNCATE TABLE on lc_schema.t1 (#%s)', :a),
          'its subject names operation, object and request');
SELECT ok((SELECT body LIKE E'%Statement:\n\nTRUNCATE TABLE lc_schema.t1\n%' FROM lc_request_mail WHERE approver = 'lc_ann'),
          'it shows the statement');
SELECT ok((SELECT body LIKE E'%Justification:\n\nlifecycle: the main path (LC-1)\n%' FROM lc_request_mail WHERE approver = 'lc_ann'),
          'it shows the justification');
SELECT ok((SELECT body LIKE E'%Requested by:  lc_req\n%' FROM lc_request_mail WHERE approver = 'lc_ann'),
          'it names the requester');
SELECT ok((SELECT body LIKE '%Expires:       '
                  || (SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') FROM mpa.requests WHERE id = :a)
                  || E'\n%' FROM lc_request_mail WHERE approver = 'lc_ann'),
          'it shows when the request expires');
SELECT ok((SELECT body LIKE format('%%SELECT mpa_vote(%s, ''approve'');%%SELECT mpa_vote(%s, ''reject'');%%SELECT mpa_verify(%s, ''<code>'');%%', :a, :a, :a)
             FROM lc_request_mail WHERE approver = 'lc_ann'),
          'it says how to vote and confirm');
SELECT is((SELECT count(*) FROM pg_temp.inbox('lc_req@lc.example.test') m
            WHERE m.subject LIKE '%approval requested: %(#' || :a || ')'), 0::bigint,
          'the requester, an approver of the team too, got no request mail');

-- First approval: still pending.
SET SESSION AUTHORIZATION lc_ann;
SELECT matches(mpa_vote(:a, 'approve'), '^a code to approve request ' || :a || ' was sent to l\*\*\*@l\*\*\*\.test; it is valid until ',
               'lc_ann votes: a code is mailed');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('lc_ann@lc.example.test', :a) AS code \gset
SELECT matches(:'code'::text, '^[0-9]{6}$', 'the code mail arrives with six digits');
SET SESSION AUTHORIZATION lc_ann;
SELECT is(mpa_verify(:a, :'code'),
          format('vote recorded: approve request %s (1 of 2 approvals); the request is pending', :a),
          'lc_ann confirms with the code: 1 of 2');
SELECT is(pg_temp.state(:a), 'pending', 'one approval of two: still pending');
SELECT ok(NOT EXISTS (SELECT FROM mpa.pending WHERE id = :a), 'who has voted no longer sees it in mpa.pending');
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :a, 'approve'), 'MP003',
                 format('you have already voted on request %s', :a), 'an approver votes once');
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :a, 'reject'), 'MP003',
                 format('you have already voted on request %s', :a), 'and cannot change sides');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION lc_ben;
SELECT ok(EXISTS (SELECT FROM mpa.pending WHERE id = :a AND approvals = 1), 'lc_ben still sees it, with one approval');
SELECT matches(mpa_vote(:a, 'approve'), '^a code to approve request ', 'lc_ben votes');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.next_code('lc_ben@lc.example.test', :a) AS code \gset
SET SESSION AUTHORIZATION lc_ben;
SELECT is(mpa_verify(:a, :'code'),
          format('vote recorded: approve request %s (2 of 2 approvals); the request is approved', :a),
          'lc_ben confirms: 2 of 2, approved');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.state(:a), 'approved', 'the request is approved');
SELECT is((SELECT count(*) FROM mpa.votes WHERE request_id = :a AND decision = 'approve'), 2::bigint,
          'two approvals are recorded');

-- Decision mails.
SELECT isnt((SELECT subject FROM pg_temp.wait_mail(r || '@lc.example.test', '%request #' || :a || ' approved:%')), NULL,
            'the approval is mailed to ' || r)
  FROM unnest(ARRAY['lc_ann', 'lc_ben', 'lc_cat', 'lc_req']) AS r;

-- Voting after the decision.
SET SESSION AUTHORIZATION lc_cat;
SELECT ok(NOT EXISTS (SELECT FROM mpa.pending WHERE id = :a), 'a decided request leaves mpa.pending');
SELECT throws_ok(format('SELECT mpa_vote(%s, %L)', :a, 'reject'), 'MP004',
                 format('request %s is approved, not open for votes', :a), 'no vote after the decision');
RESET SESSION AUTHORIZATION;

-- The requester re-runs the identical statement, written differently: it
-- runs once, and the request is executed.
SET SESSION AUTHORIZATION lc_ann;
SELECT throws_ok('TRUNCATE TABLE lc_schema.t1', 'MP001', NULL, 'the approval is the requester''s, not an approver''s');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION lc_req;
SELECT throws_ok('TRUNCATE TABLE lc_schema.t1 RESTART IDENTITY', 'MP001', NULL, 'another statement is still refused');
SELECT lives_ok(E'truncate   table\n  LC_SCHEMA.t1 -- approved\n', 'the identical statement, spelt differently, runs');
SELECT is((SELECT count(*) FROM lc_schema.t1), 0::bigint, 'it did run');
SELECT is(pg_temp.state(:a), 'executed', 'the request is executed');
SELECT ok((SELECT executed_at IS NOT NULL FROM mpa.requests WHERE id = :a), 'with its time');
INSERT INTO lc_schema.t1 VALUES (1);
SELECT throws_ok('TRUNCATE TABLE lc_schema.t1', 'MP001', NULL, 'once: running it again is refused');
SELECT is((SELECT count(*) FROM lc_schema.t1), 1::bigint, 'and changes nothing');
SELECT throws_ok(format('SELECT mpa_execute(%s)', :a), 'MP004',
                 format('request %s is executed, not approved', :a), 'nor can mpa_execute run it');
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Rejection: 2 of 3 eligible approvers must approve; two rejections make
-- that impossible.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION lc_req;
SELECT mpa_request('TRUNCATE TABLE lc_schema.t4', 'lifecycle: to be rejected') AS b \gset
RESET SESSION AUTHORIZATION;
SELECT ok(pg_temp.vote_as('lc_ann', :b, 'reject') LIKE 'a code to reject request%', 'lc_ann votes to reject');
SELECT is(pg_temp.verify_as('lc_ann', :b),
          format('vote recorded: reject request %s (0 of 2 approvals); the request is pending', :b),
          'one rejection: two approvals are still possible');
SELECT ok(pg_temp.vote_as('lc_ben', :b, 'reject') LIKE 'a code to reject request%', 'lc_ben votes to reject');
SELECT is(pg_temp.verify_as('lc_ben', :b),
          format('vote recorded: reject request %s (0 of 2 approvals); the request is rejected', :b),
          'two rejections: the threshold can no longer be reached');
SELECT is(pg_temp.state(:b), 'rejected', 'the request is rejected');
SELECT ok((SELECT body LIKE '%can no longer be reached%'
             FROM pg_temp.wait_mail('lc_cat@lc.example.test', '%request #' || :b || ' rejected:%')),
          'the rejection is mailed to the approver who did not vote');
SELECT isnt((SELECT subject FROM pg_temp.wait_mail('lc_req@lc.example.test', '%request #' || :b || ' rejected:%')), NULL,
            'and to the requester');
SELECT throws_ok(format('SELECT pg_temp.vote_as(%L, %s, %L)', 'lc_cat', :b, 'approve'), 'MP004',
                 format('request %s is rejected, not open for votes', :b), 'no vote after a rejection');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'lc_req', format('SELECT mpa_execute(%s)', :b)), 'MP004',
                 format('request %s is rejected, not approved', :b), 'a rejected request cannot be executed');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'lc_req', 'TRUNCATE TABLE lc_schema.t4'), 'MP001', NULL,
                 'and its statement is still refused');

-------------------------------------------------------------------------------
-- Cancel: only by the requester.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION lc_req;
SELECT mpa_request('TRUNCATE TABLE lc_schema.t4', 'lifecycle: to be cancelled') AS c \gset
RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'lc_ann', format('SELECT mpa_cancel(%s)', :c)), 'MP003',
                 format('only the requester (lc_req) may cancel request %s', :c), 'an approver cannot cancel it');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'lc_out', format('SELECT mpa_cancel(%s)', :c)), 'MP003',
                 format('only the requester (lc_req) may cancel request %s', :c), 'nor can anyone else');
SELECT is(pg_temp.state(:c), 'pending', 'it is still pending');
SELECT ok(pg_temp.vote_as('lc_ann', :c, 'approve') LIKE 'a code to approve request%', 'lc_ann asks for a code');
SELECT pg_temp.next_code('lc_ann@lc.example.test', :c) AS c_code \gset
SET SESSION AUTHORIZATION lc_req;
SELECT lives_ok(format('SELECT mpa_cancel(%s)', :c), 'the requester cancels it');
SELECT is(pg_temp.state(:c), 'cancelled', 'the request is cancelled');
SELECT throws_ok(format('SELECT mpa_cancel(%s)', :c), 'MP004', format('request %s is already cancelled', :c),
                 'cancelling twice says so');
RESET SESSION AUTHORIZATION;
SELECT isnt((SELECT subject FROM pg_temp.wait_mail('lc_ben@lc.example.test', '%request #' || :c || ' cancelled:%')), NULL,
            'the cancellation is mailed to the team');
SELECT throws_ok(format('SELECT pg_temp.as_role(%L, %L)', 'lc_ann', format('SELECT mpa_verify(%s, %L)', :c, :'c_code')),
                 'MP004', format('request %s is cancelled, not open for votes', :c),
                 'a code mailed before the cancellation no longer counts');
SELECT throws_ok(format('SELECT pg_temp.vote_as(%L, %s, %L)', 'lc_ben', :c, 'approve'), 'MP004',
                 format('request %s is cancelled, not open for votes', :c), 'no vote after a cancellation');
SELECT is(pg_temp.as_role('lc_ben', format('SELECT count(*) FROM mpa.pending WHERE id = %s', :c)), '0',
          'a cancelled request leaves mpa.pending');
SELECT is((SELECT count(*) FROM mpa.votes WHERE request_id = :c), 0::bigint, 'no vote was recorded');

-------------------------------------------------------------------------------
-- mpa_execute: once; a ROLLBACK leaves the approval unspent.
-------------------------------------------------------------------------------
SET SESSION AUTHORIZATION lc_req;
SELECT mpa_request('TRUNCATE TABLE lc_schema.t2', 'lifecycle: mpa_execute') AS e \gset
SELECT mpa_request('TRUNCATE TABLE lc_schema.t3', 'lifecycle: a failing execution') AS f \gset
SELECT mpa_request('DROP TABLE lc_schema.r1', 'lifecycle: renamed after approval') AS g \gset
SELECT mpa_request('ALTER TABLE lc_schema.r2 ADD COLUMN extra int', 'lifecycle: recreated after approval') AS h \gset
RESET SESSION AUTHORIZATION;
SELECT ok(pg_temp.vote_as('lc_ann', r, 'approve') LIKE 'a code to approve%'
          AND pg_temp.vote_as('lc_cat', r, 'approve') LIKE 'a code to approve%', 'votes on request ' || n)
  FROM (VALUES ('e', :e), ('f', :f), ('g', :g), ('h', :h)) AS v(n, r);
SELECT is(pg_temp.verify_as('lc_ann', r) || ' / ' || pg_temp.verify_as('lc_cat', r),
          format('vote recorded: approve request %s (1 of 2 approvals); the request is pending / '
                 'vote recorded: approve request %s (2 of 2 approvals); the request is approved', r, r),
          'request ' || n || ' is approved')
  FROM (VALUES ('e', :e), ('f', :f), ('g', :g), ('h', :h)) AS v(n, r);

SET SESSION AUTHORIZATION lc_req;
BEGIN;
SELECT mpa_execute(:e) \gset lc_ignored_
SELECT count(*) AS inside FROM lc_schema.t2 \gset
ROLLBACK;
SELECT is(:inside::bigint, 0::bigint, 'mpa_execute runs the statement');
SELECT is(pg_temp.state(:e), 'approved', 'a ROLLBACK after mpa_execute leaves the request approved');
SELECT is((SELECT count(*) FROM lc_schema.t2), 3::bigint, 'and the table as it was');
BEGIN;
TRUNCATE TABLE lc_schema.t2;
ROLLBACK;
SELECT is(pg_temp.state(:e), 'approved', 'so does a ROLLBACK after re-running the statement');
SELECT lives_ok(format('SELECT mpa_execute(%s)', :e), 'mpa_execute runs it');
SELECT is(pg_temp.state(:e), 'executed', 'the request is executed');
SELECT is((SELECT count(*) FROM lc_schema.t2), 0::bigint, 'the statement ran');
INSERT INTO lc_schema.t2 VALUES (1);
SELECT throws_ok(format('SELECT mpa_execute(%s)', :e), 'MP004', format('request %s is executed, not approved', :e),
                 'a second mpa_execute is refused');
SELECT throws_ok('TRUNCATE TABLE lc_schema.t2', 'MP001', NULL, 'and so is the statement');
SELECT is((SELECT count(*) FROM lc_schema.t2), 1::bigint, 'nothing ran twice');
RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT mpa_execute(%s)', :f), 'MP003',
                 format('only the requester (lc_req) may execute request %s', :f), 'only the requester executes');

-- A statement that fails leaves the approval unspent.
SET SESSION AUTHORIZATION lc_req;
SELECT throws_ok(format('SELECT mpa_execute(%s)', :f), '0A000', NULL,
                 'mpa_execute fails with the statement''s own error');
SELECT is(pg_temp.state(:f), 'approved', 'the request stays approved');
SELECT throws_ok('TRUNCATE TABLE lc_schema.t3', '0A000', NULL, 're-running the statement fails the same way');
SELECT is(pg_temp.state(:f), 'approved', 'and the request stays approved');
ALTER TABLE lc_schema.t3_child DROP CONSTRAINT t3_child_id_fkey;
SELECT lives_ok(format('SELECT mpa_execute(%s)', :f), 'once the cause is gone, it runs');
SELECT is(pg_temp.state(:f), 'executed', 'and the request is executed');

-- An object renamed after the approval: another object now has its name.
-- Renaming a protected table is itself protected, so a superuser lifts the
-- policy for the rename and puts it back.
SELECT throws_ok('ALTER TABLE lc_schema.r1 RENAME TO r1_old', 'MP001', NULL,
                 'a protected table cannot be renamed out of its policy');
RESET SESSION AUTHORIZATION;
SELECT mpa_unprotect('DROP TABLE', 'lc_schema.r1') \g /dev/null
ALTER TABLE lc_schema.r1 RENAME TO r1_old;
CREATE TABLE lc_schema.r1 (id int);
SELECT mpa_protect('DROP TABLE', 'lc_schema.r1', 'lc-team') \g /dev/null
SET SESSION AUTHORIZATION lc_req;
SELECT throws_ok('DROP TABLE lc_schema.r1', 'MP001', NULL,
                 'renamed: the same text now names another table, and is refused');
SELECT throws_ok(format('SELECT mpa_execute(%s)', :g), 'MP001', NULL, 'mpa_execute is refused too');
SELECT is(pg_temp.state(:g), 'approved', 'the approval is not spent');
SELECT ok(to_regclass('lc_schema.r1') IS NOT NULL AND to_regclass('lc_schema.r1_old') IS NOT NULL, 'both tables are there');

-- An object dropped and recreated with the same name after the approval.
DROP TABLE lc_schema.r2;
CREATE TABLE lc_schema.r2 (id int);
SELECT throws_ok('ALTER TABLE lc_schema.r2 ADD COLUMN extra int', 'MP001', NULL,
                 'recreated: the statement is refused');
SELECT throws_ok(format('SELECT mpa_execute(%s)', :h), 'MP001', NULL, 'mpa_execute is refused too');
SELECT is(pg_temp.state(:h), 'approved', 'the approval is not spent');
SELECT hasnt_column('lc_schema', 'r2', 'extra', 'the new table is unchanged');
RESET SESSION AUTHORIZATION;

-------------------------------------------------------------------------------
-- Cleanup.
-------------------------------------------------------------------------------
\o /dev/null
SELECT pg_temp.as_role('lc_req', format('SELECT mpa_cancel(%s)', id))
  FROM mpa.requests WHERE team = 'lc-team' AND state IN ('pending', 'approved')
   AND requester = 'lc_req'::regrole;
SELECT mpa_unprotect(operation, object) FROM mpa.policies WHERE team = 'lc-team';
SELECT mpa_approver_remove(team, approver) FROM mpa.approvers WHERE team = 'lc-team';
SET client_min_messages = warning;
DROP SCHEMA lc_schema CASCADE;
DROP ROLE lc_req, lc_ann, lc_ben, lc_cat, lc_out;
\o

SELECT * FROM finish();
