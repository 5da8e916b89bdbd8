# Standbys and failover: PostgreSQL's streaming replication carries
# pg_mpa's tables, and each server has a code key of its own.
#  1. A hot standby serves pg_mpa's views and functions that only read,
#     refuses requests, votes and codes (read-only, SQLSTATE 25006; a code
#     is neither checked nor counted there), and runs no mail worker: a code
#     mail the primary could not deliver stays pending on it.
#  2. A session connected to the standby since before a policy was
#     replayed is bound by it once the standby is promoted.
#  3. After promotion the worker starts. The code mail queued on the old
#     primary is not sent (its code was made with the old primary's key)
#     and its approver is told to ask again; a code the old primary mailed
#     is refused as made before the failover, without costing a try; a new
#     code comes at once (no resend cooldown against a dead key) and works.
#  4. An approval given on the old primary is spent once on the new one;
#     the audit chain continues from the old primary's head and verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
END
{
	local $?;    # the test's exit status
	eval { MpaTest::stop_smtp($smtp) } if $smtp;
}
# One try per code: a code from the old primary counted as a wrong try
# would show at once (a lock-out after three). A cooldown of an hour: a new
# code after the failover must not wait for it.
my $primary = MpaTest::new_node('primary', $smtp, <<'CONF', allows_streaming => 1);
mpa.otp_ttl = 10min
mpa.otp_max_attempts = 1
mpa.resend_cooldown = 1h
mpa.max_requests_per_hour = 0
CONF
$primary->safe_psql('postgres', <<'SQL');
CREATE ROLE req LOGIN; CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
CREATE TABLE public.t_approved (i int); ALTER TABLE public.t_approved OWNER TO req;
CREATE TABLE public.t_pending (i int); ALTER TABLE public.t_pending OWNER TO req;
CREATE TABLE public.t_later (i int); ALTER TABLE public.t_later OWNER TO req;
SELECT mpa_team_create('ops', 2);
SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
SELECT mpa_protect('DROP TABLE', 'public.t_approved', 'ops');
SELECT mpa_protect('DROP TABLE', 'public.t_pending', 'ops');
SQL

# The standby starts now, so its code key is drawn before any code below
# is made: codes younger than a key are not thereby made with it.
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $verbose = [ '-v', 'VERBOSITY=verbose' ];
sub verify
{
	my ($node, $role, $request, $code) = @_;
	return MpaTest::psql_as($node, $role, "SELECT mpa_verify($request, '$code')", extra_params => $verbose);
}
sub vote_with_mail
{
	my ($node, $role, $request) = @_;
	MpaTest::safe_psql_as($node, $role, "SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::code_from_mail($smtp, "$role\@example.com", $request);
	my ($rc, $out, $err) = verify($node, $role, $request, $code);
	die "vote of $role on $request failed: $err" if $rc != 0;
	return $code;
}

# A session on the standby reads the policies now (the gate judges its SET
# by them; a DROP would not do: PostgreSQL refuses it on a standby before
# the gate looks) and stays connected through the promotion.
my $old_session = $standby->background_psql('postgres', extra_params => [ '-U', 'req' ], on_error_stop => 0);
$old_session->query_safe("SET work_mem = '1MB'");
$primary->safe_psql('postgres', "SELECT mpa_protect('DROP TABLE', 'public.t_later', 'ops')");

# On the primary: one request approved, one with a code mailed to alice
# and a code for bob still in the outbox (the SMTP server is down).
my $approved = MpaTest::safe_psql_as($primary, 'req',
	"SELECT mpa_request('DROP TABLE public.t_approved', 'approved before the failover')");
vote_with_mail($primary, $_, $approved) for qw(alice bob);
my $pending = MpaTest::safe_psql_as($primary, 'req',
	"SELECT mpa_request('DROP TABLE public.t_pending', 'voted on across the failover')");
MpaTest::safe_psql_as($primary, 'alice', "SELECT mpa_vote($pending, 'approve')");
my ($old_code, $old_file) = MpaTest::code_from_mail($smtp, 'alice@example.com', $pending);
MpaTest::stop_smtp($smtp);
MpaTest::safe_psql_as($primary, 'bob', "SELECT mpa_vote($pending, 'approve')");
my $bob_mail = $primary->safe_psql('postgres',
	"SELECT o.id FROM mpa.outbox o JOIN mpa.challenges c ON c.id = o.challenge_id"
	  . " WHERE c.request_id = $pending AND c.approver = 'bob'::regrole");
# Its head is what the new primary's chain must continue from: wait until
# the worker chained everything before the failover.
ok(MpaTest::poll_until($primary, 'SELECT unchained = 0 FROM mpa_audit_verify()'),
	'the old primary chained its audit');
$primary->wait_for_catchup($standby);
$primary->stop;
MpaTest::restart_smtp($smtp);

# ---------------------------------------------------------------------------
# 1. The standby, read-only.
is(MpaTest::worker_pid($standby), '', 'no mail worker runs on the standby');
# Nor did one ever start there: started, it would fail at its first write
# and be started again every second, each time in the log (a look at
# pg_stat_activity alone could fall between two of them).
ok(!$standby->log_contains(qr/background worker "pg_mpa mail worker"/),
	'the standby never started the mail worker');
is($standby->safe_psql('postgres', "SELECT status FROM mpa.outbox WHERE id = $bob_mail"), 'pending',
	"bob's code mail, queued on the primary, is pending on the standby");
is($standby->safe_psql('postgres', "SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM mpa.requests"),
	"$approved:approved,$pending:pending", 'the standby shows the requests as the primary left them');
is(MpaTest::safe_psql_as($standby, 'alice', 'SELECT id FROM mpa.pending'), $pending,
	'mpa.pending works on the standby');
is($standby->safe_psql('postgres', "SELECT quorum_reachable FROM mpa.team_health WHERE team = 'ops'"), 't',
	'mpa.team_health works on the standby');
my $old_head = $standby->safe_psql('postgres', 'SELECT seq || \'|\' || hash FROM mpa_audit_head()');
is($standby->safe_psql('postgres', 'SELECT intact, unchained FROM mpa_audit_verify()'), 't|0',
	'mpa_audit_verify() runs on the standby: the replicated chain is intact');

# Writes fail as read-only (PostgreSQL's 25006); a code is refused before
# pg_mpa checks or counts it, with pg_mpa's own message.
my ($rc, $err) = MpaTest::refusal_as($standby, 'req',
	"SELECT mpa_request('DROP TABLE public.t_later', 'on a standby')");
# (Its first write is the lock on the team's row that mpa_team_drop waits
# for, SELECT FOR KEY SHARE, not the INSERT.)
like($err, qr/^25006: cannot execute .* in a read-only transaction$/, 'mpa_request on the standby is read-only');
($rc, $err) = MpaTest::refusal_as($standby, 'bob', "SELECT mpa_resend($pending)");
like($err, qr/^25006: cannot execute .* in a read-only transaction$/, 'mpa_resend on the standby is read-only');
($rc, $err) = MpaTest::refusal_as($standby, 'alice', "SELECT mpa_verify($pending, '$old_code')");
is($err, '25006: this server is a standby: codes are checked on the primary',
	'a code entered on the standby is refused as such, not judged with the standby\'s key');
($rc, $err) = MpaTest::refusal_as($standby, 'req', 'DROP TABLE public.t_approved');
isnt($rc, 0, 'a protected DROP on the standby fails');
is($standby->safe_psql('postgres', "SELECT to_regclass('public.t_approved') IS NOT NULL"), 't',
	'... and the table is there');

$standby->promote;

# ---------------------------------------------------------------------------
# 2. The session that read the policies on the standby, before the policy
# on t_later was replayed. First thing after the promotion: a vote (it
# updates mpa.approvers) would move the policy generation and hide it.
my $seen = length $old_session->{stderr};    # what it said before (it accumulates)
$old_session->query('DROP TABLE public.t_later');
like(substr($old_session->{stderr}, $seen), qr/DROP TABLE on public\.t_later requires the approval of team "ops"/,
	'a session from before the promotion is bound by a policy replayed after it read its copy');
is($standby->safe_psql('postgres', "SELECT to_regclass('public.t_later') IS NOT NULL"), 't',
	'... and the table is still there');
$old_session->quit;

# ---------------------------------------------------------------------------
# 3. After the promotion the worker starts, and codes of the old key are dead.
ok(MpaTest::poll_until($standby, "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'"),
	'the mail worker starts after the promotion');
my $notice = MpaTest::wait_for_mail_matching($smtp, 'bob@example.com',
	qr/^\[pg_mpa\] your code for request #$pending was not sent$/);
ok($notice, 'bob is told that the code he asked for was not sent');
like($notice->{body}, qr/To ask for a new one: SELECT mpa_resend\($pending\);/, '... and how to ask again')
  if $notice;
is($standby->safe_psql('postgres', "SELECT status FROM mpa.outbox WHERE id = $bob_mail"), 'superseded',
	'the code mail of the old key is superseded, not sent');
# Neither the standby nor the new primary mailed bob a code of the old key.
is(scalar(MpaTest::mail_matching($smtp, 'bob@example.com', qr/your code .*request #$pending$/)), 0,
	'bob received no code for the pending request');

# alice's code, mailed by the old primary: refused as made before the
# failover, three times, with one try per code: none counted as wrong.
for my $try (1 .. 3)
{
	($rc, $err) = MpaTest::refusal_as($standby, 'alice', "SELECT mpa_verify($pending, '$old_code')");
	is($err, 'MP005: this code was issued before the server restarted or failed over, and can no longer be used',
		"the old primary's code is refused as such (try $try)");
}
my $out;
($rc, $out, $err) = MpaTest::psql_as($standby, 'alice', "SELECT mpa_resend($pending)");
like($out, qr/a code to approve request $pending was sent/,
	'alice gets a new code at once, the cooldown notwithstanding') or diag($err);
my $new_code = MpaTest::code_from_mail($smtp, 'alice@example.com', $pending, except => [$old_file]);
($rc, $out, $err) = verify($standby, 'alice', $pending, $new_code);
like($out, qr/vote recorded: approve request $pending/, "alice's new code works: no try was spent")
  or diag($err);
ok(MpaTest::poll_until($standby,
		"SELECT count(*) = 3 FROM mpa.audit WHERE kind = 'code tried' AND detail->>'outcome' = 'key gone'"),
	'each entry of the old code is audited as such');
MpaTest::safe_psql_as($standby, 'bob', "SELECT mpa_resend($pending)");
($rc, $out, $err) = verify($standby, 'bob', $pending, MpaTest::code_from_mail($smtp, 'bob@example.com', $pending));
like($out, qr/the request is approved/, "bob's new code approves the request") or diag($err);

# ---------------------------------------------------------------------------
# 4. The approval from the old primary runs once; the re-typed statement of
# the request approved on the new one runs too.
MpaTest::safe_psql_as($standby, 'req', "SELECT mpa_execute($approved)");
is($standby->safe_psql('postgres', "SELECT to_regclass('public.t_approved') IS NULL"), 't',
	'the statement approved on the old primary runs on the new one');
($rc, $err) = MpaTest::refusal_as($standby, 'req', "SELECT mpa_execute($approved)");
like($err, qr/^MP004: /, '... once: a second execution is refused');
MpaTest::safe_psql_as($standby, 'req', 'DROP TABLE public.t_pending');
is($standby->safe_psql('postgres', "SELECT string_agg(state, ',' ORDER BY id) FROM mpa.requests"),
	'executed,executed', 'both requests are executed');

# The chain goes on from the old primary's head, and verifies.
ok(MpaTest::poll_until($standby, 'SELECT unchained = 0 FROM mpa_audit_verify()'),
	'the new primary chains the audit');
my ($old_seq, $old_hash) = split /\|/, $old_head;
is($standby->safe_psql('postgres', "SELECT previous_hash FROM mpa.audit WHERE seq = $old_seq + 1"), $old_hash,
	"the new primary's first entry follows the old primary's head");
like($standby->safe_psql('postgres', 'SELECT intact, entries > ' . ($old_seq + 1) . ' FROM mpa_audit_verify()'),
	qr/^t\|t$/, 'the whole chain verifies');

done_testing();
