
# Copyright: the raft_ext authors.

# Start-up: a three-node cluster elects exactly one leader that every node
# agrees on, whether the nodes start
#  1. all at once,
#  2. one after another (each waits until the previous one runs Raft),
#  3. with one node down from the start (the other two elect; the third
#     joins later as a follower of that leader).
# The invariant checker samples every node for the whole test.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(time usleep);

my @nodes = RaftFaults::create_cluster(3, start => 0);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

# Poll until $node's worker runs Raft (any role but "stopped").
sub wait_running
{
	my ($node) = @_;
	$node->poll_query_until('postgres',
		q{SELECT role <> 'stopped' FROM raft_ext.raft_status})
	  or die $node->name . ': raft worker not running';
	return;
}

# Exactly one leader, agreed on by @$nodes; returns (leader, term).
sub one_leader
{
	my ($group, $what) = @_;
	my ($leader, $term) = RaftTest::wait_for_leader($group);
	my $by_term = RaftTest::count_leaders($group);
	is_deeply($by_term, { $term => 1 }, "$what: exactly one leader, in term $term");
	note("$what: " . $leader->name . " leads in term $term");
	return ($leader, $term);
}

# 1. All at once.
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION raft_ext') for @nodes;
my ($leader, $term) = one_leader(\@nodes, 'all at once');

# 2. Staggered: stop everything, start one node at a time.
$faults->stop($_) for @nodes;
for my $node (@nodes)
{
	$node->start;
	wait_running($node);
}
my ($leader2, $term2) = one_leader(\@nodes, 'staggered');
cmp_ok($term2, '>', $term, 'the staggered start elects in a newer term');

# 3. One node down from the start: the other two elect.
$faults->stop($_) for @nodes;
my $down = $nodes[2];
my @up = @nodes[ 0, 1 ];
$_->start for @up;
my ($leader3, $term3) = one_leader(\@up, 'one node down');
cmp_ok($term3, '>', $term2, 'the two live nodes elect in a newer term');

# The third node joins as a follower of a leader the others agree on.
$down->start;
my ($leader4, $term4) = RaftTest::wait_for_leader(\@nodes, min_term => $term3);
my $st = RaftTest::status($down);
is($st->{role}, 'follower', 'the late node is a follower');
is($st->{leader_id}, RaftTest::raft_id($leader4), 'the late node follows the leader');

RaftScenario::finish($checker, $faults, \@nodes, 6);
