# Copyright: the raft_ext authors.

# Former primaries that nobody rejoins, without synchronous replication:
# can a majority of them elect one again?
#
#  1. node1, the primary, is cut off: a standby X takes over (timeline 2);
#     node1 is left a fenced former primary;
#  2. X is cut off: Y, the last standby, takes over (timeline 3) and, with
#     no synchronous standby required, acknowledges writes alone;
#  3. Y is cut off: node1 (timeline 1) and X (timeline 2), both former
#     primaries, are a majority.  X is ahead of node1, so node1 grants its
#     vote; X leads, holds the lease, and is a primary already: writes are
#     acknowledged on timeline 2 again, after writes on timeline 3 were.
# That is what happens today: everything Y acknowledged on timeline 3 is
# lost, however long Y led, not only its last lease's worth as in an
# ordinary asynchronous failover.  Two TODO tests record it (a former
# primary is not re-elected; no write is acknowledged on an older timeline
# after one on a newer); automatic rejoin of former primaries, a later
# issue, would remove the majority of stale nodes.  The checker's
# invariants and the split-brain check (by term) hold whatever happens.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 0);
my $run = RaftNetnsSteps->begin($c);
my ($node1) = $c->nodes;

my ($x) = $run->isolate_primary(hold => 1, label => 'step 1, node1 cut off');
$run->heal_and_settle;
my ($y) = grep { $_ != $node1 && $_ != $x } $c->nodes;
my ($y2) = $run->isolate_primary(hold => 1, label => 'step 2, ' . $x->name . ' cut off');
is($y2 && $y2->name, $y->name, 'step 2: ' . $y->name . ', the last standby, takes over');
$run->heal_and_settle;

my ($p, $term) = $c->wait_primary;
my $at = $c->isolate($y);
my ($again) = $c->wait_primary(among => [ $node1, $x ], min_term => $term + 1);
diag('step 3, ' . $y->name . ' cut off: '
	  . ($again ? $again->name . ' leads as primary again' : 'no primary'));
RaftFaults::hold(2, 'step 3');
my ($leader, $former) = $run->heal_and_settle;
$run->rejoin_former($leader, $former) if $leader;
my $counts = $run->conclude;
diag("former primary re-elected: " . ($again ? $again->name : 'none')
	  . "; lost writes $counts->{lost}, timeline regressions $counts->{timeline_regressions}");
TODO:
{
	local $TODO = 'a majority of former primaries re-elects one of them, '
	  . 'which writes on its old timeline';
	ok(!$again, 'no former primary leads as primary again');
	is($counts->{timeline_regressions}, 0,
		'no write acknowledged on an older timeline after one on a newer');
}
done_testing();
