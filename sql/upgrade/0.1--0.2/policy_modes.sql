-- Policy modes (#22): the schema's part of the upgrade from 0.1 (the
-- functions come from sql/install/; docs/decisions.md, "Policy modes").

-- Every 0.1 policy enforces, as it did.
ALTER TABLE mpa.policies ADD COLUMN mode text NOT NULL DEFAULT 'enforce'
  CONSTRAINT policies_mode_check CHECK (mode IN ('enforce', 'dry-run'));

-- mpa_protect's mode argument needs no step: 0.1's mpa_protect is dropped
-- by every_database.sql, and re-running sql/install makes the new one.

-- Break-glass (#22, slice 3): no 0.1 request was approved by break-glass.
-- The new tables (mpa.break_glass, mpa.break_glass_uses, mpa.reviews) come
-- from sql/install/03_tables.sql.
ALTER TABLE mpa.requests ADD COLUMN break_glass boolean NOT NULL DEFAULT false;
-- Several teams (docs/decisions.md, "Several teams"): every 0.1 policy and
-- request is of one team, its votes counted once. mpa.policy_teams and
-- mpa.request_teams are new tables: re-running sql/install makes them.
ALTER TABLE mpa.policies ADD COLUMN shared_votes boolean NOT NULL DEFAULT false;
ALTER TABLE mpa.requests ADD COLUMN shared_votes boolean NOT NULL DEFAULT false;
-- mpa_protect gained teams and shared_votes: the signature without them
-- (0.2 before this change; none in 0.1, whose own is dropped by
-- every_database.sql) must not stay behind as an ungoverned overload.
DROP FUNCTION IF EXISTS mpa_protect(text, text, text, text, text);
-- mpa.describe_in_database gained OUT dry_run_hint (the MP002 HINT of a
-- request for another database): none in 0.1, but CREATE OR REPLACE cannot
-- change the OUT parameters of one made before this change.
DROP FUNCTION IF EXISTS mpa.describe_in_database(text, text, text);
