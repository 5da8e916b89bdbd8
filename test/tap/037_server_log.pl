# The server log (docs/operations.md, "Logs"): every approval event becomes
# a line "MPA: event=... request=... role=... database=..." in the session
# where it happens (a refusal too, although its transaction rolls back),
# with no code, no statement text and nothing sent to the client; the
# lines follow mpa.log_events and mpa.log_level, which no session can
# change; a mail that fails gives a WARNING; and the SMTP password can come
# from a file only the server's user can read, never showing in the log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('server_log', $smtp, "mpa.resend_cooldown = 0\n");
# One approver is enough: every event of an approval is hers or the DBA's.
$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE carol; CREATE TABLE ledger (id int);
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
});

# The log written since byte $offset.
sub log_since
{
	my ($offset) = @_;
	return slurp_file($node->logfile, $offset);
}

# Whether a line matching $re is written after $offset (polls, up to the
# test timeout), as an assertion rather than a death.
sub log_shows
{
	my ($re, $offset) = @_;
	return eval { $node->wait_for_log($re, $offset); 1 };
}

# The event lines ("MPA: ..." after the severity) written since $offset.
sub event_lines
{
	my ($offset) = @_;
	return grep { /\b(?:LOG|INFO|NOTICE|WARNING):  MPA: / } split /\n/, log_since($offset);
}

# ---------------------------------------------------------------------------
# A whole approval, in the log as it happens.
my $start = -s $node->logfile;

# A refusal rolls back its transaction; its line is written all the same,
# and a session's log_min_messages (a superuser may SET it) does not hide it.
my ($rc, $error) = MpaTest::refusal_as($node, 'postgres', "SET log_min_messages = panic; DROP TABLE ledger");
like($error, qr/^MP001: DROP TABLE on public\.ledger requires the approval of team "ops"/,
	'the unapproved DROP is refused (MP001)');
my @lines = event_lines($start);
is(scalar(grep { /MPA: event=refused role=postgres database=postgres / && /\brefused="DROP TABLE on public\.ledger"/
			  && /\bteam=ops\b/ } @lines),
	1, 'the refusal is one line, with what and whose approval, although the session set log_min_messages = panic')
  or diag(join("\n", @lines));

# Request: the justification (text a person wrote) stays out of the line;
# with client_min_messages = debug5 the client still gets no event line.
my ($out, $err) = ('', '');
$node->psql('postgres',
	q{SET client_min_messages = debug5; SELECT mpa_request('DROP TABLE ledger', 'justified by ticket hunter2')},
	stdout => \$out, stderr => \$err);
my $request = $out;
like($request, qr/^\d+$/, 'a request is made');
unlike($err, qr/MPA:/, 'the client gets no event line, whatever client_min_messages says');
@lines = event_lines($start);
ok((grep { /MPA: event=request request=$request role=postgres database=postgres\b.*\boperation="DROP TABLE"/
		  && /\bobject=public\.ledger\b/ && /\bteam=ops\b/ && /\brequester=postgres\b/ } @lines),
	'the request is logged with its operation, object, team and requester');
# (The test cluster logs every statement: only pg_mpa's lines are checked.)
ok(!(grep { /hunter2/ } event_lines($start)), 'the justification is in no event line');

# Vote, a wrong code, the right code: each is a line; no code is.
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
my $wrong = sprintf('%06d', ($code + 1) % 1000000);
($rc, $error) = MpaTest::refusal_as($node, 'postgres',
	"SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$wrong')");
like($error, qr/^MP005: wrong code/, 'a wrong code is refused (MP005)');
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
$node->safe_psql('postgres', 'DROP TABLE ledger');

@lines = event_lines($start);
# Each step of the approval, in the order it happened.
my @expected = (
	qr/MPA: event="challenge opened" request=$request role=alice .*\bdecision=approve\b/,
	qr/MPA: event="code tried" request=$request role=alice .*\boutcome=wrong\b/,
	qr/MPA: event=vote request=$request role=alice .*\bdecision=approve\b/,
	qr/MPA: event=approved request=$request role=alice /,
	qr/MPA: event=executed request=$request role=postgres database=postgres$/);
my $at = 0;
for my $step (@expected)
{
	$at++ while $at < @lines && $lines[$at] !~ $step;
	ok($at < @lines, "logged in order: $step") or diag(join("\n", @lines));
}
my $log = log_since($start);
unlike($log, MpaTest::code_pattern($code), 'the right code is nowhere in the log');
unlike($log, qr/\Q$wrong\E/, 'the wrong code is nowhere in the log');
ok(!(grep { /DROP TABLE ledger/ } @lines), 'no event line carries the statement text');
# The test cluster logs statements with errors and LOG lines: an event line
# hides its statement (mpa_verify's holds a code) and its context.
unlike($log, qr/MPA: [^\n]*\n[^\n]*(?:STATEMENT|CONTEXT):/, 'no event line drags a STATEMENT or CONTEXT line along');

# ---------------------------------------------------------------------------
# No session can silence the lines: the settings are postgresql.conf's.
for my $set (q{SET mpa.log_events = off}, q{SET mpa.log_level = warning},
	q{SELECT set_config('mpa.log_events', 'off', false)}, q{ALTER ROLE postgres SET mpa.log_events = off})
{
	($rc, $error) = MpaTest::refusal_as($node, 'postgres', $set);
	like($error, qr/^55P02: parameter "mpa\.log_\w+" cannot be changed now/, "a superuser cannot: $set");
}
# Once a team governs pg_mpa, ALTER SYSTEM of them needs its approval.
# (The call that makes it govern is a configuration event: its line names
# the function, not the call's text.)
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'ops')});
ok((grep { /MPA: event=configuration role=postgres database=postgres function=mpa_protect$/ } event_lines($offset)),
	'a configuration call is logged with its function');
for my $set (q{ALTER SYSTEM SET mpa.log_events = off}, q{ALTER SYSTEM SET mpa.log_level = notice})
{
	($rc, $error) = MpaTest::refusal_as($node, 'postgres', $set);
	like($error, qr/^MP001: ALTER SYSTEM on \S+ requires the approval of team "ops"/,
		"governed: $set");
}

# A configuration request is rehearsed (run, then rolled back) before anyone
# votes: what the rehearsal does is no event and has no line.
$offset = -s $node->logfile;
my $configuration = $node->safe_psql('postgres',
	q{SELECT mpa_request($$SELECT mpa_approver_add('ops', 'carol', 'carol@example.com')$$, 'a second approver')});
@lines = event_lines($offset);
ok((grep { /MPA: event=request request=$configuration .*\boperation="MPA CONFIGURE"/ } @lines),
	'the configuration request is logged');
ok(!(grep { /event=configuration|event="confirmation opened"/ } @lines),
	'its rehearsal is not: no configuration or confirmation line for carol')
  or diag(join("\n", @lines));

# mpa.log_level: the line's severity, still only in the server log (a
# WARNING would reach the client at its default client_min_messages).
ok(MpaTest::reconfigure($node, 'mpa.log_level' => 'warning'), 'mpa.log_level = warning in postgresql.conf');
$offset = -s $node->logfile;
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', 'ALTER SYSTEM SET work_mem = 1000',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  MP001: /, 'a governed ALTER SYSTEM is refused (MP001)');
unlike($err, qr/MPA:/, 'the client does not get the WARNING event line');
like(log_since($offset), qr/WARNING:  MPA: event=refused role=postgres database=postgres .*refused="ALTER SYSTEM on /,
	'at mpa.log_level = warning the line is a WARNING');

# mpa.log_events = off: no line, while PostgreSQL's own ERROR line shows
# that the refusal happened.
ok(MpaTest::reconfigure($node, 'mpa.log_events' => 'off'), 'mpa.log_events = off in postgresql.conf');
$offset = -s $node->logfile;
($rc, $error) = MpaTest::refusal_as($node, 'postgres', 'ALTER SYSTEM SET work_mem = 2000');
like($error, qr/^MP001: /, 'refused again (MP001)');
$log = log_since($offset);
like($log, qr/ERROR:  ALTER SYSTEM on \S+ requires the approval/, 'the refusal reached the log as an ERROR');
unlike($log, qr/MPA:/, 'but no event line: mpa.log_events = off');
ok(MpaTest::reconfigure($node, 'mpa.log_events' => 'on', 'mpa.log_level' => 'log'), 'event lines back on');

# ---------------------------------------------------------------------------
# A mail that fails: a WARNING naming the mail, the recipient masked, the
# reason and the next attempt.
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();
ok(MpaTest::reconfigure($node, 'mpa.smtp_url' => "smtp://127.0.0.1:$closed_port"), 'mpa.smtp_url at a closed port');
$offset = -s $node->logfile;
my $id = MpaTest::queue_test_mail($node, 'outage@example.com');
ok(log_shows(qr/WARNING:  pg_mpa mail worker: mail $id \(test, to o\*\*\*\@e\*\*\*\.com\) not sent: .+; next attempt at \d{4}-/,
		$offset),
	'a failed attempt is a WARNING with the mail, the masked recipient, the reason and the next attempt');
ok(!(grep { /WARNING:  pg_mpa mail worker/ && /outage\@example\.com/ } split /\n/, log_since($offset)),
	'the recipient is masked in the WARNING');

# ---------------------------------------------------------------------------
# mpa.smtp_password_file, against a server that requires AUTH.
my $password = 'pw-' . join('', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 16);
my $auth = MpaTest::start_smtp(auth_user => 'mpa', auth_password => $password);
my $dir = PostgreSQL::Test::Utils::tempdir('password');
my $file = "$dir/smtp_password";
open my $fh, '>', $file or die $!;
print $fh "$password\n";    # the trailing newline is stripped
close $fh;
chmod 0600, $file;
ok( MpaTest::reconfigure($node, 'mpa.smtp_url' => "smtp://127.0.0.1:$auth->{port}",
		'mpa.smtp_user' => 'mpa', 'mpa.smtp_password_file' => $file),
	'mpa.smtp_password_file set, mode 0600');
$id = MpaTest::queue_test_mail($node, 'file@example.com');
ok(MpaTest::wait_for_status($node, $id, 'sent'), 'with the file at 0600 the mail is sent');
my ($stored) = MpaTest::mail_to($auth, 'file@example.com');
is($stored && $stored->{meta}{auth}, 'mpa', 'the server authenticated user mpa with the password from the file');

# Readable by others: refused, the mail waits, and the log says why.
chmod 0644, $file;
$offset = -s $node->logfile;
my $before = MpaTest::mail_count($auth);
$id = MpaTest::queue_test_mail($node, 'open-file@example.com');
ok(log_shows(qr/WARNING:  pg_mpa mail worker: mail $id \(test, to o\*\*\*\@e\*\*\*\.com\) not sent: mpa\.smtp_password_file: password file "\Q$file\E" has group or other access/,
		$offset),
	'with the file at 0644 the mail is not sent, and a WARNING says why');
is($node->safe_psql('postgres', "SELECT status || ' ' || (last_error LIKE '%has group or other access%')::text FROM mpa.outbox WHERE id = $id"),
	'pending true', 'the mail stays queued, last_error says why');
is(MpaTest::mail_count($auth), $before, 'nothing reached the server');

# Both passwords set: refused rather than guessing which one is meant.
chmod 0600, $file;
ok(MpaTest::reconfigure($node, 'mpa.smtp_password' => 'conf-password'), 'mpa.smtp_password set as well');
$offset = -s $node->logfile;
ok(log_shows(qr/WARNING:  pg_mpa mail worker: mail $id .* not sent: both mpa\.smtp_password and mpa\.smtp_password_file are set/,
		$offset),
	'with both set, mail waits and the WARNING says to remove mpa.smtp_password');
ok(MpaTest::reconfigure($node, 'mpa.smtp_password' => ''), 'mpa.smtp_password removed');
ok(MpaTest::wait_for_status($node, $id, 'sent'), 'then the waiting mail is sent');

# The password is nowhere to be read: not in the log, the settings or the outbox.
unlike(slurp_file($node->logfile), qr/\Q$password\E/, 'the password is not in the server log');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_settings WHERE setting LIKE '%$password%'"),
	'0', 'nor in pg_settings');
like($node->safe_psql('postgres', q{SELECT setting FROM pg_settings WHERE name = 'mpa.smtp_password_file'}),
	qr/^\Q$file\E$/, 'pg_settings shows the file, not what it holds');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.outbox WHERE last_error LIKE '%$password%'"),
	'0', 'nor in the outbox');

MpaTest::stop_smtp($_) for $smtp, $auth;
done_testing();
