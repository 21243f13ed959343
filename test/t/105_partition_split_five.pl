
# Copyright: the raft_ext authors.

# Five nodes split into a group of two and a group of three.
#  1. The leader is in the group of two: the three elect a new leader, the
#     old one steps down; after healing one leader, the term grown by at
#     most one more.
#  2. The leader is in the group of three: it keeps leading, in the same
#     term, during the split and after it heals; the two cannot elect.
#  3. Groups of two, two and one: nobody has a majority, the leader steps
#     down, no term moves; after healing a leader is elected again.

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

my $et = RaftFaults::election_timeout();
my @nodes = RaftFaults::create_cluster(5);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);

# 1. Leader in the minority.
my @others = grep { $_ != $leader } @nodes;
my @minority = ($leader, $others[0]);
my @majority = @others[ 1 .. 3 ];
$faults->partition(\@minority, \@majority);
my ($new_leader, $new_term) =
  RaftTest::wait_for_leader(\@majority, min_term => $term + 1);
cmp_ok($new_term, '>', $term, 'the three elect ' . $new_leader->name . " in term $new_term");
ok( RaftFaults::poll_until(
		sub { my $s = RaftFaults::status($leader); $s && $s->{role} ne 'leader' },
		'the minority leader to step down'),
	'the leader cut off with one follower steps down');
for my $node (@minority)
{
	cmp_ok(RaftFaults::status($node)->{term}, '<=', $term + 0,
		$node->name . ' (minority) does not raise its term');
}
$faults->heal;
my ($healed, $healed_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
cmp_ok($healed_term - $new_term, '<=', 1, "after healing: term $healed_term (was $new_term)");

# 2. Leader in the majority.
($leader, $term) = ($healed, $healed_term);
@others = grep { $_ != $leader } @nodes;
my @three = ($leader, @others[ 0, 1 ]);
my @two = @others[ 2, 3 ];
$faults->partition(\@three, \@two);
RaftFaults::hold(3 * $et, 'split 3 + 2 with the leader among the three');
my $st = RaftFaults::status($leader);
is($st->{role}, 'leader', 'the leader of the three keeps leading');
is($st->{term}, $term, "in the same term $term");
cmp_ok(RaftFaults::status($_)->{term}, '==', $term,
	$_->name . ' (minority of two) stays in term ' . $term) for @two;
$faults->heal;
my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes);
is(RaftTest::raft_id($after), RaftTest::raft_id($leader), 'after healing the same node leads');
is($after_term, $term, "after healing the term is still $term");

# 3. No majority anywhere: groups of 2, 2 and 1.  The leader steps down
#    and nobody can be elected; PreVote keeps every term where it was.
($leader, $term) = ($after, $after_term);
@others = grep { $_ != $leader } @nodes;
$faults->partition([ $leader, $others[0] ], [ @others[ 1, 2 ] ], [ $others[3] ]);
ok( RaftFaults::poll_until(
		sub { my $s = RaftFaults::status($leader); $s && $s->{role} ne 'leader' },
		'the leader without a majority to step down'),
	'split 2 + 2 + 1: the leader steps down');
RaftFaults::hold(3 * $et, 'no majority anywhere for 3 x ET');
my %leaders = %{ RaftTest::count_leaders(\@nodes) };
is(scalar keys %leaders, 0, 'split 2 + 2 + 1: nobody leads');
cmp_ok(RaftFaults::status($_)->{term}, '==', $term,
	$_->name . " stays in term $term without a majority") for @nodes;
$faults->heal;
my ($last, $last_term) = RaftTest::wait_for_leader(\@nodes, min_term => $term);
cmp_ok($last_term - $term, '<=', 2, "after healing: term $last_term (was $term)");

RaftScenario::finish($checker, $faults, \@nodes, 2);
