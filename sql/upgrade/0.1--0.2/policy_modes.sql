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
