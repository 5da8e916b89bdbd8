# The attacker's view: a superuser and a DBA with CREATEROLE try the paths
# around pg_mpa, in pg_mpa's database and in another one. Each attempt is
# refused, and afterwards the protected objects and pg_mpa's tables are
# exactly as before (only mpa.audit grows: refusals are recorded).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('attackers', $smtp);
$node->safe_psql('postgres', q{
	CREATE DATABASE app;
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE vip LOGIN; CREATE ROLE erin LOGIN;
	CREATE ROLE dba LOGIN CREATEROLE CREATEDB;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	CREATE SCHEMA prod;
	CREATE TABLE prod.accounts (id int);
	INSERT INTO prod.accounts VALUES (1), (2), (3);
	GRANT ALL ON SCHEMA prod TO dba;
	-- The DBA owns the table: PostgreSQL itself lets them drop, truncate and
	-- rename it, so only pg_mpa stands in the way.
	ALTER TABLE prod.accounts OWNER TO dba;
	SELECT mpa_protect(op, 'prod.*', 'security') FROM unnest(ARRAY['DROP TABLE', 'TRUNCATE', 'ALTER TABLE']) op;
	SELECT mpa_protect(op, '*', 'security') FROM unnest(ARRAY['ALTER ROLE', 'DROP ROLE', 'GRANT ROLE', 'DROP DATABASE']) op;
	-- A break-glass team (erin) declared before governance began; team
	-- "oncall" exists but is no break-glass team.
	SELECT mpa_team_create('glass', 1), mpa_team_create('oncall', 1);
	SELECT mpa_approver_add('glass', 'erin', 'erin@example.com'), mpa_approver_add('oncall', 'vip', 'vip@example.com');
	SELECT mpa_break_glass_team('glass', 1);
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
});
my $request = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE prod.accounts', 'pending, never approved')});
# A pending change of pg_mpa's configuration: break-glass must never approve it.
my $configure = $node->safe_psql('postgres', q{SELECT mpa_request($$SELECT mpa_break_glass_team('glass', 1, '30 days')$$, 'pending')});

# Everything pg_mpa keeps, except the audit and the mail it records.
my $snapshot_sql = q{
	SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
	  __STATE_ROWS__ UNION ALL
	  SELECT 'accounts ' || (SELECT count(*) FROM prod.accounts)::text UNION ALL
	  SELECT 'roles ' || string_agg(rolname || rolsuper || rolcanlogin || coalesce(rolpassword, ''), ',' ORDER BY rolname)
	    FROM pg_authid WHERE rolname IN ('alice', 'bob', 'vip', 'dba') UNION ALL
	  SELECT 'members ' || count(*) FROM pg_auth_members WHERE roleid IN ('alice'::regrole, 'bob'::regrole, 'vip'::regrole)) s};
$snapshot_sql =~ s/__STATE_ROWS__/MpaTest::state_rows_sql()/e;
ok(MpaTest::wait_for_team_health($node), 'the worker has recorded every team\'s reachability');
my $before = $node->safe_psql('postgres', $snapshot_sql);

# Each attack with the SQLSTATE pg_mpa refuses it with. Every one of them is
# allowed by PostgreSQL's own privileges to the role that tries it (the DBA
# owns prod.accounts and has CREATEROLE; the superuser may do anything), so
# a refusal can only be pg_mpa's: MP001 (needs the approval of team
# "security"), MP005 (no code of theirs is waiting / wrong code).
my @as_dba = (
	[ q{ALTER ROLE alice PASSWORD 'reset-by-dba'}, 'MP001' ],
	[ q{ALTER ROLE vip NOLOGIN}, 'MP001' ],
	[ q{DROP ROLE vip}, 'MP001' ],
	[ q{GRANT alice TO dba}, 'MP001' ],
	[ q{DROP TABLE prod.accounts}, 'MP001' ],
	[ q{TRUNCATE prod.accounts}, 'MP001' ],
	[ q{ALTER TABLE prod.accounts RENAME TO gone}, 'MP001' ],
	[ q{SELECT mpa_verify(1, '123456')}, 'MP005' ],
);
my @as_superuser = (
	@as_dba,
	[ q{INSERT INTO mpa.votes VALUES (1, 'alice', 'approve')}, 'MP001' ],
	[ q{UPDATE mpa.requests SET state = 'approved'}, 'MP001' ],
	[ q{SELECT mpa_approver_add('security', 'dba', 'dba@evil.example')}, 'MP001' ],
	[ q{SELECT mpa_unprotect('DROP TABLE', 'prod.*')}, 'MP001' ],
	[ q{SET ROLE alice; SELECT mpa_verify(1, '123456')}, 'MP005' ],
	[ q{BEGIN; SET SESSION AUTHORIZATION alice; SELECT mpa_vote(1, 'approve'); SELECT mpa_verify(1, '123456'); COMMIT},
		'MP005' ],
	[ q{DROP SCHEMA prod CASCADE}, 'MP001' ],
	[ q{DROP EXTENSION pg_mpa CASCADE}, 'MP001' ],
	[ q{ALTER SYSTEM SET shared_preload_libraries = ''}, 'MP001' ],
	[ q{DELETE FROM mpa.policies}, 'MP001' ],
	[ q{UPDATE pg_catalog.pg_authid SET rolpassword = NULL WHERE rolname = 'alice'}, 'MP001' ],
	[ q{SELECT lo_export(lo_from_bytea(0, 'x'), current_setting('data_directory') || '/postgresql.auto.conf')},
		'MP001' ],
	[ q{COPY (SELECT 1) TO PROGRAM 'true'}, 'MP001' ],
	[ q{SET session_replication_role = replica}, 'MP001' ],
	[ q{SELECT mpa.finish(r, 'approved', 'forged') FROM mpa.requests r}, 'MP010' ],
	# Break-glass (docs/threat-model.md): a superuser who is no approver
	# cannot declare a break-glass team, enlarge it, change its quorum or
	# remove it, by its functions or by writing its tables, nor use it
	# (as one of its members) on a change of pg_mpa's configuration.
	[ q{SELECT mpa_break_glass_team('oncall', 1)}, 'MP001' ],
	[ q{SELECT mpa_approver_add('glass', 'dba', 'dba@evil.example')}, 'MP001' ],
	[ q{SELECT mpa_break_glass_team('glass', 1, '30 days')}, 'MP001' ],
	[ q{SELECT mpa_break_glass_team_drop()}, 'MP001' ],
	[ q{INSERT INTO mpa.break_glass (team, quorum, review_window) VALUES ('oncall', 1, '1 hour')}, 'MP001' ],
	[ q{UPDATE mpa.break_glass SET quorum = 1, review_window = '30 days'}, 'MP001' ],
	[ q{INSERT INTO mpa.approvers (team, approver, email) VALUES ('glass', 'dba', 'dba@evil.example')}, 'MP001' ],
	[ q{INSERT INTO mpa.break_glass_uses (request_id, team, quorum, review_window, reason, opened_by)
	    SELECT id, 'glass', 1, '1 hour', 'forged', 'erin' FROM mpa.requests}, 'MP001' ],
	[ qq{SET SESSION AUTHORIZATION erin; SELECT mpa_break_glass($configure, 'urgent')}, 'MP001' ],
	# Policy modes: nor loosen a policy by making it dry-run, or hand it to
	# teams of their choosing, by its function or by writing the tables.
	[ q{SELECT mpa_protect('DROP TABLE', 'prod.*', 'security', mode => 'dry-run')}, 'MP001' ],
	[ q{UPDATE mpa.policies SET mode = 'dry-run'}, 'MP001' ],
	[ q{SELECT mpa_protect('DROP TABLE', 'prod.*', teams => ARRAY['oncall', 'glass'], shared_votes => true)}, 'MP001' ],
	[ q{INSERT INTO mpa.policy_teams (policy_id, team) SELECT id, 'oncall' FROM mpa.policies}, 'MP001' ],
	[ q{INSERT INTO mpa.request_teams (request_id, team, threshold) SELECT id, 'oncall', 1 FROM mpa.requests}, 'MP001' ],
);

for my $db ('postgres', 'app')
{
	for my $case ([ 'dba', \@as_dba ], [ 'postgres', \@as_superuser ])
	{
		my ($role, $list) = @$case;
		for my $attack (@$list)
		{
			my ($sql, $state) = @$attack;
			# pg_mpa and the protected schema exist only in pg_mpa's database.
			next if $db eq 'app' && $sql =~ /mpa[._ ]|prod/;
			my ($rc, $out, $err) = MpaTest::psql_as($node, $role, "\\set VERBOSITY verbose\n$sql", dbname => $db);
			isnt($rc, 0, "$role in $db: refused: $sql");
			like($err, qr/ERROR:  $state: /, "$role in $db: by pg_mpa ($state): $sql");
		}
	}
}
is($node->safe_psql('postgres', $snapshot_sql), $before, 'the protected objects and pg_mpa\'s tables are unchanged');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'pending', 'the request is still pending');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'refused' AND detail->>'refused' = 'mpa_break_glass'}, 20),
	'break-glass on the configuration change is refused in the audit');
ok(MpaTest::poll_until($node, q{SELECT count(*) >= 20 FROM mpa.audit WHERE kind = 'refused'}, 20),
	'the refusals are in the audit');
is($node->safe_psql('postgres', q{SELECT intact FROM mpa_audit_verify()}), 't', 'whose chain is intact');

# An impersonator can ask for a code in alice's name, but it goes to alice,
# who is told who asked.
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $mail = MpaTest::wait_for_mail_matching($smtp, 'alice@example.com', qr/your code to approve request #$request/)
  or die 'no code mail';
like($mail->{body}, qr/Someone connected as alice asked to approve request #$request\..*If you did not ask for it/s,
	'the code goes to alice, with a warning');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.votes WHERE request_id = $request"), '0', 'and no vote exists');

done_testing();
