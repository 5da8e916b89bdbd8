-------------------------------------------------------------------------------
-- Application-defined approvals: the same votes, codes and tally for an
-- application's own operation (a large refund, a data export).
-------------------------------------------------------------------------------

-- The largest payload, as JSON text, an action request may carry.
CREATE OR REPLACE FUNCTION mpa.max_payload_bytes() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 65536';

CREATE OR REPLACE FUNCTION mpa_request_action(team text, action text, payload jsonb, justification text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams;
  r mpa.requests;
  requester regrole := session_user::regrole;
BEGIN
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(action, 'action');
  PERFORM mpa.require(payload, 'payload');
  PERFORM mpa.check_justification(justification);
  PERFORM mpa.check_request_rate(requester);
  IF action !~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid action name %', quote_literal(left(action, 80)) USING ERRCODE = '22023',
      HINT = 'An action name is 1 to 63 letters, digits, dots, colons, dashes or underscores.';
  ELSIF octet_length(payload::text) > mpa.max_payload_bytes() THEN
    RAISE EXCEPTION 'payload is too large: % bytes as JSON text, at most %', octet_length(payload::text),
      mpa.max_payload_bytes() USING ERRCODE = '54000',
      HINT = 'Store the data in a table and send its key in the payload.';
  END IF;
  -- Locked as a foreign key would: mpa_team_drop waits for this request.
  SELECT * INTO t FROM mpa.teams WHERE name = team FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'team "%" does not exist', left(team, 80) USING ERRCODE = '22023';
  END IF;
  PERFORM mpa.check_quorum_possible(t, requester);
  INSERT INTO mpa.requests (kind, statement, justification, operation, object, target_classes, target_oids,
                            fingerprint, team, threshold, requester, expires_at, payload)
  VALUES ('action', payload::text, justification, 'ACTION', action, '{}', '{}',
          encode(sha256(convert_to(action || E'\n' || payload::text, 'UTF8')), 'hex'),
          t.name, t.threshold, requester, now() + current_setting('mpa.request_ttl')::interval, payload)
  RETURNING * INTO r;
  PERFORM mpa.request_opened(r);
  RETURN r.id;
END $$;

-- The requester's application claims an approved action, once, in its own
-- transaction: a ROLLBACK leaves it unclaimed. Returns the payload.
CREATE OR REPLACE FUNCTION mpa_consume(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests := mpa.lock_request(request_id);
BEGIN
  IF r.kind <> 'action' THEN
    RAISE EXCEPTION 'request % is a statement, not an application action', r.id USING ERRCODE = '22023',
      HINT = 'An approved statement runs with mpa_execute() or by running it again.';
  ELSIF r.requester <> session_user::regrole THEN
    RAISE EXCEPTION 'only the requester (%) may consume request %', r.requester, r.id USING ERRCODE = 'MP003';
  ELSIF r.state = 'executed' THEN
    RAISE EXCEPTION 'request % was already consumed at %', r.id, r.executed_at USING ERRCODE = 'MP004';
  ELSIF r.state <> 'approved' THEN
    RAISE EXCEPTION 'request % is %, not approved', r.id, r.state USING ERRCODE = 'MP004';
  ELSIF r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % expired at %', r.id, r.expires_at USING ERRCODE = 'MP004';
  END IF;
  PERFORM mpa.mark_executed(r);
  RETURN r.payload;
END $$;

