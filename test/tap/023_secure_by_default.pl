# Secure by default: a DBA who creates a team and protects something does
# not have to remember a second step. The team of the first policy governs
# pg_mpa too (unless a team was named to govern it before), from the end of
# the transaction that made it: a set-up done in one transaction completes;
# after it, every configuration change, mpa_unprotect and DROP EXTENSION
# need the team's approval (pg_mpa's SQLSTATE MP001).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

# The default (MpaTest turns it off for the other tests).
my $node = MpaTest::new_node('secure_default', undef, "mpa.govern_from_first_policy = on\n");
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE dave LOGIN;
	CREATE TABLE public.accounts (id int); CREATE TABLE public.ledger (id int);
	SELECT mpa_team_create('dba', 2);
	SELECT mpa_approver_add('dba', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('dba', 'bob', 'bob@example.com');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies WHERE operation = 'MPA CONFIGURE'}),
	'0', 'before any policy, nobody governs pg_mpa');

# Even before governance, nothing of pg_mpa is altered or added to: such a
# change would outlive the moment governance starts.
for my $change (
	q{ALTER FUNCTION mpa.require(anyelement, text) SET search_path = public},
	q{CREATE FUNCTION public.mpa_extra() RETURNS int LANGUAGE sql AS 'SELECT 1'; ALTER EXTENSION pg_mpa ADD FUNCTION public.mpa_extra()},
	q{ALTER TABLE mpa.policies DISABLE TRIGGER policies_changed},
	q{CREATE TABLE public.p (LIKE mpa.approvers); ALTER TABLE mpa.approvers INHERIT public.p},
	# A rewrite that leaves no other trace: the audit would vanish in a crash.
	q{ALTER TABLE mpa.audit SET UNLOGGED})
{
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN;\n$change;\nROLLBACK;",
		on_error_stop => 1);
	like($err, qr/ERROR:  MP001: /, "refused before governance too (MP001): $change");
}

# The first policy, in a transaction that also adds a second one.
my ($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT mpa_protect('DROP TABLE', 'public.accounts', 'dba');
	SELECT mpa_protect('TRUNCATE', 'public.ledger', 'dba');
	COMMIT;
});
is($rc, 0, 'a set-up made in one transaction completes');
like($err, qr/NOTICE:  team "dba" now governs pg_mpa as well/, 'the DBA is told that the team now governs pg_mpa');
is($node->safe_psql('postgres', q{SELECT team FROM mpa.policies WHERE operation = 'MPA CONFIGURE' AND object = '*'}),
	'dba', 'the team of the first policy governs pg_mpa');

# From then on, no second step was needed: configuration is governed.
for my $change (
	q{SELECT mpa_unprotect('DROP TABLE', 'public.accounts')},
	q{SELECT mpa_protect('DROP TABLE', 'public.ledger', 'dba')},
	q{SELECT mpa_approver_add('dba', 'dave', 'dave@evil.example')},
	q{SELECT mpa_team_set_threshold('dba', 1)},
	q{DROP EXTENSION pg_mpa})
{
	($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$change");
	like($err, qr/ERROR:  MP001: .*requires the approval of team "dba"/, "refused once governed: $change");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies}), '3', 'and no policy changed');

# Maintenance is not a change: a database-wide VACUUM FULL and a CLUSTER
# rewrite pg_mpa's tables (PostgreSQL's internal swap and drop of a
# transient table), governed or not.
for my $maintenance (q{VACUUM FULL}, q{CLUSTER mpa.policies USING policies_pkey}, q{REINDEX TABLE mpa.policies})
{
	is(($node->psql('postgres', $maintenance))[0], 0, "maintenance runs once governed: $maintenance");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM mpa.policies}), '3', 'and the policies are all there');
# Inside a transaction block their locks would be held at will (like LOCK
# TABLE's, while an approver's verification waits with its code on view).
for my $held (q{CLUSTER mpa.requests USING requests_pkey}, q{REINDEX TABLE mpa.requests})
{
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nBEGIN;\n$held;\nCOMMIT;");
	like($err, qr/ERROR:  MP001: .* in a transaction block of pg_mpa's table mpa\.requests is refused/,
		"refused in a transaction block (MP001): $held");
}
like($node->psql('postgres', 'DROP TABLE public.accounts') ? 'refused' : 'dropped', qr/refused/,
	'the protected table is protected');

# A team named to govern pg_mpa first keeps governing it.
my $named = MpaTest::new_node('named_governor', undef, "mpa.govern_from_first_policy = on\n");
$named->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN;
	CREATE TABLE public.accounts (id int);
	BEGIN;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'carol', 'carol@example.com');
	SELECT mpa_team_create('dba', 1);
	SELECT mpa_approver_add('dba', 'alice', 'alice@example.com');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
	SELECT mpa_protect('DROP TABLE', 'public.accounts', 'dba');
	COMMIT;
});
is($named->safe_psql('postgres', q{SELECT string_agg(team, ',') FROM mpa.policies WHERE operation = 'MPA CONFIGURE'}),
	'security', 'a team named to govern pg_mpa before the first policy keeps governing it');

done_testing();
