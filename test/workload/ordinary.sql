-- An ordinary workload that touches no protected object: DDL and DML of
-- every common kind, errors included. test/tap/015_ordinary_workload.pl
-- runs it on a cluster without pg_mpa and on one where pg_mpa governs
-- (with many policies on other objects), and requires identical output.
-- Deterministic on purpose: no OIDs, times or random values in the output.
\set VERBOSITY terse
SET client_min_messages = notice;

-- Schemas, tables, constraints, indexes.
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id int PRIMARY KEY, name text NOT NULL UNIQUE, tier text DEFAULT 'basic'
  CHECK (tier IN ('basic', 'gold')));
CREATE TABLE shop.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer int REFERENCES shop.customers ON DELETE CASCADE, amount numeric(10, 2), placed date);
CREATE INDEX orders_customer ON shop.orders (customer);
CREATE UNIQUE INDEX customers_lower_name ON shop.customers (lower(name));
INSERT INTO shop.customers VALUES (1, 'Ann'), (2, 'Bob', 'gold'), (3, 'Cy');
INSERT INTO shop.customers VALUES (4, 'ann');                          -- unique violation
INSERT INTO shop.customers VALUES (5, 'Dee', 'platinum');              -- check violation
INSERT INTO shop.orders (customer, amount, placed)
  SELECT 1 + i % 3, i * 1.5, date '2026-01-01' + i FROM generate_series(1, 30) i;
INSERT INTO shop.orders (customer, amount) VALUES (99, 1);             -- foreign key violation
COPY shop.customers (id, name) FROM STDIN;
6	Eve
7	Fay
\.
UPDATE shop.customers SET tier = 'gold' WHERE id = 1 RETURNING id, name, tier;
DELETE FROM shop.customers WHERE id = 7 RETURNING name;
SELECT customer, count(*), sum(amount) FROM shop.orders GROUP BY customer ORDER BY customer;
SELECT name, rank() OVER (ORDER BY total DESC) FROM
  (SELECT c.name, sum(o.amount) AS total FROM shop.customers c JOIN shop.orders o ON o.customer = c.id
    GROUP BY c.name) t ORDER BY name;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT sum(i) FROM n;
MERGE INTO shop.customers c USING (VALUES (3, 'Cy', 'gold'), (8, 'Gus', 'basic')) AS v(id, name, tier)
  ON c.id = v.id
  WHEN MATCHED THEN UPDATE SET tier = v.tier
  WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.name, v.tier);
SELECT * FROM shop.customers ORDER BY id;

-- ALTER TABLE in its many forms, renames, schema moves and owners of
-- unprotected objects.
ALTER TABLE shop.orders ADD COLUMN note text, ALTER COLUMN amount SET NOT NULL;
ALTER TABLE shop.orders RENAME COLUMN note TO remark;
ALTER TABLE shop.orders ADD CONSTRAINT positive CHECK (amount > 0);
ALTER TABLE shop.orders DROP COLUMN remark;
ALTER TABLE shop.customers RENAME TO clients;
ALTER TABLE shop.clients RENAME TO customers;
CREATE SCHEMA archive;
CREATE TABLE shop.old_orders (LIKE shop.orders);
ALTER TABLE shop.old_orders SET SCHEMA archive;
CREATE ROLE workload_owner;
ALTER TABLE archive.old_orders OWNER TO workload_owner;
ALTER TABLE archive.old_orders OWNER TO CURRENT_USER;
ALTER INDEX shop.orders_customer RENAME TO orders_by_customer;
\d shop.orders

-- Views, materialized views, sequences, types, domains.
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE amount > 30;
SELECT count(*) FROM shop.big_orders;
CREATE MATERIALIZED VIEW shop.totals AS SELECT customer, sum(amount) AS total FROM shop.orders GROUP BY customer;
REFRESH MATERIALIZED VIEW shop.totals;
SELECT * FROM shop.totals ORDER BY customer;
CREATE SEQUENCE shop.tickets START 100;
SELECT nextval('shop.tickets'), nextval('shop.tickets');
ALTER SEQUENCE shop.tickets RESTART 1;
SELECT nextval('shop.tickets');
CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE shop.mood ADD VALUE 'ecstatic';
CREATE DOMAIN shop.positive_int AS int CHECK (VALUE > 0);
SELECT 5::shop.positive_int;
SELECT (-5)::shop.positive_int;
CREATE TYPE shop.pair AS (a int, b text);
SELECT ROW(1, 'x')::shop.pair;

-- Functions, procedures, triggers, rules, DO blocks (trusted languages).
CREATE FUNCTION shop.double(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2 * x';
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.amount := round(NEW.amount, 1); RETURN NEW; END $$;
CREATE TRIGGER round_amount BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch();
INSERT INTO shop.orders (customer, amount) VALUES (1, 12.34) RETURNING amount;
CREATE PROCEDURE shop.add_customer(i int, n text) LANGUAGE plpgsql AS $$
BEGIN INSERT INTO shop.customers (id, name) VALUES (i, n); COMMIT; END $$;
CALL shop.add_customer(10, 'Hal');
SELECT shop.double(21);
DO $$BEGIN RAISE NOTICE 'from a DO block: %', (SELECT count(*) FROM shop.customers); END$$;
DO $$BEGIN EXECUTE 'CREATE TABLE shop.dynamic (x int)'; EXECUTE 'DROP TABLE shop.dynamic'; END$$;
CREATE RULE no_delete AS ON DELETE TO shop.big_orders DO INSTEAD NOTHING;
DELETE FROM shop.big_orders;
DROP TRIGGER round_amount ON shop.orders;
ALTER FUNCTION shop.double(int) RENAME TO twice;
SELECT shop.twice(4);

-- Row-level security, privileges, roles.
CREATE ROLE workload_reader;
CREATE ROLE workload_joiner IN ROLE workload_reader;
ALTER GROUP workload_reader ADD USER workload_owner;
ALTER GROUP workload_reader DROP USER workload_owner;
DROP ROLE workload_joiner;
GRANT USAGE ON SCHEMA shop TO workload_reader;
GRANT SELECT ON shop.customers TO workload_reader;
GRANT SELECT ON shop.customers TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO workload_reader;
REVOKE SELECT ON shop.customers FROM PUBLIC;
ALTER TABLE shop.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY gold_only ON shop.customers FOR SELECT TO workload_reader USING (tier = 'gold');
SET ROLE workload_reader;
SELECT name FROM shop.customers ORDER BY name;
SELECT * FROM shop.orders;
RESET ROLE;
REVOKE SELECT ON shop.customers FROM workload_reader;
ALTER ROLE workload_reader CONNECTION LIMIT 5;
ALTER ROLE workload_reader RENAME TO workload_reader2;
COMMENT ON TABLE shop.customers IS 'who buys';
SELECT obj_description('shop.customers'::regclass);

-- Partitions and inheritance.
CREATE TABLE shop.events (id int, day date) PARTITION BY RANGE (day);
CREATE TABLE shop.events_2026 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE shop.events_2027 PARTITION OF shop.events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO shop.events VALUES (1, '2026-03-01'), (2, '2027-03-01');
INSERT INTO shop.events VALUES (3, '2030-01-01');                     -- no partition
ALTER TABLE shop.events DETACH PARTITION shop.events_2027;
TRUNCATE shop.events;
SELECT count(*) FROM shop.events_2027;
CREATE TABLE shop.parent (id int);
CREATE TABLE shop.child () INHERITS (shop.parent);
INSERT INTO shop.child VALUES (1);
SELECT count(*) FROM shop.parent;
TRUNCATE shop.parent;

-- Transactions, savepoints, cursors, prepared statements, temp tables.
BEGIN;
INSERT INTO shop.customers (id, name) VALUES (20, 'Ida');
SAVEPOINT s1;
INSERT INTO shop.customers (id, name) VALUES (20, 'Ida again');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO shop.customers (id, name) VALUES (21, 'Jo');
COMMIT;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM shop.customers ORDER BY id;
FETCH 2 FROM c;
CLOSE c;
ROLLBACK;
PREPARE by_id(int) AS SELECT name FROM shop.customers WHERE id = $1;
EXECUTE by_id(21);
DEALLOCATE by_id;
CREATE TEMP TABLE scratch (x int) ON COMMIT DELETE ROWS;
BEGIN; INSERT INTO scratch VALUES (1); SELECT count(*) FROM scratch; COMMIT;
SELECT count(*) FROM scratch;
BEGIN; CREATE TEMP TABLE gone (x int) ON COMMIT DROP; COMMIT;
SELECT to_regclass('gone');
LISTEN workload; UNLISTEN workload; NOTIFY workload, 'nobody listens';
SELECT lo_unlink(lo_from_bytea(0, 'bytes'));

-- Maintenance and EXPLAIN.
VACUUM (ANALYZE) shop.orders;
CLUSTER shop.orders USING orders_pkey;
REINDEX TABLE shop.orders;
EXPLAIN (COSTS OFF) SELECT * FROM shop.orders WHERE customer = 1;
SET work_mem = '8MB'; RESET work_mem;
SHOW work_mem;

-- Errors a workload meets.
SELECT * FROM shop.nonexistent;
DROP TABLE shop.nonexistent;
DROP TABLE IF EXISTS shop.nonexistent;
SELECT 1 / 0;
CREATE TABLE shop.customers (id int);

-- Dropping unprotected objects, in every way.
DROP RULE no_delete ON shop.big_orders;
DROP VIEW shop.big_orders;
DROP MATERIALIZED VIEW shop.totals;
DROP TABLE shop.customers;                                             -- has dependents
DROP TABLE shop.customers CASCADE;
TRUNCATE shop.orders;
DROP ROLE workload_reader2;                                            -- still holds privileges
DROP SCHEMA archive CASCADE;
DROP SCHEMA shop CASCADE;
DROP OWNED BY workload_owner, workload_reader2;
DROP ROLE workload_owner, workload_reader2;
