# Copyright: the raft_ext authors.

# A real partition cuts the primary off from every standby, while the
# clients still reach it; synchronous replication (ANY 1).
#
# Three rounds (the last cut lasts 8 s, long enough for every TCP
# connection across it to time out): the primary is cut off (router
# blackhole rules, both ways), a standby is elected and promotes, writes
# resume on it, the old primary is fenced (no lease, writes refused with
# 25006) for as long as the cut lasts and after the heal; then
# scripts/rejoin-standby.sh makes it a standby again, so that the next
# round starts from full redundancy.
# Afterwards: no invariant breach, no split-brain write, every
# acknowledged write is on the final primary.  Prints the time from the
# partition to the first write acknowledged by the new primary.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);

# The last cut outlasts wal_sender_timeout, wal_receiver_timeout (5 s) and
# the TCP keepalives: every connection across it has timed out and must be
# made again after the heal.
my %hold = (1 => 2, 2 => 2, 3 => 8);
for my $round (1 .. 3)
{
	my ($new, $old) =
	  $run->isolate_primary(hold => $hold{$round}, label => "round $round");
	my ($leader, $former, $diverged) = $run->heal_and_settle;
	is_deeply([ map { $_->name } @$former ], [ $old->name ],
		"round $round: the old primary " . $old->name . ' is the one former primary');
	is($leader && $leader->name, $new && $new->name,
		"round $round: the new primary still leads after the heal");
	$run->rejoin_former($leader, $former, $diverged);
}

$run->conclude;
done_testing();
