-- Codes carry the id of the key that made them (docs/decisions.md,
-- "Standbys and failover"). Codes made by 0.1 have none: they were made by
-- a key that is gone once the new library is running (a restart drew a new
-- one), and are refused as such.
ALTER TABLE mpa.challenges ADD COLUMN key_id bigint;
