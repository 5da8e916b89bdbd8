# Requests for another database's objects (#19, step 2; docs/decisions.md
# "Every database", "Requests for another database"):
# mpa_request(statement, justification, database => 'billing'), made in
# mpa.database ('postgres'), is described IN billing by a worker connected
# there as the requester: billing's OIDs, billing's policies' team, what a
# drop there also removes (described there, for the mail). The request is
# recorded at home with the database's name and OID; home's gate never
# spends it, and mpa_execute runs it in billing. Three databases: home and
# crm hold the same names as billing, with other policies, so that a
# description made in the wrong database shows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('request_elsewhere', $smtp, "mpa.max_requests_per_hour = 100\n");
$node->safe_psql('postgres', q{
	CREATE DATABASE billing;
	CREATE DATABASE crm;
	CREATE ROLE alice LOGIN; CREATE ROLE bert LOGIN;
	CREATE ROLE rita LOGIN;   -- the requester
	CREATE ROLE nora LOGIN;   -- may not connect to billing
	REVOKE CONNECT ON DATABASE billing FROM PUBLIC;
	GRANT CONNECT ON DATABASE billing TO rita, alice, bert;
	SELECT mpa_team_create('security', 1);
	SELECT mpa_approver_add('security', 'alice', 'alice@example.com');
	SELECT mpa_team_create('finance', 1);
	SELECT mpa_approver_add('finance', 'bert', 'bert@example.com');
});
# The same names in the three databases; in billing a view depends on the
# invoices (what dropping them with CASCADE also removes).
for my $db (qw(postgres billing crm))
{
	$node->safe_psql($db, q{
		CREATE TABLE public.invoices (id int);
		CREATE TABLE public.ledger (id int);
		GRANT CREATE ON SCHEMA public TO rita;
	});
}
$node->safe_psql('billing', q{CREATE VIEW public.invoice_totals AS SELECT count(*) FROM public.invoices});
$node->safe_psql('postgres', q{
	-- The invoices are finance's in billing, security's at home and in crm:
	-- the team says in whose database the statement was described.
	SELECT mpa_protect('DROP TABLE', 'public.invoices', 'finance', database => 'billing');
	SELECT mpa_protect('DROP TABLE', 'public.invoices', 'security');
	SELECT mpa_protect('DROP TABLE', 'public.invoices', 'security', database => 'crm');
	-- The ledger is protected at home only.
	SELECT mpa_protect('DROP TABLE', 'public.ledger', 'security');
	-- A view made anew has no OID yet: its request's targets are the same
	-- in every database (pg_class, 0).
	SELECT mpa_protect('CREATE VIEW', 'public.report', 'finance', database => 'billing');
	SELECT mpa_protect('CREATE VIEW', 'public.report', 'finance');
	SELECT mpa_protect('ALTER ROLE', 'rita', 'security');
	SELECT mpa_protect('GRANT', 'public.*', 'security');
});
# billing's gate has the policies once the worker published them: wait so
# that the requests below are not described with an older copy.
MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE public.invoices',
	'MP001: DROP TABLE on public.invoices requires the approval of team "finance"', dbname => 'billing');

my $requests = q{SELECT count(*) FROM mpa.requests};
sub request_as
{
	my ($role, $args) = @_;
	my $id = MpaTest::safe_psql_as($node, $role, "SELECT mpa_request($args)");
	chomp $id;
	return $id;
}
sub row_of
{
	my ($id, $columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM mpa.requests WHERE id = $id");
}

# 1. A drop in billing: resolved there, recorded here for billing.
my $drop = request_as('rita',
	q{'DROP TABLE public.invoices CASCADE', 'close the books', database => 'billing'});
# Describing a statement runs nothing of it.
is($node->safe_psql('billing', q{SELECT to_regclass('public.invoice_totals') IS NOT NULL}), 't',
	"billing's table and view are still there");
my $billing_oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'billing'});
my $billing_invoices = $node->safe_psql('billing', q{SELECT 'public.invoices'::regclass::oid});
my $home_invoices = $node->safe_psql('postgres', q{SELECT 'public.invoices'::regclass::oid});
isnt($billing_invoices, $home_invoices, "billing's invoices and home's are different objects");
# The targets are billing's table, by its OID in billing's pg_class.
is(row_of($drop, q{target_classes::text || ' ' || target_oids::text}),
	"{1259} {$billing_invoices}", "the request names billing's table by billing's OID");
# The database by name and OID, as billing's pg_database row has them.
is(row_of($drop, q{database || ' ' || database_oid}), "billing $billing_oid",
	'the request records the database by name and OID');
# billing's policy decides the team (finance), not home's or crm's on the
# same name (security).
is(row_of($drop, q{team || ' ' || operation || ' ' || object}), 'finance DROP TABLE public.invoices',
	"the team is billing's policy's");
# What the drop also removes is billing's view (and its rule), described
# in billing.
my $view = $node->safe_psql('billing', q{SELECT 'public.invoice_totals'::regclass::oid});
is(row_of($drop, q{cascade_descriptions::text}),
	'{"view public.invoice_totals","rule _RETURN on view public.invoice_totals"}',
	"the cascade is billing's view, described there");
is(row_of($drop, q{cascade_oids[1]}), $view, "the cascade names billing's view by billing's OID");
# The fingerprint is the statement's text's, whichever database: the same
# text requested at home has the same one, with home's table and team.
my $home_drop = request_as('rita', q{'DROP TABLE public.invoices CASCADE', 'close the books'});
is(row_of($home_drop, qq{fingerprint = (SELECT fingerprint FROM mpa.requests WHERE id = $drop)}), 't',
	'the same text requested at home has the same fingerprint');
is(row_of($home_drop, q{target_oids::text || ' ' || coalesce(database, 'home') || ' ' || team}),
	"{$home_invoices} home security", "and names home's table, for home, by home's policy");

# The mail to finance says which database, and lists billing's view (its
# OID means nothing at home: described in billing, not here).
my $mail = MpaTest::wait_for_mail_matching($smtp, 'bert@example.com', qr/\(#\Q$drop\E\)$/);
ok($mail, 'the request is mailed to billing\'s team');
is($mail->{subject}, "[pg_mpa] approval requested: DROP TABLE on public.invoices in database billing (#$drop)",
	'the subject names the database');
like($mail->{body}, qr/^Operation:     DROP TABLE on public\.invoices in database billing$/m,
	'the body names the database');
like($mail->{body},
	qr/^Dropping it also removes \(with CASCADE where needed\):\n\n  - rule _RETURN on view public\.invoice_totals\n  - view public\.invoice_totals$/m,
	"the body lists billing's view");
# Approvers see the database in mpa.pending.
is(MpaTest::safe_psql_as($node, 'bert', "SELECT database FROM mpa.pending WHERE id = $drop"), "billing",
	'mpa.pending shows the database');
# And the audit records it.
is($node->safe_psql('postgres',
	"SELECT detail->>'database' FROM mpa.audit WHERE kind = 'request' AND request_id = $drop"),
	'billing', 'the audit entry names the database');

# 2. Hostile or wrong database arguments: 22023, nothing recorded.
my $before = $node->safe_psql('postgres', $requests);
my %bad = (
	q{'nowhere'} => '22023: database "nowhere" does not exist',
	q{''} => '22023: invalid database name',
	q{E'bill\ning'} => '22023: invalid database name',
	q{E'billing\r'} => '22023: invalid database name',
	q{repeat('b', 64)} => '22023: invalid database name',
	q{repeat('b', 60000)} => '22023: invalid database name',
	q{'*'} => "22023: a request is for one database, not '*'",
);
for my $value (sort keys %bad)
{
	my ($rc, $error) = MpaTest::refusal_as($node, 'rita',
		"SELECT mpa_request('DROP TABLE public.invoices', 'x', database => $value)");
	is($error, $bad{$value}, "database => " . substr($value, 0, 20) . " is refused");
}
# The statement's own checks are today's, with a database too: the same
# error as the same request at home.
my %bad_statement = (
	q{NULL} => '22004: statement must not be NULL',
	q{'DROP TABLE public.invoices; DROP TABLE public.ledger'} =>
	  '22023: a request must hold exactly one statement, not 2',
	q{'DROP TABLE public.nothing'} => '42704: public.nothing does not exist',
);
for my $value (sort keys %bad_statement)
{
	my ($rc, $error) = MpaTest::refusal_as($node, 'rita', "SELECT mpa_request($value, 'x', database => 'billing')");
	my ($home_rc, $home_error) = MpaTest::refusal_as($node, 'rita', "SELECT mpa_request($value, 'x')");
	is("$error|$home_error", "$bad_statement{$value}|$bad_statement{$value}",
		"statement $value is refused as at home");
}
is($node->safe_psql('postgres', $requests), $before, 'no request was recorded');

# The door to the describe task is pg_mpa's internal function: only
# mpa_request reaches it, also for a superuser (whom REVOKE does not bind).
my ($rc, $error) = MpaTest::refusal_as($node, 'postgres',
	q{SELECT mpa.describe_in_database('DROP TABLE public.invoices', 'public', 'billing')});
like($error, qr/^MP010: /, 'mpa.describe_in_database called directly is refused (MP010)');

# 3. A role that may not connect to billing cannot have a statement there
# described (it could not run it either): refused before any worker starts.
($rc, $error) = MpaTest::refusal_as($node, 'nora',
	q{SELECT mpa_request('DROP TABLE public.invoices', 'x', database => 'billing')});
is($error, '42501: role "nora" may not connect to database "billing"', 'no CONNECT on billing: refused');

# A database that takes no connections (template0) cannot be described
# either: refused before any worker starts, as a connection would be.
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('DROP TABLE public.invoices', 'x', database => 'template0')});
is($error, '55000: database "template0" does not allow connections', 'a database without connections: refused');

# A database of another encoding neither (README: the databases share one
# encoding, 0A000): statements and names pass between the two as bytes, so
# the worker is not started, whatever the policies there.
$node->safe_psql('postgres',
	q{CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('DROP TABLE public.invoices', 'x', database => 'latin1')});
like($error, qr/^0A000: database "latin1" uses encoding LATIN1, this one (?!LATIN1)\S+$/,
	'a database of another encoding: refused (0A000)');

# 4. Not protected in billing (the ledger is protected at home only): MP002,
# as at home for a statement no policy names.
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('DROP TABLE public.ledger', 'x', database => 'billing')});
is($error, 'MP002: DROP TABLE on public.ledger is not protected: it needs no approval',
	"a statement billing's policies do not name needs no request (MP002)");

# 5. What holds in every database is requested without a database: roles
# (cluster-wide) and pg_mpa's configuration.
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('ALTER ROLE rita CREATEDB', 'x', database => 'billing')});
is($error, '22023: ALTER ROLE holds in every database: it is requested without database',
	'a cluster-wide operation with a database is refused');
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request($$SELECT mpa_team_create('ops', 1)$$, 'x', database => 'billing')});
is($error, '22023: MPA CONFIGURE holds in every database: it is requested without database',
	"pg_mpa's configuration with a database is refused");
is($node->safe_psql('postgres', $requests), $before, 'still no request recorded');

# 6. database => NULL, or mpa.database's own name: a request as ever.
my $null_db = request_as('rita', q{'DROP TABLE public.ledger', 'x', database => NULL});
my $home_db = request_as('rita', q{'DROP TABLE public.ledger', 'x', database => 'postgres'});
is($node->safe_psql('postgres',
	"SELECT string_agg(coalesce(database, 'home') || ' ' || team || ' ' || (target_oids = ARRAY['public.ledger'::regclass::oid]), ',')
	   FROM mpa.requests WHERE id IN ($null_db, $home_db)"),
	'home security true,home security true', "NULL or mpa.database's name: home's request");

# 7. A temporary grant is for mpa.database's objects only.
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('GRANT SELECT ON public.invoices TO nora', 'x', valid_for => interval '1 hour', database => 'billing')});
is($error, '0A000: a temporary grant is for objects of database "postgres" only, not "billing"',
	'a temporary grant in another database is refused');
my $temporary = request_as('rita',
	q{'GRANT SELECT ON public.invoices TO nora', 'x', valid_for => interval '1 hour', database => 'postgres'});
is(row_of($temporary, q{valid_for || ' ' || coalesce(database, 'home')}), '01:00:00 home',
	"with mpa.database's name it is today's temporary grant");

# A third argument given by position as an untyped literal is the database
# (the text overload; docs/decisions.md "Requests for another database"):
# refused, never read as a duration and never a permanent grant's request.
($rc, $error) = MpaTest::refusal_as($node, 'rita',
	q{SELECT mpa_request('GRANT SELECT ON public.invoices TO nora', 'x', '2 hours')});
is($error, '22023: database "2 hours" does not exist', 'an untyped third argument is a database name');
is($node->safe_psql('postgres', $requests), $before + 3, 'only the three requests above were recorded');

# A database's name is a value: quotes, spaces and non-ASCII letters reach
# the worker (by OID), the request, the mail's subject (encoded as any
# header text) and mpa.pending unchanged.
my $odd = q{o'hare "Bücher" db};
(my $odd_literal = $odd) =~ s/'/''/g;
$node->safe_psql('postgres', qq{CREATE DATABASE "o'hare ""Bücher"" db"});
$node->safe_psql($odd, q{CREATE TABLE public.invoices (id int)});
$node->safe_psql('postgres',
	qq{SELECT mpa_protect('DROP TABLE', 'public.invoices', 'finance', database => '$odd_literal')});
MpaTest::refusal_once_published($node, 'postgres', 'DROP TABLE public.invoices',
	'MP001: DROP TABLE on public.invoices requires the approval of team "finance"', dbname => $odd);
my $odd_request = request_as('rita', qq{'DROP TABLE public.invoices', 'x', database => '$odd_literal'});
is(row_of($odd_request, q{database}), $odd, 'the odd name is recorded as pg_database spells it');
is(row_of($odd_request, q{target_oids[1]}), $node->safe_psql($odd, q{SELECT 'public.invoices'::regclass::oid}),
	"the odd-named database's table");
# Its subject holds non-ASCII letters: encoded-words, decoded here.
require Encode;
my $deadline = time() + 20;
until (($mail) = grep { Encode::decode('MIME-Header', $_->{subject}) =~ /\(#\Q$odd_request\E\)$/ }
	MpaTest::mail_matching($smtp, 'bert@example.com', qr/./))
{
	last if time() > $deadline;
	select(undef, undef, undef, 0.1);
}
ok($mail, 'its mail is sent') or BAIL_OUT('no mail for the odd-named database');
is(Encode::decode('MIME-Header', $mail->{subject}),
	Encode::decode('UTF-8', "[pg_mpa] approval requested: DROP TABLE on public.invoices in database $odd (#$odd_request)"),
	'the subject names the database as it is spelled');
# The raw header block is header lines and folded continuations only.
my ($head) = split /\r?\n\r?\n/, $mail->{raw}, 2;
is(join('', map { /^(?:[A-Za-z-]+:|[ \t])/ ? '' : "[$_]" } split /\r?\n/, $head), '',
	'the header block holds no line of the name\'s own');
like($mail->{body}, qr/^Operation:     DROP TABLE on public\.invoices in database \Q$odd\E$/m,
	'the body names the database as it is spelled');
# The worker's answer is bytes of the server's encoding whatever the
# client's: a LATIN1 client (the name spelled with chr(), so that psql's
# bytes do not matter) gets the same request.
my $latin1 = MpaTest::safe_psql_as($node, 'rita', q{SET client_encoding = 'LATIN1';
	SELECT mpa_request('DROP TABLE public.invoices', 'x', database => 'o''hare "B' || chr(252) || 'cher" db')});
is(row_of($latin1, q{database}), $odd, 'a LATIN1 client: the name as the worker sent it');

# 8. Home's gate does not spend another database's approval. A view to be
# made has the same targets everywhere ({pg_class}, {0}), and the same text
# the same fingerprint: only the database tells billing's approval from
# home's.
my $report = request_as('rita', q{'CREATE VIEW public.report AS SELECT 1', 'x', database => 'billing'});
is(row_of($report, q{target_classes::text || target_oids::text}), '{1259}{0}', 'a new view has no OID yet');
MpaTest::approve($node, $smtp, $report, 'bert');
is(row_of($report, 'state'), 'approved', "billing's view is approved");
($rc, $error) = MpaTest::refusal_as($node, 'rita', q{CREATE VIEW public.report AS SELECT 1});
is($error, 'MP001: CREATE VIEW on public.report requires the approval of team "finance"',
	"home's gate does not spend billing's approval");
is(row_of($report, 'state'), 'approved', 'the approval stays for billing');
is($node->safe_psql('postgres', q{SELECT to_regclass('public.report') IS NULL}), 't', 'no view at home');

# 9. mpa_execute runs it in billing, not at home (test/tap/045 tests
# execution in another database).
($rc, $error) = MpaTest::refusal_as($node, 'rita', "SELECT mpa_execute($report)");
is($error, '', "mpa_execute runs billing's request");
is(row_of($report, 'state'), 'executed', 'executed');
is($node->safe_psql('billing', q{SELECT to_regclass('public.report') IS NOT NULL}), 't', 'the view is in billing');
is($node->safe_psql('postgres', q{SELECT to_regclass('public.report') IS NULL}), 't', 'still no view at home');

done_testing();
