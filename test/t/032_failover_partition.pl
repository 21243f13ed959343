# Copyright: the raft_ext authors.

# Automatic failover when a network partition isolates the primary from the
# other Raft members (raft_ext.fault_drop: Raft messages only; streaming
# replication still flows from node1 to the standbys).
#
# node1, the primary, loses leadership and its lease, so the fence refuses
# its commits; one standby becomes leader and, although its WAL receiver
# still streams from node1, promotes itself: node1 does not answer Raft, so
# it is not a healthy primary.  Writes resume on the new primary, the other
# standby follows it, no acknowledged row is lost, the checker sees no lease
# overlap.  After the partition heals node1 learns the leader, stays fenced,
# and rejoins as a standby with scripts/rejoin-standby.sh.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $started = time();
my $s = RaftFailover::start_scenario();
my @nodes = @{ $s->{nodes} };
my ($node1, $node2, $node3) = @nodes;
my ($checker, $faults, $term, $writer) = @$s{qw(checker faults term writer)};

my $cut_at = time();
$faults->isolate($node1);
my ($new, $other, $new_term) = RaftFailover::expect_failover('032 partition',
	$cut_at, [ $node2, $node3 ], $term + 1, $writer);
RaftFailover::check_and_heal($faults, $writer, $node1, $new,
	'the isolated old primary');
RaftFailover::rejoin_and_catch_up($node1, $new, $writer, 'the new primary');

RaftFailover::finish_scenario($checker, $started, \@nodes);
done_testing();
