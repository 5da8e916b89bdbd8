-- mpa_mail_test(email): hostile input gets a clear error and queues nothing,
-- a good address is queued and sent, and a rolled-back call sends nothing.
-- What was sent is read from the test SMTP server (test/lib/mailbox.sql),
-- not only from mpa.outbox: mail that left is not undone by a ROLLBACK.
CREATE TEMP TABLE queued_before AS SELECT count(*) AS n FROM mpa.outbox;
SELECT mpa_test.mail_mark() AS mark \gset

SELECT mpa_mail_test(NULL);
SELECT mpa_mail_test('');
SELECT mpa_mail_test(E'ops@example.com\r\nBcc: everyone@example.com');
SELECT mpa_mail_test(E'ops@example.com\n');
SELECT mpa_mail_test('Ops <ops@example.com>');
SELECT mpa_mail_test('ops@example.com, boss@example.com');
SELECT mpa_mail_test('ops example.com');
SELECT mpa_mail_test('ops@@example.com');
SELECT mpa_mail_test('ops@localhost');
SELECT mpa_mail_test('ops@-example.com');
SELECT mpa_mail_test('"quoted"@example.com');
SELECT mpa_mail_test('opé@example.com');
SELECT mpa_mail_test(repeat('a', 65) || '@example.com');
SELECT mpa_mail_test('ops@' || repeat('a', 250) || '.com');
SELECT mpa_mail_test(repeat('x', 10 * 1024 * 1024));

SELECT count(*) - (SELECT n FROM queued_before) AS queued_by_bad_input FROM mpa.outbox;

-- A good address is queued, pending, with a Message-ID and an expiry.
SELECT mpa_mail_test('ops@example.com') AS id \gset
SELECT kind, recipient, subject, status IN ('pending', 'sending', 'sent') AS queued,
       message_id ~ '^[0-9a-f-]{36}@db\.example\.test$' AS message_id_ok,
       expires_at > now() + interval '23 hours' AS expires_tomorrow
  FROM mpa.outbox WHERE id = :id;

-- It reaches the server: one message, to that address only, with its subject.
SELECT rcpt_tos, subject FROM mpa_test.mail_of(:id);

-- A rolled-back transaction queues nothing and sends nothing. The server
-- has received nothing for it once a mail queued after the ROLLBACK
-- arrived (the worker sends due mail oldest first, and none of it was
-- sent from inside the transaction).
BEGIN;
SELECT mpa_mail_test('rolled-back@example.com') > 0 AS queued_inside;
ROLLBACK;
SELECT count(*) AS rolled_back_rows FROM mpa.outbox WHERE recipient = 'rolled-back@example.com';
SELECT mpa_mail_test('after-rollback@example.com') AS after_id \gset
SELECT count(*) AS after_rollback_stored FROM mpa_test.mail_of(:after_id);
SELECT address, mpa_test.received_for(:'mark', address) AS received
  FROM (VALUES ('rolled-back@example.com'),    -- rolled back
               ('everyone@example.com'),       -- smuggled in a header by bad input
               ('boss@example.com')) AS a(address);

-- Only a superuser may send test mail; ordinary roles see status columns only.
CREATE ROLE mpa_mail_tester;
SET ROLE mpa_mail_tester;
SELECT mpa_mail_test('ops@example.com');
SELECT kind, status IN ('pending', 'sending', 'sent') AS status_visible FROM mpa.outbox WHERE id = :id;
SELECT recipient FROM mpa.outbox;
SELECT body FROM mpa.outbox;
INSERT INTO mpa.outbox (kind, recipient, subject, body, message_id, expires_at)
  VALUES ('test', 'x@example.com', 's', 'b', 'm@x', now());
UPDATE mpa.outbox SET status = 'sent';
DELETE FROM mpa.outbox;
RESET ROLE;
DROP ROLE mpa_mail_tester;
