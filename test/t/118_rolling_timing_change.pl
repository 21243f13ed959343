
# Copyright: the raft_ext authors.

# A rolling change of timing (issue 9): a three-node cluster on the default
# profile (raft_ext.heartbeat_interval 100 ms, election_timeout 1000 ms)
# moves to the aggressive one (20 ms / 200 ms) one node at a time.  Timing
# takes effect when the worker restarts, so each node is stopped, given the
# new settings and started again, while the other two run on.  For a while
# the nodes run different election timeouts: every APPEND_RESPONSE carries
# its sender's, and the leader sizes its lease with those of the voters that
# acknowledged it.  The invariant checker samples every node throughout and
# must find no breach (in particular never two leases at once).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(time);

my %default = (
	heartbeat_interval => '100ms',
	election_timeout => '1000ms',
	election_spread => '500ms',
	lease_drift_margin => '100ms',);
my %aggressive = (
	heartbeat_interval => '20ms',
	election_timeout => '200ms',
	election_spread => '100ms',
	lease_drift_margin => '20ms',);

my @nodes = RaftTest::create_cluster(3, timing => \%default);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader ' . $leader->name . " in term $term on the default profile");

# Leader last, as an operator would: one election instead of three.
my @order = ((grep { $_ != $leader } @nodes), $leader);
for my $node (@order)
{
	$faults->stop($node);
	$node->append_conf('postgresql.conf',
		join('', map { "raft_ext.$_ = '$aggressive{$_}'\n" } sort keys %aggressive));

	# No wait although election_timeout shrinks: the node keeps the promise
	# its acknowledgements made (refuse votes for the old 1000 ms) from the
	# promise file in its state directory.
	$faults->start($node);
	is($node->safe_psql('postgres', 'SHOW raft_ext.election_timeout'),
		'200ms', $node->name . ' runs the aggressive profile');

	my ($l, $t) = RaftTest::wait_for_leader(\@nodes, min_term => $term);
	ok(defined $l, 'after ' . $node->name . ': ' . $l->name . " leads in term $t");
	($leader, $term) = ($l, $t);

	# Mixed timings for a while: the leader must still hold a lease.
	ok( $leader->poll_query_until(
			'postgres', 'SELECT has_lease FROM raft_ext.raft_status'),
		$leader->name . ' holds the lease with mixed timings');
}

# All on the new profile: one leader, writable.
($leader, $term) = RaftTest::wait_for_leader(\@nodes);
$leader->safe_psql('postgres',
	'CREATE TABLE retimed (x int); INSERT INTO retimed VALUES (1)');
is($leader->safe_psql('postgres', 'SELECT count(*) FROM retimed'), '1',
	'the leader commits a write on the aggressive profile');

RaftScenario::finish($checker, $faults, \@nodes, 3);
