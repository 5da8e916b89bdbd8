# Installation rules, the mail worker's presence, and the code key's life:
# shared by all backends, never the same after a restart or a crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

# Without shared_preload_libraries, CREATE EXTENSION fails and says why.
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->start;
my ($rc, $out, $err) = $bare->psql('postgres', 'CREATE EXTENSION pg_mpa');
isnt($rc, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
like($err, qr/pg_mpa must be loaded via shared_preload_libraries/, 'the error says why');
like($err, qr/HINT:.*shared_preload_libraries.*restart/, 'the hint says how to fix it');
is($bare->safe_psql('postgres', "SELECT count(*) FROM pg_extension WHERE extname = 'pg_mpa'"),
	'0', 'nothing was installed');
$bare->stop;

my $node = MpaTest::new_node('main');
$node->append_conf('postgresql.conf', "restart_after_crash = on\n");
$node->restart;

# Only in mpa.database.
$node->safe_psql('postgres', 'CREATE DATABASE elsewhere');
($rc, $out, $err) = $node->psql('elsewhere', 'CREATE EXTENSION pg_mpa');
isnt($rc, 0, 'CREATE EXTENSION refused outside mpa.database');
like($err, qr/pg_mpa lives in database "postgres", not in "elsewhere"/, 'and says where it lives');

# One mail worker, in mpa.database.
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker' AND datname = 'postgres'"),
	'one mail worker runs in mpa.database');

# The code key: present, shared, renewed by restart and by crash restart.
$node->safe_psql('postgres', 'CREATE EXTENSION mpa_probe');
my $digest = sub { $node->safe_psql('postgres', 'SELECT mpa_probe_code_key_digest()') };
my $first = $digest->();
like($first, qr/^[0-9a-f]{64}$/, 'shared memory holds a code key');
isnt($first, '66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925',
	'the key is not all zeros');
is($digest->(), $first, 'every backend sees the same key');

$node->restart;
my $after_restart = $digest->();
isnt($after_restart, $first, 'a restart draws a new key');

# A backend killed with SIGKILL makes the postmaster reinitialise shared memory.
my $victim = $node->background_psql('postgres');
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $victim_pid;
eval { $victim->quit };
ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after crash restart');
isnt($digest->(), $after_restart, 'a crash restart draws a new key');

done_testing();
