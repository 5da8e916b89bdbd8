# Cluster-wide operations (roles, databases, tablespaces, ALTER SYSTEM) can
# be run from any database: running them from another database must not
# dodge the gate. Their policies are published to every database; their
# approvals live in mpa.database, so a protected one runs only there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $node = MpaTest::new_node('cluster', undef);
$node->safe_psql('postgres', q{
	CREATE DATABASE app;
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE carol; CREATE ROLE dave;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'dave', 'dave@example.com');
	SELECT mpa_protect('ALTER ROLE', 'bob', 'security');
	SELECT mpa_protect('ALTER SYSTEM', 'work_mem', 'security');
	SELECT mpa_protect('DROP TABLE', '*', 'security');
});

sub refused_in
{
	my ($db, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql);
	return $rc != 0 ? $err : '';
}

ok(MpaTest::poll_until($node,
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'}, 10),
	'the worker runs (it publishes policy changes)');
my $deadline = time() + 10;
my $err = '';
while (time() < $deadline)
{
	$err = refused_in('app', q{ALTER ROLE bob SET work_mem = '1MB'});
	last if $err;
	select(undef, undef, undef, 0.1);
}
like($err, qr/ALTER ROLE on bob requires the approval of team "security"/,
	'a protected ALTER ROLE is refused in another database');
like($err, qr/live in database "postgres"/, 'and says where its approvals live');
is($node->safe_psql('app', q{SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'bob'}),
	'0', 'bob is unchanged');

like(refused_in('app', q{ALTER SYSTEM SET work_mem = '2MB'}),
	qr/ALTER SYSTEM on work_mem requires the approval of team "security"/,
	'a protected ALTER SYSTEM is refused in another database');
is(refused_in('app', q{ALTER ROLE carol SET work_mem = '1MB'}), '', 'an unprotected role is altered as usual');
is(refused_in('app', q{ALTER SYSTEM SET maintenance_work_mem = '64MB'}), '', 'an unprotected setting too');
is(refused_in('app', q{CREATE TABLE t (id int); DROP TABLE t}), '',
	'policies on objects of mpa.database (DROP TABLE) do not reach other databases');

like(refused_in('postgres', q{ALTER ROLE bob SET work_mem = '1MB'}), qr/HINT:.*mpa_request/,
	'in mpa.database the same statement is refused with the request to make');

$node->safe_psql('postgres', q{SELECT mpa_unprotect('ALTER ROLE', 'bob')});
$deadline = time() + 10;
while (time() < $deadline)
{
	last unless refused_in('app', q{ALTER ROLE bob SET work_mem = '1MB'});
	select(undef, undef, undef, 0.1);
}
is(refused_in('app', q{ALTER ROLE bob SET work_mem = '1MB'}), '', 'an unprotected role is free again everywhere');

# What mpa.database publishes is the committed policy set, as of now. A
# session there holding an old snapshot (a repeatable-read transaction begun
# before a policy was added), or with its own uncommitted change, reloads its
# cache: neither copy may replace the published one.
sub refused_now_in_app
{
	my ($sql) = @_;
	return refused_in('app', "BEGIN; $sql; ROLLBACK");
}
my $old = $node->background_psql('postgres');
$old->query_safe(q{SET application_name = 'old snapshot'});
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$old->query_safe('SELECT count(*) FROM mpa.policies');
$node->safe_psql('postgres', q{SELECT mpa_protect('ALTER ROLE', 'carol', 'security')});
$deadline = time() + 10;
while (time() < $deadline)
{
	last if refused_now_in_app(q{ALTER ROLE carol SET work_mem = '1MB'});
	select(undef, undef, undef, 0.1);
}
like(refused_now_in_app(q{ALTER ROLE carol SET work_mem = '1MB'}), qr/ALTER ROLE on carol requires the approval/,
	'a new policy reaches the other databases');
$old->query_safe(q{SET application_name = 'old snapshot, reloaded'});
$old->query_safe('COMMIT');
like(refused_now_in_app(q{ALTER ROLE carol SET work_mem = '1MB'}), qr/ALTER ROLE on carol requires the approval/,
	'a session that reloaded its cache in an older snapshot does not publish the policies without it');

$old->query_safe('BEGIN');
$old->query_safe(q{SELECT mpa_unprotect('ALTER ROLE', 'carol')});
$old->query_safe(q{SET application_name = 'own change'});
like(refused_now_in_app(q{ALTER ROLE carol SET work_mem = '1MB'}), qr/ALTER ROLE on carol requires the approval/,
	'an uncommitted removal is not published');
$old->query_safe('ROLLBACK');
like(refused_now_in_app(q{ALTER ROLE carol SET work_mem = '1MB'}), qr/ALTER ROLE on carol requires the approval/,
	'nor after it rolled back');
$old->quit;

done_testing();
