-- The installation every benchmark runs against, as in production: a team
-- of approvers, 1,000 policies on objects the benchmarks' own statements do
-- not touch, and a team governing pg_mpa itself (MPA CONFIGURE), so that
-- every hook of pg_mpa is active. Run by bench/lib.sh in mpa_bench, by a
-- superuser, before anything governs (afterwards configuration would need
-- approvals).
CREATE EXTENSION pg_mpa;
CREATE ROLE dba LOGIN SUPERUSER;      -- asks for approvals
CREATE ROLE alice LOGIN;              -- approvers
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE SCHEMA approval;               -- tables the approval loop drops
CREATE SCHEMA scale;                  -- tables the scale benchmark requests to drop

SELECT mpa_team_create('bench', 2, 'two of three approve');
SELECT mpa_approver_add('bench', 'alice', 'alice@example.com');
SELECT mpa_approver_add('bench', 'bob', 'bob@example.com');
SELECT mpa_approver_add('bench', 'carol', 'carol@example.com');

-- The object patterns of the benchmark's policies; `more` widens the two
-- longest runs, so that a database without the cluster-wide ones also gets
-- 1,000.
CREATE FUNCTION pg_temp.bench_patterns(more int) RETURNS TABLE (op text, obj text) LANGUAGE sql AS $$
            SELECT 'DROP TABLE', 'approval.*'
  UNION ALL SELECT 'DROP TABLE', 'scale.*'
  UNION ALL SELECT 'DROP TABLE', format('prod_%s.t_%s', i / 20, i % 20) FROM generate_series(0, 397 + more) i
  UNION ALL SELECT 'TRUNCATE', format('prod_%s.t_%s', i / 20, i % 20) FROM generate_series(0, 249 + more) i
  UNION ALL SELECT 'ALTER TABLE', format('prod_%s.t_%s', i / 20, i % 20) FROM generate_series(0, 199) i
  UNION ALL SELECT 'DROP INDEX', format('prod_%s.i_%s', i / 10, i % 10) FROM generate_series(0, 49) i
  UNION ALL SELECT 'DROP FUNCTION', format('prod_%s.f_%s', i / 10, i % 10) FROM generate_series(0, 49) i
  UNION ALL SELECT 'DROP VIEW', format('prod_%s.v_%s', i / 10, i % 10) FROM generate_series(0, 23) i
  UNION ALL SELECT 'DROP SCHEMA', format('prod_%s', i) FROM generate_series(0, 19) i
$$;

CREATE FUNCTION pg_temp.bench_mode(op text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN op IN ('DROP INDEX', 'DROP VIEW') THEN 'dry-run' ELSE 'enforce' END
$$;

-- 1,000 policies, as a large installation might have them. Those on DROP
-- INDEX and DROP VIEW are dry-run (issue #22): the ddl workload's DROP INDEX
-- is then judged against both ranges (enforcing, then dry-run) and named by
-- neither, the cost of statements no policy names with dry-run policies on
-- their operation.
SELECT mpa_protect(op, obj, 'bench', mode => pg_temp.bench_mode(op)) FROM (
            SELECT * FROM pg_temp.bench_patterns(0)
  UNION ALL SELECT unnest(ARRAY['ALTER SYSTEM', 'DROP DATABASE', 'DROP ROLE', 'ALTER ROLE', 'DROP TABLESPACE']), '*'
) p;
-- The same patterns, but for the objects of another database (bench/lib.sh's
-- BENCH_OTHER_DB, psql variable other_db), whose gate reads them from shared
-- memory (issue #19). Cluster-wide operations take no database: they are the
-- 5 above, which hold there already.
SELECT mpa_protect(op, obj, 'bench', database => :'other_db', mode => pg_temp.bench_mode(op))
  FROM pg_temp.bench_patterns(3);
SELECT mpa_protect('MPA CONFIGURE', '*', 'bench');   -- from here on, 'bench' governs pg_mpa

DO $$
BEGIN
  IF (SELECT count(*) FROM mpa.policies WHERE database IS NULL) <> 1000
     OR (SELECT count(*) FROM mpa.policies WHERE database IS NOT NULL) <> 1000 THEN
    RAISE EXCEPTION 'expected 1000 policies for mpa.database and 1000 for another database, found % and %',
      (SELECT count(*) FROM mpa.policies WHERE database IS NULL),
      (SELECT count(*) FROM mpa.policies WHERE database IS NOT NULL);
  END IF;
END $$;

-- A user-defined function, called once per transaction by bench/function.pgbench:
-- PL/pgSQL is never inlined, so every call goes through fmgr and pg_mpa's
-- needs_fmgr_hook.
CREATE FUNCTION public.bench_balance(account int) RETURNS int
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT abalance FROM pgbench_accounts WHERE aid = account);
END $$;
