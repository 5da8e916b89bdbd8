# Secrets in statements (docs/decisions.md, "Secrets in statements"):
# mpa.requests and mpa.audit are readable by every role, mpa_audit_export()
# is callable by every role, and requests are mailed to the approvers. So a
# request that carries a role password in clear text (or a password among
# a user mapping's options, or in a subscription's connection string) is
# refused with MP007 and leaves nothing behind; the same change requested
# with a SCRAM-SHA-256 verifier is approved and runs, and the role logs in
# with the password; and a typed statement refused for want of approval is
# audited with its password masked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('secrets', $smtp);
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_protect('ALTER ROLE', 'bob', 'security');
	CREATE FOREIGN DATA WRAPPER dummy_fdw;
	CREATE SERVER remote FOREIGN DATA WRAPPER dummy_fdw;
	CREATE PUBLICATION pub;
});

# Everything pg_mpa keeps that some role other than a superuser can read,
# as one text: the requests, the audit (table and export), the outbox (the
# mail sent and to send). A secret must be in none of it.
my $readable_sql = q{
	SELECT coalesce((SELECT string_agg(row(r.*)::text, E'\n') FROM mpa.requests r), '')
	    || coalesce((SELECT string_agg(row(a.*)::text, E'\n') FROM mpa.audit a), '')
	    || coalesce((SELECT string_agg(line, E'\n') FROM mpa_audit_export(1) AS line), '')
	    || coalesce((SELECT string_agg(row(o.*)::text, E'\n') FROM mpa.outbox o), '')
};
my $counts_sql = q{SELECT (SELECT count(*) FROM mpa.requests), (SELECT count(*) FROM mpa.audit),
	(SELECT count(*) FROM mpa.outbox)};

# ---------------------------------------------------------------------------
# Requests that carry a secret are refused before anything is recorded.
my %refused = (
	'clear-text role password' => [ q{ALTER ROLE bob PASSWORD 'req-s3cret'}, 'a role password in clear text' ],
	'ENCRYPTED PASSWORD in clear text' =>
	  [ q{ALTER USER bob ENCRYPTED PASSWORD 'req-s3cret'}, 'a role password in clear text' ],
	# An MD5 verifier logs in wherever md5 authentication is used: as good
	# as the password.
	'MD5 verifier' => [ q{ALTER ROLE bob PASSWORD 'md5} . ('0' x 32) . q{'}, 'a role password in clear text' ],
	'new role with a password' =>
	  [ q{CREATE ROLE carol LOGIN PASSWORD 'req-s3cret'}, 'a role password in clear text' ],
	'user mapping password' => [ q{CREATE USER MAPPING FOR bob SERVER remote OPTIONS (user 'b', password 'req-s3cret')},
		'a password among its options' ],
	'user mapping password set' =>
	  [ q{ALTER USER MAPPING FOR bob SERVER remote OPTIONS (SET password 'req-s3cret')}, 'a password among its options' ],
	'server password' => [ q{ALTER SERVER remote OPTIONS (ADD password 'req-s3cret')}, 'a password among its options' ],
	'subscription password' => [
		q{CREATE SUBSCRIPTION sub CONNECTION 'host=db1 password=req-s3cret' PUBLICATION pub WITH (connect = false)},
		'a password in its connection string' ],
	'subscription URI password' => [
		q{CREATE SUBSCRIPTION sub CONNECTION 'postgresql://repl:req-s3cret@db1/app' PUBLICATION pub WITH (connect = false)},
		'a password in its connection string' ]);
# The worker records each mail it sends in the audit ('mail sent'): the
# set-up's confirmation mail is delivered before the counts are taken.
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')}, 30),
	'the set-up mail is delivered');
my $before = $node->safe_psql('postgres', $counts_sql);
for my $case (sort keys %refused)
{
	my ($statement, $what) = @{ $refused{$case} };
	(my $quoted = $statement) =~ s/'/''/g;
	my ($rc, $error) = MpaTest::refusal_as($node, 'postgres', "SELECT mpa_request('$quoted', 'rotate it')");
	is($error, "MP007: a request cannot carry $what", "request refused (MP007): $case");
}
is($node->safe_psql('postgres', $counts_sql), $before, 'the refused requests left no request, audit entry or mail');
unlike($node->safe_psql('postgres', $readable_sql), qr/req-s3cret/, 'no refused request left its secret readable');

# The hint says what to request instead.
my ($rc, $out, $err) = MpaTest::psql_as($node, 'postgres',
	q{SELECT mpa_request('ALTER ROLE bob PASSWORD ''req-s3cret''', 'rotate it')});
like($err, qr/HINT:  Request it with the password's SCRAM-SHA-256 verifier in its place/,
	'the refusal tells how to request the change without the password');

# The same shapes without a secret are not refused for one (PASSWORD NULL,
# a connection string without a password): they are judged as usual
# (not protected here: MP002).
for my $statement (q{ALTER ROLE alice PASSWORD NULL},
	q{CREATE SUBSCRIPTION sub CONNECTION 'host=db1 dbname=password_store' PUBLICATION pub WITH (connect = false)},
	q{ALTER SERVER remote OPTIONS (ADD password_required 'false')})
{
	(my $quoted = $statement) =~ s/'/''/g;
	my (undef, $error) = MpaTest::refusal_as($node, 'postgres', "SELECT mpa_request('$quoted', 'why')");
	unlike($error, qr/^MP007/, "no secret seen in: $statement");
}

# ---------------------------------------------------------------------------
# The change requested with a SCRAM-SHA-256 verifier: approved, executed,
# and bob logs in with the password the verifier was made from.
my $password = 'correct horse ' . int(rand(1_000_000));
my $verifier = MpaTest::scram_verifier($password);
my $request = $node->safe_psql('postgres',
	"SELECT mpa_request('ALTER ROLE bob PASSWORD ''$verifier''', 'rotate bob''s password')");
like($request, qr/^\d+$/, 'the request with a SCRAM-SHA-256 verifier is accepted');
like(MpaTest::approve($node, $smtp, $request, 'alice'), qr/approved/, 'and approved');
$node->safe_psql('postgres', "ALTER ROLE bob PASSWORD '$verifier'");
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $request"), 'executed',
	'the approved statement ran');

# bob authenticates by SCRAM over the socket; everyone else stays trusted.
my $hba = slurp_file($node->data_dir . '/pg_hba.conf');
open(my $fh, '>', $node->data_dir . '/pg_hba.conf') or die $!;
print $fh "local all bob scram-sha-256\n$hba";
close $fh;
$node->reload;
$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_hba_file_rules WHERE 'bob' = ANY (user_name)})
  or die 'pg_hba.conf not reloaded';
{
	local $ENV{PGPASSWORD} = $password;
	my ($login_rc, $who) = (MpaTest::psql_as($node, 'bob', 'SELECT current_user'))[ 0, 1 ];
	is($who, 'bob', 'bob logs in with the password whose verifier was approved');
	$ENV{PGPASSWORD} = "$password-wrong";
	my ($wrong_rc) = MpaTest::psql_as($node, 'bob', 'SELECT current_user');
	isnt($wrong_rc, 0, 'and not with another password (authentication is really checked)');
}

# ---------------------------------------------------------------------------
# A typed ALTER ROLE with a password, refused for want of approval, is
# audited with the password masked: directly, and from dynamic SQL (the
# gate refuses the EXECUTEd statement's own text).
my $log_start = -s $node->logfile;
my $refused_before = $node->safe_psql('postgres', q{SELECT count(*) FROM mpa.audit WHERE kind = 'refused'});
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres', q{ALTER ROLE bob PASSWORD 'typed-s3cret'},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  MP001: ALTER ROLE on bob requires the approval of team "security"/,
	'a typed clear-text password change is refused (MP001)');
like($err, qr/HINT:  A request cannot carry a role password in clear text\. Request it with the password's SCRAM/,
	'its hint asks for a verifier, not for a request the request check would refuse');
my ($do_rc, $do_error) = MpaTest::refusal_as($node, 'postgres',
	q{DO $$ BEGIN EXECUTE 'ALTER ROLE bob PASSWORD ''do-s3cret'' VALID UNTIL ''infinity'''; END $$});
like($do_error, qr/^MP001: ALTER ROLE on bob requires/, 'the same from dynamic SQL is refused (MP001)');

# The worker writes refusals (their transaction rolled back) into mpa.audit.
ok(MpaTest::poll_until($node, qq{SELECT count(*) = $refused_before + 2 FROM mpa.audit WHERE kind = 'refused'}),
	'both refusals are audited');
# mpa_audit_export() shows chained entries only; the worker chains an entry
# it wrote from shared memory only in a later round (its chaining query does
# not see the rows its own round inserted): a
# test mail wakes it for one.
MpaTest::queue_test_mail($node, 'alice@example.com');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.audit WHERE seq IS NULL AND kind = 'refused'}),
	'and chained, so that mpa_audit_export() shows them')
  or diag($node->safe_psql('postgres', q{SELECT id, seq, kind, detail FROM mpa.audit ORDER BY id}));
is($node->safe_psql('postgres', q{SELECT string_agg(statement, ' | ' ORDER BY id) FROM (SELECT id, detail->>'statement' AS statement
		FROM mpa.audit WHERE kind = 'refused' ORDER BY id DESC LIMIT 2) last_two}),
	q{ALTER ROLE bob PASSWORD '********' | ALTER ROLE bob PASSWORD '********' VALID UNTIL 'infinity'},
	'the audit records each statement with its password masked, the rest as typed');
my $readable = $node->safe_psql('postgres', $readable_sql);
unlike($readable, qr/typed-s3cret|do-s3cret/, 'no typed password is in mpa.audit, mpa_audit_export() or the outbox');
my @event_lines = grep { /MPA: / } split /\n/, slurp_file($node->logfile, $log_start);
ok(@event_lines > 0, 'the refusals have server log event lines');
ok(!(grep { /s3cret/ } @event_lines), 'no MPA: server log line carries a password');

done_testing();
