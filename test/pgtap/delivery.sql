-- A queued message reaches the SMTP server, and what arrives is a proper
-- RFC 5322 message. The test SMTP server's mail directory is given by the
-- database setting mpa_test.maildir (test/run sets it).
SELECT plan(11);

CREATE FUNCTION pg_temp.wait_for_status(mail_id bigint, wanted text, seconds int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE current text;
BEGIN
  FOR i IN 1 .. seconds * 10 LOOP
    SELECT status INTO current FROM mpa.outbox WHERE id = mail_id;
    EXIT WHEN current = wanted;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN current;
END $$;

-- The raw message the server stored for a Message-ID.
CREATE FUNCTION pg_temp.received(wanted_message_id text) RETURNS text
LANGUAGE sql AS $$
  SELECT content FROM (
    SELECT pg_read_file(current_setting('mpa_test.maildir') || '/new/' || f) AS content
      FROM pg_ls_dir(current_setting('mpa_test.maildir') || '/new') AS f
     WHERE f LIKE '%.eml') m
   WHERE content LIKE '%Message-ID: <' || wanted_message_id || '>%'
$$;

SELECT mpa_mail_test('tap-delivery@example.com') AS id \gset
SELECT message_id AS mid FROM mpa.outbox WHERE id = :id \gset

SELECT is(pg_temp.wait_for_status(:id, 'sent', 30), 'sent', 'the worker delivers after commit');
SELECT isnt(pg_temp.received(:'mid'), NULL, 'the server received it, with its Message-ID');
SELECT is((SELECT sent_at IS NOT NULL AND attempts = 1 AND last_error IS NULL
             FROM mpa.outbox WHERE id = :id), true, 'sent once, no error');

SELECT is(replace(pg_temp.received(:'mid'), E'\r\n', '') !~ E'[\r\n]', true,
          'every line ends with CRLF');
SELECT matches(pg_temp.received(:'mid'), E'\r\nTo: tap-delivery@example\\.com\r\n', 'To header');
SELECT matches(pg_temp.received(:'mid'), E'(^|\r\n)From: .*<pg-mpa@db\\.example\\.test>\r\n', 'From header');
SELECT matches(pg_temp.received(:'mid'), E'\r\nAuto-Submitted: auto-generated\r\n', 'Auto-Submitted');
SELECT matches(pg_temp.received(:'mid'),
               E'(^|\r\n)Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \\+0000\r\n',
               'Date header in RFC 5322 form');
SELECT matches(pg_temp.received(:'mid'), E'\r\nContent-Type: text/plain; charset=UTF-8\r\n', 'UTF-8 text');
SELECT matches(pg_temp.received(:'mid'), 'X-MPA-Outbox-Id: ' || :id, 'names its outbox row');
SELECT matches(pg_temp.received(:'mid'), 'mpa_mail_test\(\)', 'the body says where it came from');

SELECT * FROM finish();
