# Random queries (issue #18): sqlsmith, as superuser, against a cluster that
# team "security" governs. sqlsmith reads the catalogs and generates
# queries that call any function it found with arguments of the right types
# (NULLs, small numbers, values from the tables' columns), pg_mpa's public
# and internal functions among them. Whatever it sends:
#   - the server does not crash (no backend killed by a signal, no restart);
#   - no error with SQLSTATE XX000 (internal error) comes from pg_mpa;
#   - the gate still refuses a protected statement (MP001), the audit chain
#     is intact, and the teams, approvers, policies, votes and the requests
#     made before the run are exactly as they were.
# The run is bounded and reproducible: MPA_SQLSMITH_QUERIES queries
# (default 5000, about a minute on 2 cores) from seed MPA_SQLSMITH_SEED
# (default 1); a list of seeds ("1,2,3") runs each in turn, for longer
# hunts by hand.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my ($sqlsmith) = grep { -x "$_/sqlsmith" } split /:/, "$ENV{PATH}:/usr/bin";
plan skip_all => 'sqlsmith is not installed (Debian package sqlsmith; test/run installs it)'
  unless $sqlsmith;
$sqlsmith .= '/sqlsmith';
my $queries = $ENV{MPA_SQLSMITH_QUERIES} // 5000;
my @seeds = split /,/, ($ENV{MPA_SQLSMITH_SEED} // '1');

my $smtp = MpaTest::start_smtp();
# The log carries what the checks below read: each entry's SQLSTATE (%e),
# its source location (verbose: pg_mpa's are its own .cpp files) and the
# statement that failed. Statements that succeed are not logged (the
# cluster's default logs them all: megabytes per thousand queries). After a
# crash the server restarts (PostgreSQL::Test::Cluster turns that off), so
# sqlsmith carries on and the checks below name what happened.
my $node = MpaTest::new_node('random_queries', $smtp, <<'CONF');
log_statement = none
restart_after_crash = on
log_line_prefix = '%m [%p] %e '
log_error_verbosity = verbose
log_min_error_statement = error
mpa.resend_cooldown = 0
CONF

# A governed cluster with some history: two teams, confirmed approvers,
# policies on a schema's tables (DROP, TRUNCATE, ALTER), requests in every
# state, and the audit of all that. The requester is dba, not the
# superuser sqlsmith connects as, so nothing sqlsmith may legitimately do
# (cancel or run its own requests) can touch them.
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN;
	CREATE ROLE dba LOGIN;
	CREATE SCHEMA prod AUTHORIZATION dba;
	SET ROLE dba;
	CREATE TABLE prod.accounts (id int PRIMARY KEY, owner text);
	INSERT INTO prod.accounts VALUES (1, 'x'), (2, 'y');
	CREATE TABLE prod.ledger (id int REFERENCES prod.accounts, amount numeric);
	CREATE TABLE prod.old (id int);
	CREATE TABLE prod.scratch (id int);
	RESET ROLE;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
	SELECT mpa_team_create('finance', 1);
	SELECT mpa_approver_add('finance', 'dave', 'dave@example.com');
});
for my $approver (['alice', 'security'], ['bob', 'security'], ['carol', 'security'], ['dave', 'finance'])
{
	MpaTest::confirm_approver($node, $smtp, @$approver);
}
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT mpa_protect(op, 'prod.*', 'security') FROM unnest(ARRAY['DROP TABLE', 'TRUNCATE', 'ALTER TABLE']) op;
	SELECT mpa_protect('DROP SCHEMA', 'prod', 'security');
	SELECT mpa_protect('GRANT', 'prod.ledger', 'finance');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	COMMIT;
});

my %request;
sub request_as_dba
{
	my ($statement) = @_;
	my $id = MpaTest::safe_psql_as($node, 'dba', "SELECT mpa_request('$statement', 'random queries fixture')");
	chomp $id;
	return $id;
}
$request{pending} = request_as_dba('DROP TABLE prod.accounts CASCADE');
$request{approved} = request_as_dba('TRUNCATE prod.scratch');
MpaTest::approve($node, $smtp, $request{approved}, $_) for ('alice', 'bob');
$request{rejected} = request_as_dba('ALTER TABLE prod.accounts DROP COLUMN owner');
MpaTest::vote($node, $smtp, $request{rejected}, $_, 'reject') for ('bob', 'carol');
$request{cancelled} = request_as_dba('DROP TABLE prod.ledger');
MpaTest::safe_psql_as($node, 'dba', "SELECT mpa_cancel($request{cancelled})");
$request{executed} = request_as_dba('DROP TABLE prod.old');
MpaTest::approve($node, $smtp, $request{executed}, $_) for ('alice', 'carol');
MpaTest::safe_psql_as($node, 'dba', 'DROP TABLE prod.old');
$request{action} = MpaTest::safe_psql_as($node, 'dba',
	q{SELECT mpa_request_action('finance', 'refund', '{"amount": 12}', 'random queries fixture')});
chomp $request{action};
is($node->safe_psql('postgres', 'SELECT string_agg(state, \',\' ORDER BY id) FROM mpa.requests'),
	'pending,approved,rejected,cancelled,executed,pending', 'the fixture has requests in every state');

# What the random queries must leave as it is: everything pg_mpa keeps that
# decides an approval. The audit grows (refusals are recorded), sqlsmith's
# own requests and mail are new rows, and a baseline (mpa_team_baseline,
# which a superuser may call) opens confirmation codes: those are left out.
my $snapshot_sql = q{
	SELECT string_agg(t, E'\n' ORDER BY t) FROM (
	  SELECT 'team ' || row(name, threshold, description)::text AS t FROM mpa.teams
	  UNION ALL SELECT 'approver ' || row(team, approver, email, verified_at, pending_email)::text FROM mpa.approvers
	  UNION ALL SELECT 'policy ' || row(p.*)::text FROM mpa.policies p
	  UNION ALL SELECT 'vote ' || row(v.*)::text FROM mpa.votes v
	  UNION ALL SELECT 'request ' || row(r.*)::text FROM mpa.requests r WHERE id <= __LAST__
	  UNION ALL SELECT 'temporary grant ' || row(g.*)::text FROM mpa.temporary_grants g) s};
my $last = $node->safe_psql('postgres', 'SELECT max(id) FROM mpa.requests');
$snapshot_sql =~ s/__LAST__/$last/;
my $before = $node->safe_psql('postgres', $snapshot_sql);
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
# pg_mpa's public functions written in C (its internal ones are refused
# before their code runs): PostgreSQL's code they call reports its own
# source location and no CONTEXT.
my @c_functions = split /\n/, $node->safe_psql('postgres', q{
	SELECT p.proname
	  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname <> 'mpa'
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_mpa'
	 WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')});
# Where PostgreSQL raises the internal errors sqlsmith provokes in its own
# functions (pg_stop_making_pinned_objects(), interval(interval, int) with
# a made-up typmod, an unknown literal coerced in an odd place); pg_mpa's
# code takes none of these paths outside a CONTEXT of its own.
my %postgres_internal_errors = map { $_ => 1 }
  qw(SetNextObjectId intervaltypmodleastfield intervaltypmodout AdjustIntervalForTypmod coerce_type);
my $log_offset = -s $node->logfile;

my $target = sprintf('host=%s port=%d dbname=postgres user=postgres', $node->host, $node->port);
my @pg_mpa_calls;    # the generated queries that call one of pg_mpa's functions
# Two passes a seed, half the queries each: over every table (PostgreSQL's
# catalogs feed odd values, and writes to them meet pg_mpa's protection),
# and over pg_mpa's and the fixture's tables only (--exclude-catalog): their
# columns hold request ids, team names and statements, so more calls of
# pg_mpa's functions fit their argument types and reach their code.
my @passes = ([ 'all tables', () ], [ 'pg_mpa\'s and the fixture\'s tables', '--exclude-catalog' ]);
my $per_pass = int($queries / @passes);
for my $seed (@seeds)
{
	for my $pass (@passes)
	{
		my ($tables, @options) = @$pass;
		my ($out, $err) = ('', '');
		# sqlsmith runs each query in a transaction it rolls back, under its
		# own statement_timeout (1 s); the timer stops a run that stalls (a
		# server that does not come back), which fails below.
		my $finished = eval {
			IPC::Run::run([ $sqlsmith, "--target=$target", "--seed=$seed", "--max-queries=$per_pass",
				'--dump-all-queries', '--verbose', @options ], '<', \undef, '>', \$out, '2>', \$err,
				IPC::Run::timeout(600));
		};
		# Its last report (one every 800 queries, and at the end) counts the
		# queries and its errors by message.
		my ($report) = $err =~ /.*\n(queries: \d+\n.*)/s;
		ok($finished && ($report // '') =~ /^queries: $per_pass\n/,
			"sqlsmith seed $seed ran its $per_pass queries over $tables") or diag($@, substr($err, -3000));
		my @calls = grep { /\bmpa[._]\w+\s*\(/ } split /;\n/, $out;
		push @pg_mpa_calls, @calls;
		note("seed $seed, $tables: " . scalar(@calls) . " queries called pg_mpa's functions; sqlsmith's errors:\n"
			  . join("\n", ($report // '') =~ /^(\d+\t.*)$/mg));
	}
}
# A run that never reached pg_mpa would prove nothing: about one query in
# seven calls one of its functions; one in a hundred is asked for.
cmp_ok(scalar(@pg_mpa_calls), '>=', int(@seeds * $queries / 100), 'the random queries called pg_mpa\'s functions');

# The server survived: the postmaster is the one that started, and no
# process of it crashed (a crash restarts every other process but keeps
# pg_postmaster_start_time: the log tells).
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'the postmaster did not restart');
my @entries = log_entries(substr(slurp_file($node->logfile), $log_offset));
my @crashes = grep {
	$_->{severity} eq 'PANIC'
	  || $_->{message} =~ /terminated by (?:signal|exception)|all server processes terminated/
} @entries;
is(scalar(@crashes), 0, 'no server process crashed');
diag(explain_entry($_)) for @crashes;

# No internal error from pg_mpa. PostgreSQL's own functions can fail with
# XX000 on some random input too (sqlsmith found "cannot advance OID counter
# anymore", "invalid INTERVAL typmod", "failed to find conversion function
# from unknown to text"); those are shown but do not fail the test.
my @internal = grep { $_->{sqlstate} =~ /^XX/ } @entries;
my @ours = grep { from_pg_mpa($_) } @internal;
is(scalar(@ours), 0, 'no internal error (XX000) from pg_mpa');
diag(explain_entry($_)) for @ours;
note('internal error of PostgreSQL itself, not pg_mpa\'s: ' . explain_entry($_))
  for grep { !from_pg_mpa($_) } @internal;
my %by_sqlstate;
$by_sqlstate{ $_->{sqlstate} }++ for grep { $_->{severity} eq 'ERROR' && from_pg_mpa($_) } @entries;
note('errors from pg_mpa by SQLSTATE: ' . join(', ', map { "$_ $by_sqlstate{$_}" } sort keys %by_sqlstate));

# The gate and the configuration are still governed: dba owns the table, so
# PostgreSQL would let the DROP through; only pg_mpa refuses it.
is_deeply([ MpaTest::refusal_as($node, 'dba', 'DROP TABLE prod.accounts') ],
	[ 3, 'MP001: DROP TABLE on prod.accounts requires the approval of team "security"' ],
	'a protected DROP is still refused by pg_mpa');
is_deeply([ MpaTest::refusal_as($node, 'postgres', q{SELECT mpa_unprotect('DROP TABLE', 'prod.*')}) ],
	[ 3, 'MP001: mpa_unprotect is a configuration change that requires the approval of team "security"' ],
	'the configuration is still governed');
is($node->safe_psql('postgres', $snapshot_sql), $before,
	'teams, approvers, policies, votes and the earlier requests are unchanged');

# The audit: the worker chained everything the run recorded (refusals of
# internal calls and of writes to pg_mpa's tables), and the chain is intact.
ok(MpaTest::poll_until($node, 'SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL', 20),
	'the worker chained the audit');
is($node->safe_psql('postgres', 'SELECT intact FROM mpa_audit_verify()'), 't', 'the audit chain is intact');

done_testing();

# The server log as entries: { pid, sqlstate, severity, message, lines }
# where lines holds the entry's DETAIL, HINT, CONTEXT, LOCATION and
# STATEMENT by name (log_line_prefix '%m [%p] %e ', verbose). Lines without
# the prefix continue the line before them (a statement over many lines).
sub log_entries
{
	my ($log) = @_;
	my (@entries, %current, $last);
	for my $line (split /\n/, $log)
	{
		if ($line =~ /^\d{4}-\d\d-\d\d \S+ \S+ \[(\d+)\] (\w{5}) ([A-Z]+):  (?:\w{5}: )?(.*)$/)
		{
			my ($pid, $sqlstate, $severity, $text) = ($1, $2, $3, $4);
			if ($severity =~ /^(?:DETAIL|HINT|CONTEXT|LOCATION|STATEMENT|QUERY)$/ && $current{$pid})
			{
				$current{$pid}{lines}{$severity} .= $text;
				$last = \$current{$pid}{lines}{$severity};
			}
			else
			{
				my $entry = { pid => $pid, sqlstate => $sqlstate, severity => $severity,
					message => $text, lines => {} };
				push @entries, $entry;
				$current{$pid} = $entry;
				$last = \$entry->{message};
			}
		}
		elsif ($last)
		{
			$$last .= "\n$line";
		}
	}
	return @entries;
}

# Whether an error comes from pg_mpa: raised in its C++ (its source files
# are .cpp, PostgreSQL's .c); or inside one of its SQL or PL/pgSQL functions
# (the CONTEXT names it); or, with no CONTEXT, in a statement that calls
# one of its public C functions, unless PostgreSQL raised it in one of the
# places listed above. An error without a STATEMENT counts too: pg_mpa's
# log redaction drops it in a transaction that submitted a code, and the
# mail worker, pg_mpa's, runs no client statement. Not pg_mpa's:
# PostgreSQL's own error in a statement that merely calls some pg_mpa
# function as well (sqlsmith's queries call dozens of functions each).
sub from_pg_mpa
{
	my ($e) = @_;
	my $l = $e->{lines};
	my ($where) = ($l->{LOCATION} // '') =~ /^(\w+), /;
	return 1 if ($l->{LOCATION} // '') =~ /\.cpp:\d+/;
	return 1 if ($l->{CONTEXT} // '') =~ /\bmpa[._]\w+/;
	return 1 unless defined $l->{STATEMENT};
	return 0 if defined $l->{CONTEXT} || $postgres_internal_errors{ $where // '' };
	return scalar grep { $l->{STATEMENT} =~ /(?<![\w.])(?:\w+\.)?\Q$_\E\s*\(/ } @c_functions;
}

sub explain_entry
{
	my ($e) = @_;
	return join("\n", "[$e->{pid}] $e->{sqlstate} $e->{severity}: $e->{message}",
		map { "  $_: $e->{lines}{$_}" } sort keys %{ $e->{lines} });
}
