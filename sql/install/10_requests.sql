-------------------------------------------------------------------------------
-- Requests and votes. Identities are session roles (the authenticated
-- role): SET ROLE changes nothing here, and a code only reaches the
-- approver's registered mailbox.
-------------------------------------------------------------------------------

-- Names in the statement are resolved with the caller's search_path (the
-- one the statement would run with); the request records them by OID.
-- Every name in these wrappers is qualified: they run with the caller's
-- search_path, which they pass on.
CREATE OR REPLACE FUNCTION mpa_request(statement text, justification text) RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'), NULL)
$$;

-- A temporary grant: once approved and executed, the GRANT holds for
-- valid_for and is then revoked by the worker.
CREATE OR REPLACE FUNCTION mpa_request(statement text, justification text, valid_for interval) RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'),
                            mpa.require(valid_for, 'valid_for'))
$$;

-- For another database's objects (docs/decisions.md, "Every database"):
-- described there, requested and approved here. database NULL or
-- mpa.database's own name: a request as above. Written database => ...:
-- a third argument given by position is this one when it is text (an
-- untyped literal is text): a temporary grant's duration is written
-- interval '...' or valid_for => ....
CREATE OR REPLACE FUNCTION mpa_request(statement text, justification text, database text) RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'), NULL, database)
$$;

-- A temporary grant with a database: only mpa.database's (NULL or its
-- name). Elsewhere it would need the worker to REVOKE there when it ends:
-- refused (0A000) by mpa.create_request.
CREATE OR REPLACE FUNCTION mpa_request(statement text, justification text, valid_for interval, database text)
RETURNS bigint
LANGUAGE sql AS $$
  SELECT mpa.create_request(statement, justification, pg_catalog.current_setting('search_path'),
                            mpa.require(valid_for, 'valid_for'), database)
$$;

CREATE OR REPLACE FUNCTION mpa.create_request(statement text, justification text, caller_search_path text,
                                   valid_for interval, database text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d record;
  t mpa.teams;
  first mpa.teams;
  approving text[];
  r mpa.requests;
  requester regrole := session_user::regrole;
  elsewhere text := mpa.request_database(database);
BEGIN
  PERFORM mpa.require(statement, 'statement');
  PERFORM mpa.check_justification(justification);
  PERFORM mpa.check_request_rate(requester);
  IF elsewhere IS NULL THEN
    SELECT x.*, NULL::text AS database_name, NULL::oid AS database_oid, c.classes AS cascade_classes,
           c.oids AS cascade_oids, NULL::text[] AS cascade_descriptions,
           -- Asked below, only if it needs no approval.
           NULL::text AS dry_run_hint
      INTO d
      FROM mpa.describe(statement, caller_search_path) x,
           mpa.cascade_arrays(x.operation, x.target_classes, x.target_oids) c;
  ELSIF valid_for IS NOT NULL THEN
    RAISE EXCEPTION 'a temporary grant is for objects of database "%" only, not "%"',
      current_database(), elsewhere USING ERRCODE = '0A000',
      DETAIL = 'Its end would need pg_mpa to run the REVOKE in the other database, which it does not yet.',
      HINT = 'Request a plain GRANT there, and its REVOKE when the access should end.';
  ELSE
    -- Described in that database by a worker connected as the requester;
    -- the roles that may not connect there are refused before it starts.
    d := mpa.describe_in_database(statement, caller_search_path, elsewhere);
  END IF;
  IF valid_for IS NOT NULL THEN
    IF d.revoke_statement IS NULL THEN
      RAISE EXCEPTION 'only a GRANT of roles or of table privileges can be temporary, not %', d.operation
        USING ERRCODE = '22023';
    ELSIF valid_for <= interval '0' THEN
      RAISE EXCEPTION 'valid_for must be positive, not %', valid_for USING ERRCODE = '22023';
    ELSIF valid_for > interval '30 days' THEN
      RAISE EXCEPTION 'valid_for is at most 30 days, not %', valid_for USING ERRCODE = '22023',
        HINT = 'Longer access is not temporary: request a plain GRANT.';
    END IF;
  END IF;
  IF d.team IS NULL THEN
    -- A dry-run policy that names it is named, so that the DBA sees why
    -- it is "not protected" (docs/decisions.md, "Policy modes"). Asked in
    -- the policies of the database the statement is for: here, those for
    -- mpa.database, every database and the cluster-wide ones; for another
    -- database, its describe task built the HINT there, from its copy.
    RAISE EXCEPTION '% on % is not protected: it needs no approval', d.operation, d.object
      USING ERRCODE = 'MP002', HINT = coalesce(CASE WHEN elsewhere IS NULL
                                                    THEN mpa.dry_run_hint(statement, caller_search_path)
                                                    ELSE d.dry_run_hint END,
                                               'Run the statement directly.');
  END IF;
  IF d.operation = 'MPA CONFIGURE' THEN
    -- A change that could not run is refused now, not after the votes: it
    -- is rehearsed, and the rehearsal (with the caller's search_path)
    -- rolled back.
    BEGIN
      PERFORM set_config('search_path', caller_search_path, true);
      PERFORM mpa.rehearse_configuration(statement);
    EXCEPTION WHEN SQLSTATE 'MPR00' THEN NULL;
    END;
  END IF;
  -- The policy's teams: the gate's description names one team, or several
  -- joined by ',' (each vote counts for one team) or '&' (a vote counts for
  -- every team of its voter): src/pg/gate/policy_cache.hpp, approving_team().
  approving := regexp_split_to_array(d.team, '[,&]');
  -- Locked as a foreign key would: mpa_team_drop waits for this request.
  -- Each team must be able to approve it without the requester.
  FOR i IN 1 .. cardinality(approving) LOOP
    SELECT * INTO t FROM mpa.teams WHERE name = approving[i] FOR KEY SHARE;
    PERFORM mpa.check_quorum_possible(t, requester);
    IF i = 1 THEN
      first := t;
    END IF;
  END LOOP;
  INSERT INTO mpa.requests (statement, justification, operation, object, target_classes, target_oids,
                            fingerprint, team, threshold, requester, expires_at, valid_for,
                            revoke_statement, cascade_classes, cascade_oids,
                            database, database_oid, cascade_descriptions, shared_votes)
  VALUES (statement, justification, d.operation, d.object, d.target_classes, d.target_oids,
          d.fingerprint, first.name, first.threshold, requester,
          now() + current_setting('mpa.request_ttl')::interval, valid_for,
          CASE WHEN valid_for IS NOT NULL THEN d.revoke_statement END, d.cascade_classes, d.cascade_oids,
          d.database_name, d.database_oid, d.cascade_descriptions, strpos(d.team, '&') > 0)
  RETURNING * INTO r;
  IF cardinality(approving) > 1 THEN
    -- Several teams: their thresholds as now; and together, too (a person
    -- in two teams counts for one unless votes are shared).
    INSERT INTO mpa.request_teams (request_id, team, threshold)
    SELECT r.id, tm.name, tm.threshold FROM mpa.teams tm WHERE tm.name = ANY (approving);
    IF (mpa.request_outcome(r)).outcome = 'rejected' THEN
      RAISE EXCEPTION '% cannot approve this request together without you', mpa.teams_phrase(approving)
        USING ERRCODE = 'MP004',
        DETAIL = 'Each approver counts for one of the teams, and there are too few different ones.',
        HINT = 'A superuser must add approvers or lower the teams'' thresholds.';
    END IF;
  END IF;
  PERFORM mpa.request_opened(r);
  RETURN r.id;
END $$;

GRANT EXECUTE ON FUNCTION mpa.create_request(text, text, text, interval, text) TO PUBLIC;

-- For drops: what the statement would also remove (with CASCADE where
-- needed), sorted: the objects that depend on its targets, transitively
-- (normal and automatic dependencies). One definition for what approvers
-- are shown (mpa.cascade_summary) and what execution compares
-- (mpa.cascade_difference).
-- The query is one text in the library (src/pg/gate/statement_cascade.cpp,
-- mpa.cascade_query()): the describe task runs the same one in the
-- database a request is for. Drops: objects that depend on one removed
-- (normal and automatic dependencies) and the object a removed one is part
-- of (a view with its _RETURN rule); TRUNCATE: the tables it empties with
-- them (foreign keys, partitions and inheritance children).
CREATE OR REPLACE FUNCTION mpa.cascade_of(operation text, target_classes oid[], target_oids oid[])
RETURNS TABLE (classid oid, objid oid)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN QUERY EXECUTE mpa.cascade_query() USING operation, target_classes, target_oids;
END $$;
CREATE OR REPLACE FUNCTION mpa.cascade_arrays(operation text, target_classes oid[], target_oids oid[],
                                   OUT classes oid[], OUT oids oid[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(c.classid ORDER BY c.classid, c.objid), '{}'),
         coalesce(array_agg(c.objid ORDER BY c.classid, c.objid), '{}')
    FROM mpa.cascade_of(operation, target_classes, target_oids) c
$$;

-- The recorded cascade, for the request mail. Another database's objects
-- were described there (cascade_descriptions): their OIDs mean nothing
-- here.
CREATE OR REPLACE FUNCTION mpa.cascade_summary(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN count(*) = 0 THEN ''
              WHEN r.operation LIKE 'TRUNCATE%'
              THEN E'\nTruncating it also empties (with CASCADE where needed, or without ONLY):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n'
              ELSE E'\nDropping it also removes (with CASCADE where needed):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n' END
    FROM (SELECT CASE WHEN r.database_oid IS NULL THEN pg_describe_object(c.classid, c.objid, 0)
                      ELSE c.description END AS what
            FROM unnest(r.cascade_classes, r.cascade_oids, r.cascade_descriptions)
                 AS c(classid, objid, description)) described
   WHERE what IS NOT NULL
$$;

-- At execution: what the statement would remove (or empty) now that
-- approvers were not shown; NULL when nothing. What they were shown that it
-- no longer reaches is said with it, but alone refuses nothing: the
-- statement does less than was approved (a foreign key dropped so that an
-- approved TRUNCATE can run).
CREATE OR REPLACE FUNCTION mpa.cascade_difference(operation text, target_classes oid[], target_oids oid[],
                                       cascade_classes oid[], cascade_oids oid[]) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH now_reached AS (SELECT * FROM mpa.cascade_of(operation, target_classes, target_oids)),
       approved AS (SELECT * FROM unnest(cascade_classes, cascade_oids) AS c(classid, objid)),
       added AS (SELECT * FROM now_reached EXCEPT SELECT * FROM approved),
       gone AS (SELECT * FROM approved EXCEPT SELECT * FROM now_reached),
       verb AS (SELECT CASE WHEN operation LIKE 'TRUNCATE%' THEN 'empties' ELSE 'removes' END AS v)
  SELECT CASE WHEN EXISTS (SELECT FROM added) THEN concat_ws('; ',
           (SELECT 'now also ' || (SELECT v FROM verb) || ' '
                   || string_agg(coalesce(pg_describe_object(classid, objid, 0),
                                          format('object %s of class %s', objid, classid)),
                                 ', ' ORDER BY classid, objid) FROM added),
           (SELECT 'no longer ' || (SELECT v FROM verb) || ' '
                   || string_agg(coalesce(pg_describe_object(classid, objid, 0),
                                          format('object %s of class %s (gone)', objid, classid)),
                                 ', ' ORDER BY classid, objid) FROM gone HAVING count(*) > 0)) END
$$;
REVOKE ALL ON FUNCTION mpa.cascade_summary(mpa.requests) FROM PUBLIC;
REVOKE ALL ON FUNCTION mpa.cascade_of(text, oid[], oid[]), mpa.cascade_arrays(text, oid[], oid[]),
                       mpa.cascade_difference(text, oid[], oid[], oid[], oid[]) FROM PUBLIC;

