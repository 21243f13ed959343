# Copyright: the raft_ext authors.

# Linearizability through flapping partitions, raft_ext.synchronous =
# quorum and raft_ext.auto_rejoin on: the seeded random schedule of 209 and
# 214 (RaftNetnsSteps::flap: isolation, bridge, one-way loss, minority |
# majority, each held 0.3-2.5 s, healed, the cluster whole again by itself)
# for NETNS_SECONDS seconds (default 25) while the register clients of
# RaftLin run.  The whole history, reads included, must be linearizable.
# Prints the seed, the operations checked and the verdict; NETNS_SEED
# replays the schedule and the clients' choices (the cluster's timing may
# differ); the history stays in tmp_check/netns/.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftLin;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $seed = $ENV{NETNS_SEED} // (int(time() * 1000) ^ $$) % 1_000_000;
my $seconds = $ENV{NETNS_SECONDS} // 25;
diag("linearizability through flapping partitions: seed $seed, $seconds s "
	  . "(replay with NETNS_SEED=$seed)");

my $c = RaftNetns->new(nodes => 3, sync => 'quorum', auto_rejoin => 'on');
my $run = RaftNetnsSteps->begin($c);
my $lin = RaftLin->start($c, seed => $seed);
$lin->wait_ok(200);

my $step = $run->flap(seconds => $seconds, seed => $seed);
$run->conclude(settled => [ $run->settle(whole => 1) ], extra => { steps => $step, seed => $seed });
$lin->conclude(label => "flapping partitions ($step steps), quorum",
	extra => { steps => $step });
done_testing();
