# Copyright: the raft_ext authors.

# A real partition cuts one standby off from every other node: nothing may
# change.
#
# Each standby in turn is cut off (both ways) for three election timeouts
# under synchronous replication (ANY 1: the other standby keeps
# acknowledging).  The primary keeps its leadership and its term and keeps
# acknowledging writes during the cut; the cut-off standby does not raise
# its term (PreVote); after the heal it streams from the primary again and
# nobody's term has moved.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);
my ($primary, $term) = $c->wait_primary;

for my $standby (grep { $_ != $primary } $c->nodes)
{
	my $label = $standby->name . ' cut off';
	my $at = $c->isolate($standby);
	RaftNetnsScenarios::primary_keeps_leading($run, $primary, $term, $at, $label);
	is($run->status($standby)->{term}, $term, "$label: its term did not move");
	RaftNetnsScenarios::heal_keeps_primary($run, $primary, $label);
	is($run->status($_)->{term}, $term, "$label: " . $_->name . " still in term $term")
	  for $c->nodes;
}

$run->conclude;
done_testing();
