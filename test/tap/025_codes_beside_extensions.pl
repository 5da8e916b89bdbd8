# pg_mpa beside the extensions production servers carry: pgaudit
# (statement and parameter logging, nested statements), pg_stat_statements,
# auto_explain, pg_cron and set_user, preloaded before and after pg_mpa,
# with every log setting at its most verbose.
#
# No code in the server log or in pg_stat_statements: codes are entered as
# a literal, through PREPARE/EXECUTE, from a DO block, from a function of
# the approver's and bound by a driver, wrong ones too, and by an approver
# escalated with set_user (which tags and forces statement logging). Then
# the log and pg_stat_statements are searched for every code used.
#
# Neither extension gets around pg_mpa: set_user('approver') or
# set_session_auth('approver') by a superuser does not vote without the
# approver's code, and a pg_cron job (run over libpq and in a background
# worker) can neither run a protected statement nor vote in an approver's
# name without the code. The lock-cancel-reuse attack (test/tap/022) fails
# here too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

# Runs each job once as its role and returns name => { status, message }
# from cron.job_run_details; the jobs are unscheduled once run. pg_cron 1.4
# starts jobs at minute boundaries at best, but runs '@reboot' jobs as soon
# as its launcher starts: with $when 'restart' the jobs are scheduled
# '@reboot' and the server restarted (which draws a new code key: codes
# mailed before are dead), with 'next minute' they run at the next minute
# boundary. %jobs: name => [ role (undef: the scheduling superuser, through
# cron.schedule), command ]; names must be new (they identify the runs).
sub run_jobs
{
	my ($node, $label, $when, %jobs) = @_;
	my $schedule = $when eq 'restart' ? '@reboot' : '* * * * *';
	for my $name (sort keys %jobs)
	{
		my ($role, $command) = @{ $jobs{$name} };
		$node->safe_psql('postgres', defined $role
			? "SELECT cron.schedule_in_database('$name', '$schedule', \$job\$$command\$job\$, 'postgres', '$role')"
			: "SELECT cron.schedule('$name', '$schedule', \$job\$$command\$job\$)");
	}
	$node->restart if $when eq 'restart';
	my %run;
	for my $name (sort keys %jobs)
	{
		my $finished = qq{SELECT d.status IN ('succeeded', 'failed') FROM cron.job_run_details d
			JOIN cron.job j USING (jobid) WHERE j.jobname = '$name'};
		ok(MpaTest::poll_until($node, $finished, 90), "$label: job $name ran ($when)");
		# The job's run is found by name until it is unscheduled.
		my ($status, $message) = split /\|/, $node->safe_psql('postgres', qq{
			SELECT d.status || '|' || coalesce(d.return_message, '') FROM cron.job_run_details d
			JOIN cron.job j USING (jobid) WHERE j.jobname = '$name'}), 2;
		$run{$name} = { status => $status, message => $message };
		$node->safe_psql('postgres', "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$name'");
	}
	return \%run;
}

my %verbose = (
	'pg_mpa first' => 'pg_mpa, pgaudit, pg_stat_statements, auto_explain, pg_cron, set_user',
	'pg_mpa last' => 'set_user, pg_cron, auto_explain, pgaudit, pg_stat_statements, pg_mpa');
my %minute_mode = ('pg_mpa first' => 'libpq', 'pg_mpa last' => 'background workers');
for my $label (sort keys %verbose)
{
	my $order = $verbose{$label};
	# A mailbox of its own: both clusters number their requests from 1.
	my $smtp = MpaTest::start_smtp();
	(my $name = $label) =~ s/\W+/_/g;
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
# The backend type and application name tell a pg_cron job's lines: over
# libpq its application is pg_cron, in a background worker its type is.
log_line_prefix = '%m [%p] %b %a '
pgaudit.log = 'all'
pgaudit.log_parameter = on
pgaudit.log_catalog = on
pgaudit.log_relation = on
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
auto_explain.log_min_duration = 0
auto_explain.log_analyze = on
auto_explain.log_nested_statements = on
auto_explain.log_verbose = on
cron.database_name = 'postgres'
# pg_cron's launcher logs each job's command as it starts it.
cron.log_statement = on
cron.log_run = on
cron.log_min_messages = 'debug1'
cron.use_background_workers = off
max_worker_processes = 16
set_user.block_log_statement = on
set_user.superuser_audit_tag = 'AUDIT'
set_user.superuser_allowlist = '*'
set_user.nosuperuser_target_allowlist = '*'
CONF
	# pg_cron's jobs connect over the cluster's Unix socket (trusted).
	$node->append_conf('postgresql.conf', "cron.host = '" . $node->host . "'\n");
	$node->restart;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION pgaudit; CREATE EXTENSION pg_stat_statements;
		CREATE EXTENSION pg_cron; CREATE EXTENSION set_user;
		CREATE ROLE alice LOGIN; CREATE ROLE rita LOGIN; CREATE ROLE mallory LOGIN SUPERUSER;
		CREATE TABLE public.ledger (id int); CREATE TABLE public.vault (id int);
		SELECT mpa_team_create('ops', 1);
		SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
		SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
		SELECT mpa_protect('DROP TABLE', 'public.vault', 'ops');
		-- alice is also an administrator who escalates with set_user.
		GRANT EXECUTE ON FUNCTION set_user_u(text) TO alice;
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
	my ($code, $code_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
	my @mails_seen = ($code_mail);
	# Wrong codes that differ from the right one and from each other.
	my @wrong = map { sprintf('%06d', ($code + $_) % 1000000) } (11, 22, 33);

	# A wrong code through PREPARE/EXECUTE, another from the approver's own
	# function (the call nested in it), then the right one from a DO block.
	my ($rc, $out, $err) = MpaTest::psql_as($node, 'alice',
		"PREPARE v(bigint, text) AS SELECT mpa_verify(\$1, \$2);\nEXECUTE v($request, '$wrong[0]');");
	like($err, qr/wrong code/, "$label: a wrong code through PREPARE/EXECUTE is refused");
	like(MpaTest::safe_psql_as($node, 'alice', "SELECT public.verify_for_me($request, '$wrong[1]')"),
		qr/not taken: 0 tables named so/, "$label: a wrong code from a function is refused");
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
	like($driver_out, qr/refused: MP005/, "$label: a wrong code bound by a driver is refused");
	MpaTest::safe_psql_as($node, 'alice', "DO \$\$BEGIN PERFORM mpa_verify($request, '$code'); END\$\$");
	is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'approved',
		"$label: the right code from a DO block approved the request");

	# set_user: alice escalates to superuser with set_user_u, which tags
	# every later log line with its audit tag and forces log_statement =
	# all, then votes with her code (her session role is still alice, so
	# the vote is hers and counts).
	my $escalated = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE public.ledger', 'again')});
	chomp $escalated;
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($escalated, 'approve')");
	my ($escalated_code, $escalated_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $escalated);
	push @mails_seen, $escalated_mail;
	my $escalated_wrong = sprintf('%06d', ($escalated_code + 44) % 1000000);
	($rc, $out, $err) = MpaTest::psql_as($node, 'alice',
		"SELECT set_user_u('postgres');\nSELECT mpa_verify($escalated, '$escalated_wrong');\n"
		  . "SELECT mpa_verify($escalated, '$escalated_code');", on_error_stop => 0);
	like($err, qr/wrong code/, "$label: escalated with set_user, a wrong code is refused");
	like($out, qr/vote recorded: approve/, "$label: and her code records her vote");

	# A superuser takes alice's identity with set_user: current_user is
	# alice, the session role is not, so pg_mpa does not take the superuser
	# for alice (MP003), not even with alice's own code (MP005: no code
	# waits for the superuser). alice asked for that code herself.
	my $pending = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE public.vault', 'retire it')});
	chomp $pending;
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($pending, 'approve')");
	my ($alice_code, $alice_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $pending);
	push @mails_seen, $alice_mail;
	($rc, $out, $err) = MpaTest::psql_as($node, 'mallory',
		"\\set VERBOSITY verbose\nSELECT set_user('alice');\nSELECT current_user;\n"
		  . "SELECT mpa_vote($pending, 'approve');\nSELECT mpa_verify($pending, '$alice_code');",
		on_error_stop => 0);
	like($out, qr/^alice$/m, "$label: set_user('alice') made the superuser's current user alice");
	like($err, qr/ERROR:  MP003: role mallory is not an approver of team "ops"/,
		"$label: set_user('alice') does not let a superuser ask for alice's code (MP003)");
	like($err, qr/ERROR:  MP005: no code is waiting for you on request $pending/,
		"$label: nor use alice's code (MP005)");

	# set_session_auth('alice') makes the session alice's for good: pg_mpa
	# then takes it for alice, yet a vote still needs the code mailed to
	# alice's address.
	my $guess = sprintf('%06d', ($alice_code + 55) % 1000000);
	($rc, $out, $err) = MpaTest::psql_as($node, 'mallory',
		"\\set VERBOSITY verbose\nSELECT set_session_auth('alice');\nSELECT session_user;\n"
		  . "SELECT mpa_vote($pending, 'approve');\nSELECT mpa_verify($pending, '$guess');",
		on_error_stop => 0);
	like($out, qr/^alice$/m, "$label: set_session_auth('alice') made the session alice's");
	like($out, qr/a code to approve request $pending was sent to a\*+\@e\*+\.com/,
		"$label: the code it asks for goes to alice's address");
	like($err, qr/ERROR:  MP005: wrong code/, "$label: and without it the vote is refused (MP005)");
	my ($session_auth_code, $session_auth_mail) =
	  MpaTest::code_from_mail($smtp, 'alice@example.com', $pending, except => [@mails_seen]);
	push @mails_seen, $session_auth_mail;

	# The lock-cancel-reuse attack (test/tap/022) beside these extensions:
	# the code the superuser saw in pg_stat_activity is burned.
	my $held = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE public.ledger', 'held')});
	chomp $held;
	MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($held, 'approve')");
	my ($held_code, $held_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $held);
	push @mails_seen, $held_mail;
	my $attack = MpaTest::lock_cancel_reuse($node, attacker => 'mallory', approver => 'alice',
		request => $held, code => $held_code, view => 'public.peek');
	ok($attack->{waited} && $attack->{cancelled}, "$label: alice's verification waited on the lock and was cancelled");
	like($attack->{seen}, qr/\Q$held_code\E/, "$label: its code was on display in pg_stat_activity");
	like($attack->{reuse_err}, qr/ERROR:  MP005: this code can no longer be used/,
		"$label: the superuser reusing it as alice is refused (MP005)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.votes WHERE request_id = $held"), '0',
		"$label: no vote was recorded");
	$attack->{victim}->quit;

	# pg_cron, its jobs over libpq first, then in background workers. A job
	# that verifies needs the code its server lifetime mailed, so it cannot
	# run at a restart: it waits for a minute boundary, once per order (in
	# one mode, the other in the other order).
	my (@job_codes, $last_job_code);
	for my $mode ('libpq', 'background workers')
	{
		if ($mode eq 'background workers')
		{
			$node->append_conf('postgresql.conf', "cron.use_background_workers = on\n");
		}
		(my $m = $mode) =~ s/\W+/_/g;

		# A job as the superuser that schedules it drops a protected table;
		# another, in alice's name, asks for her code.
		my $log_offset = -s $node->logfile;
		my $run = run_jobs($node, "$label, $mode", 'restart',
			"drop_$m" => [ undef, 'DROP TABLE public.vault' ],
			"vote_$m" => [ 'alice', "SELECT mpa_vote($pending, 'approve')" ]);
		is($run->{"drop_$m"}{status}, 'failed', "$label, $mode: the job's DROP TABLE of a protected table failed");
		# The job's backend logged the refusal with pg_mpa's SQLSTATE and the
		# job's statement; pg_cron recorded the same message.
		my $log = slurp_file($node->logfile, $log_offset);
		my ($refusal) = $log =~ /pg_cron +ERROR:  MP001: ([^\n]*)\n(?:[^\n]*\n)*?[^\n]*STATEMENT:  DROP TABLE public\.vault\n/;
		ok(defined $refusal, "$label, $mode: the job's backend refused it with MP001");
		$refusal //= 'no refusal was logged';
		like($run->{"drop_$m"}{message}, qr/^ERROR: +\Q$refusal\E/, "$label, $mode: and pg_cron recorded that refusal");
		is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'vault' AND relnamespace = 'public'::regnamespace}), '1',
			"$label, $mode: the table is still there");
		is($run->{"vote_$m"}{status}, 'succeeded', "$label, $mode: a job in alice's name asked for a code");
		my ($job_code, $job_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $pending, except => [@mails_seen]);
		push @mails_seen, $job_mail;
		push @job_codes, $job_code;
		$last_job_code = $job_code;
		next unless $mode eq $minute_mode{$label};

		# Without that code (in alice's mailbox), a job in alice's name
		# cannot vote: a guess is refused with pg_mpa's SQLSTATE.
		my $job_guess = sprintf('%06d', ($job_code + 66) % 1000000);
		push @job_codes, $job_guess;
		$log_offset = -s $node->logfile;
		$run = run_jobs($node, "$label, $mode", 'next minute',
			"verify_$m" => [ 'alice', "SELECT mpa_verify($pending, '$job_guess')" ]);
		is($run->{"verify_$m"}{status}, 'failed', "$label, $mode: a job in alice's name with a guessed code failed");
		like($run->{"verify_$m"}{message}, qr/^ERROR: +wrong code/, "$label, $mode: as a wrong code");
		like(slurp_file($node->logfile, $log_offset), qr/pg_cron +ERROR:  MP005: wrong code/,
			"$label, $mode: refused with MP005");
		is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.votes WHERE request_id = $pending"), '0',
			"$label, $mode: no vote was recorded");
	}
	# The last job's code was real: alice's own session with it records her
	# vote (the guess was refused for being wrong, not for coming from a job).
	like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_verify($pending, '$last_job_code')"),
		qr/vote recorded: approve/, "$label: alice's code from the last job's mail records her vote");

	# (Read before anything else runs: no check below puts a code in SQL.)
	my $log = slurp_file($node->logfile);
	my $statements = $node->safe_psql('postgres', q{SELECT string_agg(query, E'\n') FROM pg_stat_statements});
	like($log, qr/AUDIT: SESSION/, "$label: pgaudit logged the session");
	like($log, qr/mpa\.check_code/, "$label: including pg_mpa's nested statements");
	like($log, qr/Query Text: /, "$label: auto_explain logged plans");
	like($log, qr/parameters: \$1 = '\d+', \$2 = '\*{6}'/, "$label: the driver's parameters were logged, blanked");
	like($log, qr/Role alice transitioning to Superuser Role postgres/, "$label: set_user logged alice's escalation");
	like($log, qr/ AUDIT: LOG:  00000: statement: SELECT mpa_verify\($escalated, '\*{6}'\)/,
		"$label: and her verification under its audit tag, blanked");
	like($log, qr/cron job \d+ starting: SELECT mpa_verify\($pending, '\*{6}'\)/,
		"$label: pg_cron logged the job's command, blanked");
	for my $seen ($code, $wrong[0], $wrong[2], $escalated_code, $escalated_wrong, $alice_code, $guess,
		$session_auth_code, $held_code, @job_codes)
	{
		# (On failure, only the lines holding the code are shown, not the log.)
		my $pattern = MpaTest::code_pattern($seen);
		is_deeply([ grep { $_ =~ $pattern } split /\n/, $log ], [], "$label: code $seen is not in the server log");
	}
	# pg_stat_statements keeps a utility statement's text as typed (a DO
	# block is not normalised); none of pg_mpa's own statements holds a code.
	my @kept = grep { /\Q$code\E|\Q$wrong[0]\E|\Q$wrong[2]\E/ } split /\n/, $statements;
	is_deeply([ grep { !/^DO \$\$BEGIN PERFORM mpa_verify/ } @kept ], [],
		"$label: pg_stat_statements holds a code only in the DO block as the approver typed it");
	for my $seen ($escalated_code, $escalated_wrong, $alice_code, $guess, $session_auth_code, $held_code, @job_codes)
	{
		unlike($statements, qr/\Q$seen\E/, "$label: code $seen is not in pg_stat_statements");
	}
	# A code passed to a function of the approver's own is logged as the
	# approver typed it, before anything of pg_mpa runs (log_statement,
	# pgaudit's top-level line): those lines name verify_for_me. No line
	# written once pg_mpa had the code (pgaudit's nested statements with
	# their parameters, errors) holds it.
	my @holding = grep { /\Q$wrong[1]\E/ } split /\n/, $log;
	ok(@holding > 0, "$label: the wrapping function's call was logged as typed");
	is_deeply([ grep { !/verify_for_me\(\d+, '\Q$wrong[1]\E'\)/ } @holding ], [],
		"$label: only in the approver's own statement text");
	unlike($statements, qr/\Q$wrong[1]\E/, "$label: and not in pg_stat_statements");
	$node->stop;
}

done_testing();
