# Once a team governs pg_mpa, its set-up is governed with it: its settings,
# the libraries loaded into sessions, session_replication_role, LOAD, new
# extensions, code in untrusted languages and COPY to or from programs and
# server files need that team's approval, from any database. Other
# settings, trusted code and COPY through the client stay free.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('settings', $smtp, "mpa.resend_cooldown = 0\n");
$node->safe_psql('postgres', q{
	CREATE DATABASE app;
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE carol;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('security', 'bob', 'bob@example.com');
});

sub refused
{
	my ($db, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql);
	return $rc != 0 ? $err : '';
}

is(refused('postgres', q{ALTER SYSTEM SET mpa.otp_max_attempts = 5; ALTER SYSTEM RESET mpa.otp_max_attempts}), '',
	'before a team governs pg_mpa, a superuser changes its settings freely');
$node->safe_psql('postgres', q{SELECT mpa_protect('MPA CONFIGURE', '*', 'security')});

my @attacks = (
	q{ALTER SYSTEM SET mpa.otp_max_attempts = 10},
	q{ALTER SYSTEM SET mpa.smtp_url = 'smtp://attacker.example:25'},
	q{ALTER SYSTEM SET shared_preload_libraries = ''},
	q{ALTER SYSTEM RESET ALL},
	q{ALTER ROLE carol SET session_preload_libraries = 'auto_explain'},
	q{ALTER DATABASE app SET local_preload_libraries = 'auto_explain'},
	q{LOAD 'auto_explain'},
	q{SET session_replication_role = replica},
	q{ALTER ROLE carol SET session_replication_role = replica},
	q{CREATE EXTENSION pg_stat_statements},
	q{CREATE FUNCTION sneaky() RETURNS int LANGUAGE c AS 'pg_mpa', 'mpa_tally'},
	q{COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'},
	q{COPY (SELECT 1) TO '/tmp/pg_mpa_copied'},
	q{CREATE TEMP TABLE t (x text); COPY t FROM '/etc/hostname'},
	q{SET allow_system_table_mods = on},
	q{UPDATE pg_catalog.pg_proc SET prosrc = prosrc WHERE proname = 'mpa_vote'},
	q{DELETE FROM pg_catalog.pg_depend WHERE false},
	q{SELECT pg_read_file('postgresql.auto.conf')},
	q{SELECT pg_read_binary_file('postgresql.auto.conf', 0, 10, true)},
	q{SELECT pg_stat_file('postgresql.auto.conf')},
	q{SELECT count(*) FROM pg_ls_dir('.')},
	q{SELECT count(*) FROM pg_ls_logdir()},
	q{SELECT lo_import('/etc/hostname')},
	q{SELECT lo_export(lo_from_bytea(0, 'x'), current_setting('data_directory') || '/postgresql.auto.conf')},
	q{CREATE FUNCTION read_it() RETURNS text LANGUAGE sql AS $$SELECT pg_read_file('postgresql.conf')$$; SELECT read_it()},
	q{DO $$BEGIN PERFORM lo_export(lo_from_bytea(0, 'x'), '/tmp/pg_mpa_exported'); END$$},
	q{CREATE VIEW files AS SELECT pg_ls_dir('.') AS name; SELECT * FROM files},
	q{CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;
	  CREATE EVENT TRIGGER watcher ON ddl_command_start EXECUTE FUNCTION on_ddl()});
for my $attack (@attacks)
{
	like(refused('postgres', $attack), qr/requires the approval of team "security"|Team "security" governs pg_mpa|reads or writes files on the server, which team "security" governs/,
		"refused: $attack");
}
my $deadline = time() + 10;
while (time() < $deadline && !refused('app', $attacks[0])) { select(undef, undef, undef, 0.1) }
for my $attack (@attacks[0, 2, 4])
{
	like(refused('app', $attack), qr/requires the approval of team "security".*\n.*live in database "postgres"/s,
		"refused from another database too: $attack");
}
ok(!-e $node->data_dir . '/postgresql.auto.conf'
	  || slurp_file($node->data_dir . '/postgresql.auto.conf') !~ /mpa\.|preload/,
	'postgresql.auto.conf holds none of it');
# Once governed, ALTER SYSTEM of any parameter needs the governing team: the
# logging collector's log_directory and log_filename would otherwise make it
# write into postgresql.auto.conf, archive_command runs a program, and so on.
for my $setting (q{work_mem = '8MB'}, q{log_directory = '.'}, q{log_filename = 'postgresql.auto.conf'},
	q{archive_command = 'cat > /dev/null'})
{
	like(refused('postgres', "\\set VERBOSITY verbose\nALTER SYSTEM SET $setting"),
		qr/ERROR:  MP001: ALTER SYSTEM on \S+ requires the approval of team "security"/,
		"once governed, ALTER SYSTEM of any parameter is refused: $setting");
}
is(refused('postgres', q{SET work_mem = '8MB'; ALTER ROLE carol SET work_mem = '8MB'}), '',
	'other settings stay free for sessions and roles');
# log_min_messages above ERROR in an approver's sessions would keep pg_mpa's
# log hook from seeing a code entry cancelled before pg_mpa's code ran (the
# hook burns that code): governed for roles and databases. A session's own
# SET hides only its own errors and stays free.
for my $setting (q{ALTER ROLE carol SET log_min_messages = panic}, q{ALTER ROLE ALL SET log_min_messages = fatal},
	q{ALTER DATABASE postgres SET log_min_messages = panic})
{
	like(refused('postgres', "\\set VERBOSITY verbose\n$setting"),
		qr/ERROR:  MP001: \S.* requires the approval of team "security"/,
		"once governed, log_min_messages of other sessions is refused (MP001): $setting");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%log_min_messages%'}),
	'0', 'no role or database got it');
is(refused('postgres', q{SET log_min_messages = panic; RESET log_min_messages}), '',
	"a session's own log_min_messages stays free");
is(refused('postgres', q{CREATE FUNCTION harmless() RETURNS int LANGUAGE sql AS 'SELECT 1'; CREATE FUNCTION harmless_pl() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'}),
	'', 'trusted languages stay free');
is(refused('postgres', q{COPY (SELECT 1) TO STDOUT}), '', 'COPY through the client stays free');
is(refused('postgres', q{SELECT lo_unlink(lo_from_bytea(0, 'kept inside the database'))}), '',
	'large objects inside the database stay free');
like(refused('app', q{SELECT lo_import('/etc/hostname')}), qr/reads or writes files on the server/,
	'server files are out of reach from another database too');
ok(!-e '/tmp/pg_mpa_exported', 'lo_export wrote no file');
like(slurp_file($node->data_dir . '/postgresql.auto.conf'), qr/^# Do not edit this file manually!/,
	'postgresql.auto.conf was not overwritten');
is(refused('app', q{ALTER ROLE carol SET work_mem = '8MB'}), '', 'also per role, from any database');

# The approved way.
my $request = $node->safe_psql('postgres',
	q{SELECT mpa_request($$ALTER SYSTEM SET mpa.otp_max_attempts = 5$$, 'fewer tries, audit finding 12')});
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_vote($request, 'approve')");
my $code = MpaTest::mailbox($smtp, 'code', '--to', 'alice@example.com', '--timeout', '20',
	'--subject-contains', "request #$request");
$node->safe_psql('postgres', "SET SESSION AUTHORIZATION alice; SELECT mpa_verify($request, '$code')");
is(refused('postgres', q{ALTER SYSTEM SET mpa.otp_max_attempts = 5}), '', 'the approved change runs');
like(slurp_file($node->data_dir . '/postgresql.auto.conf'), qr/mpa\.otp_max_attempts = '5'/, 'and is written');

done_testing();
