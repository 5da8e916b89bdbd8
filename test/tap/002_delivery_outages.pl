# Mail survives outages: an SMTP server that is down, PostgreSQL stopped
# (fast and immediate) with mail queued, a crash while mail is being sent,
# the mail worker killed or terminated; the worker rereads its settings on
# SIGHUP, is woken by a commit and does not poll while idle.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use IO::Socket::INET;
use MpaTest;

my $worker_sql = "backend_type = 'pg_mpa mail worker'";

# Queues $n test mails to $address in separate transactions; returns the ids.
sub queue_many
{
	my ($node, $address, $n) = @_;
	return map { MpaTest::queue_test_mail($node, $address) } 1 .. $n;
}

sub all_sent
{
	my ($node, $ids, $timeout) = @_;
	my $list = join(',', @$ids);
	return MpaTest::poll_until($node,
		"SELECT count(*) FILTER (WHERE status = 'sent') = count(*) AND count(*) = "
		  . scalar(@$ids) . " FROM mpa.outbox WHERE id IN ($list)", $timeout // 30);
}

sub message_ids
{
	my ($node, $ids) = @_;
	my $list = join(',', @$ids);
	return split /\n/,
	  $node->safe_psql('postgres', "SELECT message_id FROM mpa.outbox WHERE id IN ($list) ORDER BY id");
}

# How many copies of each of the rows' Message-IDs $smtp stored.
sub copies
{
	my ($node, $smtp, $ids) = @_;
	my $counts = MpaTest::message_id_counts($smtp);
	return map { $counts->{$_} // 0 } message_ids($node, $ids);
}

# ---------------------------------------------------------------------------
# 1. The SMTP server is down while mail is queued.
my $smtp_port = PostgreSQL::Test::Cluster::get_free_port();
my $node = MpaTest::new_node('outages', { port => $smtp_port }, "restart_after_crash = on\n");

my @down = queue_many($node, 'outage@example.com', 5);
ok( MpaTest::poll_until($node,
		"SELECT bool_and(attempts >= 2) FROM mpa.outbox WHERE id IN (" . join(',', @down) . ')'),
	'server down: every queued mail is tried again and again');
# ('sending' for the instant a retry round holds them.)
my $rows = $node->safe_psql('postgres',
	"SELECT bool_and(status IN ('pending', 'sending')) FROM mpa.outbox WHERE id IN ("
	  . join(',', @down) . ')');
is($rows, 't', 'server down: the mail stays queued (neither failed nor sent)');
my $error = $node->safe_psql('postgres', "SELECT last_error FROM mpa.outbox WHERE id = $down[0]");
like($error, qr/connect/i, "server down: last_error says the connection failed ($error)");

my $smtp = MpaTest::start_smtp(port => $smtp_port);
ok(all_sent($node, \@down), 'server up again: every waiting mail is sent');
is_deeply([ copies($node, $smtp, \@down) ], [ (1) x 5 ], 'each Message-ID arrived exactly once');

# ---------------------------------------------------------------------------
# 2. PostgreSQL stopped (fast, then immediate) with mail waiting for a server
# that is down; after the restart, with the server up, all of it is sent.
for my $mode ('fast', 'immediate')
{
	MpaTest::stop_smtp($smtp);
	my @ids = queue_many($node, "stop-$mode\@example.com", 3);
	ok( MpaTest::poll_until($node,
			"SELECT bool_and(attempts >= 1 AND status = 'pending') FROM mpa.outbox WHERE id IN ("
			  . join(',', @ids) . ')'),
		"stop $mode: mail tried and pending while the server is down");
	$node->stop($mode);
	MpaTest::restart_smtp($smtp);
	$node->start;
	ok(all_sent($node, \@ids), "stop $mode: after the restart all of it is sent");
	is_deeply([ copies($node, $smtp, \@ids) ], [ (1) x 3 ], "stop $mode: each arrived exactly once");
}

# ---------------------------------------------------------------------------
# 3. A crash while the worker holds claimed rows ('sending').
MpaTest::control_smtp($smtp, '{"delay_ms": 3000}');
my @held = queue_many($node, 'held@example.com', 4);
my $held_list = join(',', @held);
ok( MpaTest::poll_until($node,
		"SELECT count(*) > 0 FROM mpa.outbox WHERE id IN ($held_list) AND status = 'sending'"),
	'slow server: the worker holds claimed rows (sending)');
$node->stop('immediate');
MpaTest::control_smtp($smtp, '{}');
$node->start;
ok(all_sent($node, \@held), 'after the crash the held rows are taken back and sent');
my @held_copies = copies($node, $smtp, \@held);
is(scalar(grep { $_ >= 1 } @held_copies), 4, 'every held message arrived at least once');
diag('copies after the crash: ' . join(' ', @held_copies));
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mpa.outbox WHERE id IN ($held_list) AND lease_until IS NOT NULL"),
	'0', 'no lease left on the sent rows');

# ---------------------------------------------------------------------------
# 4. The worker killed with SIGKILL mid-batch: crash restart, a new worker
# takes the rows back and sends them.
ok(MpaTest::poll_until($node, "SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker_sql"),
	'one mail worker runs');
my $pid = MpaTest::worker_pid($node);
MpaTest::control_smtp($smtp, '{"delay_ms": 2000}');
my @killed = queue_many($node, 'killed@example.com', 3);
my $killed_list = join(',', @killed);
ok( MpaTest::poll_until($node,
		"SELECT count(*) > 0 FROM mpa.outbox WHERE id IN ($killed_list) AND status = 'sending'"),
	'the worker is sending');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
MpaTest::control_smtp($smtp, '{}');
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker_sql AND pid <> $pid"),
	'SIGKILL: a new worker runs after the crash restart');
like(slurp_file($node->logfile, $log_offset), qr/terminated by signal 9.*reinitializing/s,
	'SIGKILL: the postmaster did a crash restart');
ok(all_sent($node, \@killed), 'SIGKILL: the mail it held is sent by the new worker');
is(scalar(grep { $_ >= 1 } copies($node, $smtp, \@killed)), 3, 'SIGKILL: every message arrived');

# pg_terminate_backend (SIGTERM): a clean exit, no crash restart, a new worker.
$pid = MpaTest::worker_pid($node);
$log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', 'SIGTERM sent to the worker');
my $t0 = time();
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker_sql AND pid <> $pid", 10),
	'SIGTERM: a new worker appears');
diag(sprintf('new worker after %.1f s', time() - $t0));
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal|reinitializing|terminating any other active/,
	'SIGTERM: no crash restart');
like($log, qr/pg_mpa mail worker.*\Q$pid\E.*exited with exit code 1/,
	'SIGTERM: the worker exited cleanly');
my @after_term = queue_many($node, 'after-term@example.com', 1);
ok(all_sent($node, \@after_term), 'SIGTERM: the new worker sends mail');

# ---------------------------------------------------------------------------
# 5. SIGHUP: a new mpa.smtp_url is used for the next mail.
my $second = MpaTest::start_smtp();
ok(MpaTest::reconfigure($node, 'mpa.smtp_url' => "smtp://127.0.0.1:$second->{port}"),
	'reload: mpa.smtp_url points at the second server');
my $first_count = MpaTest::mail_count($smtp);
my @moved = queue_many($node, 'moved@example.com', 2);
ok(all_sent($node, \@moved), 'reload: mail sent');
is_deeply([ copies($node, $second, \@moved) ], [ 1, 1 ], 'reload: it arrived at the second server');
is(MpaTest::mail_count($smtp), $first_count, 'reload: nothing more at the first server');

# ---------------------------------------------------------------------------
# 6. Idle: no polling; a commit wakes the worker at once; a rollback sends nothing.
# (Its 60 s timeout must not end during the 1.5 s looked at.)
#
# The worker's own transactions are counted: pg_stat_database's
# xact_commit + xact_rollback of database postgres, while the worker is the
# only session in it. It reports its statistics after each of its
# transactions (pgstat_report_stat; a flush at most once a second, so a
# worker polling ten times a second shows within 1.5 s). To leave it alone
# there, this part of the test queries from another database (pg_stat_activity
# and pg_stat_database are cluster-wide), autovacuum is off, and each look
# begins once no other backend is left in postgres: a backend flushes its
# statistics before it leaves pg_stat_activity (before_shmem_exit, then
# on_shmem_exit), so the sessions before are counted by then. (The database
# total counted every psql of the test; xact_start or backend_xid of the
# worker are only seen while a transaction is open; txid_current() moves
# only for transactions that write.)
$node->safe_psql('postgres', 'CREATE DATABASE observer');
ok(MpaTest::reconfigure($node, autovacuum => 'off'), 'idle: autovacuum off (its workers would count in postgres)');
my $observe = sub { $node->safe_psql('observer', $_[0]) };
my $xacts = sub {
	$observe->("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'");
};
my $alone = "NOT EXISTS (SELECT FROM pg_stat_activity WHERE datname = 'postgres' AND NOT ($worker_sql))";
my $sleeping = "EXISTS (SELECT FROM pg_stat_activity WHERE $worker_sql AND state = 'idle'"
  . " AND wait_event = 'Extension' AND now() - state_change < '50 s')";
ok($node->poll_query_until('observer', "SELECT $alone AND $sleeping"),
	'idle: the worker waits on its latch, alone in its database');
$pid = $observe->("SELECT pid FROM pg_stat_activity WHERE $worker_sql");
my $cpu = sub {    # the worker's CPU time in clock ticks (Linux)
	my @f = split ' ', (eval { slurp_file("/proc/$pid/stat") } // '');
	return @f > 14 ? $f[13] + $f[14] : undef;
};
my $since = $observe->("SELECT state_change FROM pg_stat_activity WHERE $worker_sql");
my ($cpu0, $xacts0) = ($cpu->(), $xacts->());
usleep(1_500_000);
my ($cpu1, $xacts1) = ($cpu->(), $xacts->());
diag(sprintf('idle 1.5 s: worker used %s clock ticks', defined $cpu0 ? $cpu1 - $cpu0 : '?'));
is($observe->("SELECT $alone AND pid = $pid FROM pg_stat_activity WHERE $worker_sql"), 't',
	'idle: the same worker, still alone in its database');
is($xacts1 - $xacts0, 0, 'idle: the worker runs no transaction while idle');
is($observe->("SELECT state_change FROM pg_stat_activity WHERE $worker_sql"),
	$since, 'idle: no delivery round for 1.5 s (no busy polling)');
SKIP:
{
	skip 'no /proc', 1 unless defined $cpu0;
	cmp_ok($cpu1 - $cpu0, '<=', 5, 'idle: the worker uses (almost) no CPU');
}

# The count does see the worker's transactions when it works (else the
# check above would pass whatever the worker did): a session that queues a
# mail adds the transactions any session adds, measured with one that does
# not, and the worker's round adds at least one more.
my $session_xacts = sub {
	my ($sql, $wakes_worker) = @_;
	my $before = $xacts->();
	my $round = $observe->("SELECT state_change FROM pg_stat_activity WHERE $worker_sql");
	$node->safe_psql('postgres', $sql);
	$node->poll_query_until('observer', "SELECT $alone"
		  . ($wakes_worker ? " AND $sleeping AND EXISTS (SELECT FROM pg_stat_activity WHERE $worker_sql"
			  . " AND state_change > '$round')" : ''))
	  or die 'the worker did not finish its round';
	return $xacts->() - $before;
};
my $plain = $session_xacts->('SELECT 1', 0);
my $with_mail = $session_xacts->("SELECT mpa_mail_test('idle-control\@example.com')", 1);
cmp_ok($with_mail - $plain, '>=', 1,
	"the count sees the worker's round ($plain transactions for a session, $with_mail with a mail)");

# Busy DDL elsewhere fills the shared invalidation queue, and PostgreSQL
# signals the backend furthest behind (the sleeping worker) to catch up. The
# worker sleeps on, without a delivery round (one round per signal cost busy
# DDL servers a fifth of a core) and without catching up (PostgreSQL resets
# its caches instead); the mail after the DDL shows it works after that
# reset. A mail wakes it first, so that its 60 s timeout is far away.
my ($before_ddl) = queue_many($node, 'before-ddl@example.com', 1);
ok(all_sent($node, [$before_ddl]), 'busy DDL: the worker has just finished a round');
ok( MpaTest::poll_until($node,
		"SELECT state = 'idle' AND wait_event = 'Extension' AND now() - state_change < '5 s'"
		  . " FROM pg_stat_activity WHERE $worker_sql", 10),
	'busy DDL: the worker sleeps, its timeout far away');
$since = $node->safe_psql('postgres', "SELECT state_change FROM pg_stat_activity WHERE $worker_sql");
my $ddl_start = time();
$node->safe_psql('postgres',
	join('', map { "CREATE TEMP TABLE churn_$_ (a int PRIMARY KEY, b text); DROP TABLE churn_$_;\n" } 1 .. 1500));
diag(sprintf('busy DDL: 1,500 temporary tables created and dropped in %.1f s', time() - $ddl_start));
is($node->safe_psql('postgres', "SELECT state_change FROM pg_stat_activity WHERE $worker_sql"),
	$since, 'busy DDL: the catch-up signals caused no delivery round');
my ($after_ddl) = queue_many($node, 'after-ddl@example.com', 1);
ok(MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $after_ddl", 2),
	'busy DDL: a commit still wakes the worker at once');

for my $round (1 .. 2)
{
	# The idle wait is 60 s; it began at state_change. With more than 5 s of
	# it left, only the commit can explain a delivery within 2 s.
	ok( MpaTest::poll_until($node,
			"SELECT state = 'idle' AND wait_event = 'Extension' AND now() - state_change < '55 s'"
			  . " FROM pg_stat_activity WHERE $worker_sql", 10),
		"wake-up $round: the worker is idle, its timeout far away");
	my $start = time();
	my ($id) = queue_many($node, "wake$round\@example.com", 1);
	ok(MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $id", 2),
		"wake-up $round: a committed mail is sent within 2 s");
	diag(sprintf('wake-up %d: sent after %.2f s', $round, time() - $start));
}

my ($rc, $out, $err) = $node->psql('postgres',
	"BEGIN; SELECT mpa_mail_test('rolled-back\@example.com'); ROLLBACK;");
is($rc, 0, 'a mail queued in a rolled-back transaction');
my ($after_rollback) = queue_many($node, 'after-rollback@example.com', 1);
ok(all_sent($node, [$after_rollback]), 'the next committed mail is sent');
is(scalar(MpaTest::mail_to($second, 'rolled-back@example.com')), 0,
	'the rolled-back mail never reached the server');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.outbox WHERE recipient = 'rolled-back\@example.com'"),
	'0', 'and left no outbox row');

# ---------------------------------------------------------------------------
# 7. A server that accepts connections but never answers (hung, or a
# firewall that swallows the session): each mail of a batch must not wait
# out its own mpa.smtp_timeout (5 s here) before the batch is recorded, or a
# 200-mail batch would stall the queue, fresh one-time codes included, for
# 200 x the timeout. Within two timeouts every mail must be back in the
# queue with the reason.
my $hung_port = PostgreSQL::Test::Cluster::get_free_port();
my $hung = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $hung_port,
	Listen => 16, ReuseAddr => 1) or die "cannot listen on $hung_port: $!";
ok(MpaTest::reconfigure($node, 'mpa.smtp_url' => "smtp://127.0.0.1:$hung_port"),
	'hung server: node pointed at it');
my $hung_first = $node->safe_psql('postgres',
	"SELECT min(id) FROM (SELECT mpa_mail_test('hung' || i || '\@example.com') AS id"
	  . " FROM generate_series(1, 3) i) q");
$t0 = time();
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 3 FROM mpa.outbox WHERE id >= $hung_first AND status = 'pending'"
		  . " AND attempts >= 1 AND last_error IS NOT NULL", 10),
	'hung server: the whole batch is back in the queue within two timeouts');
diag(sprintf('hung server: batch of 3 recorded after %.1f s', time() - $t0));
like($node->safe_psql('postgres', "SELECT last_error FROM mpa.outbox WHERE id = $hung_first"),
	qr/time/i, 'hung server: last_error says it timed out');
close $hung;

$node->stop;
MpaTest::stop_smtp($_) for $smtp, $second;
done_testing();
