# Copyright: the raft_ext authors.

# Linearizability through an isolated primary, raft_ext.synchronous =
# quorum.  The register clients of RaftLin (two long-lived sessions, one
# that keeps its connection across 25006 errors, a reader that keeps its
# connection until it breaks, one that connects per operation) read,
# write and compare-and-set three keys while the primary is cut off from
# both standbys as in 212 (the clients still reach it), held 2 s, healed;
# the old primary stays fenced to the end (rejoining it, pg_rewind and
# all, would double the file's time and add nothing to this check).  With quorum
# commit no acknowledged write may be lost, and with the fence no read may
# be served by a deposed primary: the whole history, reads included, must
# be linearizable (test/lincheck/lincheck).  Prints the operations checked
# and the verdict; the history stays in tmp_check/netns/.  NETNS_SEED
# seeds the clients' choice of operations.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftLin;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $seed = $ENV{NETNS_SEED} // (int(time() * 1000) ^ $$) % 1_000_000;
diag("linearizability, isolated primary, quorum: seed $seed (replay with NETNS_SEED=$seed)");

my $c = RaftNetns->new(nodes => 3, sync => 'quorum');
my $run = RaftNetnsSteps->begin($c);
my $lin = RaftLin->start($c, seed => $seed);
$lin->wait_ok(200);

my ($new, $old) = $run->isolate_primary(hold => 2, label => 'isolated primary');
my ($leader, $former) = $run->heal_and_settle;
is_deeply([ map { $_->name } @$former ], [ $old->name ],
	'the old primary ' . $old->name . ' is the one former primary');
$run->conclude(settled => [ $leader, $former ]);
$lin->conclude(label => 'isolated primary, quorum');
done_testing();
