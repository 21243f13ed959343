# Copyright: the raft_ext authors.

# A bridge: the primary and one standby cannot reach each other (both
# directions cut), a third node reaches both.
#
# The primary still hears a majority (itself and the bridge), so it keeps
# leading; the cut-off standby's PreVote is refused by the bridge, which
# hears the leader (stickiness), so nobody's term moves.  Writes continue
# (ANY 1: the bridge acknowledges).  After the heal the cut-off standby
# streams from the primary again.  Twice, with either standby as the bridge.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);
my ($primary, $term) = $c->wait_primary;

for my $cut (grep { $_ != $primary } $c->nodes)
{
	my ($bridge) = grep { $_ != $primary && $_ != $cut } $c->nodes;
	my $label = 'bridge ' . $bridge->name . ', ' . $primary->name . ' x ' . $cut->name;
	my $at = $c->partition([$primary], [$cut]);
	RaftNetnsScenarios::primary_keeps_leading($run, $primary, $term, $at, $label);
	is($run->status($_)->{term}, $term, "$label: " . $_->name . "'s term did not move")
	  for ($cut, $bridge);
	RaftNetnsScenarios::heal_keeps_primary($run, $primary, $label);
}

$run->conclude;
done_testing();
