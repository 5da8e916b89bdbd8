# Every route docs/self-protection.md and docs/threat-model.md name, attacked
# (issue #25): the ones no other test tried. A superuser who is not an
# approver (mallory) attacks a cluster that team "security" governs; each
# attack must be refused with pg_mpa's SQLSTATE (MP001), never PostgreSQL's
# own "permission denied" (which a superuser does not meet anyway), and must
# leave everything as it was: the protected objects, pg_mpa's tables and
# pg_mpa's objects. One subtest per route.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('routes', $smtp, "mpa.resend_cooldown = 0\nmpa.otp_ttl = 3600\n");
# A tablespace needs an empty directory the server can write.
my $ts_dir = PostgreSQL::Test::Utils::tempdir('tablespace');
# plperlu is used when this PostgreSQL has it (it must be created before
# governance: CREATE EXTENSION is governed after).
my $plperlu = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'plperlu'}) eq '1';

# Everything the attacks aim at is made before governance starts; the
# policies and MPA CONFIGURE come last, in one transaction.
$node->safe_psql('postgres', "CREATE TABLESPACE ts LOCATION '$ts_dir'");
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('postgres', 'CREATE EXTENSION plperlu') if $plperlu;
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	CREATE ROLE mallory SUPERUSER LOGIN;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	CREATE SCHEMA prod;
	CREATE TABLE prod.accounts (id int);
	INSERT INTO prod.accounts VALUES (1), (2), (3);
	-- A view, a rule and a row security policy, each protected by name.
	CREATE VIEW prod.accounts_v AS SELECT * FROM prod.accounts;
	CREATE RULE keep AS ON DELETE TO prod.accounts DO INSTEAD NOTHING;
	ALTER TABLE prod.accounts ENABLE ROW LEVEL SECURITY;
	CREATE POLICY tenant ON prod.accounts USING (id > 0);
	-- A protected view that depends on an unprotected table: dropping the
	-- table with CASCADE would take the view.
	CREATE TABLE public.base (id int);
	CREATE VIEW prod.base_v AS SELECT * FROM public.base;
	-- An inheritance child under a policy, its parent under none.
	CREATE TABLE public.ledger_all (id int);
	CREATE TABLE prod.ledger_2026 () INHERITS (public.ledger_all);
	INSERT INTO prod.ledger_2026 VALUES (1), (2);
	-- An extension owning a protected table (prod.ledger, test/probe).
	CREATE EXTENSION mpa_test_owner;
	-- An event trigger made before governance, left disabled.
	CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
	CREATE EVENT TRIGGER watcher ON ddl_command_end EXECUTE FUNCTION public.on_ddl();
	ALTER EVENT TRIGGER watcher DISABLE;
	-- A trusted function an attacker could replace by untrusted code.
	CREATE FUNCTION public.harmless() RETURNS int LANGUAGE sql AS 'SELECT 1';
	-- A function whose definition a policy protects (ALTER FUNCTION).
	CREATE FUNCTION public.rate() RETURNS int LANGUAGE sql AS 'SELECT 7';
	BEGIN;
	SELECT mpa_protect('DROP TABLE', 'prod.*', 'security');
	SELECT mpa_protect('TRUNCATE', 'prod.*', 'security');
	SELECT mpa_protect('DROP VIEW', 'prod.*', 'security');
	SELECT mpa_protect('DROP RULE', 'prod.keep', 'security');
	SELECT mpa_protect('DROP POLICY', 'prod.tenant', 'security');
	SELECT mpa_protect('CREATE RULE', 'prod.accounts', 'security');
	SELECT mpa_protect('CREATE POLICY', 'prod.accounts', 'security');
	SELECT mpa_protect('ALTER POLICY', 'prod.tenant', 'security');
	SELECT mpa_protect('CREATE VIEW', 'prod.*', 'security');
	SELECT mpa_protect('ALTER VIEW', 'prod.*', 'security');
	SELECT mpa_protect('ALTER FUNCTION', 'public.rate', 'security');
	SELECT mpa_protect('DROP DATABASE', 'app', 'security');
	SELECT mpa_protect('ALTER DATABASE', 'app', 'security');
	SELECT mpa_protect('DROP TABLESPACE', 'ts', 'security');
	SELECT mpa_protect('ALTER TABLESPACE', 'ts', 'security');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	COMMIT;
});

# Everything an attack could change, as one text: pg_mpa's state tables
# (MpaTest::state_rows_sql), pg_mpa's objects, and the protected objects
# with the attributes the attacks aim at. Read in postgres; databases,
# tablespaces and event triggers are seen from there too.
my $state_sql = q{
	SELECT string_agg(t, E'\n' ORDER BY t) FROM (
	  SELECT md5(string_agg(t, '|' ORDER BY t)) AS t FROM (__STATE_ROWS__) s
	  UNION ALL
	  SELECT 'pg_mpa member ' || pg_describe_object(classid, objid, objsubid) FROM pg_depend
	   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_mpa')
	  UNION ALL
	  SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger
	   WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'mpa'::regnamespace) AND NOT tgisinternal
	  UNION ALL
	  SELECT 'rule ' || ev_class::regclass || ' ' || rulename FROM pg_rewrite
	   WHERE ev_class IN (SELECT oid FROM pg_class WHERE relnamespace IN ('mpa'::regnamespace, 'prod'::regnamespace))
	  UNION ALL
	  SELECT 'policy ' || polrelid::regclass || ' ' || polname || ' ' || pg_get_expr(polqual, polrelid) FROM pg_policy
	  UNION ALL
	  SELECT 'relation ' || oid::regclass || ' ' || relkind::text || ' rls=' || relrowsecurity || ' rows='
	         || CASE WHEN relkind = 'r' THEN (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %s', oid::regclass), false, true, '')))[1]::text ELSE '' END
	    FROM pg_class WHERE relnamespace IN ('prod'::regnamespace, 'public'::regnamespace) AND relkind IN ('r', 'p', 'v')
	  UNION ALL
	  SELECT 'inherits ' || inhrelid::regclass || ' < ' || inhparent::regclass FROM pg_inherits
	  UNION ALL
	  SELECT 'view ' || oid::regclass || ' ' || md5(pg_get_viewdef(oid)) FROM pg_class
	   WHERE relnamespace = 'prod'::regnamespace AND relkind = 'v'
	  UNION ALL
	  SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension
	  UNION ALL
	  SELECT 'database ' || datname || ' ' || datdba::regrole || ' ' || datconnlimit || ' ' || dattablespace::text
	    FROM pg_database
	  UNION ALL
	  SELECT 'database setting ' || setdatabase::text || ' ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
	  UNION ALL
	  SELECT 'tablespace ' || spcname || ' ' || spcowner::regrole || ' ' || coalesce(array_to_string(spcoptions, ','), '')
	    FROM pg_tablespace
	  UNION ALL
	  SELECT 'event trigger ' || evtname || ' ' || evtenabled::text || ' ' || evtowner::regrole FROM pg_event_trigger
	  UNION ALL
	  SELECT 'function ' || oid::regprocedure || ' ' || prolang::text || ' ' || md5(prosrc) FROM pg_proc
	   WHERE pronamespace = 'public'::regnamespace AND proname NOT LIKE 'mpa%'
	) x};
$state_sql =~ s/__STATE_ROWS__/MpaTest::state_rows_sql()/e;
# (After the worker's round has recorded every team's reachability: its
# change is no attack.)
sub state { MpaTest::wait_for_team_health($node); return $node->safe_psql('postgres', $state_sql) }

# Runs $sql as mallory in $db and checks that pg_mpa refused it with
# $sqlstate (default MP001) and that nothing changed.
sub attack
{
	my ($db, $sql, %opt) = @_;
	my $sqlstate = $opt{sqlstate} // 'MP001';
	my $before = state();
	my ($rc, $error) = MpaTest::refusal_as($node, 'mallory', $sql, dbname => $db);
	like($error, qr/^\Q$sqlstate\E: /, "refused with pg_mpa's $sqlstate in $db: $sql")
	  or diag("rc $rc: $error");
	like($error, $opt{message}, '  for the reason expected') if $opt{message};
	my $after = state();
	is($after, $before, '  and nothing changed') or diag(diff_lines($before, $after));
}

sub diff_lines
{
	my ($was, $is) = @_;
	my %was = map { $_ => 1 } split /\n/, $was;
	my %is = map { $_ => 1 } split /\n/, $is;
	return join("\n", (map { "  + $_" } grep { !$was{$_} } sort keys %is),
		(map { "  - $_" } grep { !$is{$_} } sort keys %was));
}

# Waits until the other databases see the published policies (the worker
# publishes them shortly after the commit).
ok(MpaTest::poll_until($node, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'}, 30),
	'the mail worker runs (it publishes the policies)');
my $deadline = time() + 30;
while (time() < $deadline)
{
	my ($rc, $error) = MpaTest::refusal_as($node, 'mallory', 'BEGIN; ALTER DATABASE app CONNECTION LIMIT 3; ROLLBACK',
		dbname => 'other');
	last if $error =~ /^MP001: /;
	select(undef, undef, undef, 0.1);
}

# ---------------------------------------------------------------------------
# Indirect drops and truncations of protected objects (self-protection.md,
# "Protected objects, however they are reached"; object access hook).

subtest 'DROP EXTENSION of an extension that owns a protected table' => sub {
	attack('postgres', 'DROP EXTENSION mpa_test_owner', message => qr/dropping table prod\.ledger requires/);
	attack('postgres', 'DROP EXTENSION mpa_test_owner CASCADE', message => qr/prod\.ledger/);
};

subtest 'TRUNCATE of an inherited parent of a protected table' => sub {
	attack('postgres', 'TRUNCATE public.ledger_all', message => qr/truncating table prod\.ledger_2026 requires/);
	attack('postgres', 'TRUNCATE public.ledger_all CASCADE', message => qr/prod\.ledger_2026/);
	# TRUNCATE ONLY the parent reaches no child: it stays free.
	my ($rc) = MpaTest::psql_as($node, 'mallory', 'TRUNCATE ONLY public.ledger_all');
	is($rc, 0, 'TRUNCATE ONLY the parent is free');
};

subtest 'a dependent drop: the table under a protected view, with CASCADE' => sub {
	attack('postgres', 'DROP TABLE public.base CASCADE', message => qr/dropping view prod\.base_v requires/);
};

# ---------------------------------------------------------------------------
# Views, rules and row security policies, named 'schema.their_name'.

subtest 'views, rules and row security policies of a protected table' => sub {
	attack('postgres', 'DROP VIEW prod.accounts_v', message => qr/DROP VIEW on prod\.accounts_v requires/);
	attack('postgres', 'SET search_path = prod; DROP VIEW accounts_v', message => qr/prod\.accounts_v/);
	attack('postgres', 'DROP RULE keep ON prod.accounts', message => qr/DROP RULE on prod\.keep requires/);
	attack('postgres', 'DROP POLICY tenant ON prod.accounts', message => qr/DROP POLICY on prod\.tenant requires/);
	attack('postgres', 'CREATE RULE r2 AS ON UPDATE TO prod.accounts DO INSTEAD NOTHING',
		message => qr/CREATE RULE on prod\.accounts requires/);
	attack('postgres', 'CREATE POLICY p2 ON prod.accounts USING (true)',
		message => qr/CREATE POLICY on prod\.accounts requires/);
	# Through the table: its drop would take the view, rule and policy.
	attack('postgres', 'DROP TABLE prod.accounts CASCADE', message => qr/prod\.accounts/);
};

# ---------------------------------------------------------------------------
# Databases and tablespaces: cluster-wide, refused in mpa.database and from
# any other database (pointed to mpa.database).

subtest 'databases under a policy, from mpa.database and from another' => sub {
	for my $db ('postgres', 'other')
	{
		attack($db, 'DROP DATABASE app', message => qr/DROP DATABASE on app requires/);
		attack($db, 'DROP DATABASE app WITH (FORCE)', message => qr/DROP DATABASE on app requires/);
		attack($db, 'ALTER DATABASE app RENAME TO app2', message => qr/ALTER DATABASE on app requires/);
		attack($db, 'ALTER DATABASE app OWNER TO bob', message => qr/ALTER DATABASE on app requires/);
		attack($db, 'ALTER DATABASE app CONNECTION LIMIT 3', message => qr/ALTER DATABASE on app requires/);
		attack($db, q{ALTER DATABASE app SET work_mem = '8MB'}, message => qr/ALTER DATABASE on app requires/);
	}
	# From inside app itself, where its approvals do not live.
	attack('app', 'ALTER DATABASE app CONNECTION LIMIT 3', message => qr/ALTER DATABASE on app requires/);
};

# pg_mpa's home database itself (no policy names it): renamed, dropped,
# closed to connections or re-owned, it would take pg_mpa's protection, and
# every object in it, with it. Found open on main at 30cea18: with the worker
# terminated, ALTER DATABASE postgres RENAME ran from template1.
subtest "pg_mpa's home database, from another database and from itself" => sub {
	for my $db ('other', 'postgres')
	{
		for my $sql ('ALTER DATABASE postgres RENAME TO home2', 'DROP DATABASE postgres WITH (FORCE)',
			'ALTER DATABASE postgres ALLOW_CONNECTIONS false', 'ALTER DATABASE postgres CONNECTION LIMIT 0',
			'ALTER DATABASE postgres OWNER TO mallory', q{ALTER DATABASE postgres SET work_mem = '8MB'},
			'ALTER DATABASE postgres IS_TEMPLATE true')
		{
			attack($db, $sql, message => qr/on postgres requires the approval of team "security"/);
		}
	}
	# Any route to it meets the object access hook too: with the worker gone
	# and nobody else connected, a rename from template1.
	$node->safe_psql('template1', q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres'});
	attack('template1', 'ALTER DATABASE postgres RENAME TO home2', message => qr/requires the approval of team "security"/);
	is($node->safe_psql('template1', q{SELECT count(*) FROM pg_database WHERE datname = 'postgres' AND datallowconn}), '1',
		'the home database keeps its name and takes connections');
	is(($node->psql('other', 'ALTER DATABASE other CONNECTION LIMIT 5; ALTER DATABASE other CONNECTION LIMIT -1'))[0], 0,
		'another database with no policy stays free (positive control)');
};

subtest 'tablespaces under a policy, from mpa.database and from another' => sub {
	for my $db ('postgres', 'other')
	{
		attack($db, 'DROP TABLESPACE ts', message => qr/DROP TABLESPACE on ts requires/);
		attack($db, 'ALTER TABLESPACE ts RENAME TO ts2', message => qr/ALTER TABLESPACE on ts requires/);
		attack($db, 'ALTER TABLESPACE ts OWNER TO bob', message => qr/ALTER TABLESPACE on ts requires/);
	}
	# Refused, and also requestable: mpa_request found no target in it and
	# answered "not protected" (MP002), so it could never be approved.
	my ($rc, $out, $err) = $node->psql('postgres', q{SELECT mpa_request('DROP TABLESPACE ts', 'retire it')});
	is($rc, 0, 'DROP TABLESPACE ts can be requested') or diag($err);
};

# ---------------------------------------------------------------------------
# pg_mpa's own objects (self-protection.md, "DROP EXTENSION pg_mpa, …").

subtest "ALTER EXTENSION pg_mpa DROP, and pg_mpa's views, triggers and rules" => sub {
	# Dropped from the extension, a function would no longer be pg_mpa's
	# (nor protected as pg_mpa's).
	attack('postgres', 'ALTER EXTENSION pg_mpa DROP FUNCTION mpa_vote(bigint, text)');
	attack('postgres', 'ALTER EXTENSION pg_mpa DROP VIEW mpa.pending');
	attack('postgres', 'ALTER EXTENSION pg_mpa DROP TABLE mpa.votes');
	attack('postgres', 'DROP VIEW mpa.pending');
	attack('postgres', 'ALTER VIEW mpa.pending RENAME TO pending_old');
	attack('postgres', 'CREATE OR REPLACE VIEW mpa.pending AS SELECT * FROM mpa.pending');
	attack('postgres', 'DROP TRIGGER approvers_changed ON mpa.approvers');
	attack('postgres', 'ALTER TABLE mpa.approvers DISABLE TRIGGER approvers_changed');
	attack('postgres', 'DROP RULE "_RETURN" ON mpa.pending');
	attack('postgres', 'ALTER TABLE mpa.requests DISABLE ROW LEVEL SECURITY');
};

subtest "pg_mpa's tables: row locks, and partitioning with them" => sub {
	# A row lock held at will stalls pg_mpa's own writes (a vote, a
	# verification): refused like a write, before governance too.
	attack('postgres', 'SELECT * FROM mpa.requests FOR UPDATE');
	attack('postgres', 'SELECT * FROM mpa.teams FOR SHARE');
	# A table of pg_mpa made a partition of another (its rows then written
	# through that table).
	attack('postgres', q{BEGIN; CREATE TABLE public.pt (LIKE mpa.votes) PARTITION BY LIST (decision);
		ALTER TABLE public.pt ATTACH PARTITION mpa.votes DEFAULT; COMMIT},
		message => qr/partitioning involving pg_mpa's table mpa\.votes is refused/);
};

# ---------------------------------------------------------------------------
# Code that runs outside PostgreSQL's sandbox, and event triggers.

subtest 'functions in untrusted languages' => sub {
	attack('postgres', q{CREATE FUNCTION public.clock() RETURNS timestamptz LANGUAGE internal AS 'now'});
	attack('postgres', q{CREATE FUNCTION public.tally() RETURNS int LANGUAGE c AS 'pg_mpa', 'mpa_tally'});
	# A trusted function replaced by untrusted code.
	attack('postgres', q{CREATE OR REPLACE FUNCTION public.harmless() RETURNS int LANGUAGE internal AS 'pg_backend_pid'});
	# CREATE LANGUAGE is CREATE EXTENSION (refused once governed).
	attack('postgres', 'CREATE LANGUAGE plpython3u');
	SKIP:
	{
		skip 'plperlu is not installed in this PostgreSQL', 2 * 3 unless $plperlu;
		attack('postgres', q{CREATE FUNCTION public.shell() RETURNS text LANGUAGE plperlu AS 'return `id`'});
		attack('postgres', q{DO LANGUAGE plperlu 'open(my $f, ">", "/tmp/pg_mpa_plperlu_ran")'});
	}
	ok(!-e '/tmp/pg_mpa_plperlu_ran', 'no untrusted code ran');
};

subtest 'CREATE and ALTER EVENT TRIGGER' => sub {
	attack('postgres', 'CREATE EVENT TRIGGER w2 ON ddl_command_start EXECUTE FUNCTION public.on_ddl()');
	attack('postgres', 'ALTER EVENT TRIGGER watcher ENABLE');
	attack('postgres', 'ALTER EVENT TRIGGER watcher ENABLE ALWAYS');
	attack('other', q{CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
		CREATE EVENT TRIGGER w3 ON ddl_command_start EXECUTE FUNCTION public.on_ddl()});
};

# ---------------------------------------------------------------------------
# A protected statement run from an extension's install script: even when
# the approvers approved the CREATE EXTENSION, its script's DROP TABLE of a
# protected table is judged on its own, and refuses the whole statement.

subtest 'a protected statement in an approved extension script' => sub {
	my $request = MpaTest::safe_psql_as($node, 'mallory',
		q{SELECT mpa_request('CREATE EXTENSION mpa_test_dropper', 'a test extension')});
	like($request, qr/^\d+$/, "mallory's request $request for the CREATE EXTENSION");
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
	like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_verify($request, '$code')"), qr/approved/,
		'alice approves the CREATE EXTENSION');
	attack('postgres', 'CREATE EXTENSION mpa_test_dropper', message => qr/DROP TABLE on prod\.accounts requires/);
	is($node->safe_psql('postgres', q{SELECT to_regclass('public.dropper_was_here') IS NULL
		AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'mpa_test_dropper')}), 't',
		'the extension was not created, nothing of its script stayed');
};

is($node->safe_psql('postgres', 'SELECT count(*) FROM prod.accounts'), '3', 'prod.accounts keeps its rows');

# ---------------------------------------------------------------------------
# Routes found open while this test was written (on main at c53a2d6): forms
# of routes the docs said were closed. They run last: were one to get
# through again, it would change nothing the attacks above look at.

subtest 'was open: ALTER EVENT TRIGGER … RENAME / OWNER TO once governed' => sub {
	# self-protection.md: "event triggers (CREATE/ALTER EVENT TRIGGER …) |
	# gate". RENAME and OWNER TO are RenameStmt/AlterOwnerStmt, not
	# AlterEventTrigStmt: changes_pg_mpa_setup() does not see them.
	attack('postgres', 'ALTER EVENT TRIGGER watcher OWNER TO mallory');
	attack('postgres', 'ALTER EVENT TRIGGER watcher RENAME TO watcher2');
};

subtest 'was open: ALTER TABLESPACE … SET/RESET under an ALTER TABLESPACE policy' => sub {
	# AlterTableSpaceOptionsStmt has no case in collect_targets(): without
	# a target only a '*' policy applies, so a policy naming ts misses it.
	attack('postgres', 'ALTER TABLESPACE ts SET (seq_page_cost = 2)', message => qr/ALTER TABLESPACE on ts requires/);
	attack('other', 'ALTER TABLESPACE ts SET (random_page_cost = 2)', message => qr/ALTER TABLESPACE on ts requires/);
};

subtest "was open: a view, rule or row security policy named 'schema.their_name'" => sub {
	# CREATE VIEW has no target in collect_targets(): a 'CREATE VIEW'
	# policy on prod.* covers neither a new view nor CREATE OR REPLACE of
	# a protected one.
	attack('postgres', 'CREATE VIEW prod.v2 AS SELECT 1 AS one', message => qr/CREATE VIEW on prod\.v2 requires/);
	# CREATE OR REPLACE of a view or function that exists alters it: judged
	# as ALTER VIEW / ALTER FUNCTION (a policy on those protects the
	# definition), as a new one by CREATE.
	attack('postgres', 'CREATE OR REPLACE VIEW prod.accounts_v AS SELECT id, 0 AS leaked FROM prod.accounts',
		message => qr/ALTER VIEW on prod\.accounts_v requires/);
	attack('postgres', q{CREATE OR REPLACE FUNCTION public.rate() RETURNS int LANGUAGE sql AS 'SELECT 0'},
		message => qr/ALTER FUNCTION on public\.rate requires/);
	is($node->safe_psql('postgres', 'SELECT public.rate()'), '7', 'the protected function kept its definition');
	# ALTER POLICY is judged on the table (prod.accounts), not on the
	# policy's own name as decisions.md names a table's parts.
	attack('postgres', 'ALTER POLICY tenant ON prod.accounts USING (true)', message => qr/ALTER POLICY on prod\.tenant requires/);
	# A rule or RLS policy protected against DROP by its exact name is
	# renamed (renames of a table's parts are free) and then dropped
	# under a name no policy names.
	attack('postgres', 'BEGIN; ALTER RULE keep ON prod.accounts RENAME TO keep2; DROP RULE keep2 ON prod.accounts; COMMIT');
	attack('postgres', 'BEGIN; ALTER POLICY tenant ON prod.accounts RENAME TO tenant2; DROP POLICY tenant2 ON prod.accounts; COMMIT');
};

done_testing();
