
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftNetns - a raft_ext cluster in which every node runs in its own network
namespace, wired to one router namespace, so that tests cut the real
network (TCP, streaming replication, Raft) and not only Raft messages.

=head1 SYNOPSIS

  use RaftNetns;

  my $c = RaftNetns->new(nodes => 3, sync => 1);   # node1 primary, 2 standbys
  my @nodes = $c->nodes;                           # RaftNetns::Node objects
  $c->isolate($nodes[0]);                          # both ways, every peer
  $c->partition([$n1, $n2], [$n3, $n4, $n5]);
  $c->cut([[1, 2], [2, 1]]);                       # directed links (ids or nodes)
  $c->one_way($n1, [$n2, $n3]);                    # n1 -> n2, n3 lost
  $c->heal;
  my @cmd = $c->in_client('psql', ...);            # run in the client namespace

=head1 DESCRIPTION

The topology, all of it inside namespaces this module creates (names
rx<pid><letter>-r, -c, -n<id>; addresses in 10.213.0.0/16, used nowhere
else):

  node i   namespace -n<i>: eth0 10.213.<i>.2/24, default via 10.213.<i>.1
  client   namespace -c:    eth0 10.213.250.2/24, default via 10.213.250.1
  router   namespace -r:    v<i> 10.213.<i>.1/24 for each, ip_forward on

PostgreSQL listens on the node's address (peers, streaming replication and
the client namespace's writers use it) and on a Unix socket of its own
(administration and RaftChecker's samplers use it: no partition cuts a
Unix socket).  A cut is a policy-routing rule in the router namespace,
"from A to B blackhole": packets vanish silently, so TCP retransmits and
connection attempts time out, as in a real partition.  The client's address
is never cut.

Servers run as the postgres user (initdb and postgres refuse root): initdb
and pg_basebackup as postgres, each postmaster with
"ip netns exec NS runuser -u postgres -- pg_ctl start".  Everything this
module creates (namespaces and the processes in them, rules, the data
directory) is removed at exit, also when the test dies; the data directory
is kept when a test failed, and every server log is copied to the test's
log directory.

Needs root.  new() first checks that it can create namespaces; if not, it
says why and fails the test (it never skips).

=cut

package RaftNetns;

use strict;
use warnings;

use Carp;
use File::Basename qw(basename dirname);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftTest;
use Test::More;
use Time::HiRes qw(time usleep);
use RaftNetns::Net;
use RaftNetns::Node;
use parent -norequire, 'RaftNetns::Net';

# The plumbing's functions, under the names the tests and RaftNetns::Node
# have always used.
BEGIN
{
	no strict 'refs';
	*{"RaftNetns::$_"} = \&{"RaftNetns::Net::$_"}
	  for qw(run must preflight require_netns);
}

our $NET = $RaftNetns::Net::NET;
our $PORT = 5432;
our $CLIENT_NET = $RaftNetns::Net::CLIENT_NET;
our $SCRIPTS = dirname(__FILE__) . '/../../scripts';

# Waits are for seconds, not minutes.
$PostgreSQL::Test::Utils::timeout_default = 30
  if $PostgreSQL::Test::Utils::timeout_default > 30;

# Clients started by this process (psql, DBD::Pg in the samplers) connect
# as the servers' superuser, whatever user runs the test.
$ENV{PGUSER} = 'postgres';

my @live;
my $instance = 0;

END
{
	my $rc = $?;
	$_->cleanup for reverse @live;
	$? = $rc;
}

# A test killed by a signal still cleans up (END runs on die).
$SIG{$_} = sub { die "killed by SIG$_[0]\n" } for qw(INT TERM HUP);

# The PostgreSQL binaries: those of the pg_config the build uses.
sub bindir
{
	my $pgc = $ENV{PG_CONFIG} // 'pg_config';
	my $dir = `$pgc --bindir 2>/dev/null`;
	chomp $dir;
	return $dir;
}

=pod

=head1 METHODS

The network methods (cut, partition, isolate, one_way, heal, faults,
router, client_ns, in_client) and the functions run, must, preflight and
require_netns are RaftNetns::Net's; a cluster is one.

=over

=item RaftNetns->new(%opts)

Build and start a cluster: node1 a primary, node2..node<n> hot standbys
cloned with pg_basebackup and streaming from it, every node with
raft_ext.auto_promote and auto_follow on.  Options: nodes (3); auto_rejoin
('off': former primaries stay fenced until rejoin(); 'on': they rejoin by
themselves); sync (0):
with 1, synchronous_standby_names = 'ANY k (node1, ...)' on every node with
k = n - majority (set once the standbys stream and a primary leads); with
'quorum', raft_ext.synchronous = quorum instead (the worker keeps that
setting), at the same point; timing (RaftTest's
%DEFAULT_TIMING overridden); extra_conf (text for every node).  Creates the
table nx_rows on the primary (RaftWriter's rows).  Dies, with the server's
log tail, if a node does not start.

=cut

sub new
{
	my ($class, %opts) = @_;
	require_netns();
	my $n = $opts{nodes} // 3;
	my $letter = chr(ord('a') + $instance++);
	my $self = bless {
		n => $n,
		sync => $opts{sync} // 0,
		auto_rejoin => $opts{auto_rejoin} // 'off',
		prefix => "rx${$}$letter",
		bindir => bindir(),
		rules => [],
		namespaces => [],
		nodes => [],
		faults => [],
		fault_counter => RaftFaults->new([]),
		outdir => "$PostgreSQL::Test::Utils::tmp_check/netns",
		test => basename($0, '.pl'),
	}, $class;
	push @live, $self;
	make_path($self->{outdir});

	# Short paths (Unix socket names are limited to 107 bytes), owned by
	# the servers' user.
	$self->{base} = tempdir("/tmp/rxnet_${$}_XXXX");
	my ($uid, $gid) = (getpwnam('postgres'))[ 2, 3 ];
	chown $uid, $gid, $self->{base};
	chmod 0700, $self->{base};

	$self->_network;
	my %timing = (%RaftTest::DEFAULT_TIMING, %{ $opts{timing} // {} });
	for my $id (1 .. $n)
	{
		push @{ $self->{nodes} },
		  RaftNetns::Node->new($self, $id, "$self->{prefix}-n$id");
	}
	$self->{timing} = \%timing;
	$self->{extra_conf} = $opts{extra_conf} // '';
	$self->_build_primary;
	$self->add_standby($_) for @{ $self->{nodes} }[ 1 .. $n - 1 ];

	# Only a node with the lease may write (fencing): wait for one.
	my $primary = $self->{nodes}[0];
	my ($leader) = $self->wait_primary;
	croak 'no primary leads the new cluster'
	  unless defined $leader && $leader == $primary;
	$primary->safe_psql('postgres',
		'CREATE TABLE nx_rows (id text PRIMARY KEY, writer text, node int, '
		  . 'tli text, term bigint, at timestamptz DEFAULT clock_timestamp())');
	$self->wait_catchup($primary, $_) for @{ $self->{nodes} }[ 1 .. $n - 1 ];
	# Synchronous only now: with no standby yet, every commit would wait.
	if ($self->{sync} eq 'quorum')
	{
		$self->set_quorum;
	}
	elsif ($self->{sync})
	{
		$self->set_sync($n);
	}
	note(sprintf('netns cluster %s: %d nodes, %s replication, base %s',
			$self->{prefix}, $n, $self->{sync} ? 'synchronous' : 'asynchronous',
			$self->{base}));
	return $self;
}

=pod

=item $c->nodes / $c->node($id)

The nodes (RaftNetns::Node), or one by raft id.

=cut

sub nodes { return @{ $_[0]{nodes} }; }

sub node
{
	my ($self, $id) = @_;
	my ($node) = grep { $_->{raft_id} == $id } @{ $self->{nodes} };
	return $node;
}

# The raft_ext.peers value naming @nodes by their network address.
sub _peers
{
	my ($self, @nodes) = @_;
	return join ';', map { "$_->{raft_id}:" . $_->tcp_conninfo } @nodes;
}

# What every node's postgresql.conf gets.
sub _common_conf
{
	my ($self) = @_;
	my %t = %{ $self->{timing} };
	return "shared_preload_libraries = 'raft_ext'\n"
	  . "fsync = off\n"
	  . "shared_buffers = 16MB\n"
	  . "max_connections = 60\n"
	  . "log_line_prefix = '%m [%p] '\n"
	  . "log_statement = 'ddl'\n"
	  . "hot_standby = on\n"
	  . "wal_level = replica\n"
	  . "max_wal_senders = 10\n"
	  . "wal_log_hints = on\n"
	  . "wal_keep_size = '256MB'\n"
	  . "client_connection_check_interval = '1s'\n"
	  . "wal_receiver_status_interval = 1s\n"
	  . "wal_retrieve_retry_interval = 200ms\n"
	  # A cut TCP connection only ends by a timeout: a short one lets
	  # replication notice a partition within seconds, as the Raft
	  # transport does.
	  . "wal_receiver_timeout = 5s\n"
	  . "wal_sender_timeout = 5s\n"
	  . "tcp_keepalives_idle = 2\n"
	  . "tcp_keepalives_interval = 1\n"
	  . "tcp_keepalives_count = 3\n"
	  . "raft_ext.auto_promote = on\n"
	  . "raft_ext.auto_follow = on\n"
	  . "raft_ext.auto_rejoin = $self->{auto_rejoin}\n"
	  . "raft_ext.peers = '" . $self->_peers(@{ $self->{nodes} }) . "'\n"
	  . join('', map { "raft_ext.$_ = '$t{$_}'\n" } sort keys %t)
	  . $self->{extra_conf};
}

# The lines that make a node itself (written after the common ones, so a
# copy of the primary's configuration is overridden).
sub _own_conf
{
	my ($self, $node) = @_;
	return "listen_addresses = '$node->{addr}'\n"
	  . "port = $PORT\n"
	  . "unix_socket_directories = '$node->{sockdir}'\n"
	  . "raft_ext.node_id = $node->{raft_id}\n";
}

sub _build_primary
{
	my ($self) = @_;
	my $p = $self->{nodes}[0];
	$p->as_postgres([ "$self->{bindir}/initdb", '-D', $p->data_dir,
			'-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8' ]);
	$p->append_conf('pg_hba.conf',
		"host all all $NET.0.0/16 trust\n"
		  . "host replication all $NET.0.0/16 trust\n");
	$p->append_conf('postgresql.conf',
		$self->_common_conf . $self->_own_conf($p));
	$p->start;
	$p->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
	return;
}

=pod

=item $c->add_standby($node [, $source])

Clone $node from $source (default: the node that is primary now) with
pg_basebackup over the Unix socket, make it a hot standby streaming from
$source's address, start it.  For a node that is not yet a member (a
membership test), create it first with $c->new_node($id).

=cut

sub add_standby
{
	my ($self, $node, $source) = @_;
	$source //= $self->{nodes}[0];
	my $s = $node->data_dir;
	$node->as_postgres([ "$self->{bindir}/pg_basebackup", '-D', $s,
			'-h', $source->host, '-p', $PORT, '-U', 'postgres',
			'-X', 'stream', '-c', 'fast', '--no-sync' ], timeout => 120);
	$node->append_conf('postgresql.conf',
		$self->_own_conf($node)
		  . ($node->{extra_conf} // '')
		  . "primary_conninfo = '"
		  . $source->repl_conninfo . " application_name=" . $node->name . "'\n");
	$node->as_postgres([ 'touch', "$s/standby.signal" ]);
	$node->start;
	return;
}

=pod

=item $c->new_node($id, $peers_ids)

A node object for raft id $id with its own namespace (not started, not
configured): for membership changes.  Its raft_ext.peers names the members
@$peers_ids plus itself.

=cut

sub new_node
{
	my ($self, $id, $member_ids) = @_;
	my $ns = "$self->{prefix}-n$id";
	$self->_wire($ns, $id);
	my $node = RaftNetns::Node->new($self, $id, $ns);
	push @{ $self->{nodes} }, $node;
	my @members = map { $self->node($_) } @$member_ids, $id;
	$node->{extra_conf} =
	  "raft_ext.peers = '" . $self->_peers(@members) . "'\n";
	return $node;
}

=pod

=item $c->set_sync($voters)

synchronous_standby_names = 'ANY k (every node)' on every node, with
k = $voters - (majority of $voters), and reload.

=cut

sub set_sync
{
	my ($self, $voters) = @_;
	my $k = $voters - (int($voters / 2) + 1);
	my $names = join ', ', map { $_->name } @{ $self->{nodes} };
	for my $node (grep { $_->{_pid} } @{ $self->{nodes} })
	{
		$node->append_conf('postgresql.conf',
			"synchronous_standby_names = 'ANY $k ($names)'\n");
		$node->reload;
	}
	$self->{sync} = 1;
	return;
}

=pod

=item $c->set_quorum

raft_ext.synchronous = quorum on every node, reload, and wait until the
primary (node1) waits for its standbys.

=cut

sub set_quorum
{
	my ($self) = @_;
	for my $node (grep { $_->{_pid} } @{ $self->{nodes} })
	{
		$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
		$node->reload;
	}
	$self->{nodes}[0]->poll_query_until('postgres',
		q{SELECT current_setting('synchronous_standby_names') LIKE 'ANY %'})
	  or croak 'the primary did not take up synchronous_standby_names';
	$self->{sync} = 1;
	return;
}

=pod

=item $c->wait_catchup($primary, $standby)

Poll until $standby has replayed $primary's current WAL position.

=cut

sub wait_catchup
{
	my ($self, $primary, $standby) = @_;
	my $lsn = $primary->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$standby->poll_query_until('postgres',
		"SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")
	  or croak $standby->name . " did not catch up with $lsn";
	return;
}

=pod

=item $c->wait_primary(%opts)

Poll until exactly one running node leads, agreed by every running node,
holds the lease and is out of recovery.  min_term => T; among => \@nodes
(default every running node); timeout => s (default the framework's).
Returns ($node, $term), or () on timeout.

=cut

sub wait_primary
{
	my ($self, %opts) = @_;
	my $found;
	RaftFaults::poll_until(
		sub {
			my @set = @{ $opts{among} // [ grep { $_->{_pid} } $self->nodes ] };
			my ($leader, $term) = RaftTest::agreed_leader(\@set);
			return 0 unless defined $leader;
			return 0 if defined $opts{min_term} && $term < $opts{min_term};
			my $st = RaftFaults::status($leader);
			return 0 unless $st && $st->{has_lease} eq 'true'
			  && $st->{in_recovery} eq 'false';
			$found = [ $leader, $term ];
			return 1;
		},
		'a primary that leads', $opts{timeout});
	return $found ? @$found : ();
}

=pod

=item $c->rejoin($node, $leader)

Make a former primary a standby of $leader with scripts/rejoin-standby.sh,
run inside $node's namespace (pg_rewind reaches the leader over the
network), then start it.  Returns the script's success.

=cut

sub rejoin
{
	my ($self, $node, $leader) = @_;
	my ($ok, $out, $err) = run(
		[
			'ip', 'netns', 'exec', $node->{ns},
			"$SCRIPTS/rejoin-standby.sh", '-D', $node->data_dir,
			'--source', $leader->tcp_conninfo,
			'--application-name', $node->name,
			'--bindir', $self->{bindir}, '--no-start'
		],
		timeout => 120);
	note("rejoin-standby.sh " . $node->name . ": $out$err");
	$node->{_pid} = undef;
	$node->start if $ok;
	return $ok;
}

=pod

=item $c->cleanup

Stop every server and every process left in this cluster's namespaces,
remove the rules and the namespaces, copy the server logs to the test's log
directory, and remove the data directory unless the test failed.  Runs at
exit by itself; idempotent.

=cut

sub cleanup
{
	my ($self) = @_;
	return if $self->{cleaned}++;
	for my $node (@{ $self->{nodes} })
	{
		$node->stop('immediate') if $node->{_pid};
	}
	$self->_clear_rules;
	# Whatever still runs in our namespaces (writers, a leftover
	# postmaster) is ours: kill it by pid.
	for my $ns (@{ $self->{namespaces} })
	{
		my (undef, $pids) = run([ 'ip', 'netns', 'pids', $ns ], timeout => 10);
		my @pids = grep { /^\d+$/ } split /\s+/, $pids // '';
		kill 'KILL', @pids if @pids;
	}
	for my $ns (reverse @{ $self->{namespaces} })
	{
		run([ 'ip', 'netns', 'del', $ns ], timeout => 10);
	}
	my $logdir = $PostgreSQL::Test::Utils::log_path;
	for my $node (@{ $self->{nodes} })
	{
		copy($node->{logfile},
			"$logdir/$self->{test}_$self->{prefix}_" . $node->name . '.log')
		  if -f $node->{logfile};
	}
	my $passing = Test::More->builder->is_passing;
	if ($passing)
	{
		remove_tree($self->{base});
	}
	else
	{
		diag("netns cluster data kept in $self->{base}");
	}
	return;
}

=pod

=back

=cut

1;
