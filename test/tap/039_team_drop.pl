# A team can be removed (mpa_team_drop), as a configuration change: once a
# team governs pg_mpa, only by an approved request run with mpa_execute.
# Refused (MP004) while a policy names the team, the governing team's own
# included, or a request of it is open; a new request of the team and the
# drop wait for each other. Its approvers' memberships go with it: a role in
# no other team may then be dropped. Its closed requests keep its name.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('team_drop', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	CREATE ROLE dave LOGIN; CREATE ROLE erin LOGIN; CREATE ROLE frank LOGIN;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
	SELECT mpa_team_create('old', 1);
	SELECT mpa_approver_add('old', 'dave', 'dave@example.com');
	SELECT mpa_approver_add('old', 'erin', 'erin@example.com');
	SELECT mpa_team_create('kept', 1);
	SELECT mpa_approver_add('kept', 'erin', 'erin@example.com');
	SELECT mpa_approver_add('kept', 'frank', 'frank@example.com');
	CREATE TABLE t1 (id int);
	SELECT mpa_protect('DROP TABLE', 'public.t1', 'kept');
});

sub query { return $node->safe_psql('postgres', $_[0]); }
sub team_exists { return query("SELECT count(*) FROM mpa.teams WHERE name = '$_[0]'"); }

# A request of the team being made and the drop wait for each other (the
# request locks the team's row as a foreign key would): the drop, once the
# request committed, sees it and refuses. Before governance, so the drop is
# a direct call.
my $requester = $node->background_psql('postgres');
$requester->query_safe('BEGIN');
my $action = $requester->query_safe(q{SELECT mpa_request_action('old', 'refund', '{"amount": 5}', 'a refund')});
my $dropper = $node->background_psql('postgres', on_error_stop => 0);
$dropper->query_safe('\set VERBOSITY verbose');
my $dropper_pid = $dropper->query_safe('SELECT pg_backend_pid()');
$dropper->query_until(qr/^$/, "SELECT mpa_team_drop('old');\n");
ok($node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $dropper_pid"),
	'the drop waits for the request being made');
$requester->query_safe('COMMIT');
$requester->quit;
$dropper->query('SELECT 1');
like($dropper->{stderr}, qr/ERROR:  MP004: team "old" has 1 open request \(#$action\), or temporary grants in force/,
	'then refuses: the team has an open request (MP004)');
$dropper->quit;
is(team_exists('old'), '1', 'the team stays');

# Governance: from now on a drop is a configuration change of team security.
query(q{SELECT mpa_protect('MPA CONFIGURE', '*', 'security')});

my $drop_old = q{SELECT mpa_team_drop('old')};
is_deeply([ MpaTest::refusal_as($node, 'postgres', $drop_old) ],
	[ 3, 'MP001: mpa_team_drop is a configuration change that requires the approval of team "security"' ],
	'a direct drop is refused once a team governs (MP001)');

# A drop that could not run is refused when it is requested (the request is
# rehearsed): the team of a policy, the governing team itself, a team with
# an open request.
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_request($$SELECT mpa_team_drop('kept')$$, 'x')}) ],
	[ 3, 'MP004: team "kept" still approves DROP TABLE on public.t1 (1 policy)' ],
	'a team that a policy names cannot be dropped');
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_request($$SELECT mpa_team_drop('security')$$, 'x')}) ],
	[ 3, 'MP004: team "security" still approves MPA CONFIGURE on * (1 policy)' ],
	'nor the team that governs pg_mpa');
is_deeply([ MpaTest::refusal_as($node, 'postgres', qq{SELECT mpa_request(\$\$$drop_old\$\$, 'x')}) ],
	[ 3, qq{MP004: team "old" has 1 open request (#$action), or temporary grants in force} ],
	'nor a team with an open request');

# Once the open request is cancelled, the drop is requested and approved;
# a request of the team made meanwhile refuses its execution until it is
# closed too (the check is made again when the approved call runs).
query("SELECT mpa_cancel($action)");
my $request = query(qq{SELECT mpa_request(\$\$$drop_old\$\$, 'the old team is disbanded')});
MpaTest::approve($node, $smtp, $request, $_) for ('alice', 'bob');
is(query("SELECT state FROM mpa.requests WHERE id = $request"), 'approved', 'the drop is approved');
my $late = query(q{SELECT mpa_request_action('old', 'refund', '{"amount": 7}', 'another refund')});
is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_execute($request)") ],
	[ 3, qq{MP004: team "old" has 1 open request (#$late), or temporary grants in force} ],
	'a request of the team made after the approval stops the drop');
is(team_exists('old'), '1', 'which changed nothing');
query("SELECT mpa_cancel($late)");

my $confirmations = q{SELECT count(*) FROM mpa.challenges WHERE team = 'old' AND state = 'open'};
cmp_ok(query($confirmations), '>', 0, 'the team\'s approvers have open address confirmations');
query("SELECT mpa_execute($request)");
is(team_exists('old'), '0', 'the approved drop ran: the team is gone');
is(query(q{SELECT count(*) FROM mpa.approvers WHERE team = 'old'}), '0', 'with its approvers\' memberships');
is(query($confirmations), '0', 'and their address confirmations are closed');
is(query("SELECT team || ' ' || state FROM mpa.requests WHERE id IN ($action, $late) GROUP BY 1"), 'old cancelled',
	'its closed requests keep its name');
is(query(q{SELECT approver::text FROM mpa.approvers WHERE team = 'kept' AND approver = 'erin'::regrole}), 'erin',
	'a member of another team stays there');
ok(MpaTest::poll_until($node,
	q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'team dropped' AND detail = '{"team": "old", "approvers": ["dave", "erin"]}'}),
	'the drop is audited with the memberships it removed');

# The published approvers follow (the gate of every database reads them): a
# role that approves nowhere any more may be dropped; one still in a team
# may not (pg_mpa's MP001, not PostgreSQL's own refusal).
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP ROLE dave') ], [ 0, '' ], 'dave, in no team now, can be dropped');
my ($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP ROLE erin');
is($rc, 3, 'erin, still in team kept, cannot');
like($error, qr/^MP001: /, '... refused by pg_mpa (MP001)');

# The name is free again.
like(query(q{SELECT mpa_request($$SELECT mpa_team_create('old', 1)$$, 'old is back')}), qr/^\d+$/,
	'a dropped team\'s name can be requested for a new team');

done_testing();
