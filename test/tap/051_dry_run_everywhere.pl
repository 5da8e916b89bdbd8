# Dry-run policies that reach other databases (#22, slice 1b; docs/decisions.md
# "Policy modes"): policies for every database ('*'), for a named database
# and on cluster-wide operations may be dry-run. The other databases' gates
# read the mode from the copy published in shared memory: they refuse
# nothing a dry-run policy names, tell the session, and record it through
# the audit ring, which mpa.dry_run shows with its database. Objects dropped
# by a cascade are recorded too (the object access hook), once per policy
# and statement. The issue's test: a workload of a few dozen mixed
# statements replayed in mpa.database ('postgres') and in billing, nothing
# refused, every matching statement recorded exactly once; then one policy
# switched to enforcing through governance, and the same statement refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('dryrun_everywhere', $smtp);
sub query { return $node->safe_psql('postgres', $_[0]); }

# deployer runs the workload: it owns schema prod in both databases.
query(q{
	CREATE DATABASE billing;
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE deployer LOGIN;
	SELECT mpa_team_create('dba', 1), mpa_team_create('security', 1);
	SELECT mpa_approver_add('dba', 'alice', 'alice@example.com'), mpa_approver_add('security', 'bob', 'bob@example.com');
});
for my $db (qw(postgres billing))
{
	$node->safe_psql($db, q{
		CREATE SCHEMA prod AUTHORIZATION deployer;
		CREATE TABLE prod.keep (id int); ALTER TABLE prod.keep OWNER TO deployer;
		GRANT CREATE ON SCHEMA public TO deployer;
		CREATE SCHEMA guard; CREATE TABLE guard.t (id int);
		CREATE SCHEMA marker; CREATE TABLE marker.t (id int);
	});
}

# The dry-run set: ALTER TABLE on prod.* here only, DROP TABLE on prod.* in
# every database, TRUNCATE on prod.* in billing only, ALTER ROLE (a
# cluster-wide operation) on every role.
query(q{
	SELECT mpa_protect('ALTER TABLE', 'prod.*', 'dba', mode => 'dry-run');
	SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', database => '*', mode => 'dry-run');
	SELECT mpa_protect('TRUNCATE TABLE', 'prod.*', 'dba', database => 'billing', mode => 'dry-run');
	SELECT mpa_protect('ALTER ROLE', '*', 'dba', mode => 'dry-run');
});
# Only enforcing policies decide a database's drop: the dry-run ones for
# every database must not make every DROP DATABASE need dba's approval.
query('CREATE DATABASE scratch');
my ($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'DROP DATABASE scratch');
is($rc, 0, 'a dry-run policy for every database does not protect DROP DATABASE');
# Beside them: an enforcing policy for every database and a dry-run one
# naming billing on the same pattern (guard.*), and an enforcing marker
# policy whose refusal in billing says the set has been published there.
query(q{
	SELECT mpa_protect('DROP TABLE', 'guard.*', 'dba', database => '*');
	SELECT mpa_protect('DROP TABLE', 'guard.*', 'dba', database => 'billing', mode => 'dry-run');
	SELECT mpa_protect('DROP TABLE', 'marker.*', 'dba', database => 'billing');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
});
# (Slice 1 refused dry-run policies reaching other databases with 22023.)
is(query(q{SELECT string_agg(concat_ws(' ', operation, object, coalesce(database, '-'), mode), ', ' ORDER BY id)
	FROM mpa.policies WHERE mode = 'dry-run'}),
	'ALTER TABLE prod.* - dry-run, DROP TABLE prod.* * dry-run, TRUNCATE TABLE prod.* billing dry-run, '
	  . 'ALTER ROLE * - dry-run, DROP TABLE guard.* billing dry-run',
	'dry-run policies for every database, for billing and on a cluster-wide operation are accepted');
# Policy ids by "operation object database" ('-': this database's).
my %policy = map { split /\|/ } split /\n/,
  query(q{SELECT concat_ws(' ', operation, object, coalesce(database, '-')), id FROM mpa.policies});
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE marker.t',
	'MP001: DROP TABLE on marker.t requires the approval of team "dba"', dbname => 'billing'),
	'MP001: DROP TABLE on marker.t requires the approval of team "dba"', 'the policies reached billing');

# A dry-run policy for billing overrides no enforcing one for every
# database: billing's copy keeps the enforcing one first.
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP TABLE guard.t', dbname => 'billing') ],
	[ 3, 'MP001: DROP TABLE on guard.t requires the approval of team "dba"' ],
	'in billing, a dry-run policy naming billing does not loosen an enforcing one for every database');

# A statement only dry-run policies name needs no approval: mpa_request
# answers MP002 and its HINT names the policy, so that the DBA sees why.
my (undef, $error, $hint) =
  MpaTest::refusal_and_hint_as($node, 'postgres', q{SELECT mpa_request('ALTER TABLE prod.keep ADD COLUMN b int', 'x')});
is($error, 'MP002: ALTER TABLE on prod.keep is not protected: it needs no approval',
	'a request for a statement only a dry-run policy names is answered MP002');
is($hint, qq{Dry-run policy $policy{'ALTER TABLE prod.* -'} (ALTER TABLE on prod.*, team "dba", mode dry-run) names it: }
	  . 'the statement runs and is recorded in mpa.dry_run. Run the statement directly.',
	'its HINT names the dry-run policy: id, pattern, mode');
(undef, $error, $hint) =
  MpaTest::refusal_and_hint_as($node, 'postgres', q{SELECT mpa_request('ALTER ROLE deployer CONNECTION LIMIT 5', 'x')});
like($hint, qr/^Dry-run policy $policy{'ALTER ROLE * -'} \(ALTER ROLE on \*, team "dba", mode dry-run\) names it/,
	'so does the HINT for a cluster-wide statement');
(undef, $error, $hint) =
  MpaTest::refusal_and_hint_as($node, 'postgres', q{SELECT mpa_request('CREATE TABLE public.x (id int)', 'x')});
is($hint, 'Run the statement directly.', 'a statement no policy names gets the plain HINT');

# The same for a request for billing: its statement is described in billing
# by the describe task, and the HINT must name billing's dry-run policies
# (its copy from shared memory, published above), not home's. The TRUNCATE
# policy exists for billing only, so only billing's copy can name it.
(undef, $error, $hint) = MpaTest::refusal_and_hint_as($node, 'postgres',
	q{SELECT mpa_request('TRUNCATE prod.keep', 'x', database => 'billing')});
is($error, 'MP002: TRUNCATE TABLE on prod.keep is not protected: it needs no approval',
	'a request for billing of a statement only a dry-run policy there names is answered MP002');
is($hint, qq{Dry-run policy $policy{'TRUNCATE TABLE prod.* billing'} (TRUNCATE TABLE on prod.*, team "dba", mode dry-run) }
	  . 'names it: the statement runs and is recorded in mpa.dry_run. Run the statement directly.',
	"its HINT names billing's dry-run policy (id, pattern, mode), worded as at home");
# A dry-run policy for every database ('*') reaches billing's copy too.
(undef, $error, $hint) = MpaTest::refusal_and_hint_as($node, 'postgres',
	q{SELECT mpa_request('DROP TABLE prod.keep', 'x', database => 'billing')});
my $every = $policy{'DROP TABLE prod.* *'};
like($hint, qr/^Dry-run policy $every \(DROP TABLE on prod\.\*, team "dba", mode dry-run\) names it/,
	"in billing, a dry-run policy for every database is named too");
# ALTER TABLE on prod.* is dry-run at home only: in billing nothing names
# it, so the HINT is the plain one (asking home's policies would name it).
(undef, $error, $hint) = MpaTest::refusal_and_hint_as($node, 'postgres',
	q{SELECT mpa_request('ALTER TABLE prod.keep ADD COLUMN b int', 'x', database => 'billing')});
is($error, 'MP002: ALTER TABLE on prod.keep is not protected: it needs no approval',
	'a request for billing of a statement no policy there names is answered MP002');
is($hint, 'Run the statement directly.', "and gets the plain HINT, though home's dry-run policy names it here");

# The workload, replayed statement by statement in each database: tables
# made, altered, filled, emptied and dropped in prod (named by dry-run
# policies) and in public (named by none), its role's settings altered
# (cluster-wide), and prod dropped with CASCADE at the end.
my @workload;
for my $i (1 .. 5)
{
	push @workload, "CREATE TABLE prod.t$i (id int)", "ALTER TABLE prod.t$i ADD COLUMN a int",
	  "INSERT INTO prod.t$i VALUES (1)", "TRUNCATE prod.t$i", "CREATE TABLE public.u$i (id int)",
	  "ALTER TABLE public.u$i ADD COLUMN a int", "TRUNCATE public.u$i";
}
push @workload, 'DROP TABLE prod.t1, prod.t2', 'DROP TABLE prod.t3', 'DROP TABLE public.u1, public.u2',
  q{ALTER ROLE deployer SET work_mem = '8MB'}, 'ALTER ROLE deployer RESET work_mem', 'DROP SCHEMA prod CASCADE';
my $script = join('', map { "$_;\n" } @workload);
# What each database's run must record, per policy: the statements (not
# objects) each would have refused. Here: 5 ALTER TABLE; DROP TABLE: the
# two drops and the schema's drop (its tables, by cascade), each once; 2
# ALTER ROLE. In billing: no ALTER TABLE (that policy is home's), 5
# TRUNCATE (billing's), the same DROP TABLE and ALTER ROLE.
my %expected = (
	postgres => { 'ALTER TABLE' => 5, 'DROP TABLE*' => 3, 'ALTER ROLE' => 2 },
	billing  => { 'DROP TABLE*' => 3, 'TRUNCATE TABLEbilling' => 5, 'ALTER ROLE' => 2 });
my %window;
for my $db (qw(postgres billing))
{
	my $start = $node->safe_psql($db, 'SELECT clock_timestamp()');
	($rc, $out, $err) = MpaTest::psql_as($node, 'deployer', $script, dbname => $db);
	is($rc, 0, scalar(@workload) . " statements replayed in $db: nothing refused");
	my $notices = () = $err =~ /^(?:psql:\S+: )?NOTICE:  dry-run policy /mg;
	my $total = 0;
	$total += $_ for values %{ $expected{$db} };
	is($notices, $total, "$db: the session is told once per recorded statement");
	$window{$db} = [ $start, $node->safe_psql($db, 'SELECT clock_timestamp()') ];
}
# The ring is first in, first out: once this last entry reached the audit,
# every entry of the workload has.
query(q{ALTER ROLE deployer SET work_mem = '9MB'});
ok(MpaTest::poll_until($node, q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'dry-run' AND actor = 'postgres'}),
	'the dry-run entries reach the audit');

# Exactly the expected statements per policy, database and role, and none
# for what no dry-run policy names.
for my $db (qw(postgres billing))
{
	my %found = map { split /\|/ } split /\n/, query(qq{
		SELECT v.operation || coalesce(p.database, ''), sum(v.statements) FROM mpa.dry_run v
		  JOIN mpa.policies p ON p.id = v.policy_id
		 WHERE v.database = '$db' AND v.role = 'deployer' GROUP BY 1});
	is_deeply(\%found, $expected{$db}, "$db: mpa.dry_run counts every matching statement once, per policy");
	my ($from, $to) = @{ $window{$db} };
	is(query(qq{SELECT count(*) FROM mpa.dry_run WHERE database = '$db' AND role = 'deployer'
		AND NOT (first_seen >= '$from' AND last_seen <= '$to' AND first_seen <= last_seen)}), '0',
		"$db: first and last seen fall within its replay");
}
is(query(q{SELECT count(*) FROM mpa.audit WHERE kind = 'dry-run' AND (detail->>'target' LIKE 'public.%'
	OR detail->>'statement' LIKE '%public.%')}), '0', 'statements on public, which no policy names, are not recorded');
# The cascade: DROP SCHEMA prod CASCADE, named by no policy, removed tables
# the DROP TABLE policy names: recorded once per database, by its text.
is(query(q{SELECT string_agg(database || ' ' || (detail->>'operation') || ' ' || (detail->>'pattern'), ', ' ORDER BY database)
	FROM mpa.audit WHERE kind = 'dry-run' AND detail->>'statement' = 'DROP SCHEMA prod CASCADE'}),
	'billing DROP TABLE prod.*, postgres DROP TABLE prod.*',
	'a schema dropped with CASCADE is recorded once for the dry-run DROP TABLE policy, in each database');
is(query(q{SELECT string_agg(DISTINCT role, ',') FROM mpa.dry_run WHERE operation = 'ALTER ROLE'}), 'deployer,postgres',
	'mpa.dry_run names the role that ran each statement');

# Switching the DROP TABLE policy to enforcing is a configuration change:
# refused directly, run once the governing team approved it.
for my $db (qw(postgres billing))
{
	$node->safe_psql($db, q{CREATE SCHEMA prod; CREATE TABLE prod.later (id int)});
}
MpaTest::change_through_governance($node, $smtp,
	q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', database => '*', mode => 'enforce')},
	'security', 'bob', 'switching a dry-run policy for every database to enforcing needs the governing team');
is(query(qq{SELECT mode FROM mpa.policies WHERE id = $policy{'DROP TABLE prod.* *'}}), 'enforce', 'once approved, it enforces');
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP TABLE prod.later') ],
	[ 3, 'MP001: DROP TABLE on prod.later requires the approval of team "dba"' ],
	'the same statement is then refused here');
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE prod.later',
	'MP001: DROP TABLE on prod.later requires the approval of team "dba"', dbname => 'billing'),
	'MP001: DROP TABLE on prod.later requires the approval of team "dba"', 'and in billing');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
