# Copyright: the raft_ext authors.

# Five nodes split 2 | 3 with the primary in the minority; synchronous
# replication ANY 2 (five voters, majority three: k = 5 - 3).
#
# The majority elects one of its own, which promotes; the minority's
# primary loses the lease and is fenced, and cannot commit anyway (one
# synchronous standby in reach, two needed); the minority's terms do not
# move (PreVote).  After the heal: one primary, every standby streaming
# from it, the old primary fenced; no acknowledged write lost, no
# split-brain write.  The minority standby may have received WAL from the
# old primary that the majority never got (a commit in flight: written and
# streamed, waiting for its second synchronous acknowledgement); it then
# cannot follow the new primary (a TODO test records it) and is rejoined
# with rejoin-standby.sh, like the old primary.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 5, sync => 1);
my $run = RaftNetnsSteps->begin($c);
my ($primary, $term, $buddy) = RaftNetnsScenarios::minority_primary_split($run);
is($run->status($buddy)->{term}, $term, 'the minority standby did not raise its term');

my ($leader, $former, $diverged) = $run->heal_and_settle;
is_deeply([ map { $_->name } @$former ], [ $primary->name ],
	'the old primary is the one former primary');
ok(!grep({ $_ != $buddy } @$diverged),
	'only the minority standby may have diverged');
$run->rejoin_former($leader, $former, $diverged);
$run->conclude;
done_testing();
