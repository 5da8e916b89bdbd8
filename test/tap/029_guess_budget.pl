# A budget of wrong codes per approver, over every request: an attacker who
# can act in an approver's name (a superuser's SET SESSION AUTHORIZATION)
# gets mpa.otp_max_attempts tries per code and a few codes per request, but
# with many requests that would add up. Past mpa.max_wrong_codes_per_hour
# (or _per_day) wrong codes in their name, no code of that approver is
# evaluated, the right one included (MP005, saying until when), and the
# approver is told by mail. Other approvers are not affected.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('guess_budget', $smtp,
	"mpa.resend_cooldown = 0\nmpa.max_wrong_codes_per_hour = 4\nmpa.max_wrong_codes_per_day = 6\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	CREATE TABLE t1 (i int); CREATE TABLE t2 (i int); CREATE TABLE t3 (i int);
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_protect('DROP TABLE', 'public.*', 'ops');
});

my @requests = map {
	$node->safe_psql('postgres', "SELECT mpa_request('DROP TABLE t$_', 'cleanup')")
} 1 .. 3;

# Votes as $approver on $request and returns the code mailed for it.
sub code_for
{
	my ($approver, $request) = @_;
	MpaTest::safe_psql_as($node, $approver, "SELECT mpa_vote($request, 'approve')");
	return MpaTest::code_from_mail($smtp, "$approver\@example.com", $request);
}

sub verify
{
	my ($approver, $request, $code) = @_;
	my ($rc, $out, $err) =
	  MpaTest::psql_as($node, $approver, "\\set VERBOSITY verbose\nSELECT mpa_verify($request, '$code')");
	return $err;
}

sub wrong_code
{
	my ($code) = @_;
	return sprintf('%06d', ($code + 1) % 1000000);
}

# Three wrong codes on request 1 (the code dies), one on request 2.
my $code = code_for('alice', $requests[0]);
for my $try (1 .. 3)
{
	like(verify('alice', $requests[0], wrong_code($code)), qr/ERROR:\s+MP005: wrong code/,
		"wrong try $try at request 1 is evaluated");
}
$code = code_for('alice', $requests[1]);
like(verify('alice', $requests[1], wrong_code($code)), qr/ERROR:\s+MP005: wrong code; 2 tries left/,
	'the 4th wrong try, at another request, is evaluated and spends the hourly budget');

# Over budget: even the right code is not evaluated.
like(verify('alice', $requests[1], $code),
	qr/ERROR:\s+MP005: too many wrong codes were entered in your name lately: no code of yours is accepted until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
	'then the right code is refused too (MP005), saying until when');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $requests[1]"), 'pending',
	'and no vote was counted');
my $mail = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/too many wrong codes in your name/);
like($mail ? $mail->{body} : '', qr/at most 4 an hour and 6 a day, over every request/,
	'alice is told by mail, with the limits');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.audit WHERE kind = 'guess budget spent'}), '1',
	'and the audit records it once');

# The budget is alice's: bob's code is evaluated (positive control).
my $bobs = code_for('bob', $requests[1]);
unlike(verify('bob', $requests[1], $bobs), qr/ERROR/, "bob's code is accepted");
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $requests[1]"), 'approved',
	'and his vote approves the request');

# Without an hourly budget, the daily one (6) still holds: alice's codes are
# evaluated again, two more wrong ones spend it.
$node->append_conf('postgresql.conf', "mpa.max_wrong_codes_per_hour = 0\n");
$node->reload;
$code = code_for('alice', $requests[2]);
like(verify('alice', $requests[2], wrong_code($code)), qr/ERROR:\s+MP005: wrong code; 2 tries left/,
	'with no hourly budget, a 5th wrong code is evaluated');
like(verify('alice', $requests[2], wrong_code($code)), qr/ERROR:\s+MP005: wrong code; 1 try left/,
	'and a 6th, which spends the daily budget');
like(verify('alice', $requests[2], $code), qr/ERROR:\s+MP005: too many wrong codes were entered in your name lately/,
	'then the right code is refused');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 2 FROM mpa.audit WHERE kind = 'guess budget spent'}, 20),
	'the second spending is recorded too');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
