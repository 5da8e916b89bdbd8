# pg_mpa's fixed-size tables in shared memory, filled (docs/decisions.md):
# - the audit ring (256 events of transactions that roll back, waiting for
#   the worker): a full ring drops events and records how many were lost;
# - the table of wrong tries (4096 codes): when it is full a new try is
#   refused with SQLSTATE 53400.
# Each is filled from one session, in a loop of one statement (one approver's
# wrong tries: without a budget of wrong codes, which would stop them first,
# test/tap/029): cheap enough
# (a few seconds on 2 cores), and on a cluster of its own, since a full try
# table would refuse every other test's codes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('full', $smtp, <<'CONF');
mpa.smtp_timeout = 60s
mpa.resend_cooldown = 0
mpa.max_requests_per_hour = 0
mpa.max_wrong_codes_per_hour = 0
mpa.max_wrong_codes_per_day = 0
mpa.otp_ttl = 1h
CONF
$node->safe_psql('postgres', q{
	CREATE ROLE full_r; CREATE ROLE full_a;
	SELECT mpa_team_create('full-team', 1);
	SELECT mpa_approver_add('full-team', 'full_a', 'full-a@example.com');
	CREATE TABLE ring_t (id int);
	SELECT mpa_protect('DROP TABLE', 'public.ring_t', 'full-team');
});

# ---------------------------------------------------------------------------
# The audit ring. While the worker waits for the SMTP server to answer DATA
# (the server holds its reply back), it writes no events: 300 refusals made
# then fill the ring's 256 slots, and the 44 others are counted as lost.
# Once the worker is back it writes the 256 and one entry with the count.
MpaTest::wait_for_mail($smtp, 1);    # the enrolment's confirmation: the worker is idle
MpaTest::control_smtp($smtp, q{{"delay_ms": 6000}});
MpaTest::queue_test_mail($node, 'slow@example.com');
ok(MpaTest::poll_until($node,
	q{SELECT count(*) = 1 FROM pg_stat_activity
	   WHERE backend_type = 'pg_mpa mail worker' AND query = 'pg_mpa: sending mail' AND state = 'active'}, 30),
	'the worker is held up sending mail');
my $busy_since = $node->safe_psql('postgres',
	q{SELECT state_change FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'});
my $refused = $node->safe_psql('postgres', q{
	DO $$
	DECLARE refused int := 0;
	BEGIN
	  FOR i IN 1 .. 300 LOOP
	    BEGIN
	      DROP TABLE ring_t;
	    EXCEPTION WHEN SQLSTATE 'MP001' THEN
	      refused := refused + 1;
	    END;
	  END LOOP;
	  RAISE NOTICE 'refused %', refused;
	END $$;
	SELECT 1;
});
# The count below is exact only if the worker wrote nothing meanwhile.
is($node->safe_psql('postgres',
		q{SELECT state_change FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'}),
	$busy_since, 'the worker was still sending when the 300 refusals were made');
MpaTest::control_smtp($smtp, '{}');
ok(MpaTest::poll_until($node, q{SELECT count(*) > 0 FROM mpa.audit WHERE kind = 'audit entries lost'}, 60),
	'a lost-entries record is written');
is($node->safe_psql('postgres',
		q{SELECT string_agg(detail::text, ', ') FROM mpa.audit WHERE kind = 'audit entries lost'}),
	'{"lost": 44}', 'it counts the 44 refusals the full ring dropped');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM mpa.audit WHERE kind = 'refused' AND detail->>'refused' = 'DROP TABLE on public.ring_t'}),
	'256', 'the 256 refusals the ring held are recorded');

# ---------------------------------------------------------------------------
# The table of wrong tries. Every try takes the slot of its code until the
# code expires (mpa.otp_ttl, an hour here), whatever its outcome. One
# transaction asks for code after code (mpa_vote), trying '000000' at each,
# over as many requests as it takes (an approver is locked out of a request
# after nine wrong tries), until a try is refused; it then raises, so that
# nothing it made is kept (no request, no mail) while the tries, counted in
# shared memory, stay counted. (Were '000000' right, the vote would end that
# request: the loop goes on with the next.)
my ($rc, $out, $err) = $node->psql('postgres', q{
	DO $$
	DECLARE
	  request bigint;
	  tries int := 0;
	  state text;
	  message text;
	  hint text;
	BEGIN
	  <<requests>>
	  FOR r IN 1 .. 1000 LOOP
	    SET SESSION AUTHORIZATION full_r;
	    request := mpa_request('DROP TABLE ring_t', 'filling the try table');
	    SET SESSION AUTHORIZATION full_a;
	    FOR k IN 1 .. 9 LOOP
	      BEGIN
	        PERFORM mpa_vote(request, 'approve');
	      EXCEPTION WHEN SQLSTATE 'MP005' OR SQLSTATE 'MP003' OR SQLSTATE 'MP004' THEN
	        CONTINUE requests;   -- locked out, or decided
	      END;
	      BEGIN
	        PERFORM mpa_verify(request, '000000');
	      EXCEPTION WHEN OTHERS THEN
	        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	        IF state <> 'MP005' THEN
	          EXIT requests;
	        END IF;
	      END;
	      tries := tries + 1;
	    END LOOP;
	  END LOOP;
	  RESET SESSION AUTHORIZATION;
	  RAISE EXCEPTION 'after % tries: % % (%)', tries, state, message, hint;
	END $$;
});
my ($tries, $state, $message) = $err =~ /after (\d+) tries: (\S+) (.*?) \(/;
is($state, '53400', 'a try beyond the table is refused with SQLSTATE 53400');
is($message, 'too many one-time codes are in use at once', 'and says why');
like($err, qr/\(Try again when some codes have expired\.\)/, 'with a hint to try again later');
is($tries, 4096, 'after exactly 4096 codes were tried');

# The table stays full for everyone, in a new transaction and session.
my $request = $node->safe_psql('postgres',
	q{SET SESSION AUTHORIZATION full_r; SELECT mpa_request('DROP TABLE ring_t', 'one more')});
MpaTest::safe_psql_as($node, 'postgres', "SET SESSION AUTHORIZATION full_a; SELECT mpa_vote($request, 'approve')");
($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSET SESSION AUTHORIZATION full_a; SELECT mpa_verify($request, '000000');");
like($err, qr/ERROR:  53400: too many one-time codes are in use at once/,
	'the next try, in another session, is refused with 53400 as well');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
