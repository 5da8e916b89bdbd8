# Temporary grants: an approved GRANT holds for the approved duration and is
# then revoked by the worker, with mail before and at the end; on time
# across a restart; a grant revoked by hand or whose grantee was dropped is
# recorded, not an error; REVOKE is never gated; bad durations are refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('grants', $smtp, "mpa.resend_cooldown = 0\nmpa.grant_warning = 2s\n");
$node->safe_psql('postgres', q{
	CREATE ROLE pii_reader; CREATE ROLE eng LOGIN; CREATE ROLE temp_eng LOGIN;
	CREATE ROLE alice; CREATE ROLE bob;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_protect('GRANT ROLE', 'pii_reader', 'ops');
});

# Requests a temporary grant and has alice approve it; returns the request id.
sub approved_grant
{
	my ($statement, $valid_for) = @_;
	my $request = $node->safe_psql('postgres',
		"SELECT mpa_request('$statement', 'incident INC-42', interval '$valid_for')");
	$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.com', '--timeout', '20',
		'--subject-contains', "request #$request");
	$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
	return $request;
}

sub is_member
{
	my ($role) = @_;
	return $node->safe_psql('postgres', "SELECT pg_has_role('$role', 'pii_reader', 'MEMBER')");
}

# Bad input first: nothing may be recorded.
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests');
for my $case (
	[ q{'GRANT pii_reader TO eng', 'x', NULL::interval}, qr/valid_for must not be NULL/ ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '0 seconds'}, qr/valid_for must be positive/ ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '-1 hour'}, qr/valid_for must be positive/ ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '31 days'}, qr/valid_for is at most 30 days/ ],
	[ q{'DROP ROLE eng', 'x', interval '1 hour'}, qr/only a GRANT of roles or of table privileges can be temporary/ ])
{
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT mpa_request($case->[0])");
	like($err, $case->[1], "refused: $case->[0]");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests'), $before, 'bad input recorded nothing');

my ($rc, $out, $err) = $node->psql('postgres', 'GRANT pii_reader TO eng');
like($err, qr/GRANT ROLE on pii_reader requires the approval of team "ops"/, 'an unapproved GRANT is refused');

# The duration is part of what approvers see.
my $request = approved_grant('GRANT pii_reader TO eng', '5 seconds');
my $mail = MpaTest::mailbox($smtp, 'show', '--last', '--to', 'bob@example.com');
like($mail, qr/Duration:\s+00:00:05 after it runs; then pg_mpa runs: REVOKE pii_reader FROM eng/,
	'the request mail states the duration and the REVOKE');

is(is_member('eng'), 'f', 'no access before the approved GRANT runs');
$node->safe_psql('postgres', 'GRANT pii_reader TO eng');
is(is_member('eng'), 't', 'the approved GRANT runs and gives access');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.active_grants WHERE request_id = $request"),
	'1', 'mpa.active_grants lists it');
ok(MpaTest::poll_until($node, "SELECT warned_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 10),
	'people are told before it ends');
ok(MpaTest::poll_until($node, "SELECT NOT pg_has_role('eng', 'pii_reader', 'MEMBER')", 15),
	'the worker revokes it when it ends');
is($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	'revoked', 'and records the revocation');
like(MpaTest::mailbox($smtp, 'list'), qr/temporary grant #$request ended/, 'with mail');

# Across a restart that spans the deadline.
$request = approved_grant('GRANT pii_reader TO eng', '3 seconds');
$node->safe_psql('postgres', 'GRANT pii_reader TO eng');
$node->stop('fast');
sleep 4;
$node->start;
ok(MpaTest::poll_until($node, "SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 15),
	'a deadline that passed while the server was down is honoured after the restart');
is(is_member('eng'), 'f', 'access is gone');

# Revoked early by hand: REVOKE is never gated, and the worker does not mind.
$request = approved_grant('GRANT pii_reader TO eng', '3 seconds');
$node->safe_psql('postgres', 'GRANT pii_reader TO eng');
$node->safe_psql('postgres', 'REVOKE pii_reader FROM eng');
is(is_member('eng'), 'f', 'revoking early is always allowed');
ok(MpaTest::poll_until($node, "SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 15),
	'a grant already revoked by hand is closed without error');

# The grantee is dropped meanwhile.
$request = approved_grant('GRANT pii_reader TO temp_eng', '3 seconds');
$node->safe_psql('postgres', 'GRANT pii_reader TO temp_eng');
$node->safe_psql('postgres', 'DROP ROLE temp_eng');
ok(MpaTest::poll_until($node, "SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 15),
	'a grant whose role was dropped is closed');
like($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	qr/does not exist|revoked/, 'and says what happened');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.active_grants'), '0', 'no grant is left active');

done_testing();
