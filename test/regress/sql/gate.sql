-- The gate: a protected statement is refused with an ERROR of SQLSTATE MP001,
-- a message naming the operation, the object and the team, and a HINT with
-- the mpa_request(...) call to make. The most specific policy decides the
-- team. Unprotected statements and objects pass untouched. The gate holds
-- wherever the statement comes from: the prompt, a function, a DO block, a
-- procedure, dynamic SQL.
--
-- Shares its database with other tests: roles gt_*, teams gt-*, schemas
-- gt_prod and gt_free and addresses @gt.example.test are this file's own.
-- Policies name only these objects, and one operation no other test uses
-- ('DROP TEXT SEARCH DICTIONARY') is protected on '*' to show that level.

-- Runs a statement; returns what it raised (nothing if it ran).
CREATE FUNCTION pg_temp.gate(statement text, OUT state text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END $$;

-------------------------------------------------------------------------------
-- Setup.
-------------------------------------------------------------------------------
CREATE ROLE gt_alice;
CREATE ROLE gt_bob;
CREATE ROLE gt_carol;
CREATE ROLE gt_target;   -- ALTER ROLE protected
CREATE ROLE gt_other;    -- not protected
CREATE SCHEMA gt_prod;
CREATE SCHEMA gt_free;
CREATE TABLE gt_prod.plain (id int);
INSERT INTO gt_prod.plain VALUES (1), (2);
CREATE TABLE gt_prod.special (id int);
CREATE TABLE gt_prod.truncated (id int);
INSERT INTO gt_prod.truncated VALUES (1);
CREATE TABLE gt_prod.truncated2 (id int);
INSERT INTO gt_prod.truncated2 VALUES (1);
CREATE TABLE gt_prod.renamable (id int);
CREATE TABLE gt_free.a (id int);
INSERT INTO gt_free.a VALUES (1);
CREATE TEXT SEARCH DICTIONARY gt_free.dict (TEMPLATE = simple);
CREATE TEXT SEARCH DICTIONARY gt_prod.dict (TEMPLATE = simple);
CREATE TEXT SEARCH DICTIONARY gt_prod.special_dict (TEMPLATE = simple);

-- Teams cannot be dropped: a second run in the same database reuses them.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'gt-wide') THEN
    PERFORM mpa_team_create('gt-wide', 1, 'gate: schema-wide and everything');
    PERFORM mpa_team_create('gt-narrow', 1, 'gate: single objects');
    PERFORM mpa_team_create('gt-third', 1, 'gate: one dictionary');
  END IF;
END $$;
SELECT mpa_approver_add('gt-wide', 'gt_alice', 'gt_alice@gt.example.test'),
       mpa_approver_add('gt-wide', 'gt_bob', 'gt_bob@gt.example.test'),
       mpa_approver_add('gt-narrow', 'gt_bob', 'gt_bob@gt.example.test'),
       mpa_approver_add('gt-narrow', 'gt_carol', 'gt_carol@gt.example.test'),
       mpa_approver_add('gt-third', 'gt_carol', 'gt_carol@gt.example.test'),
       mpa_approver_add('gt-third', 'gt_alice', 'gt_alice@gt.example.test');
SELECT mpa_protect('DROP TABLE', 'gt_prod.*', 'gt-wide'),
       mpa_protect('DROP TABLE', 'gt_prod.special', 'gt-narrow'),
       mpa_protect('TRUNCATE', 'gt_prod.truncated', 'gt-wide'),
       mpa_protect('TRUNCATE TABLE', 'gt_prod.truncated2', 'gt-wide'),
       mpa_protect('ALTER TABLE', 'gt_prod.renamable', 'gt-narrow'),
       mpa_protect('ALTER ROLE', 'gt_target', 'gt-narrow'),
       mpa_protect('DROP TEXT SEARCH DICTIONARY', '*', 'gt-wide'),
       mpa_protect('DROP TEXT SEARCH DICTIONARY', 'gt_prod.*', 'gt-narrow'),
       mpa_protect('DROP TEXT SEARCH DICTIONARY', 'gt_prod.special_dict', 'gt-third');
CREATE TEMP TABLE gt_requests_before AS SELECT count(*) AS n FROM mpa.requests;

-------------------------------------------------------------------------------
-- At the prompt: an ERROR with a DETAIL and a HINT that shows the request.
-------------------------------------------------------------------------------
DROP TABLE gt_prod.plain;
-- Only the refused statement's own text is in the hint, not its neighbours
-- in the same query string (and the implicit transaction rolls back both).
CREATE TABLE gt_free.neighbour (id int) \; DROP TABLE gt_prod.plain;
SELECT to_regclass('gt_free.neighbour') AS neighbour, to_regclass('gt_prod.plain') AS plain;

-- SQLSTATE MP001, message and hint, as a client sees them.
SELECT * FROM pg_temp.gate('DROP TABLE gt_prod.plain');

-------------------------------------------------------------------------------
-- The most specific policy decides the team.
-------------------------------------------------------------------------------
SELECT statement, g.state, g.message
  FROM (VALUES
    ('DROP TABLE gt_prod.special'),                        -- exact: gt-narrow
    ('DROP TABLE gt_prod.plain'),                          -- gt_prod.*: gt-wide
    ('DROP TEXT SEARCH DICTIONARY gt_prod.special_dict'),  -- exact: gt-third
    ('DROP TEXT SEARCH DICTIONARY gt_prod.dict'),          -- gt_prod.*: gt-narrow
    ('DROP TEXT SEARCH DICTIONARY gt_free.dict')           -- *: gt-wide
  ) AS s(statement), pg_temp.gate(statement) AS g;

-- However the name is written: quoted, upper case, through search_path.
SELECT statement, g.state, g.message
  FROM (VALUES
    ('DROP TABLE "gt_prod"."plain"'),
    ('drop table GT_PROD.PLAIN'),
    ('DROP TABLE IF EXISTS gt_prod.plain'),
    ('DROP TABLE gt_prod.plain CASCADE')
  ) AS s(statement), pg_temp.gate(statement) AS g;
SET search_path = gt_prod, public;
SELECT * FROM pg_temp.gate('DROP TABLE plain');
RESET search_path;

-------------------------------------------------------------------------------
-- Several objects: one protected object is enough to refuse the statement.
-------------------------------------------------------------------------------
SELECT * FROM pg_temp.gate('DROP TABLE gt_free.a, gt_prod.plain');
SELECT to_regclass('gt_free.a') AS a, to_regclass('gt_prod.plain') AS plain;
-- Two objects of two teams (gt_prod.* is gt-wide's, gt_prod.special
-- gt-narrow's): no single team can approve it, so it is refused with the
-- two teams named and a hint to split it (not judged by whichever team
-- comes first), and nothing is dropped.
SELECT * FROM pg_temp.gate('DROP TABLE gt_prod.plain, gt_prod.special');
SELECT to_regclass('gt_prod.plain') AS plain, to_regclass('gt_prod.special') AS special;

-------------------------------------------------------------------------------
-- TRUNCATE of a protected table ('TRUNCATE' as the docs write it, and the
-- command tag 'TRUNCATE TABLE').
-------------------------------------------------------------------------------
SELECT state, message LIKE 'TRUNCATE% on gt_prod.truncated requires the approval of team "gt-wide"' AS message_ok,
       hint = 'Ask for approval with: SELECT mpa_request(''TRUNCATE gt_prod.truncated'', ''why this is needed'');' AS hint_ok
  FROM pg_temp.gate('TRUNCATE gt_prod.truncated');
SELECT state, message LIKE 'TRUNCATE% on gt_prod.truncated2 requires the approval of team "gt-wide"' AS message_ok
  FROM pg_temp.gate('TRUNCATE TABLE gt_prod.truncated2');
SELECT state, message LIKE 'TRUNCATE% on gt_prod.truncated2 requires the approval of team "gt-wide"' AS message_ok
  FROM pg_temp.gate('TRUNCATE gt_free.a, gt_prod.truncated2');
SELECT (SELECT count(*) FROM gt_prod.truncated) AS truncated_rows,
       (SELECT count(*) FROM gt_prod.truncated2) AS truncated2_rows,
       (SELECT count(*) FROM gt_free.a) AS a_rows;

-------------------------------------------------------------------------------
-- ALTER TABLE of a protected table: RENAME, RENAME COLUMN, SET SCHEMA, ADD.
-------------------------------------------------------------------------------
SELECT statement, g.state, g.message
  FROM (VALUES
    ('ALTER TABLE gt_prod.renamable RENAME TO renamed'),
    ('ALTER TABLE gt_prod.renamable RENAME COLUMN id TO ident'),
    ('ALTER TABLE gt_prod.renamable SET SCHEMA gt_free'),
    ('ALTER TABLE gt_prod.renamable ADD COLUMN extra int'),
    ('ALTER TABLE IF EXISTS gt_prod.renamable OWNER TO gt_other')
  ) AS s(statement), pg_temp.gate(statement) AS g;
SELECT to_regclass('gt_prod.renamable') AS renamable, to_regclass('gt_free.renamable') AS moved,
       (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'gt_prod.renamable'::regclass AND attnum > 0) AS columns,
       (SELECT relowner::regrole FROM pg_class WHERE oid = 'gt_prod.renamable'::regclass) AS owner;

-------------------------------------------------------------------------------
-- ALTER ROLE of a protected role: the object is the bare role name.
-------------------------------------------------------------------------------
ALTER ROLE gt_target NOLOGIN;
SELECT statement, g.state, g.message
  FROM (VALUES
    ('ALTER ROLE gt_target CONNECTION LIMIT 3'),
    ('ALTER USER gt_target CONNECTION LIMIT 3'),
    ('ALTER ROLE gt_target SET work_mem = ''2MB'''),
    ('ALTER ROLE gt_target IN DATABASE mpa_test SET work_mem = ''2MB'''),
    ('ALTER ROLE gt_target RENAME TO gt_renamed'),
    ('ALTER ROLE "gt_target" VALID UNTIL ''infinity''')
  ) AS s(statement), pg_temp.gate(statement) AS g;
-- The hint is a call that works: run it, and the request holds the statement.
SELECT hint FROM pg_temp.gate('ALTER ROLE gt_target SET search_path = ''gt_prod''') \gset
SELECT :'hint';
SELECT regexp_replace(:'hint', '^Ask for approval with: (.*);$', '\1') AS hinted_call \gset
:hinted_call \gset hinted_
SELECT statement, justification, operation, object, team, state, requester
  FROM mpa.requests WHERE id = :hinted_mpa_request;
SELECT mpa_cancel(:hinted_mpa_request);
-- The role's own session naming itself as CURRENT_USER or SESSION_USER
-- changes the same role: refused too.
SET SESSION AUTHORIZATION gt_target;
SELECT statement, g.state, g.message
  FROM (VALUES
    ('ALTER ROLE CURRENT_USER SET work_mem = ''2MB'''),
    ('ALTER ROLE SESSION_USER SET work_mem = ''2MB'''),
    ('ALTER USER CURRENT_USER SET work_mem = ''2MB''')
  ) AS s(statement), pg_temp.gate(statement) AS g;
RESET SESSION AUTHORIZATION;
SELECT rolname, rolcanlogin, rolconnlimit, rolvaliduntil
  FROM pg_roles WHERE rolname IN ('gt_target', 'gt_renamed') ORDER BY rolname;
SELECT count(*) AS gt_target_settings FROM pg_db_role_setting WHERE setrole = 'gt_target'::regrole;
-- Other roles are not protected.
ALTER ROLE gt_other CONNECTION LIMIT 4;
ALTER ROLE gt_other RESET ALL;
SELECT rolconnlimit FROM pg_roles WHERE rolname = 'gt_other';

-------------------------------------------------------------------------------
-- Wherever the statement comes from.
-------------------------------------------------------------------------------
CREATE FUNCTION gt_free.drop_static() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE gt_prod.plain;
END $$;
CREATE FUNCTION gt_free.drop_dynamic(target text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TABLE %s', target);
END $$;
CREATE FUNCTION gt_free.drop_sql() RETURNS void LANGUAGE sql AS $$
  DROP TABLE gt_prod.plain;
$$;
CREATE PROCEDURE gt_free.drop_procedure() LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE gt_prod.plain;
END $$;
CREATE FUNCTION gt_free.rename_later() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  EXECUTE 'ALTER TABLE gt_prod.renamable RENAME TO renamed';
END $$;
SELECT statement, g.state, g.message, g.hint
  FROM (VALUES
    ('SELECT gt_free.drop_static()'),
    ('SELECT gt_free.drop_dynamic(''gt_prod.plain'')'),
    ('SELECT gt_free.drop_sql()'),
    ('CALL gt_free.drop_procedure()'),
    ('DO $do$ BEGIN DROP TABLE gt_prod.plain; END $do$'),
    ('DO $do$ BEGIN EXECUTE ''DROP TABLE gt_prod.'' || ''plain''; END $do$'),
    ('SELECT gt_free.rename_later()')
  ) AS s(statement), pg_temp.gate(statement) AS g;
-- Called by an unprivileged role through a SECURITY DEFINER function: the
-- gate holds all the same.
GRANT USAGE ON SCHEMA gt_free TO gt_other;
SET SESSION AUTHORIZATION gt_other;
SELECT state, message FROM pg_temp.gate('SELECT gt_free.rename_later()');
RESET SESSION AUTHORIZATION;
SELECT to_regclass('gt_prod.plain') AS plain, to_regclass('gt_prod.renamable') AS renamable;

-------------------------------------------------------------------------------
-- With standard_conforming_strings off, '...' literals lex differently
-- (backslash escapes), so pg_mpa's fingerprint of a statement could stand
-- for another one: it refuses to judge any statement it must judge, and to
-- take requests; what it need not judge runs as usual.
-------------------------------------------------------------------------------
SET standard_conforming_strings = off;
SELECT * FROM pg_temp.gate('DROP TABLE gt_prod.plain');
SELECT * FROM pg_temp.gate($$SELECT mpa_request('DROP TABLE gt_prod.plain', 'scs off')$$);
SELECT * FROM pg_temp.gate('CREATE TABLE gt_free.scs_off (id int)');
RESET standard_conforming_strings;
SELECT to_regclass('gt_prod.plain') AS plain, to_regclass('gt_free.scs_off') AS scs_off;
DROP TABLE gt_free.scs_off;

-------------------------------------------------------------------------------
-- Unprotected statements and objects pass untouched.
-------------------------------------------------------------------------------
CREATE TABLE gt_free.b (id int);
ALTER TABLE gt_free.b ADD COLUMN name text;
ALTER TABLE gt_free.b RENAME TO c;
INSERT INTO gt_free.c VALUES (1, 'x');
TRUNCATE gt_free.c;
TRUNCATE TABLE gt_free.a;
SELECT (SELECT count(*) FROM gt_free.a) AS a_rows, (SELECT count(*) FROM gt_free.c) AS c_rows;
DROP TABLE gt_free.c;
ALTER TABLE gt_prod.plain ADD COLUMN note text;   -- ALTER TABLE protects only renamable
ALTER TABLE gt_prod.plain DROP COLUMN note;
CREATE TABLE gt_prod.scratch (id int);
DROP TABLE IF EXISTS gt_prod.does_not_exist;       -- nothing to protect
DROP TABLE IF EXISTS gt_free.does_not_exist, gt_free.a;
SELECT to_regclass('gt_free.a') AS a, to_regclass('gt_free.c') AS c;
SELECT * FROM pg_temp.gate('SELECT gt_free.drop_dynamic(''gt_free.nothing_here'')');
SELECT * FROM pg_temp.gate('ALTER TABLE gt_prod.special RENAME COLUMN id TO ident');

-- A refused statement asks for nothing by itself: the only request is the
-- one made with the hint.
SELECT count(*) - (SELECT n FROM gt_requests_before) AS requests_added FROM mpa.requests;

-------------------------------------------------------------------------------
-- Cleanup: without the policies the same statements run.
-------------------------------------------------------------------------------
SELECT count(mpa_unprotect(operation, object)) AS policies_removed
  FROM mpa.policies WHERE team LIKE 'gt-%';
SELECT count(mpa_approver_remove(team, approver)) AS approvers_removed
  FROM mpa.approvers WHERE team LIKE 'gt-%';
SELECT gt_free.drop_static();
DROP TEXT SEARCH DICTIONARY gt_free.dict;
ALTER ROLE gt_target CONNECTION LIMIT 3;
SET client_min_messages = warning;
DROP SCHEMA gt_prod, gt_free CASCADE;
RESET client_min_messages;
DROP ROLE gt_alice, gt_bob, gt_carol, gt_target, gt_other;
