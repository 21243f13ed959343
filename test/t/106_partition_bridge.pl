
# Copyright: the raft_ext authors.

# A bridge: two nodes cannot reach each other, a third reaches both.
#  1. The leader and one follower lose their link; the other follower is
#     the bridge.  The leader keeps its majority through the bridge; the
#     far follower does not hear the leader, but the bridge refuses its
#     (pre)votes while it hears the leader, so nobody's term moves.
#  2. The two followers lose their link; the leader is the bridge: nothing
#     changes.
#  3. As 1, with the other follower as the bridge.
# After each, healing finds the same leader in the same term.

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
my @nodes = RaftFaults::create_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my ($bridge, $far) = grep { $_ != $leader } @nodes;

# Cut the link between $x and $y both ways, hold, check, heal.
sub bridge_round
{
	my ($what, $x, $y) = @_;
	$faults->cut([ [ $x, $y ], [ $y, $x ] ], "$what: cut " . $x->name . ' <-> ' . $y->name);
	RaftFaults::hold(3 * $et, "$what for 3 x ET");
	my $st = RaftFaults::status($leader);
	is($st->{role}, 'leader', "$what: the leader keeps leading");
	for my $node (@nodes)
	{
		is(RaftFaults::status($node)->{term}, $term,
			"$what: " . $node->name . " stays in term $term");
	}
	$faults->heal;
	my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes);
	is($after->name, $leader->name, "$what: after healing the same node leads");
	is($after_term, $term, "$what: after healing the term is still $term");
	return;
}

bridge_round('follower is the bridge', $leader, $far);
bridge_round('leader is the bridge', $bridge, $far);
bridge_round('the other follower is the bridge', $leader, $bridge);

RaftScenario::finish($checker, $faults, \@nodes, 2);
