-------------------------------------------------------------------------------
-- Configuration: teams, approvers, policies (superusers; docs/decisions.md).
-------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION mpa_team_create(team text, threshold int, description text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(threshold, 'threshold');
  PERFORM mpa.authorize_configuration('mpa_team_create', format('SELECT mpa_team_create(%L, %s, %L)', team, threshold, description));
  IF team !~ '^[A-Za-z0-9_][A-Za-z0-9_. -]{0,62}$' THEN
    RAISE EXCEPTION 'invalid team name %', quote_literal(left(team, 80)) USING ERRCODE = '22023',
      HINT = 'A team name is 1 to 63 letters, digits, spaces, dots, dashes or underscores.';
  END IF;
  IF threshold < 1 THEN
    RAISE EXCEPTION 'threshold must be at least 1, not %', threshold USING ERRCODE = '22023';
  END IF;
  IF length(description) > 1000 THEN
    RAISE EXCEPTION 'description is too long (at most 1000 characters)' USING ERRCODE = '22001';
  END IF;
  IF EXISTS (SELECT FROM mpa.teams t WHERE t.name = team) THEN
    RAISE EXCEPTION 'team "%" already exists', team USING ERRCODE = '42710';
  END IF;
  INSERT INTO mpa.teams (name, threshold, description) VALUES (team, threshold, description);
END $$;

CREATE OR REPLACE FUNCTION mpa.existing_team(team text) RETURNS mpa.teams
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE t mpa.teams;
BEGIN
  SELECT * INTO t FROM mpa.teams WHERE name = mpa.require(team, 'team') FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'team "%" does not exist', left(team, 80) USING ERRCODE = '22023';
  END IF;
  RETURN t;
END $$;
REVOKE ALL ON FUNCTION mpa.existing_team(text) FROM PUBLIC;

-- Opens a confirmation of an approver's address (`address`: the registered
-- one, or an approved new one) and mails its code there. `why` opens the mail.
CREATE OR REPLACE FUNCTION mpa.open_confirmation(a mpa.approvers, address text, why text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE c mpa.challenges;
BEGIN
  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = a.approver AND ch.state = 'open';
  INSERT INTO mpa.challenges (team, approver, decision, nonce, email, expires_at, key_id)
  VALUES (a.team, a.approver, 'confirm', mpa.new_nonce(), address,
          now() + current_setting('mpa.otp_ttl')::interval, mpa.code_key_id())
  RETURNING * INTO c;
  PERFORM mpa.audit('confirmation opened', NULL, jsonb_build_object('team', a.team, 'approver', a.approver::text,
    'challenge', c.id, 'to', mpa.mask_email(address)));
  PERFORM mpa.queue_mail('code', address,
    format('[pg_mpa] confirm your approver address for team "%s"', a.team),
    format(E'%s\n\nYour one-time code: {{code}}\n\n'
            'Connect as %s and confirm with:\n\n  SELECT mpa_confirm_email(%L, ''<code>'');\n\n'
            'The code is valid until %s. If you did not expect this mail, do not use the code '
            'and tell your security team.\n',
           why, a.approver, a.team, to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
    greatest(1, extract(epoch FROM c.expires_at - now())::int),
    format('confirm:%s:%s', a.team, a.approver::oid), c.id);
  RETURN format('a code to confirm the address was sent to %s; it is valid until %s', mpa.mask_email(address),
                to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
END $$;
REVOKE ALL ON FUNCTION mpa.open_confirmation(mpa.approvers, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION mpa_approver_add(team text, approver regrole, email text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  enrolled mpa.approvers;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.require(email, 'email');
  PERFORM mpa.authorize_configuration('mpa_approver_add', format('SELECT mpa_approver_add(%L, %L, %L)', t.name, approver, email));
  PERFORM mpa.check_email(email);
  IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = approver) THEN
    RAISE EXCEPTION 'role with OID % does not exist', approver::oid USING ERRCODE = '42704';
  END IF;
  IF EXISTS (SELECT FROM mpa.approvers a WHERE a.team = t.name AND a.approver = mpa_approver_add.approver) THEN
    RAISE EXCEPTION 'role % is already an approver of team "%"', approver, t.name USING ERRCODE = '42710';
  END IF;
  INSERT INTO mpa.approvers (team, approver, email, confirmation_started_at)
  VALUES (t.name, approver, email, now()) RETURNING * INTO enrolled;
  PERFORM mpa.open_confirmation(enrolled, email, format(
    'Role %s was enrolled as an approver of team "%s" of pg_mpa, with this address.', approver, t.name));
END $$;

CREATE OR REPLACE FUNCTION mpa_approver_remove(team text, approver regrole)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  remaining int;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.authorize_configuration('mpa_approver_remove', format('SELECT mpa_approver_remove(%L, %L)', t.name, approver));
  DELETE FROM mpa.approvers a WHERE a.team = t.name AND a.approver = mpa_approver_remove.approver;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', approver, t.name USING ERRCODE = '22023';
  END IF;
  SELECT count(*) INTO remaining FROM mpa.approvers a WHERE a.team = t.name;
  IF remaining < t.threshold AND (EXISTS (SELECT FROM mpa.policies p WHERE p.team = t.name)
                                  OR EXISTS (SELECT FROM mpa.policy_teams pt WHERE pt.team = t.name)) THEN
    RAISE EXCEPTION 'team "%" would have % approvers, fewer than its threshold of %',
                    t.name, remaining, t.threshold USING ERRCODE = 'MP004',
      HINT = 'Lower the threshold with mpa_team_set_threshold() first, or add an approver.';
  END IF;
END $$;

-- A new address for an approver (a configuration change: once a team
-- governs, it needs an approved request). The new address takes over only
-- once it has confirmed a code; the old one is told at once, and again
-- when the change takes effect.
CREATE OR REPLACE FUNCTION mpa_approver_set_email(team text, approver regrole, email text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  a mpa.approvers;
BEGIN
  PERFORM mpa.require(approver, 'approver');
  PERFORM mpa.require(email, 'email');
  PERFORM mpa.authorize_configuration('mpa_approver_set_email', format('SELECT mpa_approver_set_email(%L, %L, %L)', t.name, approver, email));
  PERFORM mpa.check_email(email);
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = t.name AND ap.approver = mpa_approver_set_email.approver FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', approver, t.name USING ERRCODE = '22023';
  ELSIF a.email = email THEN
    RAISE EXCEPTION '% is already the address of % in team "%"', email, approver, t.name USING ERRCODE = '22023';
  END IF;
  UPDATE mpa.approvers ap SET pending_email = mpa_approver_set_email.email, confirmation_started_at = now()
   WHERE ap.team = t.name AND ap.approver = a.approver RETURNING * INTO a;
  PERFORM mpa.queue_mail('notice', a.email,
    format('[pg_mpa] your approver address for team "%s" is being changed', t.name),
    format(E'The address at which role %s approves for team "%s" is being changed to %s.\n'
            'Until the new address confirms a code, your codes still come here.\n\n'
            'If you did not ask for this, tell your security team now.\n',
           a.approver, t.name, mpa.mask_email(email)),
    86400, NULL, NULL);
  RETURN mpa.open_confirmation(a, email, format(
    'This address is to become the approver address of role %s in team "%s" of pg_mpa.', a.approver, t.name));
END $$;

-- The approver confirms their address (or an approved new one) with the
-- code mailed there.
-- A function that takes a code notes the submission before anything that
-- could wait on a lock (src/pg/approval/code_submission.hpp): a call that does not
-- reach the code's check burns the approver's codes. The work is done by
-- the internal function it then calls.
CREATE OR REPLACE FUNCTION mpa_confirm_email(team text, code text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.code_submitted();
  SELECT mpa.confirm_email(team, code);
$$;

CREATE OR REPLACE FUNCTION mpa.confirm_email(team text, code text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  a mpa.approvers;
  c mpa.challenges;
BEGIN
  IF team IS NULL OR code IS NULL THEN
    PERFORM mpa.code_settled();
  END IF;
  PERFORM mpa.require(team, 'team');
  PERFORM mpa.require(code, 'code');
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = confirm_email.team AND ap.approver = me FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', me, left(team, 80) USING ERRCODE = 'MP003';
  END IF;
  SELECT * INTO c FROM mpa.challenges ch
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = me AND ch.state = 'open'
   ORDER BY ch.id DESC LIMIT 1;
  IF NOT FOUND OR c.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'no confirmation code is waiting for you in team "%"', a.team USING ERRCODE = 'MP005',
      HINT = format('Ask for one: SELECT mpa_confirm_email_resend(%L);', a.team);
  END IF;
  PERFORM mpa.accept_code(c, code);
  UPDATE mpa.challenges SET state = 'used' WHERE id = c.id;
  IF c.email = a.pending_email THEN
    UPDATE mpa.approvers ap SET email = ap.pending_email, pending_email = NULL, verified_at = now(),
                                last_active_at = now()
     WHERE ap.team = a.team AND ap.approver = me;
    PERFORM mpa.queue_mail('notice', a.email,
      format('[pg_mpa] your approver address for team "%s" was changed', a.team),
      format(E'From now on, the codes of role %s in team "%s" go to %s, which confirmed a code.\n\n'
              'If you did not ask for this, tell your security team now.\n',
             me, a.team, mpa.mask_email(c.email)),
      86400, NULL, NULL);
    PERFORM mpa.audit('address changed', NULL, jsonb_build_object('team', a.team, 'approver', me::text,
      'from', mpa.mask_email(a.email), 'to', mpa.mask_email(c.email)));
    RETURN format('your address for team "%s" is now %s', a.team, mpa.mask_email(c.email));
  END IF;
  UPDATE mpa.approvers ap SET verified_at = now(), last_active_at = now()
   WHERE ap.team = a.team AND ap.approver = me AND ap.email = c.email;
  PERFORM mpa.audit('address confirmed', NULL, jsonb_build_object('team', a.team, 'approver', me::text,
    'address', mpa.mask_email(c.email)));
  RETURN format('your address for team "%s" (%s) is confirmed', a.team, mpa.mask_email(c.email));
END $$;

-- Internal: only below mpa_confirm_email. (The REVOKE of
-- 08_configuration_doors.sql covers only the functions made before it in a
-- fresh install.)
REVOKE ALL ON FUNCTION mpa.confirm_email(text, text) FROM PUBLIC;

-- A new confirmation code, to the address being confirmed.
CREATE OR REPLACE FUNCTION mpa_confirm_email_resend(team text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  a mpa.approvers;
  last_code timestamptz;
BEGIN
  PERFORM mpa.require(team, 'team');
  SELECT * INTO a FROM mpa.approvers ap WHERE ap.team = mpa_confirm_email_resend.team AND ap.approver = me FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'role % is not an approver of team "%"', me, left(team, 80) USING ERRCODE = 'MP003';
  END IF;
  -- As for votes (mpa.open_challenge): a code of a key gone holds nothing back.
  SELECT max(created_at) INTO last_code FROM mpa.challenges ch
   WHERE ch.request_id IS NULL AND ch.team = a.team AND ch.approver = me AND ch.key_id = mpa.code_key_id();
  IF last_code > now() - current_setting('mpa.resend_cooldown')::interval THEN
    RAISE EXCEPTION 'a code was sent less than % ago', current_setting('mpa.resend_cooldown') USING ERRCODE = 'MP005';
  END IF;
  -- Tries are counted together for mpa.request_ttl from the start of a
  -- confirmation; after that, a fresh start.
  IF a.confirmation_started_at IS NULL
     OR a.confirmation_started_at <= now() - current_setting('mpa.request_ttl')::interval THEN
    UPDATE mpa.approvers ap SET confirmation_started_at = now()
     WHERE ap.team = a.team AND ap.approver = me RETURNING * INTO a;
  ELSIF mpa.voter_locked_out(0, a.confirmation_started_at) THEN
    RAISE EXCEPTION 'too many wrong codes for the confirmation of your address for team "%": ask again later', a.team
      USING ERRCODE = 'MP005';
  END IF;
  RETURN mpa.open_confirmation(a, coalesce(a.pending_email, a.email),
    format('Role %s asked for a new code to confirm this address for team "%s" of pg_mpa.', me, a.team));
END $$;

CREATE OR REPLACE FUNCTION mpa_team_set_threshold(team text, threshold int)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t mpa.teams := mpa.existing_team(team);
BEGIN
  PERFORM mpa.require(threshold, 'threshold');
  PERFORM mpa.authorize_configuration('mpa_team_set_threshold', format('SELECT mpa_team_set_threshold(%L, %s)', t.name, threshold));
  PERFORM mpa.check_threshold(threshold, (SELECT count(*)::int FROM mpa.approvers a WHERE a.team = t.name));
  UPDATE mpa.teams SET threshold = mpa_team_set_threshold.threshold WHERE name = t.name;
END $$;

-- Removes a team (a configuration change: once a team governs, it needs an
-- approved request). Refused while a policy names it (the governing team's
-- MPA CONFIGURE policy among them), or a request of it is open or a
-- temporary grant it approved is in force: those need its approvers. Its
-- approvers' memberships go with it (a role in no other team is then free
-- to be dropped); its closed requests keep its name as the record.
CREATE OR REPLACE FUNCTION mpa_team_drop(team text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t mpa.teams := mpa.existing_team(team);
  named int;
  example text;
  removed text[];
BEGIN
  PERFORM mpa.authorize_configuration('mpa_team_drop', format('SELECT mpa_team_drop(%L)', t.name));
  SELECT count(*), min(format('%s on %s', p.operation, p.object)) INTO named, example
    FROM mpa.policies p
   WHERE p.team = t.name OR EXISTS (SELECT FROM mpa.policy_teams pt WHERE pt.policy_id = p.id AND pt.team = t.name);
  IF named > 0 THEN
    RAISE EXCEPTION 'team "%" still approves % (% %)', t.name, example, named,
      CASE named WHEN 1 THEN 'policy' ELSE 'policies' END USING ERRCODE = 'MP004',
      HINT = 'Give its policies to another team with mpa_protect(), or remove them with mpa_unprotect(), first.';
  END IF;
  IF EXISTS (SELECT FROM mpa.break_glass b WHERE b.team = t.name) THEN
    RAISE EXCEPTION 'team "%" is the break-glass team', t.name USING ERRCODE = 'MP004',
      HINT = 'Remove it as such with mpa_break_glass_team_drop() first.';
  END IF;
  SELECT count(*), min('#' || r.id) INTO named, example FROM mpa.requests r
   WHERE (r.team = t.name OR EXISTS (SELECT FROM mpa.request_teams rt WHERE rt.request_id = r.id AND rt.team = t.name))
     AND (r.state IN ('pending', 'approved', 'executing')
         OR EXISTS (SELECT FROM mpa.temporary_grants g WHERE g.request_id = r.id AND g.revoked_at IS NULL));
  IF named > 0 THEN
    RAISE EXCEPTION 'team "%" has % open % (%), or temporary grants in force', t.name, named,
      CASE named WHEN 1 THEN 'request' ELSE 'requests' END, example USING ERRCODE = 'MP004',
      HINT = 'Wait until they are decided, executed, expired or revoked, or have them cancelled (mpa_cancel).';
  END IF;
  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.request_id IS NULL AND ch.team = t.name AND ch.state = 'open';
  WITH gone AS (DELETE FROM mpa.approvers a WHERE a.team = t.name RETURNING a.approver)
  SELECT coalesce(array_agg(approver::text ORDER BY approver::text), '{}') INTO removed FROM gone;
  DELETE FROM mpa.teams WHERE name = t.name;
  PERFORM mpa.audit('team dropped', NULL, jsonb_build_object('team', t.name, 'approvers', to_jsonb(removed)));
END $$;

-- database: whose objects (NULL: mpa.database's; '*': every database's;
-- a name: that database's), docs/decisions.md "Every database". The call
-- as requested names it only when it is not mpa.database.
--
-- teams: several teams, each of which must reach its own threshold
-- (docs/decisions.md, "Several teams"); shared_votes: whether a vote counts
-- for every team of its voter or for one.
CREATE OR REPLACE FUNCTION mpa_protect(operation text, object text DEFAULT '*', team text DEFAULT NULL,
                                       database text DEFAULT NULL, mode text DEFAULT 'enforce',
                                       teams text[] DEFAULT NULL, shared_votes boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  op text := mpa.canonical_operation(mpa.require(operation, 'operation'));
  obj text := mpa.canonical_object(mpa.require(object, 'object'));
  db text := mpa.policy_database(op, database);
  t mpa.teams;
  named text[];
  first_governor boolean;
  saved mpa.policies;
BEGIN
  -- Checked before authorisation, so that a request is never made for a
  -- call that cannot succeed. MPA CONFIGURE is never dry-run: a governance
  -- that only records would be none. A dry-run policy may reach other
  -- databases: the published copy carries its mode.
  IF mode IS NULL OR mode NOT IN ('enforce', 'dry-run') THEN
    RAISE EXCEPTION 'mode must be ''enforce'' or ''dry-run''' USING ERRCODE = '22023';
  END IF;
  IF mode = 'dry-run' AND op = 'MPA CONFIGURE' THEN
    RAISE EXCEPTION 'MPA CONFIGURE cannot be protected in dry-run mode' USING ERRCODE = '22023',
      DETAIL = 'pg_mpa''s own configuration is always governed by an enforcing policy.';
  END IF;
  PERFORM mpa.require(shared_votes, 'shared_votes');
  -- Several teams: a list of existing teams, each once, at most 8 (the
  -- tally looks at every subset of them; and 8 names of at most 63
  -- characters, joined, fill exactly the slot published for the other
  -- databases: kPolicyTeamsBytes, src/pg/shared/shared_state.hpp). Not yet
  -- for pg_mpa's own configuration.
  IF teams IS NOT NULL THEN
    IF team IS NOT NULL THEN
      RAISE EXCEPTION 'give team or teams, not both' USING ERRCODE = '22023';
    ELSIF cardinality(teams) = 0 OR array_ndims(teams) <> 1 THEN
      RAISE EXCEPTION 'teams must list at least one team' USING ERRCODE = '22023';
    ELSIF array_position(teams, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'teams must not hold NULL' USING ERRCODE = '22023';
    ELSIF cardinality(teams) > 8 THEN
      RAISE EXCEPTION 'a policy names at most 8 teams, not %', cardinality(teams) USING ERRCODE = '22023';
    ELSIF (SELECT count(DISTINCT x) FROM unnest(teams) x) <> cardinality(teams) THEN
      RAISE EXCEPTION 'teams names a team twice' USING ERRCODE = '22023';
    ELSIF cardinality(teams) > 1 AND op = 'MPA CONFIGURE' THEN
      RAISE EXCEPTION 'MPA CONFIGURE is approved by one team' USING ERRCODE = '22023',
        HINT = 'Several teams are for the statements pg_mpa protects, not yet for its own configuration.';
    END IF;
    FOR i IN 1 .. cardinality(teams) LOOP
      IF NOT EXISTS (SELECT FROM mpa.teams tm WHERE tm.name = teams[i]) THEN
        RAISE EXCEPTION 'team "%" does not exist', left(teams[i], 80) USING ERRCODE = '22023';
      END IF;
    END LOOP;
  END IF;
  PERFORM mpa.authorize_configuration('mpa_protect', format('SELECT mpa_protect(%L, %L, %s%s%s%s)', op, obj,
    CASE WHEN teams IS NOT NULL THEN 'teams => ' || quote_literal(teams::text) || '::text[]'
         ELSE quote_nullable(team) END,
    CASE WHEN db IS NOT NULL THEN format(', database => %L', db) ELSE '' END,
    CASE WHEN mode <> 'enforce' THEN format(', mode => %L', mode) ELSE '' END,
    CASE WHEN shared_votes THEN ', shared_votes => true' ELSE '' END));
  IF teams IS NOT NULL THEN
    team := teams[1];
  END IF;
  IF team IS NULL THEN
    IF (SELECT count(*) FROM mpa.teams) <> 1 THEN
      RAISE EXCEPTION 'name the team that approves % on %', op, obj USING ERRCODE = '22023',
        HINT = 'team may be left out only while there is exactly one team.';
    END IF;
    SELECT * INTO t FROM mpa.teams;
  ELSE
    t := mpa.existing_team(team);
  END IF;
  named := coalesce(teams, ARRAY[t.name]);
  FOR i IN 1 .. cardinality(named) LOOP
    t := mpa.existing_team(named[i]);
    IF (SELECT count(*) FROM mpa.approvers a WHERE a.team = t.name) < t.threshold THEN
      RAISE EXCEPTION 'team "%" has fewer approvers than its threshold of %', t.name, t.threshold
        USING ERRCODE = 'MP004', HINT = 'Add approvers with mpa_approver_add() first.';
    END IF;
  END LOOP;
  t := mpa.existing_team(named[1]);
  first_governor := NOT EXISTS (SELECT FROM mpa.policies p WHERE p.operation = 'MPA CONFIGURE');
  -- Switching a pattern's mode or its teams is this same governed call.
  INSERT INTO mpa.policies (operation, object, team, database, mode, shared_votes)
    VALUES (op, obj, t.name, db, mode, shared_votes)
    ON CONFLICT ON CONSTRAINT policies_operation_object_database_key
    DO UPDATE SET team = excluded.team, mode = excluded.mode, shared_votes = excluded.shared_votes
    RETURNING * INTO saved;
  -- Several teams: all of them in mpa.policy_teams (the first one too);
  -- one team: no rows.
  DELETE FROM mpa.policy_teams pt WHERE pt.policy_id = saved.id;
  IF cardinality(named) > 1 THEN
    INSERT INTO mpa.policy_teams (policy_id, team) SELECT saved.id, x FROM unnest(named) x;
  END IF;
  -- The other databases' gates read the policies that reach them from
  -- shared memory, which holds so many: refused here, where the DBA sees
  -- it, rather than left ungated there.
  IF mpa.reaches_other_databases(op, db) AND (SELECT count(*) FROM mpa.policies p
      WHERE mpa.reaches_other_databases(p.operation, p.database)) > mpa.published_policy_slots() THEN
    RAISE EXCEPTION 'more than % policies would reach databases other than this one', mpa.published_policy_slots()
      USING ERRCODE = 'MP004', HINT = 'Write fewer, broader policies (schema.*, ''*'').';
  END IF;
  -- Governance starts when this transaction commits: the transaction that
  -- made the first policy on MPA CONFIGURE finishes its set-up
  -- (mpa.governance_begins; mpa.authorize_configuration).
  IF first_governor AND op = 'MPA CONFIGURE' THEN
    PERFORM mpa.governance_begins();
  END IF;
  -- Secure by default: the team of the first policy governs pg_mpa too,
  -- unless a team was named to govern it before. (A server may opt out with
  -- mpa.govern_from_first_policy = off: test fixtures do.)
  IF op <> 'MPA CONFIGURE' AND current_setting('mpa.govern_from_first_policy')::boolean AND first_governor THEN
    INSERT INTO mpa.policies (operation, object, team) VALUES ('MPA CONFIGURE', '*', t.name);
    PERFORM mpa.governance_begins();
    RAISE NOTICE 'team "%" now governs pg_mpa as well', t.name
      USING DETAIL = 'From the end of this transaction, changes to teams, approvers and policies '
                     'need its approval (mpa_request, then mpa_execute).',
            HINT = 'To have another team govern pg_mpa, protect MPA CONFIGURE for it first, '
                   'or in the same transaction.';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION mpa_unprotect(operation text, object text DEFAULT '*', database text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  op text := mpa.canonical_operation(mpa.require(operation, 'operation'));
  obj text := mpa.canonical_object(mpa.require(object, 'object'));
  db text := database;
BEGIN
  -- A policy for a database dropped since can still be removed: only a
  -- name that stands for mpa.database is normalised (as mpa_protect stores it).
  IF db IS NOT NULL AND db <> '*' AND EXISTS (SELECT FROM pg_database d WHERE d.datname = db) THEN
    db := mpa.policy_database(op, db);
  END IF;
  PERFORM mpa.authorize_configuration('mpa_unprotect', format('SELECT mpa_unprotect(%L, %L%s)', op, obj,
    CASE WHEN db IS NOT NULL THEN format(', database => %L', db) ELSE '' END));
  DELETE FROM mpa.policies p WHERE p.operation = op AND p.object = obj AND p.database IS NOT DISTINCT FROM db;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no policy protects % on %', op,
      obj || CASE WHEN db IS NOT NULL THEN format(' in database %s', db) ELSE '' END USING ERRCODE = '22023';
  END IF;
END $$;

REVOKE ALL ON FUNCTION mpa_team_create(text, int, text), mpa_approver_add(text, regrole, text),
  mpa_approver_remove(text, regrole), mpa_team_set_threshold(text, int),
  mpa_approver_set_email(text, regrole, text), mpa_protect(text, text, text, text, text, text[], boolean),
  mpa_unprotect(text, text, text),
  mpa_team_drop(text)
  FROM PUBLIC;

