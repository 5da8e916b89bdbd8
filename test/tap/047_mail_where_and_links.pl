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
#     after a restart.
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
CREATE TABLE public.t_where (i int); CREATE TABLE public.t_nolink (i int); CREATE TABLE public.t_remind (i int);
ALTER TABLE public.t_where OWNER TO req; ALTER TABLE public.t_nolink OWNER TO req;
ALTER TABLE public.t_remind OWNER TO req;
SELECT mpa_team_create('ops', 2);
SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
SELECT mpa_approver_add('ops', 'carol', 'carol@example.com');
SELECT mpa_approver_add('ops', 'req', 'req@example.com');
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

done_testing();
