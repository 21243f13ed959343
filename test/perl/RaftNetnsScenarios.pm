# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftNetnsScenarios - scenario parts that more than one real-partition test
(test/netns) runs, each under its own cluster settings; built on the steps
of RaftNetnsSteps.

=head1 SYNOPSIS

  use RaftNetnsScenarios;

  # 202 (asynchronous) and 212 (quorum mode)
  my $counts = RaftNetnsScenarios::isolated_primary_rounds($run, 2);

  # 203 (a standby cut off) and 204 (a bridge)
  my $at = $c->isolate($standby);
  RaftNetnsScenarios::primary_keeps_leading($run, $primary, $term, $at, $label);
  RaftNetnsScenarios::heal_keeps_primary($run, $primary, $label);

  # 206 and 213 (2 | 3 split, the primary in the minority)
  my ($primary, $term, $buddy) = RaftNetnsScenarios::minority_primary_split($run);

=cut

package RaftNetnsScenarios;

use strict;
use warnings;

use RaftFaults;
use Test::More;

=pod

=head1 FUNCTIONS

=over

=item isolated_primary_rounds($run, $rounds)

$rounds times: cut the primary off (RaftNetnsSteps::isolate_primary, held
2 s), heal, check that the old primary is the one former primary, rejoin
it with rejoin-standby.sh.  Then conclude; returns the counts.

=cut

sub isolated_primary_rounds
{
	my ($run, $rounds) = @_;
	for my $round (1 .. $rounds)
	{
		my ($new, $old) = $run->isolate_primary(hold => 2, label => "round $round");
		my ($leader, $former, $diverged) = $run->heal_and_settle;
		is_deeply([ map { $_->name } @$former ], [ $old->name ],
			"round $round: the old primary " . $old->name . ' is the one former primary');
		$run->rejoin_former($leader, $former, $diverged);
	}
	return $run->conclude;
}

=pod

=item primary_keeps_leading($run, $primary, $term, $at, $label)

A cut made at $at that leaves $primary a majority: held three election
timeouts, during which $primary acknowledges writes, and after which it
still leads in $term with the lease.

=cut

sub primary_keeps_leading
{
	my ($run, $primary, $term, $at, $label) = @_;
	RaftFaults::hold(3 * RaftFaults::election_timeout(), $label);
	ok(defined $run->writers->wait_acked(10, node => $primary->{raft_id}, since => $at),
		"$label: the primary acknowledges writes during the cut");
	my $st = $run->status($primary);
	ok($st->{role} eq 'leader' && $st->{term} == $term && $st->{has_lease},
		"$label: the primary still leads in term $term with the lease");
	return;
}

=pod

=item heal_keeps_primary($run, $primary, $label)

Heal and settle: $primary still leads, no former primary.

=cut

sub heal_keeps_primary
{
	my ($run, $primary, $label) = @_;
	my ($leader, $former) = $run->heal_and_settle;
	is($leader && $leader->name, $primary->name, "$label: the same primary after the heal");
	is(scalar @$former, 0, "$label: no former primary");
	return;
}

=pod

=item minority_primary_split($run)

Five nodes split 2 | 3, the primary and one standby (its "buddy") in the
minority: the majority elects one of its own (checked), the split lasts
2 s more, the old primary is fenced.  Returns ($primary, $term, $buddy):
the old primary, its term, the buddy.

=cut

sub minority_primary_split
{
	my ($run) = @_;
	my $c = $run->cluster;
	my ($primary, $term) = $c->wait_primary;
	my ($buddy, @majority) = grep { $_ != $primary } $c->nodes;

	my $at = $c->partition([ $primary, $buddy ], \@majority);
	my $new = $run->expect_failover($primary, $at, '2 | 3 split', $term, \@majority);
	ok($new && (grep { $_ == $new } @majority), 'the new primary is in the majority');
	RaftFaults::hold(2, 'the split lasts');
	$run->expect_fenced($primary, 'the old primary in the minority');
	return ($primary, $term, $buddy);
}

=pod

=back

=cut

1;
