# Dry-run policies (#22, first slice; docs/decisions.md "Policy modes"): a
# statement that only a dry-run policy names runs, the session is told which
# policy would have refused it, and an audit entry of kind 'dry-run' is
# written through the audit ring (so a rolled-back statement is recorded
# too); mpa.dry_run counts them per policy and object. An enforcing policy
# always wins over a dry-run one, even a more specific one. Switching a
# dry-run policy to enforcing is a configuration change like any other.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('dryrun', $smtp);
# Team dba owns the policies on schema prod; team security governs pg_mpa.
$node->safe_psql('postgres', q{
	CREATE SCHEMA prod;
	CREATE TABLE prod.orders (id int); CREATE TABLE prod.items (id int);
	CREATE TABLE prod.rolled_back (id int); CREATE TABLE prod.later (id int);
	CREATE TABLE public.scratch (id int);
	CREATE SCHEMA stage; CREATE TABLE stage.t (id int);
	CREATE SCHEMA lab; CREATE TABLE lab.t (id int);
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	SELECT mpa_team_create('dba', 1), mpa_team_create('security', 1);
	SELECT mpa_approver_add('dba', 'alice', 'alice@example.com'), mpa_approver_add('security', 'bob', 'bob@example.com');
});

sub query { return $node->safe_psql('postgres', $_[0]); }

# Wrong modes change nothing and are refused before any authorisation.
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', mode => NULL)}) ],
	[ 3, q{22023: mode must be 'enforce' or 'dry-run'} ], 'a NULL mode is refused');
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', mode => 'audit')}) ],
	[ 3, q{22023: mode must be 'enforce' or 'dry-run'} ], 'an unknown mode is refused');
# pg_mpa's own configuration is always governed for real.
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'security', mode => 'dry-run')}) ],
	[ 3, q{22023: MPA CONFIGURE cannot be protected in dry-run mode} ], 'MPA CONFIGURE is never dry-run');
# (Dry-run policies reaching other databases: test/tap/051.)
is(query('SELECT count(*) FROM mpa.policies'), '0', 'the refused calls left no policy');

query(q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', mode => 'dry-run')});
my $dry = query(q{SELECT id FROM mpa.policies WHERE operation = 'DROP TABLE'});
# An enforcing policy on prod.* and a more specific dry-run one on
# prod.orders: the enforcing one must still decide ALTER TABLE prod.orders.
query(q{SELECT mpa_protect('ALTER TABLE', 'prod.*', 'dba');
	SELECT mpa_protect('ALTER TABLE', 'prod.orders', 'dba', mode => 'dry-run');
	SELECT mpa_protect('DROP TABLE', 'stage.*', 'dba', database => '*');
	SELECT mpa_protect('DROP TABLE', 'stage.*', 'dba', mode => 'dry-run');
	SELECT mpa_protect('DROP TABLE', 'lab.*', 'dba', mode => 'dry-run');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security')});
is(query(q{SELECT string_agg(operation || ' ' || object || ' ' || mode, ', ' ORDER BY id) FROM mpa.policies}),
	'DROP TABLE prod.* dry-run, ALTER TABLE prod.* enforce, ALTER TABLE prod.orders dry-run, '
	  . 'DROP TABLE stage.* enforce, DROP TABLE stage.* dry-run, DROP TABLE lab.* dry-run, MPA CONFIGURE * enforce',
	'the modes are stored');

# The dry-run policy's statement runs and the session is told which policy
# would have refused it.
my ($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'DROP TABLE prod.orders');
is($rc, 0, 'DROP TABLE prod.orders runs under a dry-run policy');
is(query(q{SELECT to_regclass('prod.orders') IS NULL}), 't', 'the table is gone');
like($err,
	qr/NOTICE:  dry-run policy $dry \(DROP TABLE on prod\.\*, team "dba"\) would have required approval for DROP TABLE on prod\.orders/,
	'the NOTICE names the policy, its team and the object');

# Recorded through the audit ring: a statement whose transaction rolls
# back is recorded as well.
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'BEGIN; DROP TABLE prod.rolled_back; ROLLBACK;');
is($rc, 0, 'a dry-run statement in a rolled-back transaction runs');
like($err, qr/NOTICE:  dry-run policy $dry /, 'and is named to the session');

# Nothing to approve: a request for it is answered as for an unprotected
# statement (pg_mpa's MP002), not opened for team dba.
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_request('DROP TABLE prod.items', 'x')}) ],
	[ 3, 'MP002: DROP TABLE on prod.items is not protected: it needs no approval' ],
	'a statement only a dry-run policy names cannot be requested');

# A statement no policy names: no NOTICE, nothing recorded.
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'DROP TABLE public.scratch');
is($err, '', 'a statement no policy names gets no NOTICE');

ok(MpaTest::poll_until($node, q{SELECT count(*) = 2 FROM mpa.audit WHERE kind = 'dry-run'}),
	'two dry-run entries reach the audit (the rolled-back one too)');
is(query(q{SELECT detail->>'policy' || ' ' || (detail->>'statement') FROM mpa.audit
	WHERE kind = 'dry-run' AND detail->>'target' = 'prod.orders'}),
	"$dry DROP TABLE prod.orders", 'the entry names the policy and the statement');
is(query(qq{SELECT string_agg(concat_ws(' ', operation, pattern, team, target, role, statements, mode_now), ', ' ORDER BY target)
	FROM mpa.dry_run WHERE policy_id = $dry}),
	'DROP TABLE prod.* dba prod.orders postgres 1 dry-run, DROP TABLE prod.* dba prod.rolled_back postgres 1 dry-run',
	'mpa.dry_run counts what the policy would have refused, per object');

# The enforcing policy wins over the more specific dry-run one.
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'ALTER TABLE prod.items ADD COLUMN a int') ],
	[ 3, 'MP001: ALTER TABLE on prod.items requires the approval of team "dba"' ],
	'ALTER TABLE under the enforcing policy is refused');
$node->safe_psql('postgres', 'CREATE TABLE prod.orders (id int)');
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'ALTER TABLE prod.orders ADD COLUMN a int') ],
	[ 3, 'MP001: ALTER TABLE on prod.orders requires the approval of team "dba"' ],
	'a more specific dry-run policy does not loosen an enforcing one');

# A policy for this database overrides one for every database ('*') on the
# same pattern, but a dry-run one must not: the '*' policy still decides.
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP TABLE stage.t') ],
	[ 3, 'MP001: DROP TABLE on stage.t requires the approval of team "dba"' ],
	'a dry-run policy here does not override an enforcing one for every database');

# Moving a table out of an enforcing policy's pattern is refused (it would
# escape the policy); out of a dry-run policy's it runs: only enforcing
# patterns guard names. (Recording such a move is for a later slice.)
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'ALTER TABLE lab.t SET SCHEMA public');
is($rc, 0, 'a table leaves a dry-run policy\'s schema without approval');

# Switching to enforcing is governed: refused directly, run once approved.
MpaTest::change_through_governance($node, $smtp, q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'dba', mode => 'enforce')},
	'security', 'bob', 'switching a dry-run policy to enforcing needs the governing team');
is(query(qq{SELECT mode FROM mpa.policies WHERE id = $dry}), 'enforce', 'once approved, the policy enforces');
is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP TABLE prod.later') ],
	[ 3, 'MP001: DROP TABLE on prod.later requires the approval of team "dba"' ],
	'and DROP TABLE on prod.* is refused from then on');
is(query(qq{SELECT string_agg(DISTINCT mode_now, ',') FROM mpa.dry_run WHERE policy_id = $dry}), 'enforce',
	'mpa.dry_run keeps the history and shows the mode now');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
