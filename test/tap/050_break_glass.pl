# Break-glass (#22, slice 3; docs/decisions.md "Policy modes", break-glass):
# a team declared in advance, with the governing team's approval, approves a
# pending request with its own smaller quorum, each vote confirmed by its
# mailed code, never by the requester and never for pg_mpa's own
# configuration. Using it is loud (every approver mailed at once, a WARNING
# in the server log, the request and the audit flagged), and the regular
# team reviews it afterwards: a dispute and a review left overdue are mailed
# to every approver and show in mpa.team_health.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('break_glass', $smtp, "mpa.resend_cooldown = 0\n");
# Team security governs pg_mpa; team ops approves drops in prod (2 of 2);
# team glass (3 members) is the one to be declared for emergencies. dba
# makes the requests.
my @everyone = qw(alice bob carol dave erin frank gina);
$node->safe_psql('postgres', join("\n", (map { "CREATE ROLE $_ LOGIN;" } @everyone, 'dba'), q{
	SELECT mpa_team_create('security', 2), mpa_team_create('ops', 2), mpa_team_create('glass', 2);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com'), mpa_approver_add('security', 'bob', 'bob@example.com');
	SELECT mpa_approver_add('ops', 'carol', 'carol@example.com'), mpa_approver_add('ops', 'dave', 'dave@example.com');
	SELECT mpa_approver_add('glass', r::regrole, r || '@example.com') FROM unnest(ARRAY['erin', 'frank', 'gina']) r;
	CREATE SCHEMA prod; GRANT ALL ON SCHEMA prod TO dba;
	CREATE TABLE prod.a (id int); CREATE TABLE prod.b (id int); CREATE TABLE prod.c (id int); CREATE TABLE prod.d (id int);
	ALTER TABLE prod.a OWNER TO dba; ALTER TABLE prod.b OWNER TO dba; ALTER TABLE prod.c OWNER TO dba;
	SELECT mpa_protect('DROP TABLE', 'prod.*', 'ops');
	SELECT mpa_protect('MPA CONFIGURE', '*', 'security');
}));

sub query { return $node->safe_psql('postgres', $_[0]); }
sub refusal { my ($role, $sql) = @_; return (MpaTest::refusal_as($node, $role, $sql))[1]; }

# A configuration change approved by the governing team and run by its
# requester (postgres); returns the request's id.
sub governed
{
	my ($call, $why) = @_;
	my $request = query("SELECT mpa_request(\$\$$call\$\$, '$why')");
	MpaTest::approve($node, $smtp, $request, $_) for ('alice', 'bob');
	query("SELECT mpa_execute($request)");
	return $request;
}

# Bad input is refused before any authorisation and changes nothing.
is(refusal('postgres', q{SELECT mpa_break_glass_team(NULL, 1)}), '22004: team must not be NULL', 'a NULL team');
is(refusal('postgres', q{SELECT mpa_break_glass_team('nobody', 1)}), '22023: team "nobody" does not exist',
	'an unknown team');
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 0)}),
	'22023: quorum must be between 1 and the 3 approvers of team "glass", not 0', 'a quorum of 0');
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 4)}),
	'22023: quorum must be between 1 and the 3 approvers of team "glass", not 4', 'a quorum above the team\'s size');
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 2, '0 seconds')}),
	'22023: review_window must be more than 0 and at most 30 days, not 00:00:00', 'an empty review window');
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 2, '1 year')}),
	'22023: review_window must be more than 0 and at most 30 days, not 1 year', 'an absurd review window');
is(query('SELECT count(*) FROM mpa.break_glass'), '0', 'no break-glass team exists after them');

# Declaring it is governed: direct, refused (MP001); requested and approved
# by team security, it runs.
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 2, '1 hour')}),
	'MP001: mpa_break_glass_team is a configuration change that requires the approval of team "security"',
	'declaring a break-glass team needs the governing team\'s approval');
governed(q{SELECT mpa_break_glass_team('glass', 2, '1 hour')}, 'on-call emergencies');
is(query('SELECT team, quorum, review_window FROM mpa.break_glass'), 'glass|2|01:00:00', 'declared once approved');
ok(MpaTest::poll_until($node, q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'break-glass team'}),
	'and audited');
# At most one: a second team is refused when it is requested (rehearsed).
is(refusal('postgres', q{SELECT mpa_request($$SELECT mpa_break_glass_team('ops', 1)$$, 'x')}),
	'22023: team "glass" is already the break-glass team', 'a second break-glass team is refused');
# Enlarging it is an approver change: governed as any.
is(refusal('postgres', q{SELECT mpa_approver_add('glass', 'dba', 'dba@example.com')}),
	'MP001: mpa_approver_add is a configuration change that requires the approval of team "security"',
	'adding an approver to the break-glass team is governed');

my $log_offset = -s $node->logfile;
my $first = MpaTest::safe_psql_as($node, 'dba', q{SELECT mpa_request('DROP TABLE prod.a', 'disk full, now')});

# Only a member of the break-glass team opens it, with a reason; until it is
# open, its members cannot vote (they are no approvers of team ops).
is(refusal('carol', "SELECT mpa_break_glass($first, 'hurry')"),
	'MP003: role carol is not an approver of the break-glass team "glass"', 'a non-member cannot open it');
is(refusal('erin', "SELECT mpa_vote($first, 'approve')"), 'MP003: role erin is not an approver of team "ops"',
	'before it is open, a break-glass member cannot vote');
is(refusal('erin', "SELECT mpa_break_glass($first, NULL)"), '22004: reason must not be NULL', 'a reason is required');
is(refusal('erin', "SELECT mpa_break_glass($first, E' \\n ')"),
	'22023: reason must say why the emergency cannot wait for the regular approval', 'and must say something');
is(refusal('erin', "SELECT mpa_break_glass($first, repeat('x', 4001))"),
	'22001: reason is too long (at most 4000 characters)', 'in at most 4000 characters');
is(query('SELECT count(*) FROM mpa.break_glass_uses'), '0', 'the refused calls opened nothing');
# mpa.pending is what each role may vote on (the portal's waiting list):
# nothing of team ops for a break-glass member until it is open.
is(MpaTest::safe_psql_as($node, 'frank', "SELECT count(*) FROM mpa.pending WHERE id = $first"), '0',
	'before it is open, mpa.pending does not list the request to a break-glass member');

# Opened: every approver of every team concerned is mailed at once, the
# audit and the server log say so.
like(MpaTest::safe_psql_as($node, 'erin', "SELECT mpa_break_glass($first, 'the disk fills in minutes')"),
	qr/break-glass is open on request $first: 2 approving votes of team "glass" approve it/, 'erin opens it');
# mpa.pending says why a break-glass member is asked (the portal's flag).
is(MpaTest::safe_psql_as($node, 'frank', "SELECT break_glass_open FROM mpa.pending WHERE id = $first"), 't',
	'once open, mpa.pending flags the request break_glass_open');
for my $who (@everyone)
{
	ok(MpaTest::wait_for_mail_matching($smtp, "$who\@example.com", qr/BREAK-GLASS opened on request #$first:/),
		"$who is mailed that break-glass was opened");
}
is(query("SELECT detail->>'break_glass' || ' ' || (detail->>'reason') FROM mpa.audit WHERE kind = 'break-glass opened' AND request_id = $first"),
	'true the disk fills in minutes', 'the audit entry carries the flag and the reason');
like(slurp_file($node->logfile, $log_offset), qr/WARNING:  pg_mpa: break-glass opened on request $first /,
	'the server log has a WARNING');
# From now on it waits for the break-glass team's members too.
is(MpaTest::safe_psql_as($node, 'frank', "SELECT count(*) FROM mpa.pending WHERE id = $first"), '1',
	'mpa.pending lists it to a member of the break-glass team');

# Its members vote with codes read from their mail; the quorum of 2
# approves the request, flagged, although team ops never voted.
MpaTest::approve($node, $smtp, $first, 'erin');
is(query("SELECT state FROM mpa.requests WHERE id = $first"), 'pending', 'one break-glass vote is not the quorum');
like(MpaTest::approve($node, $smtp, $first, 'frank'), qr/the request is approved by break-glass/,
	'the second reaches it');
is(query("SELECT state || ' ' || break_glass FROM mpa.requests WHERE id = $first"), 'approved true',
	'the request is approved and flagged');
is(query("SELECT detail->>'break_glass' FROM mpa.audit WHERE kind = 'break-glass approved' AND request_id = $first"),
	'true', 'the approval is audited with the flag');
like(slurp_file($node->logfile, $log_offset), qr/WARNING:  pg_mpa: request $first \(DROP TABLE on prod\.a\) approved by break-glass/,
	'and logged as a WARNING');
MpaTest::safe_psql_as($node, 'dba', "SELECT mpa_execute($first)");
is(query("SELECT state || ' ' || (to_regclass('prod.a') IS NULL) FROM mpa.requests WHERE id = $first"),
	'executed true', 'the requester runs it');

# The review: by an approver of team ops who took no part, once.
is(refusal('erin', "SELECT mpa_review($first, 'confirm', 'fine')"), 'MP003: role erin is not an approver of team "ops"',
	'a break-glass member does not review');
is(refusal('carol', "SELECT mpa_review($first, 'maybe', 'fine')"), q{22023: verdict must be 'confirm' or 'dispute', not 'maybe'},
	'the verdict is confirm or dispute');
is(MpaTest::safe_psql_as($node, 'carol', "SELECT mpa_review($first, 'confirm', 'the disk was full')"),
	"request $first reviewed: confirm", 'carol confirms it');
is(refusal('dave', "SELECT mpa_review($first, 'dispute', 'late')"), "MP004: request $first is already reviewed",
	'a request is reviewed once');

# A second request: a break-glass member who rejects does not count, and
# does not reject it for team ops either; the others approve. Team ops
# disputes it: every approver is mailed at once.
my $second = MpaTest::safe_psql_as($node, 'dba', q{SELECT mpa_request('DROP TABLE prod.b', 'disk full again')});
MpaTest::safe_psql_as($node, 'erin', "SELECT mpa_break_glass($second, 'again')");
MpaTest::vote($node, $smtp, $second, 'gina', 'reject');
MpaTest::approve($node, $smtp, $second, 'erin');
is(query("SELECT state FROM mpa.requests WHERE id = $second"), 'pending', 'a member who rejected does not count');
MpaTest::approve($node, $smtp, $second, 'frank');
is(query("SELECT state || ' ' || break_glass FROM mpa.requests WHERE id = $second"), 'approved true',
	'two others approve it');
is(refusal('dave', "SELECT mpa_review(999999, 'dispute', 'x')"), '22023: request 999999 does not exist',
	'an unknown request cannot be reviewed');
MpaTest::safe_psql_as($node, 'dave', "SELECT mpa_review($second, 'dispute', 'this was no emergency')");
for my $who (@everyone)
{
	ok(MpaTest::wait_for_mail_matching($smtp, "$who\@example.com", qr/BREAK-GLASS DISPUTED: request #$second,/),
		"$who is mailed the dispute");
}
is(query(q{SELECT break_glass_disputed FROM mpa.team_health WHERE team = 'ops'}), '1', 'team_health counts the dispute');

# A third, its window shortened (a governed change: the quorum and window
# are the governing team's to set) and left unreviewed: once past it, every
# approver is mailed, once, and team_health counts it.
is(refusal('postgres', q{SELECT mpa_break_glass_team('glass', 1, '1 second')}),
	'MP001: mpa_break_glass_team is a configuration change that requires the approval of team "security"',
	'changing the quorum or window is governed');
governed(q{SELECT mpa_break_glass_team('glass', 2, '1 second')}, 'short window for the test');
my $third = MpaTest::safe_psql_as($node, 'dba', q{SELECT mpa_request('DROP TABLE prod.c', 'and again')});
MpaTest::safe_psql_as($node, 'erin', "SELECT mpa_break_glass($third, 'once more')");
MpaTest::approve($node, $smtp, $third, $_) for ('erin', 'frank');
for my $who (@everyone)
{
	ok(MpaTest::wait_for_mail_matching($smtp, "$who\@example.com", qr/BREAK-GLASS NOT REVIEWED: request #$third,/),
		"$who is mailed that the review is overdue");
}
is(query(q{SELECT break_glass_unreviewed FROM mpa.team_health WHERE team = 'ops'}), '1',
	'team_health counts the unreviewed use');
# Once: later worker rounds (a test mail delivered proves one ran) send no
# second notice.
ok(MpaTest::wait_for_status($node, MpaTest::queue_test_mail($node, 'probe@example.com'), 'sent'), 'the worker ran again');
ok(MpaTest::wait_for_status($node, MpaTest::queue_test_mail($node, 'probe@example.com'), 'sent'), 'and again');
is(scalar(MpaTest::mail_matching($smtp, 'carol@example.com', qr/BREAK-GLASS NOT REVIEWED: request #$third,/)), 1,
	'the overdue review is mailed once');

# Never by the requester: frank, of team glass, asks; he cannot open it on
# his own request, nor vote once erin did.
my $own = MpaTest::safe_psql_as($node, 'frank', q{SELECT mpa_request('DROP TABLE prod.d', 'mine')});
is(refusal('frank', "SELECT mpa_break_glass($own, 'mine')"), 'MP003: you cannot break the glass on your own request',
	'the requester cannot open break-glass');
MpaTest::safe_psql_as($node, 'erin', "SELECT mpa_break_glass($own, 'for frank')");
is(refusal('frank', "SELECT mpa_vote($own, 'approve')"), 'MP003: you cannot vote on your own request',
	'nor vote by it');

# Never for pg_mpa's own configuration, break-glass changes included:
# refused (MP001) and audited although the call rolls back.
my $configure = query(q{SELECT mpa_request($$SELECT mpa_break_glass_team('glass', 1)$$, 'smaller quorum')});
is(refusal('erin', "SELECT mpa_break_glass($configure, 'hurry')"),
	"MP001: break-glass cannot approve request $configure: it changes pg_mpa's own configuration",
	'break-glass on an MPA CONFIGURE request is refused');
ok(MpaTest::poll_until($node,
	q{SELECT count(*) = 1 FROM mpa.audit WHERE kind = 'refused' AND detail->>'refused' = 'mpa_break_glass'}),
	'and the refusal is audited');
is(query("SELECT count(*) FROM mpa.break_glass_uses WHERE request_id = $configure"), '0', 'nothing was opened');

# Nor for the statements the gate leaves to the governing team for pg_mpa's
# sake, whatever their operation: ALTER SYSTEM (shared_preload_libraries
# could unload pg_mpa) and a change of one of pg_mpa's own tables.
for my $statement ("ALTER SYSTEM SET shared_preload_libraries = ''", 'ALTER TABLE mpa.audit SET (fillfactor = 90)')
{
	my $id = query("SELECT mpa_request(\$\$$statement\$\$, 'emergency')");
	is(query("SELECT team FROM mpa.requests WHERE id = $id"), 'security', "$statement is the governing team's");
	is(refusal('erin', "SELECT mpa_break_glass($id, 'hurry')"),
		"MP001: break-glass cannot approve request $id: it changes pg_mpa's own configuration",
		"break-glass on $statement is refused");
	is(query("SELECT count(*) FROM mpa.break_glass_uses WHERE request_id = $id"), '0', 'nothing was opened');
}
is(query(q{SELECT intact FROM mpa_audit_verify()}), 't', 'the audit chain is intact');

done_testing();
