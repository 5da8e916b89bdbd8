# An approver is their mailbox. Enrolment mails a code that confirms the
# address; an address changes only through an approved request and takes
# effect only once the new address confirmed a code, while the old address
# is told. A superuser who resets the approver's password, SET ROLEs or
# SET SESSION AUTHORIZATIONs to them, or grants the role to themselves
# still cannot confirm or vote without the approver's mail.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('identity', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE mallory LOGIN CREATEROLE;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
});

sub confirmation_code
{
	my ($address, %opt) = @_;
	my $m = MpaTest::wait_for_mail_matching($smtp, $address, qr/confirm your approver address for team "security"/, %opt)
	  or die "no confirmation mail to $address";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/ or die "no code in $m->{path}";
	return wantarray ? ($code, $m->{file}) : $code;
}

sub verified
{
	my ($role) = @_;
	return $node->safe_psql('postgres',
		"SELECT verified_at IS NOT NULL FROM mpa.approvers WHERE team = 'security' AND approver = '$role'::regrole");
}

sub as_role
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = MpaTest::psql_as($node, $role, $sql);
	return $rc == 0 ? $out : "ERROR: $err";
}

# A refusal as [psql's exit code, "SQLSTATE: message"]: each refusal below
# is compared whole, so that one for another reason cannot pass for it.
sub refused_as { return [ MpaTest::refusal_as($node, @_) ] }

# A six-digit code other than $code: a guess that is certainly wrong.
sub other_code { my ($code) = @_; return sprintf('%06d', ($code + 1) % 1000000) }

# Enrolment.
is(verified('alice'), 'f', 'a new approver is unverified');
my ($alice_code) = confirmation_code('alice@example.com');
my ($bob_code) = confirmation_code('bob@example.com');
is_deeply(refused_as('alice', "SELECT mpa_confirm_email('security', '@{[ other_code($alice_code) ]}')"),
	[ 3, 'MP005: wrong code; 2 tries left for this code' ], 'a wrong code does not confirm');
is(verified('alice'), 'f', 'still unverified');
# (Should the two mailed codes be equal, one chance in a million, this
# check fails: bob's own code would confirm him.)
is_deeply(refused_as('bob', "SELECT mpa_confirm_email('security', '$alice_code')"),
	[ 3, 'MP005: wrong code; 2 tries left for this code' ], "alice's code does not confirm bob");
like(as_role('alice', "SELECT mpa_confirm_email('security', '$alice_code')"), qr/is confirmed/,
	'alice confirms with the code from her mail');
is(verified('alice'), 't', 'alice is verified');
is_deeply(refused_as('alice', "SELECT mpa_confirm_email('security', '$alice_code')"),
	[ 3, 'MP005: no confirmation code is waiting for you in team "security"' ], 'a code confirms once');
for my $case (
	[ q{mpa_confirm_email(NULL, '123456')},       '22004: team must not be NULL' ],
	[ q{mpa_confirm_email('security', NULL)},     '22004: code must not be NULL' ],
	[ q{mpa_confirm_email('nosuchteam', '123456')}, 'MP003: role carol is not an approver of team "nosuchteam"' ],
	[ q{mpa_confirm_email('security', 'abc')},    '22023: a code is six digits (0-9)' ])
{
	my ($call, $error) = @$case;
	is_deeply(refused_as('carol', "SELECT $call"), [ 3, $error ], "refused: $call");
}
is(verified('carol'), 'f', 'carol is still unverified');

# A superuser cannot confirm in bob's name without bob's mail: identity is
# the session role, so SET ROLE leaves them themselves (not an approver),
# and SET SESSION AUTHORIZATION makes them bob but without his code.
is_deeply(refused_as('postgres', "SET ROLE bob; SELECT mpa_confirm_email('security', '$bob_code')"),
	[ 3, 'MP003: role postgres is not an approver of team "security"' ],
	"SET ROLE bob: refused, even with bob's code");
is_deeply(
	refused_as('postgres',
		"SET SESSION AUTHORIZATION bob; SELECT mpa_confirm_email('security', '@{[ other_code($bob_code) ]}')"),
	[ 3, 'MP005: wrong code; 1 try left for this code' ], 'SET SESSION AUTHORIZATION bob and guessing: refused');
$node->safe_psql('postgres', q{ALTER ROLE bob PASSWORD 'reset-by-dba'; GRANT bob TO mallory});
is_deeply(refused_as('mallory', "SET ROLE bob; SELECT mpa_confirm_email('security', '$bob_code')"),
	[ 3, 'MP003: role mallory is not an approver of team "security"' ],
	'a DBA who granted bob to themselves is still not bob (session role)');
is(verified('bob'), 'f', 'bob is still unverified');

# A vote confirmed with a mailed code proves the address too.
$node->safe_psql('postgres', q{CREATE TABLE audit_log (id int); SELECT mpa_protect('DROP TABLE', 'public.audit_log', 'security')});
my $request = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE audit_log', 'retention ended')});
as_role('bob', "SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::code_from_mail($smtp, 'bob@example.com', $request);
like(as_role('bob', "SELECT mpa_verify($request, '$code')"), qr/vote recorded/, 'bob votes');
is(verified('bob'), 't', 'and his address is now verified');

# Changing carol's address: governed, so it needs a request.
$node->safe_psql('postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'security')});
is_deeply(refused_as('postgres', q{SELECT mpa_approver_set_email('security', 'carol', 'mallory@evil.example')}),
	[ 3, 'MP001: mpa_approver_set_email is a configuration change that requires the approval of team "security"' ],
	'a superuser cannot just change an address');
is($node->safe_psql('postgres', q{SELECT email FROM mpa.approvers WHERE approver = 'carol'::regrole}),
	'carol@example.com', 'the address is unchanged');
# A configuration request is rehearsed when made: one that could not run
# is refused with the reason the call itself would give, before any vote.
my $requests = $node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests');
for my $case (
	[ q{'security', 'carol', NULL}, '22004: email must not be NULL' ],
	[ q{'security', 'carol', E'x@y.example\r\nBcc: z@evil.example'},
		'22023: invalid e-mail address: must not contain line breaks or NUL' ],
	[ q{'security', 'carol', 'not-an-address'}, '22023: invalid e-mail address: must contain an "@"' ],
	[ q{'security', 'nobody_here', 'x@y.example'}, '42704: role "nobody_here" does not exist' ],
	[ q{'nosuchteam', 'carol', 'x@y.example'}, '22023: team "nosuchteam" does not exist' ])
{
	my ($args, $error) = @$case;
	is_deeply(refused_as('postgres', "SELECT mpa_request(\$\$SELECT mpa_approver_set_email($args)\$\$, 'x')"),
		[ 3, $error ], "a request with bad arguments is refused: $args");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM mpa.requests'), $requests, 'and none was recorded');

my $change = $node->safe_psql('postgres',
	q{SELECT mpa_request($$SELECT mpa_approver_set_email('security', 'carol', 'carol@new.example')$$, 'carol moved')});
for my $voter ('alice', 'bob')
{
	as_role($voter, "SELECT mpa_vote($change, 'approve')");
	my $c = MpaTest::code_from_mail($smtp, "$voter\@example.com", $change);
	like(as_role($voter, "SELECT mpa_verify($change, '$c')"), qr/vote recorded/, "$voter approves the change");
}
$node->safe_psql('postgres', "SELECT mpa_execute($change)");
ok(MpaTest::wait_for_mail_matching($smtp, 'carol@example.com', qr/your approver address for team "security" is being changed/),
	'the old address is told at once');
my ($new_code) = confirmation_code('carol@new.example');
is($node->safe_psql('postgres', q{SELECT email FROM mpa.approvers WHERE approver = 'carol'::regrole}),
	'carol@example.com', 'until the new address confirms, the old one stays');

as_role('carol', "SELECT mpa_vote($request, 'reject')");
ok(MpaTest::code_from_mail($smtp, 'carol@example.com', $request),
	'meanwhile her vote codes still go to the confirmed old address');
like(as_role('carol', "SELECT mpa_confirm_email('security', '$new_code')"), qr/is now c\*\*\*\@n\S*\.example/,
	'carol confirms the new address with its code');
is($node->safe_psql('postgres', q{SELECT email FROM mpa.approvers WHERE approver = 'carol'::regrole}),
	'carol@new.example', 'the new address takes over');
ok(MpaTest::wait_for_mail_matching($smtp, 'carol@example.com', qr/your approver address for team "security" was changed/),
	'the old address is told again when the change takes effect');
is(verified('carol'), 't', 'carol is verified at her new address');

# The outbox never holds a code.
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.outbox WHERE body ~ 'code: [0-9]{6}'}), '0',
	'no code is stored in the outbox');

done_testing();
