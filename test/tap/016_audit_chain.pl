# The audit chain: every event is recorded, refusals and wrong codes too
# although their transactions roll back; entries are chained by the worker;
# every mail carries the chain's head; nobody edits mpa.audit through SQL;
# and an entry edited or deleted while pg_mpa was not loaded is named by
# mpa_audit_verify() once it is back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('audit', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	CREATE TABLE ledger (id int);
	SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
	CREATE TABLE ledger_copy (id int);
	SELECT mpa_protect('TRUNCATE', 'public.ledger_copy', 'ops');
});

sub count_of
{
	my ($where) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM mpa.audit WHERE $where");
}

sub wait_chained
{
	return MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL}, 20);
}

# A refused statement, in a transaction that rolls back.
my ($rc, $out, $err) = $node->psql('postgres', 'BEGIN; DROP TABLE ledger; COMMIT;');
like($err, qr/requires the approval of team "ops"/, 'the DROP is refused');
ok(MpaTest::poll_until($node,
	q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'refused' AND detail->>'refused' = 'DROP TABLE on public.ledger'
	    AND detail->>'statement' = 'DROP TABLE ledger' AND actor = 'postgres'}, 20),
	'the refusal is in the audit although its transaction rolled back');

# The approval, with a wrong code first.
my $request = $node->safe_psql('postgres', q{SELECT mpa_request('DROP TABLE ledger', 'ledger archived')});
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::code_from_mail($smtp, 'alice@example.com', $request);
my $wrong = $code eq '000000' ? '111111' : '000000';
MpaTest::psql_as($node, 'alice', "BEGIN; SELECT mpa_verify($request, '$wrong'); ROLLBACK;", on_error_stop => 0);
ok(MpaTest::poll_until($node,
	"SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'code tried' AND request_id = $request AND detail->>'outcome' = 'wrong'", 20),
	'the wrong code is in the audit although its transaction rolled back');
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_verify($request, '$code')");
$node->safe_psql('postgres', 'DROP TABLE ledger');
ok(wait_chained(), 'the worker chains every entry');
for my $kind ('request', 'challenge opened', 'vote', 'approved', 'executed', 'mail queued', 'mail sent', 'configuration')
{
	cmp_ok(count_of("kind = '$kind'"), '>=', 1, "recorded: $kind");
}
is(count_of("kind IN ('vote', 'approved', 'executed') AND request_id = $request"), '3',
	'the vote, the decision and the execution name the request');
like($node->safe_psql('postgres', q{SELECT string_agg(detail::text, ' ') FROM mpa.audit}), qr/^(?!.*\b$code\b)/s,
	'no entry holds the code');

my $verdict = $node->safe_psql('postgres', 'SELECT intact, entries, unchained FROM mpa_audit_verify()');
my $entries = $node->safe_psql('postgres', 'SELECT count(*) FROM mpa.audit');
is($verdict, "t|$entries|0", 'mpa_audit_verify: the chain is intact');

# A refusal while the worker has nothing else to do: it writes the entry
# from shared memory in one round and can chain it only in the next, once
# committed. That round must follow at once, not when other work or the
# worker's timer (a minute) wakes it.
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')}, 20),
	'no mail is waiting');
($rc, $out, $err) = $node->psql('postgres', 'BEGIN; TRUNCATE ledger_copy; COMMIT;');
like($err, qr/requires the approval of team "ops"/, 'a TRUNCATE is refused');
ok(wait_chained(), 'its audit entry is chained without other work to wake the worker');

# The head travels in the mail.
$node->safe_psql('postgres', q{SELECT mpa_mail_test('auditor@example.com')});
my $mail = MpaTest::wait_for_mail_matching($smtp, 'auditor@example.com', qr/./)
  or die 'no test mail';
my ($seq, $hash) = $mail->{body} =~ /pg_mpa audit chain head: entry (\d+), SHA-256 ([0-9a-f]{64})/;
ok($seq, 'a mail carries the chain head');
is($node->safe_psql('postgres', "SELECT hash FROM mpa.audit WHERE seq = $seq"), $hash,
	'and it is the hash of that entry');
my ($head_seq) = split /\|/, $node->safe_psql('postgres', 'SELECT * FROM mpa_audit_head()');
cmp_ok($head_seq, '>=', $seq, 'mpa_audit_head() is at least as far');

# Nobody edits the audit through SQL, superuser or not.
for my $attack (q{UPDATE mpa.audit SET detail = '{}' WHERE seq = 2}, q{DELETE FROM mpa.audit WHERE seq = 2},
	q{INSERT INTO mpa.audit (kind) VALUES ('forged')}, q{TRUNCATE mpa.audit})
{
	($rc, $out, $err) = $node->psql('postgres', $attack);
	like($err, qr/is refused/, "refused: $attack");
}
is($node->safe_psql('postgres', 'SELECT intact FROM mpa_audit_verify()'), 't', 'still intact');

# Offline tampering: restart without pg_mpa, edit, restart with it.
sub offline
{
	my ($sql) = @_;
	$node->stop;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
	$node->start;
	$node->safe_psql('postgres', $sql);
	$node->stop;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_mpa'");
	$node->start;
}

my $original = $node->safe_psql('postgres', 'SELECT detail::text FROM mpa.audit WHERE seq = 5');
offline(q{UPDATE mpa.audit SET detail = jsonb_set(detail, '{forged}', 'true') WHERE seq = 5});
like($node->safe_psql('postgres', 'SELECT intact, first_broken_seq, reason FROM mpa_audit_verify()'),
	qr/^f\|5\|its content does not match its hash/, 'an edited entry is named');

offline("UPDATE mpa.audit SET detail = \$j\$$original\$j\$ WHERE seq = 5");
is($node->safe_psql('postgres', 'SELECT intact FROM mpa_audit_verify()'), 't', 'restored, the chain is intact again');

offline(q{DELETE FROM mpa.audit WHERE seq = 8});
like($node->safe_psql('postgres', 'SELECT intact, first_broken_seq, reason FROM mpa_audit_verify()'),
	qr/^f\|9\|entries 8 to 8 are missing/, 'a deleted entry is found');

done_testing();
