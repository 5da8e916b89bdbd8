-- In mpa.database: the team, the policies for mpa_other and the approved
-- requests the specs in specs/ spend (see README.md). ods_req requests,
-- ods_a1 approves with the code mailed to it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.teams WHERE name = 'ods team') THEN
    PERFORM mpa_team_create('ods team', 1, 'other_database_spend.spec');
  END IF;
  IF NOT EXISTS (SELECT FROM mpa.approvers WHERE team = 'ods team' AND approver::text = 'ods_a1') THEN
    PERFORM mpa_approver_add('ods team', 'ods_a1', 'ods-a1@example.com');
  END IF;
END $$;
SELECT mpa_protect('TRUNCATE TABLE', 'public.t_commit', 'ods team', database => 'mpa_other');
SELECT mpa_protect('TRUNCATE TABLE', 'public.t_rollback', 'ods team', database => 'mpa_other');

-- The policies reach mpa_other when the worker publishes them, a moment
-- after their commit; until then the request there is refused as not
-- protected (MP002): asked again, for up to 30 s.
CREATE FUNCTION pg_temp.request_once_published(statement text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..300 LOOP
    BEGIN
      RETURN mpa_request(statement, 'other_database_spend.spec', database => 'mpa_other');
    EXCEPTION WHEN SQLSTATE 'MP002' THEN
      PERFORM pg_sleep(0.1);
    END;
  END LOOP;
  RAISE EXCEPTION 'the policy for % never reached mpa_other', statement;
END $$;

SET SESSION AUTHORIZATION ods_req;
SELECT pg_temp.request_once_published('TRUNCATE public.t_commit') AS commit_id \gset
SELECT pg_temp.request_once_published('TRUNCATE public.t_rollback') AS rollback_id \gset
SET SESSION AUTHORIZATION ods_a1;
SELECT mpa_vote(:commit_id, 'approve') IS NOT NULL AS asked;
SELECT mpa_vote(:rollback_id, 'approve') IS NOT NULL AS asked;
SELECT mpa_verify(:commit_id, mpa_test.code('ods-a1@example.com', '%your code%request #' || :commit_id));
SELECT mpa_verify(:rollback_id, mpa_test.code('ods-a1@example.com', '%your code%request #' || :rollback_id));
RESET SESSION AUTHORIZATION;
SELECT count(*) = 2 AS both_approved FROM mpa.requests WHERE id IN (:commit_id, :rollback_id) AND state = 'approved' \gset
\if :both_approved
\else
  \warn 'the requests of other_database_spend.spec were not approved'
  SELECT 1/0;
\endif
