# Code that is not pg_mpa's never runs in pg_mpa's place or inside its work:
#  * a function named like one of pg_mpa's public functions (mpa_verify(int,
#    text) in a schema earlier on an approver's search_path) would be called
#    instead of pg_mpa's and see the approver's code: creating one, or
#    renaming a function to such a name, is refused (MP001), and governance
#    does not start beside one made before pg_mpa was installed, nor beside
#    code in an untrusted language outside extensions, adminpack or file_fdw
#    (routes to the server's files and programs that would outlive it);
#  * an event trigger made before governance (when anything goes) cannot
#    fail the worker's REVOKE of a temporary grant and so keep the grant.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('strangers', $smtp, "mpa.resend_cooldown = 0\nmpa.grant_warning = 1s\n");

# Refused with pg_mpa's SQLSTATE, and the named function does not exist.
sub refused_look_alike
{
	my ($sql, $name, $what) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	isnt($rc, 0, "$what: fails");
	like($err, qr/ERROR:\s+MP001: a function named $name that is not pg_mpa's is refused/, "$what: pg_mpa refuses it");
}

sub look_alikes
{
	return $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_proc p
		 WHERE p.proname LIKE 'mpa\_%'
		   AND NOT EXISTS (SELECT FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		                    WHERE d.objid = p.oid AND d.deptype = 'e' AND e.extname = 'pg_mpa')});
}

# --- What was made before pg_mpa's rules applied, and would outlive them,
# keeps governance from starting: a look-alike made before pg_mpa was
# installed (before a team governs, dropping pg_mpa is allowed), a function
# in an untrusted language outside any extension (here a built-in file
# reader under another name), and file_fdw (it runs programs).
$node->safe_psql('postgres', q{
	DROP EXTENSION pg_mpa;
	CREATE FUNCTION public.mpa_vote(request_id int, decision text) RETURNS text
	  LANGUAGE sql AS $$ SELECT 'captured' $$;
	CREATE FUNCTION public.reader(text) RETURNS text LANGUAGE internal STRICT AS 'pg_read_file_all';
	CREATE EXTENSION file_fdw;
	CREATE EXTENSION pg_mpa;
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE eng LOGIN;
	CREATE TABLE public.pii (id int);
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
});
my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT mpa_protect('MPA CONFIGURE', '*', 'ops')");
like($err, qr/ERROR:\s+MP001: governance cannot start beside: extension file_fdw, function public\.mpa_vote\(integer,text\) \(named like pg_mpa's\), function public\.reader\(text\) \(language internal\)/,
	'governance does not start beside a look-alike, an untrusted function outside extensions, file_fdw');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies WHERE operation = 'MPA CONFIGURE'}),
	'0', 'and nothing of it was recorded');

# --- New look-alikes are refused, in any schema, whatever their arguments.
$node->safe_psql('postgres', 'DROP FUNCTION public.mpa_vote(int, text); DROP FUNCTION public.reader(text);
	DROP EXTENSION file_fdw; CREATE SCHEMA alice');
refused_look_alike(q{CREATE FUNCTION public.mpa_verify(request_id int, code text) RETURNS text
	LANGUAGE sql AS $$ SELECT code $$}, 'mpa_verify', 'a public.mpa_verify with other argument types');
refused_look_alike(q{CREATE FUNCTION alice.mpa_verify(request_id bigint, code text) RETURNS text
	LANGUAGE sql AS $$ SELECT code $$}, 'mpa_verify', "mpa_verify in the approver's own schema (\"\$user\" on the path)");
refused_look_alike(q{CREATE PROCEDURE alice.mpa_confirm_email(team text, code text)
	LANGUAGE sql AS $$ SELECT 1 $$}, 'mpa_confirm_email', 'a procedure named mpa_confirm_email');
refused_look_alike(q{CREATE FUNCTION pg_temp.mpa_vote(request_id bigint, decision text) RETURNS text
	LANGUAGE sql AS $$ SELECT decision $$}, 'mpa_vote', 'a temporary mpa_vote');
$node->safe_psql('postgres', q{CREATE FUNCTION alice.innocent(request_id bigint, code text) RETURNS text
	LANGUAGE sql AS $$ SELECT code $$});
refused_look_alike('ALTER FUNCTION alice.innocent(bigint, text) RENAME TO mpa_verify', 'mpa_verify',
	'renaming a function to mpa_verify');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_proc WHERE proname = 'innocent'}), '1',
	'the renamed function kept its name');
is(look_alikes(), '0', 'no look-alike exists');

# Positive control: other names, mpa_-prefixed ones included, stay free.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.mpa_report_of_mine() RETURNS int LANGUAGE sql AS 'SELECT 1';
	ALTER FUNCTION alice.innocent(bigint, text) RENAME TO still_innocent});
is($node->safe_psql('postgres', 'SELECT public.mpa_report_of_mine()'), '1',
	'a function whose name is not one of pg_mpa\'s public functions is created');

# --- An event trigger made before governance, that fails every REVOKE.
$node->safe_psql('postgres', q{
	CREATE FUNCTION public.no_revoke() RETURNS event_trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'no REVOKE today'; END $$;
	CREATE EVENT TRIGGER no_revoke ON ddl_command_start WHEN TAG IN ('REVOKE')
	  EXECUTE FUNCTION public.no_revoke();
	SELECT mpa_protect('GRANT', 'public.pii', 'ops');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'ops');
});
($rc, $out, $err) = $node->psql('postgres', 'REVOKE SELECT ON public.pii FROM bob');
like($err, qr/no REVOKE today/, 'control: the event trigger fails an ordinary REVOKE');

my $request = $node->safe_psql('postgres',
	q{SELECT mpa_request('GRANT SELECT ON public.pii TO eng', 'INC-7', interval '2 seconds')});
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.com', '--timeout', '20',
	'--subject-contains', "request #$request");
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
$node->safe_psql('postgres', 'GRANT SELECT ON public.pii TO eng');
is($node->safe_psql('postgres', q{SELECT has_table_privilege('eng', 'public.pii', 'SELECT')}), 't',
	'the approved temporary GRANT ran');
ok(MpaTest::poll_until($node,
	"SELECT revoked_at IS NOT NULL FROM mpa.temporary_grants WHERE request_id = $request", 20),
	'the worker closed the grant at its end');
is($node->safe_psql('postgres', "SELECT revoke_outcome FROM mpa.temporary_grants WHERE request_id = $request"),
	'revoked', 'the REVOKE ran despite the event trigger');
is($node->safe_psql('postgres', q{SELECT has_table_privilege('eng', 'public.pii', 'SELECT')}), 'f',
	'and the access is gone');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
