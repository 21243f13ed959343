# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftScenario - the shared start and end of the fault scenarios
(test/t/1xx_*.pl)

=head1 SYNOPSIS

  use RaftScenario;

  my @nodes = RaftFaults::create_cluster(3);
  my ($checker, $faults) = RaftScenario::watch(\@nodes);
  ...
  RaftScenario::finish($checker, $faults, \@nodes, 2);

=head1 DESCRIPTION

Every fault scenario samples its nodes with the invariant checker while it
injects faults, and ends the same way: the checker's verdict (unless the
scenario asked for it earlier, to look at the samples), at least the
scenario's number of faults, the runtime, the nodes stopped.

=over

=cut

package RaftScenario;

use strict;
use warnings;

use RaftChecker;
use RaftFaults;
use RaftTest;
use Test::More;
use Time::HiRes qw(time);

# The runtime counts from when the scenario file loaded this module, so it
# includes building the cluster.
my $started = time();

=pod

=item RaftScenario::watch(\@nodes)

Start the invariant checker on the nodes and a fault injector over them;
returns ($checker, $faults).

=cut

sub watch
{
	my ($nodes) = @_;
	return (RaftChecker->start($nodes), RaftFaults->new($nodes));
}

=pod

=item RaftScenario::start($n)

The start the leader-fault scenarios share: RaftFaults::create_cluster($n),
watch() over it, and its first leader.  Returns ($checker, $faults,
$leader, $term, @nodes).

=cut

sub start
{
	my ($n) = @_;
	my @nodes = RaftFaults::create_cluster($n);
	my ($checker, $faults) = watch(\@nodes);
	my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
	return ($checker, $faults, $leader, $term, @nodes);
}

=pod

=item RaftScenario::fault_leader($faults, $leader, $term, \@nodes, %opts)

One round of a fault on the leader under load: a pgbench load (30 s at
most) runs on $leader for $opts{load} seconds ($opts{what}: the hold's
note), then $opts{fault}->() injects the fault, and one of the other nodes
must lead in a term above $term (a test named $opts{name}->($new_leader,
$new_term)).  Returns a hash reference: load (for stop_load), at (the time
right after the fault), leader and term (the new leader's).

=cut

sub fault_leader
{
	my ($faults, $leader, $term, $nodes, %opts) = @_;
	my $load = $faults->start_load($leader, seconds => 30);
	RaftFaults::hold($opts{load}, $opts{what});
	$opts{fault}->();
	my $at = time();
	my ($new_leader, $new_term) =
	  RaftTest::wait_for_leader([ grep { $_ != $leader } @$nodes ],
		min_term => $term + 1);
	cmp_ok($new_term, '>', $term, $opts{name}->($new_leader, $new_term));
	return { load => $load, at => $at, leader => $new_leader, term => $new_term };
}

=pod

=item RaftScenario::steps_down($node, $min_term, $what [, $timeout])

Wait until $node runs as anything but the leader, in a term of at least
$min_term ($what: what the wait is for, as in RaftFaults::poll_until).
Returns its status then, or undef.

=cut

sub steps_down
{
	my ($node, $min_term, $what, $timeout) = @_;
	return RaftFaults::poll_until(
		sub {
			my $s = RaftFaults::status($node);
			return $s && $s->{role} ne 'leader' && $s->{term} >= $min_term ? $s : undef;
		},
		$what, $timeout);
}

=pod

=item RaftScenario::finish($checker, $faults, \@nodes, $min_faults)

Stop the checker and pass or fail on its breaches (stop_and_check, under the
file's name) unless the scenario already did; check that at least
$min_faults faults were injected; note the runtime; stop the nodes;
done_testing.

=cut

sub finish
{
	my ($checker, $faults, $nodes, $min_faults) = @_;
	$checker->stop_and_check unless $checker->checked;
	cmp_ok($faults->count, '>=', $min_faults, 'faults injected: ' . $faults->count);
	note(sprintf('runtime %.1f s', time() - $started));
	$_->stop for @$nodes;
	done_testing();
	return;
}

=pod

=back

=cut

1;
