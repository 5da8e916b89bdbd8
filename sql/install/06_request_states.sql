-- The request's states (docs/architecture.md, "The approval state machine"):
-- opened, finished (approved, rejected, expired, cancelled: mpa.finish is
-- the one decision point) and executed (mpa.mark_executed, the one step from
-- approved to executed); a temporary grant's end.

-- The request, locked, or a clear error.
CREATE OR REPLACE FUNCTION mpa.lock_request(request_id bigint) RETURNS mpa.requests
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = mpa.require(request_id, 'request_id') FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = '22023';
  END IF;
  RETURN r;
END $$;

-- A new request: recorded, announced, and mailed to the team.
CREATE OR REPLACE FUNCTION mpa.request_opened(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.audit('request', r.id, jsonb_build_object('kind', r.kind, 'operation', r.operation,
    'object', r.object, 'statement', r.statement, 'justification', r.justification, 'team', r.team,
    'threshold', r.threshold, 'requester', r.requester::text)
    -- Several teams (docs/decisions.md, "Several teams"): all of them.
    || CASE WHEN EXISTS (SELECT FROM mpa.request_teams rt WHERE rt.request_id = r.id)
            THEN jsonb_build_object('teams', (mpa.request_outcome(r)).tally, 'shared_votes', r.shared_votes)
            ELSE '{}' END
    -- Another database's request says which (docs/decisions.md, "Every database").
    || CASE WHEN r.database IS NOT NULL THEN jsonb_build_object('database', r.database) ELSE '{}' END);
  PERFORM mpa.announce(r, 'pending');
  PERFORM mpa.mail_team(r, 'request',
    format('[pg_mpa] approval requested: %s on %s%s (#%s)', r.operation, r.object,
           CASE WHEN r.database IS NOT NULL THEN format(' in database %s', r.database) ELSE '' END, r.id),
    format(E'%s asks your approval for a protected operation.\n\n%s%s\n'
            'To vote, connect as yourself and run one of:\n\n'
            '  SELECT mpa_vote(%s, ''approve'');\n  SELECT mpa_vote(%s, ''reject'');\n\n'
            'A one-time code is then mailed to you; confirm with:\n\n'
            '  SELECT mpa_verify(%s, ''<code>'');\n',
           r.requester, mpa.request_summary(r), mpa.cascade_summary(r), r.id, r.id, r.id),
    r.requester);
END $$;

-- A pending request nears its expiry (mpa.reminder_before; the worker's
-- kRemindSql): each approver of its teams who has not voted and is not the
-- requester is reminded, once. reminded_at is set in the same transaction
-- as the mail is queued: a crash or restart neither loses nor repeats it.
CREATE OR REPLACE FUNCTION mpa.remind(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a record;
  reminded int := 0;
BEGIN
  UPDATE mpa.requests SET reminded_at = now() WHERE id = r.id;
  FOR a IN SELECT DISTINCT ON (ap.approver::text) ap.approver, ap.email
             FROM mpa.approvers ap JOIN mpa.teams_of(r) t ON t.team = ap.team
            WHERE ap.approver <> r.requester
              AND NOT EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = ap.approver)
            ORDER BY ap.approver::text, t.position LOOP
    PERFORM mpa.queue_mail('notice', a.email,
      format('[pg_mpa] reminder: request #%s expires at %s: %s on %s', r.id,
             to_char(r.expires_at AT TIME ZONE 'UTC', 'HH24:MI "UTC"'), r.operation, r.object),
      format(E'Request #%s still waits for your vote and expires at %s.\n\n%s%s\n'
              'To vote, connect as yourself and run one of:\n\n'
              '  SELECT mpa_vote(%s, ''approve'');\n  SELECT mpa_vote(%s, ''reject'');\n',
             r.id, to_char(r.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
             mpa.request_summary(r), mpa.cascade_summary(r), r.id, r.id),
      greatest(60, extract(epoch FROM r.expires_at - now())::int), NULL, NULL, r.id);
    reminded := reminded + 1;
  END LOOP;
  PERFORM mpa.audit('reminded', r.id, jsonb_build_object('approvers', reminded));
END $$;

-- Moves a request to a final state and tells everyone concerned.
CREATE OR REPLACE FUNCTION mpa.finish(r mpa.requests, new_state text, reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  subject text := format('[pg_mpa] request #%s %s: %s on %s', r.id, new_state, r.operation, r.object);
  body text := format(E'Request #%s is now %s: %s\n\n%s', r.id, new_state, reason, mpa.request_summary(r));
BEGIN
  UPDATE mpa.requests SET state = new_state, decided_at = now() WHERE id = r.id;
  UPDATE mpa.challenges SET state = 'superseded' WHERE request_id = r.id AND state = 'open';
  PERFORM mpa.audit(new_state, r.id, jsonb_build_object('reason', reason));
  PERFORM mpa.announce(r, new_state);
  PERFORM mpa.mail_team(r, 'decision', subject, body, r.requester);
  PERFORM mpa.mail_requester(r, 'decision', subject, body);
END $$;

-- The one step from approved to executed: the approved statement runs in
-- this transaction (the gate, mpa.execute_configuration), or the
-- application claims its action (mpa_consume). A temporary grant's clock
-- starts here.
CREATE OR REPLACE FUNCTION mpa.mark_executed(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE mpa.requests SET state = 'executed', executed_at = now() WHERE id = r.id;
  IF r.valid_for IS NOT NULL THEN
    INSERT INTO mpa.temporary_grants (request_id, grant_statement, revoke_statement, requester, ends_at)
    VALUES (r.id, r.statement, r.revoke_statement, r.requester, now() + r.valid_for);
  END IF;
  IF r.kind = 'action' THEN
    PERFORM mpa.audit('consumed', r.id, jsonb_build_object('action', r.object));
  ELSE
    PERFORM mpa.audit('executed', r.id, jsonb_build_object('statement', r.statement));
  END IF;
  PERFORM mpa.announce(r, 'executed');
  -- A requester who registered for notices hears that it ran (whoever ran
  -- it); approvers were told of the approval, which is theirs.
  IF mpa.notice_address(r.requester) IS NOT NULL THEN
    PERFORM mpa.queue_mail('notice', mpa.notice_address(r.requester),
      format('[pg_mpa] request #%s executed: %s on %s', r.id, r.operation, r.object),
      format(E'Request #%s was executed by %s.\n\n%s', r.id, session_user, mpa.request_summary(r)),
      3 * 86400, NULL, NULL, r.id);
  END IF;
END $$;

-- Temporary grants: the worker calls these before a grant ends and when it
-- has run its REVOKE; they tell the requester and the approvers.
CREATE OR REPLACE FUNCTION mpa.grant_ends_soon(g mpa.temporary_grants) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = g.request_id;
  UPDATE mpa.temporary_grants SET warned_at = now() WHERE request_id = g.request_id;
  PERFORM mpa.mail_team(r, 'notice',
    format('[pg_mpa] temporary grant #%s ends at %s', r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'HH24:MI:SS "UTC"')),
    format(E'The temporary grant of request #%s ends at %s; pg_mpa will then run:\n\n  %s\n\n'
            'Extending it needs a new request.\n\n%s',
           r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), g.revoke_statement,
           mpa.request_summary(r)),
    r.requester);
  PERFORM mpa.mail_requester(r, 'notice',
    format('[pg_mpa] your temporary grant #%s ends soon', r.id),
    format(E'Your temporary grant (request #%s) ends at %s.\n\n%s',
           r.id, to_char(g.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), mpa.request_summary(r)));
END $$;

CREATE OR REPLACE FUNCTION mpa.grant_ended(g mpa.temporary_grants, outcome text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r mpa.requests;
BEGIN
  SELECT * INTO r FROM mpa.requests WHERE id = g.request_id;
  UPDATE mpa.temporary_grants SET revoked_at = now(), revoke_outcome = outcome
   WHERE request_id = g.request_id;
  PERFORM mpa.audit('grant ended', r.id, jsonb_build_object('revoke', g.revoke_statement, 'outcome', outcome));
  PERFORM mpa.mail_team(r, 'notice', format('[pg_mpa] temporary grant #%s ended', r.id),
    format(E'The temporary grant of request #%s ended: %s\n\n  %s\n\n%s', r.id, outcome,
           g.revoke_statement, mpa.request_summary(r)), r.requester);
  PERFORM mpa.mail_requester(r, 'notice', format('[pg_mpa] your temporary grant #%s ended', r.id),
    format(E'Your temporary grant (request #%s) ended: %s\n\n%s', r.id, outcome, mpa.request_summary(r)));
END $$;


-- The end of an execution in another database (docs/decisions.md,
-- "Execution exactly once"): the request is 'executing' by the transaction
-- executing_xid of that database, and the commit log, which is the
-- cluster's, says how that transaction ended. Committed: executed (the
-- statement's effects and that commit are one record). Aborted, also by a
-- crash (a transaction in progress at a crash is aborted): approved again,
-- spendable until it expires. Too old for the commit log to tell (NULL):
-- counted as executed, since an approval is never spent twice. Returns the
-- request's state afterwards ('executing' while the transaction runs).
CREATE OR REPLACE FUNCTION mpa.end_execution(r mpa.requests) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE status text := pg_xact_status(r.executing_xid);
BEGIN
  IF status = 'in progress' THEN
    RETURN 'executing';
  ELSIF status = 'aborted' THEN
    UPDATE mpa.requests SET state = 'approved' WHERE id = r.id;
    PERFORM mpa.audit('execution did not commit', r.id,
      jsonb_build_object('database', r.database, 'xid', r.executing_xid::text));
    RETURN 'approved';
  END IF;
  PERFORM mpa.mark_executed(r);
  RETURN 'executed';
END $$;
REVOKE ALL ON FUNCTION mpa.end_execution(mpa.requests) FROM PUBLIC;
