-- Codes: what binds each challenge's code, what the worker tells an
-- approver about their codes, and the check of a submitted code.

-- What binds each challenge's code (src/pg/approval/challenge_code.hpp) and how its
-- tries are counted: a vote's code is bound to its request and statement,
-- and its tries are counted together for the request's life; a
-- confirmation's code is bound to the address, and its tries are counted
-- together from the start of the confirmation for mpa.request_ttl.
CREATE OR REPLACE VIEW mpa.challenge_bindings AS
  SELECT c.id, coalesce(c.request_id, 0) AS request_id,
         coalesce(r.fingerprint, 'address:' || c.email) AS fingerprint,
         c.approver, c.decision, c.nonce, c.state, c.created_at, c.expires_at,
         coalesce(r.created_at, a.confirmation_started_at, c.created_at) AS counted_from,
         coalesce(r.expires_at, a.confirmation_started_at + current_setting('mpa.request_ttl')::interval,
                  c.expires_at) AS counted_until,
         c.key_id
    FROM mpa.challenges c
    LEFT JOIN mpa.requests r ON r.id = c.request_id
    LEFT JOIN mpa.approvers a ON c.request_id IS NULL AND a.team = c.team AND a.approver = c.approver;
REVOKE ALL ON mpa.challenge_bindings FROM PUBLIC;

-- What a code was for, and how to ask for a new one (said in notices).
CREATE OR REPLACE FUNCTION mpa.challenge_purpose(c mpa.challenges) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN c.decision = 'notices' THEN 'the confirmation of your address for notices'
              WHEN c.request_id IS NULL THEN format('the confirmation of your address for team "%s"', c.team)
              ELSE format('request #%s', c.request_id) END
$$;
CREATE OR REPLACE FUNCTION mpa.challenge_retry(c mpa.challenges) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN c.decision = 'notices' THEN format('SELECT mpa_notify_me(%L);', c.email)
              WHEN c.request_id IS NULL THEN format('SELECT mpa_confirm_email_resend(%L);', c.team)
              ELSE format('SELECT mpa_resend(%s);', c.request_id) END
$$;

-- What the worker tells an approver about their codes (src/pg/worker/housekeeping.cpp):
-- a code that died of wrong tries ('dead'), a lock-out from a request
-- ('locked'), or their budget of wrong codes spent ('budget': over every
-- request, mpa.max_wrong_codes_per_hour and _per_day), named by the code of
-- the try that spent it; or a code mail the worker did not send because its
-- code was made by a key this server does not have ('key gone': queued on
-- the old primary before a failover, or before a restart). Also recorded in
-- the audit.
CREATE OR REPLACE FUNCTION mpa.tell_code_notice(challenge_id bigint, kind text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE c mpa.challenges;
BEGIN
  SELECT * INTO c FROM mpa.challenges WHERE id = challenge_id;
  IF NOT FOUND THEN RETURN; END IF;
  PERFORM mpa.queue_mail('notice', c.email,
    CASE kind WHEN 'locked' THEN format('[pg_mpa] locked out of %s', mpa.challenge_purpose(c))
              WHEN 'budget' THEN '[pg_mpa] too many wrong codes in your name'
              WHEN 'key gone' THEN format('[pg_mpa] your code for %s was not sent', mpa.challenge_purpose(c))
              ELSE format('[pg_mpa] your code for %s no longer works', mpa.challenge_purpose(c)) END,
    CASE kind
      WHEN 'locked' THEN format(E'Too many wrong codes were entered in your name for %s.\n'
                                || 'No more codes are accepted for it. If this was not you, tell your '
                                || E'security team: someone may be guessing your codes.\n', mpa.challenge_purpose(c))
      WHEN 'budget' THEN format(E'Too many wrong codes were entered in your name lately (the last one for %s):\n'
                                || 'at most %s an hour and %s a day, over every request. No code of yours '
                                || E'is accepted for a while.\n'
                                || E'If this was not you, tell your security team: someone may be guessing your codes.\n',
                                mpa.challenge_purpose(c), current_setting('mpa.max_wrong_codes_per_hour'),
                                current_setting('mpa.max_wrong_codes_per_day'))
      WHEN 'key gone' THEN format(E'The code you asked for %s at %s was not sent: the server restarted or\n'
                                  || E'failed over to a standby before mailing it, and a code can only be\n'
                                  || E'checked by the server that made it. If an earlier copy of it reached\n'
                                  || E'you, it no longer works either.\nTo ask for a new one: %s\n',
                                  mpa.challenge_purpose(c),
                                  to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                                  mpa.challenge_retry(c))
      ELSE format(E'Your one-time code for %s was entered wrongly too often and '
                  || E'no longer works.\nTo ask for a new one: %s\n'
                  || E'If this was not you, tell your security team.\n', mpa.challenge_purpose(c), mpa.challenge_retry(c))
    END,
    86400, NULL, NULL, c.request_id);
  PERFORM mpa.audit(CASE kind WHEN 'locked' THEN 'locked out' WHEN 'budget' THEN 'guess budget spent'
                              WHEN 'key gone' THEN 'code not sent' ELSE 'code dead' END,
                    c.request_id, jsonb_build_object('challenge', c.id, 'approver', c.approver::text));
END $$;

-- Checks a code against its challenge (the try is counted in shared memory
-- before the comparison: neither an error nor a ROLLBACK gives it back) and
-- raises unless it was right.
CREATE OR REPLACE FUNCTION mpa.accept_code(c mpa.challenges, code text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE checked record := mpa.check_code(c.id, code);
BEGIN
  IF checked.outcome = 'wrong' THEN
    RAISE EXCEPTION 'wrong code; % left for this code', CASE checked.tries_left WHEN 1 THEN '1 try' ELSE checked.tries_left || ' tries' END USING ERRCODE = 'MP005';
  ELSIF checked.outcome = 'budget' THEN
    RAISE EXCEPTION 'too many wrong codes were entered in your name lately: no code of yours is accepted until %',
      to_char(checked.budget_back_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') USING ERRCODE = 'MP005',
      HINT = 'If this was not you, tell your security team: someone may be guessing your codes.';
  ELSIF checked.outcome = 'locked' THEN
    RAISE EXCEPTION '%', CASE WHEN c.request_id IS NULL
        THEN format('too many wrong codes for %s: ask again later', mpa.challenge_purpose(c))
        ELSE format('too many wrong codes for request %s: you can no longer vote on it', c.request_id) END
      USING ERRCODE = 'MP005';
  ELSIF checked.outcome = 'key gone' THEN
    RAISE EXCEPTION 'this code was issued before the server restarted or failed over, and can no longer be used'
      USING ERRCODE = 'MP005', HINT = 'No try was counted. Ask for a new one: ' || mpa.challenge_retry(c);
  ELSIF checked.outcome <> 'accepted' THEN
    RAISE EXCEPTION 'this code can no longer be used' USING ERRCODE = 'MP005',
      HINT = 'Ask for a new one: ' || mpa.challenge_retry(c);
  END IF;
END $$;

