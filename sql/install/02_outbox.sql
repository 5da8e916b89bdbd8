-- Mail: the outbox the worker delivers, and the DBA's test message.

-- The mail queue (transactional outbox). A row is written in the same
-- transaction as the event it announces and delivered by the mail worker
-- after commit. No row ever holds a one-time code: the worker derives codes
-- when it renders a message.
CREATE TABLE IF NOT EXISTS mpa.outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('test', 'request', 'code', 'vote', 'decision', 'notice')),
  recipient       text NOT NULL,
  subject         text NOT NULL,
  body            text NOT NULL,
  message_id      text NOT NULL UNIQUE,   -- the same on every retry
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'expired', 'superseded')),
  attempts        integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until     timestamptz,            -- set while the worker holds the row ('sending')
  expires_at      timestamptz NOT NULL,   -- never delivered after this
  sent_at         timestamptz,
  last_error      text,
  -- A newer message with the same key supersedes older undelivered ones
  -- (a new code for the same vote makes the previous code mail pointless).
  supersede_key   text
);
CREATE INDEX IF NOT EXISTS outbox_due ON mpa.outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_in_flight ON mpa.outbox (lease_until) WHERE status = 'sending';
CREATE INDEX IF NOT EXISTS outbox_supersede ON mpa.outbox (supersede_key)
  WHERE supersede_key IS NOT NULL AND status IN ('pending', 'sending');
-- Mail that reached its end, by age: the retention's deletion
-- (src/pg/worker/retention.cpp) and the worker's timer for it.
CREATE INDEX IF NOT EXISTS outbox_finished ON mpa.outbox (created_at)
  WHERE status IN ('sent', 'failed', 'expired', 'superseded');

-- Only pg_mpa's own functions write the outbox; ordinary roles see status.
REVOKE ALL ON mpa.outbox FROM PUBLIC;
GRANT SELECT (id, kind, status, attempts, created_at, next_attempt_at, expires_at, sent_at)
  ON mpa.outbox TO PUBLIC;

-- A DBA checks the SMTP settings: queues one test message, returns its id.
CREATE OR REPLACE FUNCTION mpa_mail_test(email text) RETURNS bigint
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_mail_test';
REVOKE ALL ON FUNCTION mpa_mail_test(text) FROM PUBLIC;

