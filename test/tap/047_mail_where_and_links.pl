# Mail that says where and links there (#20; docs/decisions.md, "Mail that
# says where and links there"), through the real worker and SMTP server:
#  1. the request, code and decision mails of one request name the cluster
#     (mpa.cluster_label), the host and the database, link to the request's
#     page in the portal (mpa.portal_url), the code mail to the page where
#     the code is entered without the code in the link, and are one thread:
#     the request mail's Message-ID is the thread's, the others name it in
#     In-Reply-To and References;
#  2. without mpa.portal_url no mail carries a link; without
#     mpa.cluster_label the cluster is cluster_name;
#  3. a label or portal URL a mail cannot carry is refused when set, and a
#     reload with one keeps the value before;
#  4. a reminder goes, mpa.reminder_before before expiry, once, to each
#     approver who has not voted and is not the requester, and not again
#     after a restart;
#  5. a requester who is not an approver registers an address for notices
#     (mpa_notify_me), which takes effect once it confirmed the code mailed
#     there; then they are told of the decision and of the execution, in the
#     request's thread; a new address replaces it only once confirmed, and
#     the address before is told;
#  6. a request for another database's objects names that database in its
#     mail.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Sys::Hostname qw(hostname);
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
END
{
	local $?;
	eval { MpaTest::stop_smtp($smtp) } if $smtp;
}
my $portal = 'https://approve.example.test/mpa';
my $node = MpaTest::new_node('where', $smtp, <<"CONF");
mpa.cluster_label = 'prod-eu'
mpa.portal_url = '$portal/'
mpa.reminder_before = 0
CONF

$node->safe_psql('postgres', <<'SQL');
CREATE ROLE req LOGIN; CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
CREATE ROLE dev LOGIN;
CREATE TABLE public.t_dev (i int); ALTER TABLE public.t_dev OWNER TO dev;
CREATE TABLE public.t_where (i int); CREATE TABLE public.t_nolink (i int); CREATE TABLE public.t_remind (i int);
ALTER TABLE public.t_where OWNER TO req; ALTER TABLE public.t_nolink OWNER TO req;
ALTER TABLE public.t_remind OWNER TO req;
-- Two approvals of four approvers, the requester among them (not reminded).
SELECT mpa_team_create('ops', 2);
SELECT mpa_approver_add('ops', who::regrole, who || '@example.com')
  FROM unnest(ARRAY['alice', 'bob', 'carol', 'req']) AS who;
SELECT mpa_protect('DROP TABLE', 'public.*', 'ops');
SQL

my $sysid = $node->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()');
my $host = hostname();

sub request
{
	my ($table) = @_;
	return MpaTest::safe_psql_as($node, 'req', "SELECT mpa_request('DROP TABLE public.$table', 'where test')");
}

# The Message-ID every mail about request $id threads under.
sub thread_id { return "<request-$_[0].$sysid\@db.example.test>" }

sub body_line
{
	my ($m, $name) = @_;
	my ($value) = $m->{body} =~ /^\Q$name\E:\s+(.*)$/m;
	return $value // '';
}

# ---------------------------------------------------------------------------
# 1. Where, the link and the thread, for the request, code and decision mails.

my $r1 = request('t_where');
my $opened = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/approval requested: .*\(#$r1\)/)
  or die 'no request mail';
# The request mail starts the thread: its Message-ID is the request's, the
# same for every approver, so later mail can name it.
is(MpaTest::mail_header($opened, 'Message-ID'), thread_id($r1), 'the request mail has the thread\'s Message-ID');
is(scalar(MpaTest::mail_header($opened, 'In-Reply-To')), undef, 'the request mail replies to nothing');
my $to_bob = MpaTest::wait_for_mail_matching($smtp, 'bob@example.com', qr/approval requested: .*\(#$r1\)/);
is(MpaTest::mail_header($to_bob, 'Message-ID'), thread_id($r1), 'each approver\'s copy has the same Message-ID');
# Approvers of several clusters must see which one asks: cluster, host and
# database in the text, the cluster in a header for mail filters too.
is(body_line($opened, 'Cluster'), 'prod-eu', 'the request mail names the cluster (mpa.cluster_label)');
is(body_line($opened, 'Host'), $host, 'the request mail names the host');
is(body_line($opened, 'Database'), 'postgres', 'the request mail names the database');
is(MpaTest::mail_header($opened, 'X-MPA-Cluster'), 'prod-eu', 'and the cluster in X-MPA-Cluster');
is(body_line($opened, 'Open in portal'), "$portal/requests/$r1",
	'the request mail links to the request\'s page (the trailing slash of mpa.portal_url not doubled)');

MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($r1, 'approve')");
my $code_mail = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/your code .*request #$r1$/)
  or die 'no code mail';
my ($code) = $code_mail->{body} =~ /Your one-time code: ([0-9]{6})\b/ or die 'no code';
isnt(MpaTest::mail_header($code_mail, 'Message-ID'), thread_id($r1), 'the code mail has a Message-ID of its own');
is(MpaTest::mail_header($code_mail, 'In-Reply-To'), thread_id($r1), 'the code mail replies to the request mail');
is(MpaTest::mail_header($code_mail, 'References'), thread_id($r1), 'and references it');
is(body_line($code_mail, 'Enter the code'), "$portal/requests/$r1",
	'the code mail links to the page where the code is entered');
# A code in a link would reach browser history, proxies and server logs.
my @links = $code_mail->{body} =~ m{(https?://\S+)}g;
ok(@links && !grep({ $_ =~ MpaTest::code_pattern($code) } @links), 'no link of the code mail holds the code');
is(body_line($code_mail, 'Cluster'), 'prod-eu', 'the code mail names the cluster');
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_verify($r1, '$code')");
MpaTest::approve($node, $smtp, $r1, 'bob');

my $decided = MpaTest::wait_for_mail_matching($smtp, 'carol@example.com', qr/request #$r1 approved/)
  or die 'no decision mail';
is(MpaTest::mail_header($decided, 'In-Reply-To'), thread_id($r1), 'the decision mail replies to the request mail');
is(MpaTest::mail_header($decided, 'References'), thread_id($r1), 'and references it');
is(body_line($decided, 'Database'), 'postgres', 'the decision mail names the database');
is(body_line($decided, 'Open in portal'), "$portal/requests/$r1", 'the decision mail links to the request');

# ---------------------------------------------------------------------------
# 2. No portal, no link; no label, cluster_name.

# (PostgreSQL::Test::Cluster starts every node with cluster_name = its name.)
MpaTest::reconfigure($node, 'mpa.portal_url' => '', 'mpa.cluster_label' => '')
  or die 'reconfigure failed';
my $r2 = request('t_nolink');
my $plain = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/approval requested: .*\(#$r2\)/)
  or die 'no request mail';
unlike($plain->{body}, qr{https?://}, 'without mpa.portal_url the request mail carries no link');
is(body_line($plain, 'Cluster'), 'where', 'without mpa.cluster_label the cluster is cluster_name');
is(MpaTest::mail_header($plain, 'Message-ID'), thread_id($r2), 'and the mail still starts its thread');

# The worker's own notices about a request are in its thread too: a code
# left to expire (mpa.otp_ttl shortened for it) brings carol a notice.
MpaTest::reconfigure($node, 'mpa.otp_ttl' => '1s') or die 'reconfigure failed';
MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_vote($r2, 'reject')");
my $expired = MpaTest::wait_for_mail_matching($smtp, 'carol@example.com', qr/your code for .*#$r2 expired/);
ok($expired, 'carol is told that her code expired');
is(MpaTest::mail_header($expired, 'In-Reply-To'), thread_id($r2), 'that notice is in the request\'s thread');
MpaTest::reconfigure($node, 'mpa.otp_ttl' => '10min') or die 'reconfigure failed';

# ---------------------------------------------------------------------------
# 3. Values a mail cannot carry are refused.

# ALTER SYSTEM runs the same check as a reload: the reason is pg_mpa's.
for my $case (
	[ 'mpa.cluster_label', q{E'prod\r\nBcc: mallory@evil.example'},
		'mpa.cluster_label must not contain control characters (line breaks, tabs, NUL)' ],
	[ 'mpa.portal_url', q{'javascript:alert(1)'}, 'mpa.portal_url must start with https:// or http://' ],
	[ 'mpa.portal_url', q{'https://approve.example.test/?next='}, 'mpa.portal_url must not contain a query or fragment' ],
	[ 'mpa.portal_url', q{'https://user:secret@approve.example.test'},
		'mpa.portal_url must not contain a user name or password' ])
{
	my ($name, $value, $detail) = @$case;
	my (undef, $error, undef, $got_detail) =
	  MpaTest::refusal_and_hint_as($node, 'postgres', "ALTER SYSTEM SET $name = $value");
	like($error, qr/^22023: invalid value for parameter "\Q$name\E"/, "ALTER SYSTEM SET $name = $value is refused");
	is($got_detail, $detail, "... saying why");
}
# A reload with a bad value keeps the one before, and says why in the log.
my $log_at = -s $node->logfile;
$node->append_conf('postgresql.conf', "mpa.portal_url = 'ftp://approve.example.test'\n");
$node->reload;
ok($node->wait_for_log(qr/mpa\.portal_url must start with https:\/\/ or http:\/\//, $log_at),
	'a reload with a bad mpa.portal_url logs why');
is($node->safe_psql('postgres', q{SELECT current_setting('mpa.portal_url')}), '',
	'and keeps the value before');
MpaTest::reconfigure($node, 'mpa.portal_url' => "$portal/") or die 'reconfigure failed';

# ---------------------------------------------------------------------------
# 4. The reminder: once, to those who have not voted, never to the
#    requester, not again after a restart.

MpaTest::reconfigure($node, 'mpa.request_ttl' => '10min') or die 'reconfigure failed';
my $r3 = request('t_remind');
# alice votes while reminders are off; then 599s before the expiry of a
# 600s request is a second after it was made: the reminder is due (the
# worker's timers see the reload at once).
MpaTest::approve($node, $smtp, $r3, 'alice');
MpaTest::reconfigure($node, 'mpa.reminder_before' => '599s') or die 'reconfigure failed';

my %reminder;
for my $who (qw(bob carol))
{
	$reminder{$who} = MpaTest::wait_for_mail_matching($smtp, "$who\@example.com", qr/reminder: request #$r3 /);
	ok($reminder{$who}, "$who, who has not voted, is reminded");
}
is(MpaTest::mail_header($reminder{bob}, 'In-Reply-To'), thread_id($r3), 'the reminder is in the request\'s thread');
is(body_line($reminder{bob}, 'Open in portal'), "$portal/requests/$r3", 'and links to the request');
like($reminder{bob}{body}, qr/SELECT mpa_vote\($r3, 'approve'\);/, 'and says how to vote');
is($node->safe_psql('postgres', "SELECT reminded_at IS NOT NULL FROM mpa.requests WHERE id = $r3"), 't',
	'the reminder is recorded with the request');

# A round of the worker after the reminders: a test mail queued now is sent
# after the housekeeping of a later round, which would have reminded again.
sub worker_went_round
{
	my $id = MpaTest::queue_test_mail($node, 'postmaster@example.com');
	return MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $id");
}

sub reminders_to
{
	my ($who) = @_;
	return scalar MpaTest::mail_matching($smtp, "$who\@example.com", qr/reminder: request #$r3 /);
}
ok(worker_went_round(), 'the worker went on');
is(reminders_to('bob'), 1, 'bob is reminded once');
is(reminders_to('carol'), 1, 'carol is reminded once');
is(reminders_to('alice'), 0, 'alice, who voted, is not reminded');
is(reminders_to('req'), 0, 'the requester, an approver of the team, is not reminded');

$node->restart;
ok(worker_went_round(), 'the worker went on after a restart');
is(reminders_to('bob') + reminders_to('carol'), 2, 'a restart sends no reminder again');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.audit WHERE kind = 'reminded' AND request_id = $r3"),
	'1', 'the reminder is audited once');

# ---------------------------------------------------------------------------
# 5. Notices for a requester who is not an approver.

MpaTest::reconfigure($node, 'mpa.resend_cooldown' => '0') or die 'reconfigure failed';
my $verbose = [ '-v', 'VERBOSITY=verbose' ];

# The code mailed to $address for notices (the newest), waiting for it.
sub notices_code
{
	my ($address, %opt) = @_;
	my $m = MpaTest::wait_for_mail_matching($smtp, $address, qr/confirm your address for notices/, %opt)
	  or die "no code mail to $address";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/ or die "no code in $m->{path}";
	return ($code, $m);
}

like(MpaTest::safe_psql_as($node, 'dev', q{SELECT mpa_notify_me('dev@example.com')}),
	qr/^a code to confirm the address was sent to d\*\*\*\@e\*\*\*\.com; it is valid until /,
	'dev registers an address for notices and is told where the code went, masked');
my ($dev_code, $dev_code_mail) = notices_code('dev@example.com');
like($dev_code_mail->{body}, qr/SELECT mpa_confirm_email_for_notices\('<code>'\);/, 'the code mail says how to confirm');
# Until confirmed, the address gets nothing: a request decided now is not
# told to it.
my $r4 = MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_request('DROP TABLE public.t_dev', 'notices test')");
MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_cancel($r4)");
# A wrong code is refused as pg_mpa's, and confirms nothing.
my (undef, $wrong) = MpaTest::refusal_as($node, 'dev',
	sprintf(q{SELECT mpa_confirm_email_for_notices('%06d')}, ($dev_code + 1) % 1000000));
is($wrong, 'MP005: wrong code; 2 tries left for this code', 'a wrong code is refused (MP005)');
# With every statement logged, the code typed in is blanked in the log.
MpaTest::reconfigure($node, log_statement => 'all') or die 'reconfigure failed';
my $log_before_code = -s $node->logfile;
is(MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_confirm_email_for_notices('$dev_code')"),
	'notices about your requests now go to d***@e***.com', 'the right code confirms the address');
my $logged = substr(slurp_file($node->logfile), $log_before_code);
like($logged, qr/mpa_confirm_email_for_notices\('\*{6}'\)/, 'the statement is logged with the code blanked');
unlike($logged, MpaTest::code_pattern($dev_code), 'the code is nowhere in the log');
MpaTest::reconfigure($node, log_statement => 'none') or die 'reconfigure failed';
ok(worker_went_round(), 'the worker went on');
is(scalar MpaTest::mail_matching($smtp, 'dev@example.com', qr/request #$r4 cancelled/), 0,
	'a decision made before the address was confirmed was not sent to it');

my $r5 = MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_request('DROP TABLE public.t_dev', 'notices test')");
MpaTest::approve($node, $smtp, $r5, 'alice');
MpaTest::approve($node, $smtp, $r5, 'bob');
my $told = MpaTest::wait_for_mail_matching($smtp, 'dev@example.com', qr/request #$r5 approved/);
ok($told, 'dev, not an approver, is told that the request was approved');
is(MpaTest::mail_header($told, 'In-Reply-To'), thread_id($r5), 'in the request\'s thread');
is(body_line($told, 'Open in portal'), "$portal/requests/$r5", 'with the link');
MpaTest::safe_psql_as($node, 'dev', 'DROP TABLE public.t_dev');
ok(MpaTest::wait_for_mail_matching($smtp, 'dev@example.com', qr/request #$r5 executed/),
	'and that it was executed');

# Another address takes over only once it confirmed its code; the address
# before hears of it at once, and again when it happens.
MpaTest::safe_psql_as($node, 'dev', q{SELECT mpa_notify_me('dev.new@example.com')});
ok(MpaTest::wait_for_mail_matching($smtp, 'dev@example.com', qr/your address for notices is being changed/),
	'the address before is told of the change at once');
my ($new_code) = notices_code('dev.new@example.com');
is($node->safe_psql('postgres', q{SELECT email FROM mpa.notice_addresses WHERE requester = 'dev'::regrole}),
	'dev@example.com', 'until the new address confirms, notices go to the one before');
MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_confirm_email_for_notices('$new_code')");
ok(MpaTest::wait_for_mail_matching($smtp, 'dev@example.com', qr/your address for notices was changed/),
	'the address before is told when the change takes effect');
is($node->safe_psql('postgres', q{SELECT email FROM mpa.notice_addresses WHERE requester = 'dev'::regrole}),
	'dev.new@example.com', 'then notices go to the new one');
# Nobody reads the addresses but pg_mpa.
# (PostgreSQL's own refusal is the point here: pg_mpa grants nothing on it.)
my (undef, $read) = MpaTest::refusal_as($node, 'dev', 'SELECT * FROM mpa.notice_addresses');
is($read, '42501: permission denied for table notice_addresses', 'the addresses are not readable by PUBLIC');

# A dropped role leaves its OID behind (a regrole makes no dependency), and
# a role made later may get it: that role's notices must not go to the
# address the dropped one confirmed. pg_resetwal -o hands dev's OID out
# again at once (after the OID counter's wrap-around it happens by itself).
my $dev_oid = $node->safe_psql('postgres', q{SELECT 'dev'::regrole::oid});
# (Vacuumed: an OID is not handed out while a dead row still holds it.)
$node->safe_psql('postgres', 'DROP ROLE dev');
$node->safe_psql('postgres', 'VACUUM pg_authid');
$node->stop;
PostgreSQL::Test::Utils::system_or_bail('pg_resetwal', '-o', $dev_oid, $node->data_dir);
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE eve LOGIN');
$node->safe_psql('postgres', 'CREATE TABLE public.t_eve (i int)');
is($node->safe_psql('postgres', q{SELECT 'eve'::regrole::oid}), $dev_oid, 'eve, made after dev was dropped, has its OID');
my $r7 = MpaTest::safe_psql_as($node, 'eve', "SELECT mpa_request('DROP TABLE public.t_eve', 'a recycled OID')");
MpaTest::approve($node, $smtp, $r7, 'alice');
MpaTest::approve($node, $smtp, $r7, 'bob');
ok(MpaTest::wait_for_mail_matching($smtp, 'carol@example.com', qr/request #$r7 approved/), 'the approvers are told');
ok(worker_went_round(), 'the worker went on');
is(scalar MpaTest::mail_matching($smtp, 'dev.new@example.com', qr/#$r7\b/), 0,
	'eve\'s notices do not go to the address dev confirmed');

# ---------------------------------------------------------------------------
# 6. A request for another database names it: an approver must know where
#    the statement will run, not only where pg_mpa lives.

$node->safe_psql('postgres', 'CREATE DATABASE billing');
$node->safe_psql('billing', 'CREATE TABLE public.invoices (i int); ALTER TABLE public.invoices OWNER TO req');
$node->safe_psql('postgres', q{SELECT mpa_protect('DROP TABLE', 'public.invoices', 'ops', database => 'billing')});
# billing's gate has the policy once the worker published it (the request
# is described there).
MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE public.invoices',
	'MP001: DROP TABLE on public.invoices requires the approval of team "ops"', dbname => 'billing');
my $r6 = MpaTest::safe_psql_as($node, 'req',
	q{SELECT mpa_request('DROP TABLE public.invoices', 'where test', database => 'billing')});
my $elsewhere = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/approval requested: .*\(#$r6\)/)
  or die 'no request mail';
is(body_line($elsewhere, 'Database'), 'billing', 'the mail of a request for billing names billing');
is(body_line($elsewhere, 'Cluster'), 'where', 'and the cluster (cluster_name since section 2)');

done_testing();
