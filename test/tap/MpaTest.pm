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
my @started_servers;    # stopped when the test ends, whatever happened

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
	push @started_servers, $smtp{handle};
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
# Extra postgresql.conf lines in $conf. The extension is created in postgres
# unless extension => 0 is given (a cluster to restore a backup into), in
# version $init{extension_version} if given (an older one, to update).
# Governance is what each test sets up (mpa.govern_from_first_policy = off);
# a test of the default passes "mpa.govern_from_first_policy = on" in $conf.
# The rest of %init goes to PostgreSQL::Test::Cluster's init
# (allows_streaming => 1 for a primary with standbys).
sub new_node
{
	my ($name, $smtp, $conf, %init) = @_;
	my $create_extension = delete $init{extension} // 1;
	my $version = delete $init{extension_version};
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	my $port = $smtp ? $smtp->{port} : 9;
	$node->append_conf('postgresql.conf', <<"CONF");
shared_preload_libraries = 'pg_mpa'
mpa.database = 'postgres'
mpa.smtp_url = 'smtp://127.0.0.1:$port'
mpa.smtp_starttls = off
mpa.mail_from = 'pg-mpa\@db.example.test'
mpa.mail_retry_delay = 1s
mpa.smtp_timeout = 5s
mpa.govern_from_first_policy = off
CONF
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_mpa' . ($version ? " VERSION '$version'" : ''))
	  if $create_extension;
	return $node;
}

# Makes the databases named in @$names from template1 while it holds the
# objects $objects (SQL) makes, so that each object has one OID in all of
# them (CREATE DATABASE copies the catalogs); then takes the objects out of
# template1 again. $roles (SQL, roles are the cluster's) runs first. A
# 'postgres' among the names is dropped and made again: for a node of
# new_node(extension => 0), before CREATE EXTENSION pg_mpa there. Tests
# of a request for another database use it so that only the database tells
# a request's targets from the same names elsewhere.
sub databases_sharing_oids
{
	my ($node, $names, $roles, $objects) = @_;
	$node->safe_psql('template1', $roles . $objects);
	for my $name (@$names)
	{
		$node->safe_psql('template1', "DROP DATABASE $name WITH (FORCE)") if $name eq 'postgres';
		$node->safe_psql('template1', "CREATE DATABASE $name");
	}
	# template1's objects, listed as the last database made has them.
	my $drop = $node->safe_psql($names->[-1], q{
		SELECT string_agg(format('DROP TABLE %s;', c.oid::regclass), ' ')
		  FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace});
	$node->safe_psql('template1', $drop) if $drop ne '';
	return;
}

# Execution in another database (test/tap/045, 046): $role runs the
# statement $statement that approved request $request is for, in database
# $opt{dbname}: it runs, the request becomes executed (the worker resolves
# it from the commit log: polled), then ($opt{between}, SQL run there
# first, if given) the same statement is refused with $refused, and the
# audit records one execution. Each step is a test.
sub runs_once_in_database
{
	my ($node, $role, $statement, $request, $refused, %opt) = @_;
	my $between = delete $opt{between};
	my (undef, $error) = refusal_as($node, $role, $statement, %opt);
	Test::More::is($error, '', "the requester runs the approved statement in $opt{dbname}");
	Test::More::ok(poll_until($node, "SELECT state = 'executed' FROM mpa.requests WHERE id = $request"),
		'the request becomes executed');
	$node->safe_psql($opt{dbname}, $between) if defined $between;
	(undef, $error) = refusal_as($node, $role, $statement, %opt);
	Test::More::is($error, $refused, 'a second run is refused: the approval is spent');
	Test::More::is($node->safe_psql('postgres',
		"SELECT count(*) FROM mpa.audit WHERE kind = 'executed' AND request_id = $request"), '1',
		'executed once in the audit');
	return;
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

# ---------------------------------------------------------------------------
# Helpers for the mail delivery tests (002-004).

# Polls $sql on $node until it returns $expected (default 't') or $timeout
# seconds (default 30) pass; connection errors (a restarting server) are
# retried. Returns true on success; on timeout, diag()s the last output.
sub poll_until
{
	my ($node, $sql, $timeout, $expected) = @_;
	$timeout //= 30;
	$expected //= 't';
	my $deadline = time() + $timeout;
	my ($out, $err) = ('', '');
	while (1)
	{
		my $rc;
		($rc, $out, $err) = $node->psql('postgres', $sql);
		return 1 if defined $out && $out eq $expected && $rc == 0;
		last if time() >= $deadline;
		select(undef, undef, undef, 0.1);
	}
	diag("poll_until timed out after ${timeout}s: $sql\nlast output: $out\nlast error: $err");
	return 0;
}

# Number of messages stored by $smtp (visible .eml files).
sub mail_count
{
	my ($smtp) = @_;
	opendir(my $dh, "$smtp->{maildir}/new") or return 0;
	my $n = grep { /\.eml$/ } readdir $dh;
	closedir $dh;
	return $n;
}

# Waits until $smtp stored at least $n messages; true on success.
sub wait_for_mail
{
	my ($smtp, $n, $timeout) = @_;
	my $deadline = time() + ($timeout // 30);
	while (mail_count($smtp) < $n)
	{
		return 0 if time() >= $deadline;
		select(undef, undef, undef, 0.1);
	}
	return 1;
}

# Every stored message (mailbox.py list), oldest first, each a hash:
# file, from, to, subject, message_id (with <>), tls, auth; plus
# meta, the whole sidecar JSON.
sub mail_list
{
	my ($smtp) = @_;
	require JSON::PP;
	my @list;
	for my $line (split /\n/, mailbox($smtp, 'list'))
	{
		next unless $line =~ /\S/;
		my $m = JSON::PP::decode_json($line);
		(my $json = $m->{file}) =~ s/\.eml$/.json/;
		$m->{meta} = JSON::PP::decode_json(slurp_file("$smtp->{maildir}/new/$json"));
		push @list, $m;
	}
	return @list;
}

# Message-ID (without <>) => number of stored copies.
sub message_id_counts
{
	my ($smtp) = @_;
	my %count;
	for my $m (mail_list($smtp))
	{
		my $id = $m->{message_id} // '';
		$id =~ s/^\s*<|>\s*$//g;
		$count{$id}++;
	}
	return \%count;
}

# Stored messages whose envelope recipients include $address.
sub mail_to
{
	my ($smtp, $address) = @_;
	return grep {
		my $to = $_->{to} || [];
		grep { lc($_) eq lc($address) } @$to
	} mail_list($smtp);
}

# Starts a stopped server (stop_smtp) again on the same port, maildir and
# control file; %opt as for start_smtp. Returns $smtp.
sub restart_smtp
{
	my ($smtp, %opt) = @_;
	my $dir = $smtp->{dir};
	unlink $smtp->{pidfile};
	my @cmd = ($python, "$tests/test/smtp/mpa_smtp_server.py", '--host', '127.0.0.1',
		'--port', $smtp->{port}, '--maildir', $smtp->{maildir}, '--pidfile', $smtp->{pidfile},
		'--control-file', $smtp->{control});
	push @cmd, '--tls-cert', $opt{tls_cert}, '--tls-key', $opt{tls_key} if $opt{tls_cert};
	push @cmd, '--require-starttls' if $opt{require_starttls};
	push @cmd, '--implicit-tls' if $opt{implicit_tls};
	push @cmd, '--auth-user', $opt{auth_user}, '--auth-password', $opt{auth_password}
	  if $opt{auth_user};
	$smtp->{handle} = IPC::Run::start(\@cmd, '>>', "$dir/stdout", '2>>', "$dir/stderr");
	for (1 .. 100)
	{
		last if -s $smtp->{pidfile};
		select(undef, undef, undef, 0.1);
	}
	die "SMTP server did not restart: " . slurp_file("$dir/stderr") unless -s $smtp->{pidfile};
	return $smtp;
}

# The mail worker's pid, or '' when none runs.
sub worker_pid
{
	my ($node) = @_;
	my ($rc, $out) = $node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'");
	return $rc == 0 ? $out : '';
}

# Holds the mail worker (SIGSTOP) while it sleeps between rounds: it then
# holds no lock and does nothing, expiries included, until release_worker.
# A test uses it to let a deadline pass with pg_mpa's own checks as the only
# ones left. Returns the worker's pid.
my @held_workers;    # let go when the test ends, whatever happened
sub hold_worker
{
	my ($node) = @_;
	my $sleeping = "SELECT state = 'idle' AND wait_event = 'Extension' FROM pg_stat_activity"
	  . " WHERE backend_type = 'pg_mpa mail worker'";
	for (1 .. 50)
	{
		poll_until($node, $sleeping, 20) or die 'the mail worker does not sleep';
		my $pid = worker_pid($node);
		kill 'STOP', $pid or die "cannot stop the mail worker ($pid): $!";
		push @held_workers, $pid;
		# Stopped in its sleep, not at the start of a round begun meanwhile.
		return $pid if $node->safe_psql('postgres', "$sleeping AND pid = $pid") eq 't';
		release_worker($pid);
	}
	die 'could not hold the mail worker while it sleeps';
}

sub release_worker
{
	my ($pid) = @_;
	kill 'CONT', $pid;
	@held_workers = grep { $_ != $pid } @held_workers;
}

# Appends settings (name => value) to postgresql.conf, reloads, and waits
# until a new session sees every value (the postmaster has then signalled
# its children, the mail worker included).
sub reconfigure
{
	my ($node, %set) = @_;
	my $conf = '';
	for my $name (sort keys %set)
	{
		(my $v = $set{$name}) =~ s/'/''/g;
		$conf .= "$name = '$v'\n";
	}
	$node->append_conf('postgresql.conf', $conf);
	$node->reload;
	my $check = join(' AND ', map {
		(my $v = $set{$_}) =~ s/'/''/g;
		"current_setting('$_') = '$v'"
	} sort keys %set);
	return poll_until($node, "SELECT $check", 10);
}

# A CA and a server certificate for localhost / 127.0.0.1 signed by it, made
# with openssl in a new temporary directory. Returns { ca, cert, key, dir }.
# $opt{names}: the certificate's subjectAltName instead (its CN is then the
# first DNS name), for a certificate that names another host.
sub make_tls_certs
{
	my ($name, %opt) = @_;
	my $names = $opt{names} // 'IP:127.0.0.1,DNS:localhost';
	my ($cn) = $opt{names} ? ($names =~ /DNS:([^,]+)/) : ('localhost');
	my $dir = PostgreSQL::Test::Utils::tempdir("tls_$name");
	my $log = "$dir/openssl.log";
	my $run = sub {
		IPC::Run::run([@_], '>>', $log, '2>>', $log)
		  or die "openssl failed: @_\n" . slurp_file($log);
	};
	$run->('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
		'-keyout', "$dir/ca.key", '-out', "$dir/ca.pem", '-days', '2',
		'-subj', "/CN=pg_mpa test CA $name",
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	$run->('openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$dir/server.key",
		'-out', "$dir/server.csr", '-subj', "/CN=$cn");
	open my $fh, '>', "$dir/server.ext" or die $!;
	print $fh "basicConstraints=CA:FALSE\n",
	  "keyUsage=critical,digitalSignature,keyEncipherment\n",
	  "extendedKeyUsage=serverAuth\n",
	  "subjectAltName=$names\n";
	close $fh;
	$run->('openssl', 'x509', '-req', '-in', "$dir/server.csr", '-CA', "$dir/ca.pem",
		'-CAkey', "$dir/ca.key", '-set_serial', sprintf('0x%08x%08x', int(rand(2**31)), int(rand(2**31))),
		'-days', '2', '-out', "$dir/server.pem", '-extfile', "$dir/server.ext");
	chmod 0644, map { "$dir/$_" } qw(ca.pem server.pem server.key);
	return { ca => "$dir/ca.pem", cert => "$dir/server.pem", key => "$dir/server.key", dir => $dir };
}


# ---------------------------------------------------------------------------
# Helpers for the approval tests (005-): sessions as a given role, and the
# mail the SMTP server stored, read directly from its maildir.

# psql as $role (a LOGIN role; identity in pg_mpa is the session role).
# Returns ($rc, $stdout, $stderr); never dies on an SQL error.
sub psql_as
{
	my ($node, $role, $sql, %opt) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($opt{dbname} // 'postgres', $sql,
		stdout => \$out, stderr => \$err, on_error_stop => $opt{on_error_stop} // 1,
		extra_params => [ '-U', $role, @{ $opt{extra_params} // [] } ]);
	return ($rc, $out, $err);
}

# Runs $sql as $role, expecting a refusal. Returns psql's exit code (3: an
# SQL error stopped the script) and the error as "SQLSTATE: message" (its
# first ERROR line, from verbose output), '' when there was none. Tests
# compare both exactly, so that a refusal for another reason (PostgreSQL's
# own "permission denied", a typo in the test) cannot pass for pg_mpa's.
sub refusal_as
{
	my ($rc, $error) = refusal_and_hint_as(@_);
	return ($rc, $error);
}

# refusal_as, also returning the error's HINT ('' when none): for tests of
# the exact call a refusal tells its user to make; and, fourth, its DETAIL
# ('' when none), for tests of the reason it gives.
sub refusal_and_hint_as
{
	my ($node, $role, $sql, %opt) = @_;
	my ($rc, $out, $err) = psql_as($node, $role, $sql, %opt,
		extra_params => [ '-v', 'VERBOSITY=verbose', @{ $opt{extra_params} // [] } ]);
	my ($error) = $err =~ /^(?:psql:\S+: )?ERROR:  (.*?)\r?$/m;
	my ($hint) = $err =~ /^HINT:  (.*?)\r?$/m;
	my ($detail) = $err =~ /^DETAIL:  (.*?)\r?$/m;
	return ($rc, $error // '', $hint // '', $detail // '');
}

# refusal_as in database $opt{dbname}, polled until the error is $expected
# (or $timeout seconds, default 30, pass): a policy change reaches the other
# databases when mpa.database's worker publishes it, a moment after its
# commit. Returns the last error, for the caller to compare.
# Each try runs in a transaction rolled back (unless $sql opens its own):
# a try before the policy arrived must not drop what the next one is about
# (a DROP DATABASE is then refused by PostgreSQL in a transaction block,
# after the gate had its say).
sub refusal_once_published
{
	my ($node, $role, $sql, $expected, %opt) = @_;
	my $deadline = time() + ($opt{timeout} // 30);
	my $try = $sql =~ /^\s*BEGIN\b/i ? $sql : "BEGIN; $sql; ROLLBACK";
	my $error;
	while (1)
	{
		(undef, $error) = refusal_as($node, $role, $try, %opt);
		return $error if $error eq $expected || time() >= $deadline;
		select(undef, undef, undef, 0.1);
	}
}

# refusal_as for a session that stays connected ($node->background_psql,
# opened with on_error_stop => 0 and extra_params => ['-v',
# 'VERBOSITY=verbose']): runs $sql in it and returns its error as "SQLSTATE:
# message", '' when there was none. (The session's stderr accumulates.)
sub session_refusal
{
	my ($session, $sql) = @_;
	my $seen = length $session->{stderr};
	$session->query($sql);
	return session_error_since($session, $seen);
}

# The first error a background_psql session reported after its stderr was
# $seen characters long, as session_refusal returns it; for a query sent
# with query_until, once a later query has returned.
sub session_error_since
{
	my ($session, $seen) = @_;
	my ($error) = substr($session->{stderr}, $seen) =~ /^(?:psql:\S+: )?ERROR:  (.*?)\r?$/m;
	return $error // '';
}

# psql as $role; dies on any error; returns stdout.
sub safe_psql_as
{
	my ($node, $role, $sql, %opt) = @_;
	my ($rc, $out, $err) = psql_as($node, $role, $sql, %opt);
	die "psql as $role failed ($rc): $sql\n$err" if $rc != 0;
	return $out;
}

# Every stored message, oldest first, each a hash: file, path, to (envelope
# recipients, lower-cased), subject (unfolded), raw (the whole message),
# head (the header section, unfolded; read it with mail_header), body
# (decoded from quoted-printable, LF line ends).
sub stored_mail
{
	my ($smtp) = @_;
	require JSON::PP;
	require MIME::QuotedPrint;
	my $new = "$smtp->{maildir}/new";
	opendir(my $dh, $new) or return ();
	my @names = sort grep { /^\d+-.*\.eml$/ } readdir $dh;
	closedir $dh;
	my @list;
	for my $name (@names)
	{
		(my $json = $name) =~ s/\.eml$/.json/;
		my ($raw, $meta);
		eval {
			$raw = slurp_file("$new/$name");
			$meta = JSON::PP::decode_json(slurp_file("$new/$json"));
			1;
		} or next;
		my ($head, $body) = split /\r?\n\r?\n/, $raw, 2;
		$head =~ s/\r?\n[ \t]+/ /g;    # unfold
		my ($subject) = $head =~ /^Subject:[ \t]*(.*?)\r?$/mi;
		$body //= '';
		$body = MIME::QuotedPrint::decode_qp($body)
		  if $head =~ /^Content-Transfer-Encoding:\s*quoted-printable/mi;
		$body =~ s/\r\n/\n/g;
		push @list, { file => $name, path => "$new/$name", raw => $raw, body => $body, head => $head,
			subject => $subject // '', to => [ map { lc } @{ $meta->{rcpt_tos} || [] } ] };
	}
	return @list;
}

# SQL for the rows of pg_mpa's state tables as one line each
# ("teams (…)", "votes (…)", …; the audit and the outbox left out: attacks
# add refusals to the one and notices to the other), to be fingerprinted
# before and after an attack.
# Waits until the mail worker has recorded every team's reachability
# (mpa.teams.quorum_reachable, set by its round's mpa.check_team_health):
# a snapshot of state_rows_sql taken before then changes under a test when
# the round comes, not through anything the test did.
sub wait_for_team_health
{
	my ($node) = @_;
	return poll_until($node, q{SELECT NOT EXISTS (SELECT FROM mpa.teams t JOIN mpa.team_health h ON h.team = t.name
	                                WHERE t.quorum_reachable IS DISTINCT FROM h.quorum_reachable)}, 90);
}

sub state_rows_sql
{
	return join(" UNION ALL\n", map { "SELECT '$_ ' || row(x.*)::text AS t FROM mpa.$_ x" }
		qw(teams approvers policies requests votes challenges temporary_grants break_glass break_glass_uses reviews));
}

# The values of header $name of a stored message (stored_mail), in order, as
# written (unfolded, not decoded); in scalar context the first, or undef.
sub mail_header
{
	my ($m, $name) = @_;
	my @values = $m->{head} =~ /^\Q$name\E:[ \t]*(.*?)\r?$/mgi;
	return wantarray ? @values : $values[0];
}

# Stored messages to $address whose subject matches $subject_re, oldest first.
sub mail_matching
{
	my ($smtp, $address, $subject_re) = @_;
	return grep {
		my $m = $_;
		(grep { $_ eq lc($address) } @{ $m->{to} }) && $m->{subject} =~ $subject_re
	} stored_mail($smtp);
}

# Waits (default 20 s) until a message to $address with a subject matching
# $subject_re is stored, ignoring the files named in $opt{except} (array
# ref); returns the newest such message (hash as stored_mail) or undef.
sub wait_for_mail_matching
{
	my ($smtp, $address, $subject_re, %opt) = @_;
	my %except = map { $_ => 1 } @{ $opt{except} // [] };
	my $deadline = time() + ($opt{timeout} // 20);
	while (1)
	{
		my @found = grep { !$except{ $_->{file} } } mail_matching($smtp, $address, $subject_re);
		return $found[-1] if @found;
		return undef if time() >= $deadline;
		select(undef, undef, undef, 0.1);
	}
}

# A pattern that finds $code in a log or a text as a code: six digits not
# within a longer number or after a decimal point (a timestamp's
# microseconds, "23:12:47.741239", may hold the same digits by chance).
sub code_pattern
{
	my ($code) = @_;
	return qr/(?<![\d.])\Q$code\E(?!\d)/;
}

# The one-time code of the newest code mail to $address for request
# $request ("[pg_mpa] your code to ... request #N"), waiting for it (default
# 20 s); files in $opt{except} are ignored (an older code). In list context
# also returns the message's file name. Dies if none comes.
sub code_from_mail
{
	my ($smtp, $address, $request, %opt) = @_;
	my $m = wait_for_mail_matching($smtp, $address, qr/your code .*request #\Q$request\E$/, %opt)
	  or die "no code mail to $address for request $request arrived";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/
	  or die "no code in $m->{path}";
	return wantarray ? ($code, $m->{file}) : $code;
}

# $role (a LOGIN role whose address is $role@example.com) votes $decision
# ('approve', 'reject') on $request with the code mailed to it; returns
# what mpa_verify said.
sub vote
{
	my ($node, $smtp, $request, $role, $decision) = @_;
	safe_psql_as($node, $role, "SELECT mpa_vote($request, '$decision')");
	my $code = code_from_mail($smtp, "$role\@example.com", $request);
	return safe_psql_as($node, $role, "SELECT mpa_verify($request, '$code')");
}

sub approve
{
	my ($node, $smtp, $request, $role) = @_;
	return vote($node, $smtp, $request, $role, 'approve');
}

# A governed configuration call $call (SQL, run as postgres in mpa.database):
# refused directly with MP001 naming $team (one test, named $name), then
# requested, approved by $approver with the code mailed to it and executed
# with mpa_execute. For a change the test then checks the effect of.
sub change_through_governance
{
	my ($node, $smtp, $call, $team, $approver, $name) = @_;
	is_deeply([ refusal_as($node, 'postgres', $call) ],
		[ 3, qq{MP001: mpa_protect is a configuration change that requires the approval of team "$team"} ], $name);
	my $request = $node->safe_psql('postgres', qq{SELECT mpa_request(\$\$$call\$\$, 'the dry run is over')});
	approve($node, $smtp, $request, $approver);
	$node->safe_psql('postgres', "SELECT mpa_execute($request)");
}

# $role confirms its address $address in $team with the code mailed there
# (mpa_approver_add and mpa_confirm_email_resend mail one); dies if none
# comes or the confirmation fails.
sub confirm_address
{
	my ($node, $smtp, $team, $role, $address) = @_;
	my $m = wait_for_mail_matching($smtp, $address, qr/confirm your approver address for team "\Q$team\E"/)
	  or die "no confirmation mail to $address";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/
	  or die "no code in $m->{path}";
	return safe_psql_as($node, $role, "SELECT mpa_confirm_email('$team', '$code')");
}

# pg_mpa's objects in $node's database postgres as the catalogs describe
# them (test/lib/pg_mpa_objects.sql): { what => description }.
sub pg_mpa_objects
{
	my ($node) = @_;
	my $out = $node->safe_psql('postgres', slurp_file("$tests/test/lib/pg_mpa_objects.sql"),
		extra_params => [ '-F', "\x1f", '-R', "\x1e" ]);
	my %objects;
	for my $row (split /\x1e/, $out)
	{
		my ($what, $description) = split /\x1f/, $row, 2;
		die "pg_mpa_objects: $what twice" if exists $objects{$what};
		$objects{$what} = $description // '';
	}
	return \%objects;
}

# What differs between two descriptions of pg_mpa's objects (pg_mpa_objects)
# named $name_a and $name_b, as text for a person: the objects only one has,
# then a unified diff of each description that differs. '' when none does.
sub objects_difference
{
	my ($a, $b, $name_a, $name_b) = @_;
	my @report;
	for my $what (sort keys %$a)
	{
		push @report, "only in $name_a: $what\n" . indent($a->{$what}) unless exists $b->{$what};
	}
	for my $what (sort keys %$b)
	{
		push @report, "only in $name_b: $what\n" . indent($b->{$what}) unless exists $a->{$what};
	}
	for my $what (sort grep { exists $b->{$_} && $a->{$_} ne $b->{$_} } keys %$a)
	{
		my $dir = PostgreSQL::Test::Utils::tempdir('objects');
		my %file = ($name_a => "$dir/a", $name_b => "$dir/b");
		PostgreSQL::Test::Utils::append_to_file($file{$name_a}, "$a->{$what}\n");
		PostgreSQL::Test::Utils::append_to_file($file{$name_b}, "$b->{$what}\n");
		my $diff = '';
		IPC::Run::run([ 'diff', '-U', '3', '--label', $name_a, '--label', $name_b, $file{$name_a}, $file{$name_b} ],
			'>', \$diff);
		push @report, "differs: $what\n" . indent($diff);
	}
	return join('', @report);
}

sub indent
{
	my ($text) = @_;
	return $text eq '' ? '' : join('', map { "    $_\n" } split /\n/, $text);
}

# The lock-cancel-reuse attack on a code (test/tap/022, and beside other
# extensions in 025): superuser $attacker locks pg_mpa's challenges through
# a view of its own ($view, LOCK recurses into a view's tables), $approver's
# mpa_verify($request, $code) waits on that lock with the code on display
# in pg_stat_activity, the attacker cancels it, releases the lock and
# verifies as the approver (SET SESSION AUTHORIZATION) with the code it saw.
# Returns { waited, seen (the waiting query's text), cancelled, reuse_err
# (the attacker's psql stderr, verbose), victim (the approver's session,
# still open: quit it) }; the caller asserts.
sub lock_cancel_reuse
{
	my ($node, %a) = @_;
	my %r;
	$node->safe_psql('postgres', "CREATE VIEW $a{view} AS SELECT * FROM mpa.challenges",
		extra_params => [ '-U', $a{attacker} ]);
	my $attacker = $node->background_psql('postgres', extra_params => [ '-U', $a{attacker} ]);
	$attacker->query_safe('BEGIN');
	$attacker->query_safe("LOCK TABLE $a{view} IN ACCESS EXCLUSIVE MODE");

	$r{victim} = $node->background_psql('postgres', extra_params => [ '-U', $a{approver} ], on_error_stop => 0);
	my $pid = $r{victim}->query_safe('SELECT pg_backend_pid()');
	$r{victim}->query_until(qr/^$/, "SELECT mpa_verify($a{request}, '$a{code}');\n");
	$r{waited} = $node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid");
	$r{seen} = $node->safe_psql('postgres', "SELECT query FROM pg_stat_activity WHERE pid = $pid");

	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$r{cancelled} = $node->poll_query_until('postgres',
		"SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid");
	$attacker->query_safe('COMMIT');
	$attacker->quit;

	my $out;
	$node->psql('postgres',
		"\\set VERBOSITY verbose\nSET SESSION AUTHORIZATION $a{approver};\nSELECT mpa_verify($a{request}, '$a{code}');",
		stdout => \$out, stderr => \$r{reuse_err}, extra_params => [ '-U', $a{attacker} ]);
	return \%r;
}

# Confirms $role's address as an approver of $team with the code of the
# newest confirmation mail to $role@example.com (tests name addresses so).
sub confirm_approver
{
	my ($node, $smtp, $role, $team) = @_;
	my $m = wait_for_mail_matching($smtp, "$role\@example.com", qr/confirm your approver address/)
	  or die "no confirmation mail to $role";
	my ($code) = $m->{body} =~ /Your one-time code: ([0-9]{6})\b/ or die "no code in $m->{path}";
	return safe_psql_as($node, $role, "SELECT mpa_confirm_email('$team', '$code')");
}

# The SCRAM-SHA-256 verifier of $password (ASCII: SASLprep leaves it as it
# is), as PostgreSQL stores it and as libpq's PQencryptPasswordConn makes
# it (RFC 5802/7677, 4096 iterations, a random 16-byte salt): what a request
# carries in place of a clear-text password.
sub scram_verifier
{
	my ($password) = @_;
	require Digest::SHA;
	require MIME::Base64;
	my $salt = join('', map { chr(int(rand(256))) } 1 .. 16);
	# PBKDF2-HMAC-SHA-256, one block (the key is as long as the hash).
	my $u = Digest::SHA::hmac_sha256($salt . pack('N', 1), $password);
	my $salted = $u;
	for (2 .. 4096)
	{
		$u = Digest::SHA::hmac_sha256($u, $password);
		$salted ^= $u;
	}
	my $stored_key = Digest::SHA::sha256(Digest::SHA::hmac_sha256('Client Key', $salted));
	my $server_key = Digest::SHA::hmac_sha256('Server Key', $salted);
	my $b64 = sub { MIME::Base64::encode_base64($_[0], '') };
	return sprintf('SCRAM-SHA-256$4096:%s$%s:%s', $b64->($salt), $b64->($stored_key), $b64->($server_key));
}

# CPU time (user + system, in clock ticks) a process has used so far.
sub cpu_ticks
{
	my ($pid) = @_;
	my $stat = slurp_file("/proc/$pid/stat");
	$stat =~ s/^.*\)\s+//s;    # fields after the command name
	my @f = split /\s+/, $stat;
	return $f[11] + $f[12];    # utime, stime (fields 14 and 15)
}

END
{
	local $?;    # keep the test's exit status
	kill 'CONT', @held_workers if @held_workers;    # else the node could not stop
	for my $handle (@started_servers)
	{
		eval { $handle->kill_kill if $handle->pumpable };
	}
}

1;
