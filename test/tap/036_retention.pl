# Retention and audit export. With mpa.retention set, the mail worker
# deletes mail that reached its end (sent, failed, superseded) and the spent
# codes of closed requests once they are older than the setting, records
# each deletion in the audit, and leaves alone what is still open (mail to
# send, codes of open requests), the requests, the votes and every audit
# entry. mpa_audit_export() writes the chain as lines that
# tools/mpa_audit_check verifies away from the database, naming a line that
# was edited, deleted or moved.
use strict;
use warnings;
use Encode;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
# Retention starts off (0: keep forever), so that the history below is made
# whole before anything may go.
my $node = MpaTest::new_node('retention', $smtp, "mpa.resend_cooldown = 0\nmpa.retention = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	SELECT mpa_team_create('ops', 2);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('ops', 'carol', 'carol@example.com');
	CREATE TABLE ledger (id int); CREATE TABLE journal (id int);
	SELECT mpa_protect('DROP TABLE', 'public.ledger', 'ops');
	SELECT mpa_protect('DROP TABLE', 'public.journal', 'ops');
});

sub query { return $node->safe_psql('postgres', $_[0]); }

# The default keeps 90 days (a generous default: nothing an operator looks
# back at within a quarter disappears).
is(query(q{SELECT boot_val || unit FROM pg_settings WHERE name = 'mpa.retention'}), '7776000s',
	'mpa.retention defaults to 90 days');

# Request A: approved and executed, so closed. Request B: one approval of
# two, so open, with a spent code of alice's.
my $closed = query(q{SELECT mpa_request('DROP TABLE ledger', 'ledger archived')});
MpaTest::approve($node, $smtp, $closed, $_) for ('alice', 'bob');
query('DROP TABLE ledger');
my $open = query(q{SELECT mpa_request('DROP TABLE journal', 'journal archived')});
MpaTest::approve($node, $smtp, $open, 'alice');
# A refusal whose statement holds quotes, a backslash, a line break and
# UTF-8: the export must carry its audit entry byte for byte.
my ($rc, $out, $err) = $node->psql('postgres', qq{DROP TABLE journal /* "q" \\ ü\n */});
like($err, qr/requires the approval of team "ops"/, 'a refusal with awkward text for the audit');
# A mail that fails for good (the server refuses its recipient).
MpaTest::control_smtp($smtp, '{"reject_rcpt": ["nobody@example.com"]}');
my $failed = MpaTest::queue_test_mail($node, 'nobody@example.com');
ok(MpaTest::wait_for_status($node, $failed, 'failed'), 'a dead-lettered mail');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')}),
	'every mail so far reached its end');

# With retention 0, nothing went although rounds of the worker ran since:
# the mail of request A is all there.
my @closed_mail = split /\n/, query(
	qq{SELECT o.id FROM mpa.outbox o WHERE o.subject ~ '#$closed\\M'
	   UNION SELECT $failed ORDER BY 1});
cmp_ok(scalar(@closed_mail), '>=', 6, 'retention 0 keeps finished mail (request mails, codes, decisions)');
my $closed_codes = query("SELECT string_agg(id::text, ',' ORDER BY id) FROM mpa.challenges WHERE request_id = $closed");
my $open_code = query("SELECT id FROM mpa.challenges WHERE request_id = $open AND state = 'used'");
is(scalar(split /,/, $closed_codes), 2, 'request A has two spent codes');

# From now on no mail can leave (every MAIL is refused for a while): what
# is queued stays pending, however old.
MpaTest::control_smtp($smtp, '{"temp_fail_next": 1000000}');
my $pending = MpaTest::queue_test_mail($node, 'late@example.com');
# carol asks for a code on B, then for another: the first code's mail is
# superseded (a finished mail, younger than everything above) and its code
# too, but B is open, so the code stays.
MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_vote($open, 'approve')");
MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_resend($open)");
my $superseded = query(qq{SELECT id FROM mpa.outbox WHERE status = 'superseded' AND subject LIKE '%request #$open'});
ok($superseded, 'a superseded code mail');
my $superseded_code = query("SELECT min(id) FROM mpa.challenges WHERE request_id = $open AND approver = 'carol'::regrole");

# What must survive: the whole audit as chained so far, the requests, the votes.
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL}), 'the audit is chained');
my $chained_before = query('SELECT max(seq) FROM mpa.audit');
my $audit_sql = "SELECT string_agg(seq || ' ' || id || ' ' || hash, E'\\n' ORDER BY seq) FROM mpa.audit WHERE seq <= $chained_before";
my $audit_before = query($audit_sql);
my $open_codes = query(q{SELECT string_agg(id::text, ',') FROM mpa.challenges WHERE state = 'open'});
my $records = q{SELECT (SELECT string_agg(id || ' ' || state, ',' ORDER BY id) FROM mpa.requests) || ' / ' ||
                       (SELECT string_agg(request_id || ' ' || approver::text, ',' ORDER BY 1, 2) FROM mpa.votes)};
my $records_before = query($records);
my $outbox_before = query('SELECT count(*) FROM mpa.outbox');
my $codes_before = query('SELECT count(*) FROM mpa.challenges');

ok(MpaTest::reconfigure($node, 'mpa.retention' => '2s'), 'retention set to 2 seconds');

# The superseded mail is the youngest finished one: once it is gone, the
# worker deleted with a cutoff past everything queued before it.
ok(MpaTest::poll_until($node, "SELECT count(*) = 0 FROM mpa.outbox WHERE id = $superseded", 60),
	'a superseded mail older than the retention is deleted');
is(query('SELECT count(*) FROM mpa.outbox WHERE id IN (' . join(',', @closed_mail) . ')'), '0',
	'so is the mail of the closed request, sent or dead-lettered');
ok(MpaTest::poll_until($node, "SELECT count(*) = 0 FROM mpa.challenges WHERE id IN ($closed_codes)", 60),
	'the spent codes of the closed request are deleted');
# Open things stay, whatever their age.
is(query("SELECT status FROM mpa.outbox WHERE id = $pending"), 'pending', 'mail still to be sent stays');
is(query("SELECT count(*) FROM mpa.challenges WHERE id IN ($open_code, $superseded_code)"), '2',
	'codes of an open request stay, spent or superseded');
is(query("SELECT count(*) FROM mpa.challenges WHERE id IN ($open_codes)"), scalar(split /,/, $open_codes),
	'open codes stay (carol\'s vote, the address confirmations)');
is(query($records), $records_before, 'requests and votes are the record: all kept');

# The audit is never deleted: every entry chained before is there with its
# hash, the chain is intact, and each deletion is an entry of its own whose
# counts are what went.
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL}), 'the audit is chained');
is(query($audit_sql), $audit_before, 'every audit entry is kept, unchanged');
is(query('SELECT intact FROM mpa_audit_verify()'), 't', 'and the chain is intact');
is(query(q{SELECT (SELECT coalesce(sum((detail->>'mail')::int), 0) FROM mpa.audit WHERE kind = 'purged')
                  || ' ' || (SELECT coalesce(sum((detail->>'codes')::int), 0) FROM mpa.audit WHERE kind = 'purged')}),
	($outbox_before - query('SELECT count(*) FROM mpa.outbox')) . ' ' . ($codes_before - query('SELECT count(*) FROM mpa.challenges')),
	'the audit records how many mails and codes were deleted');

# Shared memory (tries, lock-outs, budgets) is keyed by code and request, not
# by rows: the open request is approved as usual after the deletions.
MpaTest::control_smtp($smtp, '{}');
like(MpaTest::approve($node, $smtp, $open, 'bob'), qr/the request is approved/, 'the open request goes on');

# ---------------------------------------------------------------------------
# Audit export, checked offline by mpa_audit_check (installed with pg_mpa).

my $dir = PostgreSQL::Test::Utils::tempdir('export');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL}), 'the audit is chained');

# Exports entries from..to (psql -XAt, as the README says) into $name.
sub export
{
	my ($name, $from, $to) = @_;
	my $lines = query("SELECT line FROM mpa_audit_export($from, $to)");
	open my $fh, '>:raw', "$dir/$name" or die $!;
	print $fh "$lines\n";
	close $fh;
	return "$dir/$name";
}

# Runs the checker; returns its exit status and what it printed.
sub check
{
	my ($file, @options) = @_;
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ 'mpa_audit_check', @options, $file ], '>', \$stdout, '2>', \$stderr);
	chomp $stdout;
	return ($? >> 8, $stdout . $stderr);
}

my ($head_seq, $head_hash) = split /\|/, query('SELECT seq, hash FROM mpa_audit_head()');
my $whole = export('whole.jsonl', 1, $head_seq);
is_deeply([ check($whole) ], [ 0, "intact, $head_seq entries (1 to $head_seq), head entry $head_seq, SHA-256 $head_hash" ],
	'the whole export is intact and ends at the head');
my ($refusal_line) = grep { /"kind": "refused"/ } split /\n/, slurp_file($whole);
my $detail = JSON::PP->new->decode(JSON::PP::decode_json($refusal_line)->{detail});
is(Encode::encode_utf8($detail->{statement}), qq{DROP TABLE journal /* "q" \\ ü\n */},
	'the refused statement comes back from the export byte for byte');

# The head a mail carried: the export agrees with it.
my $mail = MpaTest::wait_for_mail_matching($smtp, 'bob@example.com', qr/request #$open approved/)
  or die 'no decision mail';
my ($mail_head) = $mail->{body} =~ /pg_mpa audit chain head: (entry \d+, SHA-256 [0-9a-f]{64})/;
my ($rc_head, $said) = check($whole, '--head', $mail_head);
is($rc_head, 0, "the export agrees with the head a mail carried ($mail_head)") or diag($said);

# An export continues an earlier one: from the entry after its last, checked
# against the earlier export's head.
my $half = int($head_seq / 2);
my $half_hash = query("SELECT hash FROM mpa.audit WHERE seq = $half");
my $rest = export('rest.jsonl', $half + 1, 'NULL');
my ($rc_rest, $said_rest) = check($rest, '--after', "entry $half, SHA-256 $half_hash");
is($rc_rest, 0, 'a continued export is intact after the earlier head') or diag($said_rest);
like($said_rest, qr/^intact, \d+ entries \(@{[ $half + 1 ]} to \d+\)/, 'and says where it starts');

# Tampering with the file: the checker names the line (exit status 1).
my @lines = split /\n/, slurp_file($whole);
sub tampered
{
	my ($name, @changed) = @_;
	open my $fh, '>:raw', "$dir/$name" or die $!;
	print $fh map { "$_\n" } @changed;
	close $fh;
	return "$dir/$name";
}
my ($id5) = $lines[4] =~ /"id": (\d+)/;
my @edited = @lines;
$edited[4] =~ s/"actor": "[^"]*"/"actor": "mallory"/ or die 'no actor';
is_deeply([ check(tampered('edited.jsonl', @edited)) ],
	[ 1, "broken at line 5 (entry 5, id $id5): its content does not match its hash (the entry was edited)" ],
	'an edited field is named');
my ($id8) = $lines[7] =~ /"id": (\d+)/;
is_deeply([ check(tampered('deleted.jsonl', @lines[ 0 .. 5, 7 .. $#lines ])) ],
	[ 1, "broken at line 7 (entry 8, id $id8): entries 7 to 7 are missing (deleted)" ],
	'a deleted line is named');
my ($id4) = $lines[3] =~ /"id": (\d+)/;
is_deeply([ check(tampered('swapped.jsonl', @lines[ 0 .. 1, 3, 2, 4 .. $#lines ])) ],
	[ 1, "broken at line 3 (entry 4, id $id4): entries 3 to 3 are missing (deleted)" ],
	'swapped lines are named');
my ($rc_cut, $said_cut) = check(tampered('cut.jsonl', @lines[ 0 .. $#lines - 2 ]), '--head', "$head_seq:$head_hash");
is($rc_cut, 1, 'entries cut off the end disagree with the head');
like($said_cut, qr/entry $head_seq \(the head given\) is not in it: entries were cut off the end/, 'and it says so');

done_testing();
