# Copyright: the raft_ext authors.

# A real partition cuts the primary off from every standby while the
# clients still reach it; asynchronous replication.
#
# As 201, without synchronous_standby_names: the cut-off primary keeps
# acknowledging commits until its lease runs out, and those commits never
# reach the standbys, so the new primary lacks them.  The test counts and
# reports these lost writes (it does not fail on them: that is what
# asynchronous replication means), and checks everything else: a new
# primary, the fence on the old one during the cut and after the heal, no
# split-brain write (no commit of the old primary acknowledged after the
# new primary's first), the checker's invariants.  Two rounds, each ending
# with rejoin-standby.sh.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 0);
my $run = RaftNetnsSteps->begin($c);

my $counts = RaftNetnsScenarios::isolated_primary_rounds($run, 2);
diag("asynchronous replication: $counts->{lost} acknowledged writes lost");
done_testing();
