
# Copyright: the raft_ext authors.

# SIGSTOP of the leader (its postmaster and every child, the raft worker
# among them) for three election timeouts, four times, with pgbench load on
# the leader.  The others elect a new leader while it is frozen; on SIGCONT the
# old leader steps down at its first contact with the new term, and it is
# never seen holding the lease after its lease horizon: from the checker's
# samples, every sample of the old leader taken after SIGCONT in its old
# term shows has_lease = false.

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
my @pauses;
for my $round (1 .. 4)
{
	my $r = RaftScenario::fault_leader($faults, $leader, $term, \@nodes,
		load => 1, what => 'pgbench load before the pause',
		fault => sub { $faults->pause($leader) },
		name => sub { "round $round: the others elect " . $_[0]->name . " in term $_[1]" });
	my ($load, $paused_at, $new_term) = @$r{qw(load at term)};
	my $left = 3 * $et - (time() - $paused_at);
	RaftFaults::hold($left, 'leader frozen for 3 x ET') if $left > 0;

	my $resumed_at = time();
	$faults->resume($leader);
	my $st = RaftScenario::steps_down($leader, $new_term, 'the old leader to step down');
	ok($st, "round $round: the old leader steps down after SIGCONT");
	note(sprintf('round %d: stepped down %.2f s after SIGCONT', $round,
			time() - $resumed_at));
	$faults->stop_load($load);

	push @pauses, [ RaftTest::raft_id($leader), $term, $resumed_at, $paused_at ];
	($leader, $term) = RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
}

$checker->stop_and_check('102_leader_pause');

# The old leader after SIGCONT, in its old term: never with the lease.
for my $p (@pauses)
{
	my ($id, $old_term, $resumed_at, $paused_at) = @$p;

	# A frozen node does not stall the sampling of the others: each of them
	# answered in at least half of the 20 ms rounds of the pause.
	my $rounds = ($resumed_at - $paused_at) / 0.020;
	for my $other (grep { RaftTest::raft_id($_) != $id } @nodes)
	{
		my $n = grep {
			$_->{clock} >= $paused_at * 1000 && $_->{clock} < $resumed_at * 1000
		} $checker->samples(RaftTest::raft_id($other));
		cmp_ok($n, '>=', $rounds / 2,
			sprintf('while node %d was frozen, %s was sampled %d times in %.0f rounds',
				$id, $other->name, $n, $rounds));
	}

	my @after = grep { $_->{clock} >= $resumed_at * 1000 && $_->{term} == $old_term }
	  $checker->samples($id);
	my @leased = grep { $_->{has_lease} } @after;
	is(scalar @leased, 0,
		"node $id holds no lease in term $old_term after SIGCONT ("
		  . scalar(@after) . ' samples in that term)');
}
RaftScenario::finish($checker, $faults, \@nodes, 2);
