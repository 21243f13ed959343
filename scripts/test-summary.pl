#!/usr/bin/env perl
# Copyright: the raft_ext authors.
#
# test-summary.pl: the totals of one TAP run, across its files.
#
#   scripts/test-summary.pl faults TREE...  after prove over test/t
#   scripts/test-summary.pl netns TREE      after prove over test/netns
#
# faults adds up several trees: the host's run and the fault scenarios run
# in another version's chroot (scripts/run-tests.sh).
#
# Every fault scenario appends its counts to TREE/tmp_check/raft_counts/
# (RaftChecker::record_counts: samples, faults, breaches) and every
# partition scenario to TREE/tmp_check/netns_counts/ (RaftHistory::record).
# This adds them up once prove has finished, so that the totals do not
# depend on the order or the subset of files prove ran (a test file that
# ran last to add them up broke under "prove -j" and with PROVE_TESTS).
#
# Always fails on a breach, a split-brain write, a write lost under
# synchronous replication, or a register history that is not linearizable
# (tmp_check/lin_counts/, RaftLin::record: operations checked, verdict).  The thresholds of a whole run (>= 50 faults,
# >= 30 real partitions) apply only when every scenario of the suite
# recorded its counts; otherwise it says which did not.
use strict;
use warnings;

my ($suite, $tree, @more_trees) = @ARGV;
die "usage: $0 faults TREE... | netns TREE\n"
  unless defined $tree && ($suite // '') =~ /^(faults|netns)$/
  && !(@more_trees && $suite eq 'netns');

my @failed;

# One assertion: print it, remember a failure.
sub check
{
	my ($ok, $what) = @_;
	print $ok ? "ok: $what\n" : "FAILED: $what\n";
	push @failed, $what unless $ok;
	return;
}

# { test => [ { key => value }, ... ] }: one hash per line of each file, in
# every directory given.
sub read_counts
{
	my (@dirs) = @_;
	my %all;
	for my $f (map { sort glob("$_/*.txt") } @dirs)
	{
		my ($test) = $f =~ m{([^/]+)\.txt$};
		open(my $fh, '<', $f) or die "open $f: $!";
		while (my $line = <$fh>)
		{
			chomp $line;
			push @{ $all{$test} }, { map { split /=/, $_, 2 } split ' ', $line }
			  if $line ne '';
		}
		close $fh;
	}
	return \%all;
}

# The scenarios of the suite: the test files that record counts.
sub scenarios
{
	my ($glob, $marker) = @_;
	my @names;
	for my $f (sort glob($glob))
	{
		open(my $fh, '<', $f) or next;
		local $/;
		my $text = <$fh>;
		close $fh;
		push @names, $1 if $text =~ /$marker/ && $f =~ m{/([^/]+)\.pl$};
	}
	return @names;
}

# Whether every scenario ran; prints the missing ones.
sub all_ran
{
	my ($all, @scenarios) = @_;
	my @missing = grep { !$all->{$_} } @scenarios;
	print "thresholds of a whole run skipped: not every scenario ran (missing: @missing)\n"
	  if @missing;
	return !@missing;
}

if ($suite eq 'faults')
{
	my $all = read_counts(map { "$_/tmp_check/raft_counts" } $tree, @more_trees);
	my %total = (samples => 0, faults => 0, breaches => 0);
	for my $test (sort keys %$all)
	{
		my %t = (samples => 0, faults => 0, breaches => 0);
		for my $r (@{ $all->{$test} }) { $t{$_} += $r->{$_} // 0 for keys %t; }
		printf("%-40s %7d samples %4d faults %3d breaches\n",
			$test, $t{samples}, $t{faults}, $t{breaches});
		$total{$_} += $t{$_} for keys %t;
	}
	printf("fault summary: %d faults, %d samples, %d breaches in %d scenarios\n",
		$total{faults}, $total{samples}, $total{breaches}, scalar keys %$all);
	check(keys %$all > 0, 'scenarios recorded their counts');
	check($total{breaches} == 0, 'no invariant breach in the whole run');
	if (all_ran($all, scenarios("$tree/test/t/*.pl", qr/stop_and_check/)))
	{
		check($total{faults} >= 50, "the run injected $total{faults} faults (>= 50)");
		check($total{samples} > 0, "the checker took $total{samples} samples");
	}
}
else
{
	my $all = read_counts("$tree/tmp_check/netns_counts");
	my %t = map { $_ => 0 } qw(partitions attempts acked split_brain
	  timeline_regressions breaches lost_sync lost_async acked_sync acked_async);
	my @failover;
	for my $test (sort keys %$all)
	{
		my $r = $all->{$test}[-1];    # the last line of each file
		print "$test: " . join(' ', map { "$_=$r->{$_}" } sort keys %$r) . "\n";
		$t{$_} += $r->{$_} // 0
		  for qw(partitions attempts acked split_brain timeline_regressions breaches);
		$t{ $r->{sync} ? 'lost_sync' : 'lost_async' } += $r->{lost} // 0;
		$t{ $r->{sync} ? 'acked_sync' : 'acked_async' } += $r->{acked} // 0;
		push @failover, grep { /^\d+$/ } split /,/, $r->{failover_ms} // '';
	}
	@failover = sort { $a <=> $b } @failover;
	printf('netns totals: %d scenarios, %d real partitions, %d writes attempted, '
		  . '%d acknowledged; lost: %d of %d (synchronous), %d of %d (asynchronous); '
		  . "%d split-brain writes; %d timeline regressions; %d invariant breaches\n",
		scalar(keys %$all), $t{partitions}, $t{attempts}, $t{acked},
		$t{lost_sync}, $t{acked_sync}, $t{lost_async}, $t{acked_async},
		$t{split_brain}, $t{timeline_regressions}, $t{breaches});
	print @failover
	  ? sprintf("partition of the primary -> first write on the new primary: "
		  . "p50 %d ms, max %d ms (%d failovers)\n",
		$failover[ int($#failover / 2) ], $failover[-1], scalar @failover)
	  : "no failover timed\n";
	check(keys %$all > 0, 'scenarios recorded their counts');
	check($t{split_brain} == 0, 'no split-brain write in any scenario');
	check($t{breaches} == 0, 'no invariant breach in any scenario');
	check($t{lost_sync} == 0, 'no acknowledged write lost under synchronous replication');
	check($t{partitions} >= 30, 'at least 30 real partitions in the run')
	  if all_ran($all, scenarios("$tree/test/netns/*.pl", qr/RaftNetnsSteps/));

	# The linearizability check of the register clients (RaftLin).
	my $lin = read_counts("$tree/tmp_check/lin_counts");
	my %l = map { $_ => 0 } qw(ops violations unknown stale_reads unwritten_reads);
	for my $test (sort keys %$lin)
	{
		my $r = $lin->{$test}[-1];
		printf("%s: %d register operations checked: %s (%d stale reads, "
			  . "%d reads of unwritten values), writes acknowledged by node(s) %s, "
			  . "seed %s\n",
			$test, $r->{ops} // 0, $r->{verdict} // '?', $r->{stale_reads} // 0,
			$r->{unwritten_reads} // 0, $r->{primaries} // '-', $r->{seed} // '-');
		$l{$_} += $r->{$_} // 0 for keys %l;
	}
	if (%$lin)
	{
		printf('linearizability totals: %d scenarios, %d operations checked, '
			  . "%d violations, %d unknown; %d definitely stale reads, "
			  . "%d reads of unwritten values\n",
			scalar(keys %$lin), @l{qw(ops violations unknown stale_reads unwritten_reads)});
		check($l{violations} == 0 && $l{unknown} == 0,
			'every register history checked is linearizable');
	}
	my @silent = grep { !$lin->{$_} } scenarios("$tree/test/netns/*.pl", qr/RaftLin->start/);
	print "linearizability: no verdict recorded by @silent\n" if @silent;
}

exit(@failed ? 1 : 0);
