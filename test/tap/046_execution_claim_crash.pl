# A crash between the claim and the commit of an approved statement in
# another database (#19; docs/decisions.md "Execution exactly once"): the
# claim is durable before the statement runs, so the request is 'executing'
# by a transaction the crash aborts. After the restart the request is
# approved again (never executed: the statement did not commit), spendable,
# and runs exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('claim_crash', $smtp, "restart_after_crash = on\n");
$node->safe_psql('postgres', q{CREATE DATABASE billing; CREATE ROLE dba LOGIN; CREATE ROLE alice LOGIN;});
$node->safe_psql('billing', q{
	CREATE TABLE public.ledger (id int);
	ALTER TABLE public.ledger OWNER TO dba;
	INSERT INTO public.ledger VALUES (1);
});
$node->safe_psql('postgres', q{
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_protect('TRUNCATE TABLE', 'public.ledger', 'security', database => 'billing');
});
my $refused = 'MP001: TRUNCATE TABLE on public.ledger requires the approval of team "security"';
# (In a transaction rolled back: tried before the policy reached billing,
# it would run.)
is(MpaTest::refusal_once_published($node, 'dba', 'BEGIN; TRUNCATE public.ledger; ROLLBACK', $refused,
		dbname => 'billing'),
	$refused, 'TRUNCATE is refused in billing before any approval');

my $id = MpaTest::safe_psql_as($node, 'dba',
	q{SELECT mpa_request('TRUNCATE public.ledger', 'month end', database => 'billing')});
MpaTest::approve($node, $smtp, $id, 'alice');
sub state_of { return $node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $id"); }
is(state_of(), 'approved', 'the request is approved');

# The statement is made to wait after its claim, before its commit: another
# session holds a lock TRUNCATE needs (the gate claims before the statement
# takes its own locks).
my $holder = $node->background_psql('billing');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE public.ledger IN ACCESS SHARE MODE');
my $runner = $node->background_psql('billing', extra_params => [ '-U', 'dba' ], on_error_stop => 0);
my $pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/^$/, "TRUNCATE public.ledger;\n");
ok($node->poll_query_until('billing', "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid"),
	'the approved TRUNCATE waits for its lock');
is(state_of(), 'executing', 'claimed: the request is executing by its transaction');

# kill -9: the postmaster restarts every process; the statement's
# transaction never committed.
kill 'KILL', $pid or die "cannot kill $pid: $!";
eval { $holder->quit };
eval { $runner->quit };
ok(MpaTest::poll_until($node, "SELECT state = 'approved' FROM mpa.requests WHERE id = $id", 60),
	'after the restart the request is approved again');
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE kind = 'execution did not commit') || '/' || count(*) FILTER (WHERE kind = 'executed')"
	  . " FROM mpa.audit WHERE request_id = $id"),
	'1/0', 'the audit says it did not commit, and nothing was executed');
is($node->safe_psql('billing', 'SELECT count(*) FROM public.ledger'), '1', "billing's ledger is as it was");

# Spendable again, and run exactly once (a row added after the run stays).
MpaTest::runs_once_in_database($node, 'dba', 'TRUNCATE public.ledger', $id, $refused,
	dbname => 'billing', between => 'INSERT INTO public.ledger VALUES (2)');
is($node->safe_psql('billing', 'SELECT string_agg(id::text, \',\') FROM public.ledger'), '2',
	"billing's ledger was emptied once, after the restart");

done_testing();
