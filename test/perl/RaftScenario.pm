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
watch() over it, and its first leader.  Returns (\@nodes, $checker,
$faults, $leader, $term).

=cut

sub start
{
	my ($n) = @_;
	my @nodes = RaftFaults::create_cluster($n);
	my ($checker, $faults) = watch(\@nodes);
	my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
	return (\@nodes, $checker, $faults, $leader, $term);
}

=pod

=item RaftScenario::load_leader($faults, $leader, \@nodes, $seconds, $what)

Start a pgbench load (30 s at most) on $leader and let it run for $seconds
($what: the hold's note).  Returns ($load, the nodes other than $leader).

=cut

sub load_leader
{
	my ($faults, $leader, $nodes, $seconds, $what) = @_;
	my $load = $faults->start_load($leader, seconds => 30);
	RaftFaults::hold($seconds, $what);
	return ($load, grep { $_ != $leader } @$nodes);
}

=pod

=item RaftScenario::elect_other(\@others, $term, $name)

Wait for one of @others to lead in a term above $term and check that it
does (a test named $name->($new_leader, $new_term)).  Returns ($new_leader,
$new_term).

=cut

sub elect_other
{
	my ($others, $term, $name) = @_;
	my ($new_leader, $new_term) =
	  RaftTest::wait_for_leader($others, min_term => $term + 1);
	cmp_ok($new_term, '>', $term, $name->($new_leader, $new_term));
	return ($new_leader, $new_term);
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
