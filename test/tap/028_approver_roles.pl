# An approver's role is neither dropped nor renamed while it is one, from
# any database of the cluster (MP001): a CREATEROLE DBA could otherwise
# leave a team below its threshold, or free an approver's OID. Once removed
# with mpa_approver_remove (a configuration change), the role is a role
# like any other. In a database other than mpa.database, pg_mpa knows the
# approvers from what mpa.database published; right after a change, before
# it is published, it refuses rather than guess.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('approver_roles', $smtp);
$node->safe_psql('postgres', q{
	CREATE DATABASE billing;
	CREATE ROLE dba LOGIN CREATEROLE;
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
});

sub role_exists
{
	my ($role) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = '$role'");
}

# $sql run by the CREATEROLE DBA in $db must be refused by pg_mpa ($message).
sub refused
{
	my ($db, $sql, $message, $what) = @_;
	my ($rc, $out, $err) = $node->psql($db, "SET ROLE dba;\n\\set VERBOSITY verbose\n$sql");
	isnt($rc, 0, "$what: fails");
	like($err, qr/ERROR:\s+MP001: $message/, "$what: pg_mpa refuses it (MP001)");
}

# Waits until mpa.database's approvers are published to the other
# databases (a refusal that names the approver, not "cannot tell").
sub wait_for_publication
{
	for (1 .. 100)
	{
		my ($rc, $out, $err) = $node->psql('billing', 'BEGIN; SET ROLE dba; DROP ROLE alice; ROLLBACK');
		return 1 if $err =~ /it is an approver of pg_mpa/;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

refused('postgres', 'DROP ROLE alice', 'dropping role alice is refused: it is an approver of pg_mpa',
	'DROP ROLE of an approver in mpa.database');
refused('postgres', 'ALTER ROLE bob RENAME TO robert', 'renaming role bob is refused: it is an approver of pg_mpa',
	'renaming an approver in mpa.database');
refused('postgres', 'DROP ROLE IF EXISTS carol, alice', 'dropping role alice is refused',
	'a DROP ROLE that names an approver among others');
is(role_exists('carol'), '1', 'the whole statement was refused: carol, not an approver, is still there');

ok(wait_for_publication(), 'the approvers reach the other databases');
refused('billing', 'DROP ROLE alice', 'dropping role alice is refused: it is an approver of pg_mpa',
	'DROP ROLE of an approver from another database');
refused('billing', 'ALTER ROLE bob RENAME TO robert', 'renaming role bob is refused: it is an approver of pg_mpa',
	'renaming an approver from another database');
is(role_exists('alice') . role_exists('bob'), '11', 'alice and bob are still there');

# Positive controls: roles that are not approvers.
is(($node->psql('billing', 'SET ROLE dba; DROP ROLE carol'))[0], 0, 'a role that is not an approver is dropped');
is(($node->psql('postgres', 'SET ROLE dba; ALTER ROLE dave RENAME TO david; ALTER ROLE david RENAME TO dave'))[0], 0,
	'and renamed');

# A new approver is protected from the commit on, everywhere: the other
# databases refuse until they have the list that holds it. The worker,
# which publishes it, is held meanwhile (no backend of mpa.database loads
# the policies either), so that the stale list is what billing has.
my $worker = MpaTest::worker_pid($node);
kill 'STOP', $worker;
$node->safe_psql('postgres', q{SELECT mpa_approver_add('ops', 'dave', 'dave@example.com')});
refused('billing', 'DROP ROLE dave',
	'dropping role dave is refused here: pg_mpa cannot tell whether it is an approver',
	'right after an approver was added, another database does not let its role go');
kill 'CONT', $worker;
refused('postgres', 'DROP ROLE dave', 'dropping role dave is refused: it is an approver of pg_mpa',
	'nor does mpa.database');
is(role_exists('dave'), '1', 'dave is still there');

# Removed from its team (before any team governs, a plain call), the role
# is free again, here and elsewhere.
$node->safe_psql('postgres', q{SELECT mpa_approver_remove('ops', 'bob')});
is(($node->psql('postgres', 'SET ROLE dba; ALTER ROLE bob RENAME TO robert'))[0], 0,
	'a role no longer an approver is renamed in mpa.database');
ok(wait_for_publication(), 'the change is published');
is(($node->psql('billing', 'SET ROLE dba; DROP ROLE robert'))[0], 0, 'and dropped from another database');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
