# TLS and AUTH towards the SMTP server: STARTTLS and implicit TLS with a
# verified certificate, AUTH over TLS; never plain text when STARTTLS is
# required, never a server with an untrusted certificate or one made out
# for another host name, never a wrong password; the waiting mail goes out
# once the setting is fixed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MpaTest;

my $trusted = MpaTest::make_tls_certs('trusted');
my $untrusted = MpaTest::make_tls_certs('untrusted');
my %tls = (tls_cert => $trusted->{cert}, tls_key => $trusted->{key});

my $node = MpaTest::new_node('tls', undef, <<"CONF");
mpa.smtp_starttls = on
mpa.smtp_ca_file = '$trusted->{ca}'
CONF

# Points the node at $smtp (smtp:// or smtps://, by name: the certificate
# is checked against "localhost"), with extra settings; waits for reload.
sub use_server
{
	my ($smtp, $scheme, %extra) = @_;
	return MpaTest::reconfigure($node,
		'mpa.smtp_url' => "$scheme://localhost:$smtp->{port}", %extra);
}

# Waits until outbox row $id is sent; returns its status.
sub sent
{
	my ($id) = @_;
	MpaTest::poll_until($node, "SELECT status = 'sent' FROM mpa.outbox WHERE id = $id", 20);
	return $node->safe_psql('postgres', "SELECT status FROM mpa.outbox WHERE id = $id");
}

# Waits until outbox row $id was tried and failed; returns status|attempts|last_error.
sub refused
{
	my ($id) = @_;
	MpaTest::poll_until($node,
		"SELECT attempts >= 1 AND last_error IS NOT NULL FROM mpa.outbox WHERE id = $id", 20);
	return split /\|/, $node->safe_psql('postgres',
		"SELECT status, attempts, coalesce(last_error, '') FROM mpa.outbox WHERE id = $id"), 3;
}

# The sidecar of the one message to $address on $smtp (undef unless exactly one).
sub stored_for
{
	my ($smtp, $address) = @_;
	my @m = MpaTest::mail_to($smtp, $address);
	return @m == 1 ? $m[0]{meta} : undef;
}

# ---------------------------------------------------------------------------
# STARTTLS required by both sides, certificate verified against the CA file.
my $starttls = MpaTest::start_smtp(%tls, require_starttls => 1);
ok(use_server($starttls, 'smtp'), 'STARTTLS: node pointed at the server');
my $id = MpaTest::queue_test_mail($node, 'starttls@example.com');
is(sent($id), 'sent', 'STARTTLS: delivered');
my $meta = stored_for($starttls, 'starttls@example.com');
ok($meta && $meta->{tls}, 'STARTTLS: the server received it over TLS');
diag('TLS version: ' . ($meta ? $meta->{tls_version} // 'none' : 'no message'));

# ---------------------------------------------------------------------------
# Implicit TLS (smtps://).
my $implicit = MpaTest::start_smtp(%tls, implicit_tls => 1);
ok(use_server($implicit, 'smtps'), 'implicit TLS: node pointed at the server');
$id = MpaTest::queue_test_mail($node, 'smtps@example.com');
is(sent($id), 'sent', 'implicit TLS: delivered');
$meta = stored_for($implicit, 'smtps@example.com');
ok($meta && $meta->{tls}, 'implicit TLS: the server received it over TLS');

# ---------------------------------------------------------------------------
# AUTH after STARTTLS.
my $auth = MpaTest::start_smtp(%tls, require_starttls => 1, auth_user => 'mpa',
	auth_password => 's3cret');
ok( use_server($auth, 'smtp', 'mpa.smtp_user' => 'mpa', 'mpa.smtp_password' => 's3cret'),
	'AUTH: node pointed at the server with its credentials');
$id = MpaTest::queue_test_mail($node, 'auth@example.com');
is(sent($id), 'sent', 'AUTH: delivered');
$meta = stored_for($auth, 'auth@example.com');
ok($meta && $meta->{tls}, 'AUTH: over TLS');
is($meta && $meta->{auth}, 'mpa', 'AUTH: the server authenticated user mpa');

# ---------------------------------------------------------------------------
# Refusals. Each case has its own server; the rows of a refused case stay
# queued and go to the next server, so each check names its own recipient.

# A server that offers no STARTTLS: nothing is sent in plain text.
my $plain = MpaTest::start_smtp();
ok(use_server($plain, 'smtp', 'mpa.smtp_user' => '', 'mpa.smtp_password' => ''),
	'no STARTTLS offered: node pointed at the server');
$id = MpaTest::queue_test_mail($node, 'plain@example.com');
my ($status, $attempts, $error) = refused($id);
isnt($status, 'sent', "no STARTTLS offered: not sent (status $status, $attempts attempts)");
like($error, qr/STARTTLS|SSL|TLS/i, "no STARTTLS offered: last_error says why ($error)");
is(MpaTest::mail_count($plain), 0, 'no STARTTLS offered: nothing reached the server in plain text');

# A server whose certificate is signed by a CA we do not trust.
my $impostor = MpaTest::start_smtp(tls_cert => $untrusted->{cert}, tls_key => $untrusted->{key});
ok(use_server($impostor, 'smtp'), 'untrusted certificate: node pointed at the server');
$id = MpaTest::queue_test_mail($node, 'impostor@example.com');
($status, $attempts, $error) = refused($id);
isnt($status, 'sent', "untrusted certificate: not sent (status $status, $attempts attempts)");
like($error, qr/certificate/i, "untrusted certificate: last_error says so ($error)");
is(MpaTest::mail_count($impostor), 0, 'untrusted certificate: nothing stored');

# The right server with a wrong password.
ok( use_server($auth, 'smtp', 'mpa.smtp_user' => 'mpa', 'mpa.smtp_password' => 'wrong'),
	'wrong password: node pointed at the AUTH server');
my $auth_before = MpaTest::mail_count($auth);
my $wrong = MpaTest::queue_test_mail($node, 'wrong-password@example.com');
($status, $attempts, $error) = refused($wrong);
isnt($status, 'sent', "wrong password: not sent (status $status, $attempts attempts)");
like($error, qr/login|auth/i, "wrong password: last_error says the login failed ($error)");
is(MpaTest::mail_count($auth), $auth_before, 'wrong password: nothing stored');

# Fixed: the mail that waited for the right password is delivered.
ok( use_server($auth, 'smtp', 'mpa.smtp_user' => 'mpa', 'mpa.smtp_password' => 's3cret'),
	'right password again');
is(sent($wrong), 'sent', 'the mail that waited is delivered once the password is fixed');
$meta = stored_for($auth, 'wrong-password@example.com');
ok($meta && $meta->{tls} && ($meta->{auth} // '') eq 'mpa', 'over TLS, authenticated');

# ---------------------------------------------------------------------------
# A server whose certificate a trusted CA signed for another host name: the
# name is checked, not only the signature (libcurl's VERIFYHOST). Its CA is
# trusted for this case; the node connects to "localhost", the certificate
# names only elsewhere.example.test.
my $misnamed_certs = MpaTest::make_tls_certs('misnamed', names => 'DNS:elsewhere.example.test');
my $misnamed = MpaTest::start_smtp(tls_cert => $misnamed_certs->{cert}, tls_key => $misnamed_certs->{key});
ok(use_server($misnamed, 'smtp', 'mpa.smtp_ca_file' => $misnamed_certs->{ca}),
	'certificate for another host: node pointed at the server, its CA trusted');
$id = MpaTest::queue_test_mail($node, 'misnamed@example.com');
($status, $attempts, $error) = refused($id);
isnt($status, 'sent', "certificate for another host: not sent (status $status, $attempts attempts)");
like($error, qr/certificate|host ?name|subject name/i,
	"certificate for another host: last_error says so ($error)");
is(MpaTest::mail_count($misnamed), 0, 'certificate for another host: nothing stored');

$node->stop;
MpaTest::stop_smtp($_) for $starttls, $implicit, $auth, $plain, $impostor, $misnamed;
done_testing();
