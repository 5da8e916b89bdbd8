-------------------------------------------------------------------------------
-- Notices for a requester who is not an approver (#20; docs/decisions.md,
-- "Mail that says where and links there"): the session role registers an
-- address, which takes effect once it confirmed a code mailed there, as an
-- approver's address does (mpa_confirm_email). Identity is session_user:
-- nobody registers an address for another role's notices without being
-- that role, and then the address they give must confirm a code, and the
-- address before is told.
-------------------------------------------------------------------------------

-- Registers `email` for the caller's notices: mails it a code (confirmed
-- with mpa_confirm_email_for_notices), tells the address before. Again
-- with the same address: a new code (not within mpa.resend_cooldown).
CREATE OR REPLACE FUNCTION mpa_notify_me(email text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  me regrole := session_user::regrole;
  n mpa.notice_addresses;
  c mpa.challenges;
  last_code timestamptz;
BEGIN
  PERFORM mpa.require(email, 'email');
  PERFORM mpa.check_email(email);
  -- Any login may call this: without a cooldown it would mail codes to any
  -- address as fast as it is called. (A code of a key gone holds nothing back.)
  SELECT max(ch.created_at) INTO last_code FROM mpa.challenges ch
   WHERE ch.decision = 'notices' AND ch.approver = me AND ch.key_id = mpa.code_key_id();
  IF last_code > now() - current_setting('mpa.resend_cooldown')::interval THEN
    RAISE EXCEPTION 'a code was sent less than % ago', current_setting('mpa.resend_cooldown') USING ERRCODE = 'MP005';
  END IF;
  -- A row left by a dropped role whose OID this role now has is not this
  -- role's: its address is forgotten, not told, not kept.
  INSERT INTO mpa.notice_addresses AS na (requester, role_name, pending_email) VALUES (me, session_user, email)
  ON CONFLICT (requester) DO UPDATE
    SET pending_email = excluded.pending_email, registered_at = now(), role_name = excluded.role_name,
        email = CASE WHEN na.role_name = excluded.role_name THEN na.email END,
        confirmed_at = CASE WHEN na.role_name = excluded.role_name THEN na.confirmed_at END
  RETURNING * INTO n;
  UPDATE mpa.challenges ch SET state = 'superseded'
   WHERE ch.decision = 'notices' AND ch.approver = me AND ch.state = 'open';
  INSERT INTO mpa.challenges (approver, decision, nonce, email, expires_at, key_id)
  VALUES (me, 'notices', mpa.new_nonce(), email, now() + current_setting('mpa.otp_ttl')::interval,
          mpa.code_key_id())
  RETURNING * INTO c;
  PERFORM mpa.audit('notice address registered', NULL, jsonb_build_object('requester', me::text,
    'challenge', c.id, 'to', mpa.mask_email(email)));
  PERFORM mpa.queue_mail('code', email, '[pg_mpa] confirm your address for notices',
    format(E'Role %s asked pg_mpa to send the notices about its requests to this address.\n\n'
            'Your one-time code: {{code}}\n\n'
            'Connect as %s and confirm with:\n\n  SELECT mpa_confirm_email_for_notices(''<code>'');\n\n'
            'The code is valid until %s. If you did not expect this mail, do not use the code '
            'and tell your security team.\n',
           me, me, to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
    greatest(1, extract(epoch FROM c.expires_at - now())::int), format('notices:%s', me::oid), c.id);
  IF n.email IS NOT NULL AND n.email <> email THEN
    PERFORM mpa.queue_mail('notice', n.email, '[pg_mpa] your address for notices is being changed',
      format(E'Role %s asked for the notices about its requests to go to %s instead of here.\n'
              'Until that address confirms a code, they still come here.\n\n'
              'If you did not ask for this, tell your security team now.\n', me, mpa.mask_email(email)),
      86400, NULL, NULL);
  END IF;
  RETURN format('a code to confirm the address was sent to %s; it is valid until %s', mpa.mask_email(email),
                to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
END $$;

-- Confirms the caller's pending address for notices with its code. (Its
-- name begins like mpa_confirm_email's, so the log hook blanks the codes
-- typed into it: src/core/code_redaction.cpp.)
CREATE OR REPLACE FUNCTION mpa_confirm_email_for_notices(code text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT mpa.code_submitted();
  SELECT mpa.confirm_notices(code);
$$;

-- The caller's registration (n) and its newest open code (c).
CREATE OR REPLACE FUNCTION mpa.confirm_notices(code text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE n mpa.notice_addresses; c mpa.challenges; me regrole := session_user::regrole;
BEGIN
  -- A NULL code reaches no check: the submission is settled, not burned.
  IF code IS NULL THEN PERFORM mpa.code_settled(); END IF;
  PERFORM mpa.require(code, 'code');
  SELECT * INTO n FROM mpa.notice_addresses na WHERE na.requester = me FOR UPDATE;
  SELECT * INTO c FROM mpa.challenges ch
   WHERE ch.decision = 'notices' AND ch.approver = me AND ch.state = 'open'
   ORDER BY ch.id DESC LIMIT 1;
  IF n.requester IS NULL OR c.id IS NULL OR c.expires_at <= statement_timestamp() THEN
    RAISE EXCEPTION 'no code for an address for notices is waiting for you' USING ERRCODE = 'MP005',
      HINT = 'Ask for one: SELECT mpa_notify_me(''your address'');';
  END IF;
  PERFORM mpa.accept_code(c, code);
  UPDATE mpa.challenges SET state = 'used' WHERE id = c.id;
  UPDATE mpa.notice_addresses na SET email = c.email, pending_email = NULL, confirmed_at = now()
   WHERE na.requester = me;
  IF n.email IS NOT NULL AND n.email <> c.email THEN
    PERFORM mpa.queue_mail('notice', n.email, '[pg_mpa] your address for notices was changed',
      format(E'From now on, the notices about the requests of role %s go to %s, which confirmed a code.\n\n'
              'If you did not ask for this, tell your security team now.\n', me, mpa.mask_email(c.email)),
      86400, NULL, NULL);
  END IF;
  PERFORM mpa.audit('notice address confirmed', NULL, jsonb_build_object('requester', me::text,
    'address', mpa.mask_email(c.email)));
  RETURN format('notices about your requests now go to %s', mpa.mask_email(c.email));
END $$;
-- Internal: only below mpa_confirm_email_for_notices.
REVOKE ALL ON FUNCTION mpa.confirm_notices(text) FROM PUBLIC;
