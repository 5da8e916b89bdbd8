# A new session in mpa.database answers the gate's first look at a
# statement (does a policy name its command, does a team govern pg_mpa,
# does any policy exist) from the outline of the policies that
# mpa.database's backends publish in shared memory, so that a connection
# whose first statement is a SET does not read mpa.policies. The outline
# never hides a change: a policy committed a moment ago binds the very next
# session, before the mail worker published it and after, and so does its
# removal and a team taking over pg_mpa.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $node = MpaTest::new_node('sessions', undef, 'max_prepared_transactions = 2');
$node->safe_psql('postgres', q{
	CREATE ROLE alice;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	CREATE TABLE t1 (i int); CREATE TABLE t2 (i int); CREATE TABLE t3 (i int);
});

# Runs $sql in a new session; returns its error, or '' if it ran.
sub refusal
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	return $rc != 0 ? $err : '';
}

# A session maps only what the preloaded pg_mpa.so links: libcurl, which
# cost every new connection about 100 us of CPU time, is in pg_mpa_smtp.so,
# which only the mail worker loads.
unlike($node->safe_psql('postgres', q{SELECT pg_read_file('/proc/self/maps')}), qr/libcurl|pg_mpa_smtp/,
	'a session does not map libcurl');
# The worker loads it for its first delivery (here a test mail; the SMTP
# server is absent, which makes it a temporary failure).
MpaTest::queue_test_mail($node, 'probe@example.com');
my $worker_maps = q{SELECT pg_read_file(format('/proc/%s/maps', pid)) FROM pg_stat_activity
	WHERE backend_type = 'pg_mpa mail worker'};
ok(MpaTest::poll_until($node, "SELECT ($worker_maps) ~ 'pg_mpa_smtp\\.so'", 10),
	'the mail worker loaded the SMTP transport to send mail');
like($node->safe_psql('postgres', $worker_maps), qr/libcurl/, 'and libcurl with it');

# Each policy binds the next session at once, and still after the worker
# had time to publish it (the worker publishes after every committed change).
my @cases = (
	[ 'TRUNCATE', 'public.t1', 'TRUNCATE t1', qr/TRUNCATE TABLE on public\.t1 requires the approval of team "ops"/ ],
	[ 'ALTER TABLE', 'public.t2', 'ALTER TABLE t2 ADD COLUMN j int', qr/ALTER TABLE on public\.t2 requires the approval/ ],
	[ 'DROP TABLE', 'public.t3', 'DROP TABLE t3', qr/DROP TABLE on public\.t3 requires the approval/ ]);
for my $case (@cases)
{
	my ($operation, $object, $statement, $refused) = @$case;
	$node->safe_psql('postgres', "SELECT mpa_protect('$operation', '$object', 'ops')");
	like(refusal($statement), $refused, "a new session right after $operation on $object was protected is refused");
	sleep 1;
	like(refusal($statement), $refused, 'and a second later');
}

# The outline says which commands policies name: sessions whose first
# statement is a SET do not read mpa.policies, once it is published.
sub policy_scans
{
	return $node->safe_psql('postgres',
		q{SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relid = 'mpa.policies'::regclass});
}
$node->safe_psql('postgres', q{SET application_name = 'publishes, if nobody has'});
sleep 1;    # its statistics are written when it exits
my $before = policy_scans();
$node->safe_psql('postgres', q{SET application_name = 'new session'}) for 1 .. 10;
sleep 1;
my $scans = policy_scans() - $before;
cmp_ok($scans, '<=', 1, "ten new sessions' first SET read mpa.policies $scans times, not once each");

# Removing a policy frees the next session.
$node->safe_psql('postgres', q{SELECT mpa_unprotect('TRUNCATE', 'public.t1')});
is(refusal('TRUNCATE t1'), '', 'a new session right after the policy was removed runs the statement');

# An outline is of one generation. With the mail worker stopped, nobody
# publishes a policy committed now: the next session must not answer from
# the outline published before it.
$node->safe_psql('postgres', q{SET application_name = 'publishes the outline'});
my $worker = MpaTest::worker_pid($node);
kill 'STOP', $worker;
$node->safe_psql('postgres', q{SELECT mpa_protect('TRUNCATE', 'public.t1', 'ops')});
like(refusal('TRUNCATE t1'), qr/TRUNCATE TABLE on public\.t1 requires the approval/,
	'a policy committed while nobody published it binds the next session');
kill 'CONT', $worker;

# A transaction that changed policies answers from its own copy, which holds
# its change, not from the outline.
# (DROP VIEW: a command no other policy names, which the outline says.)
$node->safe_psql('postgres', 'CREATE VIEW v4 AS SELECT 1 AS one');
like(refusal(q{BEGIN; SELECT mpa_protect('DROP VIEW', 'public.v4', 'ops'); DROP VIEW v4; COMMIT}),
	qr/DROP VIEW on public\.v4 requires the approval/, 'a policy binds the transaction that adds it');

# A prepared transaction's commit (COMMIT PREPARED, from any session) runs
# no callback of pg_mpa's, so nobody would learn of its policy change: a
# transaction that changes policies cannot be prepared.
$node->safe_psql('postgres', 'CREATE VIEW v5 AS SELECT 1 AS one');
like(refusal("\\set VERBOSITY verbose\nBEGIN; SELECT mpa_protect('DROP VIEW', 'public.v5', 'ops'); PREPARE TRANSACTION 'policy_change'"),
	qr/ERROR:  MP007: a transaction that changed pg_mpa's state cannot be prepared/,
	'a transaction that changes policies cannot be prepared');
my $prepared = $node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts});
is($prepared, '0', 'nothing was prepared');
# (Were it prepared, its locks would hold up the rest of this test.)
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'policy_change'}) if $prepared ne '0';
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies WHERE object = 'public.v5'}), '0',
	'and the policy was not added');

# A parallel worker checks a server-file function too, and may not take a
# snapshot of its own: it reads the policies in the query's.
my $parallel = $node->safe_psql('postgres', q{SET force_parallel_mode = on;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT length(pg_read_file('postgresql.conf'))});
like($parallel, qr/Workers Launched: 1/, 'a server-file function runs in a parallel worker while no team governs pg_mpa');

# A team taking over pg_mpa binds the next session too: its objects are then
# changed only with approval.
$node->safe_psql('postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'ops')});
like(refusal('ALTER TABLE mpa.policies ADD COLUMN note text'), qr/requires the approval of team "ops"/,
	'a new session right after a team took over pg_mpa cannot alter its tables');
sleep 1;
like(refusal('ALTER TABLE mpa.policies ADD COLUMN note text'), qr/requires the approval of team "ops"/,
	'nor a second later');
like(refusal(q{COPY (SELECT 1) TO PROGRAM 'true'}), qr/requires the approval of team "ops"/,
	'nor run a program on the server');

done_testing();
