# Backup and restore keep the protection (issue #18): pg_dump carries
# pg_mpa's teams, approvers (confirmed or not), policies, requests, votes,
# temporary grants, codes' challenges and audit chain; restored into a
# fresh cluster with pg_restore (custom format), psql (plain format) and
# from pg_dumpall, the installation enforces the same policies at once, its
# chain verifies and continues, requests that were open end (their OIDs are
# another cluster's) and open codes are void. The restore's way into
# pg_mpa's tables (the restore window) is open only to the session whose
# CREATE EXTENSION made a new installation, until it ends or pg_mpa is used.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
# The SMTP password is a setting: a backup must not carry it.
my $primary = MpaTest::new_node('primary', $smtp, "mpa.resend_cooldown = 0\nmpa.smtp_password = 'sekret-smtp-pw'\n");
$primary->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE reader;
	SELECT mpa_team_create('ops', 2, 'operations');
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.test');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.test');
	SELECT mpa_approver_add('ops', 'carol', 'carol@example.test');
	CREATE TABLE app_data (id int PRIMARY KEY, v text);
	INSERT INTO app_data VALUES (1, 'kept');
	CREATE TABLE scratch (id int);
	SELECT mpa_protect('DROP TABLE', 'public.app_data', 'ops');
	SELECT mpa_protect('DROP TABLE', 'public.scratch', 'ops');
	SELECT mpa_protect('GRANT', 'public.app_data', 'ops');
});
# alice confirms her address (bob's vote confirms his), carol never does:
# the restore keeps both states.
my $confirmation = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.test', '--timeout', '20',
	'--subject-contains', 'confirm your approver address');
MpaTest::safe_psql_as($primary, 'alice', "SELECT mpa_confirm_email('ops', '$confirmation')");

# Requests in every state a backup can hold; postgres asks, alice and bob
# decide (two of three approvers).
sub request
{
	my ($node, $statement, $valid_for) = @_;
	my $extra = $valid_for ? ", interval '$valid_for'" : '';
	return $node->safe_psql('postgres', "SELECT mpa_request('$statement', 'for the backup test'$extra)");
}

sub vote
{
	my ($node, $mailbox, $request, $decision) = @_;
	for my $approver ('alice', 'bob')
	{
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_vote($request, '$decision')");
		my $code = MpaTest::code_from_mail($mailbox, "$approver\@example.test", $request);
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_verify($request, '$code')");
	}
}

my $granted = request($primary, 'GRANT SELECT ON app_data TO reader', '1 hour');
vote($primary, $smtp, $granted, 'approve');
$primary->safe_psql('postgres', 'GRANT SELECT ON app_data TO reader');    # executed: a temporary grant
my $rejected = request($primary, 'DROP TABLE scratch');
vote($primary, $smtp, $rejected, 'reject');
my $approved = request($primary, 'DROP TABLE app_data');
vote($primary, $smtp, $approved, 'approve');                               # approved, not executed
my $cancelled = request($primary, 'DROP TABLE scratch');
$primary->safe_psql('postgres', "SELECT mpa_cancel($cancelled)");
my $pending = request($primary, 'DROP TABLE scratch');
MpaTest::safe_psql_as($primary, 'alice', "SELECT mpa_vote($pending, 'approve')");    # an open code
my $open_code = MpaTest::code_from_mail($smtp, 'alice@example.test', $pending);
# Last: a team governs pg_mpa, so the restored installation is governed.
$primary->safe_psql('postgres', "SELECT mpa_protect('MPA CONFIGURE', '*', 'ops')");

# Everything mailed and chained, then the worker held: the backups and the
# state they are compared with are the same moment.
ok(MpaTest::poll_until($primary,
	"SELECT (SELECT unchained = 0 FROM mpa_audit_verify()) AND NOT EXISTS (SELECT FROM mpa.outbox WHERE status IN ('pending', 'sending'))"),
	'the primary sent its mail and chained its audit');
my $held = MpaTest::hold_worker($primary);
my $head = $primary->safe_psql('postgres', 'SELECT max(seq) FROM mpa.audit');

# pg_mpa's state as one line per row. Requests that were open at the backup
# are expected ended (expired) in a restored copy, and nothing else changed;
# the audit is compared up to the backup's head.
sub state_of
{
	my ($node, $open_ends_as) = @_;
	my $state = $open_ends_as ? "CASE WHEN state IN ('pending', 'approved') THEN '$open_ends_as' ELSE state END" : 'state';
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(t, E'\\n' ORDER BY t) FROM (
		  SELECT 'team ' || row(name, threshold, description, created_at)::text AS t FROM mpa.teams
		  UNION ALL SELECT 'approver ' || row(team, approver::text, email, added_at, verified_at IS NOT NULL)::text
		    FROM mpa.approvers
		  UNION ALL SELECT 'policy ' || row(id, operation, object, team, created_at)::text FROM mpa.policies
		  UNION ALL SELECT 'request ' || row(id, statement, requester::text, $state, created_at, expires_at,
		                                      executed_at, valid_for, fingerprint)::text FROM mpa.requests
		  UNION ALL SELECT 'vote ' || row(request_id, approver::text, decision, voted_at)::text FROM mpa.votes
		  UNION ALL SELECT 'grant ' || row(request_id, grant_statement, revoke_statement, requester::text,
		                                    granted_at, ends_at, revoked_at)::text FROM mpa.temporary_grants
		  UNION ALL SELECT 'challenge ' || row(id, request_id, approver::text, decision, nonce, created_at)::text
		    FROM mpa.challenges
		  UNION ALL SELECT 'audit ' || row(seq, id, kind, request_id, detail, previous_hash, hash)::text
		    FROM mpa.audit WHERE seq <= $head) s});
}
my $expected = state_of($primary, 'expired');
like($expected, qr/^request \($rejected,.*,rejected,/m, 'the primary has a rejected request');
like($expected, qr/^approver \(ops,alice,alice\@example.test,.*,t\)$/m, 'alice is confirmed on the primary');
like($expected, qr/^approver \(ops,carol,carol\@example.test,.*,f\)$/m, 'carol is not');
like($expected, qr/^grant \($granted,/m, 'the primary has a temporary grant in force');

my $dir = PostgreSQL::Test::Utils::tempdir('backup');
my @from = ('-h', $primary->host, '-p', $primary->port);
command_ok([ 'pg_dumpall', @from, '--globals-only', '-f', "$dir/globals.sql" ], 'pg_dumpall --globals-only');
command_ok([ 'pg_dump', @from, '-Fc', '-f', "$dir/postgres.dump", 'postgres' ], 'pg_dump -Fc');
command_ok([ 'pg_dump', @from, '-Fp', '-f', "$dir/postgres.sql", 'postgres' ], 'pg_dump -Fp');
command_ok([ 'pg_dumpall', @from, '-f', "$dir/cluster.sql" ], 'pg_dumpall');
MpaTest::release_worker($held);

# Secrets are not in a backup: the SMTP password is a setting, and a code
# is derived from a key that lives in shared memory only.
my $plain = slurp_file("$dir/cluster.sql");
like($plain, qr/^COPY mpa\.policies /m, 'the backup carries pg_mpa\'s policies');
unlike($plain, qr/sekret-smtp-pw/, 'but not the SMTP password');
unlike($plain, qr/\b$open_code\b/, 'nor the open code alice was mailed');

# Restores into a fresh cluster with pg_mpa preloaded and not installed
# (pg_mpa's home database keeps its name); returns the node and its SMTP server.
sub fresh_cluster
{
	my ($name) = @_;
	my $mailbox = MpaTest::start_smtp();
	my $node = MpaTest::new_node($name, $mailbox, "mpa.resend_cooldown = 0\n", extension => 0);
	return ($node, $mailbox);
}

sub psql_file
{
	my ($node, $file, @options) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		@options, '-f', $file ], '>', \$out, '2>', \$err);
	return ($ok, $err);
}

# Errors of a psql run other than the roles that exist in every new cluster.
sub unexpected_errors
{
	my ($err) = @_;
	return join("\n", grep { /ERROR/ && !/role "postgres" already exists/ } split /\n/, $err);
}

# What every restored cluster must show.
sub check_restored
{
	my ($node, $mailbox, $how) = @_;
	# At once: no wait for the worker, no restart.
	is_deeply([ MpaTest::refusal_as($node, 'postgres', 'DROP TABLE app_data') ],
		[ 3, 'MP001: DROP TABLE on public.app_data requires the approval of team "ops"' ],
		"$how: the protected DROP is refused as soon as the restore ended");
	is(state_of($node), $expected,
		"$how: teams, approvers (confirmed or not), policies, requests, votes, the temporary grant, challenges and the audit are the backup's; open requests ended");
	is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.challenges WHERE state = 'open'"), '0',
		"$how: no code is open");
	is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.outbox WHERE kind = 'code'"), '0',
		"$how: no code mail waits to be sent");
	# The worker records the restore right after the restored chain, then the
	# end of each request it ended.
	ok(MpaTest::poll_until($node, "SELECT count(*) = 3 FROM mpa.audit WHERE seq > $head AND kind IN ('restored', 'expired')"),
		"$how: the worker recorded the restore");
	is($node->safe_psql('postgres', "SELECT kind || ' ' || (detail->'requests ended')::text FROM mpa.audit WHERE seq = $head + 1"),
		"restored [$approved, $pending]", "$how: the entry after the restored chain records the restore");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(request_id || ': ' || (detail->>'reason'), E'\\n' ORDER BY seq)
		  FROM mpa.audit WHERE seq > $head AND kind = 'expired'}),
		"$approved: restored from a backup: the objects it names have new identities in this cluster; ask again\n"
		  . "$pending: restored from a backup: the objects it names have new identities in this cluster; ask again",
		"$how: each open request's end is audited with its reason");
	# (Entries the worker writes from shared memory, refusals, are chained
	# at its next round: unchained is not waited for.)
	ok(MpaTest::poll_until($node, "SELECT intact AND entries > $head + 2 FROM mpa_audit_verify()"),
		"$how: the restored chain verifies, continued")
	  or diag($node->safe_psql('postgres', 'SELECT row(v.*)::text FROM mpa_audit_verify() v'));
	# Approvals work: a new request (its id after the restored ones), voted
	# with a code from the mail, executed once.
	my $request = request($node, 'DROP TABLE app_data');
	cmp_ok($request, '>', $pending, "$how: a new request takes an id after the restored ones");
	vote($node, $mailbox, $request, 'approve');
	$node->safe_psql('postgres', "SELECT mpa_execute($request)");
	is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'executed',
		"$how: it is approved with a mailed code and executed");
	is_deeply([ MpaTest::refusal_as($node, 'postgres', "SELECT mpa_execute($request)") ],
		[ 3, "MP004: request $request is executed, not approved" ], "$how: once");
}

# (1) Roles from pg_dumpall --globals-only, the database with pg_restore.
my ($custom, $custom_mail) = fresh_cluster('custom');
my ($ok, $err) = psql_file($custom, "$dir/globals.sql");
is(unexpected_errors($err), '', 'the roles are restored');
# pg_restore exits 0: no error, also for the GRANT that the restored GRANT
# policy protects (the restoring session's own restore runs to its end).
command_ok([ 'pg_restore', '-h', $custom->host, '-p', $custom->port, '-d', 'postgres', "$dir/postgres.dump" ],
	'pg_restore of the custom-format backup');

# Attacks on the restored, governed installation (before check_restored
# drops app_data). Direct writes stay refused, COPY included.
is_deeply([ MpaTest::refusal_as($custom, 'postgres', "COPY mpa.policies (operation, object, team) FROM stdin;\nDROP TABLE\tpublic.x\tops\n\\.\n") ],
	[ 3, "MP001: COPY into pg_mpa's table mpa.policies is refused: pg_mpa's tables are written only by its own functions" ],
	'governed: COPY into mpa.policies is refused');
is_deeply([ MpaTest::refusal_as($custom, 'postgres', "INSERT INTO mpa.policies (operation, object, team) VALUES ('DROP TABLE', 'public.x', 'ops')") ],
	[ 3, "MP001: INSERT on pg_mpa's table mpa.policies is refused" ], 'governed: INSERT is refused');
# No new installation can be made to restore into: pg_mpa cannot be dropped.
is_deeply([ MpaTest::refusal_as($custom, 'postgres', 'DROP EXTENSION pg_mpa; CREATE EXTENSION pg_mpa') ],
	[ 3, 'MP001: DROP EXTENSION on pg_mpa requires the approval of team "ops"' ],
	'governed: DROP EXTENSION is refused, so no restore window can open');
check_restored($custom, $custom_mail, 'pg_restore');

# (2) The plain-format backup run by psql.
my ($plain_node, $plain_mail) = fresh_cluster('plain');
psql_file($plain_node, "$dir/globals.sql");
($ok, $err) = psql_file($plain_node, "$dir/postgres.sql", '-v', 'ON_ERROR_STOP=1');
ok($ok, 'psql runs the plain-format backup without error') or diag($err);
check_restored($plain_node, $plain_mail, 'plain format');

# (3) The whole cluster from pg_dumpall, run by psql: the database's COPYs
# run in the session that \connect opened for it.
my ($dumpall_node, $dumpall_mail) = fresh_cluster('dumpall');
($ok, $err) = psql_file($dumpall_node, "$dir/cluster.sql");
is(unexpected_errors($err), '', 'psql runs the pg_dumpall backup without error');
check_restored($dumpall_node, $dumpall_mail, 'pg_dumpall');

# The window itself, in a new installation: its session (one psql script)
# may COPY, no other. Another session's steps run from the script (\!)
# while the window session is connected.
my $window_node = MpaTest::new_node('window', undef, undef, extension => 0);
my $psql_other = join(' ', 'psql', '-X', '-q', '-h', $window_node->host, '-p', $window_node->port, '-d', 'postgres',
	'-v', 'VERBOSITY=verbose');
PostgreSQL::Test::Utils::append_to_file("$dir/other_copy.sql",
	"COPY mpa.teams (name, threshold) FROM stdin;\nrogue\t1\n\\.\n");
PostgreSQL::Test::Utils::append_to_file("$dir/window.sql", <<"SQL");
\\set VERBOSITY verbose
CREATE EXTENSION pg_mpa;
SELECT pg_backend_pid();
\\! $psql_other -f $dir/other_copy.sql 2> $dir/other_copy.err
COPY mpa.teams (name, threshold) FROM stdin;
restored	1
\\.
INSERT INTO mpa.policies (operation, object, team) VALUES ('DROP TABLE', '*', 'restored');
COPY mpa.teams (name, threshold) FROM stdin;
again	1
\\.
COPY mpa.policies (operation, object, team) FROM stdin WHERE team = 'restored';
DROP TABLE	*	restored
\\.
COPY mpa.outbox (kind, recipient, subject, body, message_id, expires_at) FROM stdin;
test	x\@example.test	s	b	m	2030-01-01
\\.
\\! $psql_other -c 'SELECT mpa_audit_head()' > /dev/null
COPY mpa.policies (operation, object, team) FROM stdin;
DROP TABLE	*	restored
\\.
SQL
my ($window_out, $window_err) = ('', '');
IPC::Run::run([ split(/ /, $psql_other), '-At', '-f', "$dir/window.sql" ], '>', \$window_out, '2>', \$window_err);
my ($window_pid) = $window_out =~ /^(\d+)$/m;
my @window_errors = $window_err =~ /ERROR:  (.*?)\r?$/mg;
my ($other_error) = slurp_file("$dir/other_copy.err") =~ /ERROR:  (.*?)\r?$/m;
is($other_error,
	"MP001: COPY into pg_mpa's table mpa.teams is refused: pg_mpa is being restored by another session (pid $window_pid)",
	'another session cannot COPY while the window is open (pg_restore -j: one job)');
is_deeply(\@window_errors, [
		# In the window, only COPY as pg_dump writes it, each table once.
		"MP001: INSERT on pg_mpa's table mpa.policies is refused",
		"MP001: COPY into pg_mpa's table mpa.teams is refused: it is restored already",
		"MP001: COPY into pg_mpa's table mpa.policies is refused: only COPY ... FROM STDIN as pg_dump writes it restores pg_mpa",
		"MP001: COPY into pg_mpa's table mpa.outbox is refused: a backup does not carry this table",
		# The first use of pg_mpa, in any session, closes the window for good.
		"MP001: COPY into pg_mpa's table mpa.policies is refused: this session's restore window has closed" ],
	'the window session restores one table and nothing else')
  or diag($window_err);
is($window_node->safe_psql('postgres', 'SELECT string_agg(name, \',\') FROM mpa.teams'), 'restored',
	'the window\'s own session restored its COPY');
is_deeply([ MpaTest::refusal_as($window_node, 'postgres', "COPY mpa.policies (operation, object, team) FROM stdin;\nDROP TABLE\t*\trestored\n\\.\n") ],
	[ 3, "MP001: COPY into pg_mpa's table mpa.policies is refused: pg_mpa's tables are written only by its own functions" ],
	'after the window session ended, nobody can COPY');
is($window_node->safe_psql('postgres', 'SELECT count(*) FROM mpa.policies'), '0', 'no refused COPY wrote anything');

# pg_restore -j: the restore needs one session; with more it says so.
$window_node->safe_psql('postgres', 'DROP EXTENSION pg_mpa');    # not governed: allowed
psql_file($window_node, "$dir/globals.sql");
my ($out, $jerr) = ('', '');
IPC::Run::run([ 'pg_restore', '-j', '2', '-h', $window_node->host, '-p', $window_node->port, '-d', 'postgres',
	"$dir/postgres.dump" ], '>', \$out, '2>', \$jerr);
like($jerr, qr/COPY into pg_mpa's table mpa\.\w+ is refused: .*\n.*\n.*HINT:.*one job/,
	'pg_restore -j 2 fails with an error that asks for one job');
is($window_node->safe_psql('postgres', 'SELECT count(*) FROM mpa.policies'), '0', 'and restores none of pg_mpa\'s rows');

done_testing();
