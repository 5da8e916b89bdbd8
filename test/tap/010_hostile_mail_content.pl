# Text that people control reaches pg_mpa's mail: statements, object names,
# justifications. Line breaks cannot create headers, a line holding only a
# dot cannot end the message early, and any Unicode arrives intact.
use strict;
use warnings;
use utf8;
use Encode qw(decode encode);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $smtp = MpaTest::start_smtp();
my $node = MpaTest::new_node('hostile', $smtp);
my $table = "ledger.\"evil\r\nBcc: thief\@example.com\"";    # a real CR LF in the name
$node->safe_psql('postgres', "CREATE SCHEMA ledger; CREATE TABLE $table (id int)");
$node->safe_psql('postgres', q{
	CREATE ROLE alice; CREATE ROLE bob;
	SELECT mpa_team_create('ops', 1);
	SELECT mpa_approver_add('ops', 'alice', 'alice@example.com');
	SELECT mpa_approver_add('ops', 'bob', 'bob@example.com');
	SELECT mpa_protect('DROP TABLE', 'ledger.*', 'ops');
});

my $justification = "Quarter close \x{2014} Ümlaut, 日本語, emoji \x{1F4B8}\r\n.\r\nBcc: thief\@example.com\n.\nSubject: fake\nthe end";
my $request = $node->safe_psql('postgres',
	encode('UTF-8', "SELECT mpa_request(\$s\$DROP TABLE $table\$s\$, \$j\$$justification\$j\$)"));
like($request, qr/^\d+$/, 'a request with hostile text is accepted');
ok(MpaTest::poll_until($node,
	"SELECT bool_and(status = 'sent') AND count(*) = 2 FROM mpa.outbox WHERE kind = 'request'", 20),
	'both request mails are delivered');

# Besides the request, each approver got the mail confirming their address.
my @list = grep { /approval requested/ } split /\n/, MpaTest::mailbox($smtp, 'list');
is(scalar(@list), 2, 'exactly two request messages arrived: no extra recipient');
my @recipients = map { /"to": \[([^\]]*)\]/ ? $1 : '' } @list;
is(join(' ', sort @recipients), '"alice@example.com" "bob@example.com"',
	'each went to its approver only, none to the injected address');

for my $file (glob("$smtp->{maildir}/new/*.eml"))
{
	my $raw = slurp_file($file);
	my ($headers, $body) = split /\r\n\r\n/, $raw, 2;
	unlike($headers, qr/^(Bcc|Subject: fake)/mi, 'no header was injected');
	my @subjects = ($headers =~ /^Subject:/mg);
	is(scalar(@subjects), 1, 'one Subject header');
	unlike($raw, qr/\r\n\.\r\n/, 'no line holds only a dot');
	unlike($raw, qr/(?<!\r)\n/, 'only CRLF line endings');
}
my $shown = decode('UTF-8', MpaTest::mailbox($smtp, 'show', '--last', '--to', 'alice@example.com'));
like($shown, qr/Quarter close \x{2014} Ümlaut, 日本語, emoji \x{1F4B8}/, 'Unicode arrives intact');
like($shown, qr/the end/, 'the text after the dot lines arrives: the message was not cut');
like($shown, qr/Subject: fake/, 'the would-be header is body text');

done_testing();
