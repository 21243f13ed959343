
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftFaults - inject faults into a raft_ext test cluster: kill -9, SIGSTOP,
restarts, network partitions (raft_ext.fault_drop), and pgbench load.

=head1 SYNOPSIS

  use RaftFaults;

  my @nodes = RaftFaults::create_cluster(3);     # fault injection on
  my $faults = RaftFaults->new(\@nodes);
  $faults->kill9($leader);       $faults->restart($leader);
  $faults->pause($leader);       $faults->resume($leader);
  $faults->partition([$n1], [$n2, $n3]);        # nodes or raft ids
  $faults->one_way($n1, $n2);                   # n1's messages to n2 lost
  $faults->heal;
  my $load = $faults->start_load($leader, seconds => 20);
  $faults->stop_load($load);
  note('faults: ' . $faults->count);

Every fault (kill9, pause, a partition or cut, a stop, a restart of a
running node) adds one to the object's count and to the process-wide
RaftFaults::total(), which RaftChecker records for scripts/test-summary.pl.
Ending a fault (resume, heal, starting a stopped or killed node) does not
count.  Partitions need raft_ext.fault_injection = on in every node's
postgresql.conf (create_cluster below sets it).

=cut

package RaftFaults;

use strict;
use warnings;

use Carp;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $total = 0;

=pod

=head1 FUNCTIONS

=over

=item RaftFaults::total()

Faults injected so far by every RaftFaults object of this process.

=cut

sub total { return $total; }

# Every process group still SIGSTOPped, so that a test that dies mid-pause
# does not leave stopped servers behind (teardown would wait on them).
my %all_paused;

END
{
	for my $pids (values %all_paused)
	{
		my ($pm, @kids) = @$pids;
		kill 'CONT', @kids if @kids;
		kill 'CONT', $pm;
	}
}

=pod

=item RaftFaults::create_cluster($n, %opts)

RaftTest::create_cluster with raft_ext.fault_injection = on added to
extra_conf.

=cut

sub create_cluster
{
	my ($n, %opts) = @_;
	$opts{extra_conf} =
	  "raft_ext.fault_injection = on\n" . ($opts{extra_conf} // '');
	return RaftTest::create_cluster($n, %opts);
}

=pod

=item RaftFaults::create_replicated_cluster($n, %opts)

A primary (raft id 1) and $n - 1 hot standbys streaming from it, every one
running raft_ext with fault injection on, decide-only (auto_promote and
auto_follow off: Raft alone is under test); the extension is created on the
primary and reaches the standbys through WAL.  Options: timing as for
RaftTest::create_cluster.  Returns the nodes, primary first, all started
and caught up.

=cut

sub create_replicated_cluster
{
	my ($n, %opts) = @_;
	my $primary = PostgreSQL::Test::Cluster->new('primary');
	my @nodes = ($primary);
	push @nodes, PostgreSQL::Test::Cluster->new("standby$_") for 1 .. $n - 1;
	$nodes[$_]->{raft_id} = $_ + 1 for 0 .. $#nodes;

	my $peers = RaftTest::peers_value(@nodes);
	my $conf =
	    "shared_preload_libraries = 'raft_ext'\n"
	  . "log_statement = 'ddl'\n"
	  . "hot_standby = on\n"
	  . "raft_ext.fault_injection = on\n"
	  # Raft alone is under test: decide-only, the standbys stay standbys
	  . "raft_ext.auto_promote = off\n"
	  . "raft_ext.auto_follow = off\n"
	  . "raft_ext.peers = '$peers'\n"
	  . RaftTest::timing_conf(%{ $opts{timing} // {} });

	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', $conf . "raft_ext.node_id = 1\n");
	$primary->start;
	$primary->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
	$primary->backup('base');
	for my $standby (@nodes[ 1 .. $#nodes ])
	{
		$standby->init_from_backup($primary, 'base', has_streaming => 1);
		# Later lines win over the primary's node_id from the backup.
		$standby->append_conf('postgresql.conf',
			"raft_ext.node_id = $standby->{raft_id}\n");
		$standby->start;
	}
	$primary->wait_for_catchup($_) for @nodes[ 1 .. $#nodes ];
	return @nodes;
}

=pod

=item RaftFaults::status($node)

The node's whole raft_status row as a hash reference (NULL as undef), or
undef when the node cannot be queried.

=cut

sub status
{
	my ($node) = @_;
	return undef unless $node->{_pid};
	my @cols = qw(node_id role term voted_for leader_id has_lease
	  commit_index last_log_index in_recovery transfer_target);
	my ($ret, $out) = RaftTest::query($node,
		'SELECT ' . join(', ', map { "coalesce(${_}::text, '')" } @cols)
		  . ' FROM raft_ext.raft_status',
		extra_params => [ '-F', '|' ], timeout => 10);
	return undef if $ret != 0 || $out eq '';
	my %row;
	@row{@cols} = split /\|/, $out, -1;
	$row{$_} = undef for grep { !defined $row{$_} || $row{$_} eq '' } @cols;
	return \%row;
}

=pod

=item RaftFaults::poll_until($code, $what [, $timeout])

Call $code every 50 ms until it returns true; returns that value, or
undef (and a note saying what was awaited) after $timeout seconds
($PostgreSQL::Test::Utils::timeout_default by default).

=cut

sub poll_until
{
	my ($code, $what, $timeout) = @_;
	my $deadline = time() + ($timeout // $PostgreSQL::Test::Utils::timeout_default);
	while (1)
	{
		my $v = $code->();
		return $v if $v;
		last if time() >= $deadline;
		usleep(50_000);
	}
	note("timed out waiting for $what");
	return undef;
}

=pod

=item RaftFaults::hold($seconds, $why)

Let a fault last $seconds (the fault's duration is part of the scenario;
nothing waits for a state this way).

=cut

sub hold
{
	my ($secs, $why) = @_;
	note(sprintf('holding %.2f s: %s', $secs, $why // 'fault in place'));
	usleep(int($secs * 1e6));
	return;
}

=pod

=item RaftFaults::election_timeout()

The election timeout of RaftTest's default timing, in seconds.

=cut

sub election_timeout
{
	my ($ms) = $RaftTest::DEFAULT_TIMING{election_timeout} =~ /(\d+)/;
	return $ms / 1000.0;
}

=pod

=back

=head1 METHODS

=over

=item RaftFaults->new(\@nodes)

A fault injector for the cluster @nodes (raft ids from RaftTest).

=cut

sub new
{
	my ($class, $nodes) = @_;
	return bless { nodes => [@$nodes], count => 0, paused => {} }, $class;
}

=pod

=item $faults->count

Faults injected through this object.

=cut

sub count { return $_[0]{count}; }

=pod

=item $faults->record_fault($what)

Count one fault injected by the test itself (a failpoint, a silent peer)
and say what it was.

=cut

sub record_fault
{
	my ($self, $what) = @_;
	$self->{count}++;
	$total++;
	note(sprintf('fault %d: %s', $self->{count}, $what));
	return;
}

=pod

=item $faults->add_node($node)

Include a node added during the scenario in partitions and heal.

=cut

sub add_node
{
	my ($self, $node) = @_;
	push @{ $self->{nodes} }, $node;
	return;
}

=pod

=item $faults->kill9($node)

SIGKILL the postmaster (RaftTest::kill9: restart() brings it back).

=cut

sub kill9
{
	my ($self, $node) = @_;
	RaftTest::kill9($node);
	$self->record_fault('kill -9 ' . $node->name);
	return;
}

=pod

=item $faults->stop($node [, $mode])

Stop a node cleanly (pg_ctl stop, mode fast by default).

=cut

sub stop
{
	my ($self, $node, $mode) = @_;
	$node->stop($mode // 'fast');
	$self->record_fault('stop ' . $node->name);
	return;
}

=pod

=item $faults->restart($node)

Bring a node back: a node killed by kill9 is started again once its old
postmaster is gone; a stopped node is started; a running one is restarted
(that counts as a fault).

=cut

sub restart
{
	my ($self, $node) = @_;
	if (defined $node->{raft_killed_pid})
	{
		RaftTest::restart_killed($node);
	}
	elsif (defined $node->{_pid})
	{
		$node->restart;
		$self->record_fault('restart ' . $node->name);
	}
	else
	{
		$node->start;
	}
	return;
}

=pod

=item $faults->start($node)

Start a stopped node (not a fault).

=cut

sub start
{
	my ($self, $node) = @_;
	return $self->restart($node) if defined $node->{raft_killed_pid};
	$node->start;
	return;
}

# Pids of the direct children of $pid (the postmaster's backends and
# workers), from /proc.
sub _children
{
	my ($pid) = @_;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line;
		# pid (comm) state ppid ...; comm may hold spaces and parens.
		next unless $line =~ /^(\d+) \(.*\) \S+ (\d+) /s;
		push @kids, $1 if $2 == $pid;
	}
	return @kids;
}

=pod

=item $faults->pause($node) / $faults->resume($node)

SIGSTOP the postmaster and every child of it (the raft worker among them),
postmaster first so that it forks nothing new; SIGCONT them all, children
first.

=cut

sub pause
{
	my ($self, $node) = @_;
	my $pm = $node->{_pid};
	croak 'pause: ' . $node->name . ' is not running' unless $pm;
	kill 'STOP', $pm;
	my @kids = _children($pm);
	kill 'STOP', @kids if @kids;
	$self->{paused}{ $node->name } = [ $pm, @kids ];
	$all_paused{"$self/" . $node->name} = [ $pm, @kids ];
	$self->record_fault('SIGSTOP ' . $node->name . ' (' . (1 + @kids) . ' processes)');
	return;
}

sub resume
{
	my ($self, $node) = @_;
	my $pids = delete $self->{paused}{ $node->name };
	delete $all_paused{"$self/" . $node->name};
	croak 'resume: ' . $node->name . ' is not paused' unless $pids;
	my ($pm, @kids) = @$pids;
	kill 'CONT', @kids if @kids;
	kill 'CONT', $pm;
	note('SIGCONT ' . $node->name);
	return;
}

# A node's raft id, given the node or the id.
sub _id
{
	my ($x) = @_;
	return ref $x ? RaftTest::raft_id($x) : $x;
}

=pod

=item $faults->cut(\@edges)

Lose every message on the directed links [from, to] of @edges (nodes or
ids), and only those: the sender drops them (raft_ext.fault_drop's
to_nodes) and so does the receiver (from_nodes).  Replaces the previous
cuts.  A node that cannot be reached (down, paused) is skipped with a note.

=cut

sub cut
{
	my ($self, $edges, $what) = @_;
	my (%to, %from);
	for my $e (@$edges)
	{
		my ($src, $dst) = (_id($e->[0]), _id($e->[1]));
		$to{$src}{$dst} = 1;
		$from{$dst}{$src} = 1;
	}
	for my $node (@{ $self->{nodes} })
	{
		my $id = RaftTest::raft_id($node);
		my $t = join ',', sort { $a <=> $b } keys %{ $to{$id} // {} };
		my $f = join ',', sort { $a <=> $b } keys %{ $from{$id} // {} };
		_drop($node, "SELECT raft_ext.fault_drop('{$t}', '{$f}')");
	}
	$self->record_fault($what // 'cut links ' . join(' ',
			map { _id($_->[0]) . '->' . _id($_->[1]) } @$edges));
	return;
}

# Run a fault function on a node, tolerating a node that is down.
sub _drop
{
	my ($node, $sql) = @_;
	return note($node->name . ': skipped, not running') unless $node->{_pid};
	my ($ret, $out, $err) = RaftTest::query($node, $sql, timeout => 10);
	note($node->name . ": $sql failed: $err") if $ret != 0;
	return $ret == 0;
}

=pod

=item $faults->partition(\@group1, \@group2, ...)

Cut every link, both ways, between nodes of different groups.  Nodes in no
group keep all their links (a bridge between the groups).

=cut

sub partition
{
	my ($self, @groups) = @_;
	my (@edges, %group_of);
	for my $g (0 .. $#groups)
	{
		$group_of{ _id($_) } = $g for @{ $groups[$g] };
	}
	for my $src (keys %group_of)
	{
		for my $dst (keys %group_of)
		{
			push @edges, [ $src, $dst ]
			  if $group_of{$src} != $group_of{$dst};
		}
	}
	$self->cut(\@edges, 'partition '
		  . join(' | ', map { join(',', sort map { _id($_) } @$_) } @groups));
	return;
}

=pod

=item $faults->isolate($node)

Partition one node from all the others.

=cut

sub isolate
{
	my ($self, $node) = @_;
	my @rest = grep { _id($_) != _id($node) } @{ $self->{nodes} };
	return $self->partition([$node], \@rest);
}

=pod

=item $faults->one_way($from, $to)

Lose the messages $from sends to $to (nodes, ids, or array references of
them); the other direction works.  Replaces the previous cuts.

=cut

sub one_way
{
	my ($self, $from, $to) = @_;
	my @f = ref $from eq 'ARRAY' ? @$from : ($from);
	my @t = ref $to eq 'ARRAY' ? @$to : ($to);
	my @edges = map { my $src = $_; map { [ $src, $_ ] } @t } @f;
	$self->cut(\@edges, 'one-way loss '
		  . join(',', map { _id($_) } @f) . ' -> '
		  . join(',', map { _id($_) } @t));
	return;
}

=pod

=item $faults->heal

Stop dropping messages on every running node (raft_ext.fault_clear).

=cut

sub heal
{
	my ($self) = @_;
	_drop($_, 'SELECT raft_ext.fault_clear()') for @{ $self->{nodes} };
	note('healed');
	return;
}

=pod

=item $faults->start_load($node, seconds => 20, clients => 2)

Create pgbench's tables on $node (scale 1, once per node) and start
"pgbench -n -c clients -T seconds" against it in the background.  Returns a
handle for stop_load.  The load is best effort: pgbench ends early when the
node loses its lease and its writes are refused.

=cut

sub start_load
{
	my ($self, $node, %opts) = @_;
	my $secs = $opts{seconds} // 20;
	my $clients = $opts{clients} // 2;
	my @conn = ('-h', $node->host, '-p', $node->port);
	unless ($node->{raft_pgbench_ready})
	{
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'pgbench', '-i', '-s', '1', '-q', @conn, 'postgres' ],
			'>', \$out, '2>', \$err,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default))
		  or note("pgbench -i failed: $err");
		$node->{raft_pgbench_ready} = 1;
	}
	my $h = { out => '', err => '', node => $node, started => time() };
	$h->{run} = IPC::Run::start(
		[ 'pgbench', '-n', '-P', '1', '-c', $clients, '-T', $secs, @conn,
			'postgres' ],
		'>', \$h->{out}, '2>', \$h->{err},
		IPC::Run::timeout($secs + 30));
	note("pgbench load on " . $node->name . " for $secs s, $clients clients");
	return $h;
}

=pod

=item $faults->stop_load($handle)

Stop the load (kill it if it still runs); returns the number of
transactions pgbench reports (from its per-second progress reports when it
was interrupted: an estimate).

=cut

sub stop_load
{
	my ($self, $h) = @_;
	return 0 unless $h && $h->{run};
	if ($h->{run}->pumpable)
	{
		$h->{run}->signal('INT');
		my $deadline = time() + 5;
		while ($h->{run}->pumpable && time() < $deadline)
		{
			eval { $h->{run}->pump_nb; };
			usleep(50_000);
		}
		$h->{run}->kill_kill if $h->{run}->pumpable;
	}
	eval { $h->{run}->finish; };
	# The summary when pgbench ended by itself, else its progress reports.
	my ($tx) = $h->{out} =~ /number of transactions actually processed: (\d+)/;
	if (!defined $tx)
	{
		$tx = 0;
		$tx += $1 while $h->{err} =~ /^progress: [\d.]+ s, ([\d.]+) tps/mg;
		$tx = int($tx);
	}
	note(sprintf('pgbench on %s: %d transactions in %.1f s%s',
			$h->{node}->name, $tx, time() - $h->{started},
			$h->{err} =~ /(error[^\n]*)/ ? " (first error: $1)" : ''));
	delete $h->{run};
	return $tx;
}

=pod

=back

=cut

1;
