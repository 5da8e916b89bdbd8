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

done_testing();
