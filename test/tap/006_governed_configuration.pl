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

# Every refusal below is pg_mpa's (SQLSTATE MP001: the change needs the
# governing team; MP004: the request is not in a state to run), compared
# with psql's exit code and the whole message, so that a refusal for any
# other reason cannot pass.
my $add_dave = q{SELECT mpa_approver_add('security', 'dave', 'dave@example.com')};
my $refused_add = 'MP001: mpa_approver_add is a configuration change that requires the approval of team "security"';
sub dave_is_approver
{
	return $node->safe_psql('postgres', q{SELECT count(*) FROM mpa.approvers WHERE approver = 'dave'::regrole});
}

my ($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', $add_dave, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is($rc, 3, 'a direct configuration change is refused once a team governs');
like($err, qr/ERROR:  \Q$refused_add\E$/m, 'with MP001, naming the team that governs');
like($err, qr/HINT:  Ask for approval with: SELECT mpa_request\('SELECT mpa_approver_add\(''security'', ''dave'', ''dave\@example\.com''\)'/,
	'the hint shows the request to make');
is(dave_is_approver(), '0', 'and nothing changed');

is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_unprotect('MPA CONFIGURE', '*')}) ],
	[ 3, 'MP001: mpa_unprotect is a configuration change that requires the approval of team "security"' ],
	'governance cannot be switched off directly');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies WHERE operation = 'MPA CONFIGURE'}), '1',
	'the governing policy stays');

my $request = $node->safe_psql('postgres',
	"SELECT mpa_request(\$\$$add_dave\$\$, 'dave joins the security team')");
is($node->safe_psql('postgres', "SELECT operation || ' ' || object FROM mpa.requests WHERE id = $request"),
	'MPA CONFIGURE mpa_approver_add', 'the request names the configuration function');
vote($request, 'alice', 'alice@example.com');
like(vote($request, 'bob', 'bob@example.com'), qr/the request is approved/, 'two approvals approve it');

# The approval is for mpa_execute, which runs the stored call: typing the
# call again is refused as before.
is_deeply([ MpaTest::refusal_as($node, 'postgres', $add_dave) ], [ 3, $refused_add ],
	'an approved configuration change still cannot be made directly');
is(dave_is_approver(), '0', 'and made nothing');

# The approval is spent in mpa_execute's transaction: rolled back, the
# change and the spending go together. (The change is looked at inside the
# transaction, so that a failed mpa_execute cannot pass for a rolled-back one.)
($rc, $out, $err) = $node->psql('postgres', "BEGIN; SELECT mpa_execute($request);"
	  . q{ SELECT count(*) FROM mpa.approvers WHERE approver = 'dave'::regrole;}
	  . " SELECT state FROM mpa.requests WHERE id = $request; ROLLBACK;");
is($rc, 0, 'mpa_execute ran in a transaction that was then rolled back') or diag($err);
like($out, qr/^1\nexecuted$/m, 'inside it, the change was made and the request spent');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"),
	'approved', 'a rolled-back execution leaves the approval unspent');
is(dave_is_approver(), '0', 'and the change undone');

$node->safe_psql('postgres', "SELECT mpa_execute($request)");
is(dave_is_approver(), '1', 'mpa_execute made the approved change');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"),
	'executed', 'and spent the request');

is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_execute($request)") ],
	[ 3, "MP004: request $request is executed, not approved" ], 'an approved change runs once');

# A superuser cannot call the runner for a request that is not approved:
# neither the internal runner directly (pg_mpa's SQLSTATE MP010: internal
# functions run only below pg_mpa's public ones), nor through mpa_execute.
my $other = $node->safe_psql('postgres',
	q{SELECT mpa_request($$SELECT mpa_team_set_threshold('security', 1)$$, 'fewer approvals')});
($rc, my $error) = MpaTest::refusal_as($node, 'postgres', "SELECT mpa.execute_configuration($other)");
is($rc, 3, 'the internal runner cannot be called directly');
like($error, qr/^MP010: .*is internal to pg_mpa/, '... refused as internal to pg_mpa (MP010)');
is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_execute($other)") ],
	[ 3, "MP004: request $other is pending, not approved" ], 'pending requests cannot be run');
is($node->safe_psql('postgres', q{SELECT threshold FROM mpa.teams WHERE name = 'security'}),
	'2', 'and nothing changed');

done_testing();
