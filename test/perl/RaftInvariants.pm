# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftInvariants - the invariants of DESIGN.md, checked on the samples
RaftChecker took of every node's raft_status.

=head1 SYNOPSIS

  use RaftInvariants;

  my $r = RaftInvariants::check_samples(\@samples, transfers => \@noted);
  # { samples, breaches => [...], max_uncertainty_ms, lease_claims, terms }

=head1 DESCRIPTION

Pure functions: no process, no connection.  RaftChecker's stop() calls
check_samples on what its samplers recorded; self_test() feeds it
synthetic histories with known breaches.

Checked over all samples of the run (stop() does the analysis):

=over

=item 1. at most one leader per term (a term -> leader map over the run);

=item 2. at most one node holds an unexpired lease at any instant (below);

=item 3. no node's term ever decreases (across restarts too; samples taken
while the worker is not running, role "stopped", are skipped);

=item 4. no node reports two different votes in one term.

=back

The lease check.  A sample of node A with has_lease = true says: A holds the
lease from the observation until observation + lease_remaining.  The
checker turns it into a claim [clock_timestamp, statement_timestamp +
lease_remaining]: the part of that interval A is certain to have claimed
whatever the exact moment of the observation, so the checker's own timing
(a sample answered late, a backend descheduled between reading the status and
reading the clock) can only shorten a claim, never lengthen it.  The
uncertainty is reported as max_uncertainty_ms (normally well under 1 ms,
against a drift margin of tens of ms between one lease's end and the next
one's earliest start).  A claim ends early when A gives the lease up:

=over

=item - A is next seen as not the leader, or in another term: the claim ends
at A's leader_since (the wall-clock time of its role change), or at that
sample's statement_timestamp if leader_since is older than the claim (the
worker restarted);

=item - A is next seen still leader in the same term without the lease while
a transfer is under way (transfer_target set): the engine gives up the lease
before it sends TimeoutNow (raft_transfer.c), and the moment it did so is
not observable; the claim ends at A's last sample with the lease;

=item - a transfer the test announced with note_transfer (it may complete
between two samples, so that A is next seen as a follower whose
leader_since comes after the new leader's first lease): the claims end at
the later of the note's time and A's last sample with the lease;

=item - any other early loss of the lease ends the claim at the statement
time of the sample that shows it.

=back

Two claims of different nodes that overlap are a breach.  Comparing claims
over time (rather than only two leases in the same round) catches a new
leader whose lease starts before the old leader's horizon even when the two
were never sampled in the same round.  The start of a claim is the first
sample that shows it, so an overlap shorter than the sampling interval is
caught only if a sample falls into it.

=cut

package RaftInvariants;

use strict;
use warnings;

=pod

=head1 FUNCTIONS

=over

=item RaftInvariants::check_samples(\@samples, transfers => [...])

The analysis, on samples as samples() returns them (node, role, term,
voted_for, has_lease, rem, stmt, clock, leader_since, transfer_target);
transfers lists the noted transfers ({ node, time } in epoch ms).
Returns { samples, breaches => [...], max_uncertainty_ms, lease_claims,
terms }.  Pure: the self-test feeds it synthetic samples.

=cut

sub check_samples
{
	my ($samples, %opts) = @_;
	my (@breaches, %leaders, %by_node, %transfers);
	my $max_unc = 0;

	for my $s (@$samples)
	{
		push @{ $by_node{ $s->{node} } }, $s;
		my $unc = ($s->{clock} // 0) - ($s->{stmt} // 0);
		$max_unc = $unc if $unc > $max_unc;
	}

	push @{ $transfers{ $_->{node} } }, $_->{time}
	  for @{ $opts{transfers} // [] };

	# 1. At most one leader per term.
	for my $s (@$samples)
	{
		next unless ($s->{role} // '') eq 'leader';
		$leaders{ $s->{term} }{ $s->{node} } //= $s->{clock};
	}
	for my $term (sort { $a <=> $b } keys %leaders)
	{
		my @ids = sort { $a <=> $b } keys %{ $leaders{$term} };
		push @breaches, "term $term has two leaders: nodes @ids" if @ids > 1;
	}

	my @claims;
	for my $id (sort { $a <=> $b } keys %by_node)
	{
		my @s = sort { $a->{clock} <=> $b->{clock} } @{ $by_node{$id} };
		my ($max_term, %vote, %reported);

		for my $s (@s)
		{
			next if ($s->{role} // 'stopped') eq 'stopped';

			# 3. Terms never go backwards.
			if (defined $max_term && $s->{term} < $max_term
				&& !$reported{term}++)
			{
				push @breaches,
				  "node $id: term went back from $max_term to $s->{term} "
				  . _at($s);
			}
			$max_term = $s->{term}
			  if !defined $max_term || $s->{term} > $max_term;

			# 4. One vote per term.
			next unless defined $s->{voted_for};
			my $v = $vote{ $s->{term} } //= $s->{voted_for};
			if ($v != $s->{voted_for} && !$reported{"vote$s->{term}"}++)
			{
				push @breaches,
				  "node $id: voted for $v and for $s->{voted_for} in term "
				  . "$s->{term} " . _at($s);
			}
		}

		push @claims, _lease_claims($id, \@s, $transfers{$id} // []);
	}

	# 2. Lease claims of different nodes never overlap.
	@claims = sort { $a->{lo} <=> $b->{lo} } @claims;
	my (%latest, %reported, $min_gap);
	for my $c (@claims)
	{
		for my $other (keys %latest)
		{
			next if $other == $c->{node};
			my $o = $latest{$other};
			my $gap = $c->{lo} - $o->{hi};
			$min_gap = $gap if !defined $min_gap || $gap < $min_gap;
			my $overlap = _min($o->{hi}, $c->{hi}) - $c->{lo};
			next unless $overlap > 0;
			my $key = "$other/$o->{term}/$c->{node}/$c->{term}";
			next if $reported{$key}++;
			push @breaches, sprintf(
				"leases overlap by %.1f ms: node %d (term %d) until %.1f, "
				  . "node %d (term %d) from %.1f",
				$overlap, $other, $o->{term}, $o->{hi},
				$c->{node}, $c->{term}, $c->{lo});
		}
		$latest{ $c->{node} } = $c
		  if !$latest{ $c->{node} } || $c->{hi} > $latest{ $c->{node} }{hi};
	}

	return {
		samples => scalar @$samples,
		breaches => \@breaches,
		max_uncertainty_ms => $max_unc,
		lease_claims => scalar @claims,
		min_lease_gap_ms => $min_gap,
		terms => { map { $_ => join(',', sort keys %{ $leaders{$_} }) }
			  keys %leaders },
	};
}

# One node's lease claims, from its samples in time order (see DESCRIPTION).
sub _lease_claims
{
	my ($id, $s, $transfers) = @_;
	my (@claims, @open);
	my $since = 0;				# time of the previous no-lease sample

	for my $x (@$s)
	{
		if ($x->{has_lease} && defined $x->{rem})
		{
			@open = grep { $_->{term} == $x->{term} } @open;
			my $c = {
				node => $id,
				term => $x->{term},
				lo => $x->{clock},
				hi => $x->{stmt} + $x->{rem},
			};
			push @claims, $c;
			push @open, $c;
			next;
		}
		my $prev = $since;
		$since = $x->{clock};
		next unless @open;

		# No lease now: claims still running were given up early.
		my $w;
		my $role = $x->{role} // 'stopped';
		my ($noted) = sort { $b <=> $a }
		  grep { $_ > $prev && $_ <= $x->{clock} } @$transfers;
		if (defined $noted)
		{
			# A transfer was requested since the lease was last absent: the
			# lease was given up after the request, before TimeoutNow.
			$w = $noted > $open[-1]{lo} ? $noted : $open[-1]{lo};
		}
		elsif ($role eq 'leader' && $x->{term} == $open[-1]{term})
		{
			$w = defined $x->{transfer_target}
			  ? $open[-1]{lo}
			  : $x->{stmt};
		}
		elsif ($role ne 'stopped' && defined $x->{leader_since}
			&& $x->{leader_since} > $open[-1]{lo})
		{
			$w = $x->{leader_since};
		}
		else
		{
			$w = $x->{stmt};
		}
		$_->{hi} = _min($_->{hi}, $w) for @open;
		@open = ();
	}
	return @claims;
}

sub _min { return $_[0] < $_[1] ? $_[0] : $_[1]; }

# Where a sample was taken, for messages.
sub _at
{
	my ($s) = @_;
	return sprintf('(sample at %.1f, round %s)', $s->{clock}, $s->{round} // '?');
}

=pod

=item RaftInvariants::self_test()

Runs check_samples on synthetic histories, each with a known number of
breaches.  Returns a list of [name, expected, found, breaches] for the
caller to assert (119_checker_self_test.pl does).

=cut

sub self_test
{
	# A sample: node, role, term, vote, lease remaining (undef: none),
	# time; optional leader_since, transfer_target.
	my $S = sub {
		my ($node, $role, $term, $vote, $rem, $t, %o) = @_;
		return {
			node => $node, role => $role, term => $term,
			voted_for => $vote, has_lease => defined $rem ? 1 : 0,
			rem => $rem, stmt => $t - 0.1, clock => $t,
			leader_since => $o{since}, transfer_target => $o{transfer},
		};
	};
	# One history, checked with and without the checker's note of the
	# transfer: the note is what makes it clean.
	my $fast_transfer = [
		$S->(1, 'leader', 20, 1, 300, 1000),
		$S->(2, 'leader', 21, 2, 300, 1015),
		$S->(1, 'follower', 21, 2, undef, 1020, since => 1018) ];
	my @cases = (
		[ 'clean handover after expiry', 0, [
			$S->(1, 'leader', 2, 1, 300, 1000),
			$S->(2, 'follower', 2, 1, undef, 1005),
			$S->(1, 'leader', 2, 1, undef, 1400),
			$S->(2, 'leader', 3, 2, 300, 1600),
			$S->(1, 'follower', 3, 2, undef, 1610, since => 1590) ] ],
		[ 'two leaders in one term', 1, [
			$S->(1, 'leader', 4, 1, undef, 1000),
			$S->(2, 'leader', 4, 2, undef, 1020) ] ],
		[ 'term goes back after a restart', 1, [
			$S->(1, 'follower', 5, undef, undef, 1000),
			$S->(1, 'stopped', 0, undef, undef, 1100),
			$S->(1, 'follower', 4, undef, undef, 1200) ] ],
		[ 'two votes in one term', 1, [
			$S->(3, 'follower', 6, 1, undef, 1000),
			$S->(3, 'follower', 6, 2, undef, 1100) ] ],
		[ 'new lease before the old horizon, different rounds', 1, [
			$S->(1, 'leader', 7, 1, 300, 1000),
			$S->(2, 'leader', 8, 2, 300, 1250) ] ],
		[ 'lease overlap seen only through a late answer', 1, [
			$S->(1, 'leader', 9, 1, 500, 1000),
			$S->(1, 'leader', 9, 1, 480, 1400),
			$S->(2, 'leader', 10, 2, 200, 1700) ] ],
		[ 'old leader stepped down before the new lease', 0, [
			$S->(1, 'leader', 11, 1, 300, 1000),
			$S->(1, 'follower', 12, 2, undef, 1100, since => 1050),
			$S->(2, 'leader', 12, 2, 300, 1060) ] ],
		[ 'old leader stepped down after the new lease began', 1, [
			$S->(1, 'leader', 13, 1, 300, 1000),
			$S->(2, 'leader', 14, 2, 300, 1040),
			$S->(1, 'follower', 14, 2, undef, 1100, since => 1050) ] ],
		[ 'transfer gives the lease up', 0, [
			$S->(1, 'leader', 15, 1, 300, 1000),
			$S->(1, 'leader', 15, 1, 290, 1010),
			$S->(2, 'leader', 16, 2, 300, 1020),
			$S->(1, 'leader', 15, 1, undef, 1030, transfer => 2) ] ],
		[ 'fast transfer between two samples, noted', 0, $fast_transfer,
			[ { node => 1, time => 1005 } ] ],
		[ 'fast transfer between two samples, not noted', 1, $fast_transfer ],
		[ 'paused leader keeps a lease past its horizon', 1, [
			$S->(1, 'leader', 17, 1, 300, 1000),
			$S->(2, 'leader', 18, 2, 300, 1400),
			$S->(1, 'leader', 17, 1, 300, 1500) ] ],
		[ 'stopped samples are ignored', 0, [
			$S->(1, 'follower', 19, 2, undef, 1000),
			$S->(1, 'stopped', 0, undef, undef, 1100),
			$S->(1, 'follower', 19, 2, undef, 1200) ] ],
	);
	my @out;
	for my $c (@cases)
	{
		my ($name, $want, $samples, $transfers) = @$c;
		my $r = check_samples($samples, transfers => $transfers // []);
		push @out, [ $name, $want, scalar @{ $r->{breaches} }, $r->{breaches} ];
	}
	return @out;
}

=pod

=back

=cut

1;
