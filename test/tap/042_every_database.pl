# Policies for the objects of any database of the cluster (#19, slice 2;
# docs/decisions.md "Every database"): mpa_protect(..., database => ...)
# names billing's objects, which the gate in billing refuses with MP001 and
# the exact request to make in mpa.database; the same names in another
# database stay free; '*' reaches every database, also one created later.
# pg_mpa is installed only in mpa.database ('postgres'): billing and crm
# have no extension, the policies reach them through shared memory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $node = MpaTest::new_node('everydb', undef);
# The same tables in three databases: a policy is told apart only by its
# database.
my $tables = q{
	CREATE TABLE public.invoices (id int);
	CREATE TABLE public.ledger (id int);
	CREATE TABLE public.notes (id int);
};
$node->safe_psql('postgres', q{
	CREATE DATABASE billing;
	CREATE DATABASE crm;
	CREATE ROLE alice; CREATE ROLE bert;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_team_create('finance', 1);
	SELECT mpa_approver_add('finance', 'bert', 'bert@example.com');
});
$node->safe_psql($_, $tables) for qw(postgres billing crm);

# The other databases hold nothing of pg_mpa's: what they are refused comes
# from mpa.database.
is($node->safe_psql('billing', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_mpa'}), '0',
	'billing has no pg_mpa extension');

$node->safe_psql('postgres', q{
	SELECT mpa_protect('DROP TABLE', 'public.invoices', 'security', database => 'billing');
});
# The DBA sees which database a policy is for.
is($node->safe_psql('postgres',
	q{SELECT database FROM mpa.policies WHERE operation = 'DROP TABLE' AND object = 'public.invoices'}),
	'billing', 'mpa.policies shows the database a policy is for');

# Refused where it happens, with pg_mpa's SQLSTATE and the exact call that
# asks for approval, in mpa.database, for billing.
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE public.invoices',
	'MP001: DROP TABLE on public.invoices requires the approval of team "security"', dbname => 'billing'),
	'MP001: DROP TABLE on public.invoices requires the approval of team "security"',
	"billing's protected table is refused in billing");
my (undef, undef, $hint) =
  MpaTest::refusal_and_hint_as($node, 'postgres', 'DROP TABLE public.invoices', dbname => 'billing');
is($hint,
	q{Connect to database "postgres" and ask for approval with: SELECT mpa_request('DROP TABLE public.invoices', }
	  . q{'why this is needed', database => 'billing');},
	'the HINT names the mpa_request call, with the database, to run in mpa.database');
is($node->safe_psql('billing', q{SELECT to_regclass('public.invoices') IS NOT NULL}), 't',
	"billing's table is still there");

# Indirect paths work in billing too: the table dropped by a cascade is
# judged where PostgreSQL drops it (object access hook).
my ($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP SCHEMA public CASCADE', dbname => 'billing');
is($error, 'MP001: dropping table invoices requires the approval of team "security"',
	"a cascade reaching billing's protected table is refused");

# The same names elsewhere are other objects: the policy does not touch them.
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'BEGIN; DROP TABLE public.invoices; ROLLBACK', dbname => 'crm');
is($error, '', "crm's table of the same name is not protected");
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'BEGIN; DROP TABLE public.invoices; ROLLBACK');
is($error, '', "nor is mpa.database's: a policy for billing is not judged at home");

# '*': every database, mpa.database included, and one created after the
# policy (fail closed: a new database is covered from its first statement).
$node->safe_psql('postgres', q{SELECT mpa_protect('TRUNCATE TABLE', 'public.ledger', 'security', database => '*')});
for my $db (qw(billing crm))
{
	is(MpaTest::refusal_once_published($node, 'postgres', 'TRUNCATE public.ledger',
		'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"', dbname => $db),
		'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"',
		"a policy for every database is refused in $db");
}
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'TRUNCATE public.ledger');
is($error, 'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"',
	'and in mpa.database');
$node->safe_psql('postgres', 'CREATE DATABASE later');
$node->safe_psql('later', $tables);
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'TRUNCATE public.ledger', dbname => 'later');
is($error, 'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"',
	'and in a database created after the policy');

# A policy naming the database is more specific than one for every
# database on the same object: billing's notes are finance's, everybody
# else's security's (the '*' policy is the older: an id order would pick it).
$node->safe_psql('postgres', q{
	SELECT mpa_protect('DROP TABLE', 'public.notes', 'security', database => '*');
	SELECT mpa_protect('DROP TABLE', 'public.notes', 'finance', database => 'billing');
});
is(MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE public.notes',
	'MP001: DROP TABLE on public.notes requires the approval of team "finance"', dbname => 'billing'),
	'MP001: DROP TABLE on public.notes requires the approval of team "finance"',
	"billing's own policy decides in billing");
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'DROP TABLE public.notes', dbname => 'crm');
is($error, 'MP001: DROP TABLE on public.notes requires the approval of team "security"',
	"the policy for every database decides in crm");

# database is validated: a database that exists, or '*'; names that are not
# one are refused with 22023 and change nothing.
my %bad = (
	q{'nowhere'} => 'database "nowhere" does not exist',
	q{''} => 'invalid database name',
	q{E'bill\ning'} => 'invalid database name',
	q{repeat('b', 64)} => 'invalid database name',
);
for my $value (sort keys %bad)
{
	($rc, $error) = MpaTest::refusal_as($node, 'postgres',
		"SELECT mpa_protect('DROP TABLE', 'public.ledger', 'security', database => $value)");
	is($error, "22023: $bad{$value}", "database => $value is refused");
}
# A cluster-wide operation holds in every database already: a database
# there would read as a limit it cannot have.
($rc, $error) = MpaTest::refusal_as($node, 'postgres',
	q{SELECT mpa_protect('ALTER ROLE', 'bert', 'security', database => 'billing')});
is($error, '22023: a policy on ALTER ROLE takes no database: it holds in every database',
	'a cluster-wide operation takes no database');
# mpa.database's own name means what leaving it out means: one spelling.
$node->safe_psql('postgres',
	q{SELECT mpa_protect('DROP TABLE', 'public.ledger', 'security', database => 'postgres')});
is($node->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE database IS NULL) || '/' || count(*) FROM mpa.policies
	   WHERE operation = 'DROP TABLE' AND object = 'public.ledger'}),
	'1/1', "mpa.database named by its name is stored as NULL");

# Removing billing's policy frees billing's table (the policies of the
# other databases are unchanged).
$node->safe_psql('postgres', q{SELECT mpa_unprotect('DROP TABLE', 'public.invoices', database => 'billing')});
is(MpaTest::refusal_once_published($node, 'postgres', 'BEGIN; DROP TABLE public.invoices; ROLLBACK', '',
	dbname => 'billing'), '', "billing's table is free once its policy is removed");
($rc, $error) = MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_unprotect('DROP TABLE', 'public.invoices', database => 'billing')});
is($error, '22023: no policy protects DROP TABLE on public.invoices in database billing',
	'a policy removed is gone');

# Shared memory holds 1024 policies that reach other databases (the limit
# docs/decisions.md "Every database" sets): mpa_protect fills it, then
# refuses one more (MP004) rather than leave a policy ungated elsewhere.
# (No policy here is on a cluster-wide operation or MPA CONFIGURE: the ones
# with a database are all that reach other databases.)
my $slots = 1024;
my $added = $node->safe_psql('postgres', q{
	CREATE TEMPORARY TABLE added (n int);
	DO $$
	DECLARE
	  n int := 0;
	BEGIN
	  FOR i IN 1..2000 LOOP
	    BEGIN
	      PERFORM mpa_protect('DROP TABLE', 'public.filler_' || i, 'security', database => 'crm');
	      n := n + 1;
	    EXCEPTION WHEN SQLSTATE 'MP004' THEN
	      EXIT;
	    END;
	  END LOOP;
	  INSERT INTO added VALUES (n);
	END $$;
	SELECT n FROM added;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies WHERE database IS NOT NULL}),
	$slots, "policies fill the $slots slots, no more");
cmp_ok($added, '>', 0, 'filled by mpa_protect');
($rc, $error) = MpaTest::refusal_as($node, 'postgres',
	q{SELECT mpa_protect('DROP TABLE', 'public.one_more', 'security', database => 'crm')});
is($error, "MP004: more than $slots policies would reach databases other than this one",
	'one more is refused');
# Every one that fits is judged in its database (the last one written).
my $last = "public.filler_$added";
$node->safe_psql('crm', "CREATE TABLE $last (id int)");
is(MpaTest::refusal_once_published($node, 'postgres', "DROP TABLE $last",
	"MP001: DROP TABLE on $last requires the approval of team \"security\"", dbname => 'crm'),
	"MP001: DROP TABLE on $last requires the approval of team \"security\"",
	'the last policy that fits is judged in its database');

done_testing();
