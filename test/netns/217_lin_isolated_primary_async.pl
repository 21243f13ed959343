# Copyright: the raft_ext authors.

# Linearizability through an isolated primary, asynchronous replication:
# every anomaly must be a lost write, never a stale read.
#
# The register clients of RaftLin run while the primary is cut off from
# both standbys as in 202, held 2 s, healed; the old primary stays fenced
# to the end.  The cut-off primary acknowledges commits until
# its lease runs out and the new primary never gets them, so the history
# as recorded need not be linearizable; it is checked and reported.  What
# must be linearizable is the history without its lost branches
# (RaftLin::without_lost_branch): every write the final primary lacks,
# with what its node served on that key from then until another node first
# acknowledged an operation, is set aside.  A read served by the old
# primary after the new one took over stays, and fails the check.  Prints
# the operations checked, the writes lost and the verdicts; the histories
# stay in tmp_check/netns/.  NETNS_SEED seeds the clients.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftLin;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $seed = $ENV{NETNS_SEED} // (int(time() * 1000) ^ $$) % 1_000_000;
diag("linearizability, isolated primary, asynchronous: seed $seed (replay with NETNS_SEED=$seed)");

my $c = RaftNetns->new(nodes => 3, sync => 0);
my $run = RaftNetnsSteps->begin($c);
my $lin = RaftLin->start($c, seed => $seed);
$lin->wait_ok(200);

my ($new, $old) = $run->isolate_primary(hold => 2, label => 'isolated primary');
my ($leader, $former) = $run->heal_and_settle;
is_deeply([ map { $_->name } @$former ], [ $old->name ],
	'the old primary ' . $old->name . ' is the one former primary');
$run->conclude(settled => [ $leader, $former ]);
$lin->conclude(label => 'isolated primary, asynchronous', lost_writes => 1);
done_testing();
