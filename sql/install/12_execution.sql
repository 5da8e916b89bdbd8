-- Execution: the approved statement run once, as its requester.

-- Runs the approved statement, once, as the requester (nothing here is
-- SECURITY DEFINER: the statement runs with the caller's own privileges,
-- and with the search_path the caller has now, as if typed). The gate
-- recognises it and spends the approval in this transaction.
CREATE OR REPLACE FUNCTION mpa_execute(request_id bigint) RETURNS void
LANGUAGE sql AS $$
  SELECT mpa.execute_request(request_id, pg_catalog.current_setting('search_path'))
$$;

CREATE OR REPLACE FUNCTION mpa.run_approved_statement(statement text, search_path text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_run_approved_statement';

CREATE OR REPLACE FUNCTION mpa.execute_request(request_id bigint, caller_search_path text) RETURNS void
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
  ELSIF r.database_oid IS NOT NULL THEN
    -- Its targets are another database's objects: run here, the statement
    -- would name this database's (docs/decisions.md, "Every database").
    RAISE EXCEPTION 'request % is for database "%": mpa_execute cannot run it from here yet', r.id, r.database
      USING ERRCODE = '0A000',
      DETAIL = 'Running an approved statement in another database is not built yet (#19).';
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

