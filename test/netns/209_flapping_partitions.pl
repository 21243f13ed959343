# Copyright: the raft_ext authors.

# A random schedule of real partitions, driven by a seed, for at least
# NETNS_SECONDS seconds (default 45) on NETNS_NODES nodes (default 3): each
# step cuts the network one way (a node cut off, two nodes cut from each
# other, a node's packets to one or two others lost, a minority cut from
# the majority), holds it for 0.3-2.5 s, heals, waits until the
# cluster has settled (one primary, streaming standbys, former primaries
# fenced), rejoins any former primary with rejoin-standby.sh, and waits
# 0.2-1.2 s before the next step.  The seed is printed; NETNS_SEED=<seed>
# replays the same schedule (the same faults, durations and gaps, in the
# same order; how the cluster reacts is timing and may differ).
# NETNS_ASYNC=1 runs it without synchronous replication (lost writes are
# then counted, not failed).  scripts/partition-soak.sh runs it for as long
# as asked.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $seed = $ENV{NETNS_SEED} // (int(time() * 1000) ^ $$) % 1_000_000;
my $seconds = $ENV{NETNS_SECONDS} // 45;
my $sync = $ENV{NETNS_ASYNC} ? 0 : 1;
my $n = $ENV{NETNS_NODES} // 3;
die "NETNS_NODES must be 3 or more\n" unless $n =~ /^\d+$/ && $n >= 3;
diag("flapping partitions: seed $seed, $seconds s, $n nodes, "
	  . ($sync ? 'synchronous' : 'asynchronous')
	  . " replication (replay with NETNS_SEED=$seed NETNS_NODES=$n)");
my $c = RaftNetns->new(nodes => $n, sync => $sync);
my $run = RaftNetnsSteps->begin($c);
my $step = $run->flap(seconds => $seconds, seed => $seed);

diag("flapping partitions: $step steps, seed $seed");
$run->conclude;
done_testing();
