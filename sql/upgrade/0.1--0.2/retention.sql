-- Retention, audit export and team removal (#18): the schema's part of the
-- upgrade from 0.1 (the functions, and the retention's new indexes, come
-- from sql/install/).

-- A team can be dropped once none of its requests is open; its closed
-- requests keep its name (sql/install/03_tables.sql).
ALTER TABLE mpa.requests DROP CONSTRAINT requests_team_fkey;

