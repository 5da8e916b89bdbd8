# Once a team governs pg_mpa (a policy on MPA CONFIGURE), configuration
# changes are requests like any protected statement: refused when made
# directly, run once through mpa_execute after the team approved them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('governed', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE carol; CREATE ROLE dave;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
});

# Votes as $role with the code mailed to $address.
sub vote
{
	my ($request, $role, $address) = @_;
	$node->safe_psql('postgres',
		"SET SESSION AUTHORIZATION $role; SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::mailbox($smtp, 'code', '--to', $address, '--timeout', '20',
		'--subject-contains', "request #$request");
	like($code, qr/^\d{6}$/, "$role received a code");
	return $node->safe_psql('postgres',
		"SET SESSION AUTHORIZATION $role; SELECT mpa_verify($request, '$code')");
}

my $add_dave = q{SELECT mpa_approver_add('security', 'dave', 'dave@example.com')};
my ($rc, $out, $err) = $node->psql('postgres', $add_dave);
isnt($rc, 0, 'a direct configuration change is refused once a team governs');
like($err, qr/mpa_approver_add is a configuration change that requires the approval of team "security"/,
	'and says which team governs');
like($err, qr/HINT:.*mpa_request\('SELECT mpa_approver_add/, 'the hint shows the request to make');

($rc, $out, $err) = $node->psql('postgres', q{SELECT mpa_unprotect('MPA CONFIGURE', '*')});
isnt($rc, 0, 'governance cannot be switched off directly');

my $request = $node->safe_psql('postgres',
	"SELECT mpa_request(\$\$$add_dave\$\$, 'dave joins the security team')");
is($node->safe_psql('postgres', "SELECT operation || ' ' || object FROM mpa.requests WHERE id = $request"),
	'MPA CONFIGURE mpa_approver_add', 'the request names the configuration function');
vote($request, 'alice', 'alice@example.com');
like(vote($request, 'bob', 'bob@example.com'), qr/the request is approved/, 'two approvals approve it');

($rc, $out, $err) = $node->psql('postgres', $add_dave);
isnt($rc, 0, 'an approved configuration change still cannot be made directly');

($rc, $out, $err) = $node->psql('postgres', "BEGIN; SELECT mpa_execute($request); ROLLBACK;");
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"),
	'approved', 'a rolled-back execution leaves the approval unspent');

$node->safe_psql('postgres', "SELECT mpa_execute($request)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.approvers WHERE approver = 'dave'::regrole}),
	'1', 'mpa_execute made the approved change');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"),
	'executed', 'and spent the request');

($rc, $out, $err) = $node->psql('postgres', "SELECT mpa_execute($request)");
isnt($rc, 0, 'an approved change runs once');

# A superuser cannot call the runner for a request that is not approved:
# neither the internal runner directly (pg_mpa's SQLSTATE MP010: internal
# functions run only below pg_mpa's public ones), nor through mpa_execute.
my $other = $node->safe_psql('postgres',
	q{SELECT mpa_request($$SELECT mpa_team_set_threshold('security', 1)$$, 'fewer approvals')});
($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT mpa.execute_configuration($other)");
like($err, qr/ERROR:  MP010: .*is internal to pg_mpa/, 'the internal runner cannot be called directly');
($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT mpa_execute($other)");
like($err, qr/ERROR:  MP004: request \d+ is pending, not approved/, 'pending requests cannot be run');
is($node->safe_psql('postgres', q{SELECT threshold FROM mpa.teams WHERE name = 'security'}),
	'2', 'and nothing changed');

done_testing();
