# What the SMTP server says decides a mail's fate: temporary failures are
# retried, permanent ones dead-letter only the mail concerned, a connection
# lost after DATA is retried (the one allowed duplicate), and a large queue
# goes out over few connections.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('failures', $smtp);

# A finished row: status|attempts|last_error (waits until it is no longer
# pending/sending, up to $timeout seconds).
sub outcome
{
	my ($id, $timeout) = @_;
	MpaTest::poll_until($node,
		"SELECT status NOT IN ('pending', 'sending') FROM mpa.outbox WHERE id = $id", $timeout // 20);
	return split /\|/, $node->safe_psql('postgres',
		"SELECT status, attempts, coalesce(last_error, '') FROM mpa.outbox WHERE id = $id"), 3;
}

sub message_id
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT message_id FROM mpa.outbox WHERE id = $id");
}

sub copies_of
{
	my ($id) = @_;
	return MpaTest::message_id_counts($smtp)->{ message_id($id) } // 0;
}

# Queues one mail per address in a single transaction (one batch, one
# connection); returns the ids in order.
sub queue_together
{
	my (@addresses) = @_;
	my $sql = join(' UNION ALL ', map { "SELECT mpa_mail_test('$_')" } @addresses);
	return split /\n/, $node->safe_psql('postgres', "SELECT * FROM ($sql) q");
}

# ---------------------------------------------------------------------------
# 451 on MAIL FROM, twice: retried with backoff, sent on the third try.
MpaTest::control_smtp($smtp, '{"temp_fail_next": 2}');
my $id = MpaTest::queue_test_mail($node, 'tempfail@example.com');
my ($status, $attempts, $error) = outcome($id);
is($status, 'sent', '451 twice: the mail is sent in the end');
is($attempts, 3, '451 twice: on the third attempt');
is(copies_of($id), 1, '451 twice: one copy arrived');

# ---------------------------------------------------------------------------
# 550 on RCPT TO for one recipient: that mail fails, its neighbours in the
# same batch (queued right before and after it) are sent at once.
MpaTest::control_smtp($smtp, '{"reject_rcpt": ["bad@example.com"]}');
my ($good1, $bad, $good2) = queue_together('good@example.com', 'bad@example.com', 'good@example.com');
($status, $attempts, $error) = outcome($bad);
is($status, 'failed', '550 on RCPT: the mail is dead-lettered');
is($attempts, 1, '550 on RCPT: without retry');
like($error, qr/550/, "550 on RCPT: last_error has the reply code ($error)");
like($error, qr/Mailbox unavailable/, '550 on RCPT: and the server\'s text');
is(copies_of($bad), 0, '550 on RCPT: nothing stored for it');
for my $good ([ 'before', $good1 ], [ 'after', $good2 ])
{
	my ($when, $gid) = @$good;
	($status, $attempts, $error) = outcome($gid);
	is($status, 'sent', "550 on RCPT: the mail queued $when it is sent");
	is($attempts, 1, "550 on RCPT: the mail queued $when it is not held up (first attempt)")
	  or diag("last_error: $error");
	is(copies_of($gid), 1, "550 on RCPT: the mail queued $when arrived once");
}
is(scalar(MpaTest::mail_to($smtp, 'bad@example.com')), 0, '550 on RCPT: nothing for bad@ in the maildir');

# ---------------------------------------------------------------------------
# 554 at the end of DATA: dead-lettered.
MpaTest::control_smtp($smtp, '{"reject_data": true}');
$id = MpaTest::queue_test_mail($node, 'rejected@example.com');
($status, $attempts, $error) = outcome($id);
is($status, 'failed', '554 after DATA: the mail is dead-lettered');
is($attempts, 1, '554 after DATA: without retry');
like($error, qr/554/, "554 after DATA: last_error has the reply code ($error)");
is(copies_of($id), 0, '554 after DATA: nothing stored');

# ---------------------------------------------------------------------------
# The connection drops after the message was stored, before the reply: the
# worker cannot know, retries, and the mail may arrive twice (never more).
MpaTest::control_smtp($smtp, '{"drop_after_data": 1}');
$id = MpaTest::queue_test_mail($node, 'dropped@example.com');
($status, $attempts, $error) = outcome($id);
is($status, 'sent', 'connection dropped after DATA: the mail ends sent');
cmp_ok($attempts, '>=', 2, "connection dropped after DATA: after a retry ($attempts attempts)");
my $copies = copies_of($id);
ok($copies == 1 || $copies == 2, "connection dropped after DATA: 1 or 2 copies ($copies)");
MpaTest::control_smtp($smtp, '{}');

# ---------------------------------------------------------------------------
# 300 mails queued in one transaction: all arrive, once each, over few
# connections.
my $before = MpaTest::mail_count($smtp);
my %peers_before = map { $_->{meta}{peer} => 1 } MpaTest::mail_list($smtp);
my $start = time();
my $first = $node->safe_psql('postgres',
	"SELECT min(id) FROM (SELECT mpa_mail_test('bulk' || i || '\@example.com') AS id"
	  . " FROM generate_series(1, 300) i) q");
ok( MpaTest::poll_until($node,
		"SELECT count(*) = 300 FROM mpa.outbox WHERE id >= $first AND status = 'sent'", 50),
	'300 mails in one transaction: all sent');
my $elapsed = time() - $start;
ok(MpaTest::wait_for_mail($smtp, $before + 300, 5), '300 mails: all stored');
my $counts = MpaTest::message_id_counts($smtp);
my @ids = split /\n/, $node->safe_psql('postgres',
	"SELECT message_id FROM mpa.outbox WHERE id >= $first AND recipient LIKE 'bulk%' ORDER BY id");
is(scalar(@ids), 300, '300 mails: 300 outbox rows');
is(scalar(grep { ($counts->{$_} // 0) == 1 } @ids), 300, '300 mails: each Message-ID exactly once');
my %peers;
$peers{ $_->{meta}{peer} }++ for grep { $_->{to}[0] =~ /^bulk/ } MpaTest::mail_list($smtp);
cmp_ok(scalar(keys %peers), '<=', 5, '300 mails: over few connections');
diag(sprintf('300 mails delivered in %.2f s over %d connection(s)', $elapsed, scalar(keys %peers)));
is($node->safe_psql('postgres',
		"SELECT max(attempts) FROM mpa.outbox WHERE id >= $first AND recipient LIKE 'bulk%'"),
	'1', '300 mails: each on the first attempt');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
