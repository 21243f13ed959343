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
