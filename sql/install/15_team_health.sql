-------------------------------------------------------------------------------
-- Team health: who can still approve, like AWS's team baselining.
-------------------------------------------------------------------------------

-- Per team: approvers whose role exists, those whose address is verified,
-- those active within mpa.approver_active_period, whether the verified
-- ones can still reach the threshold, the pending requests and the
-- break-glass approvals to review. A request of several teams
-- (mpa.request_teams) counts for each of them. The requests are counted
-- once for all teams (per_team), not in a subquery per team: estimated per
-- team over a never-analysed mpa.teams, those cost enough to be JIT
-- compiled on every read (140 ms for a few rows).
CREATE OR REPLACE VIEW mpa.team_health AS
  WITH counted_requests AS (
    -- Waiting ones (requests_open), and those break-glass approved (from
    -- the few uses, not a scan of every request).
    SELECT r.id, r.team, r.created_at, true AS waiting, false AS break_glass FROM mpa.requests r
     WHERE r.state = 'pending' AND r.expires_at > now()
    UNION ALL
    SELECT r.id, r.team, r.created_at, false, true FROM mpa.break_glass_uses u JOIN mpa.requests r ON r.id = u.request_id
     WHERE r.break_glass),
  per_team AS (
    SELECT of_team.team,
           count(*) FILTER (WHERE q.waiting) AS pending_requests,
           now() - min(q.created_at) FILTER (WHERE q.waiting) AS oldest_pending_age,
           -- Break-glass approvals not reviewed within their window, and
           -- those their reviewer disputed (mpa_review).
           count(*) FILTER (WHERE q.break_glass AND u.review_due_at <= now() AND v.request_id IS NULL)
             AS break_glass_unreviewed,
           count(*) FILTER (WHERE q.break_glass AND v.verdict = 'dispute') AS break_glass_disputed
      FROM counted_requests q
      CROSS JOIN LATERAL (SELECT q.team UNION SELECT rt.team FROM mpa.request_teams rt WHERE rt.request_id = q.id)
        AS of_team (team)
      LEFT JOIN mpa.break_glass_uses u ON u.request_id = q.id
      LEFT JOIN mpa.reviews v ON v.request_id = q.id
     GROUP BY of_team.team)
  SELECT t.name AS team, t.threshold,
         count(ro.oid) AS approvers,
         count(ro.oid) FILTER (WHERE a.verified_at IS NOT NULL) AS verified,
         count(ro.oid) FILTER (WHERE a.last_active_at >
                               now() - current_setting('mpa.approver_active_period')::interval) AS active,
         count(ro.oid) FILTER (WHERE a.verified_at IS NOT NULL) >= t.threshold AS quorum_reachable,
         t.baselined_at,
         count(ro.oid) FILTER (WHERE a.verified_at >= t.baselined_at) AS confirmed_since_baseline,
         coalesce(max(p.pending_requests), 0) AS pending_requests,
         max(p.oldest_pending_age) AS oldest_pending_age,
         coalesce(max(p.break_glass_unreviewed), 0) AS break_glass_unreviewed,
         coalesce(max(p.break_glass_disputed), 0) AS break_glass_disputed
    FROM mpa.teams t
    LEFT JOIN mpa.approvers a ON a.team = t.name
    -- An approver counts while their role can log in: it cannot be dropped
    -- or renamed while it is an approver, but NOLOGIN or an expired
    -- password keeps it from voting all the same.
    LEFT JOIN pg_roles ro ON ro.oid = a.approver AND ro.rolcanlogin
                         AND (ro.rolvaliduntil IS NULL OR ro.rolvaliduntil > now())
    LEFT JOIN per_team p ON p.team = t.name
   GROUP BY t.name, t.threshold, t.baselined_at;
GRANT SELECT ON mpa.team_health TO PUBLIC;

-- Asks every approver of the team to confirm their address by code now.
-- Returns how many were asked.
CREATE OR REPLACE FUNCTION mpa_team_baseline(team text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  a mpa.approvers;
  asked int := 0;
BEGIN
  UPDATE mpa.teams SET baselined_at = now() WHERE name = t.name;
  FOR a IN UPDATE mpa.approvers ap SET confirmation_started_at = now()
            WHERE ap.team = t.name AND EXISTS (SELECT FROM pg_roles ro WHERE ro.oid = ap.approver)
           RETURNING * LOOP
    PERFORM mpa.open_confirmation(a, a.email, format(
      'Team "%s" of pg_mpa is being baselined: every approver confirms their address now.', t.name));
    asked := asked + 1;
  END LOOP;
  PERFORM mpa.audit('baseline', NULL, jsonb_build_object('team', t.name, 'asked', asked));
  RETURN asked;
END $$;
REVOKE ALL ON FUNCTION mpa_team_baseline(text) FROM PUBLIC;

-- The worker, every round: a team whose verified approvers can no longer
-- reach its threshold is mailed to its members, once per fall.
CREATE OR REPLACE FUNCTION mpa.check_team_health() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE h record;
BEGIN
  FOR h IN SELECT th.*, t.quorum_reachable AS was_reachable FROM mpa.team_health th
             JOIN mpa.teams t ON t.name = th.team
            WHERE t.quorum_reachable IS DISTINCT FROM th.quorum_reachable
            FOR UPDATE OF t SKIP LOCKED LOOP
    UPDATE mpa.teams SET quorum_reachable = h.quorum_reachable WHERE name = h.team;
    IF h.was_reachable AND NOT h.quorum_reachable THEN
      PERFORM mpa.audit('quorum lost', NULL, jsonb_build_object('team', h.team, 'verified', h.verified,
        'threshold', h.threshold));
      PERFORM mpa.queue_mail('notice', a.email,
        format('[pg_mpa] team "%s" can no longer reach its threshold', h.team),
        format(E'Team "%s" needs %s approvals, but only %s of its approvers have a verified address '
                'and an existing role. Requests to this team cannot be approved until approvers are '
                'added or confirm their address (mpa_team_baseline).', h.team, h.threshold, h.verified),
        86400, NULL, NULL)
        FROM mpa.approvers a WHERE a.team = h.team;
    END IF;
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION mpa.check_team_health(), mpa.max_payload_bytes() FROM PUBLIC;

