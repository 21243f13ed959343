
# Copyright: the raft_ext authors.

# The whole cluster goes down and comes back, three times: a clean (fast)
# shutdown of every node, an immediate one (no shutdown checkpoint), and a
# kill -9 of every postmaster (as after a power cut).  Each time the nodes
# elect a leader again, from the terms and votes they persisted: no node's
# term goes backwards (the checker follows every node across the restarts;
# this test also compares each node's term before and after).

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

my @nodes = RaftFaults::create_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
for my $mode ('fast', 'immediate', 'kill -9')
{
	my %before = map { $_->name => RaftFaults::status($_)->{term} } @nodes;
	if ($mode eq 'kill -9')
	{
		$faults->kill9($_) for @nodes;
		$faults->restart($_) for @nodes;
	}
	else
	{
		$faults->stop($_, $mode) for @nodes;
		$_->start for @nodes;
	}
	my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes, min_term => $term);
	ok(defined $after, "$mode restart of the whole cluster: " . $after->name
		  . " leads in term $after_term");
	cmp_ok($after_term, '>', $term, "$mode restart: a new term ($after_term > $term)");
	for my $node (@nodes)
	{
		cmp_ok(RaftFaults::status($node)->{term}, '>=', $before{ $node->name },
			"$mode restart: " . $node->name . "'s term did not go back");
	}
	($leader, $term) = ($after, $after_term);
}

RaftScenario::finish($checker, $faults, \@nodes, 6);
