# Application-defined approvals, from a real client over libpq
# (test/client/action_client.py): the application requests an action,
# LISTENs on mpa_events, sees the approval arrive after two approvers voted
# with the codes from their mail, claims the action exactly once (a rolled
# back claim leaves it unclaimed), and a second claim fails. Bad input to
# the action functions is refused and changes nothing.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('actions', $smtp);
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN; CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	SELECT mpa_team_create('finance', 2);
	SELECT mpa_approver_add('finance', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('finance', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('finance', 'carol', 'carol@example.com');
});

sub refused
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = MpaTest::psql_as($node, $role, $sql, on_error_stop => 1);
	return $rc != 0 ? $err : '';
}

# Bad input: a clear error, nothing changed.
my %bad = (
	q{SELECT mpa_request_action(NULL, 'refund', '{}', 'why')}                     => qr/team must not be NULL/,
	q{SELECT mpa_request_action('finance', NULL, '{}', 'why')}                    => qr/action must not be NULL/,
	q{SELECT mpa_request_action('finance', 'refund', NULL, 'why')}                => qr/payload must not be NULL/,
	q{SELECT mpa_request_action('finance', 'refund', '{}', NULL)}                 => qr/justification must not be NULL/,
	q{SELECT mpa_request_action('finance', 'refund', '{}', '   ')}                => qr/justification must say why/,
	q|SELECT mpa_request_action('finance', 'refund', '{"a": ', 'why')|            => qr/invalid input syntax for type json/,
	q{SELECT mpa_request_action('finance', E'refund\r\nBcc: x@evil.example', '{}', 'why')} => qr/invalid action name/,
	q{SELECT mpa_request_action('nosuchteam', 'refund', '{}', 'why')}             => qr/team "nosuchteam" does not exist/,
	q{SELECT mpa_request_action('finance', 'refund', jsonb_build_object('blob', repeat('x', 70000)), 'why')}
	  => qr/payload is too large: \d+ bytes as JSON text, at most 65536/,
	q{SELECT mpa_consume(NULL)}                                                   => qr/request_id must not be NULL/,
	q{SELECT mpa_consume(424242)}                                                 => qr/request 424242 does not exist/,
);
for my $sql (sort keys %bad)
{
	like(refused('app', $sql), $bad{$sql}, "refused: $sql");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests'), '0', 'no request was made by bad input');

# The application's run.
my $client = ($ENV{MPA_TESTS} // '.') . '/test/client/action_client.py';
my $dsn = sprintf('host=%s port=%d dbname=postgres user=app', $node->host, $node->port);
my ($stdout, $stderr) = ('', '');
my $timer = IPC::Run::timer(90);
my $run = IPC::Run::start([ '/usr/bin/python3', $client, '--dsn', $dsn, '--timeout', '60' ],
	'>', \$stdout, '2>', \$stderr, $timer);
$run->pump until $stdout =~ /^requested (\d+)$/m || $timer->is_expired;
my ($request) = $stdout =~ /^requested (\d+)$/m or die "the client did not request: $stdout $stderr";

like($node->safe_psql('postgres', "SELECT kind || ' ' || operation || ' ' || object || ' ' || state FROM mpa.requests WHERE id = $request"),
	qr/^action ACTION refund pending$/, 'the request is an action, pending');
like(refused('app', "SELECT mpa_execute($request)"), qr/is an application action, not a statement/,
	'an action is not run with mpa_execute');
my $request_mail = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/approval requested: ACTION on refund/)
  or die 'no request mail';
like($request_mail->{body}, qr/Payload:\s+\{"order": 42, "amount_cents": 500000\}/s, 'the approvers see the payload');

for my $voter ('alice', 'bob')
{
	MpaTest::safe_psql_as($node, $voter, "SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::code_from_mail($smtp, "$voter\@example.com", $request);
	MpaTest::safe_psql_as($node, $voter, "SELECT mpa_verify($request, '$code')");
}
$run->finish;
note($stdout);
is($?, 0, 'the client ran to its end') or diag($stderr);

like($stdout, qr/^early consume refused: ERROR:  request $request is pending, not approved$/m,
	'claiming before the approval fails');
like($stdout, qr/^event \{"kind": "action", "request_id": $request, "state": "approved"\}$/m,
	'the client was told of the approval by NOTIFY mpa_events');
like($stdout, qr/^rolled back consume returned \{"amount_cents": 500000, "order": 42\}$/m,
	'a claim in a transaction that rolls back returns the payload');
like($stdout, qr/^consumed \{"amount_cents": 500000, "order": 42\}$/m, 'the next claim still gets it');
like($stdout, qr/^second consume refused: MP004 ERROR:  request $request was already consumed/m,
	'a second claim fails');
like($stdout, qr/^event \{"kind": "action", "request_id": $request, "state": "executed"\}$/m,
	'and the consumption is announced');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'executed', 'the request is consumed');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.audit WHERE kind = 'consumed' AND request_id = $request"),
	'1', 'the consumption is audited once');
like(refused('alice', "SELECT mpa_consume($request)"), qr/only the requester \(app\) may consume/,
	'only the requester claims');

# A statement request is not consumed.
$node->safe_psql('postgres', q{CREATE TABLE t (id int); SELECT mpa_protect('DROP TABLE', 'public.t', 'finance')});
my $statement = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE t', 'cleanup')});
like(refused('postgres', "SELECT mpa_consume($statement)"), qr/is a statement, not an application action/,
	'a statement request cannot be consumed');

done_testing();
