-- Votes: a challenge opened and mailed, resent, verified; the tally that
-- approves or rejects (mpa.verify_vote); cancellation.

-- Opens a challenge for (request, caller, decision) and mails its code.
CREATE OR REPLACE FUNCTION mpa.open_challenge(r mpa.requests, decision text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  voter regrole := session_user::regrole;
  address text;
  last_code timestamptz;
  c mpa.challenges;
BEGIN
  IF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % is %, not open for votes', r.id,
                    CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END USING ERRCODE = 'MP004';
  END IF;
  IF r.requester = voter THEN
    RAISE EXCEPTION 'you cannot vote on your own request' USING ERRCODE = 'MP003';
  END IF;
  -- A member of one of its teams, or of the break-glass team once
  -- break-glass is open on it.
  address := coalesce(mpa.voter_address(r, voter), mpa.break_glass_address(r, voter));
  IF address IS NULL THEN
    RAISE EXCEPTION 'role % is not an approver of %', voter,
      mpa.teams_phrase(ARRAY(SELECT t.team FROM mpa.teams_of(r) t ORDER BY t.position)) USING ERRCODE = 'MP003';
  END IF;
  IF EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = voter) THEN
    RAISE EXCEPTION 'you have already voted on request %', r.id USING ERRCODE = 'MP003';
  END IF;
  IF mpa.voter_locked_out(r.id, r.created_at) THEN
    RAISE EXCEPTION 'too many wrong codes for request %: you can no longer vote on it', r.id
      USING ERRCODE = 'MP005';
  END IF;
  -- Only codes of this server's key hold a new one back: a code made before
  -- a restart or a failover cannot be used, so its successor is due at once.
  SELECT max(created_at) INTO last_code FROM mpa.challenges ch
   WHERE ch.request_id = r.id AND ch.approver = voter AND ch.key_id = mpa.code_key_id();
  IF last_code > now() - current_setting('mpa.resend_cooldown')::interval THEN
    RAISE EXCEPTION 'a code was sent less than % ago', current_setting('mpa.resend_cooldown')
      USING ERRCODE = 'MP005', HINT = format('Wait until %s before asking for another.',
        to_char((last_code + current_setting('mpa.resend_cooldown')::interval)
                AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"'));
  END IF;

  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.request_id = r.id AND ch.approver = voter AND ch.state = 'open';
  INSERT INTO mpa.challenges (request_id, approver, decision, nonce, email, expires_at, key_id)
  VALUES (r.id, voter, decision, mpa.new_nonce(), address,
          least(r.expires_at, now() + current_setting('mpa.otp_ttl')::interval), mpa.code_key_id())
  RETURNING * INTO c;
  PERFORM mpa.audit('challenge opened', r.id, jsonb_build_object('challenge', c.id, 'approver', voter::text,
    'decision', decision, 'to', mpa.mask_email(address)));
  -- The body holds a placeholder, never the code: the mail worker derives
  -- the code from the challenge when it renders the message.
  PERFORM mpa.queue_mail('code', address,
    format('[pg_mpa] your code to %s request #%s', decision, r.id),
    format(E'Someone connected as %s asked to %s request #%s.\n\n'
            'Your one-time code: {{code}}\n\n'
            'Confirm with:  SELECT mpa_verify(%s, ''<code>'');\n'
            'The code is valid until %s, for this vote only. If you did not ask for it, '
            'do not use it and tell your security team.\n\n%s',
           voter, decision, r.id, r.id,
           to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
           mpa.request_summary(r)),
    greatest(1, extract(epoch FROM c.expires_at - now())::int),
    format('code:%s:%s', r.id, voter::oid), c.id, r.id);
  RETURN format('a code to %s request %s was sent to %s; it is valid until %s',
                decision, r.id, mpa.mask_email(address),
                to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
END $$;
REVOKE ALL ON FUNCTION mpa.open_challenge(mpa.requests, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION mpa_vote(request_id bigint, decision text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(decision, 'decision');
  IF decision NOT IN ('approve', 'reject') THEN
    RAISE EXCEPTION 'decision must be ''approve'' or ''reject'', not %', quote_literal(left(decision, 40))
      USING ERRCODE = '22023';
  END IF;
  RETURN mpa.open_challenge(mpa.lock_request(request_id), decision);
END $$;

CREATE OR REPLACE FUNCTION mpa_resend(request_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r mpa.requests := mpa.lock_request(request_id);
  last_decision text;
BEGIN
  SELECT decision INTO last_decision FROM mpa.challenges c
   WHERE c.request_id = r.id AND c.approver = session_user::regrole ORDER BY c.id DESC LIMIT 1;
  IF last_decision IS NULL THEN
    RAISE EXCEPTION 'you have asked for no code on request %', r.id USING ERRCODE = 'MP004',
      HINT = format('Vote first: SELECT mpa_vote(%s, ''approve'');', r.id);
  END IF;
  RETURN mpa.open_challenge(r, last_decision);
END $$;

CREATE OR REPLACE FUNCTION mpa_verify(request_id bigint, code text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.code_submitted();
  SELECT mpa.verify_vote(request_id, code);
$$;

CREATE OR REPLACE FUNCTION mpa.verify_vote(request_id bigint, code text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  voter regrole := session_user::regrole;
  c mpa.challenges;
  r mpa.requests;
  rejections int;
  outcome text;
  tally text;
BEGIN
  IF request_id IS NULL OR code IS NULL THEN
    PERFORM mpa.code_settled();
  END IF;
  PERFORM mpa.require(request_id, 'request_id');
  PERFORM mpa.require(code, 'code');
  SELECT * INTO r FROM mpa.requests WHERE id = request_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  ELSIF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % is %, not open for votes', r.id,
                    CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END USING ERRCODE = 'MP004';
  END IF;
  SELECT * INTO c FROM mpa.challenges ch
   WHERE ch.request_id = verify_vote.request_id AND ch.approver = voter AND ch.state = 'open'
   ORDER BY ch.id DESC LIMIT 1;
  IF NOT FOUND OR c.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'no code is waiting for you on request %', request_id USING ERRCODE = 'MP005',
      HINT = format('Ask for one: SELECT mpa_vote(%s, ''approve'') or mpa_resend(%s).', request_id, request_id);
  END IF;
  PERFORM mpa.accept_code(c, code);

  -- Tally under the request's row lock: of two racing final votes, the
  -- second sees the first's result, so the state changes exactly once.
  r := mpa.lock_request(request_id);
  IF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % was decided meanwhile (%)', r.id, r.state USING ERRCODE = 'MP004';
  END IF;
  -- The code may have been replaced (mpa_resend) or expired while we waited
  -- for the request's lock: only a still-open code counts.
  UPDATE mpa.challenges SET state = 'used'
   WHERE id = c.id AND state = 'open' AND expires_at > statement_timestamp();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'this code can no longer be used' USING ERRCODE = 'MP005',
      HINT = format('Ask for a new one: SELECT mpa_resend(%s);', request_id);
  END IF;
  INSERT INTO mpa.votes (request_id, approver, decision) VALUES (r.id, voter, c.decision);
  PERFORM mpa.audit('vote', r.id, jsonb_build_object('approver', voter::text, 'decision', c.decision,
    'challenge', c.id));
  -- The code came back from the registered address: it is confirmed.
  UPDATE mpa.approvers a SET verified_at = coalesce(a.verified_at, now()), last_active_at = now()
   WHERE (a.team IN (SELECT t.team FROM mpa.teams_of(r) t) OR mpa.break_glass_address(r, voter) IS NOT NULL)
     AND a.approver = voter AND a.email = c.email;
  SELECT count(*) FILTER (WHERE v.decision = 'reject') INTO rejections FROM mpa.votes v
   WHERE v.request_id = r.id AND NOT mpa.break_glass_only_vote(r, v.approver);
  -- The one tally (mpa.request_outcome): per team, when there are several;
  -- votes only break-glass let in count toward its quorum, not there.
  SELECT o.outcome, o.summary INTO outcome, tally FROM mpa.request_outcome(r) o;
  IF outcome = 'pending' AND mpa.break_glass_outcome(r) = 'approved' THEN
    outcome := 'approved by break-glass';
  END IF;

  PERFORM mpa.mail_requester(r, 'vote',
    format('[pg_mpa] %s voted to %s request #%s', voter, c.decision, r.id),
    format(E'%s voted to %s request #%s (%s).\n\n%s',
           voter, c.decision, r.id, tally, mpa.request_summary(r)));
  IF outcome = 'approved' THEN
    PERFORM mpa.finish(r, 'approved', format(E'%s. The requester may run it once:\n'
      '  SELECT mpa_execute(%s);\nor re-run the identical statement.', tally, r.id));
  ELSIF outcome = 'approved by break-glass' THEN
    PERFORM mpa.break_glass_approved(r);
  ELSIF outcome = 'rejected' THEN
    PERFORM mpa.finish(r, 'rejected', CASE WHEN NOT EXISTS (SELECT FROM mpa.request_teams rt WHERE rt.request_id = r.id)
      THEN format('%s rejections: the threshold of %s can no longer be reached.', rejections, r.threshold)
      ELSE format('%s rejections: not every team can reach its threshold any more (%s).', rejections, tally) END);
  END IF;
  RETURN format('vote recorded: %s request %s (%s); the request is %s', c.decision, r.id, tally, outcome);
END $$;

-- Internal: only below mpa_verify. (The REVOKE of 08_configuration_doors.sql
-- covers only the functions made before it in a fresh install.)
REVOKE ALL ON FUNCTION mpa.verify_vote(bigint, text) FROM PUBLIC;

-- A request's tally per team, [{"team", "votes", "threshold"}, ...]
-- (mpa.request_outcome; docs/decisions.md, "Several teams"): mpa.pending's
-- tally column and the portal's request page. Anyone may ask: it says no
-- more than mpa.requests, mpa.request_teams, mpa.votes and the approvers'
-- teams, which PUBLIC may read.
CREATE OR REPLACE FUNCTION mpa_request_tally(request_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = mpa.require(request_id, 'request_id');
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  END IF;
  RETURN (mpa.request_outcome(r)).tally;
END $$;

-- Requests the current (session) role may vote on.
CREATE OR REPLACE VIEW mpa.pending WITH (security_barrier) AS
  SELECT r.id, r.operation, r.object, r.statement, r.justification, r.requester, r.team,
         r.threshold, r.created_at, r.expires_at,
         (SELECT count(*) FROM mpa.votes v WHERE v.request_id = r.id AND v.decision = 'approve') AS approvals,
         r.database,
         -- Per team: [{"team", "votes", "threshold"}] (docs/decisions.md, "Several teams").
         mpa_request_tally(r.id) AS tally,
         -- Break-glass is open on it (mpa_break_glass): its team may approve it with its quorum.
         EXISTS (SELECT FROM mpa.break_glass_uses u WHERE u.request_id = r.id) AS break_glass_open
    FROM mpa.requests r
   WHERE r.state = 'pending' AND r.expires_at > statement_timestamp()
     AND r.requester <> session_user::regrole
     AND (EXISTS (SELECT FROM mpa.approvers a WHERE a.team = r.team AND a.approver = session_user::regrole)
          OR EXISTS (SELECT FROM mpa.approvers a JOIN mpa.request_teams rt ON rt.team = a.team
                      WHERE rt.request_id = r.id AND a.approver = session_user::regrole)
          -- and, once break-glass is open on it, the break-glass team's.
          OR EXISTS (SELECT FROM mpa.break_glass_uses u JOIN mpa.break_glass b ON b.team = u.team
                       JOIN mpa.approvers a ON a.team = u.team
                      WHERE u.request_id = r.id AND a.approver = session_user::regrole))
     AND NOT EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = session_user::regrole);
GRANT SELECT ON mpa.pending TO PUBLIC;

CREATE OR REPLACE FUNCTION mpa_cancel(request_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests := mpa.lock_request(request_id);
BEGIN
  IF r.requester <> session_user::regrole THEN
    RAISE EXCEPTION 'only the requester (%) may cancel request %', r.requester, r.id USING ERRCODE = 'MP003';
  END IF;
  IF r.state NOT IN ('pending', 'approved') THEN
    RAISE EXCEPTION 'request % is already %', r.id, r.state USING ERRCODE = 'MP004';
  END IF;
  PERFORM mpa.finish(r, 'cancelled', format('%s withdrew it.', r.requester));
END $$;

