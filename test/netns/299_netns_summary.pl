# Copyright: the raft_ext authors.

# The partition suite's totals: adds up what every scenario of this run
# recorded (RaftHistory::record), prints one line per scenario and the
# totals (real partitions, writes attempted and acknowledged, lost writes
# with and without synchronous replication, split-brain writes, invariant
# breaches, failover times from partition to the first write on the new
# primary), checks the history checks on a synthetic history, and
# asserts: no split-brain write, no breach, no acknowledged
# write lost under synchronous replication, and, when every scenario of
# test/netns ran, at least 30 real partitions.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Utils;
use RaftHistory;
use Test::More;

my $all = RaftHistory::read_counts();
my @scenarios = map { m{/(\d+_[^/]+)\.pl$} ? $1 : () }
  glob("$FindBin::RealBin/2[0-8]*.pl");
my %t;
my @failover;
for my $test (sort keys %$all)
{
	my $r = $all->{$test};
	diag("$test: " . join(' ', map { "$_=$r->{$_}" } sort keys %$r));
	$t{$_} += $r->{$_} // 0
	  for qw(partitions attempts acked split_brain timeline_regressions breaches);
	$t{ $r->{sync} ? 'lost_sync' : 'lost_async' } += $r->{lost} // 0;
	$t{ $r->{sync} ? 'acked_sync' : 'acked_async' } += $r->{acked} // 0;
	push @failover, grep { /^\d+$/ } split /,/, $r->{failover_ms} // '';
}
@failover = sort { $a <=> $b } @failover;
$t{$_} //= 0 for qw(partitions attempts acked split_brain timeline_regressions
  breaches lost_sync lost_async acked_sync acked_async);
diag(sprintf('netns totals: %d scenarios, %d real partitions, %d writes attempted, '
		  . '%d acknowledged; lost: %d of %d (synchronous), %d of %d (asynchronous); '
		  . '%d split-brain writes; %d timeline regressions; %d invariant breaches',
		scalar(keys %$all), $t{partitions}, $t{attempts}, $t{acked},
		$t{lost_sync}, $t{acked_sync}, $t{lost_async}, $t{acked_async},
		$t{split_brain}, $t{timeline_regressions}, $t{breaches}));
diag(@failover
	? sprintf('partition of the primary -> first write on the new primary: '
		  . 'p50 %d ms, max %d ms (%d failovers)',
		$failover[ int($#failover / 2) ], $failover[-1], scalar @failover)
	: 'no failover timed');

# The history checks catch what they claim to (a synthetic history).
is($_->[2], $_->[1], "history self-test: $_->[0]") for RaftHistory::self_test();

ok(keys %$all > 0, 'scenarios recorded their counts');
is($t{split_brain}, 0, 'no split-brain write in any scenario');
is($t{breaches}, 0, 'no invariant breach in any scenario');
is($t{lost_sync}, 0, 'no acknowledged write lost under synchronous replication');
SKIP:
{
	my @missing = grep { !$all->{$_} } @scenarios;
	skip('not every scenario ran (missing: ' . join(' ', @missing) . ')', 1)
	  if @missing;
	cmp_ok($t{partitions}, '>=', 30, 'at least 30 real partitions in the run');
}
done_testing();
