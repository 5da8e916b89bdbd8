# Approval covers what was approved, not whatever runs inside it. The
# approvers voted for one statement; a trigger added after the approval, or
# any function it calls, is not part of it: what such code does meets the
# gate as if typed. Each attack below fired from inside an approved TRUNCATE
# and each is refused with pg_mpa's SQLSTATE; the approved statement itself
# still runs once that code is gone (positive control).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('approved_scope', $smtp,
	"mpa.resend_cooldown = 0\nmax_prepared_transactions = 2\nmpa.max_requests_per_hour = 50\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN;
	CREATE ROLE rita LOGIN;        -- a requester who owns tables
	CREATE ROLE olivia LOGIN;      -- an ordinary login that owns a table
	CREATE ROLE vault_admin; CREATE ROLE helpdesk;
	SELECT mpa_team_create('security', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	CREATE SCHEMA vault; CREATE TABLE vault.secrets (s text); INSERT INTO vault.secrets VALUES ('keep');
	GRANT ALL ON SCHEMA vault TO rita;
	ALTER SCHEMA vault OWNER TO rita;
	CREATE SCHEMA app AUTHORIZATION rita;
	CREATE TABLE app.staging (i int); ALTER TABLE app.staging OWNER TO rita;
	CREATE TABLE public.olivias (i int); ALTER TABLE public.olivias OWNER TO olivia;
	BEGIN;
	SELECT mpa_protect('DROP TABLE', 'vault.*', 'security');
	SELECT mpa_protect('TRUNCATE', 'app.staging', 'security');
	SELECT mpa_protect('TRUNCATE', 'public.olivias', 'security');
	SELECT mpa_protect('GRANT', 'vault.*', 'security');
	SELECT mpa_protect('GRANT ROLE', 'vault_admin', 'security');
	SELECT mpa_protect('GRANT ROLE', 'vault_root', 'security');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	COMMIT;
});

# Request as $role, approved by alice and bob with their mailed codes.
sub approved
{
	my ($role, $statement) = @_;
	my $id = MpaTest::safe_psql_as($node, $role, "SELECT mpa_request('$statement', 'scope test')");
	chomp $id;
	for my $approver ('alice', 'bob')
	{
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_vote($id, 'approve')");
		my $code = MpaTest::code_from_mail($smtp, "$approver\@example.com", $id);
		MpaTest::safe_psql_as($node, $approver, "SELECT mpa_verify($id, '$code')");
	}
	is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $id"), 'approved',
		"approved: $statement");
	return $id;
}

# 1. The requester adds, after the approval, a trigger on the approved table
#    whose DROP SCHEMA ... CASCADE would take a protected table with it.
my $truncate_staging = approved('rita', 'TRUNCATE app.staging');
MpaTest::safe_psql_as($node, 'rita', q{
	CREATE FUNCTION app.wipe() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN EXECUTE 'DROP SCHEMA vault CASCADE'; RETURN NULL; END $$;
	CREATE TRIGGER wipe BEFORE TRUNCATE ON app.staging EXECUTE FUNCTION app.wipe();
});
my ($rc, $out, $err) = MpaTest::psql_as($node, 'rita', "\\set VERBOSITY verbose\nTRUNCATE app.staging");
like($err, qr/ERROR:  MP001: .*vault\.secrets/, 'the trigger\'s DROP SCHEMA ... CASCADE meets the gate (MP001)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vault.secrets}), '1', 'and the protected table is still there');
is($node->safe_psql('postgres', "SELECT state FROM mpa.requests WHERE id = $truncate_staging"), 'approved',
	'the approval is not spent by the refused attempt');
MpaTest::safe_psql_as($node, 'rita', q{DROP TRIGGER wipe ON app.staging});
is((MpaTest::psql_as($node, 'rita', 'TRUNCATE app.staging'))[0], 0,
	'without the trigger, the approved statement runs (positive control)');

# 2. A table owner's trigger fires when a superuser runs an approved
#    TRUNCATE of that table: it runs as the superuser, and tries a program
#    and a catalog write that would make its owner a superuser.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN EXECUTE current_setting('scope_test.attack'); RETURN NULL; END $$;
	ALTER FUNCTION public.escalate() OWNER TO olivia;
	CREATE TRIGGER escalate BEFORE TRUNCATE ON public.olivias EXECUTE FUNCTION public.escalate();
});
for my $attack (
	q{COPY (SELECT 1) TO PROGRAM 'true'},
	q{UPDATE pg_catalog.pg_authid SET rolsuper = true WHERE rolname = 'olivia'},
	q{SELECT pg_catalog.pg_read_file('postgresql.auto.conf')})
{
	approved('postgres', 'TRUNCATE public.olivias');
	($rc, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSET scope_test.attack = \$q\$$attack\$q\$;\nTRUNCATE public.olivias");
	like($err, qr/ERROR:  MP001: /, "inside the approved TRUNCATE, the trigger's code is gated (MP001): $attack");
}
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'olivia'}), 'f',
	'olivia did not become a superuser');

# 3. What an approved drop also removes is recorded by OID when it is
#    requested (and shown to the approvers); at execution it must be the
#    same. A view attached to the table after the approval would go with
#    it, unseen: refused (MP001), saying what changed.
$node->safe_psql('postgres', q{CREATE TABLE vault.old (i int); CREATE INDEX old_i ON vault.old (i)});
my $drop_old = approved('postgres', 'DROP TABLE vault.old CASCADE');
my ($asked) = MpaTest::mail_matching($smtp, 'alice@example.com', qr/approval requested: .*\(#$drop_old\)/);
like($asked ? $asked->{body} : '', qr/also removes \(with CASCADE where needed\):\s+- index vault\.old_i/,
	'the request mail showed what the drop also removes');
$node->safe_psql('postgres', q{CREATE VIEW public.old_view AS SELECT i FROM vault.old});
($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nDROP TABLE vault.old CASCADE");
like($err, qr/ERROR:  MP001: request $drop_old was approved when the statement reached other objects/,
	'a view attached after the approval makes the approved DROP ... CASCADE refused (MP001)');
like($err, qr/DETAIL:  Since the request, the statement now also removes view public\.old_view, rule _RETURN on view public\.old_view\./,
	'and the refusal names it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname IN ('old', 'old_view')}), '2',
	'both are still there');
$node->safe_psql('postgres', q{DROP VIEW public.old_view});
is(($node->psql('postgres', 'DROP TABLE vault.old CASCADE'))[0], 0,
	'as approved again, the approved drop runs (positive control)');

# The same for an approved TRUNCATE … CASCADE: a table referencing the
# approved one, made after the approval, would be emptied with it, unseen.
MpaTest::safe_psql_as($node, 'rita', q{ALTER TABLE app.staging ADD PRIMARY KEY (i)});
my $truncate_cascade = approved('rita', 'TRUNCATE app.staging CASCADE');
MpaTest::safe_psql_as($node, 'rita', q{CREATE TABLE app.orders (i int REFERENCES app.staging); INSERT INTO app.staging VALUES (1);
	INSERT INTO app.orders VALUES (1)});
($rc, $out, $err) = MpaTest::psql_as($node, 'rita', "\\set VERBOSITY verbose\nTRUNCATE app.staging CASCADE");
like($err, qr/ERROR:  MP001: request $truncate_cascade was approved when the statement reached other objects\n.*DETAIL:  Since the request, the statement now also empties table app\.orders\./s,
	'a table referencing the approved one since the approval makes TRUNCATE ... CASCADE refused, naming it (MP001)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM app.orders}), '1', 'and its rows are still there');
MpaTest::safe_psql_as($node, 'rita', q{DROP TABLE app.orders});
is((MpaTest::psql_as($node, 'rita', 'TRUNCATE app.staging CASCADE'))[0], 0,
	'as approved again, the approved TRUNCATE runs (positive control)');

# Policies match what a statement does, not its form: a grant on every
# table of a schema is a grant on each of them.
($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nGRANT SELECT ON ALL TABLES IN SCHEMA vault TO olivia");
like($err, qr/ERROR:  MP001: GRANT on vault\.secrets requires the approval of team "security"/,
	'GRANT ... ON ALL TABLES IN SCHEMA meets the policy on a table in it (MP001)');
is($node->safe_psql('postgres', q{SELECT has_table_privilege('olivia', 'vault.secrets', 'SELECT')}), 'f',
	'and olivia got nothing');
is((MpaTest::psql_as($node, 'postgres', 'GRANT SELECT ON ALL TABLES IN SCHEMA app TO olivia'))[0], 0,
	'in a schema no policy names, it runs (positive control)');

# Default privileges grant on tables that do not exist yet: where a GRANT
# policy covers the schema (or, without IN SCHEMA, anywhere), refused.
for my $case ([ 'IN SCHEMA vault', 'schema vault' ], [ 'FOR ROLE rita', 'every schema' ])
{
	my ($clause, $where) = @$case;
	($rc, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nALTER DEFAULT PRIVILEGES $clause GRANT SELECT ON TABLES TO olivia");
	like($err, qr/ERROR:  MP001: ALTER DEFAULT PRIVILEGES granting on future tables in $where is refused/,
		"ALTER DEFAULT PRIVILEGES $clause GRANT meets the GRANT policy on vault (MP001)");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_default_acl'), '0', 'no default privilege was recorded');
is((MpaTest::psql_as($node, 'postgres', q{ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO olivia;
	ALTER DEFAULT PRIVILEGES IN SCHEMA vault REVOKE SELECT ON TABLES FROM olivia;
	ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE SELECT ON TABLES FROM olivia}))[0],
	0, 'in a schema no GRANT policy covers it runs, and REVOKE always does (positive control)');

# Role membership however granted: ALTER GROUP … ADD USER is GRANT ROLE,
# and CREATE ROLE … IN ROLE grants it too (refused whole: the role is
# created alone and the grant requested apart).
for my $grant (q{ALTER GROUP vault_admin ADD USER olivia}, q{CREATE ROLE newcomer IN ROLE vault_admin},
	q{SET ROLE vault_admin; ALTER GROUP CURRENT_ROLE ADD USER olivia},
	q{SET ROLE vault_admin; CREATE ROLE newcomer IN ROLE CURRENT_ROLE})
{
	($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$grant");
	like($err, qr/ERROR:  MP001: GRANT ROLE on vault_admin requires the approval of team "security"/,
		"a membership in a protected role, however granted, meets the policy (MP001): $grant");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_auth_members WHERE roleid = 'vault_admin'::regrole}), '0',
	'vault_admin has no member');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'newcomer'}), '0',
	'and the role that would have joined it was not created');
# CREATE ROLE u ROLE m / ADMIN m makes m a member of u at birth: a role
# made SUPERUSER there would be olivia's to SET ROLE to. Judged as GRANT
# ROLE of the new role, by the name a policy gives it before it exists.
for my $grant (q{CREATE ROLE vault_root SUPERUSER ROLE olivia}, q{CREATE ROLE vault_root SUPERUSER ADMIN olivia},
	q{CREATE ROLE vault_root SUPERUSER USER helpdesk, olivia})
{
	($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$grant");
	like($err, qr/ERROR:  MP001: GRANT ROLE on vault_root requires the approval of team "security"/,
		"a membership in a new protected role meets the policy (MP001): $grant");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'vault_root'}), '0',
	'the role that olivia would have been given was not created');
is((MpaTest::psql_as($node, 'postgres', q{ALTER GROUP helpdesk ADD USER olivia; CREATE ROLE trainee IN ROLE helpdesk;
	CREATE ROLE intern ROLE olivia ADMIN helpdesk}))[0],
	0, 'memberships in a role no policy names run (positive control)');
my $group_request = MpaTest::safe_psql_as($node, 'rita', q{SELECT mpa_request('ALTER GROUP vault_admin ADD USER olivia', 'on call')});
chomp $group_request;
is($node->safe_psql('postgres', "SELECT operation || ' ' || object FROM mpa.requests WHERE id = $group_request"),
	'GRANT ROLE vault_admin', 'a request for ALTER GROUP … ADD USER is a request for the grant it is');

# A flood of requests (any login can make them) does not hold up a code:
# with the worker stopped, 40 requests queue 80 mails, then alice asks for
# a code; once the worker runs again, her code is the first mail sent.
ok(MpaTest::poll_until($node, q{SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')}, 30),
	'the mail so far is delivered');
my $worker = MpaTest::worker_pid($node);
my $stored_before = scalar(MpaTest::stored_mail($smtp));
kill 'STOP', $worker;
my $flood_request;
for my $i (1 .. 40)
{
	$flood_request = MpaTest::safe_psql_as($node, 'rita', "SELECT mpa_request('TRUNCATE app.staging', 'flood $i')");
	chomp $flood_request;
}
MpaTest::safe_psql_as($node, 'alice', "SELECT mpa_vote($flood_request, 'approve')");
kill 'CONT', $worker;
MpaTest::code_from_mail($smtp, 'alice@example.com', $flood_request);
my @sent = MpaTest::stored_mail($smtp);
like($sent[$stored_before]{subject}, qr/your code .*request #$flood_request$/,
	'the code mail is sent ahead of the 80 request mails queued before it');

# Requests per requester and hour are limited (mpa.max_requests_per_hour,
# 50 here): the next one is refused with pg_mpa's SQLSTATE and makes nothing.
my $made = $node->safe_psql('postgres',
	q{SELECT count(*) FROM mpa.requests WHERE requester = 'rita'::regrole AND created_at > now() - interval '1 hour'});
cmp_ok($made, '<', 50, "rita made $made requests so far");
MpaTest::safe_psql_as($node, 'rita', "SELECT mpa_request('TRUNCATE app.staging', 'up to the limit')")
  for $made + 1 .. 50;
my $requests = $node->safe_psql('postgres', q{SELECT count(*) FROM mpa.requests});
($rc, $out, $err) = MpaTest::psql_as($node, 'rita',
	"\\set VERBOSITY verbose\nSELECT mpa_request('TRUNCATE app.staging', 'one too many')");
like($err, qr/ERROR:  MP006: role rita made 50 requests in the last hour/, 'the 51st request in an hour is refused (MP006)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.requests}), $requests, 'and made nothing');
like(MpaTest::safe_psql_as($node, 'postgres', "SELECT mpa_request('TRUNCATE public.olivias', 'another requester')"),
	qr/^\d+$/, 'another requester is not held back');

# A prepared transaction that changed pg_mpa's state would hold its locks
# (a request's row, after a vote) for as long as nobody ends it: pg_mpa
# refuses to prepare it.
($rc, $out, $err) = MpaTest::psql_as($node, 'postgres',
	"\\set VERBOSITY verbose\nBEGIN; SELECT mpa_request('TRUNCATE public.olivias', 'again'); PREPARE TRANSACTION 'held'");
like($err, qr/ERROR:  MP007: a transaction that changed pg_mpa's state cannot be prepared/,
	'a transaction that made a request cannot be prepared');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), '0', 'nothing was prepared');

done_testing();
