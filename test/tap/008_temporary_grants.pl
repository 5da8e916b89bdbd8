# Temporary grants: an approved GRANT (of a role, or of privileges on a
# table) holds for the approved duration and is then revoked by the worker,
# with mail to the team before and at the end; on time across a restart; a
# grant revoked by hand or whose grantee was dropped is recorded, not an
# error; REVOKE is never gated; bad durations are refused.
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
	CREATE TABLE cards (number text);
	SELECT mpa_protect('GRANT', 'public.cards', 'ops');
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

# The temporary grant mail of $kind ('ends at', 'ended') for request
# $request that each approver of the team received: the body, or undef.
# (The requester, postgres, is no approver: pg_mpa has no address for it.)
sub grant_mail
{
	my ($kind, $request, $approver) = @_;
	my $m = MpaTest::wait_for_mail_matching($smtp, "$approver\@example.com",
		qr/^\[pg_mpa\] temporary grant #$request \Q$kind\E\b/);
	return $m ? "$m->{subject}\n$m->{body}" : undef;
}

sub is_member
{
	my ($role) = @_;
	return $node->safe_psql('postgres', "SELECT pg_has_role('$role', 'pii_reader', 'MEMBER')");
}

# Bad input first: nothing may be recorded.
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests');
for my $case (
	[ q{'GRANT pii_reader TO eng', 'x', NULL::interval},     '22004: valid_for must not be NULL' ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '0 seconds'}, '22023: valid_for must be positive, not 00:00:00' ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '-1 hour'},   '22023: valid_for must be positive, not -01:00:00' ],
	[ q{'GRANT pii_reader TO eng', 'x', interval '31 days'},   '22023: valid_for is at most 30 days, not 31 days' ],
	[ q{'DROP ROLE eng', 'x', interval '1 hour'},
		'22023: only a GRANT of roles or of table privileges can be temporary, not DROP ROLE' ])
{
	my ($args, $error) = @$case;
	is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_request($args)") ], [ 3, $error ],
		"refused: $args");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests'), $before, 'bad input recorded nothing');

is_deeply([ MpaTest::refusal_as($node, 'postgres', 'GRANT pii_reader TO eng') ],
	[ 3, 'MP001: GRANT ROLE on pii_reader requires the approval of team "ops"' ], 'an unapproved GRANT is refused');

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
# mpa.grant_warning (2 s) before the end, each approver is mailed when it
# ends and what pg_mpa will then run; the grant is still in force then.
my $ends_at = $node->safe_psql('postgres',
	"SELECT to_char(ends_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM mpa.temporary_grants WHERE request_id = $request");
for my $approver ('alice', 'bob')
{
	like(grant_mail('ends at', $request, $approver),
		qr/^\[pg_mpa\] temporary grant #$request ends at \Q$ends_at\E UTC\n.*pg_mpa will then run:\n\n  REVOKE pii_reader FROM eng\n/s,
		"the warning to $approver says when it ends and the REVOKE to come");
}
is($node->safe_psql('postgres', "SELECT warned_at < ends_at FROM mpa.temporary_grants WHERE request_id = $request"),
	't', 'the warning came before the end');
ok(MpaTest::poll_until($node, "SELECT NOT pg_has_role('eng', 'pii_reader', 'MEMBER')", 15),
	'the worker revokes it when it ends');
is($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	'revoked', 'and records the revocation');
for my $approver ('alice', 'bob')
{
	like(grant_mail('ended', $request, $approver),
		qr/^\[pg_mpa\] temporary grant #$request ended\n.*ended: revoked\n\n  REVOKE pii_reader FROM eng\n/s,
		"the end mail to $approver says it was revoked, and by what");
}

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

# The grantee is dropped meanwhile: the REVOKE fails, and the outcome (and
# the end mail) says why, naming the role.
$request = approved_grant('GRANT pii_reader TO temp_eng', '3 seconds');
$node->safe_psql('postgres', 'GRANT pii_reader TO temp_eng');
$node->safe_psql('postgres', 'DROP ROLE temp_eng');
ok(MpaTest::poll_until($node, "SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 15),
	'a grant whose role was dropped is closed');
is($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	'not revoked: role "temp_eng" does not exist', 'and the outcome names the dropped role');
like(grant_mail('ended', $request, 'alice'),
	qr/ended: not revoked: role "temp_eng" does not exist\n\n  REVOKE pii_reader FROM temp_eng\n/,
	'so does the end mail');

# A temporary grant of privileges on a table: the worker revokes exactly
# those privileges, on that table, from that grantee.
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'GRANT SELECT, UPDATE ON cards TO eng') ],
	[ 3, 'MP001: GRANT on public.cards requires the approval of team "ops"' ], 'an unapproved table GRANT is refused');
$request = approved_grant('GRANT SELECT, UPDATE ON cards TO eng', '3 seconds');
my $privileges = q{SELECT has_table_privilege('eng', 'public.cards', 'SELECT')
	|| ' ' || has_table_privilege('eng', 'public.cards', 'UPDATE')};
is($node->safe_psql('postgres', $privileges), 'false false', 'no table access before the approved GRANT runs');
$node->safe_psql('postgres', 'GRANT SELECT, UPDATE ON cards TO eng');
is($node->safe_psql('postgres', $privileges), 'true true', 'the approved table GRANT runs and gives access');
ok(MpaTest::poll_until($node, "SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 15),
	'the worker ends the table grant');
is($node->safe_psql('postgres', $privileges), 'false false', 'the table privileges are gone');
is($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	'revoked', 'and the revocation is recorded');
like(grant_mail('ended', $request, 'bob'),
	qr/ended: revoked\n\n  REVOKE select, update ON TABLE public\.cards FROM eng\n/,
	'the end mail shows the REVOKE of the table privileges');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.active_grants'), '0', 'no grant is left active');

done_testing();
