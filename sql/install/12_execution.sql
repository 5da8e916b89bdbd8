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
  END IF;
  IF r.operation = 'MPA CONFIGURE' THEN
    PERFORM mpa.execute_configuration(r.id);
  ELSIF r.database_oid IS NOT NULL THEN
    -- In its database, through that database's gate, which claims the
    -- approval here (docs/decisions.md, "Execution exactly once"). It has
    -- committed there when this returns; its error is raised here.
    PERFORM mpa.run_approved_statement_elsewhere(r.id, caller_search_path);
    RETURN;
  ELSE
    PERFORM mpa.run_approved_statement(r.statement, caller_search_path);
  END IF;
  IF (SELECT state FROM mpa.requests WHERE id = r.id) <> 'executed' THEN
    RAISE EXCEPTION 'request % was not executed: its objects changed since it was approved', r.id
      USING ERRCODE = 'MP004';
  END IF;
END $$;
CREATE OR REPLACE FUNCTION mpa.run_approved_statement_elsewhere(request_id bigint, search_path text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_run_approved_statement_elsewhere';
GRANT EXECUTE ON FUNCTION mpa.execute_request(bigint, text), mpa.run_approved_statement(text, text),
                          mpa.run_approved_statement_elsewhere(bigint, text) TO PUBLIC;


-- The claim of an approval for a statement about to run in another
-- database (docs/decisions.md, "Execution exactly once"), made by pg_mpa's
-- task worker in this database for that database's gate
-- (src/pg/other_databases/execution_claim.cpp), in a transaction of its
-- own that commits before the statement runs. The approved request of the
-- requester for exactly this statement in that database (by OID and name:
-- a re-created database is another one, and a renamed one is not the one
-- approvers were shown), the same targets, not expired.
-- One found executing by a transaction that has ended is resolved first
-- (mpa.end_execution) and looked at again. Answers:
--   'claimed'  request_id is now executing by transaction xid;
--   'held'     request_id is executing by holder, still in progress: the
--              caller waits for it to end and asks again;
--   'cascade changed' the statement now also removes (or empties) objects
--              the approvers were not shown: approved_* are what they were
--              shown, for the caller to describe the difference there;
--   'none'     no such approval.
CREATE OR REPLACE FUNCTION mpa.claim_execution(
    database_oid oid, database_name text, requester regrole, fingerprint text, target_classes oid[], target_oids oid[],
    cascade_classes oid[], cascade_oids oid[], xid xid8,
    OUT outcome text, OUT request_id bigint, OUT holder xid8,
    OUT approved_classes oid[], OUT approved_oids oid[], OUT approved_descriptions text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  LOOP
    -- Locked: claims of one approval are made one at a time.
    SELECT * INTO r FROM mpa.requests q
     WHERE q.state IN ('approved', 'executing') AND q.kind = 'statement'
       AND q.database_oid = claim_execution.database_oid AND q.database = claim_execution.database_name
       AND q.requester = claim_execution.requester
       AND q.fingerprint = claim_execution.fingerprint
       AND q.target_classes = claim_execution.target_classes AND q.target_oids = claim_execution.target_oids
       AND q.expires_at > statement_timestamp()
     ORDER BY q.id LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
      outcome := 'none';
      RETURN;
    END IF;
    IF r.state = 'executing' THEN
      CASE mpa.end_execution(r)
        WHEN 'executing' THEN
          outcome := 'held'; request_id := r.id; holder := r.executing_xid;
          RETURN;
        WHEN 'approved' THEN
          r.state := 'approved';
        ELSE
          CONTINUE;  -- executed: another approval of the same statement may remain
      END CASE;
    END IF;
    -- What it removes besides its targets, compared as mpa.cascade_difference
    -- does at home: more than approvers were shown refuses it, less does not.
    IF EXISTS (SELECT * FROM unnest(claim_execution.cascade_classes, claim_execution.cascade_oids)
               EXCEPT SELECT * FROM unnest(r.cascade_classes, r.cascade_oids)) THEN
      outcome := 'cascade changed'; request_id := r.id;
      approved_classes := r.cascade_classes; approved_oids := r.cascade_oids;
      approved_descriptions := r.cascade_descriptions;
      RETURN;
    END IF;
    UPDATE mpa.requests SET state = 'executing', executing_xid = claim_execution.xid, executing_since = now()
     WHERE id = r.id;
    PERFORM mpa.audit('executing', r.id, jsonb_build_object('database', r.database, 'xid', xid::text,
                                                            'statement', r.statement));
    outcome := 'claimed'; request_id := r.id;
    RETURN;
  END LOOP;
END $$;

-- The worker's round: every execution elsewhere whose transaction ended.
CREATE OR REPLACE FUNCTION mpa.resolve_executions() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.end_execution(r) FROM mpa.requests r
    WHERE r.id IN (SELECT id FROM mpa.requests WHERE state = 'executing' FOR UPDATE SKIP LOCKED);
END $$;
REVOKE ALL ON FUNCTION mpa.claim_execution(oid, text, regrole, text, oid[], oid[], oid[], oid[], xid8),
                       mpa.resolve_executions() FROM PUBLIC;
