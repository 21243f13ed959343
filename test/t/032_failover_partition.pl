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
my @nodes = RaftFailover::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;

my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);

my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'the primary leads');
my $writer = RaftFailover::start_writer(\@nodes);
ok(defined RaftFailover::wait_acks_on($writer, $node1, 20),
	'writes are acknowledged by the primary');

my $cut_at = time();
$faults->isolate($node1);
my ($new, $other, $new_term) = RaftFailover::expect_failover('032 partition',
	$cut_at, [ $node2, $node3 ], $term + 1, $writer);
RaftFailover::stop_writer($writer);
RaftFailover::check_rows($new, $writer);

RaftFailover::expect_write_refused($node1, 'the isolated old primary');

$faults->heal;
ok( $node1->poll_query_until(
		'postgres',
		'SELECT leader_id = ' . RaftTest::raft_id($new) . ' FROM raft_ext.raft_status'),
	'after the heal the old primary learns who leads');
ok(RaftFailover::rejoin($node1, $new), 'rejoin-standby.sh succeeds');
ok(RaftFailover::wait_follows($node1, $new), 'node1 follows the new primary');
my ($max) = map { $_->[0] } (RaftFailover::acknowledged($writer))[-1];
ok( $node1->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM fo_rows WHERE i = $max"),
	'node1 sees the last acknowledged row');

$checker->stop_and_check;
note(sprintf('runtime %.1f s', time() - $started));
$_->stop for @nodes;
done_testing();
