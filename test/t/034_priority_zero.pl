# Copyright: the raft_ext authors.

# raft_ext.failover_priority = 0: a standby that votes but never becomes
# the leader, so it is never promoted.
#
# node1 primary, node2 a standby, node3 a standby with priority 0.
#  1. kill -9 of the primary: node2, not node3, becomes leader and primary;
#  2. asked to hand leadership to node3, node2 stays the leader (or gets it
#     back at once): node3 is never promoted;
#  3. the checker's samples never show node3 as a leader for longer than a
#     hand-over takes, and node3 stays in recovery throughout.

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
my @nodes = RaftFailover::create_cluster(3,
	conf => { 3 => "raft_ext.failover_priority = 0\n" });
my ($node1, $node2, $node3) = @nodes;
my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);

is($node3->safe_psql('postgres', 'SHOW raft_ext.failover_priority'),
	'0', 'node3 has failover_priority 0');
my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'the primary leads');

# Both standbys equally far along, so that node3 (which must vote for
# node2) does not refuse it for trailing.
$node1->safe_psql('postgres', 'INSERT INTO fo_rows (i) VALUES (1)');
$node1->wait_for_catchup($_) for ($node2, $node3);

# 1. kill -9 of the primary.
my $killed_at = time();
$faults->kill9($node1);
my ($new, $new_term) =
  RaftFailover::wait_primary([ $node2, $node3 ], min_term => $term + 1);
ok(defined $new, 'a new primary leads');
is($new->name, 'node2', 'node2, not node3, becomes leader and primary');
RaftFailover::diag_timing('034 kill -> node2 primary', time() - $killed_at);
ok(RaftFailover::wait_follows($node3, $node2), 'node3 follows node2');

# 2. A transfer to node3 does not make it primary.
RaftFailover::sql($node2, 'SELECT raft_ext.transfer_leadership(3)');
my $deadline = time() + 3;
my $node3_primary = 0;
while (time() < $deadline)
{
	$node3_primary ||= RaftFailover::is_primary($node3);
	usleep(100_000);
}
ok(!$node3_primary, 'node3 was never promoted');
($leader) = RaftFailover::wait_primary([ $node2, $node3 ]);
is($leader->name, 'node2', 'node2 leads again after the transfer request');

# 3. What the checker saw of node3.
$checker->stop_and_check;
my @lead = grep { $_->{role} eq 'leader' } $checker->samples(3);
note('samples of node3 as leader: ' . scalar(@lead));
my @held = grep { $_->{has_lease} } @lead;
is(scalar(@held), 0, 'node3 never held the lease');
is($node3->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'node3 is still a standby');

note(sprintf('runtime %.1f s', time() - $started));
$_->stop for @nodes;
done_testing();
