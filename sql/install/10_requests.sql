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

CREATE OR REPLACE FUNCTION mpa.create_request(statement text, justification text, caller_search_path text,
                                   valid_for interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d record;
  t mpa.teams;
  r mpa.requests;
  requester regrole := session_user::regrole;
BEGIN
  PERFORM mpa.require(statement, 'statement');
  PERFORM mpa.check_justification(justification);
  PERFORM mpa.check_request_rate(requester);
  d := mpa.describe(statement, caller_search_path);
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
    RAISE EXCEPTION '% on % is not protected: it needs no approval', d.operation, d.object
      USING ERRCODE = 'MP002', HINT = 'Run the statement directly.';
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
  -- Locked as a foreign key would: mpa_team_drop waits for this request.
  SELECT * INTO t FROM mpa.teams WHERE name = d.team FOR KEY SHARE;
  PERFORM mpa.check_quorum_possible(t, requester);
  INSERT INTO mpa.requests (statement, justification, operation, object, target_classes, target_oids,
                            fingerprint, team, threshold, requester, expires_at, valid_for,
                            revoke_statement, cascade_classes, cascade_oids)
  SELECT statement, justification, d.operation, d.object, d.target_classes, d.target_oids,
         d.fingerprint, t.name, t.threshold, requester,
         now() + current_setting('mpa.request_ttl')::interval, valid_for,
         CASE WHEN valid_for IS NOT NULL THEN d.revoke_statement END, c.classes, c.oids
    FROM mpa.cascade_arrays(d.operation, d.target_classes, d.target_oids) c
  RETURNING * INTO r;
  PERFORM mpa.request_opened(r);
  RETURN r.id;
END $$;

GRANT EXECUTE ON FUNCTION mpa.create_request(text, text, text, interval) TO PUBLIC;

-- For drops: what the statement would also remove (with CASCADE where
-- needed), sorted: the objects that depend on its targets, transitively
-- (normal and automatic dependencies). One definition for what approvers
-- are shown (mpa.cascade_summary) and what execution compares
-- (mpa.cascade_difference).
CREATE OR REPLACE FUNCTION mpa.cascade_of(operation text, target_classes oid[], target_oids oid[])
RETURNS TABLE (classid oid, objid oid)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Drops: objects that depend on one removed (normal and automatic
  -- dependencies), and the object a removed one is part of (an internal
  -- dependency: a view goes with its _RETURN rule).
  WITH RECURSIVE dependents(classid, objid, depth) AS (
    SELECT d.classid, d.objid, 1 FROM pg_depend d
      JOIN unnest(target_classes, target_oids) AS t(classid, objid)
        ON d.refclassid = t.classid AND d.refobjid = t.objid
     WHERE d.deptype IN ('n', 'a') AND operation LIKE 'DROP %'
    UNION
    SELECT CASE WHEN d.deptype = 'i' THEN d.refclassid ELSE d.classid END,
           CASE WHEN d.deptype = 'i' THEN d.refobjid ELSE d.objid END, p.depth + 1
      FROM dependents p JOIN pg_depend d
        ON (d.deptype IN ('n', 'a') AND d.refclassid = p.classid AND d.refobjid = p.objid)
        OR (d.deptype = 'i' AND d.classid = p.classid AND d.objid = p.objid)
     WHERE p.depth < 20
  ),
  -- TRUNCATE: the tables it empties with them, with CASCADE where needed:
  -- tables referencing one emptied by a foreign key, and the partitions
  -- and inheritance children of one emptied (without ONLY).
  emptied(relid, depth) AS (
    SELECT t.objid, 0 FROM unnest(target_classes, target_oids) AS t(classid, objid)
     WHERE t.classid = 'pg_class'::regclass AND operation LIKE 'TRUNCATE%'
    UNION
    SELECT x.relid, e.depth + 1
      FROM emptied e
      CROSS JOIN LATERAL (SELECT c.conrelid FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = e.relid
                          UNION ALL
                          SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = e.relid) AS x(relid)
     WHERE e.depth < 20
  )
  SELECT DISTINCT classid, objid FROM (
    SELECT classid, objid FROM dependents
    UNION ALL
    SELECT 'pg_class'::regclass::oid, relid FROM emptied
  ) removed
   WHERE NOT (classid = ANY (target_classes) AND objid = ANY (target_oids))
   ORDER BY classid, objid
$$;
CREATE OR REPLACE FUNCTION mpa.cascade_arrays(operation text, target_classes oid[], target_oids oid[],
                                   OUT classes oid[], OUT oids oid[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(c.classid ORDER BY c.classid, c.objid), '{}'),
         coalesce(array_agg(c.objid ORDER BY c.classid, c.objid), '{}')
    FROM mpa.cascade_of(operation, target_classes, target_oids) c
$$;

-- The recorded cascade, for the request mail.
CREATE OR REPLACE FUNCTION mpa.cascade_summary(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN count(*) = 0 THEN ''
              WHEN r.operation LIKE 'TRUNCATE%'
              THEN E'\nTruncating it also empties (with CASCADE where needed, or without ONLY):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n'
              ELSE E'\nDropping it also removes (with CASCADE where needed):\n\n'
                   || string_agg('  - ' || what, E'\n' ORDER BY what) || E'\n' END
    FROM (SELECT pg_describe_object(c.classid, c.objid, 0) AS what
            FROM unnest(r.cascade_classes, r.cascade_oids) AS c(classid, objid)) described
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

