# Approval timers, restarts and tries that outlive their transaction:
#  1. requests nobody decides, and approved requests nobody runs, expire
#     through the mail worker soon after mpa.request_ttl and the team is
#     mailed; the statement is refused afterwards. An execution that spent
#     the approval before the deadline stands; one rolled back after it
#     leaves the request to expire, and the worker does not spin while such
#     rows are locked. A statement issued after the deadline is refused even
#     in a transaction begun before it.
#  2. a code past mpa.otp_ttl expires, is refused (also in a transaction
#     begun before its expiry), and its approver is told; a code mail still
#     undelivered when its code expires is never sent; a vote left open in a
#     transaction past its code's expiry, or a resend left open while the
#     code mail it replaces is being sent, does not hold up the mail worker.
#  3. the resend cooldown refuses a new code too soon and says until when.
#  4. a restart draws a new code key: a code mailed before it is refused
#     as such, a new one works.
#  5. three wrong tries kill a code and nine lock the approver out even when
#     every try was rolled back; the approver is mailed each time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use MpaTest;

my $started = time();
my $smtp = MpaTest::start_smtp();
END
{
	local $?;    # the test's exit status
	eval { MpaTest::stop_smtp($smtp) } if $smtp;    # also when a step dies
}
my $node = MpaTest::new_node('timers', $smtp, <<'CONF');
mpa.request_ttl = 4s
mpa.otp_ttl = 2s
mpa.resend_cooldown = 1s
CONF

my @tables = qw(t_undecided t_approved t_racing t_rolledback t_late t_codes t_stall t_resend t_latecode t_restart t_lockout);
$node->safe_psql('postgres', join('',
	"CREATE ROLE req LOGIN; CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;\n",
	map { "CREATE TABLE public.$_ (i int); ALTER TABLE public.$_ OWNER TO req;\n" } @tables));
$node->safe_psql('postgres', <<'SQL');
SELECT mpa_team_create('timers', 1);
SELECT mpa_approver_add('timers', 'alice', 'alice@example.com');
SELECT mpa_approver_add('timers', 'bob', 'bob@example.com');
SELECT mpa_protect('DROP TABLE', 'public.*', 'timers');
SQL

my $verbose = [ '-v', 'VERBOSITY=verbose' ];    # errors with their SQLSTATE

sub sql { return $node->safe_psql('postgres', $_[0]) }
sub address { return "$_[0]\@example.com" }

sub request
{
	my ($table) = @_;
	return MpaTest::safe_psql_as($node, 'req',
		"SELECT mpa_request('DROP TABLE public.$table', 'approval timers test')");
}

# psql as $who with verbose errors: ($rc, $stdout, $stderr).
sub as { my ($who, $query) = @_; return MpaTest::psql_as($node, $who, $query, extra_params => $verbose) }

sub verify { my ($who, $id, $code) = @_; return as($who, "SELECT mpa_verify($id, '$code')") }

sub wrong { my ($code) = @_; return sprintf('%06d', ($code + 1) % 1000000) }

sub votes { my ($id) = @_; return sql("SELECT count(*) FROM mpa.votes WHERE request_id = $id") }

# Waits until the worker has no mail left to send; then slows the SMTP
# server down (every message takes $ms), or back to normal ($ms = 0).
sub slow_smtp
{
	my ($ms) = @_;
	MpaTest::poll_until($node, "SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')", 10)
	  if $ms;
	MpaTest::control_smtp($smtp, $ms ? qq({"delay_ms": $ms}) : '{}');
}

# ---------------------------------------------------------------------------
# 1. Requests expire (mpa.request_ttl = 4s).
my %r = map { $_ => request("t_$_") } qw(undecided approved racing rolledback);
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($r{$_}, 'approve')") for qw(approved racing rolledback);
for my $k (qw(approved racing rolledback))
{
	my $code = MpaTest::code_from_mail($smtp, address('alice'), $r{$k});
	my ($rc, $out, $err) = verify('alice', $r{$k}, $code);
	like($out, qr/the request is approved/, "request $k approved within its ttl") or diag($err);
}

# Two executions begin before the deadline (the gate spends the approval
# and holds the request's row) and end after it.
my %running;
for my $k (qw(racing rolledback))
{
	$running{$k} = $node->background_psql('postgres', extra_params => [ '-U', 'req' ]);
	$running{$k}->query_safe('BEGIN');
	$running{$k}->query_safe("DROP TABLE public.t_$k");
}

my $expired_list = "$r{undecided}, $r{approved}";
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 2 FROM mpa.requests WHERE id IN ($expired_list) AND state = 'expired'", 20),
	'an undecided and an approved-but-unexecuted request expire');
my ($lag_min, $lag_max) = split /\|/, sql(
	"SELECT min(extract(epoch FROM decided_at - expires_at)), max(extract(epoch FROM decided_at - expires_at))"
	  . " FROM mpa.requests WHERE id IN ($expired_list)");
cmp_ok($lag_min, '>=', 0, 'not before their ttl');
cmp_ok($lag_max, '<', 3, "through the worker within seconds after it (${lag_max}s)");

# The two executions still hold their requests, past the deadline: the
# worker skips them (SKIP LOCKED) and must not busy-loop on them meanwhile.
ok(MpaTest::poll_until($node,
		"SELECT bool_and(expires_at < now() - interval '0.5 s') FROM mpa.requests"
		  . " WHERE id IN ($r{racing}, $r{rolledback})", 10),
	'both executing transactions are open past the deadline');
my $worker = MpaTest::worker_pid($node);
my $cpu = MpaTest::cpu_ticks($worker);
sleep 2;
$cpu = MpaTest::cpu_ticks($worker) - $cpu;
cmp_ok($cpu, '<', 50, "the mail worker idles while expired requests are locked ($cpu ticks of CPU in 2 s)");

$running{racing}->query_safe('COMMIT');
$running{racing}->quit;
is(sql("SELECT state || ' ' || (executed_at < expires_at) FROM mpa.requests WHERE id = $r{racing}"),
	'executed true', 'an execution begun before the deadline and committed after it stands');
is(sql("SELECT to_regclass('public.t_racing') IS NULL"), 't', 'its table is gone');

$running{rolledback}->query_safe('ROLLBACK');
$running{rolledback}->quit;
ok( MpaTest::poll_until($node, "SELECT state = 'expired' FROM mpa.requests WHERE id = $r{rolledback}", 10),
	'an execution rolled back after the deadline leaves the request to expire');

for my $k (qw(approved rolledback))
{
	my ($rc, $out, $err) = as('req', "DROP TABLE public.t_$k");
	like($err, qr/MP001: DROP TABLE on public\.t_$k requires the approval of team "timers"/,
		"expired request ($k): the statement is refused");
}
my ($rc, $out, $err) = as('req', "SELECT mpa_execute($r{approved})");
like($err, qr/MP004: request $r{approved} is expired, not approved/, 'expired request: mpa_execute is refused');
is(sql("SELECT count(*) FROM pg_class WHERE relname IN ('t_approved', 't_rolledback', 't_undecided')"),
	'3', 'the expired requests dropped nothing');

for my $who (qw(alice bob))
{
	my $m = MpaTest::wait_for_mail_matching($smtp, address($who),
		qr/^\[pg_mpa\] request #$r{undecided} expired: DROP TABLE on public\.t_undecided$/);
	ok($m, "$who is mailed that the undecided request expired");
	like($m ? $m->{body} : '', qr/it was not decided before it expired/, '... and why');
	$m = MpaTest::wait_for_mail_matching($smtp, address($who),
		qr/^\[pg_mpa\] request #$r{approved} expired: DROP TABLE on public\.t_approved$/);
	ok($m, "$who is mailed that the approved request expired unexecuted");
	like($m ? $m->{body} : '', qr/it was approved but not executed before it expired/, '... and why');
}

# A statement issued after the deadline, in a transaction begun before it,
# is refused even while the worker has not yet marked the request expired:
# the worker is held (SIGSTOP) across the deadline, so the gate's own
# comparison with the statement's time is what refuses it.
my $late = request('t_late');
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($late, 'approve')");
($rc, $out, $err) = verify('alice', $late, MpaTest::code_from_mail($smtp, address('alice'), $late));
like($out, qr/the request is approved/, 'another request approved') or diag($err);
my $latecomer = $node->background_psql('postgres', extra_params => [ '-U', 'req', @$verbose ], on_error_stop => 0);
$latecomer->query_safe('BEGIN');
$latecomer->query_safe('SELECT now()');
my $held = MpaTest::hold_worker($node);
ok(MpaTest::poll_until($node, "SELECT now() > expires_at + interval '0.2 s' FROM mpa.requests WHERE id = $late"),
	'the deadline passes, the worker held');
is(sql("SELECT state FROM mpa.requests WHERE id = $late"), 'approved', 'the request is not marked expired yet');
$latecomer->query('DROP TABLE public.t_late');
like($latecomer->{stderr}, qr/ERROR:  MP001: DROP TABLE on public\.t_late requires the approval of team "timers"/,
	'a statement issued after the deadline is refused, though its transaction began before it');
$latecomer->query('COMMIT');
$latecomer->quit;
MpaTest::release_worker($held);
ok( MpaTest::poll_until($node,
		"SELECT state = 'expired' AND to_regclass('public.t_late') IS NOT NULL FROM mpa.requests WHERE id = $late",
		10),
	'the worker let go, that request expires, its table intact')
  or diag('request: ' . sql("SELECT state FROM mpa.requests WHERE id = $late"));

# ---------------------------------------------------------------------------
# 2. Codes expire (mpa.otp_ttl = 2s); requests from now on live long enough.
ok(MpaTest::reconfigure($node, 'mpa.request_ttl' => '5min'), 'mpa.request_ttl = 5min');
my $c = request('t_codes');
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($c, 'approve')");
my ($stale, $stale_file) = MpaTest::code_from_mail($smtp, address('alice'), $c);
ok( MpaTest::poll_until($node,
		"SELECT state = 'expired' FROM mpa.challenges WHERE request_id = $c AND approver = 'alice'::regrole", 10),
	'an unused code expires through the worker');
($rc, $out, $err) = verify('alice', $c, $stale);
like($err, qr/MP005: no code is waiting for you on request $c/, 'the expired code is refused');
ok(MpaTest::wait_for_mail_matching($smtp, address('alice'), qr/^\[pg_mpa\] your code for request #$c expired$/),
	'alice is mailed that her code expired');
is(votes($c), '0', 'no vote was recorded');

# A code mail that cannot be delivered before its code expires is never sent.
MpaTest::stop_smtp($smtp);
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($c, 'approve')");
my $code_mail = sql("SELECT o.id FROM mpa.outbox o JOIN mpa.challenges ch ON ch.id = o.challenge_id"
	  . " WHERE ch.request_id = $c AND ch.approver = 'bob'::regrole");
ok(MpaTest::poll_until($node, "SELECT attempts >= 1 FROM mpa.outbox WHERE id = $code_mail"),
	'server down: the code mail was tried');
ok( MpaTest::poll_until($node,
		"SELECT status IN ('expired', 'superseded') FROM mpa.outbox WHERE id = $code_mail", 10),
	'the code mail is given up once its code expired');
MpaTest::restart_smtp($smtp);
ok( MpaTest::wait_for_mail_matching($smtp, address('bob'), qr/^\[pg_mpa\] your code for request #$c expired$/,
		timeout => 30),
	'server back: bob is told his code expired');
is(scalar(MpaTest::mail_matching($smtp, address('bob'), qr/^\[pg_mpa\] your code to approve request #$c$/)),
	0, 'the code mail itself never arrived');
is(sql("SELECT status IN ('expired', 'superseded') AND sent_at IS NULL FROM mpa.outbox WHERE id = $code_mail"),
	't', 'and it is not recorded as sent');

# A vote left in an open transaction past its code's expiry holds the code's
# row: the worker must neither wait for it nor stop delivering other mail.
my $s = request('t_stall');
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($s, 'approve')");
my $held_code = MpaTest::code_from_mail($smtp, address('bob'), $s);
my $holder = $node->background_psql('postgres', extra_params => [ '-U', 'bob' ]);
$holder->query_safe('BEGIN');
like($holder->query_safe("SELECT mpa_verify($s, '$held_code')"), qr/vote recorded/,
	'bob verifies inside a transaction he leaves open');
ok( MpaTest::poll_until($node,
		"SELECT expires_at < now() - interval '0.5 s' FROM mpa.challenges WHERE request_id = $s", 10),
	'the open transaction outlives the code\'s expiry');
my $probe = MpaTest::queue_test_mail($node, 'stall@example.com');
ok(MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $probe", 10),
	'other mail is still delivered meanwhile')
  or diag('the mail worker: ' . sql("SELECT concat_ws(' ', state, wait_event_type, wait_event, query)"
	  . " FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'"));
$holder->query_safe('COMMIT');
$holder->quit;
is(sql("SELECT state FROM mpa.requests WHERE id = $s"), 'approved', 'the vote, committed late, counts');

# A code given after its expiry, in a transaction begun before it, is
# refused even while the worker has not yet marked it expired (held again).
my $lc = request('t_latecode');
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($lc, 'approve')");
my $late_code = MpaTest::code_from_mail($smtp, address('alice'), $lc);
my $late_voter = $node->background_psql('postgres', extra_params => [ '-U', 'alice', @$verbose ], on_error_stop => 0);
$late_voter->query_safe('BEGIN');
$late_voter->query_safe('SELECT now()');
$held = MpaTest::hold_worker($node);
ok( MpaTest::poll_until($node,
		"SELECT now() > expires_at + interval '0.2 s' FROM mpa.challenges WHERE request_id = $lc"),
	'the code is past its expiry, the worker held');
is(sql("SELECT state FROM mpa.challenges WHERE request_id = $lc"), 'open', 'the code is not marked expired yet');
$late_voter->query("SELECT mpa_verify($lc, '$late_code')");
like($late_voter->{stderr}, qr/ERROR:  MP005: no code is waiting for you on request $lc$/m,
	'a code given after its expiry is refused, though the transaction began before it');
$late_voter->query('COMMIT');
$late_voter->quit;
MpaTest::release_worker($held);
is(votes($lc), '0', 'no vote was recorded');
ok(MpaTest::poll_until($node, "SELECT state = 'expired' FROM mpa.challenges WHERE request_id = $lc", 10),
	'the worker let go, the code expires');

# Nor a resend left open in a transaction while the code mail it replaces
# is being sent (to a slow SMTP server).
my $rs = request('t_resend');
slow_smtp(3000);
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($rs, 'approve')");
my $replaced = sql("SELECT o.id FROM mpa.outbox o JOIN mpa.challenges ch ON ch.id = o.challenge_id"
	  . " WHERE ch.request_id = $rs");
ok(MpaTest::poll_until($node, "SELECT status = 'sending' FROM mpa.outbox WHERE id = $replaced", 10),
	'a code mail is being sent');
usleep(1_100_000);    # the cooldown
my $resender = $node->background_psql('postgres', extra_params => [ '-U', 'bob' ]);
$resender->query_safe('BEGIN');
like($resender->query_safe("SELECT mpa_resend($rs)"), qr/a code to approve request $rs was sent/,
	'bob asks for a new code in a transaction he leaves open');
slow_smtp(0);
$probe = MpaTest::queue_test_mail($node, 'resend@example.com');
ok(MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $probe", 8),
	'other mail is still delivered meanwhile')
  or diag('the mail worker: ' . sql("SELECT concat_ws(' ', state, wait_event_type, wait_event, query)"
	  . " FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'"));
$resender->query_safe('COMMIT');
$resender->quit;
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending') AND id <= $probe", 10),
	'the slow mail is through');

# ---------------------------------------------------------------------------
# 3. Resend cooldown (mpa.resend_cooldown = 1s).
like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($c, 'approve')"),
	qr/a code to approve request $c was sent to a\*\*\*\@e\*\*\*\.com/, 'alice asks for a new code');
($rc, $out, $err) = as('alice', "SELECT mpa_resend($c)");
like($err, qr/MP005: a code was sent less than 1s ago/, 'mpa_resend within the cooldown is refused');
my ($until) = $err =~ /HINT:\s+Wait until (\d\d:\d\d:\d\d) UTC/;
is($until,
	sql("SELECT to_char((max(created_at) + interval '1s') AT TIME ZONE 'UTC', 'HH24:MI:SS')"
		  . " FROM mpa.challenges WHERE request_id = $c AND approver = 'alice'::regrole"),
	'the hint says until when to wait');
($rc, $out, $err) = as('alice', "SELECT mpa_vote($c, 'approve')");
like($err, qr/MP005: a code was sent less than 1s ago.*HINT:\s+Wait until \d\d:\d\d:\d\d UTC/s,
	'so is a second mpa_vote');
is(sql("SELECT count(*) FROM mpa.challenges WHERE request_id = $c AND approver = 'alice'::regrole"),
	'2', 'no code was issued by the refused calls');
my ($first, $first_file) = MpaTest::code_from_mail($smtp, address('alice'), $c, except => [$stale_file]);
usleep(1_100_000);
like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_resend($c)"), qr/a code to approve request $c was sent/,
	'after the cooldown mpa_resend works');
my @mailed = ($stale_file, $first_file);
my ($second, $second_file) = MpaTest::code_from_mail($smtp, address('alice'), $c, except => \@mailed);
while ($second eq $first)    # one chance in a million: then the replaced code would count
{
	push @mailed, $second_file;
	usleep(1_100_000);
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_resend($c)");
	($second, $second_file) = MpaTest::code_from_mail($smtp, address('alice'), $c, except => \@mailed);
}
($rc, $out, $err) = verify('alice', $c, $first);
like($err, qr/ERROR:  MP005: wrong code; 2 tries left for this code$/m, 'the replaced code no longer counts');
($rc, $out, $err) = verify('alice', $c, $second);
like($out, qr/vote recorded: approve request $c/, 'the new code counts') or diag($err);

# ---------------------------------------------------------------------------
# 4. A restart draws a new code key: codes mailed before it are refused.
ok(MpaTest::reconfigure($node, 'mpa.otp_ttl' => '1min'), 'mpa.otp_ttl = 1min');
my $k = request('t_restart');
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($k, 'approve')");
my ($before, $before_file) = MpaTest::code_from_mail($smtp, address('bob'), $k);
$node->restart;
($rc, $out, $err) = verify('bob', $k, $before);
isnt($rc, 0, 'a code mailed before the restart is refused after it');
like($err, qr/ERROR:  MP005: this code was issued before the server restarted or failed over, and can no longer be used$/m,
	'... as made before the restart (MP005)');
is(votes($k), '0', '... and no vote is recorded');
# No wait for the cooldown: a code of the key before the restart holds no
# new one back (test/tap/031 with an hour's cooldown).
like(MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_resend($k)"), qr/a code to approve request $k was sent/,
	'bob asks for a new code');
my $after = MpaTest::code_from_mail($smtp, address('bob'), $k, except => [$before_file]);
($rc, $out, $err) = verify('bob', $k, $after);
like($out, qr/vote recorded: approve request $k .*the request is approved/, 'the new code works')
  or diag($err);

# ---------------------------------------------------------------------------
# 5. Wrong tries outlive ROLLBACK: the dead code, then the lock-out, mailed.
my $l = request('t_lockout');
my @files;

# Three wrong tries at the current code, each in a savepoint of a
# transaction that is rolled back.
my $guess_and_roll_back = sub {
	my ($code) = @_;
	my $w = wrong($code);
	my ($rc, $out, $err) = MpaTest::psql_as($node, 'alice',
		join("\n", 'BEGIN;', (map { "SAVEPOINT s$_; SELECT mpa_verify($l, '$w'); ROLLBACK TO s$_;" } 1 .. 3),
			'ROLLBACK;'),
		on_error_stop => 0, extra_params => $verbose);
	return $err;
};

MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($l, 'approve')");
my ($code1, $file1) = MpaTest::code_from_mail($smtp, address('alice'), $l);
push @files, $file1;
$err = $guess_and_roll_back->($code1);
like($err, qr/wrong code; 2 tries left.*wrong code; 1 try left.*wrong code; 0 tries left/s,
	'three wrong tries, in a transaction that is rolled back');
ok(MpaTest::wait_for_mail_matching($smtp, address('alice'), qr/^\[pg_mpa\] your code for request #$l no longer works$/),
	'alice is mailed that the code no longer works');
($rc, $out, $err) = verify('alice', $l, $code1);
like($err, qr/MP005: this code can no longer be used/, 'the dead code is refused, right digits and all');

# Two more codes, three wrong tries each, all rolled back: locked out.
for my $round (2, 3)
{
	usleep(1_100_000);    # the cooldown
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_resend($l)");
	my ($code, $file) = MpaTest::code_from_mail($smtp, address('alice'), $l, except => [@files]);
	push @files, $file;
	$err = $guess_and_roll_back->($code);
	if ($round == 2)
	{
		like($err, qr/wrong code; 0 tries left/, 'second code: three more wrong tries');
	}
	else
	{
		like($err, qr/wrong code; 2 tries left.*wrong code; 1 try left.*MP005: too many wrong codes for request $l: you can no longer vote on it/s,
			'third code: the ninth wrong try locks alice out');
	}
}
ok(MpaTest::wait_for_mail_matching($smtp, address('alice'), qr/^\[pg_mpa\] locked out of request #$l$/),
	'alice is mailed that she is locked out');
my $dead_notices = sub {
	return scalar(MpaTest::mail_matching($smtp, address('alice'),
		qr/^\[pg_mpa\] your code for request #$l no longer works$/));
};
for (1 .. 50) { last if $dead_notices->() >= 2; usleep(100_000) }
is($dead_notices->(), 2, 'one "no longer works" mail per dead code, the last one replaced by the lock-out mail');
($rc, $out, $err) = as('alice', "SELECT mpa_vote($l, 'approve')");
like($err, qr/MP005: too many wrong codes for request $l/, 'alice can no longer ask for a code');
is(votes($l), '0', 'no vote was recorded');

# Another approver is not affected.
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($l, 'approve')");
($rc, $out, $err) = verify('bob', $l, MpaTest::code_from_mail($smtp, address('bob'), $l));
like($out, qr/the request is approved/, 'bob still votes') or diag($err);

my $elapsed = time() - $started;
diag(sprintf('005 ran in %.1f s', $elapsed));
$node->stop;
done_testing();
