# Copyright: the raft_ext authors.

# A real partition during a planned switchover
# (SELECT raft_ext.transfer_leadership(n)); synchronous replication.
#
#  1. the primary is asked to hand over to a standby, and right after the
#     request that target is cut off from every other node;
#  2. the primary is asked to hand over, and right after the request the
#     primary itself is cut off.
# Either the transfer completes before the cut bites or it is abandoned;
# both are fine.  What must hold: the checker's invariants (the transfer is
# announced to it), after the heal one primary with streaming standbys and
# every former primary fenced, no split-brain write, no acknowledged write
# lost.  Former primaries are rejoined after each case.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);

for my $cut_off ('target', 'primary')
{
	my ($primary, $term) = $c->wait_primary;
	my ($target) = grep { $_ != $primary } $c->nodes;
	my $label = "switchover to " . $target->name . ", $cut_off cut off";
	$run->checker->note_transfer($primary);
	my ($out, $err) = ('', '');
	$primary->psql('postgres',
		"SELECT raft_ext.transfer_leadership($target->{raft_id})",
		stdout => \$out, stderr => \$err, timeout => 10);
	$c->isolate($cut_off eq 'target' ? $target : $primary);
	note("$label: transfer_leadership said: $out$err");
	RaftFaults::hold(3 * RaftFaults::election_timeout(), $label);
	my ($leader, $former, $diverged) = $run->heal_and_settle;
	ok(defined $leader, "$label: a primary leads after the heal");
	note("$label: " . ($leader ? $leader->name : 'nobody') . ' leads; former primaries: '
		  . join(' ', map { $_->name } @$former));
	$run->rejoin_former($leader, $former, $diverged) if $leader;
}

$run->conclude;
done_testing();
