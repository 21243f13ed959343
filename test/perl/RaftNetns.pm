
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

our $NET = '10.213';
our $PORT = 5432;
our $CLIENT_NET = 250;
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

=head1 FUNCTIONS

=over

=item RaftNetns::run(\@cmd, %opts)

Run a command (timeout => seconds, default 60; stdin => string).  Returns
(ok, stdout, stderr).

=cut

sub run
{
	my ($cmd, %opts) = @_;
	my ($in, $out, $err) = ($opts{stdin} // '', '', '');
	my $ok = eval {
		IPC::Run::run($cmd, '<', \$in, '>', \$out, '2>', \$err,
			IPC::Run::timeout($opts{timeout} // 60));
	};
	$err .= $@ if $@;
	return ($ok ? 1 : 0, $out, $err);
}

# Run a command; die with its output when it fails.
sub must
{
	my ($cmd, %opts) = @_;
	my ($ok, $out, $err) = run($cmd, %opts);
	croak "command failed: @$cmd\n$out$err" unless $ok;
	return $out;
}

=pod

=item RaftNetns::preflight()

Why this machine cannot run the suite (a sentence), or undef when it can:
root, the ip command, network namespaces, veth pairs and policy rules, a
postgres user, the PostgreSQL binaries.

=cut

sub preflight
{
	return "it must run as root (network namespaces, veth pairs and routing "
	  . "rules need CAP_NET_ADMIN); it runs as uid $>"
	  if $> != 0;
	return 'there is no "postgres" user to run the servers as'
	  unless defined getpwnam('postgres');
	my $bin = bindir();
	return "no PostgreSQL binaries (pg_config --bindir gave '$bin')"
	  unless $bin ne '' && -x "$bin/postgres";
	my ($ok, $out, $err) = run([ 'ip', '-V' ], timeout => 10);
	return "the ip command (iproute2) is missing: $err" unless $ok;

	my $ns = "rx${$}pre";
	my @steps = (
		[ 'ip', 'netns', 'add', "$ns-a" ],
		[ 'ip', 'netns', 'add', "$ns-b" ],
		[ 'ip', 'link', 'add', 'eth0', 'netns', "$ns-a", 'type', 'veth',
		  'peer', 'name', 'eth0', 'netns', "$ns-b" ],
		[ 'ip', '-n', "$ns-a", 'rule', 'add', 'from', "$NET.1.2",
		  'to', "$NET.2.2", 'blackhole', 'priority', '100' ],
		[ 'ip', 'netns', 'exec', "$ns-a", 'sysctl', '-q', '-w',
		  'net.ipv4.ip_forward=1' ]);
	my $why;
	for my $step (@steps)
	{
		($ok, $out, $err) = run($step, timeout => 10);
		next if $ok;
		$why = "'@$step' failed: $err";
		$why =~ s/\s+$//;
		last;
	}
	run([ 'ip', 'netns', 'del', $_ ], timeout => 10) for ("$ns-a", "$ns-b");
	return $why;
}

=pod

=item RaftNetns::require_netns()

preflight(), and when it finds a reason: print it, fail the test and exit
(the suite never passes by skipping).

=cut

sub require_netns
{
	my $why = preflight();
	return unless defined $why;
	diag("the network partition suite cannot run: $why");
	fail("network namespaces are usable: $why");
	done_testing();
	exit 1;
}

=pod

=back

=head1 METHODS

=over

=item RaftNetns->new(%opts)

Build and start a cluster: node1 a primary, node2..node<n> hot standbys
cloned with pg_basebackup and streaming from it, every node with
raft_ext.auto_promote and auto_follow on.  Options: nodes (3); sync (0):
with 1, synchronous_standby_names = 'ANY k (node1, ...)' on every node with
k = n - majority (set once the standbys stream and a primary leads); timing (RaftTest's
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
	$self->set_sync($n) if $self->{sync};
	note(sprintf('netns cluster %s: %d nodes, %s replication, base %s',
			$self->{prefix}, $n, $self->{sync} ? 'synchronous' : 'asynchronous',
			$self->{base}));
	return $self;
}

# Namespaces: a router, a client, and one per node, each wired to the router.
sub _network
{
	my ($self) = @_;
	my $r = $self->router;
	$self->_add_ns($r);
	must([ 'ip', 'netns', 'exec', $r, 'sysctl', '-q', '-w',
		   'net.ipv4.ip_forward=1' ]);
	$self->_wire($self->client_ns, $CLIENT_NET);
	$self->_wire("$self->{prefix}-n$_", $_) for 1 .. $self->{n};
	return;
}

sub _add_ns
{
	my ($self, $ns) = @_;
	must([ 'ip', 'netns', 'add', $ns ]);
	push @{ $self->{namespaces} }, $ns;
	must([ 'ip', '-n', $ns, 'link', 'set', 'lo', 'up' ]);
	return;
}

# One namespace on subnet $net: a veth pair to the router.
sub _wire
{
	my ($self, $ns, $net) = @_;
	my $r = $self->router;
	$self->_add_ns($ns);
	must([ 'ip', 'link', 'add', 'eth0', 'netns', $ns, 'type', 'veth',
		   'peer', 'name', "v$net", 'netns', $r ]);
	must([ 'ip', '-n', $ns, 'addr', 'add', "$NET.$net.2/24", 'dev', 'eth0' ]);
	must([ 'ip', '-n', $ns, 'link', 'set', 'eth0', 'up' ]);
	must([ 'ip', '-n', $ns, 'route', 'add', 'default', 'via', "$NET.$net.1" ]);
	must([ 'ip', '-n', $r, 'addr', 'add', "$NET.$net.1/24", 'dev', "v$net" ]);
	must([ 'ip', '-n', $r, 'link', 'set', "v$net", 'up' ]);
	return;
}

=pod

=item $c->router / $c->client_ns

Names of the router and client namespaces.

=item $c->nodes / $c->node($id)

The nodes (RaftNetns::Node), or one by raft id.

=cut

sub router { return "$_[0]{prefix}-r"; }
sub client_ns { return "$_[0]{prefix}-c"; }
sub nodes { return @{ $_[0]{nodes} }; }

sub node
{
	my ($self, $id) = @_;
	my ($node) = grep { $_->{raft_id} == $id } @{ $self->{nodes} };
	return $node;
}

=pod

=item $c->in_client(@cmd)

The command line that runs @cmd in the client namespace.

=cut

sub in_client
{
	my ($self, @cmd) = @_;
	return ('ip', 'netns', 'exec', $self->client_ns, @cmd);
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

=item $c->cut(\@edges [, $what]) / partition(\@g1, \@g2, ...) / isolate($node) / one_way($from, \@to) / heal

Replace the cuts in place by the directed links [from, to] of @edges (nodes
or raft ids): the router drops every packet from the first node's address
to the second's.  partition cuts both ways between nodes of different
groups (nodes in no group keep their links: a bridge); isolate cuts one
node from every other node (never from the client); one_way cuts the
links from $from to each of @to only.  heal removes every cut.  Each call
but heal is one fault: counted, timed and logged.  Returns the fault's time
(epoch seconds, taken once the rules are in place).

=cut

sub cut
{
	my ($self, $edges, $what) = @_;
	$self->_clear_rules;
	my $r = $self->router;
	for my $e (@$edges)
	{
		my ($from, $to) = map { ref $_ ? $_ : $self->node($_) } @$e;
		my @rule = ('from', $from->{addr}, 'to', $to->{addr}, 'blackhole',
			'priority', 100);
		must([ 'ip', '-n', $r, 'rule', 'add', @rule ]);
		push @{ $self->{rules} }, \@rule;
	}
	my $at = time();
	$what //= 'cut ' . join(' ', map { _id($_->[0]) . '->' . _id($_->[1]) } @$edges);
	push @{ $self->{faults} },
	  {
		type => 'fault',
		t => $at * 1000,
		what => $what,
		edges => [ map { [ _id($_->[0]), _id($_->[1]) ] } @$edges ]
	  };
	$self->{fault_counter}->record_fault("real partition: $what");
	return $at;
}

sub _id { return ref $_[0] ? $_[0]{raft_id} : $_[0]; }

sub partition
{
	my ($self, @groups) = @_;
	my (%g, @edges);
	for my $i (0 .. $#groups)
	{
		$g{ _id($_) } = $i for @{ $groups[$i] };
	}
	for my $a (sort keys %g)
	{
		push @edges, map { [ $a, $_ ] } grep { $g{$_} != $g{$a} } sort keys %g;
	}
	return $self->cut(\@edges,
		'partition ' . join(' | ', map { join(',', sort map { _id($_) } @$_) } @groups));
}

sub isolate
{
	my ($self, $node) = @_;
	my @rest = grep { $_->{raft_id} != _id($node) } $self->nodes;
	return $self->partition([$node], \@rest);
}

sub one_way
{
	my ($self, $from, $to) = @_;
	my @edges = map { [ $from, $_ ] } @$to;
	return $self->cut(\@edges,
		'one-way ' . _id($from) . ' -> ' . join(',', map { _id($_) } @$to));
}

sub heal
{
	my ($self) = @_;
	$self->_clear_rules;
	push @{ $self->{faults} }, { type => 'heal', t => time() * 1000 };
	note('healed: every cut removed');
	return time();
}

sub _clear_rules
{
	my ($self) = @_;
	for my $rule (@{ $self->{rules} })
	{
		run([ 'ip', '-n', $self->router, 'rule', 'del', @$rule ], timeout => 10);
	}
	$self->{rules} = [];
	return;
}

=pod

=item $c->faults

The fault log: hashes { type => 'fault' | 'heal', t (epoch ms), what, edges }.

=item $c->fault_count

Faults (cuts) injected into this cluster.

=cut

sub faults { return @{ $_[0]{faults} }; }
sub fault_count { return scalar grep { $_->{type} eq 'fault' } @{ $_[0]{faults} }; }

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

package RaftNetns::Node;

=pod

=head1 RaftNetns::Node

One PostgreSQL instance in its own namespace.  It offers the part of
PostgreSQL::Test::Cluster's interface that RaftTest, RaftFaults and
RaftChecker use (name, host, port, data_dir, psql, safe_psql,
poll_query_until, the _pid and raft_id attributes), over its Unix socket,
plus: ns, addr, tcp_conninfo, repl_conninfo, start, stop, reload,
append_conf, log_tail, is_primary.

=cut

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
