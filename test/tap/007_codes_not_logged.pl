# No code in a log line: with every statement and error logged, the codes an
# approver types into mpa_verify (right or wrong) never reach the server log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('logging', $smtp,
	"mpa.resend_cooldown = 0\nlog_statement = all\nlog_min_error_statement = error\n"
	  . "log_min_duration_statement = 0\nlog_error_verbosity = verbose\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE bob; CREATE TABLE ledger (id int);
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
});
my $request = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE ledger', 'cleanup')});

$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.com', '--timeout', '20',
	'--subject-contains', 'your code');
like($code, qr/^\d{6}$/, 'the code arrived by mail');
my $wrong = sprintf('%06d', ($code + 1) % 1000000);

my ($rc, $out, $err) = $node->psql('postgres',
	"SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$wrong')");
like($err, qr/wrong code/, 'a wrong code is refused');
# A prepared statement: EXECUTE is logged with the values, the prepared
# text (naming mpa_verify) only in its DETAIL.
my $wrong_prepared = sprintf('%06d', ($code + 2) % 1000000);
($rc, $out, $err) = $node->psql('postgres',
	"SET SESSION AUTHORIZATION alice; PREPARE v(bigint, text) AS SELECT mpa_verify(\$1, \$2);"
	  . " EXECUTE v($request, '$wrong_prepared')");
like($err, qr/wrong code/, 'a wrong code through PREPARE/EXECUTE is refused');
# An EXECUTE that fails before pg_mpa runs (one value too many) carries the
# code in its own text: the log does not show it, and the code is burned.
($rc, $out, $err) = $node->psql('postgres',
	"SET SESSION AUTHORIZATION alice; PREPARE v2(bigint, text) AS SELECT mpa_verify(\$1, \$2);"
	  . " EXECUTE v2($request, '$code', 1)");
like($err, qr/wrong number of parameters/, 'an EXECUTE with a value too many fails before pg_mpa runs');
($rc, $out, $err) = $node->psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
like($err, qr/this code can no longer be used/, 'and the code it carried is burned');
my (undef, $first_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_resend($request)");
my $new_code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request, except => [$first_mail]);
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$new_code')");
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"),
	'approved', 'the right code approved the request');

# The other function that takes a code: bob confirms his address.
my $confirmation = MpaTest::mailbox($smtp, 'code', '--to', 'bob@example.com', '--timeout', '20',
	'--subject-contains', 'confirm your approver address');
like($confirmation, qr/^\d{6}$/, 'the confirmation code arrived by mail');
like($node->safe_psql('postgres', "SET SESSION AUTHORIZATION bob; SELECT mpa_confirm_email('ops', '$confirmation')"),
	qr/is confirmed/, 'the confirmation code confirmed the address');

my $log = slurp_file($node->logfile);
like($log, qr/mpa_verify\($request, '\*{6}'\)/, 'the verify statements were logged, blanked');
like($log, qr/mpa_confirm_email\('ops', '\*{6}'\)/, 'the confirmation was logged, blanked');
unlike($log, MpaTest::code_pattern($code), 'the first code is not in the log');
unlike($log, MpaTest::code_pattern($new_code), 'the code that counted is not in the log');
unlike($log, qr/\Q$wrong\E/, 'the wrong code is not in the log');
like($log, qr/EXECUTE v\($request, '\*{6}'\)/, 'the EXECUTE was logged, blanked');
unlike($log, qr/\Q$wrong_prepared\E/, 'the code given to EXECUTE is not in the log');
unlike($log, qr/\Q$confirmation\E/, 'the confirmation code is not in the log');

done_testing();
