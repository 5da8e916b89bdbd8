# Execution exactly once in another database (#19, steps 3 and 4;
# docs/decisions.md "Execution exactly once"): an approval requested in
# mpa.database ('postgres') for billing is spent by billing's gate through a
# claim made in mpa.database before the statement runs (the request is then
# 'executing' by the statement's transaction), and resolved from the commit
# log: committed -> executed, rolled back -> approved again. It is spent
# only in billing, only by its requester, only before it expires, and only
# once; mpa_execute in mpa.database runs it in billing through the same
# gate and reports how it ended there.
#
# The three databases hold public.ledger under the same OID (all made from
# template1 while it had the table): a request is then told apart from the
# other databases' statements by its database alone, not by target OIDs
# that merely happen to differ.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('claim', $smtp, "max_prepared_transactions = 2\n", extension => 0);
MpaTest::databases_sharing_oids($node, [qw(postgres billing crm)], q{
	CREATE ROLE dba LOGIN; CREATE ROLE eve LOGIN; CREATE ROLE alice LOGIN;
}, q{
	CREATE TABLE public.ledger (id int);
	CREATE TABLE public.invoices (id int);
	ALTER TABLE public.ledger OWNER TO dba;
	ALTER TABLE public.invoices OWNER TO dba;
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_mpa;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_protect('TRUNCATE TABLE', 'public.ledger', 'security', database => '*');
	SELECT mpa_protect('DROP TABLE', 'public.invoices', 'security', database => 'billing');
});
my $oids = join ',', map { $node->safe_psql($_, q{SELECT 'public.ledger'::regclass::oid}) } qw(postgres billing crm);
my ($one_oid) = $oids =~ /^(\d+),\1,\1$/;
ok($one_oid, "public.ledger has one OID in the three databases ($oids)");

my $refused_truncate = 'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"';
# The policy for every database reached billing and crm (published by the
# worker a moment after its commit).
for my $db (qw(billing crm))
{
	is(MpaTest::refusal_once_published($node, 'dba', 'BEGIN; TRUNCATE public.ledger; ROLLBACK', $refused_truncate,
		dbname => $db),
		$refused_truncate, "TRUNCATE is refused in $db before any approval");
}

sub query { return $node->safe_psql('postgres', $_[0]); }
sub state_of { return query("SELECT state FROM mpa.requests WHERE id = $_[0]"); }
sub audited
{
	my ($kind, $request) = @_;
	return query("SELECT count(*) FROM mpa.audit WHERE kind = '$kind' AND request_id = $request");
}

# An approved request of dba's for $statement in $database.
sub approved_request
{
	my ($statement, $database) = @_;
	my $id = MpaTest::safe_psql_as($node, 'dba',
		"SELECT mpa_request('$statement', 'month end', database => '$database')");
	MpaTest::approve($node, $smtp, $id, 'alice');
	is(state_of($id), 'approved', "request $id ($statement in $database) is approved");
	return $id;
}

my $ledger = approved_request('TRUNCATE public.ledger', 'billing');
$node->safe_psql($_, 'INSERT INTO public.ledger VALUES (1)') for qw(billing crm postgres);

# Spent only in its database: crm's and mpa.database's ledger have the
# same OID, the same requester types the same statement (claim: the
# request's database_oid; at home: requests for mpa.database only).
my ($rc, $error) = MpaTest::refusal_as($node, 'dba', 'TRUNCATE public.ledger', dbname => 'crm');
is($error, $refused_truncate, "billing's approval is not spent in crm");
($rc, $error) = MpaTest::refusal_as($node, 'dba', 'TRUNCATE public.ledger');
is($error, $refused_truncate, "nor in mpa.database");
# Only by its requester (claim: the session user).
($rc, $error) = MpaTest::refusal_as($node, 'eve', 'TRUNCATE public.ledger', dbname => 'billing');
is($error, $refused_truncate, 'nor by another role in billing');
# A role that may not connect to mpa.database has no approval to claim
# there: refused by the gate as anyone without one (not by the claim's
# worker failing to connect).
$node->safe_psql('postgres', q{
	CREATE ROLE nohome LOGIN;
	REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
	GRANT CONNECT ON DATABASE postgres TO dba, eve, alice;
});
($rc, $error) = MpaTest::refusal_as($node, 'nohome', 'TRUNCATE public.ledger', dbname => 'billing');
is($error, $refused_truncate, 'a role without CONNECT on mpa.database is refused as without an approval');
is(state_of($ledger), 'approved', 'the approval is untouched by those attempts');

# Rolled back: the statement did not happen, so the approval stays
# (the request was executing by a transaction that aborted).
($rc, $error) = MpaTest::refusal_as($node, 'dba', 'BEGIN; TRUNCATE public.ledger; ROLLBACK', dbname => 'billing');
is($error, '', 'the approved TRUNCATE runs in billing (then rolled back)');
ok(MpaTest::poll_until($node, "SELECT state = 'approved' FROM mpa.requests WHERE id = $ledger"),
	'a rolled-back run leaves the request approved');
is(audited('execution did not commit', $ledger), '1', 'and the audit says the run did not commit');
# A rolled-back savepoint counts as not run, though its transaction commits
# (the claim names the subtransaction's id).
($rc, $error) = MpaTest::refusal_as($node, 'dba',
	'BEGIN; SAVEPOINT s; TRUNCATE public.ledger; ROLLBACK TO SAVEPOINT s; COMMIT', dbname => 'billing');
is($error, '', 'the approved TRUNCATE runs in a savepoint (then rolled back to it)');
ok(MpaTest::poll_until($node,
	"SELECT state = 'approved' FROM mpa.requests WHERE id = $ledger AND "
	  . "(SELECT count(*) FROM mpa.audit WHERE kind = 'execution did not commit' AND request_id = $ledger) = 2"),
	'a savepoint rolled back leaves the request approved');
is($node->safe_psql('billing', 'SELECT count(*) FROM public.ledger'), '1', "billing's ledger is as it was");

# Twice in one transaction: the second finds the approval held by its own
# transaction (spent, as at home), refused rather than waiting for itself.
# (statement_timeout: a wait for its own transaction would never end.)
($rc, $error) = MpaTest::refusal_as($node, 'dba',
	"SET statement_timeout = '20s'; BEGIN; TRUNCATE public.ledger; TRUNCATE public.ledger; ROLLBACK",
	dbname => 'billing');
is($error, $refused_truncate, 'a second run in the same transaction is refused');
ok(MpaTest::poll_until($node, "SELECT state = 'approved' FROM mpa.requests WHERE id = $ledger"),
	'and the transaction rolled back: approved');

# Run and committed: executed, once (a row added after the first run stays).
MpaTest::runs_once_in_database($node, 'dba', 'TRUNCATE public.ledger', $ledger, $refused_truncate,
	dbname => 'billing', between => 'INSERT INTO public.ledger VALUES (2)');
is($node->safe_psql('billing', 'SELECT string_agg(id::text, \',\') FROM public.ledger'), '2',
	"billing's ledger was emptied once");
is(join(',', map { $node->safe_psql($_, 'SELECT count(*) FROM public.ledger') } qw(crm postgres)), '1,1',
	"crm's and mpa.database's ledgers were never emptied");

# Expired before it was spent: refused by the claim itself. The worker is
# held, so the request is still 'approved' past its deadline: only the
# claim's own check of expires_at stands between it and the statement.
ok(MpaTest::reconfigure($node, 'mpa.request_ttl' => '20s'), 'mpa.request_ttl = 20s');
my $late = approved_request('TRUNCATE public.ledger', 'billing');
my $held = MpaTest::hold_worker($node);
ok(MpaTest::poll_until($node, "SELECT expires_at < now() FROM mpa.requests WHERE id = $late", 40),
	'the approval reached its deadline unspent');
($rc, $error) = MpaTest::refusal_as($node, 'dba', 'TRUNCATE public.ledger', dbname => 'billing');
is($error, $refused_truncate, 'an expired approval is not spent in billing');
is(state_of($late), 'approved', '(the worker did not expire it first)');
MpaTest::release_worker($held);
ok(MpaTest::reconfigure($node, 'mpa.request_ttl' => '1h'), 'mpa.request_ttl = 1h');

# A prepared transaction holds the request executing until it ends (its
# transaction is in progress until COMMIT or ROLLBACK PREPARED); then
# executed, or approved again. The end of a prepared transaction runs no
# callback of pg_mpa's: the worker finds it on a round it is woken for by
# anything else (a mail here) or on its timer.
sub prepared_then
{
	my ($gid, $end, $after) = @_;
	my $id = approved_request('TRUNCATE public.ledger', 'billing');
	my (undef, $error) = MpaTest::refusal_as($node, 'dba',
		"BEGIN; TRUNCATE public.ledger; PREPARE TRANSACTION '$gid'", dbname => 'billing');
	is($error, '', "an approved TRUNCATE is prepared in billing ($gid)");
	is(state_of($id), 'executing', 'the request is executing while the transaction is prepared');
	$node->safe_psql('billing', "$end '$gid'");
	MpaTest::queue_test_mail($node, 'nobody@example.com');
	ok(MpaTest::poll_until($node, "SELECT state = '$after' FROM mpa.requests WHERE id = $id", 90),
		"the request is $after once $end ran");
	return;
}
prepared_then('month_end', 'COMMIT PREPARED', 'executed');
prepared_then('month_end_2', 'ROLLBACK PREPARED', 'approved');

# A renamed database is not the one approvers were shown (the request
# names it, and its OID): the approval is not spent there, by a statement
# typed there or through mpa_execute. ('*' covers the new database; its
# table is made by dba, as a policy protects re-owning it.)
$node->safe_psql('postgres', 'CREATE DATABASE archive');
$node->safe_psql('archive', 'GRANT CREATE ON SCHEMA public TO dba');
MpaTest::safe_psql_as($node, 'dba', 'CREATE TABLE public.ledger (id int)', dbname => 'archive');
my $archive = approved_request('TRUNCATE public.ledger', 'archive');
$node->safe_psql('postgres', 'ALTER DATABASE archive RENAME TO archive_2025');
($rc, $error) = MpaTest::refusal_as($node, 'dba', 'TRUNCATE public.ledger', dbname => 'archive_2025');
is($error, $refused_truncate, 'an approval is not spent in its database once renamed');
($rc, $error) = MpaTest::refusal_as($node, 'dba', "SELECT mpa_execute($archive)");
is($error, $refused_truncate, 'nor through mpa_execute');
is(state_of($archive), 'approved', 'the request stays approved');

# mpa_execute in mpa.database runs billing's approved statement in billing,
# through billing's gate. A statement that fails there: its error is the
# caller's, recorded in the audit, and the approval stays.
$node->safe_psql('billing', 'CREATE VIEW public.open_invoices AS SELECT id FROM public.invoices');
my $drop = approved_request('DROP TABLE public.invoices', 'billing');
# What the drop also removes is compared with what approvers were shown,
# computed in billing: a view attached since refuses it (MP001), naming it.
$node->safe_psql('billing', 'CREATE VIEW public.late_invoices AS SELECT id FROM public.invoices');
my ($out, $err);
($rc, $out, $err) = MpaTest::psql_as($node, 'dba', 'DROP TABLE public.invoices', dbname => 'billing',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  MP001: request $drop was approved when the statement reached other objects\nDETAIL:  Since the request, the statement now also removes view public.late_invoices, rule _RETURN on view public.late_invoices\.\n/,
	'a view attached since the approval refuses the drop in billing');
$node->safe_psql('billing', 'DROP VIEW public.late_invoices');
is(state_of($drop), 'approved', 'the approval stays');
($rc, $error) = MpaTest::refusal_as($node, 'eve', "SELECT mpa_execute($drop)");
is($error, "MP003: only the requester (dba) may execute request $drop", 'only the requester may execute it');
($rc, $error) = MpaTest::refusal_as($node, 'dba', "SELECT mpa_execute($drop)");
is($error, '2BP01: cannot drop table invoices because other objects depend on it',
	"mpa_execute reports billing's error");
ok(MpaTest::poll_until($node, "SELECT state = 'approved' FROM mpa.requests WHERE id = $drop"),
	'the failed statement leaves the request approved');
ok(MpaTest::poll_until($node,
	"SELECT detail ->> 'error' = '2BP01: cannot drop table invoices because other objects depend on it'"
	  . " AND detail ->> 'database' = 'billing' FROM mpa.audit WHERE kind = 'execution failed' AND request_id = $drop"),
	'the audit records the failure with its error');
is($node->safe_psql('billing', q{SELECT to_regclass('public.invoices') IS NOT NULL}), 't', 'the table is still there');

# Once it can run: mpa_execute runs it in billing and records it executed
# in its own transaction (the worker is held: nobody else resolves it).
$node->safe_psql('billing', 'DROP VIEW public.open_invoices');
$held = MpaTest::hold_worker($node);
($rc, $error) = MpaTest::refusal_as($node, 'dba', "SELECT mpa_execute($drop)");
is($error, '', 'mpa_execute runs the approved DROP TABLE in billing');
is(state_of($drop), 'executed', 'and the request is executed when it returns');
MpaTest::release_worker($held);
is($node->safe_psql('billing', q{SELECT to_regclass('public.invoices') IS NULL}), 't', "billing's table is gone");
is($node->safe_psql('crm', q{SELECT to_regclass('public.invoices') IS NOT NULL}), 't', "crm's is not");
($rc, $error) = MpaTest::refusal_as($node, 'dba', "SELECT mpa_execute($drop)");
is($error, "MP004: request $drop is executed, not approved", 'and it cannot be executed again');

done_testing();
