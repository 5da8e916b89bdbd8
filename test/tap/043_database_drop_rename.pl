# Dropping or renaming a database that a policy names (#19, step 1;
# docs/decisions.md "Every database"): DROP DATABASE billing and ALTER
# DATABASE billing RENAME take billing's objects away from the policies for
# billing, whatever those policies' operations, so they need the approval of
# those policies' team: refused with MP001 in mpa.database ('postgres', where
# they are requested and run once approved) and from any other database
# (pointed to mpa.database). A database no policy names drops freely; a
# drop also answers to the policies for every database ('*'), a rename
# does not (they hold under the new name); two teams there is MP007.
# billing and crm have no extension: the policies reach them through shared
# memory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('dbdrop', $smtp);
$node->safe_psql('postgres', q{
	CREATE DATABASE billing;
	CREATE DATABASE crm;
	CREATE DATABASE scratch;
	CREATE ROLE alice LOGIN; CREATE ROLE bert LOGIN;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_team_create('finance', 1);
	SELECT mpa_approver_add('finance', 'bert', 'bert@example.com');
});
$node->safe_psql('billing', 'CREATE TABLE public.invoices (id int)');
# A policy on billing's table, not on billing itself: no policy names DROP
# DATABASE or ALTER DATABASE.
$node->safe_psql('postgres',
	q{SELECT mpa_protect('DROP TABLE', 'public.invoices', 'finance', database => 'billing')});

sub query { return $node->safe_psql('postgres', $_[0]); }
sub oid_of { return query("SELECT oid FROM pg_database WHERE datname = '$_[0]'"); }
sub request_state { return query("SELECT state FROM mpa.requests WHERE id = $_[0]"); }

# Asks for approval of $sql in mpa.database and has bert (finance) approve
# it with the code mailed to him; returns the request's id.
sub approved_by_finance
{
	my ($sql) = @_;
	my $id = query("SELECT mpa_request('$sql', 'the database is retired')");
	MpaTest::approve($node, $smtp, $id, 'bert');
	is(request_state($id), 'approved', "request $id ($sql) is approved");
	return $id;
}

my $billing_oid = oid_of('billing');
my $why_billing = q{Database "billing" holds objects that policies for database "billing" of team "finance" }
  . q{protect (DROP TABLE on public.invoices)};

# In mpa.database: refused with the reason and the exact request to make.
my ($rc, $error, $hint, $detail) = MpaTest::refusal_and_hint_as($node, 'postgres', 'DROP DATABASE billing');
is($error, 'MP001: DROP DATABASE on billing requires the approval of team "finance"',
	'DROP DATABASE of a database whose objects a policy names is refused in mpa.database');
is($detail, "$why_billing; dropping the database removes them.",
	'the DETAIL names the policies for billing and their team');
is($hint, q{Ask for approval with: SELECT mpa_request('DROP DATABASE billing', 'why this is needed');},
	'the HINT is the request to make');
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER DATABASE billing RENAME TO billing2');
is($error, 'MP001: ALTER DATABASE on billing requires the approval of team "finance"',
	'renaming it is refused too: the policies name the database by its name');

# From a third database: refused there, pointed to mpa.database (the
# policies for billing are not in crm's own copy: read from shared memory,
# once the worker has published them).
my $expected = 'MP001: DROP DATABASE on billing requires the approval of team "finance"';
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP DATABASE billing', $expected, dbname => 'crm'),
	$expected, 'DROP DATABASE billing is refused from crm');
($rc, $error, $hint, $detail) =
  MpaTest::refusal_and_hint_as($node, 'postgres', 'DROP DATABASE billing', dbname => 'crm');
is($hint,
	q{Connect to database "postgres" and ask for approval with: SELECT mpa_request('DROP DATABASE billing', }
	  . q{'why this is needed');},
	'the HINT from crm says where to ask and what to run');
like($detail, qr/^\Q$why_billing\E; dropping the database removes them\. Its requests and approvals live in database "postgres"/,
	'the DETAIL from crm gives the same reason and where approvals live');
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER DATABASE billing RENAME TO billing2', dbname => 'crm');
is($error, 'MP001: ALTER DATABASE on billing requires the approval of team "finance"', 'renaming it from crm too');
is(oid_of('billing'), $billing_oid, 'billing is still there, under its name');

# No regression: a database that no policy names drops freely.
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP DATABASE scratch');
is($error, '', 'a database no policy names drops freely');
is(oid_of('scratch'), '', 'and is gone');

# Approved in mpa.database, and run there once. The requests bind billing by
# OID: billing renamed away and a new billing made, the drop's approval does
# not drop the new one.
my $drop = approved_by_finance('DROP DATABASE billing');
is(query("SELECT team || ' ' || object FROM mpa.requests WHERE id = $drop"), 'finance billing',
	'mpa_request finds the same team as the gate');
my $rename = approved_by_finance('ALTER DATABASE billing RENAME TO billing_old');
query('ALTER DATABASE billing RENAME TO billing_old');
is(oid_of('billing_old'), $billing_oid, 'the approved rename runs');
is(request_state($rename), 'executed', 'and spends its approval');
query('CREATE DATABASE billing');
my $new_billing_oid = oid_of('billing');
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP DATABASE billing');
is($error, 'MP001: DROP DATABASE on billing requires the approval of team "finance"',
	"a new billing (another OID) is not dropped with the old one's approval");
is(request_state($drop), 'approved', 'which stays unspent');
my $drop_new = approved_by_finance('DROP DATABASE billing');
query('DROP DATABASE billing');
is(oid_of('billing'), '', 'the new billing drops with its own approval');
is(request_state($drop_new) . ' ' . request_state($drop), 'executed approved', 'which alone is spent');

# Renaming a database TO a name policies name only puts its objects under
# those policies: free (billing_old is named by none).
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER DATABASE billing_old RENAME TO billing');
is($error, '', 'renaming a database to a name that policies name is free');
is(oid_of('billing'), $billing_oid, 'the old billing is billing again');
# The rename was approved once: the same statement again is refused.
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER DATABASE billing RENAME TO billing_old');
is($error, 'MP001: ALTER DATABASE on billing requires the approval of team "finance"',
	'an approved rename runs once');
query('DROP DATABASE billing');
is(oid_of('billing'), '', 'the approved drop runs on the database it was approved for');
is(request_state($drop), 'executed', 'and is spent');
query('CREATE DATABASE billing');
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP DATABASE billing');
is($error, 'MP001: DROP DATABASE on billing requires the approval of team "finance"',
	'a database made later under the name is under the policies again: the drop needs a new approval');

# '*': the policies for every database protect objects in each one, so
# dropping any database needs their team (fail closed: pg_mpa cannot see
# which objects another database holds). A rename leaves them in force.
query(q{SELECT mpa_protect('DROP TABLE', 'public.ledger', 'security', database => '*')});
($rc, $error, undef, $detail) = MpaTest::refusal_and_hint_as($node, 'postgres', 'DROP DATABASE crm');
is($error, 'MP001: DROP DATABASE on crm requires the approval of team "security"',
	"a policy for every database makes every database's drop need its team");
is($detail, q{Database "crm" holds objects that policies for every database ('*') of team "security" protect }
	  . q{(DROP TABLE on public.ledger); dropping the database removes them.},
	"the DETAIL names the policies for every database");
$expected = 'MP001: DROP DATABASE on crm requires the approval of team "security"';
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP DATABASE crm', $expected, dbname => 'template1'),
	$expected, 'also from another database');
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER DATABASE crm RENAME TO crm2');
is($error, '', "a rename keeps the objects under the policies for every database: free");
query('ALTER DATABASE crm2 RENAME TO crm');

# billing's objects: finance's policy for billing and security's for every
# database. One request is one team's approval: refused as written (MP007),
# not decided by either team alone.
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP DATABASE billing');
is($error, 'MP007: DROP DATABASE on billing needs the approval of two teams ("finance" and "security")',
	"two teams' policies reach the database: MP007");
($rc, $error) = MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_request('DROP DATABASE billing', 'x')});
is($error, 'MP007: DROP DATABASE on billing needs the approval of two teams ("finance" and "security")',
	'and is not requested either');
# A policy on the drop itself decides, as a policy on a statement's own
# operation always does.
query(q{SELECT mpa_protect('DROP DATABASE', 'billing', 'finance')});
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP DATABASE billing');
is($error, 'MP001: DROP DATABASE on billing requires the approval of team "finance"',
	'a policy on DROP DATABASE billing decides');

done_testing();
