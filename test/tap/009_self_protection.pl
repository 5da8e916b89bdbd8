# pg_mpa protects itself. Before any team governs it, a superuser configures
# freely (even uninstalls). Once a team protects MPA CONFIGURE, pg_mpa's own
# objects cannot be dropped or altered, however reached, except by a
# statement that team approved; its tables are never written directly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('protected', $smtp, "mpa.resend_cooldown = 0\n");

$node->safe_psql('postgres', 'DROP EXTENSION pg_mpa; CREATE EXTENSION pg_mpa;');
pass('before a team governs, a superuser may even reinstall pg_mpa');

# Nothing joins pg_mpa's schema, not even before a team governs: a table
# (or a function, which could shadow one pg_mpa's SQL calls) moved there is
# refused with pg_mpa's SQLSTATE, and stays where it was.
my ($rc, $out, $err) = $node->psql('postgres', q{
	\set VERBOSITY verbose
	CREATE TABLE moved (id int);
	INSERT INTO moved VALUES (1);
	ALTER TABLE moved SET SCHEMA mpa;});
like($err, qr/ERROR:  MP001: moving an object into schema mpa is refused/,
	'a table moved into pg_mpa\'s schema is refused (MP001)');
is($node->safe_psql('postgres', q{SELECT relnamespace::regnamespace FROM pg_class WHERE relname = 'moved'}),
	'public', 'and it stays where it was');
$node->safe_psql('postgres', 'DROP TABLE public.moved');

$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE bob;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	CREATE FUNCTION stray() RETURNS int LANGUAGE sql AS 'SELECT 1';
	CREATE FUNCTION quiet() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
});
my $fingerprint = sub {
	$node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		         WHERE e.extname = 'pg_mpa' AND d.deptype = 'e')
		    || ' ' || (SELECT count(*) FROM mpa.policies) || ' ' || (SELECT count(*) FROM mpa.teams)
		    || ' ' || (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'mpa')});
};
my $before = $fingerprint->();

for my $attack (
	'DROP EXTENSION pg_mpa',
	'DROP EXTENSION pg_mpa CASCADE',
	'DROP SCHEMA mpa CASCADE',
	'ALTER TABLE mpa.requests DISABLE TRIGGER ALL',
	'ALTER TABLE mpa.policies DISABLE TRIGGER policies_changed',
	'ALTER TABLE mpa.requests RENAME TO requests_old',
	'DROP TABLE mpa.outbox CASCADE',
	'SET search_path = mpa; ALTER TABLE requests DISABLE TRIGGER ALL',
	'SET search_path = public, mpa; ALTER TABLE requests RENAME TO requests_old',
	'SET search_path = mpa; DROP TABLE outbox CASCADE',
	'ALTER TABLE "mpa"."requests" OWNER TO alice',
	'CREATE TRIGGER quiet BEFORE INSERT ON mpa.votes FOR EACH ROW EXECUTE FUNCTION quiet()',
	'DROP FUNCTION mpa_vote(bigint, text)',
	'ALTER FUNCTION mpa_verify(bigint, text) RENAME TO mpa_verify_old',
	'ALTER EXTENSION pg_mpa ADD FUNCTION stray()',
	'ALTER SCHEMA mpa RENAME TO mpa_old',
	'TRUNCATE mpa.votes',
	'UPDATE mpa.requests SET state = \'approved\'',
	'DELETE FROM mpa.policies')
{
	my ($rc, $out, $err) = $node->psql('postgres', $attack);
	isnt($rc, 0, "refused to a superuser: $attack");
	like($err, qr/ERROR:.*(requires the approval of team "security"|is refused)/, "  with pg_mpa's error");
}
is($fingerprint->(), $before, 'pg_mpa is unchanged after every attempt');

# The approved way: a request the governing team approves.
my $request = $node->safe_psql('postgres',
	q{SELECT mpa_request('DROP EXTENSION pg_mpa', 'decommissioning this server')});
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.com', '--timeout', '20',
	'--subject-contains', "request #$request");
like($node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')"),
	qr/approved/, 'the security team approves the uninstall');
$node->safe_psql('postgres', 'DROP EXTENSION pg_mpa');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_mpa'}),
	'0', 'the approved DROP EXTENSION runs');

done_testing();
