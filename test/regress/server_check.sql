-- Run by `make installcheck` before its tests (Makefile, REGRESS_PREP), in
-- the server's database "postgres", with psql variable dbname set to the
-- tests' database (contrib_regression).
--
-- The tests make policies. On a server where the first policy makes its
-- team govern pg_mpa (mpa.govern_from_first_policy = on, the default) they
-- would leave their database governed: pg_mpa's home database is then one
-- of its objects, and no later run could drop it without that team's
-- approval (docs/decisions.md). So they do not start there.
\set ON_ERROR_STOP 1
DO $$
BEGIN
  IF coalesce(current_setting('mpa.govern_from_first_policy', true), '') <> 'off' THEN
    RAISE EXCEPTION 'make installcheck needs mpa.govern_from_first_policy = off on this server'
      USING DETAIL = 'Its tests make policies; with governance from the first policy they would leave '
                     'their database governed by a test team.',
            HINT = 'Give the server the settings of test/regress/server.conf '
                   '(README, "Tests against your server").';
  END IF;
END $$;
-- pg_mpa's mail worker stays connected to its home database: pg_regress's
-- own DROP DATABASE would fail on that session.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS :"dbname" WITH (FORCE);
