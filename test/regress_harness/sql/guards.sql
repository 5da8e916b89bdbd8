-- The two guards of the C++/PostgreSQL boundary, through the test probe
-- (test/probe): a C++ exception becomes an ERROR after the C++ objects on the
-- stack were destroyed, and a PostgreSQL error becomes a C++ exception with
-- its SQLSTATE and message, with destructors run. After each error the
-- session goes on.
\set VERBOSITY default
CREATE TEMP TABLE runs AS SELECT mpa_probe_destructor_runs() AS before;
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- C++ -> PostgreSQL: the exception's SQLSTATE, message, detail and hint survive.
SELECT mpa_probe_throw('22023');
DO $$
DECLARE state text; msg text; det text; hnt text;
BEGIN
  PERFORM mpa_probe_throw('MP001');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
  RAISE NOTICE 'sqlstate=% message=% detail=% hint=%', state, msg, det, hnt;
END $$;
-- A malformed SQLSTATE from C++ is reported as an internal error.
SELECT pg_temp.sqlstate_of($$SELECT mpa_probe_throw('nope')$$);
-- Exceptions that are not pg_mpa's own are caught too.
SELECT mpa_probe_throw_std();
SELECT pg_temp.sqlstate_of($$SELECT mpa_probe_throw_std()$$);
SELECT mpa_probe_destructor_runs() - before AS destructors_after_cpp_errors FROM runs;

-- PostgreSQL -> C++: int4in's error caught in C++ with its SQLSTATE ...
SELECT mpa_probe_postgres_error('12', false);
SELECT mpa_probe_postgres_error('twelve', true);
-- ... and left to travel back to PostgreSQL unchanged.
SELECT mpa_probe_postgres_error('twelve', false);
SELECT pg_temp.sqlstate_of($$SELECT mpa_probe_postgres_error('99999999999', false)$$);
-- ... with the whole report PostgreSQL made: the query SPI ran, the error's
-- position in it and its context, not only the message.
SELECT mpa_probe_spi_error('SELECT 1 +');
SELECT mpa_probe_spi_error('SELECT pg_catalog.int4in(''12x'')');
SELECT mpa_probe_destructor_runs() - before AS destructors_after_all_errors FROM runs;

-- The session is still usable, inside a transaction too.
BEGIN;
SAVEPOINT s;
SELECT mpa_probe_throw('22023');
ROLLBACK TO SAVEPOINT s;
SELECT 1 AS still_usable;
COMMIT;
