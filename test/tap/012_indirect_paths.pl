# A protected object is protected however it would go: a statement that does
# not name it (DROP SCHEMA … CASCADE, DROP OWNED, TRUNCATE of a partitioned
# parent) is refused where it reaches the object, and changes nothing; a
# rename, schema move or owner change that would take it out of its
# policy's hands needs that policy's team.
# PostgreSQL's own clean-ups (ON COMMIT DROP, temporary objects) still work.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('indirect', $smtp);
$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE app_owner;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	CREATE SCHEMA billing;
	CREATE TABLE billing.invoices (id int);
	INSERT INTO billing.invoices VALUES (1), (2);
	CREATE TABLE billing.scratch (id int);
	CREATE SCHEMA app AUTHORIZATION app_owner;
	CREATE TABLE app.accounts (id int);
	ALTER TABLE app.accounts OWNER TO app_owner;
	CREATE TABLE events (id int, day date) PARTITION BY RANGE (day);
	CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	INSERT INTO events VALUES (1, '2026-05-01'), (2, '2025-05-01');
	CREATE SCHEMA sandbox;
	CREATE TABLE sandbox.t (id int);
	SELECT mpa_protect('DROP TABLE', 'billing.invoices', 'ops');
	SELECT mpa_protect('DROP TABLE', 'app.*', 'ops');
	SELECT mpa_protect('TRUNCATE', 'public.events_2026', 'ops');
});

sub refused
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	return $rc != 0 ? $err : '';
}

like(refused('DROP SCHEMA billing CASCADE'),
	qr/dropping table billing\.invoices requires the approval of team "ops"/,
	'DROP SCHEMA … CASCADE does not take a protected table with it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM billing.invoices'), '2', 'the table and its rows are intact');
is($node->safe_psql('postgres', q{SELECT to_regclass('billing.scratch') IS NOT NULL}), 't',
	'and the rest of the schema too (the statement was refused whole)');

like(refused('DROP OWNED BY app_owner'), qr/dropping table app\.accounts requires the approval/,
	'DROP OWNED does not take a protected table with it');
like(refused('DROP SCHEMA app CASCADE'), qr/dropping table app\.accounts requires the approval/,
	'a schema pattern protects its tables from a cascade too');

like(refused('TRUNCATE events'), qr/truncating table events_2026 requires the approval of team "ops"/,
	'TRUNCATE of a partitioned parent does not reach a protected partition');
is($node->safe_psql('postgres', 'SELECT count(*) FROM events'), '2', 'no row was removed');
is(refused('TRUNCATE events_2025'), '', 'an unprotected partition is truncated as usual');

like(refused('ALTER TABLE billing.invoices RENAME TO old_invoices'),
	qr/ALTER TABLE on billing\.invoices requires the approval of team "ops"/,
	'renaming a protected table (to escape its policy) needs approval');
like(refused('ALTER SCHEMA billing RENAME TO billing_old'), qr/requires the approval of team "ops"/,
	'so does renaming the schema it lives in');
like(refused('ALTER TABLE app.accounts SET SCHEMA public'), qr/requires the approval of team "ops"/,
	'and moving a table out of a protected schema');
is(refused('ALTER TABLE app.accounts RENAME TO accounts2; ALTER TABLE app.accounts2 RENAME TO accounts'), '',
	'a rename that stays under app.* is free');
is(refused('ALTER TABLE billing.invoices RENAME COLUMN id TO invoice_id'), '', 'renaming a column changes no name a policy uses');
is(refused('ALTER TABLE billing.scratch RENAME TO scratch2'), '', 'unprotected tables are renamed as usual');
like(refused('ALTER TABLE billing.invoices OWNER TO app_owner'), qr/requires the approval of team "ops"/,
	're-owning a protected table needs approval');
like(refused('ALTER TABLE app.accounts OWNER TO alice'), qr/requires the approval of team "ops"/,
	'also one protected through its schema');
is(refused('ALTER TABLE sandbox.t OWNER TO app_owner'), '', 'unprotected tables change owner as usual');
like(refused('REASSIGN OWNED BY app_owner TO bob'),
	qr/REASSIGN OWNED on app(\.accounts)? requires the approval of team "ops"/,
	'REASSIGN OWNED does not hand a protected table (or its schema) to someone else');
is($node->safe_psql('postgres', q{SELECT relowner::regrole FROM pg_class WHERE oid = 'app.accounts'::regclass}),
	'app_owner', 'the protected table keeps its owner');
$node->safe_psql('postgres', q{CREATE ROLE temp_owner; CREATE TABLE sandbox.owned (id int); ALTER TABLE sandbox.owned OWNER TO temp_owner});
is(refused('REASSIGN OWNED BY temp_owner TO bob'), '', 'REASSIGN OWNED of unprotected objects runs as usual');
is($node->safe_psql('postgres', q{SELECT relowner::regrole FROM pg_class WHERE oid = 'sandbox.owned'::regclass}),
	'bob', 'and re-owns them');
is($node->safe_psql('postgres', q{SELECT to_regclass('billing.invoices') IS NOT NULL AND to_regclass('app.accounts') IS NOT NULL}),
	't', 'the protected tables keep their names');

is(refused('DROP SCHEMA sandbox CASCADE'), '', 'a schema without protected objects drops as usual');

# The approved way: one request for the whole REASSIGN OWNED.
my $request = $node->safe_psql('postgres',
	q{SELECT mpa_request('REASSIGN OWNED BY app_owner TO bob', 'app_owner leaves the company')});
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
is(refused('REASSIGN OWNED BY app_owner TO bob'), '', 'the approved REASSIGN OWNED runs');
is($node->safe_psql('postgres', q{SELECT relowner::regrole FROM pg_class WHERE oid = 'app.accounts'::regclass}),
	'bob', 'and re-owns the protected table');

# Each kind of object a cascade reaches is judged as the statement that
# would drop it by name: a policy on DROP MATERIALIZED VIEW, DROP SEQUENCE,
# DROP PROCEDURE, DROP AGGREGATE or DROP TYPE stops DROP SCHEMA … CASCADE at that
# object (PostgreSQL describes procedures and aggregates as functions). A
# '*' policy on another operation (ALTER SYSTEM) reaches none.
$node->safe_psql('postgres', q{
	CREATE SCHEMA lab;
	CREATE TABLE lab.samples (id int);
	CREATE MATERIALIZED VIEW lab.summary AS SELECT count(*) FROM lab.samples;
	CREATE SEQUENCE lab.ids;
	CREATE PROCEDURE lab.tidy() LANGUAGE sql AS 'SELECT 1';
	CREATE AGGREGATE lab.total(int) (SFUNC = int4pl, STYPE = int);
	CREATE TYPE lab.mood AS ENUM ('calm', 'busy');
	CREATE SCHEMA lab_free;
	CREATE TABLE lab_free.t (id int);
	SELECT mpa_protect('ALTER SYSTEM', '*', 'ops');
});
for my $case (
	[ 'DROP MATERIALIZED VIEW', 'lab.summary',  qr/dropping materialized view lab\.summary requires/ ],
	[ 'DROP SEQUENCE',          'lab.ids',      qr/dropping sequence lab\.ids requires/ ],
	[ 'DROP PROCEDURE',         'lab.tidy',     qr/dropping function lab\.tidy\(\) requires/ ],
	[ 'DROP AGGREGATE',         'lab.total',    qr/dropping function lab\.total\(integer\) requires/ ],
	[ 'DROP TYPE',              'lab.mood',     qr/dropping type lab\.mood requires/ ])
{
	my ($operation, $object, $refusal) = @$case;
	$node->safe_psql('postgres', "SELECT mpa_protect('$operation', '$object', 'ops')");
	like(refused('DROP SCHEMA lab CASCADE'), $refusal, "a cascade stops at a protected object ($operation)");
	$node->safe_psql('postgres', "SELECT mpa_unprotect('$operation', '$object')");
}
is(refused('DROP SCHEMA lab CASCADE'), '', 'once unprotected, the schema drops with everything in it');

# Types and domains are named "schema.name" like everything else, and
# temporary objects "pg_temp.name", in whichever session they live (the
# search path here holds no schema a policy names).
$node->safe_psql('postgres', q{
	CREATE SCHEMA kinds;
	CREATE TYPE kinds.mood AS ENUM ('calm', 'busy');
	CREATE DOMAIN kinds.positive AS int CHECK (VALUE > 0);
	SELECT mpa_protect('DROP TYPE', 'kinds.mood', 'ops');
	SELECT mpa_protect('DROP DOMAIN', 'kinds.positive', 'ops');
	SELECT mpa_protect('DROP TABLE', 'pg_temp.*', 'ops');
});
like(refused('DROP TYPE kinds.mood'), qr/DROP TYPE on kinds\.mood requires the approval of team "ops"/,
	'a protected type is refused to DROP TYPE');
like(refused('DROP DOMAIN kinds.positive'), qr/DROP DOMAIN on kinds\.positive requires the approval/,
	'a protected domain to DROP DOMAIN');
like(refused('SET search_path = pg_catalog; CREATE TEMP TABLE scratch (id int); DROP TABLE scratch'),
	qr/DROP TABLE on pg_temp\.scratch requires the approval/, "a 'pg_temp.*' policy covers temporary tables");
like(refused('SET search_path = pg_catalog; CREATE TEMP TABLE scratch (id int); DROP TABLE pg_temp.scratch'),
	qr/DROP TABLE on pg_temp\.scratch requires the approval/, 'also named as pg_temp.name');

# PostgreSQL's own clean-ups of temporary tables are internal deletions,
# never refused, also while the 'pg_temp.*' policy is in force: ON COMMIT
# DROP at commit, and every temporary table of a session when the session
# ends. A refusal at session end reaches no client: it would leave the
# tables behind in the session's pg_temp_N schema, and only the server log
# would say why. So both are looked at once every earlier session is gone
# (a backend drops its temporary tables before it leaves pg_stat_activity).
my $log_offset = -s $node->logfile;
my ($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN; CREATE TEMP TABLE on_commit_scratch (id int) ON COMMIT DROP; COMMIT;
	SELECT to_regclass('pg_temp.on_commit_scratch') IS NULL;});
is($rc, 0, "ON COMMIT DROP commits while a 'pg_temp.*' policy is in force") or diag($err);
is($out, 't', 'and drops its table at commit');
$node->safe_psql('postgres',
	'CREATE TEMP TABLE session_scratch (id int); CREATE TEMP TABLE session_keep (id int PRIMARY KEY)');
ok( $node->poll_query_until('postgres',
		q{SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())}),
	'the session with temporary tables ended (and every other)');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(n.nspname || '.' || c.relname, ', ') FROM pg_class c
		  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ~ '^pg_(toast_)?temp_[0-9]+$'}),
	'', 'no temporary table is left behind in any pg_temp_N schema');
unlike(slurp_file($node->logfile, $log_offset), qr/requires the approval/,
	'and no refusal was logged for either clean-up');

$node->safe_psql('postgres', q{
	CREATE TABLE kinds.audited (id int);
	CREATE FUNCTION kinds.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
	CREATE TRIGGER keep_trail BEFORE INSERT ON kinds.audited FOR EACH ROW EXECUTE FUNCTION kinds.noop();
	CREATE TRIGGER other BEFORE INSERT ON kinds.audited FOR EACH ROW EXECUTE FUNCTION kinds.noop();
	SELECT mpa_protect('DROP TRIGGER', 'kinds.keep_trail', 'ops');
});
like(refused('DROP TRIGGER keep_trail ON kinds.audited'),
	qr/DROP TRIGGER on kinds\.keep_trail requires the approval of team "ops"/,
	"a table's trigger is named by the table's schema and its own name");
is(refused('DROP TRIGGER other ON kinds.audited'), '', 'another trigger of that table is not protected by it');
$node->safe_psql('postgres', q{
	SELECT mpa_unprotect('DROP TRIGGER', 'kinds.keep_trail');
	SELECT mpa_unprotect('DROP TYPE', 'kinds.mood');
	SELECT mpa_unprotect('DROP DOMAIN', 'kinds.positive');
	SELECT mpa_unprotect('DROP TABLE', 'pg_temp.*');
});
is(refused('DROP SCHEMA lab_free CASCADE'), '', "a '*' policy on ALTER SYSTEM reaches no dropped table");

# The gate judges ordinary DDL on relations from their names before
# resolving them; an unqualified name counts as being in every schema of
# the search path (temporary schema included), and a schema created or
# renamed in the same session counts from then on (the first statement
# makes the session resolve the schemas policies name before that).
$node->safe_psql('postgres', q{
	SELECT mpa_protect('DROP TABLE', 'later.*', 'ops');
	SELECT mpa_protect('ALTER TABLE', 'renamed.*', 'ops');
});
like(refused('SET search_path = billing, public; DROP TABLE invoices'),
	qr/DROP TABLE on billing\.invoices requires the approval of team "ops"/,
	'an unqualified name is found on the search path');
like(refused('SET search_path = billing, public; ALTER TABLE invoices RENAME TO gone'),
	qr/ALTER TABLE on billing\.invoices requires the approval/, 'also for a rename');
like(refused(q{DROP TABLE IF EXISTS public.nothing; CREATE SCHEMA later; CREATE TABLE later.t (id int); DROP TABLE later.t}),
	qr/DROP TABLE on later\.t requires the approval of team "ops"/,
	'a protected schema created in this session (after the policies were cached) counts');
like(refused(q{DROP TABLE IF EXISTS public.nothing; CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.t (id int);
	ALTER SCHEMA elsewhere RENAME TO renamed; ALTER TABLE renamed.t ADD COLUMN c int}),
	qr/ALTER TABLE on renamed\.t requires the approval of team "ops"/,
	'and so does a schema renamed into a protected name');
like(refused(q{SET search_path = later;
	BEGIN; CREATE TEMP TABLE t (id int); DROP TABLE pg_temp.t; DROP TABLE t; COMMIT}),
	qr/DROP TABLE on later\.t requires the approval/,
	'pg_temp.t is the temporary table; t, once it is gone, the protected one (later.t, made above)');

done_testing();
