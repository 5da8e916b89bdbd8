-- Retention, audit export and team removal (#18): the schema's part of the
-- upgrade from 0.1 (the functions come from sql/install/).

-- A team can be dropped once none of its requests is open; its closed
-- requests keep its name (sql/install/03_tables.sql).
ALTER TABLE mpa.requests DROP CONSTRAINT requests_team_fkey;

-- The retention's deletion and its timer (src/pg/worker/retention.cpp).
CREATE INDEX outbox_finished ON mpa.outbox (created_at)
  WHERE status IN ('sent', 'failed', 'expired', 'superseded');
CREATE INDEX challenges_closed ON mpa.challenges (created_at) WHERE state <> 'open';
CREATE INDEX outbox_by_challenge ON mpa.outbox (challenge_id) WHERE challenge_id IS NOT NULL;
