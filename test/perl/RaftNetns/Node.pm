# Copyright: the raft_ext authors.

=pod

=head1 RaftNetns::Node

One PostgreSQL instance in its own namespace.  It offers the part of
PostgreSQL::Test::Cluster's interface that RaftTest, RaftFaults and
RaftChecker use (name, host, port, data_dir, psql, safe_psql,
poll_query_until, the _pid and raft_id attributes), over its Unix socket,
plus: ns, addr, tcp_conninfo, repl_conninfo, start, stop, reload,
append_conf, log_tail, is_primary.

=cut

package RaftNetns::Node;

use strict;
use warnings;

use Carp;
use PostgreSQL::Test::Utils ();
use Time::HiRes qw(time usleep);

sub new
{
	my ($class, $cluster, $id, $ns) = @_;
	my $dir = "$cluster->{base}/node$id";
	my $self = bless {
		cluster => $cluster,
		raft_id => $id,
		ns => $ns,
		name => "node$id",
		addr => "$RaftNetns::NET.$id.2",
		sockdir => "$dir/s",
		datadir => "$dir/data",
		logfile => "$dir/server.log",
		_pid => undef,
	}, $class;
	my ($uid, $gid) = (getpwnam('postgres'))[ 2, 3 ];
	for my $d ($dir, $self->{sockdir})
	{
		mkdir $d, 0700 or croak "mkdir $d: $!";
		chown $uid, $gid, $d;
	}
	return $self;
}

sub name { return $_[0]{name}; }
sub host { return $_[0]{sockdir}; }
sub port { return $RaftNetns::PORT; }
sub data_dir { return $_[0]{datadir}; }

# How peers, standbys and the client namespace reach this node.
sub tcp_conninfo
{
	my ($self) = @_;
	return "host=$self->{addr} port=$RaftNetns::PORT dbname=postgres user=postgres";
}

sub repl_conninfo
{
	my ($self) = @_;
	return "host=$self->{addr} port=$RaftNetns::PORT user=postgres";
}

# Run a command as postgres (no namespace needed: files and Unix sockets).
sub as_postgres
{
	my ($self, $cmd, %opts) = @_;
	return RaftNetns::must([ 'runuser', '-u', 'postgres', '--', @$cmd ], %opts);
}

sub append_conf
{
	my ($self, $file, $text) = @_;
	my $path = "$self->{datadir}/$file";
	open(my $fh, '>>', $path) or croak "open $path: $!";
	print $fh $text;
	close $fh;
	return;
}

=pod

=item $node->start

Start the postmaster in the node's namespace as postgres; dies with the
log's tail when it does not start.  A postmaster killed earlier must be gone
first: this waits (bounded) for its pid to disappear.

=cut

sub start
{
	my ($self) = @_;
	my $old = $self->{last_pid};
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	usleep(50_000) while defined $old && kill(0, $old) && time() < $deadline;
	my ($ok, $out, $err) = RaftNetns::run(
		[
			'ip', 'netns', 'exec', $self->{ns},
			'runuser', '-u', 'postgres', '--',
			"$self->{cluster}{bindir}/pg_ctl", '-D', $self->{datadir},
			'-l', $self->{logfile}, '-w', '-t', '60', '-s', 'start'
		],
		timeout => 90);
	unless ($ok)
	{
		croak "could not start " . $self->name . " in namespace $self->{ns}: "
		  . "$out$err\nlast lines of $self->{logfile}:\n" . $self->log_tail(30);
	}
	open(my $fh, '<', "$self->{datadir}/postmaster.pid")
	  or croak "no postmaster.pid for " . $self->name;
	my $pid = <$fh>;
	close $fh;
	chomp $pid;
	$self->{_pid} = $self->{last_pid} = $pid;
	return;
}

=pod

=item $node->stop([$mode])

pg_ctl stop (fast by default); an immediate stop that fails ends with
SIGKILL of the postmaster.

=cut

sub stop
{
	my ($self, $mode) = @_;
	$mode //= 'fast';
	my ($ok) = RaftNetns::run(
		[
			'runuser', '-u', 'postgres', '--',
			"$self->{cluster}{bindir}/pg_ctl", '-D', $self->{datadir},
			'-m', $mode, '-w', '-t', '30', '-s', 'stop'
		],
		timeout => 45);
	kill 'KILL', $self->{_pid} if !$ok && $self->{_pid};
	$self->{_pid} = undef;
	return;
}

sub reload
{
	my ($self) = @_;
	kill 'HUP', $self->{_pid} if $self->{_pid};
	return;
}

=pod

=item $node->refresh_pid

Read the postmaster's pid again from postmaster.pid: raft_ext's rejoin
helper restarts servers behind the test's back.

=cut

sub refresh_pid
{
	my ($self) = @_;
	open(my $fh, '<', "$self->{datadir}/postmaster.pid") or return;
	my $pid = <$fh>;
	close $fh;
	chomp $pid if defined $pid;
	$self->{_pid} = $self->{last_pid} = $pid if $pid;
	return;
}

=pod

=item $node->mark_log / $node->log_since_heal

Remember the server log's current size; what the log gained since.

=cut

sub mark_log
{
	my ($self) = @_;
	$self->{log_mark} = -s $self->{logfile} // 0;
	return;
}

sub log_since_heal
{
	my ($self) = @_;
	open(my $fh, '<', $self->{logfile}) or return '';
	seek($fh, $self->{log_mark} // 0, 0);
	local $/;
	my $text = <$fh> // '';
	close $fh;
	return $text;
}

sub log_tail
{
	my ($self, $lines) = @_;
	open(my $fh, '<', $self->{logfile}) or return "(no log)\n";
	my @all = <$fh>;
	close $fh;
	my $from = @all > $lines ? @all - $lines : 0;
	return join '', @all[ $from .. $#all ];
}

=pod

=item $node->psql($db, $sql, %params)

As PostgreSQL::Test::Cluster's: stdout => \$, stderr => \$, on_error_die
(default 0 here), timeout => s, timed_out => \$, extra_params => [...].
Returns psql's exit code (-1 on timeout).

=cut

sub psql
{
	my ($self, $db, $sql, %p) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ("$self->{cluster}{bindir}/psql", '-XAtq', '-v', 'ON_ERROR_STOP=1',
		'-h', $self->{sockdir}, '-p', $RaftNetns::PORT, '-U', 'postgres',
		'-d', $db, @{ $p{extra_params} // [] }, '-f', '-');
	my $timed_out = 0;
	my $ret;
	eval {
		IPC::Run::run(\@cmd, '<', \$sql, '>', \$out, '2>', \$err,
			IPC::Run::timeout($p{timeout} // 60));
		$ret = $? >> 8;
		1;
	} or do {
		$timed_out = 1 if $@ =~ /timeout/;
		$err .= $@;
		$ret = -1;
	};
	chomp $out;
	${ $p{stdout} } = $out if $p{stdout};
	${ $p{stderr} } = $err if $p{stderr};
	${ $p{timed_out} } = $timed_out if $p{timed_out};
	croak "psql on " . $self->name . " failed: $err" if $ret && $p{on_error_die};
	return $ret;
}

sub safe_psql
{
	my ($self, $db, $sql, %p) = @_;
	my ($out, $err);
	$self->psql($db, $sql, %p, stdout => \$out, stderr => \$err,
		on_error_die => 1);
	return $out;
}

sub poll_query_until
{
	my ($self, $db, $sql, $expected) = @_;
	$expected //= 't';
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	my $out;
	while (time() < $deadline)
	{
		my $ret = $self->psql($db, $sql, stdout => \$out, timeout => 10);
		return 1 if $ret == 0 && $out eq $expected;
		usleep(100_000);
	}
	Test::More::diag($self->name . ": '$sql' did not return '$expected' (last: "
		  . ($out // 'nothing') . ')');
	return 0;
}

sub is_primary
{
	my ($self) = @_;
	my $out;
	return $self->psql('postgres', 'SELECT pg_is_in_recovery()',
		stdout => \$out, timeout => 10) == 0 && $out eq 'f';
}

1;
