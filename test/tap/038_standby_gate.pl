# The gate on a hot standby. Replay moves no policy generation (only commits
# made on the server itself do), and no mail worker runs on a standby to
# publish policies to the other databases. So:
#  1. In mpa.database, every statement is judged with the policies replayed
#     so far: a session that read the policies before a policy (or
#     governance) reached the standby is bound by it at its next statement,
#     and so is a new session.
#  2. A protected statement that a standby runs (ALTER SYSTEM, COPY … TO
#     PROGRAM, the server-file functions, LOAD, SET of pg_mpa's settings) is
#     refused there with MP001: approvals can be neither recorded nor spent
#     on a read-only server.
#  3. In the other databases of a standby, pg_mpa cannot read the policies:
#     what governance protects is refused there (MP001), fail closed,
#     whether or not a team governs pg_mpa.
#  4. Statements PostgreSQL refuses during recovery (DDL) get PostgreSQL's
#     own 25006, not a pg_mpa refusal; unprotected read-only work runs.
#  5. Promoted, the server judges as a primary again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $primary = MpaTest::new_node('primary', undef, undef, allows_streaming => 1);
$primary->safe_psql('postgres', <<'SQL');
CREATE DATABASE app;
CREATE ROLE alice;
CREATE TABLE public.t (i int);
SELECT mpa_team_create('security', 1);
SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
SELECT mpa_protect('DROP TABLE', 'public.t', 'security');
SQL
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
my $auto_conf = $standby->data_dir . '/postgresql.auto.conf';

# Refused as pg_mpa refuses a protected statement on a standby (2).
# (The server-file functions keep their own words: governed, they are refused
# wherever they run.)
my $protected_on_standby =
  qr/^MP001: (?:.* requires the approval of team "security"|\S+\(\) reads or writes files on the server, which team "security" governs with pg_mpa)$/;
# Refused as pg_mpa refuses where it cannot read the policies (3).
my $unknown_here = qr/^MP001: \S.* is refused here: this server is a standby, and pg_mpa cannot read the current policies in database "app"$/;

# ---------------------------------------------------------------------------
# Before anything is protected. A session on the standby in mpa.database
# reads the policies now (its statements run) and stays connected.
my $old = $standby->background_psql('postgres', on_error_stop => 0,
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(MpaTest::session_refusal($old, q{ALTER SYSTEM SET work_mem = '5MB'}), '',
	'before any policy, ALTER SYSTEM runs on the standby');
is(MpaTest::session_refusal($old, q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'}), '',
	'... and COPY TO PROGRAM');
like(slurp_file($auto_conf), qr/^work_mem = '5MB'$/m, "the standby's postgresql.auto.conf has it");

# In another database the policies cannot be read on a standby: what
# governance would protect is refused even before any team governs.
my ($rc, $err) = MpaTest::refusal_as($standby, 'postgres', q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'}, dbname => 'app');
like($err, $unknown_here, 'in another database of the standby, COPY TO PROGRAM is refused, fail closed');
my ($out);
($rc, $out, $err) = MpaTest::psql_as($standby, 'postgres', q{COPY (SELECT 1) TO STDOUT}, dbname => 'app');
is("$rc|$out", '0|1', '... COPY to the client is not');

# ---------------------------------------------------------------------------
# 1, 2. A policy on ALTER SYSTEM of work_mem, replayed: a new session and the
# old one in mpa.database are bound by it. The new one first: what the old
# one published with its last read (the outline new sessions start from on
# a primary) lacks the policy.
$primary->safe_psql('postgres', q{SELECT mpa_protect('ALTER SYSTEM', 'work_mem', 'security')});
$primary->wait_for_catchup($standby);
($rc, $err) = MpaTest::refusal_as($standby, 'postgres', q{ALTER SYSTEM SET work_mem = '7MB'},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, $protected_on_standby, 'a new session is bound by the policy replayed');
# A plain query reads the policies too (mpa_request describes the statement
# before it writes): with a copy kept from before the policy it would say
# "not protected" (MP002) instead of failing as read-only.
like(MpaTest::session_refusal($old, q{SELECT mpa_request('ALTER SYSTEM SET work_mem = ''9MB''', 'on a standby')}),
	qr/^25006: cannot execute .* in a read-only transaction$/,
	'mpa_request in a session that read the policies before the policy was replayed describes with it');
like(MpaTest::session_refusal($old, q{ALTER SYSTEM SET work_mem = '7MB'}), $protected_on_standby,
	'... and the gate binds that session by it');
is(MpaTest::session_refusal($old, q{ALTER SYSTEM SET maintenance_work_mem = '70MB'}), '',
	'ALTER SYSTEM of a parameter no policy names runs on the standby');

# A query string of several statements is one statement to PostgreSQL's
# clock. Strings begun before governance reaches the standby (their SET
# reads the policies) wait in a DO block until the governing policy is
# replayed (a poll, bounded), then try COPY TO PROGRAM (the gate) or
# pg_read_file (the function-execute hook): judged with the policies
# replayed by then, not with what their SET read.
my %strings;
for my $last (q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'}, q{SELECT pg_read_file('/etc/hostname')})
{
	my $session = $standby->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	$strings{$last} = [ $session, length $session->{stderr} ];
	$session->query_until(qr/started/, <<"SQL");
\\echo started
SET work_mem = '2MB' \\; DO \$\$BEGIN FOR i IN 1 .. 600 LOOP EXIT WHEN EXISTS (SELECT FROM mpa.policies WHERE operation = 'MPA CONFIGURE'); PERFORM pg_sleep(0.05); END LOOP; END\$\$ \\; $last;
SQL
}
ok(MpaTest::poll_until($standby, q{SELECT count(*) = 2 FROM pg_stat_activity
	WHERE wait_event = 'PgSleep' AND query LIKE 'SET work_mem%'}),
	'the query strings wait, their SET judged before governance was replayed');

# Governance begins on the primary.
$primary->safe_psql('postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'security')});
$primary->wait_for_catchup($standby);
for my $last (sort keys %strings)
{
	my ($session, $seen) = @{ $strings{$last} };
	$session->query('SELECT 1');    # returns once the string has ended
	like(MpaTest::session_error_since($session, $seen), $protected_on_standby,
		"the last statement of a query string begun before governance was replayed is judged with it: $last");
	$session->quit;
}

# 3 first, while the copy published for other databases (by the old
# session, before governance) is stale: it must not be what decides.
my @governed = (
	q{ALTER SYSTEM SET work_mem = '7MB'},
	q{ALTER SYSTEM SET shared_preload_libraries = ''},
	q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'},
	q{SELECT pg_read_file('/etc/hostname')},
	q{SELECT count(*) FROM pg_ls_waldir()},
	q{LOAD 'auto_explain'},
	q{SET session_replication_role = replica});
for my $statement (@governed)
{
	($rc, $err) = MpaTest::refusal_as($standby, 'postgres', $statement, dbname => 'app');
	like($err, $unknown_here, "in another database of the standby: $statement");
}
($rc, $out, $err) = MpaTest::psql_as($standby, 'postgres', q{SELECT count(*) > 0 FROM pg_class}, dbname => 'app');
is("$rc|$out", '0|t', 'an unprotected read-only query runs in another database of the standby');

for my $statement (@governed)
{
	($rc, $err) = MpaTest::refusal_as($standby, 'postgres', $statement,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, $protected_on_standby, "governance replayed binds a new session: $statement");
	like(MpaTest::session_refusal($old, $statement), $protected_on_standby,
		"... and the old session: $statement");
}
unlike(slurp_file($auto_conf), qr/7MB|shared_preload_libraries/,
	"none of it reached the standby's postgresql.auto.conf");
# What the refusal says: where it can be done instead.
($rc, $out, $err) = MpaTest::psql_as($standby, 'postgres', q{ALTER SYSTEM SET work_mem = '7MB'});
like($err, qr/DETAIL:  This server is a standby: approvals can be neither recorded nor spent on it\./,
	'the refusal says why it cannot be approved here');
like($err, qr/HINT:  Ask for approval with mpa_request\(\) on the primary and run the statement there; a setting for this standby alone belongs in its postgresql\.conf\./,
	'... and where it can be done');

# 4. Unprotected work runs; what PostgreSQL refuses during recovery is
# refused by PostgreSQL, not by pg_mpa.
($rc, $out, $err) = MpaTest::psql_as($standby, 'postgres', q{SET work_mem = '8MB'; SELECT count(*) FROM public.t});
is("$rc|$out", '0|0', 'an unprotected SET and query run in mpa.database on the standby');
# (A policy names DROP TABLE public.t: on a primary it would be pg_mpa's.)
for my $db (qw(postgres app))
{
	($rc, $err) = MpaTest::refusal_as($standby, 'postgres', 'DROP TABLE public.t', dbname => $db);
	is($err, '25006: cannot execute DROP TABLE in a read-only transaction',
		"DDL on the standby ($db) gets PostgreSQL's read-only error, not pg_mpa's");
	($rc, $err) = MpaTest::refusal_as($standby, 'postgres', q{COPY public.t FROM PROGRAM 'true'}, dbname => $db);
	is($err, '25006: cannot execute COPY during recovery',
		"COPY FROM PROGRAM on the standby ($db) is PostgreSQL's to refuse");
}

# ---------------------------------------------------------------------------
# 5. Promoted: a primary's refusals again (approval asked for here), and the
# other databases judge from what the new primary's worker publishes.
$standby->promote;
$old->quit;
($rc, $out, $err) = MpaTest::psql_as($standby, 'postgres', q{ALTER SYSTEM SET work_mem = '7MB'});
like($err, qr/HINT:  Ask for approval with: SELECT mpa_request\('ALTER SYSTEM SET work_mem = ''7MB''', 'why this is needed'\);/,
	'after the promotion, a protected statement is to be approved here');
ok(MpaTest::poll_until($standby,
		q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'}),
	'the mail worker runs after the promotion (it publishes the policies)');
# The worker publishes in its first round: until then the other databases
# use the copy read before the promotion (031), so poll.
my $deadline = time() + 30;
while (1)
{
	($rc, $err) = MpaTest::refusal_as($standby, 'postgres', q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'}, dbname => 'app');
	last if $err !~ /this server is a standby/ || time() > $deadline;
	select(undef, undef, undef, 0.2);
}
is($err, 'MP001: COPY on * requires the approval of team "security"',
	'in another database of the new primary, the published governance decides again');
($rc, $err) = MpaTest::refusal_as($standby, 'postgres', q{SELECT count(*) FROM pg_ls_waldir()}, dbname => 'app');
is($err, 'MP001: pg_ls_waldir() reads or writes files on the server, which team "security" governs with pg_mpa',
	'... and server files stay closed there');
# Each refusal on the standby was kept in its shared memory (its audit table
# is the primary's, read-only); the new primary's worker writes them.
ok(MpaTest::poll_until($standby, q{SELECT count(*) > 0 FROM mpa.audit WHERE kind = 'refused'
	AND detail->>'statement' = 'SET session_replication_role = replica'}),
	'the refusals made on the standby are in the audit after the promotion');

done_testing();
