# No code in the server log or in pg_stat_statements beside the extensions
# production servers carry: pgaudit (statement and parameter logging,
# nested statements) and pg_stat_statements, preloaded before and after
# pg_mpa, with every log setting at its most verbose. Codes are entered as
# a literal, through PREPARE/EXECUTE, from a DO block and from a function
# of the approver's; wrong ones too. Then the log and pg_stat_statements
# are searched for every code used.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

for my $order ('pg_mpa, pgaudit, pg_stat_statements', 'pgaudit, pg_stat_statements, pg_mpa')
{
	# A mailbox of its own: both clusters number their requests from 1.
	my $smtp = MpaTest::start_smtp();
	(my $name = $order) =~ s/\W+/_/g;
	my $node = MpaTest::new_node("beside_$name", $smtp, <<"CONF");
shared_preload_libraries = '$order'
mpa.resend_cooldown = 0
mpa.otp_max_attempts = 5
log_statement = all
log_min_duration_statement = 0
log_min_error_statement = debug5
log_parameter_max_length = -1
log_parameter_max_length_on_error = -1
log_error_verbosity = verbose
pgaudit.log = 'all'
pgaudit.log_parameter = on
pgaudit.log_catalog = on
pgaudit.log_relation = on
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
CONF
	$node->safe_psql('postgres', q{
		CREATE EXTENSION pgaudit; CREATE EXTENSION pg_stat_statements;
		CREATE ROLE alice LOGIN; CREATE ROLE rita LOGIN; CREATE TABLE public.ledger (id int);
		SELECT mpa_team_create('ops', 1);
		SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
		SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
		-- After the call, the function goes on with the code: pgaudit logs
		-- that statement with its parameters too.
		CREATE FUNCTION public.verify_for_me(request bigint, code text) RETURNS text LANGUAGE plpgsql AS
		  $$BEGIN
		    BEGIN RETURN mpa_verify(request, code);
		    EXCEPTION WHEN OTHERS THEN
		      RETURN (SELECT 'not taken: ' || count(*) || ' tables named so' FROM pg_catalog.pg_class WHERE relname = code);
		    END;
		  END$$;
	});
	my $request = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE public.ledger', 'cleanup')});
	chomp $request;
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($request, 'approve')");
	my $code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
	# Wrong codes that differ from the right one and from each other.
	my @wrong = map { sprintf('%06d', ($code + $_) % 1000000) } (11, 22, 33);

	# A wrong code through PREPARE/EXECUTE, another from the approver's own
	# function (the call nested in it), then the right one from a DO block.
	my ($rc, $out, $err) = MpaTest::psql_as($node, 'alice',
		"PREPARE v(bigint, text) AS SELECT mpa_verify(\$1, \$2);\nEXECUTE v($request, '$wrong[0]');");
	like($err, qr/wrong code/, "$order: a wrong code through PREPARE/EXECUTE is refused");
	like(MpaTest::safe_psql_as($node, 'alice', "SELECT public.verify_for_me($request, '$wrong[1]')"),
		qr/not taken: 0 tables named so/, "$order: a wrong code from a function is refused");
	# A driver binding its parameters on the server (psycopg 3, the
	# extended protocol: logged as "parameters: $1 = …, $2 = …").
	my $driver = <<'PY';
import sys, psycopg
with psycopg.connect(host=sys.argv[1], port=sys.argv[2], user="alice", dbname="postgres") as conn:
    try:
        conn.execute("SELECT mpa_verify(%s, %s)", (int(sys.argv[3]), sys.argv[4]))
        print("accepted")
    except psycopg.Error as error:
        print("refused:", error.diag.sqlstate)
PY
	my $driver_out = `/usr/bin/python3 -c '$driver' '@{[ $node->host ]}' '@{[ $node->port ]}' $request '$wrong[2]' 2>&1`;
	like($driver_out, qr/refused: MP005/, "$order: a wrong code bound by a driver is refused");
	MpaTest::safe_psql_as($node, 'alice', "DO \$\$BEGIN PERFORM mpa_verify($request, '$code'); END\$\$");
	is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'approved',
		"$order: the right code from a DO block approved the request");

	# (Read before anything else runs: no check below puts a code in SQL.)
	my $log = slurp_file($node->logfile);
	my $statements = $node->safe_psql('postgres', q{SELECT string_agg(query, E'\n') FROM pg_stat_statements});
	like($log, qr/AUDIT: SESSION/, "$order: pgaudit logged the session");
	like($log, qr/mpa\.check_code/, "$order: including pg_mpa's nested statements");
	like($log, qr/parameters: \$1 = '\d+', \$2 = '\*{6}'/, "$order: the driver's parameters were logged, blanked");
	for my $seen ($code, $wrong[0], $wrong[2])
	{
		unlike($log, qr/\Q$seen\E/, "$order: code $seen is not in the server log");
	}
	# pg_stat_statements keeps a utility statement's text as typed (a DO
	# block is not normalised); none of pg_mpa's own statements holds a code.
	my @kept = grep { /\Q$code\E|\Q$wrong[0]\E|\Q$wrong[2]\E/ } split /\n/, $statements;
	is_deeply([ grep { !/^DO \$\$BEGIN PERFORM mpa_verify/ } @kept ], [],
		"$order: pg_stat_statements holds a code only in the DO block as the approver typed it");
	# A code passed to a function of the approver's own is logged as the
	# approver typed it, before anything of pg_mpa runs (log_statement,
	# pgaudit's top-level line): those lines name verify_for_me. No line
	# written once pg_mpa had the code (pgaudit's nested statements with
	# their parameters, errors) holds it.
	my @holding = grep { /\Q$wrong[1]\E/ } split /\n/, $log;
	ok(@holding > 0, "$order: the wrapping function's call was logged as typed");
	is_deeply([ grep { !/verify_for_me\(\d+, '\Q$wrong[1]\E'\)/ } @holding ], [],
		"$order: only in the approver's own statement text");
	unlike($statements, qr/\Q$wrong[1]\E/, "$order: and not in pg_stat_statements");
	$node->stop;
}

done_testing();
