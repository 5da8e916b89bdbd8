# pg_mpa's own extension scripts may change pg_mpa's objects, and an event
# trigger fires inside each of their statements with that right: a
# function of anyone's, enabled while pg_mpa is created or updated, could
# alter pg_mpa for good (here: ALTER FUNCTION mpa.require … SET
# search_path, which would put a schema of the attacker's before
# pg_catalog in every call of it). So CREATE EXTENSION pg_mpa and ALTER
# EXTENSION pg_mpa UPDATE are refused (MP001) while an event trigger is
# enabled, governed or not (docs/decisions.md, "Upgrades").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('scripts', $smtp, '', extension => 0);

# The attacker's event trigger: at the end of every DDL statement, pg_mpa's
# function mpa.require gets a search_path of the attacker's choosing, if it
# exists by then (inside pg_mpa's script, the ALTER is pg_mpa's own change).
$node->safe_psql('postgres', q{
	CREATE SCHEMA lure;
	CREATE FUNCTION public.retarget() RETURNS event_trigger LANGUAGE plpgsql AS $$
	BEGIN
	  -- (once: the ALTER fires the trigger again)
	  IF to_regprocedure('mpa.require(anyelement, text)') IS NOT NULL AND NOT EXISTS (
	       SELECT FROM pg_proc WHERE oid = to_regprocedure('mpa.require(anyelement, text)')
	          AND array_to_string(proconfig, ';') LIKE '%lure%') THEN
	    ALTER FUNCTION mpa.require(anyelement, text) SET search_path = lure, pg_catalog;
	  END IF;
	END $$;
	CREATE EVENT TRIGGER retarget ON ddl_command_end EXECUTE FUNCTION public.retarget();
});

# What mpa.require is set to: its proconfig, '' when it has none of its own
# beyond what the script gave it.
my $require_config = q{SELECT coalesce((SELECT array_to_string(proconfig, ';')
	FROM pg_proc WHERE oid = to_regprocedure('mpa.require(anyelement, text)')), '')};

my ($rc, $err) = MpaTest::refusal_as($node, 'postgres', q{CREATE EXTENSION pg_mpa VERSION '0.1'});
like($err, qr/^MP001: CREATE EXTENSION is refused while event triggers are enabled: retarget/,
	'CREATE EXTENSION pg_mpa beside an enabled event trigger is refused, naming it');
unlike($node->safe_psql('postgres', $require_config), qr/lure/, 'mpa.require was not retargeted');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_mpa'}), '0',
	'and nothing of pg_mpa was made');

# Disabled, the trigger stays out of the script: the installation is clean.
$node->safe_psql('postgres', q{
	ALTER EVENT TRIGGER retarget DISABLE;
	CREATE EXTENSION IF NOT EXISTS pg_mpa VERSION '0.1';
});
unlike($node->safe_psql('postgres', $require_config), qr/lure/,
	'with the trigger disabled, pg_mpa is created as its script says');

# The same for an update (no team governs: the update needs no approval,
# and is refused all the same).
$node->safe_psql('postgres', 'ALTER EVENT TRIGGER retarget ENABLE');
($rc, $err) = MpaTest::refusal_as($node, 'postgres', 'ALTER EXTENSION pg_mpa UPDATE');
like($err, qr/^MP001: ALTER EXTENSION is refused while event triggers are enabled: retarget/,
	'ALTER EXTENSION pg_mpa UPDATE beside an enabled event trigger is refused');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), '0.1',
	'and the version is unchanged');
unlike($node->safe_psql('postgres', $require_config), qr/lure/, 'and mpa.require is as the script made it');

$node->safe_psql('postgres', q{
	ALTER EVENT TRIGGER retarget DISABLE;
	ALTER EXTENSION pg_mpa UPDATE;
	ALTER EVENT TRIGGER retarget ENABLE;
});
isnt($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_mpa'}), '0.1',
	'with the trigger disabled, the update runs');
unlike($node->safe_psql('postgres', $require_config), qr/lure/, 'and mpa.require is as the script made it');

# Outside pg_mpa's scripts the same ALTER is refused as ever (control: the
# trigger's ALTER is the attack, not something pg_mpa allows anyway).
($rc, $err) = MpaTest::refusal_as($node, 'postgres',
	'ALTER FUNCTION mpa.require(anyelement, text) SET search_path = lure, pg_catalog');
like($err, qr/^MP001: altering of function mpa\.require/, 'control: the ALTER alone is refused');

$node->stop;
MpaTest::stop_smtp($smtp);
done_testing();
