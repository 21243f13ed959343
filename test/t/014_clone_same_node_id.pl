# Copyright: the raft_ext authors.

# A clone that keeps its node id (issue 9, item 8).  raft_ext.node_id set
# with ALTER SYSTEM lives in postgresql.auto.conf, so pg_basebackup copies it
# along with the state directory: the copy starts as the same member, with
# the same term, vote and log.  011_cloned_state.pl covers a copy given
# another node id; this one is not caught by the node id stamp at all, and
# two processes acting as one member could vote twice in one term.
#
# Each worker process draws a random incarnation and sends it with every
# connection; the receivers see two live incarnations of node 3 and refuse
# the batches of the newer one, the copy (raft_peers.last_error says why),
# which stops running Raft with a clear raft_status.error; node 3 itself
# carries on, and so does the leader when the copy is the leader's (the
# issue: a copy of the leader used to stop Raft on the leader too).
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

# Start a copy of 'node' (which must have its node id in
# postgresql.auto.conf) as a streaming standby of it.
sub start_copy
{
	my ($node, $name) = @_;
	my $copy = PostgreSQL::Test::Cluster->new($name);
	$node->backup("copy_$name");
	$copy->init_from_backup($node, "copy_$name", has_streaming => 1);
	$copy->start;
	return $copy;
}

# The copy stops running Raft.
sub expect_copy_refused
{
	my ($copy, $id) = @_;
	my $twice = "another server is running as node $id";
	ok( $copy->poll_query_until('postgres',
			"SELECT error LIKE '$twice%' FROM raft_status"),
		$copy->name . " (the copy) stops running Raft: $twice");
	note('raft_status.error: ' . $copy->safe_psql('postgres', 'SELECT error FROM raft_status'));
	return;
}

# The established node carries on, as 'healthy' (an SQL condition on
# raft_status) says, through four election timeouts of its copy's refusals.
sub expect_established_carries_on
{
	my ($node, $healthy) = @_;
	my $deadline = time() + 4 * RaftFaults::election_timeout();
	my $bad = '';
	while (time() < $deadline && $bad eq '')
	{
		$bad = $node->safe_psql('postgres',
			"SELECT CASE WHEN $healthy THEN '' ELSE role || ' ' || coalesce(error, '') END FROM raft_status");
		usleep(100_000);
	}
	is($bad, '', $node->name . ', the established node ' . RaftTest::raft_id($node)
		  . ', keeps running Raft');
	return;
}

# 1. A copy of standby node 3, its id set the way an operator sets it:
# ALTER SYSTEM (a standby can).
$node3->safe_psql('postgres', 'ALTER SYSTEM SET raft_ext.node_id = 3');
my $clone = start_copy($node3, 'clone3');
like(slurp_file($clone->data_dir . '/postgresql.auto.conf'),
	qr/raft_ext\.node_id = '3'/, 'the copy carries node_id 3 in postgresql.auto.conf');
ok(-f $clone->data_dir . '/pg_raft/state', 'and node 3\'s state directory');
expect_copy_refused($clone, 3);
ok( $node1->poll_query_until('postgres',
		q{SELECT last_error LIKE 'node 3 is running twice%' FROM raft_ext.raft_peers WHERE peer_id = 3}),
	'the leader\'s raft_peers says node 3 is running twice');
ok($node1->log_contains(qr/node 3 is running twice/) || $node2->log_contains(qr/node 3 is running twice/),
	'the refusal is logged');
expect_established_carries_on($node3, q{error IS NULL AND role = 'follower'});
my ($l) = RaftTest::wait_for_leader(\@nodes);
ok(defined $l, 'all three nodes keep a leader');

# The copy goes away; after four election timeouts the leader no longer
# reports node 3 twice.
$clone->stop;
ok( $l->poll_query_until('postgres',
		q{SELECT coalesce(last_error, '') NOT LIKE '%running twice%' FROM raft_ext.raft_peers WHERE peer_id = 3}),
	'with the copy gone, the leader no longer reports node 3 twice');

# 2. A copy of the leader: the copy is refused, the leader keeps leading
# and its writes are acknowledged.
my ($primary) = RaftFailover::wait_primary(\@nodes);
$primary->safe_psql('postgres',
	'ALTER SYSTEM SET raft_ext.node_id = ' . RaftTest::raft_id($primary));
my $term = $primary->safe_psql('postgres', 'SELECT term FROM raft_status');
my $clone1 = start_copy($primary, 'clone_leader');
expect_copy_refused($clone1, RaftTest::raft_id($primary));
expect_established_carries_on($primary,
	qq{error IS NULL AND role = 'leader' AND has_lease AND term = $term});
my ($ret, $out, $err) = RaftFailover::sql($primary, 'INSERT INTO fo_rows (i) VALUES (14)');
is($ret, 0, 'the leader acknowledges writes while its copy runs') or diag($err);
$clone1->stop;

$_->stop for @nodes;
done_testing();
