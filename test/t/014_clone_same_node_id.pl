# Copyright: the raft_ext authors.

# A clone that keeps its node id (issue 9, item 8).  raft_ext.node_id set
# with ALTER SYSTEM lives in postgresql.auto.conf, so pg_basebackup copies it
# along with the state directory: the copy starts as the same member, with
# the same term, vote and log.  011_cloned_state.pl covers a copy given
# another node id; this one is not caught by the node id stamp at all, and
# two processes acting as one member could vote twice in one term.
#
# Each worker process draws a random incarnation and sends it with every
# connection; the receivers see two live incarnations of node 3, refuse its
# batches (raft_peers.last_error says why), and both node 3 processes stop
# running Raft with a clear raft_status.error.  Nodes 1 and 2 keep a leader.
# Once the clone is gone and a few election timeouts have passed, a reload
# brings node 3 back.
#
# The cluster is a primary with streaming standbys that leave
# raft_ext.cluster_name unset: the default name, derived from the system
# identifier they share, is what they use (and a clone shares it too).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(usleep);

my @nodes = RaftFailover::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'the primary leads');

# The default cluster name: "pg-" and the shared system identifier.
my $sysid = $node1->safe_psql('postgres',
	'SELECT system_identifier FROM pg_control_system()');
ok($node3->log_contains(qr/node 3 started in term \d+ with \d+ log entries, cluster "pg-$sysid"/),
	'unset, the cluster name is derived from the system identifier');

# node 3's id the way an operator sets it: ALTER SYSTEM (a standby can).
$node3->safe_psql('postgres', 'ALTER SYSTEM SET raft_ext.node_id = 3');

my $clone = PostgreSQL::Test::Cluster->new('clone3');
$node3->backup('copy');
$clone->init_from_backup($node3, 'copy', has_streaming => 1);
like(slurp_file($clone->data_dir . '/postgresql.auto.conf'),
	qr/raft_ext\.node_id = '3'/, 'the copy carries node_id 3 in postgresql.auto.conf');
ok(-f $clone->data_dir . '/pg_raft/state', 'and node 3\'s state directory');
$clone->start;

my $twice = 'another server is running as node 3';
for my $node ($clone, $node3)
{
	ok( $node->poll_query_until('postgres',
			"SELECT error LIKE '$twice%' FROM raft_status"),
		$node->name . ' stops running Raft: another server runs as node 3');
}
note('raft_status.error: ' . $clone->safe_psql('postgres', 'SELECT error FROM raft_status'));
my @pair = ($node1, $node2);
my ($l) = RaftTest::wait_for_leader(\@pair);
ok(defined $l, 'nodes 1 and 2 keep a leader');
ok( $l->poll_query_until('postgres',
		q{SELECT last_error LIKE 'node 3 is running twice%' FROM raft_ext.raft_peers WHERE peer_id = 3}),
	'the leader\'s raft_peers says node 3 is running twice');
ok($l->log_contains(qr/node 3 is running twice/) || $node3->log_contains(qr/node 3 is running twice/)
	  || $clone->log_contains(qr/node 3 is running twice/),
	'the refusal is logged');

# The clone goes away; after four election timeouts node 3's batches are
# accepted again, and a reload starts Raft on it.
$clone->stop;
usleep(5 * RaftFaults::election_timeout() * 1_000_000);
$node3->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok( $node3->poll_query_until('postgres',
		q{SELECT error IS NULL AND role = 'follower' FROM raft_status}),
	'with the clone gone, node 3 runs Raft again after a reload');
ok(defined((RaftTest::wait_for_leader(\@nodes))[0]), 'all three agree on a leader');
ok( $l->poll_query_until('postgres',
		q{SELECT coalesce(last_error, '') NOT LIKE '%running twice%' FROM raft_ext.raft_peers WHERE peer_id = 3}),
	'and the leader no longer reports node 3 twice');

$_->stop for @nodes;
done_testing();
