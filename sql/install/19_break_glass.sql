-------------------------------------------------------------------------------
-- Break-glass (docs/decisions.md, "Policy modes", break-glass): a team
-- declared in advance (governed) approves a pending request with its own,
-- smaller quorum, each vote still confirmed by a mailed code, never by the
-- requester, never for pg_mpa's own configuration. Loud when used; the
-- regular team reviews it afterwards.
-------------------------------------------------------------------------------

-- The door to refuse() (src/pg/boundary/refusal.cpp): audited through the
-- ring, so the refusal is recorded though the caller's transaction rolls
-- back, then raised as MP001.
CREATE OR REPLACE FUNCTION mpa.refuse(audited text, team text, message text, hint text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_refuse';

-- The longest review window accepted: a review a month late is no review.
CREATE OR REPLACE FUNCTION mpa.break_glass_longest_window() RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT interval '30 days' $$;

-- Declares team `team` the break-glass team (or changes its quorum and
-- window). A configuration change: once a team governs pg_mpa, it needs
-- that team's approval. Input is checked before the authorisation, so a
-- request is never made for a call that cannot succeed.
CREATE OR REPLACE FUNCTION mpa_break_glass_team(team text, quorum int, review_window interval DEFAULT '24 hours')
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  members int;
  before mpa.break_glass;
BEGIN
  PERFORM mpa.require(quorum, 'quorum');
  PERFORM mpa.require(review_window, 'review_window');
  SELECT count(*) INTO members FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver WHERE a.team = t.name;
  IF quorum < 1 OR quorum > members THEN
    RAISE EXCEPTION 'quorum must be between 1 and the % approvers of team "%", not %', members, t.name, quorum
      USING ERRCODE = '22023';
  END IF;
  IF review_window <= interval '0' OR review_window > mpa.break_glass_longest_window() THEN
    RAISE EXCEPTION 'review_window must be more than 0 and at most %, not %', mpa.break_glass_longest_window(),
      review_window USING ERRCODE = '22023';
  END IF;
  PERFORM mpa.authorize_configuration('mpa_break_glass_team',
    format('SELECT mpa_break_glass_team(%L, %s, %L)', t.name, quorum, review_window));
  -- After the authorisation: an attempt to declare a second team is
  -- refused as the configuration change it is (the request's rehearsal
  -- still refuses it before anyone votes).
  IF EXISTS (SELECT FROM mpa.break_glass b WHERE b.team <> t.name) THEN
    RAISE EXCEPTION 'team "%" is already the break-glass team', (SELECT b.team FROM mpa.break_glass b)
      USING ERRCODE = '22023', HINT = 'There is at most one: remove it with mpa_break_glass_team_drop() first.';
  END IF;
  SELECT * INTO before FROM mpa.break_glass b WHERE b.team = t.name;
  INSERT INTO mpa.break_glass (team, quorum, review_window) VALUES (t.name, quorum, review_window)
    ON CONFLICT ON CONSTRAINT break_glass_pkey
    DO UPDATE SET quorum = excluded.quorum, review_window = excluded.review_window;
  PERFORM mpa.audit('break-glass team', NULL, jsonb_build_object('team', t.name, 'quorum', quorum,
    'review_window', review_window::text, 'break_glass', true)
    || CASE WHEN before.team IS NOT NULL THEN jsonb_build_object('was_quorum', before.quorum,
         'was_review_window', before.review_window::text) ELSE '{}' END);
END $$;

-- Removes the break-glass team (governed like its declaration). Uses open
-- on pending requests stop counting with it (mpa.break_glass_address).
CREATE OR REPLACE FUNCTION mpa_break_glass_team_drop() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE gone mpa.break_glass;
BEGIN
  IF NOT EXISTS (SELECT FROM mpa.break_glass) THEN
    RAISE EXCEPTION 'no break-glass team is declared' USING ERRCODE = '22023';
  END IF;
  PERFORM mpa.authorize_configuration('mpa_break_glass_team_drop', 'SELECT mpa_break_glass_team_drop()');
  DELETE FROM mpa.break_glass RETURNING * INTO gone;
  PERFORM mpa.audit('break-glass team dropped', NULL, jsonb_build_object('team', gone.team, 'break_glass', true));
END $$;

-- Mails, at once, every approver of the request's teams, of the teams that
-- govern pg_mpa and of the break-glass team: a use of break-glass is
-- never quiet. One mail per address.
CREATE OR REPLACE FUNCTION mpa.mail_break_glass(r mpa.requests, subject text, body text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.queue_mail('notice', a.email, subject, body, 3 * 86400, NULL, NULL, r.id)
    FROM (SELECT DISTINCT ap.email FROM mpa.approvers ap
           WHERE ap.team IN (SELECT t.team FROM mpa.teams_of(r) t)
              OR ap.team IN (SELECT p.team FROM mpa.policies p WHERE p.operation = 'MPA CONFIGURE')
              OR ap.team IN (SELECT b.team FROM mpa.break_glass b)
              OR ap.team IN (SELECT u.team FROM mpa.break_glass_uses u WHERE u.request_id = r.id)
           ORDER BY ap.email) a;
END $$;

-- A member of the break-glass team opens break-glass on a pending request:
-- from then on the votes of that team's members count toward its quorum
-- (mpa.break_glass_outcome).
CREATE OR REPLACE FUNCTION mpa_break_glass(request_id bigint, reason text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  r mpa.requests;
  b mpa.break_glass;
BEGIN
  PERFORM mpa.require(request_id, 'request_id');
  PERFORM mpa.check_explanation(reason, 'reason', 'why the emergency cannot wait for the regular approval');
  r := mpa.lock_request(request_id);
  -- pg_mpa's own configuration (break-glass changes included) is never
  -- approved past its governing team: refused and audited, whoever asks.
  -- That is MPA CONFIGURE, and every statement the gate leaves to the
  -- governing team for pg_mpa's sake (ALTER SYSTEM, LOAD, event triggers,
  -- pg_mpa's objects, its home database).
  IF r.operation = 'MPA CONFIGURE' OR (r.kind = 'statement' AND
       mpa.changes_pg_mpa(r.statement, r.target_classes, r.target_oids, r.database_oid IS NULL)) THEN
    PERFORM mpa.refuse('mpa_break_glass', r.team,
      format('break-glass cannot approve request %s: it changes pg_mpa''s own configuration', r.id),
      format('Only team "%s", which governs pg_mpa, can approve it.', r.team));
  END IF;
  SELECT * INTO b FROM mpa.break_glass;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no break-glass team is declared' USING ERRCODE = 'MP004';
  END IF;
  IF NOT EXISTS (SELECT FROM mpa.approvers a WHERE a.team = b.team AND a.approver = me) THEN
    RAISE EXCEPTION 'role % is not an approver of the break-glass team "%"', me, b.team USING ERRCODE = 'MP003';
  ELSIF r.requester = me THEN
    RAISE EXCEPTION 'you cannot break the glass on your own request' USING ERRCODE = 'MP003';
  END IF;
  IF r.state <> 'pending' OR r.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'request % is %, not open for votes', r.id,
                    CASE WHEN r.state = 'pending' THEN 'expired' ELSE r.state END USING ERRCODE = 'MP004';
  ELSIF EXISTS (SELECT FROM mpa.break_glass_uses u WHERE u.request_id = r.id) THEN
    RAISE EXCEPTION 'break-glass is already open on request %', r.id USING ERRCODE = 'MP004';
  END IF;
  INSERT INTO mpa.break_glass_uses (request_id, team, quorum, review_window, reason, opened_by)
  VALUES (r.id, b.team, b.quorum, b.review_window, reason, me);
  PERFORM mpa.audit('break-glass opened', r.id, jsonb_build_object('break_glass', true, 'team', b.team,
    'quorum', b.quorum, 'reason', reason, 'opened_by', me::text));
  RAISE WARNING 'pg_mpa: break-glass opened on request % (% on %) by %: team "%" may approve it with % votes',
    r.id, r.operation, r.object, me, b.team, b.quorum;
  PERFORM mpa.mail_break_glass(r,
    format('[pg_mpa] BREAK-GLASS opened on request #%s: %s on %s', r.id, r.operation, r.object),
    format(E'%s opened break-glass on request #%s. Reason:\n\n  %s\n\n'
            'From now on %s votes of team "%s" (each confirmed by its mailed code) approve it '
            'without team "%s"''s threshold. Team "%s" must review the use afterwards.\n\n'
            'Members of team "%s" vote with:\n\n  SELECT mpa_vote(%s, ''approve'');\n\n'
            'If this is not a real emergency, reject it: SELECT mpa_vote(%s, ''reject'');\n\n%s%s',
           me, r.id, reason, b.quorum, b.team, r.team, r.team, b.team, r.id, r.id,
           mpa.request_summary(r), mpa.cascade_summary(r)));
  RETURN format('break-glass is open on request %s: %s approving votes of team "%s" approve it', r.id, b.quorum,
                b.team);
END $$;

-- The rule for who may vote by break-glass: `voter`'s address in the
-- break-glass team if break-glass is open on `r` and that team is still the
-- declared one (dropping it stops its open uses), else NULL.
CREATE OR REPLACE FUNCTION mpa.break_glass_address(r mpa.requests, voter regrole) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT a.email FROM mpa.break_glass_uses u JOIN mpa.break_glass b ON b.team = u.team
    JOIN mpa.approvers a ON a.team = u.team AND a.approver = voter
   WHERE u.request_id = r.id AND voter <> r.requester
$$;

-- Whether a vote on `r` is one only break-glass let in (its voter is no
-- approver of any of the request's teams): it counts toward the break-glass
-- quorum, never toward the regular tally.
CREATE OR REPLACE FUNCTION mpa.break_glass_only_vote(r mpa.requests, voter regrole) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT FROM mpa.break_glass_uses u WHERE u.request_id = r.id)
     AND NOT EXISTS (SELECT FROM mpa.approvers a JOIN mpa.teams_of(r) t ON t.team = a.team WHERE a.approver = voter)
$$;

-- The break-glass quorum check: 'approved' when break-glass is open on `r`
-- and as many members of its team as its quorum approved (each vote
-- confirmed by its code; the requester never votes; a member who rejected
-- does not count), else 'pending'.
CREATE OR REPLACE FUNCTION mpa.break_glass_outcome(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN count(*) >= min(u.quorum) THEN 'approved' ELSE 'pending' END
    FROM mpa.break_glass_uses u JOIN mpa.break_glass b ON b.team = u.team
    JOIN mpa.votes v ON v.request_id = u.request_id AND v.decision = 'approve' AND v.approver <> r.requester
   WHERE u.request_id = r.id
     AND EXISTS (SELECT FROM mpa.approvers a WHERE a.team = u.team AND a.approver = v.approver)
$$;

-- The break-glass quorum approved `r`: flagged, its review due, loud.
CREATE OR REPLACE FUNCTION mpa.break_glass_approved(r mpa.requests) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE u mpa.break_glass_uses;
BEGIN
  UPDATE mpa.requests SET break_glass = true WHERE id = r.id;
  UPDATE mpa.break_glass_uses SET review_due_at = now() + review_window WHERE request_id = r.id RETURNING * INTO u;
  PERFORM mpa.audit('break-glass approved', r.id, jsonb_build_object('break_glass', true, 'team', u.team,
    'quorum', u.quorum, 'review_due_at', u.review_due_at));
  RAISE WARNING 'pg_mpa: request % (% on %) approved by break-glass (team "%", % votes); team "%" must review it',
    r.id, r.operation, r.object, u.team, u.quorum, r.team;
  PERFORM mpa.finish(r, 'approved', format(E'BREAK-GLASS: %s votes of team "%s" approved it (reason: %s).\n'
    'Team "%s" must review it before %s with mpa_review(%s, ''confirm'' | ''dispute'', ''note'').\n'
    'The requester may run it once:\n  SELECT mpa_execute(%s);\nor re-run the identical statement.',
    u.quorum, u.team, u.reason, r.team, to_char(u.review_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
    r.id, r.id));
END $$;

-- The regular team's review of a break-glass approval: by an approver of
-- the request's team who neither requested it, opened the break-glass,
-- nor voted on it; once. A dispute is mailed to every approver at once.
CREATE OR REPLACE FUNCTION mpa_review(request_id bigint, verdict text, note text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  r mpa.requests;
  u mpa.break_glass_uses;
BEGIN
  PERFORM mpa.require(request_id, 'request_id');
  PERFORM mpa.require(verdict, 'verdict');
  IF verdict NOT IN ('confirm', 'dispute') THEN
    RAISE EXCEPTION 'verdict must be ''confirm'' or ''dispute'', not %', quote_literal(left(verdict, 40))
      USING ERRCODE = '22023';
  END IF;
  PERFORM mpa.check_explanation(note, 'note', 'what the review found');
  r := mpa.lock_request(request_id);
  SELECT * INTO u FROM mpa.break_glass_uses bu WHERE bu.request_id = r.id;
  IF NOT r.break_glass THEN
    RAISE EXCEPTION 'request % was not approved by break-glass: there is nothing to review', r.id
      USING ERRCODE = 'MP004';
  ELSIF NOT EXISTS (SELECT FROM mpa.approvers a JOIN mpa.teams_of(r) t ON t.team = a.team WHERE a.approver = me) THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', me, r.team USING ERRCODE = 'MP003';
  ELSIF me = r.requester OR me = u.opened_by
        OR EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = r.id AND v.approver = me) THEN
    RAISE EXCEPTION 'you took part in request %: another approver of team "%" reviews it', r.id, r.team
      USING ERRCODE = 'MP003';
  ELSIF EXISTS (SELECT FROM mpa.reviews v WHERE v.request_id = r.id) THEN
    RAISE EXCEPTION 'request % is already reviewed', r.id USING ERRCODE = 'MP004';
  END IF;
  INSERT INTO mpa.reviews (request_id, verdict, note, reviewer) VALUES (r.id, verdict, note, me);
  PERFORM mpa.audit('break-glass reviewed', r.id, jsonb_build_object('break_glass', true, 'verdict', verdict,
    'note', note, 'reviewer', me::text));
  IF verdict = 'dispute' THEN
    RAISE WARNING 'pg_mpa: the break-glass approval of request % is disputed by %', r.id, me;
    PERFORM mpa.mail_break_glass(r,
      format('[pg_mpa] BREAK-GLASS DISPUTED: request #%s, %s on %s', r.id, r.operation, r.object),
      format(E'%s, of team "%s", disputes the break-glass approval of request #%s:\n\n  %s\n\n'
              'It was opened by %s (reason: %s) and approved by team "%s".\n\n%s',
             me, r.team, r.id, note, u.opened_by, u.reason, u.team, mpa.request_summary(r)));
  END IF;
  RETURN format('request %s reviewed: %s', r.id, verdict);
END $$;

-- The worker, every round: break-glass approvals not reviewed within their
-- window are mailed to every approver, once (overdue_told_at is set in the
-- transaction that queues the mail).
CREATE OR REPLACE FUNCTION mpa.break_glass_reviews_overdue() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  u mpa.break_glass_uses;
  r mpa.requests;
BEGIN
  FOR u IN SELECT * FROM mpa.break_glass_uses bu
            WHERE bu.review_due_at <= now() AND bu.overdue_told_at IS NULL
              AND NOT EXISTS (SELECT FROM mpa.reviews v WHERE v.request_id = bu.request_id)
            FOR UPDATE SKIP LOCKED LOOP
    SELECT * INTO r FROM mpa.requests WHERE id = u.request_id;
    UPDATE mpa.break_glass_uses SET overdue_told_at = now() WHERE request_id = u.request_id;
    PERFORM mpa.audit('break-glass review overdue', r.id, jsonb_build_object('break_glass', true,
      'team', r.team, 'review_due_at', u.review_due_at));
    PERFORM mpa.mail_break_glass(r,
      format('[pg_mpa] BREAK-GLASS NOT REVIEWED: request #%s, %s on %s', r.id, r.operation, r.object),
      format(E'The break-glass approval of request #%s was due for review by team "%s" at %s, and nobody '
              'reviewed it. An approver of team "%s" who took no part reviews it with:\n\n'
              '  SELECT mpa_review(%s, ''confirm'', ''note'');\n  SELECT mpa_review(%s, ''dispute'', ''note'');\n\n'
              'It was opened by %s (reason: %s).\n\n%s',
             r.id, r.team, to_char(u.review_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), r.team,
             r.id, r.id, u.opened_by, u.reason, mpa.request_summary(r)));
  END LOOP;
END $$;

REVOKE ALL ON FUNCTION mpa.refuse(text, text, text, text), mpa.break_glass_longest_window(),
  mpa.mail_break_glass(mpa.requests, text, text), mpa.break_glass_address(mpa.requests, regrole),
  mpa.break_glass_only_vote(mpa.requests, regrole), mpa.break_glass_outcome(mpa.requests),
  mpa.break_glass_approved(mpa.requests), mpa.break_glass_reviews_overdue() FROM PUBLIC;
-- Configuration, as mpa_protect: superusers (and governed).
REVOKE ALL ON FUNCTION mpa_break_glass_team(text, int, interval), mpa_break_glass_team_drop() FROM PUBLIC;
