# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftCtlNodes - nodes a test makes with raftctl init and join, as a DBA does

=head1 SYNOPSIS

  use RaftCtlNodes;

  my $n = RaftCtlNodes->new(3);          # ports and directories for nodes 1..3
  my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', 1,
      '--address', '127.0.0.1:' . $n->port(1));
  my $p = $n->primary;
  is($n->value($p, 'SELECT 1'), '1');

=head1 DESCRIPTION

The servers of the TAP tests of raftctl's lifecycle commands (055, 057):
node i's data directory is TMP/node<i>, its port a free one; raftctl
writes its settings, roles and password file itself.  Queries go over the
server's Unix socket with peer authentication (raftctl's initdb), whose
directory is read from postmaster.pid.  Every server still running when
the test ends (also when it dies) is stopped.

=cut

package RaftCtlNodes;

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time usleep);

my @all;

=pod

=over

=item RaftCtlNodes->new($count)

Ports and directories for nodes 1 .. $count (nothing is created).

=cut

sub new
{
	my ($class, $count) = @_;
	my $base = PostgreSQL::Test::Utils::tempdir();
	my $self = bless {
		base => $base,
		count => $count,
		port => { map { $_ => PostgreSQL::Test::Cluster::get_free_port() } 1 .. $count },
		dir => { map { $_ => "$base/node$_" } 1 .. $count },
		output => '',
	}, $class;
	push @all, $self;
	return $self;
}

=pod

=item $n->base, $n->port($id), $n->dir($id), $n->ids

The directory under which everything lives; node $id's port and data
directory; the ids 1 .. count.

=cut

sub base { return $_[0]{base}; }
sub port { return $_[0]{port}{ $_[1] }; }
sub dir { return $_[0]{dir}{ $_[1] }; }
sub ids { return (1 .. $_[0]{count}); }

=pod

=item $n->server_log($id)

Everything node $id's server logged: the file the tests start it with
(DIR.raft_ext/postgresql.log) and, after raft_ext_rejoin restarted it
(a rewind, a re-clone), the helper's own log (DIR/raft_ext_rejoin.server.log).

=cut

sub server_log
{
	my ($self, $id) = @_;
	my $dir = $self->dir($id);
	return join('', map { -f $_ ? slurp_file($_) : '' }
		  ("$dir.raft_ext/postgresql.log", "$dir/raft_ext_rejoin.server.log"));
}

=pod

=item $n->raftctl(@args)

Run raftctl (at most 360 s); returns (exit code, stdout, stderr), exit
code -1 for a signal or a timeout.  Everything it printed is kept
(output()), for the checks that no password was ever shown.

=cut

sub raftctl
{
	my ($self, @args) = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ 'raftctl', @args ], '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(360));
		1;
	};
	$self->{output} .= $out . $err;
	return ($ok && !($? & 127) ? $? >> 8 : -1, $out, $err);
}

sub output { return $_[0]{output}; }

=pod

=item $n->socket_of($id), $n->local_conninfo($id)

The socket directory of node $id's running server (postmaster.pid), undef
if none runs; a conninfo over that socket (peer authentication).

=cut

sub socket_of
{
	my ($self, $id) = @_;
	my $pidfile = $self->dir($id) . '/postmaster.pid';
	return undef unless -f $pidfile;
	my @l = split /\n/, slurp_file($pidfile);
	return $l[4];
}

sub local_conninfo
{
	my ($self, $id) = @_;
	my $sock = $self->socket_of($id) // '/var/run/postgresql';
	return "host=$sock port=" . $self->port($id) . ' dbname=postgres connect_timeout=3';
}

=pod

=item $n->sql($id, $query), $n->value($id, $query)

psql on node $id: (exit code, output); the output alone, '' on failure.

=cut

sub sql
{
	my ($self, $id, $query) = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(
			[ 'psql', '-X', '-q', '-At', '-d', $self->local_conninfo($id), '-c', $query ],
			'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30));
		1;
	};
	chomp $out;
	return ($ok ? $? >> 8 : -1, $out);
}

sub value
{
	my ($self, @args) = @_;
	my ($ret, $out) = $self->sql(@args);
	return $ret == 0 ? $out : '';
}

=pod

=item RaftCtlNodes::wait_for($cond, $timeout)

Poll $cond every 200 ms for at most $timeout seconds; its last result.

=cut

sub wait_for
{
	my ($cond, $timeout) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(200_000);
	}
	return 0;
}

=pod

=item $n->primary, $n->members_on($id), $n->streams($id)

The node that leads, holds the lease and is out of recovery (undef if
none); the members node $id's raft_peers lists ("1,2,3"); whether node $id
is in recovery and streams.

=back

=cut

sub primary
{
	my ($self) = @_;
	for my $id ($self->ids)
	{
		return $id if $self->value($id,
			q{SELECT role = 'leader' AND has_lease AND NOT in_recovery FROM raft_ext.raft_status}) eq 't';
	}
	return undef;
}

sub members_on
{
	my ($self, $id) = @_;
	return $self->value($id,
		q{SELECT string_agg(peer_id::text, ',' ORDER BY peer_id) FROM raft_ext.raft_peers});
}

sub streams
{
	my ($self, $id) = @_;
	return $self->value($id,
		q{SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')}) eq 't';
}

# Stop every server a test made this way, also when it dies half-way.
END
{
	my $rc = $?;
	for my $self (@all)
	{
		for my $d (values %{ $self->{dir} })
		{
			next unless -f "$d/postmaster.pid";
			system('pg_ctl', '-D', $d, '-m', 'immediate', '-w', '-t', '30', 'stop');
		}
	}
	$? = $rc;
}

1;
