
# Copyright: the raft_ext authors.

# The leader is cut off from both followers (raft_ext.fault_drop, both
# directions), four times, with pgbench load on it.  The majority elects a
# new leader in a higher term; the isolated leader steps down on its own
# (CheckQuorum) within a few election timeouts, and, thanks to PreVote,
# does not raise its term while it is alone.  After the partition heals
# there is one leader and the term grows by at most one.

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
my ($checker, $faults, $leader, $term, @nodes) = RaftScenario::start(3);
for my $round (1 .. 4)
{
	my $r = RaftScenario::fault_leader($faults, $leader, $term, \@nodes,
		load => 0.5, what => 'pgbench load before the partition',
		fault => sub { $faults->isolate($leader) },
		name => sub { "round $round: the majority elects " . $_[0]->name . " in term $_[1]" });
	my $new_term = $r->{term};

	my $st = RaftScenario::steps_down($leader, 0,
		'the isolated leader to step down', 10 * $et);
	my $took = time() - $r->{at};
	ok($st, "round $round: the isolated leader steps down");
	note(sprintf('round %d: stepped down %.2f s after the cut (ET %.2f s)',
			$round, $took, $et));
	cmp_ok($took, '<', 10 * $et, "round $round: it steps down within 10 x ET");
	$faults->stop_load($r->{load});

	# Alone, it cannot pass PreVote: its term stays where it was.
	RaftFaults::hold($et, 'isolated node alone for one more ET');
	$st = RaftFaults::status($leader);
	is($st->{term}, $term, "round $round: the isolated node stays in term $term");

	$faults->heal;
	my ($final, $final_term) =
	  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
	cmp_ok($final_term - $new_term, '<=', 1,
		"round $round: after healing the term is $final_term (was $new_term)");
	($leader, $term) = ($final, $final_term);
}

RaftScenario::finish($checker, $faults, \@nodes, 2);
