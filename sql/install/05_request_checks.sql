-- What every request function checks first: arguments, the text mails show,
-- who is mailed, the justification, the request rate, the possible quorum.

-- Errors of the SQL functions: pg_mpa's class MP for its own refusals.
--   MP001 approval required (the gate)    MP002 not protected
--   MP003 not allowed to vote / act        MP004 request not in a state for this
--   MP005 code refused                     22023/22004 bad input

-- Raises a clear error for NULL arguments (all SQL-facing functions).
CREATE OR REPLACE FUNCTION mpa.require(value anyelement, name text) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', name USING ERRCODE = '22004';
  END IF;
  RETURN value;
END $$;

-- A request's teams (docs/decisions.md, "Several teams"): its rows of
-- mpa.request_teams, or its one team. The first team first, the others by
-- name; position numbers them from 1 (the bit of a team in mpa.tally_teams).
CREATE OR REPLACE FUNCTION mpa.teams_of(r mpa.requests) RETURNS TABLE (team text, threshold int, "position" int)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT t.team, t.threshold, (row_number() OVER (ORDER BY t.team = r.team DESC, t.team))::int
    FROM (SELECT rt.team, rt.threshold FROM mpa.request_teams rt WHERE rt.request_id = r.id
          UNION ALL
          SELECT r.team, r.threshold WHERE NOT EXISTS (SELECT FROM mpa.request_teams rt WHERE rt.request_id = r.id)) t
   ORDER BY 3
$$;

-- 'team "dba"', or 'teams "dba" and "security"': how messages name them.
CREATE OR REPLACE FUNCTION mpa.teams_phrase(teams text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(teams) = 1 THEN format('team "%s"', teams[1])
              ELSE format('teams %s and "%s"',
                          array_to_string(ARRAY(SELECT format('"%s"', t) FROM unnest(teams[1:cardinality(teams) - 1]) t), ', '),
                          teams[cardinality(teams)]) END
$$;

-- The one tally of a request: its outcome ('pending', 'approved',
-- 'rejected'), per team the approvals counted and the threshold (tally:
-- [{"team", "votes", "threshold"}, ...], the first team first), and the
-- line mails show ("1 of 2 approvals"; of several teams "2 of 2 from dba,
-- 0 of 1 from security"). One team: as it always was (mpa.tally over the
-- approvers of the team besides the requester whose role exists, and every
-- vote cast but those only break-glass let in, which count toward its
-- quorum instead). Several: mpa.tally_teams over the approvers of any of the
-- teams as they are now, each vote counted for one team unless the request
-- recorded shared_votes; a vote of someone in none of the teams any more
-- counts for none. Called under the request's row lock when it decides.
CREATE OR REPLACE FUNCTION mpa.request_outcome(r mpa.requests, OUT outcome text, OUT tally jsonb, OUT summary text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  approvals int;
  rejections int;
  eligible int;
  teams text[];
  thresholds int[];
  memberships int[];
  votes text[];
  counted int[];
BEGIN
  SELECT array_agg(t.team ORDER BY t.position), array_agg(t.threshold ORDER BY t.position)
    INTO teams, thresholds FROM mpa.teams_of(r) t;
  IF cardinality(teams) = 1 THEN
    SELECT count(*) FILTER (WHERE v.decision = 'approve'), count(*) FILTER (WHERE v.decision = 'reject')
      INTO approvals, rejections FROM mpa.votes v
     WHERE v.request_id = r.id AND NOT mpa.break_glass_only_vote(r, v.approver);
    SELECT count(*) INTO eligible FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver
     WHERE a.team = r.team AND a.approver <> r.requester;
    eligible := greatest(eligible, approvals + rejections);
    outcome := mpa.tally(approvals, rejections, eligible, r.threshold);
    tally := jsonb_build_array(jsonb_build_object('team', r.team, 'votes', approvals, 'threshold', r.threshold));
    summary := format('%s of %s approvals', approvals, r.threshold);
    RETURN;
  END IF;
  SELECT coalesce(array_agg(m.member_of ORDER BY m.approver), '{}'),
         coalesce(array_agg(CASE WHEN m.approver = r.requester THEN 'requester' ELSE v.decision END
                            ORDER BY m.approver), '{}')
    INTO memberships, votes
    FROM (SELECT a.approver, bit_or(1 << (t.position - 1)) AS member_of
            FROM mpa.approvers a JOIN mpa.teams_of(r) t ON t.team = a.team
            JOIN pg_roles ro ON ro.oid = a.approver
           GROUP BY a.approver) m
    LEFT JOIN mpa.votes v ON v.request_id = r.id AND v.approver = m.approver;
  SELECT x.outcome, x.counted INTO outcome, counted
    FROM mpa.tally_teams(thresholds, memberships, votes, r.shared_votes) x;
  SELECT jsonb_agg(jsonb_build_object('team', teams[i], 'votes', counted[i], 'threshold', thresholds[i]) ORDER BY i),
         string_agg(format('%s of %s from %s', counted[i], thresholds[i], teams[i]), ', ' ORDER BY i)
    INTO tally, summary FROM generate_subscripts(teams, 1) i;
END $$;

-- Whether `voter` may vote on the request: the address of their
-- membership in one of its teams (the first team's first), or NULL.
CREATE OR REPLACE FUNCTION mpa.voter_address(r mpa.requests, voter regrole) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT a.email FROM mpa.approvers a JOIN mpa.teams_of(r) t ON t.team = a.team
   WHERE a.approver = voter ORDER BY t.position LIMIT 1
$$;

-- The text a request mail shows for a request.
CREATE OR REPLACE FUNCTION mpa.request_summary(r mpa.requests) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT format(E'Request:       #%s\nOperation:     %s on %s%s\nRequested by:  %s\n'
                 '%s\nExpires:       %s\n%s\n'
                 '%s:\n\n%s\n\nJustification:\n\n%s\n',
                r.id, r.operation, r.object,
                -- Another database's objects (docs/decisions.md, "Every database").
                CASE WHEN r.database IS NOT NULL THEN format(' in database %s', r.database) ELSE '' END,
                r.requester,
                -- Several teams: each with its threshold, and the tally so far.
                (SELECT CASE WHEN count(*) = 1
                             THEN format('Team:          %s (%s approval%s needed)', r.team, r.threshold,
                                         CASE WHEN r.threshold = 1 THEN '' ELSE 's' END)
                             ELSE format(E'Teams:         %s%s\nApprovals:     %s', string_agg(format(
                                    '%s (%s approval%s needed)', t.team, t.threshold,
                                    CASE WHEN t.threshold = 1 THEN '' ELSE 's' END), ', ' ORDER BY t.position),
                                    CASE WHEN r.shared_votes THEN ', a vote counting for each team of its voter'
                                         ELSE ', each vote counting for one team' END,
                                    (mpa.request_outcome(r)).summary) END
                   FROM mpa.teams_of(r) t),
                to_char(r.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                CASE WHEN r.valid_for IS NULL THEN ''
                     ELSE format(E'Duration:      %s after it runs; then pg_mpa runs: %s\n',
                                 r.valid_for, r.revoke_statement) END,
                CASE r.kind WHEN 'action' THEN 'Payload' ELSE 'Statement' END, r.statement, r.justification)
$$;

-- Mails every approver of the request's teams but `except_role`, once each
-- (at the address of their first team of the request).
CREATE OR REPLACE FUNCTION mpa.mail_team(r mpa.requests, kind text, subject text, body text, except_role regrole)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE a record;
BEGIN
  FOR a IN SELECT DISTINCT ON (ap.approver::text) ap.approver, ap.email
             FROM mpa.approvers ap JOIN mpa.teams_of(r) t ON t.team = ap.team
            WHERE ap.approver IS DISTINCT FROM except_role
            ORDER BY ap.approver::text, t.position LOOP
    PERFORM mpa.queue_mail(kind, a.email, subject, body,
                           greatest(60, extract(epoch FROM r.expires_at - now())::int), NULL, NULL, r.id);
  END LOOP;
END $$;

-- The confirmed address a requester registered for notices (mpa_notify_me),
-- or NULL.
-- Only while the role that registered it still holds its OID: a role
-- created later with a dropped one's OID gets nothing at the old address.
CREATE OR REPLACE FUNCTION mpa.notice_address(requester regrole) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT na.email FROM mpa.notice_addresses na JOIN pg_roles r ON r.oid = na.requester AND r.rolname = na.role_name
   WHERE na.requester = notice_address.requester
$$;

-- Mails the requester: at their approver address if they are an approver
-- somewhere, else at the address they registered for notices, if any.
CREATE OR REPLACE FUNCTION mpa.mail_requester(r mpa.requests, kind text, subject text, body text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE address text;
BEGIN
  SELECT email INTO address FROM mpa.approvers WHERE approver = r.requester
   ORDER BY team = r.team DESC, added_at LIMIT 1;
  address := coalesce(address, mpa.notice_address(r.requester));
  IF address IS NOT NULL THEN
    PERFORM mpa.queue_mail(kind, address, subject, body, 3 * 86400, NULL, NULL, r.id);
  END IF;
END $$;

-- Tells LISTENing applications, at commit, that a request changed state.
CREATE OR REPLACE FUNCTION mpa.announce(r mpa.requests, new_state text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_notify('mpa_events', json_build_object('request_id', r.id, 'kind', r.kind, 'state', new_state)::text)
$$;

-- Raises unless a person's explanation (`name`: a request's justification,
-- a break-glass reason, a review's note) says something, in at most 4000
-- characters.
CREATE OR REPLACE FUNCTION mpa.check_explanation(explanation text, name text, says text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(explanation, name);
  IF explanation !~ '[^[:space:]]' THEN
    RAISE EXCEPTION '% must say %', name, says USING ERRCODE = '22023';
  ELSIF length(explanation) > 4000 THEN
    RAISE EXCEPTION '% is too long (at most 4000 characters)', name USING ERRCODE = '22001';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION mpa.check_justification(justification text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.check_explanation(justification, 'justification', 'why the statement is needed')
$$;

-- Raises unless the team has enough approvers besides the requester.
-- A flood of requests (any login may make them) would bury the approvers'
-- mail and the requests worth their attention: mpa.max_requests_per_hour
-- per requester, counted over the last hour.
CREATE OR REPLACE FUNCTION mpa.check_request_rate(requester regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  allowed int := current_setting('mpa.max_requests_per_hour')::int;
  made int;
BEGIN
  IF allowed = 0 THEN
    RETURN;
  END IF;
  -- Counted under a lock per requester (held to the end of the
  -- transaction, so past its own insert): parallel sessions of one role
  -- cannot each make the full allowance.
  PERFORM pg_catalog.pg_advisory_xact_lock(7170048, (requester::oid::bigint - 2147483648)::int4);
  SELECT count(*) INTO made FROM ONLY mpa.requests r
   WHERE r.requester = check_request_rate.requester AND r.created_at > now() - interval '1 hour';
  IF made >= allowed THEN
    RAISE EXCEPTION 'role % made % requests in the last hour, the most mpa.max_requests_per_hour allows',
      requester, made USING ERRCODE = 'MP006',
      HINT = 'Wait, or ask the server''s administrator to raise mpa.max_requests_per_hour.';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION mpa.check_quorum_possible(t mpa.teams, requester regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE eligible int;
BEGIN
  -- Approvers whose role was dropped can no longer vote: they do not count.
  SELECT count(*) INTO eligible FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver
   WHERE a.team = t.name AND a.approver <> requester;
  IF eligible < t.threshold THEN
    RAISE EXCEPTION 'team "%" cannot approve this request: % approvers besides you, threshold %',
                    t.name, eligible, t.threshold USING ERRCODE = 'MP004',
      HINT = 'A superuser must add approvers or lower the team''s threshold.';
  END IF;
END $$;

