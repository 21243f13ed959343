
# Copyright: the raft_ext authors.

# One follower at a time is cut off from the others for three election
# timeouts (each follower twice).  PreVote keeps it from raising its term
# while it cannot win, so when the partition heals it rejoins without
# deposing the leader: the same node leads, in the same term, before, during
# and after.

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
my $leader_id = RaftTest::raft_id($leader);
for my $follower ((grep { $_ != $leader } @nodes) x 2)
{
	my $name = $follower->name;
	$faults->isolate($follower);
	RaftFaults::hold(3 * $et, "$name isolated for 3 x ET");

	my $fst = RaftFaults::status($follower);
	is($fst->{term}, $term, "$name stays in term $term while isolated (PreVote)");
	my $lst = RaftFaults::status($leader);
	is($lst->{role}, 'leader', "the leader keeps leading while $name is isolated");

	$faults->heal;
	my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes);
	is(RaftTest::raft_id($after), $leader_id, "after $name rejoins the same node leads");
	is($after_term, $term, "after $name rejoins the term is still $term");
}

RaftScenario::finish($checker, $faults, \@nodes, 2);
