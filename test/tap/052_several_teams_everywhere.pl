# Several teams for policies that reach other databases (#22 follow-up;
# docs/decisions.md "Several teams", "Every database"): the issue's own
# example, "dropping a production database should need the DBAs and
# security", is a cluster-wide policy, and a policy for database billing's
# objects is published to billing the same way. Both reach the other
# databases through the policies mpa.database publishes in shared memory,
# whose slot now holds a policy's teams joined as at home ("dba,security"):
# the gate there names every team, a request records every team, and the
# statement runs only once every team reached its threshold.
# billing has no extension: the policies reach it through shared memory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('teamsdb', $smtp);
# dba: alice; security: bob (threshold 1 each, so one approval per team
# shows when each team is reached). dev owns prod and billing's table and
# asks.
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dev LOGIN CREATEDB;
	CREATE DATABASE prod OWNER dev;
	CREATE DATABASE billing;
	SELECT mpa_team_create('dba', 1), mpa_team_create('security', 1);
	SELECT mpa_approver_add('dba', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
});
$node->safe_psql('billing', q{
	CREATE TABLE public.invoices (id int); CREATE TABLE public.ledger (id int);
	ALTER TABLE public.invoices OWNER TO dev; ALTER TABLE public.ledger OWNER TO dev;
});

sub query { return $node->safe_psql('postgres', $_[0]); }
sub state_of { return query("SELECT state FROM mpa.requests WHERE id = $_[0]"); }
sub teams_of
{
	return query("SELECT string_agg(team || ' ' || threshold, ', ' ORDER BY team) FROM mpa.request_teams "
		  . "WHERE request_id = $_[0]");
}

# Both policies were refused with 22023 before (the published slot had room
# for one team): now they are written, each with both teams.
query(q{SELECT mpa_protect('DROP DATABASE', 'prod', teams => ARRAY['dba', 'security']);
	SELECT mpa_protect('TRUNCATE TABLE', 'public.invoices', teams => ARRAY['dba', 'security'], database => 'billing')});
is(query(q{SELECT string_agg(p.operation || ' ' || coalesce(p.database, '-') || ' '
		|| (SELECT string_agg(pt.team, '+' ORDER BY pt.team) FROM mpa.policy_teams pt WHERE pt.policy_id = p.id),
		', ' ORDER BY p.id) FROM mpa.policies p}),
	'DROP DATABASE - dba+security, TRUNCATE TABLE billing dba+security',
	'a cluster-wide policy and one for billing each name two teams');

# ---------------------------------------------------------------------------
# DROP DATABASE prod: cluster-wide, requested and run in mpa.database.

my $refused_drop = 'MP001: DROP DATABASE on prod requires the approval of teams "dba" and "security"';
# At home, from the policy cache's own copy.
my (undef, $error) = MpaTest::refusal_as($node, 'dev', 'DROP DATABASE prod');
is($error, $refused_drop, 'DROP DATABASE prod is refused in mpa.database naming both teams');
# In billing, from the published slot: the same two teams, not the first.
is(MpaTest::refusal_once_published($node, 'dev', 'DROP DATABASE prod', $refused_drop, dbname => 'billing'),
	$refused_drop, 'and in another database, naming both teams as home does');

my $drop = MpaTest::safe_psql_as($node, 'dev', q{SELECT mpa_request('DROP DATABASE prod', 'prod moved to the new cluster')});
is(teams_of($drop), 'dba 1, security 1', 'the request records both teams');

# The DBAs alone do not approve it: security has not reached its threshold.
like(MpaTest::approve($node, $smtp, $drop, 'alice'), qr/\(1 of 1 from dba, 0 of 1 from security\); the request is pending/,
	'dba\'s approval alone leaves the request pending');
(undef, $error) = MpaTest::refusal_as($node, 'dev', 'DROP DATABASE prod');
is($error, $refused_drop, 'and DROP DATABASE prod is still refused');
like(MpaTest::approve($node, $smtp, $drop, 'bob'), qr/\(1 of 1 from dba, 1 of 1 from security\); the request is approved/,
	'security\'s approval completes it');
(undef, $error) = MpaTest::refusal_as($node, 'dev', 'DROP DATABASE prod');
is($error, '', 'the approved DROP DATABASE prod runs');
is(query(q{SELECT count(*) FROM pg_database WHERE datname = 'prod'}) . ' ' . state_of($drop), '0 executed',
	'prod is gone and the request executed');

# ---------------------------------------------------------------------------
# TRUNCATE public.invoices in billing: requested with database => 'billing'
# (described there, by the describe task, with billing's published copy),
# run in billing (claimed at home).

my $refused_truncate = 'MP001: TRUNCATE TABLE on public.invoices requires the approval of teams "dba" and "security"';
is(MpaTest::refusal_once_published($node, 'dev', 'TRUNCATE public.invoices', $refused_truncate, dbname => 'billing'),
	$refused_truncate, 'TRUNCATE in billing is refused there naming both teams');

my $truncate = MpaTest::safe_psql_as($node, 'dev',
	q{SELECT mpa_request('TRUNCATE public.invoices', 'month end', database => 'billing')});
is(query("SELECT database FROM mpa.requests WHERE id = $truncate") . ': ' . teams_of($truncate),
	'billing: dba 1, security 1', 'the request for billing records both teams');

MpaTest::approve($node, $smtp, $truncate, 'bob');
is(state_of($truncate), 'pending', 'security\'s approval alone leaves it pending');
(undef, $error) = MpaTest::refusal_as($node, 'dev', 'TRUNCATE public.invoices', dbname => 'billing');
is($error, $refused_truncate, 'and billing\'s gate claims nothing yet');
MpaTest::approve($node, $smtp, $truncate, 'alice');
is(state_of($truncate), 'approved', 'dba\'s approval completes it');
MpaTest::runs_once_in_database($node, 'dev', 'TRUNCATE public.invoices', $truncate, $refused_truncate,
	dbname => 'billing');

# ---------------------------------------------------------------------------
# The widest teams a policy can name, 8 of 63 characters (511 bytes
# joined), reach billing whole: a slot one byte short would cut the last.
# carol is the one approver each team needs to be named in a policy.
my @wide = map { sprintf('team %d %s', $_, 'x' x 56) } 1 .. 8;
is(length($wide[0]), 63, 'each team\'s name is as long as a team name can be');
query(join '', map { "SELECT mpa_team_create('$_', 1), mpa_approver_add('$_', 'carol', 'carol\@example.com');" } @wide);
query('SELECT mpa_protect(\'DROP TABLE\', \'public.ledger\', teams => ARRAY['
	  . join(', ', map { "'$_'" } @wide) . "], database => 'billing')");
my $refused_wide = 'MP001: DROP TABLE on public.ledger requires the approval of teams '
  . join(', ', map { qq{"$_"} } @wide[0 .. 6]) . qq{ and "$wide[7]"};
is(MpaTest::refusal_once_published($node, 'dev', 'DROP TABLE public.ledger', $refused_wide, dbname => 'billing'),
	$refused_wide, 'billing\'s gate names all 8 teams in full');

done_testing();
