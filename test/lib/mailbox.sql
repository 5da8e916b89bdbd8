-- What the test SMTP server received, read from SQL: helpers shared by the
-- regress and isolation tests that run on test/run's shared cluster (loaded
-- by test/run into its database, like the probe extension, test/probe). The server
-- stores each message as <counter>-<uuid>.eml plus a .json sidecar in the
-- directory named by the database setting mpa_test.maildir (see
-- test/smtp/README.md); file names sort in arrival order. The directory
-- outlives the database, so a test looks only at files after a mark it took
-- (mpa_test.mail_mark()) or at the message of one outbox row (its
-- Message-ID is a UUID).
--
-- The functions run as their owner (a superuser may read server files) and
-- any role may call them: tests call them as their approvers.
CREATE SCHEMA mpa_test;
GRANT USAGE ON SCHEMA mpa_test TO PUBLIC;

-- The newest stored file now ('' if none): later files came after it.
CREATE FUNCTION mpa_test.mail_mark() RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT coalesce(max(f), '')
    FROM pg_ls_dir(current_setting('mpa_test.maildir') || '/new') AS f WHERE f LIKE '%.eml'
$$;

-- One stored message (`file`, an .eml name): its envelope recipients (the
-- sidecar's rcpt_tos), its unfolded header block (LF line ends, with a
-- leading and a trailing LF so that E'\nName: ' finds any header) and its
-- body decoded from quoted-printable (soft breaks and "=3D"; pg_mpa's text
-- is otherwise ASCII) with LF line ends.
CREATE FUNCTION mpa_test.parsed(file text, OUT rcpt_tos jsonb, OUT head text, OUT body text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT pg_read_file(dir || replace(file, '.eml', '.json'))::jsonb -> 'rcpt_tos',
         E'\n' || replace(replace(split_part(raw, E'\r\n\r\n', 1), E'\r\n ', ' '), E'\r\n', E'\n') || E'\n',
         replace(replace(replace(substr(raw, position(E'\r\n\r\n' in raw) + 4), E'=\r\n', ''), '=3D', '='),
                 E'\r\n', E'\n')
    FROM (SELECT current_setting('mpa_test.maildir') || '/new/' AS dir) d,
         LATERAL pg_read_file(d.dir || file) AS raw
$$;

-- Every message stored after `mark`, in arrival order.
CREATE FUNCTION mpa_test.stored_since(mark text)
RETURNS TABLE (file text, rcpt_tos jsonb, head text, body text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT f, m.rcpt_tos, m.head, m.body
    FROM pg_ls_dir(current_setting('mpa_test.maildir') || '/new') AS f, LATERAL mpa_test.parsed(f) m
   WHERE f LIKE '%.eml' AND f > mark
   ORDER BY f
$$;

-- The stored message of outbox row `outbox_id` (found by its Message-ID),
-- waiting up to `seconds` for the mail worker to send it; no row if it did
-- not come in time. Its subject is returned unfolded. (The newest files
-- are read first, and each file once: a full run stores many.)
CREATE FUNCTION mpa_test.mail_of(outbox_id bigint, seconds int DEFAULT 60)
RETURNS TABLE (file text, rcpt_tos jsonb, subject text, body text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  dir text := current_setting('mpa_test.maildir') || '/new/';
  wanted text := (SELECT E'\r\nMessage-ID: <' || o.message_id || E'>\r\n' FROM mpa.outbox o WHERE o.id = outbox_id);
  read_up_to text := '';
  newest text;
  f text;
  m record;
BEGIN
  IF wanted IS NULL THEN
    RAISE EXCEPTION 'mpa_test.mail_of: outbox row % does not exist', outbox_id;
  END IF;
  FOR i IN 1 .. seconds * 10 LOOP
    newest := NULL;
    FOR f IN SELECT n FROM pg_ls_dir(dir) n WHERE n LIKE '%.eml' AND n > read_up_to ORDER BY n DESC LOOP
      newest := coalesce(newest, f);
      IF position(wanted IN pg_read_file(dir || f)) > 0 THEN
        m := mpa_test.parsed(f);
        RETURN QUERY SELECT f, m.rcpt_tos, substring(m.head FROM E'\nSubject: ([^\n]*)\n'), m.body;
        RETURN;
      END IF;
    END LOOP;
    read_up_to := coalesce(newest, read_up_to);
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;

-- The one-time code in the newest code mail queued to `address` whose
-- subject is LIKE `subject_like`, once the server received it (waits up to
-- `seconds`); raises if none came.
CREATE FUNCTION mpa_test.code(address text, subject_like text, seconds int DEFAULT 60) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  row_id bigint := (SELECT max(o.id) FROM mpa.outbox o
                     WHERE o.kind = 'code' AND o.recipient = address AND o.subject LIKE subject_like);
  found_code text;
BEGIN
  SELECT substring(m.body FROM 'Your one-time code: ([0-9]{6})\M') INTO found_code
    FROM mpa_test.mail_of(row_id, seconds) m;
  IF found_code IS NULL THEN
    RAISE EXCEPTION 'no code mail to % with a subject like % arrived', address, subject_like;
  END IF;
  RETURN found_code;
END $$;

-- A six-digit code that is certainly not `code` (the next number).
CREATE FUNCTION mpa_test.other_code(code text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT lpad(((code::int + 1) % 1000000)::text, 6, '0')
$$;

-- How many messages stored after `mark` name `address` anywhere: in the
-- envelope or in the header block (a Bcc: smuggled into a header counts).
CREATE FUNCTION mpa_test.received_for(mark text, address text) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT count(*) FROM mpa_test.stored_since(mark) s
   WHERE s.rcpt_tos ? lower(address) OR s.rcpt_tos ? address OR position(lower(address) IN lower(s.head)) > 0
$$;

-- Returns once the mail worker has begun two delivery rounds after the call
-- began: it queues a test mail and waits until the server has it, twice
-- (the round that sends the second began after the first was sent). A
-- round first does its housekeeping (expiries, notices of dead codes, ...),
-- so what a round would have queued for earlier events is queued by then.
-- A procedure, to commit each mail before waiting for it (as a superuser:
-- mpa_mail_test is theirs); raises if a mail does not come in 120 s.
CREATE PROCEDURE mpa_test.await_worker_round()
LANGUAGE plpgsql AS $$
DECLARE
  queued bigint;
BEGIN
  FOR round IN 1 .. 2 LOOP
    queued := mpa_mail_test('worker-round@mpa-test.example.test');
    COMMIT;
    IF NOT EXISTS (SELECT FROM mpa_test.mail_of(queued, 120)) THEN
      RAISE EXCEPTION 'mpa_test.await_worker_round: mail % was not delivered in 120 s', queued;
    END IF;
  END LOOP;
END $$;
