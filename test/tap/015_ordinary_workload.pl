# Nothing ordinary is refused: test/workload/ordinary.sql (DDL and DML of
# every common kind, errors included) prints exactly the same on a cluster
# without pg_mpa as on one where pg_mpa is loaded, a team governs it and
# 1,000 policies protect other objects, both in pg_mpa's database and in
# another one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $workload = ($ENV{MPA_TESTS} // '.') . '/test/workload/ordinary.sql';
-e $workload or die "workload not found: $workload";

my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE DATABASE work');

my $guarded = MpaTest::new_node('guarded', undef);
$guarded->safe_psql('postgres', q{
	CREATE DATABASE work;
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE vip;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	CREATE SCHEMA vault;
	SELECT mpa_protect(op, format('vault.t_%s', i), 'ops')
	  FROM generate_series(1, 250) i, unnest(ARRAY['DROP TABLE', 'TRUNCATE', 'ALTER TABLE', 'DROP VIEW']) op;
	SELECT mpa_protect('DROP ROLE', 'vip', 'ops');
	SELECT mpa_protect('ALTER SYSTEM', '*', 'ops');
	-- Grants of table privileges and of roles, and an operation on every
	-- object: the workload's own grants (to PUBLIC, on all tables in a
	-- schema) must pass untouched.
	SELECT mpa_protect('GRANT', 'vault.*', 'ops');
	SELECT mpa_protect('GRANT ROLE', 'vip', 'ops');
	SELECT mpa_protect('DROP TABLESPACE', '*', 'ops');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'ops');
});
is($guarded->safe_psql('postgres', 'SELECT count(*) FROM mpa.policies'), '1006', 'pg_mpa governs, with 1,006 policies');

# The workload runs as a superuser, and as a role that is not one (the
# owner of the databases, with CREATEROLE), on both clusters alike.
for my $node ($plain, $guarded)
{
	$node->safe_psql('postgres', q{
		CREATE ROLE worker LOGIN CREATEROLE;
		GRANT CREATE ON DATABASE postgres, work TO worker;
		GRANT CREATE ON SCHEMA public TO worker;
	});
	$node->safe_psql('work', q{GRANT CREATE ON SCHEMA public TO worker});
}

sub run_workload
{
	my ($node, $db, $role) = @_;
	my ($out, $err) = ('', '');
	$node->psql($db, undef, stdout => \$out, stderr => \$err, on_error_stop => 0,
		extra_params => [ '-U', $role, '-a', '-f', $workload ]);
	return "$out\n--- stderr ---\n$err";
}

for my $role ('postgres', 'worker')
{
	my $expected = run_workload($plain, 'postgres', $role);
	like($expected, qr/DROP SCHEMA shop CASCADE/, "the workload ran to its end without pg_mpa, as $role");
	like($expected, qr/duplicate key value violates unique constraint/, 'and met its deliberate errors');
	for my $db ('postgres', 'work')
	{
		my $got = run_workload($guarded, $db, $role);
		my $same = $got eq $expected;
		ok($same, "with pg_mpa governing, the workload prints the same in database $db, as $role");
		next if $same;
		# Show the difference, not both outputs.
		my $dir = PostgreSQL::Test::Utils::tempdir();
		PostgreSQL::Test::Utils::append_to_file("$dir/expected", $expected);
		PostgreSQL::Test::Utils::append_to_file("$dir/got", $got);
		diag(`diff -u $dir/expected $dir/got`);
	}
}
is($guarded->safe_psql('postgres', q{SELECT count(*) FROM mpa.requests}), '0', 'and asked for no approval');

done_testing();
