# Copyright: the raft_ext authors.

# Membership changes while the cluster keeps a leader:
#  1. a fourth instance, configured with raft_ext.peers naming all four, is
#     added with raft_ext.add_node on the leader; it catches up, follows and
#     is promoted from staged learner to voter by the leader;
#  2. one of the original followers is removed with raft_ext.remove_node and
#     stopped for good;
#  3. all the remaining nodes restart: the membership they rebuild from their
#     logs is the new one (raft_peers shows it), although the raft_ext.peers
#     of the three original nodes still names the old one.
# The invariant checker samples every node for the whole test and must stay
# clean.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftTest::create_cluster(3);

# The fourth instance: same settings, its own id, peers naming all four.
my $node4 = RaftTest::extra_node(4, \@nodes);

my ($checker, $faults) = RaftScenario::watch([ @nodes, $node4 ]);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader: ' . $leader->name . " in term $term");

# 1. Add node 4.  Until it is added, its elections must not disturb anyone.
$node4->start;
$node4->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
$leader->safe_psql('postgres',
	q{SELECT raft_ext.add_node(4, '} . RaftTest::conninfo($node4) . q{')});
pass('add_node(4) accepted by the leader');

ok(RaftTest::wait_members([ @nodes, $node4 ], '1,2,3,4'),
	'every node, node 4 included, sees members 1,2,3,4');
my @four = (@nodes, $node4);
my ($leader2, $term2) = RaftTest::wait_for_leader(\@four);
is(RaftTest::status($node4)->{role}, 'follower', 'node 4 follows');
my $leader_commit = $leader2->safe_psql('postgres',
	'SELECT commit_index FROM raft_ext.raft_status');
ok( $node4->poll_query_until(
		'postgres',
		"SELECT last_log_index >= $leader_commit AND commit_index >= $leader_commit
		 FROM raft_ext.raft_status"),
	'node 4 caught up with the leader\'s log');
# add_node stages the member: a learner, promoted once it has caught up.
ok( $leader2->poll_query_until(
		'postgres',
		'SELECT voter AND NOT staged FROM raft_ext.raft_peers WHERE peer_id = 4'),
	'node 4 was promoted to voter');

# 2. Remove a follower other than node 4, then stop it for good.
($leader, $term) = RaftTest::wait_for_leader(\@four);
my ($gone) = grep { $_ != $leader && $_ != $node4 } @nodes;
my $gone_id = RaftTest::raft_id($gone);
$leader->safe_psql('postgres', "SELECT raft_ext.remove_node($gone_id)");
pass("remove_node($gone_id) accepted by the leader");
my @remaining = grep { $_ != $gone } @four;
my $want = join ',', sort { $a <=> $b } map { RaftTest::raft_id($_) } @remaining;
ok(RaftTest::wait_members(\@remaining, $want), "the remaining nodes see members $want");
my ($leader3, $term3) = RaftTest::wait_for_leader(\@remaining);
note('leader after removal: ' . $leader3->name . " in term $term3");
$checker->forget($gone);
$gone->stop;                    # it left the cluster: not a fault

# 3. Stop every remaining node, then start them all again: the membership
# comes from the log alone.
$faults->stop($_) for @remaining;
$faults->start($_) for @remaining;
my ($leader4, $term4) =
  RaftTest::wait_for_leader(\@remaining, min_term => $term3);
ok(defined $leader4, 'the three remaining nodes elect a leader after restart');
is(RaftTest::members($_), $want, $_->name . " sees members $want after restart")
  for @remaining;

RaftScenario::finish($checker, $faults, \@remaining, 3);
