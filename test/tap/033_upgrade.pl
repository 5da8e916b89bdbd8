# Upgrading pg_mpa from 0.1, as a DBA does it (docs/operations.md,
# "Upgrading"): an installation of 0.1 in use and governed, the new library
# installed and the server restarted (the library then runs with 0.1's SQL
# objects), ALTER EXTENSION pg_mpa UPDATE requested, approved with codes
# from mail and run. Then the protection holds, what was pending or
# approved carries on, the audit chain still verifies and goes on, and the
# objects equal those of a fresh install of the current version: any
# difference fails and is printed (the guard for every change of
# sql/install: a table change needs its step in sql/upgrade/).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('upgraded', $smtp, "mpa.resend_cooldown = 0\n", extension_version => '0.1');
# The version installed now (the control file's default_version): the one
# an update goes to and a fresh install has.
my ($current) = slurp_file($node->config_data('--sharedir') . '/extension/pg_mpa.control')
  =~ /^default_version = '([^']+)'/m or die 'no default_version in pg_mpa.control';
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), '0.1',
	'0.1 installs with the current library (every C symbol its script names is still there)');

# ---------------------------------------------------------------------------
# 0.1 in use: a team with confirmed addresses, a protected table, a pending
# request with one vote, an approved one not yet run, refusals in the audit,
# and governance on.
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	CREATE SCHEMA app; CREATE TABLE app.ledger (id int); CREATE TABLE app.archive (id int);
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
});
MpaTest::confirm_address($node, $smtp, 'security', $_, "$_\@example.com") for qw(alice bob carol);
$node->safe_psql('postgres', q{
	SELECT mpa_protect('DROP TABLE', 'app.*', 'security');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
});

my $drop_ledger = 'DROP TABLE app.ledger';
my $refused_ledger = 'MP001: DROP TABLE on app.ledger requires the approval of team "security"';
is_deeply([ MpaTest::refusal_as($node, 'postgres', $drop_ledger) ], [ 3, $refused_ledger ],
	'0.1: the protected DROP is refused');
my $pending = $node->safe_psql('postgres', "SELECT mpa_request('$drop_ledger', 'the ledger moved')");
MpaTest::approve($node, $smtp, $pending, 'alice');
my $approved = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE app.archive', 'archived')});
MpaTest::approve($node, $smtp, $approved, $_) for qw(alice bob);
is($node->safe_psql('postgres', "SELECT string_agg(state, ',' ORDER BY id) FROM mpa.requests"),
	'pending,approved', '0.1: one request pending (one vote of two), one approved and not run');

# The chain as 0.1 left it: every entry chained, intact.
ok(MpaTest::poll_until($node, 'SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL', 30),
	'0.1: the worker chained every audit entry');
my $chain_before = $node->safe_psql('postgres', 'SELECT string_agg(seq || hash, ' . "','" . ' ORDER BY seq) FROM mpa.audit');
my $entries_before = $node->safe_psql('postgres', 'SELECT count(*) FROM mpa.audit');

# ---------------------------------------------------------------------------
# The new package: library installed, server restarted. Until the update,
# the current library runs with 0.1's SQL objects: the protection holds,
# and the update is approved through 0.1's functions (request, votes, codes
# mailed by the worker).
my $log_offset = -s $node->logfile;
$node->restart;
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), '0.1',
	'after the restart, the SQL objects are still 0.1');
# The DBA (and, through them, the approvers) learn that an update is due.
ok(eval {
		$node->wait_for_log(
			qr/WARNING:  pg_mpa's SQL objects are version 0\.1, its library version \Q$current\E\n.*HINT:  Run ALTER EXTENSION pg_mpa UPDATE in database "postgres"/,
			$log_offset);
	},
	'the mail worker says in the log that the SQL objects are older than the library') or diag($@);
is_deeply([ MpaTest::refusal_as($node, 'postgres', $drop_ledger) ], [ 3, $refused_ledger ],
	'between restart and update, the protected DROP is refused (MP001)');

# Governed, the update changes pg_mpa's objects: it is a request like any
# other, refused without approval.
my $refused_update = 'MP001: ALTER EXTENSION on pg_mpa requires the approval of team "security"';
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'ALTER EXTENSION pg_mpa UPDATE') ], [ 3, $refused_update ],
	'ALTER EXTENSION pg_mpa UPDATE without approval is refused (MP001)');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), '0.1',
	'and updated nothing');

my $update = $node->safe_psql('postgres',
	q{SELECT mpa_request('ALTER EXTENSION pg_mpa UPDATE', 'pg_mpa 0.2: the new package is installed')});
MpaTest::approve($node, $smtp, $update, 'alice');
like(MpaTest::approve($node, $smtp, $update, 'carol'),
	qr/the request is approved/, 'the update is approved with codes mailed by the current library on 0.1');

my ($rc, $out, $err) = $node->psql('postgres', 'ALTER EXTENSION pg_mpa UPDATE');
is($rc, 0, 'the approved ALTER EXTENSION pg_mpa UPDATE runs') or diag($err);
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), $current,
	"pg_mpa is now $current");
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $update"), 'executed',
	'the update spent its request');
# Run once: the approval is spent (a second UPDATE would be refused before
# PostgreSQL could say there is nothing to do).
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'ALTER EXTENSION pg_mpa UPDATE') ], [ 3, $refused_update ],
	'a second ALTER EXTENSION pg_mpa UPDATE is refused: the approval ran once');
# The form with TO is requestable too, as another statement on the same
# object (docs/operations.md).
my $to = $node->safe_psql('postgres',
	"SELECT mpa_request('ALTER EXTENSION pg_mpa UPDATE TO ''$current''', 'the form with TO')");
is($node->safe_psql('postgres', "SELECT operation || ' on ' || object || ', ' || team FROM mpa.requests WHERE id = $to"),
	'ALTER EXTENSION on pg_mpa, security', 'ALTER EXTENSION pg_mpa UPDATE TO is requested from the governing team');
$node->safe_psql('postgres', "SELECT mpa_cancel($to)");

# ---------------------------------------------------------------------------
# After the update: the protection holds, what 0.1 left carries on.
is_deeply([ MpaTest::refusal_as($node, 'postgres', $drop_ledger) ], [ 3, $refused_ledger ],
	'after the update, the protected DROP is still refused (MP001)');
like(MpaTest::approve($node, $smtp, $pending, 'bob'),
	qr/the request is approved/, 'the request pending since 0.1 takes its second vote and is approved');
$node->safe_psql('postgres', "SELECT mpa_execute($approved)");
is($node->safe_psql('postgres', q{SELECT to_regclass('app.archive') IS NULL}), 't',
	'the request approved under 0.1 runs after the update');
is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_execute($approved)") ],
	[ 3, "MP004: request $approved is executed, not approved" ], 'once');

# The chain: what 0.1 chained is untouched, the new entries (the update,
# the votes, the executions) chain after it, and the whole verifies.
ok(MpaTest::poll_until($node, 'SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL', 30),
	'the worker chains the entries made since the update');
is($node->safe_psql('postgres',
		"SELECT string_agg(seq || hash, ',' ORDER BY seq) FROM mpa.audit WHERE seq <= $entries_before"),
	$chain_before, "the chain's entries from 0.1 are unchanged");
is($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM mpa.audit WHERE seq > $entries_before AND kind = 'executed' AND request_id = $update"),
	't', 'the update itself is in the chain, after them');
is($node->safe_psql('postgres', 'SELECT intact, entries > ' . $entries_before . ' FROM mpa_audit_verify()'),
	't|t', 'the whole chain verifies');

# ---------------------------------------------------------------------------
# The objects equal a fresh install's. A second cluster: there, before any
# team governs, the update needs no request (it just runs); then pg_mpa is
# dropped and the current version installed fresh.
my $fresh = MpaTest::new_node('fresh', undef, undef, extension_version => '0.1');
$fresh->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_protect('DROP TABLE', 'app.*', 'security');
});
($rc, $out, $err) = $fresh->psql('postgres', 'ALTER EXTENSION pg_mpa UPDATE');
is($rc, 0, 'before governance, ALTER EXTENSION pg_mpa UPDATE runs without a request') or diag($err);
my $ungoverned_update = MpaTest::pg_mpa_objects($fresh);
$fresh->safe_psql('postgres', 'DROP EXTENSION pg_mpa; CREATE EXTENSION pg_mpa');
is($fresh->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), $current,
	"a fresh install is $current");
my $fresh_objects = MpaTest::pg_mpa_objects($fresh);
cmp_ok(scalar(keys %$fresh_objects), '>', 100, 'the fresh install is described (functions, tables, ...)');

my $difference = MpaTest::objects_difference($fresh_objects, MpaTest::pg_mpa_objects($node),
	"fresh $current", "0.1 updated to $current");
ok($difference eq '', "0.1 in use, updated, has exactly the objects of a fresh $current")
  or diag("\n$difference\nA table change needs its step in sql/upgrade/0.1--$current/ (sql/upgrade/README.md).");
$difference = MpaTest::objects_difference($fresh_objects, $ungoverned_update,
	"fresh $current", "0.1 updated to $current (ungoverned)");
ok($difference eq '', "0.1 updated before governance has them too")
  or diag("\n$difference");

done_testing();
