
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftHistory - Jepsen-style checks on the attempts RaftWriter recorded, the
history file of a scenario, and the per-scenario counts that
299_netns_summary.pl adds up.

=head1 SYNOPSIS

  use RaftHistory;

  my @breaches = RaftHistory::split_brain(\@attempts);
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
the highest term (and, separately, the highest timeline) among the attempts
acknowledged before it started.  Acknowledged attempts without a term (the
node had no lease when the INSERT ran, yet the commit passed) are reported
as breaches too: the fence should have refused them.

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

=item split_brain(\@attempts)

Descriptions of every split-brain write (empty: none).

=cut

sub split_brain
{
	my ($attempts) = @_;
	my @acked = sort { $a->{end} <=> $b->{end} }
	  grep { $_->{outcome} eq 'ok' } @$attempts;
	my @breaches;

	# Running maximum of term and timeline over acknowledgements in order.
	my (@prefix, $best_term, $best_tli);
	for my $a (@acked)
	{
		my $tli = hex($a->{tli} // '0');
		$best_term = $a
		  if defined $a->{term}
		  && (!$best_term || $a->{term} > $best_term->{term});
		$best_tli = $a if !$best_tli || $tli > hex($best_tli->{tli} // '0');
		push @prefix, [ $a->{end}, $best_term, $best_tli ];
	}

	for my $a (@acked)
	{
		if (!defined $a->{term})
		{
			push @breaches, "$a->{id} acknowledged by node $a->{node} "
			  . 'without a fencing token (no lease when it wrote)';
			next;
		}
		# The last acknowledgement before $a started.
		my ($lo, $hi) = (0, $#prefix);
		my $idx = -1;
		while ($lo <= $hi)
		{
			my $mid = int(($lo + $hi) / 2);
			if ($prefix[$mid][0] < $a->{start}) { $idx = $mid; $lo = $mid + 1; }
			else { $hi = $mid - 1; }
		}
		next if $idx < 0;
		my (undef, $t, $l) = @{ $prefix[$idx] };
		if ($t && $t->{term} > $a->{term})
		{
			push @breaches, sprintf(
				'%s acknowledged by node %d in term %d, started at %.1f, after '
				  . '%s had been acknowledged by node %d in term %d at %.1f',
				$a->{id}, $a->{node}, $a->{term}, $a->{start},
				$t->{id}, $t->{node}, $t->{term}, $t->{end});
		}
		elsif ($l && hex($l->{tli}) > hex($a->{tli}))
		{
			push @breaches, sprintf(
				'%s acknowledged by node %d on timeline %s, started at %.1f, '
				  . 'after %s had been acknowledged by node %d on timeline %s '
				  . 'at %.1f',
				$a->{id}, $a->{node}, $a->{tli}, $a->{start},
				$l->{id}, $l->{node}, $l->{tli}, $l->{end});
		}
	}
	return @breaches;
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
