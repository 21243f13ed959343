# Copyright: the raft_ext authors.

# raft_ext.auto_rejoin when the rejoin cannot work: the old primary's WAL
# diverged (it was killed and restarted as a primary) and it runs without
# wal_log_hints (and without data checksums), so pg_rewind refuses it; and
# the re-clone it falls back to (raft_ext.rejoin_reclone) fails too: its
# replication role does not exist on the leader.
#  1. raft_status.rejoin_state becomes "failed" with a rejoin_error naming
#     the cause, on a node that is up again, still a primary, and fenced:
#     its writes are refused (SQLSTATE 25006);
#  2. the worker retries after a pause (attempt 2 in its log), and the node
#     stays fenced;
#  3. the Raft state survived (the term did not go back).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my @nodes = RaftFailover::create_cluster(3,
	auto_rejoin => 'on',
	conf => { 1 => "wal_log_hints = off\n" });
my ($node1, $node2, $node3) = @nodes;
# Only node1's (the standbys' configuration came from its base backup).
$node1->append_conf('postgresql.conf', "raft_ext.replication_user = 'no_such_role'\n");
$node1->reload;
my $faults = RaftFaults->new(\@nodes);

my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
is($primary->name, 'node1', 'node1 is the primary');
is($node1->safe_psql('postgres', 'SHOW wal_log_hints'), 'off',
	'node1 runs without wal_log_hints');
my $writer = RaftFailover::start_writer(\@nodes, seconds => 120);
ok(defined RaftFailover::wait_acks_on($writer, $node1, 10),
	'writes are acknowledged by node1');

my $killed_at = time();
$faults->kill9($node1);
my ($new) = RaftFailover::expect_failover('039 kill', $killed_at,
	[ $node2, $node3 ], $term + 1, $writer);
RaftFailover::stop_writer($writer);
$faults->restart($node1);

# 1. The rejoin fails; the node is up again, a primary, fenced.
ok( RaftFailover::poll_true($node1,
		"SELECT rejoin_state = 'failed' FROM raft_ext.raft_status"),
	'rejoin_state becomes failed');
$node1->_update_pid(1);
my ($error, $recovery, $t1) = RaftTest::row($node1,
	'SELECT rejoin_error, in_recovery, term FROM raft_ext.raft_status');
like($error, qr/wal_log_hints/, "rejoin_error names the cause: $error");
like($error, qr/^the re-clone failed: role "no_such_role" does not exist; it followed: pg_rewind/, 'and why the re-clone failed');
is($recovery, 'f', 'node1 is still a primary');
RaftFailover::expect_write_refused($node1, 'node1 after the failed rejoin');

# 2. Retried after a pause, and still fenced.
my $deadline = time() + 60;
my $retried = 0;
while (time() < $deadline && !$retried)
{
	$retried = $node1->log_contains(qr/rejoining as its standby\n.*DETAIL:  Attempt 2;/);
	usleep(200_000) unless $retried;
}
ok($retried, 'the worker retried (attempt 2)');
# The retry's status file says "started" first, then "failed" again once
# the server is up again.
$deadline = time() + 60;
my $restarted_twice = 0;
while (time() < $deadline && !$restarted_twice)
{
	$restarted_twice = $node1->log_contains(qr/again as it was.*again as it was/s);
	usleep(200_000) unless $restarted_twice;
}
ok($restarted_twice, 'the retry started the server again as it was');
ok( RaftFailover::poll_true($node1,
		"SELECT rejoin_state = 'failed' AND rejoin_error LIKE '%wal_log_hints%' FROM raft_ext.raft_status", 60),
	'the retry failed the same way');
$node1->_update_pid(1);
RaftFailover::expect_write_refused($node1, 'node1 after the retry');

# 3. The Raft state survived.
my ($t2) = RaftTest::row($node1, 'SELECT term FROM raft_ext.raft_status');
cmp_ok($t2, '>=', $t1, "node1's term did not go back ($t1 -> $t2)");

$_->stop for @nodes;
done_testing();
