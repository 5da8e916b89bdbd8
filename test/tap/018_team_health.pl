# Team health: approvers are unverified until their address confirmed a
# code; mpa.team_health shows who can still approve; mpa_team_baseline asks
# everyone to confirm now; a team that falls below its threshold is told.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('health', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN;
	SELECT mpa_team_create('ops', 2);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('ops', 'carol', 'carol@example.com');
});

sub health
{
	return $node->safe_psql('postgres',
		q{SELECT approvers, verified, active, quorum_reachable, confirmed_since_baseline, pending_requests
		    FROM mpa.team_health WHERE team = 'ops'});
}

sub confirm
{
	my ($role, %opt) = @_;
	my $m = MpaTest::wait_for_mail_matching($smtp, "$role\@example.com", qr/confirm your approver address/, %opt)
	  or die "no confirmation mail to $role";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/;
	MpaTest::safe_psql_as($node, $role, "SELECT mpa_confirm_email('ops', '$code')");
	return $m->{file};
}

is(health(), '3|0|0|f|0|0', 'new approvers are unverified: the quorum is not reachable');
my %first;
$first{$_} = confirm($_) for ('alice', 'bob');
is(health(), '3|2|2|t|0|0', 'two confirmed addresses reach the threshold of 2');
ok(MpaTest::poll_until($node, q{SELECT quorum_reachable FROM mpa.teams WHERE name = 'ops'}, 20),
	'the worker sees the team healthy');

is($node->safe_psql('postgres', q{SELECT mpa_team_baseline('ops')}), '3', 'a baseline asks all three');
is(health(), '3|2|2|t|0|0', 'nobody has confirmed since the baseline yet');
confirm('alice', except => [ $first{alice} ]);
is(health(), '3|2|2|t|1|0', 'alice confirms: one since the baseline');
my ($rc, $out, $err) = MpaTest::psql_as($node, 'dave', q{SELECT mpa_team_baseline('ops')});
like($err, qr/permission denied/, 'only administrators baseline a team');
($rc, $out, $err) = $node->psql('postgres', q{SELECT mpa_team_baseline(NULL)});
like($err, qr/team must not be NULL/, 'a NULL team is refused');
($rc, $out, $err) = $node->psql('postgres', q{SELECT mpa_team_baseline('nosuchteam')});
like($err, qr/team "nosuchteam" does not exist/, 'an unknown team is refused');

$node->safe_psql('postgres', q{CREATE TABLE t (id int); SELECT mpa_protect('DROP TABLE', 'public.t', 'ops');
	SELECT mpa_request('DROP TABLE t', 'cleanup')});
is(health(), '3|2|2|t|1|1', 'the pending request is counted');
like($node->safe_psql('postgres', q{SELECT oldest_pending_age < interval '1 minute' FROM mpa.team_health WHERE team = 'ops'}),
	qr/^t$/, 'with its age');

# bob's role can no longer log in (it cannot be dropped while it is an
# approver, test/tap/028): only one verified approver is left.
$node->safe_psql('postgres', q{ALTER ROLE bob NOLOGIN});
is(health(), '2|1|1|f|1|1', 'an approver whose role cannot log in no longer counts');
$node->safe_psql('postgres', q{SELECT mpa_mail_test('wake@example.com')});    # wakes the worker now
for my $member ('alice', 'carol')
{
	ok(MpaTest::wait_for_mail_matching($smtp, "$member\@example.com", qr/team "ops" can no longer reach its threshold/),
		"$member is told the team can no longer reach its threshold");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.audit WHERE kind = 'quorum lost'}), '1', 'once, audited');

done_testing();
