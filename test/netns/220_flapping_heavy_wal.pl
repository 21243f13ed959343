# Copyright: the raft_ext authors.

# Self-healing through flapping partitions under a heavy write load: the
# seeded schedule of 214 (RaftNetnsSteps::flap; NETNS_SEED replays it) for
# at least NETNS_SECONDS seconds (default 30) on 3 nodes,
# raft_ext.synchronous = quorum, raft_ext.auto_rejoin on, and no WAL kept
# on purpose (wal_keep_size 0, max_wal_size 64MB, no slot), while
# RaftHeavyWriter bulk-inserts (about 4 MB of WAL per batch) beside the
# suite's writers.  A former primary's pg_rewind then often lacks the WAL
# since its last checkpoint before the fork, and the rejoin helper
# re-clones it (raft_ext.rejoin_reclone).
#
# Asserts: after every step the cluster becomes whole by itself (flap waits
# for it; every former primary and diverged standby rejoined); after the
# final heal every node streams from the one primary; at least 64 MB of
# WAL went by during the schedule; and the suite's checks (conclude): no
# acknowledged write lost, no split brain, no timeline regression, no
# invariant breach.  Reports the rejoins by kind (pg_rewind, re-clone,
# none needed) and the heavy writer's batches.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use RaftHeavyWriter;
use Test::More;
use Time::HiRes qw(time);

my $MB = 1024 * 1024;
my $SETTLE_WITHIN = 120;
my $seed = $ENV{NETNS_SEED} // (int(time() * 1000) ^ $$) % 1_000_000;
my $seconds = $ENV{NETNS_SECONDS} // 30;
diag("self-healing through flapping partitions under a heavy write load: "
	  . "seed $seed, $seconds s (replay with NETNS_SEED=$seed)");

my $c = RaftNetns->new(
	nodes => 3,
	sync => 'quorum',
	auto_rejoin => 'on',
	extra_conf => "wal_keep_size = 0\n"
	  . "max_wal_size = '64MB'\n"
	  . "min_wal_size = '32MB'\n");
my $run = RaftNetnsSteps->begin($c);

# One value from $node over its Unix socket, or undef.
sub q1
{
	my ($node, $sql) = @_;
	my $out;
	my $ret = $node->psql('postgres', $sql, stdout => \$out, timeout => 10);
	return $ret == 0 ? $out : undef;
}

my ($first) = $c->wait_primary;
my $lsn0 = q1($first, 'SELECT pg_current_wal_lsn()');
my $writer = RaftHeavyWriter->start($c, limit => $seconds + 240);
ok( RaftFaults::poll_until(sub { $writer->batches >= 2 }, 'the heavy writer writes', 60),
	'the heavy writer writes on ' . $first->name);

# A re-clone under the load takes a while on a slow disk: each settle may
# take up to SETTLE_WITHIN seconds (the rejoin itself is the behaviour under
# test, not its speed).
my $step = $run->flap(seconds => $seconds, seed => $seed, settle_within => $SETTLE_WITHIN);
$writer->stop;

my @settled = $run->settle(whole => 1, within => $SETTLE_WITHIN);
my $leader = $settled[0];
my $wal = $leader ? q1($leader, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')::bigint") // 0 : 0;
cmp_ok($wal, '>=', 64 * $MB,
	sprintf('%.1f MB of WAL during %d steps of flapping partitions', $wal / $MB, $step));

# How the cluster healed, from the servers' logs.
my $logs = join '', map { slurp_file($_->{logfile}) } $c->nodes;
my $promotions = () = $logs =~ /promoting this standby/g;
my $rewinds = () = $logs =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/g;
my $reclones = () = $logs =~ /raft_ext_rejoin\[\d+\]: re-cloned from the source/g;
my $clean = () = $logs =~ /raft_ext_rejoin\[\d+\]: no rewind needed/g;
diag(sprintf('%d promotions; rejoins: %d with pg_rewind, %d by re-clone, %d without either; '
		  . 'heavy writer: %d batches of %d rows in %.0f s',
		$promotions, $rewinds, $reclones, $clean,
		$writer->batches, $writer->rows, $writer->seconds));

$run->conclude(
	settled => \@settled,
	extra => {
		promotions => $promotions,
		rejoins_rewound => $rewinds,
		rejoins_recloned => $reclones,
		rejoins_clean => $clean,
		steps => $step,
		wal_mb => int($wal / $MB),
		heavy_batches => $writer->batches,
		seed => $seed,
	});
done_testing();
