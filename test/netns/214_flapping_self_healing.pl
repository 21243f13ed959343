# Copyright: the raft_ext authors.

# The cluster heals itself through a flapping network, with no operator:
# the seeded random partition schedule of 209 (RaftNetnsSteps::flap;
# NETNS_SEED replays it) for at least NETNS_SECONDS seconds (default 45) on
# 3 nodes, raft_ext.synchronous = quorum and raft_ext.auto_rejoin on.
# After every heal the cluster must become whole by itself: every node
# streams from the one primary, former primaries and diverged standbys
# rejoined (with pg_rewind where their WAL went past the fork).  At the
# end: no acknowledged write lost, no split-brain write, no write
# acknowledged on an older timeline, no invariant breach.
#
# Also reports, asserting nothing about speed, the clients' acknowledged
# writes per second through the schedule against the same cluster's rate
# undisturbed for 10 s first (bench/flapping.sh runs it): a cluster that
# heals keeps a standby to acknowledge synchronous commits after every
# failover.

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
diag("self-healing through flapping partitions: seed $seed, $seconds s "
	  . "(replay with NETNS_SEED=$seed)");

my $c = RaftNetns->new(nodes => 3, sync => 'quorum', auto_rejoin => 'on');
my $run = RaftNetnsSteps->begin($c);

my $calm_from = time();
RaftFaults::hold(10, 'undisturbed');
my $flap_from = time();
my $step = $run->flap(seconds => $seconds, seed => $seed);
my $flap_to = time();

# Acknowledged writes per second in [from, to) (seconds).
my @attempts = $run->writers->attempts;
sub rate
{
	my ($from, $to) = @_;
	my $n = grep {
		$_->{outcome} eq 'ok' && $_->{end} >= $from * 1000 && $_->{end} < $to * 1000
	} @attempts;
	return $n / ($to - $from);
}
my $calm = rate($calm_from, $flap_from);
my $flapping = rate($flap_from, $flap_to);
diag(sprintf('acknowledged writes/s: %.0f undisturbed, %.0f through %d steps '
		  . '(%.0f s) of flapping partitions: %.0f %%',
		$calm, $flapping, $step, $flap_to - $flap_from,
		$calm ? 100 * $flapping / $calm : 0));

# What the cluster did by itself, from the servers' logs.
my $logs = join '', map { slurp_file($_->{logfile}) } $c->nodes;
my $promotions = () = $logs =~ /promoting this standby/g;
my $rewinds = () = $logs =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/g;
my $clean = () = $logs =~ /raft_ext_rejoin\[\d+\]: no rewind needed/g;
diag("$promotions promotions; rejoins: $rewinds with pg_rewind, $clean without");

$run->conclude(
	settled => [ $run->settle(whole => 1) ],
	extra => {
		promotions => $promotions,
		rejoins_rewound => $rewinds,
		rejoins_clean => $clean,
		steps => $step,
		acked_per_s_undisturbed => int($calm),
		acked_per_s_flapping => int($flapping),
		seed => $seed,
	});
done_testing();
