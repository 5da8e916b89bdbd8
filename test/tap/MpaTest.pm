# Shared helpers for pg_mpa's TAP tests: a cluster with pg_mpa preloaded and
# a real SMTP server (test/smtp/mpa_smtp_server.py) that the test controls.
package MpaTest;

use strict;
use warnings;
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $tests = $ENV{MPA_TESTS} or die "MPA_TESTS must point at the staged test tree";
my $python = '/usr/bin/python3';

# A running SMTP server: { port, maildir, control, dir, handle }.
# Options are the server's own (tls_cert => ..., require_starttls => 1, ...).
sub start_smtp
{
	my (%opt) = @_;
	my $port = $opt{port} // PostgreSQL::Test::Cluster::get_free_port();
	my $dir = PostgreSQL::Test::Utils::tempdir('smtp');
	my %smtp = (port => $port, dir => $dir, maildir => "$dir/mail",
		control => "$dir/control.json", pidfile => "$dir/smtp.pid");
	my @cmd = ($python, "$tests/test/smtp/mpa_smtp_server.py", '--host', '127.0.0.1',
		'--port', $port, '--maildir', $smtp{maildir}, '--pidfile', $smtp{pidfile},
		'--control-file', $smtp{control});
	push @cmd, '--tls-cert', $opt{tls_cert}, '--tls-key', $opt{tls_key} if $opt{tls_cert};
	push @cmd, '--require-starttls' if $opt{require_starttls};
	push @cmd, '--implicit-tls' if $opt{implicit_tls};
	push @cmd, '--auth-user', $opt{auth_user}, '--auth-password', $opt{auth_password}
	  if $opt{auth_user};
	$smtp{handle} = IPC::Run::start(\@cmd, '>', "$dir/stdout", '2>', "$dir/stderr");
	for (1 .. 100)
	{
		last if -s $smtp{pidfile};
		select(undef, undef, undef, 0.1);
	}
	die "SMTP server did not start: " . slurp_file("$dir/stderr") unless -s $smtp{pidfile};
	return \%smtp;
}

sub stop_smtp
{
	my ($smtp) = @_;
	$smtp->{handle}->signal('TERM');
	$smtp->{handle}->finish;
}

# Replaces the server's failure-injection file atomically (write, rename).
sub control_smtp
{
	my ($smtp, $json) = @_;
	open my $fh, '>', "$smtp->{control}.tmp" or die $!;
	print $fh $json;
	close $fh;
	rename "$smtp->{control}.tmp", $smtp->{control} or die $!;
}

# Runs test/smtp/mailbox.py against the server's mail directory.
sub mailbox
{
	my ($smtp, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, "$tests/test/smtp/mailbox.py", '--maildir', $smtp->{maildir}, @args ],
		'>', \$out, '2>', \$err);
	chomp $out;
	return $out;
}

# A new cluster with pg_mpa preloaded and pointed at $smtp (may be undef).
# Extra postgresql.conf lines in $conf. The extension is created in postgres.
sub new_node
{
	my ($name, $smtp, $conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $port = $smtp ? $smtp->{port} : 9;
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = 'pg_mpa'
mpa.database = 'postgres'
mpa.smtp_url = 'smtp://127.0.0.1:$port'
mpa.smtp_starttls = off
mpa.mail_from = 'pg-mpa\@db.example.test'
mpa.mail_retry_delay = 1s
mpa.smtp_timeout = 5s
CONF
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_mpa');
	return $node;
}

# Queues a test mail to $address and returns its outbox id.
sub queue_test_mail
{
	my ($node, $address) = @_;
	return $node->safe_psql('postgres', "SELECT mpa_mail_test('$address')");
}

# Waits until outbox row $id has status $status; returns true on success.
sub wait_for_status
{
	my ($node, $id, $status) = @_;
	return $node->poll_query_until('postgres',
		"SELECT status = '$status' FROM mpa.outbox WHERE id = $id");
}

1;
