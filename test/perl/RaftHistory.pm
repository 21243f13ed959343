
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftHistory - Jepsen-style checks on the attempts RaftWriter recorded, the
history file of a scenario, and the per-scenario counts that
scripts/test-summary.pl adds up after prove.

=head1 SYNOPSIS

  use RaftHistory;

  my @breaches = RaftHistory::split_brain(\@attempts);
  my @forks = RaftHistory::timeline_regressions(\@attempts);
  my ($lost, $extra) = RaftHistory::lost_writes($final_primary, \@attempts);
  RaftHistory::write_history($file, faults => [...], attempts => [...],
      samples => [...]);
  RaftHistory::record($test, partitions => 3, acked => 120, ...);

=head1 DESCRIPTION

B<Split-brain write.>  Every acknowledged attempt carries the term in which
its node held the lease (raft_ext.fencing_token(), read by the INSERT) and
the timeline that wrote it.  A primary is newer than another when it led
with the lease in a higher term.  A split-brain write is an acknowledged
commit that started after a commit of a newer primary had been
acknowledged: the client saw the newer primary's write, then an older
primary accepted one.  The check compares every acknowledged attempt with
the highest term among the attempts acknowledged before it started.
Acknowledged attempts without a term (the node had no lease when the INSERT
ran, yet the commit passed) are reported as breaches too: the fence should
have refused them.

B<Timeline regression.>  The same comparison on timelines: an acknowledged
commit on a lower timeline than one acknowledged before it started.  A
primary elected in a higher term but on an older timeline (a former
primary that a majority of nodes on old timelines re-elected) writes on a
history that lacks the newer timeline's commits: those are lost, and the
two histories have forked.

B<Lost write.>  An acknowledged attempt whose row is not on the final
primary.  With synchronous replication there must be none; without it they
are counted and reported.  Rows present although their attempt was not
acknowledged (a timeout: the outcome was unknown) are counted as
"indeterminate, committed".

=cut

package RaftHistory;

use strict;
use warnings;

use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Utils;

=pod

=head1 FUNCTIONS

=over

=item split_brain(\@attempts) / timeline_regressions(\@attempts)

Descriptions of every split-brain write, or of every timeline regression
(empty: none).

=cut

sub split_brain
{
	my ($attempts) = @_;
	my @breaches = map {
		"$_->{id} acknowledged by node $_->{node} without a fencing token "
		  . '(no lease when it wrote)'
	} grep { $_->{outcome} eq 'ok' && !defined $_->{term} } @$attempts;
	return (@breaches,
		_went_back($attempts, 'term', sub { $_[0]{term} }));
}

sub timeline_regressions
{
	my ($attempts) = @_;
	return _went_back($attempts, 'timeline', sub { hex($_[0]{tli} // '0') });
}

# Acknowledged attempts whose $key is below the highest $key acknowledged
# before they started.
sub _went_back
{
	my ($attempts, $what, $key) = @_;
	my @acked = sort { $a->{end} <=> $b->{end} }
	  grep { $_->{outcome} eq 'ok' && defined $key->($_) } @$attempts;
	my (@prefix, $best, @breaches);

	# Running maximum over acknowledgements in order.
	for my $a (@acked)
	{
		$best = $a if !$best || $key->($a) > $key->($best);
		push @prefix, [ $a->{end}, $best ];
	}
	for my $a (@acked)
	{
		# The last acknowledgement before $a started.
		my ($lo, $hi, $idx) = (0, $#prefix, -1);
		while ($lo <= $hi)
		{
			my $mid = int(($lo + $hi) / 2);
			if ($prefix[$mid][0] < $a->{start}) { $idx = $mid; $lo = $mid + 1; }
			else { $hi = $mid - 1; }
		}
		next if $idx < 0;
		my $b = $prefix[$idx][1];
		next unless $key->($b) > $key->($a);
		push @breaches, sprintf(
			'%s acknowledged by node %d in %s %s, started at %.1f, after %s '
			  . 'had been acknowledged by node %d in %s %s at %.1f',
			$a->{id}, $a->{node}, $what, $key->($a), $a->{start},
			$b->{id}, $b->{node}, $what, $key->($b), $b->{end});
	}
	return @breaches;
}

=pod

=item self_test()

Runs split_brain and timeline_regressions on a synthetic history with known
answers; returns [name, expected, found] triples for the caller to assert
(200_history_self_test.pl does).

=cut

sub self_test
{
	my $A = sub {
		my ($id, $start, $end, $node, $term, $tli) = @_;
		return { id => $id, outcome => 'ok', start => $start, end => $end,
			node => $node, term => $term, tli => sprintf('%08X', $tli) };
	};
	my @h = (
		$A->('old', 0, 10, 1, 2, 1),
		$A->('new', 20, 30, 2, 3, 2),
		$A->('concurrent', 25, 35, 1, 2, 1),    # started before 'new' was acked
		$A->('stale', 40, 45, 1, 2, 1),         # started after: split brain
		$A->('forked', 50, 55, 1, 4, 1),        # newer term, older timeline
		$A->('tokenless', 60, 65, 2, undef, 2),
		{ id => 'refused', outcome => 'error', start => 70, end => 71, node => 1 });
	return (
		[ 'split-brain writes', 2, scalar(() = split_brain(\@h)) ],
		[ 'timeline regressions', 2, scalar(() = timeline_regressions(\@h)) ],
		[ 'a clean handover', 0,
		  scalar(() = split_brain([ @h[ 0 .. 2 ] ])) ]);
}

=pod

=item lost_writes($node, \@attempts)

Compare the rows of nx_rows on $node (the final primary) with the attempts.
Returns (\@lost, $indeterminate_committed): the acknowledged attempts
missing there, and how many attempts that were not acknowledged did commit.

=cut

sub lost_writes
{
	my ($node, $attempts) = @_;
	my %have = map { $_ => 1 } split /\n/,
	  $node->safe_psql('postgres', 'SELECT id FROM nx_rows');
	my @lost = grep { $_->{outcome} eq 'ok' && !$have{ $_->{id} } } @$attempts;
	my $extra = grep {
		$_->{outcome} ne 'ok' && defined $_->{id} && $have{ $_->{id} }
	} @$attempts;
	return (\@lost, $extra);
}

=pod

=item failover_ms(\@attempts, $fault_at, $old_id)

Milliseconds from $fault_at (epoch s) to the first acknowledgement after it
by a node other than $old_id; undef if there is none.

=cut

sub failover_ms
{
	my ($attempts, $fault_at, $old_id) = @_;
	my ($first) = sort { $a <=> $b }
	  map { $_->{end} }
	  grep {
		$_->{outcome} eq 'ok' && $_->{node} != $old_id
		  && $_->{end} > $fault_at * 1000
	  } @$attempts;
	return defined $first ? $first - $fault_at * 1000 : undef;
}

=pod

=item write_history($file, faults => [...], attempts => [...], samples => [...])

One JSON object per line, each with a type: "fault" / "heal" (as
RaftNetns logs them), "attempt" (as RaftWriter records them), "sample"
(RaftChecker's samples: node, role, term, has_lease, rem ...).

=cut

sub write_history
{
	my ($file, %h) = @_;
	my $json = JSON::PP->new->canonical;
	open(my $fh, '>', $file) or die "open $file: $!";
	print $fh $json->encode($_) . "\n" for @{ $h{faults} // [] };
	print $fh $json->encode({ type => 'attempt', %$_ }) . "\n"
	  for @{ $h{attempts} // [] };
	for my $s (@{ $h{samples} // [] })
	{
		print $fh $json->encode({ type => 'sample', %$s }) . "\n";
	}
	close $fh;
	return;
}

=pod

=item counts_dir() / record($test, %counts) / read_counts()

Each scenario appends one line "key=value ..." to counts_dir()/$test.txt
(tmp_check/netns_counts, shared by the files of one run); read_counts
returns { test => { key => value } } (the last line of each file).
failover_ms is a comma-separated list.

=cut

sub counts_dir { return "$PostgreSQL::Test::Utils::tmp_check/netns_counts"; }

sub record
{
	my ($test, %c) = @_;
	my $dir = counts_dir();
	make_path($dir);
	open(my $fh, '>>', "$dir/$test.txt") or die "open $dir/$test.txt: $!";
	print $fh join(' ', map { "$_=$c{$_}" } sort keys %c) . "\n";
	close $fh;
	return;
}

sub read_counts
{
	my %all;
	for my $f (glob(counts_dir() . '/*.txt'))
	{
		open(my $fh, '<', $f) or next;
		my $last;
		$last = $_ while <$fh>;
		close $fh;
		next unless defined $last;
		chomp $last;
		my ($test) = $f =~ m{([^/]+)\.txt$};
		$all{$test} = { map { split /=/, $_, 2 } split ' ', $last };
	}
	return \%all;
}

=pod

=back

=cut

1;
