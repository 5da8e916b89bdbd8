# Approval by several teams (#22, slice 2; docs/decisions.md "Several
# teams"): a policy names teams dba and security, each of which must reach
# its own threshold. An approver in both counts for one of them unless the
# policy shares votes; a request is rejected as soon as no assignment of
# the voters who may still approve can satisfy every team; the mails,
# mpa.pending and the gate's refusal show every team; a request keeps the
# teams it was made with.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('teams', $smtp);
# dba (threshold 2): alice, ann, carol; security (threshold 1): bob, carol.
# carol is in both; dev asks.
$node->safe_psql('postgres', q{
	CREATE SCHEMA prod; CREATE SCHEMA shared; CREATE SCHEMA old;
	CREATE TABLE prod.a (id int); CREATE TABLE prod.b (id int); CREATE TABLE shared.a (id int);
	CREATE TABLE old.a (id int);
	CREATE ROLE alice LOGIN; CREATE ROLE ann LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	CREATE ROLE dev LOGIN;
	GRANT ALL ON SCHEMA prod, shared, old TO dev; ALTER TABLE prod.a OWNER TO dev;
	ALTER TABLE prod.b OWNER TO dev; ALTER TABLE shared.a OWNER TO dev; ALTER TABLE old.a OWNER TO dev;
	SELECT mpa_team_create('dba', 2), mpa_team_create('security', 1), mpa_team_create('empty', 1);
	SELECT mpa_approver_add('dba', r::regrole, r || '@example.com') FROM unnest(ARRAY['alice', 'ann', 'carol']) r;
	SELECT mpa_approver_add('security', r::regrole, r || '@example.com') FROM unnest(ARRAY['bob', 'carol']) r;
});

sub query { return $node->safe_psql('postgres', $_[0]); }

# dev asks (the requester is the session's role).
sub request { return MpaTest::safe_psql_as($node, 'dev', "SELECT mpa_request('$_[0]', '$_[1]')"); }

sub state_of { return query("SELECT state FROM mpa.requests WHERE id = $_[0]"); }

# Each refused call changes nothing (no policy appears below) and is refused
# with 22023 before any authorisation.
for my $case (
	[ q{team => 'dba', teams => ARRAY['dba', 'security']}, 'give team or teams, not both', 'team and teams' ],
	[ q{teams => ARRAY[]::text[]}, 'teams must list at least one team', 'an empty list' ],
	[ q{teams => ARRAY['dba', NULL]}, 'teams must not hold NULL', 'a NULL team' ],
	[ q{teams => ARRAY['dba', 'dba']}, 'teams names a team twice', 'a team twice' ],
	[ q{teams => ARRAY['dba', 'nobody']}, 'team "nobody" does not exist', 'an unknown team' ],
	[ q{teams => ARRAY['a','b','c','d','e','f','g','h','i']}, 'a policy names at most 8 teams, not 9', 'nine teams' ])
{
	my ($arguments, $message, $name) = @$case;
	is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_protect('DROP TABLE', 'prod.*', $arguments)") ],
		[ 3, "22023: $message" ], "mpa_protect refuses $name");
}
is_deeply([ MpaTest::refusal_as($node, 'postgres',
	q{SELECT mpa_protect('MPA CONFIGURE', '*', teams => ARRAY['dba', 'security'])}) ],
	[ 3, '22023: MPA CONFIGURE is approved by one team' ], 'pg_mpa itself is governed by one team (for now)');
# A team without enough approvers cannot be one of a policy's teams either.
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_protect('DROP TABLE', 'prod.*', teams => ARRAY['dba', 'empty'])}) ],
	[ 3, 'MP004: team "empty" has fewer approvers than its threshold of 1' ], 'every team must be able to approve');
is(query('SELECT (SELECT count(*) FROM mpa.policies) + (SELECT count(*) FROM mpa.policy_teams)'), '0',
	'the refused calls left no policy');

query(q{SELECT mpa_protect('DROP TABLE', 'prod.*', teams => ARRAY['dba', 'security']);
	SELECT mpa_protect('DROP TABLE', 'shared.*', teams => ARRAY['dba', 'security'], shared_votes => true);
	SELECT mpa_protect('DROP TABLE', 'old.*', 'dba')});
is(query(q{SELECT string_agg(p.object || ' ' || p.team || ' ' || p.shared_votes || ' ' || coalesce(
		(SELECT string_agg(pt.team, '+' ORDER BY pt.team) FROM mpa.policy_teams pt WHERE pt.policy_id = p.id), '-'),
		', ' ORDER BY p.id) FROM mpa.policies p}),
	'prod.* dba false dba+security, shared.* dba true dba+security, old.* dba false -',
	'the first team is the policy\'s team; mpa.policy_teams lists all of a policy of several');

# The gate names both teams, and what to request.
my ($rc, $error, $hint) = MpaTest::refusal_and_hint_as($node, 'dev', 'DROP TABLE prod.a');
is($error, 'MP001: DROP TABLE on prod.a requires the approval of teams "dba" and "security"',
	'the gate refuses naming both teams');
is($hint, q{Ask for approval with: SELECT mpa_request('DROP TABLE prod.a', 'why this is needed');},
	'and says what to request');

my $old = request('DROP TABLE old.a', 'cleanup');
my $r1 = request('DROP TABLE prod.a', 'cleanup');
is(query("SELECT string_agg(team || ' ' || threshold, ', ' ORDER BY team) FROM mpa.request_teams WHERE request_id = $r1"),
	'dba 2, security 1', 'the request records both teams with their thresholds');

# Every approver of either team is asked, once, and the mail shows each team.
for my $role (qw(alice ann bob carol))
{
	my $m = MpaTest::wait_for_mail_matching($smtp, "$role\@example.com", qr/approval requested: .*\(#$r1\)$/);
	ok($m && $m->{body} =~ /^Teams: +dba \(2 approvals needed\), security \(1 approval needed\), each vote counting for one team$/m,
		"$role is asked, the mail naming both teams");
}
is(scalar(grep { $_->{subject} =~ /\(#$r1\)$/ } MpaTest::mail_matching($smtp, 'carol@example.com', qr/approval requested/)),
	1, 'carol, in both teams, gets one mail');

# bob is only in security: he may vote (voters of any of the request's
# teams); dev is in none.
is_deeply([ MpaTest::refusal_as($node, 'dev', "SELECT mpa_vote($r1, 'approve')") ],
	[ 3, 'MP003: you cannot vote on your own request' ], 'the requester may not vote');

# carol (both teams) and alice (dba) approve: with votes counted once,
# carol covers dba or security, not both: still pending.
MpaTest::approve($node, $smtp, $r1, 'carol');
like(MpaTest::approve($node, $smtp, $r1, 'alice'), qr/\(2 of 2 from dba, 0 of 1 from security\); the request is pending/,
	'alice\'s vote is told the per-team tally');
is(state_of($r1), 'pending', 'a person in both teams counts for one of them: still pending');
# mpa.pending shows bob the tally per team.
is(MpaTest::safe_psql_as($node, 'bob', "SELECT tally FROM mpa.pending WHERE id = $r1"),
	'[{"team": "dba", "votes": 2, "threshold": 2}, {"team": "security", "votes": 0, "threshold": 1}]',
	'mpa.pending shows the tally per team');
# mpa.team_health counts the waiting request for each of its teams, not
# only the first: security, the second, has this one waiting.
is(MpaTest::safe_psql_as($node, 'bob', "SELECT pending_requests FROM mpa.team_health WHERE team = 'security'"),
	'1', 'mpa.team_health counts it for its second team too');
like(MpaTest::approve($node, $smtp, $r1, 'bob'), qr/\(2 of 2 from dba, 1 of 1 from security\); the request is approved/,
	'bob completes security: approved');
my $decided = MpaTest::wait_for_mail_matching($smtp, 'ann@example.com', qr/request #$r1 approved/);
ok($decided && $decided->{body} =~ /^Request #$r1 is now approved: 2 of 2 from dba, 1 of 1 from security\./m,
	'the decision mail gives the per-team line');
is(query("SELECT count(*) FROM mpa.audit WHERE request_id = $r1 AND kind = 'approved'"), '1', 'approved once');
($rc) = MpaTest::psql_as($node, 'dev', 'DROP TABLE prod.a');
is($rc, 0, 'the approved statement runs');

# shared_votes: carol's vote counts for both teams.
my $r2 = request('DROP TABLE shared.a', 'cleanup');
is(query("SELECT shared_votes FROM mpa.requests WHERE id = $r2"), 't', 'the request keeps shared_votes');
MpaTest::approve($node, $smtp, $r2, 'carol');
like(MpaTest::approve($node, $smtp, $r2, 'alice'), qr/\(2 of 2 from dba, 1 of 1 from security\); the request is approved/,
	'with shared votes, carol and alice approve it');

# Early rejection: bob rejects, and security can still be covered by carol;
# then ann rejects, and dba needs carol too: no assignment is left.
my $r3 = request('DROP TABLE prod.b', 'cleanup');
like(MpaTest::vote($node, $smtp, $r3, 'bob', 'reject'), qr/the request is pending$/,
	'one rejection in security: carol can still approve for it');
like(MpaTest::vote($node, $smtp, $r3, 'ann', 'reject'), qr/the request is rejected$/,
	'then ann rejects: carol cannot count for both dba and security, rejected at once');
my $rejected = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/request #$r3 rejected/);
ok($rejected && $rejected->{body} =~ /not every team can reach its threshold any more \(0 of 2 from dba, 0 of 1 from security\)/,
	'the rejection mail says why, per team');

# A request keeps the teams it was made with: old.* gains security after
# $old was made, and dba alone still approves it.
query(q{SELECT mpa_protect('DROP TABLE', 'old.*', teams => ARRAY['dba', 'security'])});
is(query("SELECT count(*) FROM mpa.request_teams WHERE request_id = $old"), '0', 'the earlier request has one team');
MpaTest::approve($node, $smtp, $old, 'alice');
like(MpaTest::approve($node, $smtp, $old, 'ann'), qr/\(2 of 2 approvals\); the request is approved$/,
	'dba alone approves the request made before the policy gained security');
my $new = request('DROP TABLE old.a', 'again');
is(query("SELECT string_agg(team, ', ' ORDER BY team) FROM mpa.request_teams WHERE request_id = $new"),
	'dba, security', 'a new request names both teams');

done_testing();
