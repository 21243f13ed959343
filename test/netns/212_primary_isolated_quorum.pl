# Copyright: the raft_ext authors.

# A real partition cuts the primary off from every standby while the
# clients still reach it; raft_ext.synchronous = quorum.
#
# As 202, but the worker keeps synchronous_standby_names = 'ANY 1 (the
# other two)' on every member: the cut-off primary acknowledges nothing
# its standbys did not confirm, so where 202 counts lost writes this test
# requires none, and checks the rest as 202 does: a new primary, the fence
# on the old one, no split-brain write, the checker's invariants.  Two
# rounds, each ending with rejoin-standby.sh.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 'quorum');
my $run = RaftNetnsSteps->begin($c);

my $counts = RaftNetnsScenarios::isolated_primary_rounds($run, 2);
diag("quorum mode: $counts->{lost} acknowledged writes lost");
done_testing();
