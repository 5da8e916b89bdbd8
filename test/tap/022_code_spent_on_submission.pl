# A code is seen once. While an approver's mpa_verify waits on a lock a
# superuser holds, its text (code included) is in pg_stat_activity; the
# superuser cancels it and, within the code's lifetime, verifies as the
# approver. pg_mpa marks the submission before anything that can wait, so a
# verification that does not reach the code's check burns the approver's
# codes: the reused code is refused and no vote is recorded. The approver
# asks for a new code, which counts (positive control).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('code_spent', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE rita LOGIN;
	CREATE ROLE mallory LOGIN SUPERUSER;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
	CREATE SCHEMA prod; CREATE TABLE prod.t (i int); GRANT ALL ON SCHEMA prod TO rita;
	SELECT mpa_protect('DROP TABLE', 'prod.t', 'security');
});
my $id = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('DROP TABLE prod.t', 'retire it')});
chomp $id;
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($id, 'approve')");
my ($code, $first_mail) = MpaTest::code_from_mail($smtp, 'alice@example.com', $id);

# Locking pg_mpa's tables is refused outright, with pg_mpa's SQLSTATE.
my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nBEGIN; LOCK TABLE mpa.challenges IN ACCESS EXCLUSIVE MODE;",
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/ERROR:  MP001: LOCK TABLE on pg_mpa's table mpa\.challenges is refused/,
	'LOCK TABLE on a table of pg_mpa is refused (MP001)');

# A lock through a view still reaches the table (LOCK recurses into a
# view's tables): whatever holds the verification, the code must die.
my $attack = MpaTest::lock_cancel_reuse($node, attacker => 'mallory', approver => 'alice',
	request => $id, code => $code, view => 'public.peek');
my $victim = $attack->{victim};
ok($attack->{waited}, 'the approver\'s verification waits on the attacker\'s lock');
like($attack->{seen}, qr/\Q$code\E/, 'the waiting verification shows its code in pg_stat_activity (the exposure)');
ok($attack->{cancelled}, 'the approver\'s verification was cancelled');
# The attacker then verified as the approver with the code it saw.
like($attack->{reuse_err}, qr/ERROR:  MP005: this code can no longer be used/,
	'the seen code is refused to the attacker (MP005)');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.votes WHERE request_id = $id"), '0', 'and no vote was recorded');

# The approver's own retry with the same code is refused too; a new code counts.
($rc, $out, $err) = MpaTest::psql_as($node, 'alice', "\\set VERBOSITY verbose\nSELECT mpa_verify($id, '$code')");
like($err, qr/ERROR:  MP005: this code can no longer be used.*\n.*HINT:  Ask for a new one: SELECT mpa_resend\($id\);/,
	'the approver is told to ask for a new code');
$victim->quit;
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_resend($id)");
my $fresh = MpaTest::code_from_mail($smtp, 'alice@example.com', $id, except => [$first_mail]);
like(MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_verify($id, '$fresh')"), qr/vote recorded: approve/,
	'a new code, asked for after the burn, records the vote');

# A submission that reaches its check is not a burn: a wrong try leaves the
# code usable (the existing rule: tries are counted, never refunded).
MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_vote($id, 'reject')");
my $bob_code = MpaTest::code_from_mail($smtp, 'bob@example.com', $id);
my $wrong = $bob_code eq '000000' ? '000001' : '000000';
($rc, $out, $err) = MpaTest::psql_as($node, 'bob', "\\set VERBOSITY verbose\nSELECT mpa_verify($id, '$wrong')");
like($err, qr/ERROR:  MP005: wrong code; 2 tries left for this code/, 'a wrong try is counted');
like(MpaTest::safe_psql_as($node, 'bob', "SELECT mpa_verify($id, '$bob_code')"), qr/vote recorded: reject/,
	'and the right code still counts after it');

# A call that does not check the code leaves it on display in
# pg_stat_activity (the session's last statement) as surely as a cancelled
# one: a mistyped request id, or a code with a blank around it, burns it.
MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_vote($id, 'approve')");
my ($carol_code, $carol_mail) = MpaTest::code_from_mail($smtp, 'carol@example.com', $id);
my $other_id = $id + 1000;
($rc, $out, $err) = MpaTest::psql_as($node, 'carol', "\\set VERBOSITY verbose\nSELECT mpa_verify($other_id, '$carol_code')");
like($err, qr/ERROR:  22023: request $other_id does not exist/, 'a mistyped request id is refused');
($rc, $out, $err) = MpaTest::psql_as($node, 'carol', "\\set VERBOSITY verbose\nSELECT mpa_verify($id, '$carol_code')");
like($err, qr/ERROR:  MP005: this code can no longer be used/, 'and the code it carried is burned');
MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_resend($id)");
my $carol_fresh = MpaTest::code_from_mail($smtp, 'carol@example.com', $id, except => [$carol_mail]);
($rc, $out, $err) = MpaTest::psql_as($node, 'carol', "\\set VERBOSITY verbose\nSELECT mpa_verify($id, ' $carol_fresh')");
like($err, qr/ERROR:  22023: a code is six digits/, 'a code with a blank before it is malformed');
($rc, $out, $err) = MpaTest::psql_as($node, 'carol', "\\set VERBOSITY verbose\nSELECT mpa_verify($id, '$carol_fresh')");
like($err, qr/ERROR:  MP005: this code can no longer be used/, 'and it is burned too: no try was needed to kill it');
is($node->safe_psql('postgres', "SELECT count(*) FROM mpa.votes WHERE request_id = $id AND approver = 'carol'::regrole"),
	'0', 'carol has no vote yet');

done_testing();
