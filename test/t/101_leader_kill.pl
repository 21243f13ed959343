
# Copyright: the raft_ext authors.

# kill -9 of the leader's postmaster, four times in a row, with pgbench
# load on the leader: the survivors elect a new leader in a higher term; the
# killed node restarts from its persisted term and vote and rejoins as a
# follower.  A vote is never given twice in a term: the checker compares
# every node's votes across the restart, and the term the node reloads
# (its log says "started in term T") is never below the last term it showed
# before it was killed.

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

my ($checker, $faults, $leader, $term, @nodes) = RaftScenario::start(3);
my @kills;
for my $round (1 .. 4)
{
	my ($before, $log_offset, $killed_at);
	my $r = RaftScenario::fault_leader($faults, $leader, $term, \@nodes,
		load => 1, what => 'pgbench load before the kill',
		fault => sub {
			$before = RaftFaults::status($leader);
			$log_offset = -s $leader->logfile;
			$killed_at = time();
			$faults->kill9($leader);
		},
		name => sub { "round $round: a survivor leads in a higher term" });
	my $new_term = $r->{term};
	$faults->stop_load($r->{load});

	my $restarted_at = time();
	$faults->restart($leader);
	push @kills, [ $leader, $killed_at, $restarted_at ];
	# The state it reloaded: never older than what it showed before.
	$leader->wait_for_log(qr/node \d+ started in term (\d+)/, $log_offset);
	my ($loaded) = slurp_file($leader->logfile, $log_offset)
	  =~ /node \d+ started in term (\d+)/;
	cmp_ok($loaded, '>=', $before->{term},
		"round $round: the killed node reloads term $loaded >= $before->{term}");

	my ($final, $final_term) =
	  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
	my $st = RaftTest::status($leader);
	is($st->{role}, 'follower', "round $round: the killed node rejoins as a follower");
	is($st->{leader_id}, RaftTest::raft_id($final),
		"round $round: it follows the current leader");
	($leader, $term) = ($final, $final_term);
}

$checker->stop_and_check('101_leader_kill');

# Every kill: what the node showed first after its restart against what it
# showed last before the kill (the checker's samples).  Same term: same
# vote; else a higher term.
for my $k (@kills)
{
	my ($node, $killed_at, $restarted_at) = @$k;
	my @s = $checker->samples(RaftTest::raft_id($node));
	my @running = grep { $_->{role} ne 'stopped' } @s;
	my ($last) = reverse grep { $_->{clock} < $killed_at * 1000 } @running;
	my ($first) = grep { $_->{clock} > $restarted_at * 1000 } @running;
	next
	  unless ok($last && $first,
		$node->name . ': sampled before the kill and after the restart');
	my $desc = sprintf('%s: term %d vote %s before the kill, term %d vote %s after',
		$node->name, $last->{term}, $last->{voted_for} // 'none',
		$first->{term}, $first->{voted_for} // 'none');
	if ($first->{term} == $last->{term} && defined $last->{voted_for})
	{
		is($first->{voted_for} // 'none', $last->{voted_for}, "$desc: the vote survived");
	}
	else
	{
		cmp_ok($first->{term}, '>=', $last->{term}, "$desc: the term survived");
	}
}

# Every node: one vote per term over the whole run (also part of the
# checker's analysis; spelled out here for the record).
for my $node (@nodes)
{
	my %vote;
	my $changed = 0;
	for my $s ($checker->samples(RaftTest::raft_id($node)))
	{
		next if $s->{role} eq 'stopped' || !defined $s->{voted_for};
		$vote{ $s->{term} } //= $s->{voted_for};
		$changed++ if $vote{ $s->{term} } != $s->{voted_for};
	}
	is($changed, 0, $node->name . ': one vote per term across its restarts ('
		  . scalar(keys %vote) . ' terms with a vote)');
}
RaftScenario::finish($checker, $faults, \@nodes, 3);
