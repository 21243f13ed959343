
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftTest - helpers for raft_ext TAP tests: build clusters of PostgreSQL
instances that run raft_ext, read each node's raft_status, wait for an
agreed leader.

=head1 SYNOPSIS

  use lib 'test/perl';
  use RaftTest;

  my @nodes = RaftTest::create_cluster(3);
  my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
  my $st = RaftTest::status($nodes[0]);    # { role => 'leader', term => 3, ... }

Every node gets an attribute raft_id (1..N), reachable with
RaftTest::raft_id($node).  Waits poll every 100 ms and give up after
$PostgreSQL::Test::Utils::timeout_default seconds; nothing sleeps to wait
for a state.

=cut

package RaftTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

# The columns of raft_status the helpers read, in this order (error last:
# it is free text).  NULL reads as ''; booleans as 't' / 'f'.
our @STATUS_COLUMNS =
  qw(node_id role term voted_for leader_id has_lease commit_index
  last_log_index error);

# The raft_ext.cluster_name of create_cluster's nodes, for nodes a test
# builds itself to join them.
our $CLUSTER_NAME = 'raft_test';

# Timing used by default: fast enough for tests, slow enough for a loaded CI
# machine (the election timeout is 10 heartbeats).
our %DEFAULT_TIMING = (
	heartbeat_interval => '50ms',
	election_timeout => '500ms',
	election_spread => '500ms',
	lease_drift_margin => '50ms',);

=pod

=head1 FUNCTIONS

=over

=item create_cluster($n, %opts)

Create, configure and start $n nodes named node1..node$n with raft_ext ids
1..$n, and create the extension on each.  Options: timing => { setting =>
value } overrides %DEFAULT_TIMING; extra_conf => a string appended to every
postgresql.conf; cluster_name => raft_ext.cluster_name (default
$RaftTest::CLUSTER_NAME: the nodes are separate initdb's, whose system
identifiers, and so default cluster names, differ); start => 0 to leave
the nodes stopped (and the extension not created); compare_positions => 1
to keep the WAL position check in votes (by default it is off, with
raft_ext.max_lag_on_failover = -1, because the nodes are separate initdb's
whose positions mean nothing to each other).  Returns the nodes.

=cut

sub create_cluster
{
	my ($n, %opts) = @_;
	my @nodes;

	for my $id (1 .. $n)
	{
		my $node = PostgreSQL::Test::Cluster->new("node$id");
		$node->init;
		$node->{raft_id} = $id;
		push @nodes, $node;
	}

	my $peers = peers_value(@nodes);
	configure_node($_, $peers, %opts) for @nodes;

	if ($opts{start} // 1)
	{
		$_->start for @nodes;
		$_->safe_psql('postgres', 'CREATE EXTENSION raft_ext') for @nodes;
	}
	return @nodes;
}

# The postgresql.conf lines of raft_ext's timing settings: %DEFAULT_TIMING,
# with %overrides (setting => value) taking precedence.
sub timing_conf
{
	my (%overrides) = @_;
	my %timing = (%DEFAULT_TIMING, %overrides);
	return join '', map { "raft_ext.$_ = '$timing{$_}'\n" } sort keys %timing;
}

# Append raft_ext's settings for $node, a member of the cluster that $peers
# describes, to its postgresql.conf (options as for create_cluster).
sub configure_node
{
	my ($node, $peers, %opts) = @_;

	# Statements from peers (raft_ext.receive) would flood the log.
	my $conf = "shared_preload_libraries = 'raft_ext'\n"
	  . "log_statement = 'ddl'\n"
	  . "raft_ext.node_id = $node->{raft_id}\n"
	  . "raft_ext.peers = '$peers'\n";
	# Separate initdb's have different system identifiers, so the
	# default name (derived from it) would differ: set one.
	$conf .= "raft_ext.cluster_name = '"
	  . ($opts{cluster_name} // $CLUSTER_NAME) . "'\n";
	# Separate initdb's: WAL positions are unrelated, so voters must
	# not compare them.
	$conf .= "raft_ext.max_lag_on_failover = -1\n"
	  unless $opts{compare_positions};
	$conf .= timing_conf(%{ $opts{timing} // {} });
	$conf .= $opts{extra_conf} if defined $opts{extra_conf};
	$node->append_conf('postgresql.conf', $conf);
	return;
}

=pod

=item extra_node($id, \@members, %opts)

Create and configure, but do not start, one more instance node$id with
raft_ext id $id, whose raft_ext.peers lists @members and itself: the node an
add_node test adds.  Options as for create_cluster.  Returns the node.

=cut

sub extra_node
{
	my ($id, $members, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new("node$id");

	$node->init;
	$node->{raft_id} = $id;
	configure_node($node, peers_value(@$members, $node), %opts);
	return $node;
}

=pod

=item query($node, $sql, %opts)

Run $sql on $node with psql, tolerating a node that is down or going away:
returns ($ret, $stdout, $stderr), $ret nonzero on any failure (-1 for a
timeout or a psql that died).  Options: timeout (seconds, default 20),
extra_params (passed to psql).

=cut

sub query
{
	my ($node, $sql, %opts) = @_;
	my ($out, $err, $timed_out) = ('', '', 0);
	# psql can exit before it has read its query when the server goes away
	# (a node being restarted): IPC::Run then dies with EPIPE.  That is a
	# failed query, not a failed test.
	my $ret = eval {
		$node->psql(
			'postgres', $sql,
			stdout => \$out,
			stderr => \$err,
			on_error_die => 0,
			timeout => $opts{timeout} // 20,
			timed_out => \$timed_out,
			extra_params => $opts{extra_params} // []);
	};
	return (-1, $out, "psql failed: $@") unless defined $ret;
	return (-1, $out, "timed out\n$err") if $timed_out;
	return ($ret, $out // '', $err // '');
}

=pod

=item peers_value(@nodes)

The raft_ext.peers value listing @nodes ("id:conninfo;...").  The conninfo
is the node's own host (its socket directory, or 127.0.0.1 when the test
suite uses TCP) and port.

=cut

sub peers_value
{
	my @nodes = @_;
	return join ';',
	  map { "$_->{raft_id}:" . conninfo($_) } @nodes;
}

=pod

=item conninfo($node)

The conninfo a peer uses to reach $node.

=cut

sub conninfo
{
	my ($node) = @_;
	my $host = $node->host;
	return "host=$host port=" . $node->port . " dbname=postgres";
}

=pod

=item raft_id($node)

The node's raft_ext id.

=cut

sub raft_id
{
	my ($node) = @_;
	return $node->{raft_id};
}

=pod

=item status($node)

The node's raft_status row as a hash reference with the keys of
@STATUS_COLUMNS, or undef when the node cannot be queried.

=cut

sub status
{
	my ($node) = @_;
	my $cols = join ', ', @STATUS_COLUMNS;
	my ($ret, $stdout) = query($node,
		"SET search_path = raft_ext, public; SELECT $cols FROM raft_status",
		extra_params => [ '-F', '|' ]);
	return undef if $ret != 0 || $stdout eq '';
	my @values = split /\|/, $stdout, scalar(@STATUS_COLUMNS);
	my %row;
	@row{@STATUS_COLUMNS} = @values;
	$row{$_} = '' for grep { !defined $row{$_} } @STATUS_COLUMNS;
	return \%row;
}

=pod

=item agreed_leader(\@nodes)

Looks once at every node.  Returns ($leader_node, $term) when exactly one
node says it is the leader and every node of @nodes reports that leader in
the same term; else returns an empty list.

=cut

sub agreed_leader
{
	my ($nodes) = @_;
	my (@leaders, %seen);

	for my $node (@$nodes)
	{
		my $st = status($node);
		return () unless defined $st;
		push @leaders, $node if $st->{role} eq 'leader';
		$seen{"$st->{term}/$st->{leader_id}"} = 1;
	}
	return () unless @leaders == 1 && keys %seen == 1;

	my ($term, $leader_id) = split m{/}, (keys %seen)[0];
	return () unless $leader_id eq raft_id($leaders[0]);
	return ($leaders[0], $term);
}

=pod

=item count_leaders(\@nodes)

How many of the reachable nodes say they are the leader, keyed by term:
a hash reference { term => count }.  Used to check that no term ever has
two leaders.

=cut

sub count_leaders
{
	my ($nodes) = @_;
	my %by_term;

	for my $node (@$nodes)
	{
		my $st = status($node);
		next unless defined $st && $st->{role} eq 'leader';
		$by_term{ $st->{term} }++;
	}
	return \%by_term;
}

=pod

=item wait_for_leader(\@nodes, %opts)

Poll until agreed_leader(\@nodes) finds one; with min_term => T the term
must also be at least T.  Returns ($leader_node, $term); dies on timeout
with every node's last status.  While polling it checks that no term has
two leaders, and fails the test if one does.

=cut

sub wait_for_leader
{
	my ($nodes, %opts) = @_;
	my $min_term = $opts{min_term} // 0;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;

	while (time() < $deadline)
	{
		my $by_term = count_leaders($nodes);
		for my $term (keys %$by_term)
		{
			fail("at most one leader in term $term")
			  if $by_term->{$term} > 1;
		}

		my ($leader, $term) = agreed_leader($nodes);
		return ($leader, $term) if defined $leader && $term >= $min_term;
		usleep(100_000);
	}

	my @report = map {
		my $st = status($_);
		$_->name . ': '
		  . (defined $st
			? join(' ', map { "$_=$st->{$_}" } @STATUS_COLUMNS)
			: 'unreachable')
	} @$nodes;
	die "no agreed leader (min term $min_term) within "
	  . "$PostgreSQL::Test::Utils::timeout_default s:\n  "
	  . join("\n  ", @report) . "\n";
}

=pod

=item wait_for_peers_connected($node, $count)

Poll until $node's raft_peers view shows $count other members connected and
heard from.  Returns true, or false on timeout.

=cut

sub wait_for_peers_connected
{
	my ($node, $count) = @_;
	return $node->poll_query_until('postgres',
		    "SELECT count(*) = $count FROM raft_ext.raft_peers "
		  . "WHERE NOT is_self AND connected AND msgs_received > 0");
}

=pod

=item kill9($node)

Kill the node's postmaster with SIGKILL (PostgreSQL::Test::Cluster::kill9),
remembering its pid for restart_killed.

=cut

sub kill9
{
	my ($node) = @_;
	$node->{raft_killed_pid} = $node->{_pid};
	$node->kill9;
	return;
}

=pod

=item restart_killed($node)

Start a node killed by kill9 above.  The killed postmaster may linger for a
moment (as a zombie until it is reaped, and its children until they notice
its death), and a new postmaster refuses to start while it does; so this
waits for the old pid to disappear and retries the start until it works.

=cut

sub restart_killed
{
	my ($node) = @_;
	my $pid = $node->{raft_killed_pid};
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;

	while (defined $pid && kill(0, $pid) && time() < $deadline)
	{
		usleep(50_000);
	}
	while (!$node->start(fail_ok => 1))
	{
		die "could not restart " . $node->name if time() >= $deadline;
		usleep(100_000);
	}
	delete $node->{raft_killed_pid};
	return;
}

=pod

=pod

=item row($node, $sql)

One row of a query as a list ('' for NULL).

=item msgs_sent($leader)

Messages sent so far, per peer id, as $leader's raft_peers shows them.

=item steady_leader_failures($leader, $term, \@healthy, $seconds)

For $seconds, sample the leader every 50 ms: it must lead in $term with an
unexpired lease at every sample, each follower in @healthy must have heard
from it within 500 ms, and every half second msgs_sent to each healthy
follower must have grown.  Returns the number of failed checks (0 = steady).

=cut

=pod

=item give_up($why)

Fail with $why and end this test file here (its nodes are stopped by the
framework as usual).  Not BAIL_OUT, which stops every test file after this
one too, so that one failure hides all the others in the run.

=cut

sub give_up
{
	my ($why) = @_;
	Test::More::fail($why);
	Test::More::done_testing();
	exit 1;
}

# One row of a query as a list ('' for NULL).
sub row
{
	my ($node, $sql) = @_;
	return split /\|/, $node->safe_psql('postgres', $sql), -1;
}

# msgs_sent per peer id, as $leader sees them.
sub msgs_sent
{
	my ($leader) = @_;
	my %sent;
	for my $line (
		split /\n/,
		$leader->safe_psql(
			'postgres',
			'SELECT peer_id, msgs_sent FROM raft_ext.raft_peers WHERE NOT is_self'
		))
	{
		my ($id, $n) = split /\|/, $line;
		$sent{$id} = $n;
	}
	return \%sent;
}

# For $seconds, sample the leader every 50 ms: it must lead in $term with
# an unexpired lease at every sample, and each follower in @$healthy must
# hear from it within an election timeout.  Every half second, msgs_sent to
# each healthy follower must have grown.  Returns the number of failures.
sub steady_leader_failures
{
	my ($leader, $term, $healthy, $seconds) = @_;
	my $failures = 0;
	my $end = time() + $seconds;
	my $window_end = time() + 0.5;
	my $before = msgs_sent($leader);

	while (time() < $end)
	{
		my ($role, $t, $lease) = row($leader,
			'SELECT role, term, has_lease FROM raft_ext.raft_status');
		if ($role ne 'leader' || $t != $term || $lease ne 't')
		{
			diag("leader sample: role=$role term=$t has_lease=$lease");
			$failures++;
		}
		for my $f (@$healthy)
		{
			my ($fresh) = row($f,
				q{SELECT coalesce(last_contact < interval '500ms', false)
				  FROM raft_ext.raft_status});
			if ($fresh ne 't')
			{
				diag($f->name . ' has not heard from the leader lately');
				$failures++;
			}
		}
		if (time() >= $window_end)
		{
			my $now = msgs_sent($leader);
			for my $f (@$healthy)
			{
				my $id = raft_id($f);
				next if $now->{$id} > $before->{$id};
				diag("no message sent to node $id in half a second");
				$failures++;
			}
			$before = $now;
			$window_end = time() + 0.5;
		}
		usleep(50_000);
	}
	return $failures;
}

# The whole contents of a file, as bytes.
sub slurp_bytes
{
	my ($path) = @_;
	open my $fh, '<:raw', $path or die "open $path: $!";
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data;
}

# The members $node sees: "id,id,..." in id order.
sub members
{
	my ($node) = @_;
	return scalar $node->safe_psql('postgres',
		q{SELECT string_agg(peer_id::text, ',' ORDER BY peer_id)
		  FROM raft_ext.raft_peers});
}

# Poll until every node of @$set reports the membership $want; with
# running => 1, only while the node runs Raft (raft_status has no error);
# with voters => 1, counting only voters (a member add_node added is staged,
# non-voting, until it caught up).  Returns whether all did in time.
sub wait_members
{
	my ($set, $want, %opts) = @_;
	my $sql = q{SELECT string_agg(peer_id::text, ',' ORDER BY peer_id)
		  FROM raft_ext.raft_peers WHERE true};
	$sql .= ' AND (SELECT error IS NULL FROM raft_status)' if $opts{running};
	$sql .= ' AND voter' if $opts{voters};
	for my $node (@$set)
	{
		$node->poll_query_until('postgres', $sql, $want) or return 0;
	}
	return 1;
}

# Ask $leader to hand leadership to $target and wait for a leader among
# @$nodes in a higher term than $term; returns ($new_leader, $new_term).
sub transfer_to
{
	my ($leader, $target, $nodes, $term) = @_;
	$leader->safe_psql('postgres',
		'SELECT raft_ext.transfer_leadership(' . raft_id($target) . ')');
	return wait_for_leader($nodes, min_term => $term + 1);
}

=back

=cut

1;
