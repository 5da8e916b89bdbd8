-- The database of the specs in specs/ (see README.md): roles, the tables
-- the approvals are spent on, and try().
DO $$
DECLARE r text;
BEGIN
  -- LOGIN: pg_mpa's task workers connect as the requester.
  FOREACH r IN ARRAY ARRAY['ods_req', 'ods_a1'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    END IF;
  END LOOP;
END $$;

-- One table per permutation of other_database_spend.spec: each spends its
-- own approval.
CREATE TABLE public.t_commit (i int);
CREATE TABLE public.t_rollback (i int);
INSERT INTO public.t_commit VALUES (1);
INSERT INTO public.t_rollback VALUES (1);
ALTER TABLE public.t_commit OWNER TO ods_req;
ALTER TABLE public.t_rollback OWNER TO ods_req;

-- Runs `statement` and shows 'done' or its error with the SQLSTATE.
CREATE FUNCTION public.try(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'done';
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
