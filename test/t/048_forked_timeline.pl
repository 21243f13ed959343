# Copyright: the raft_ext authors.

# A forked timeline never wins an election over the member holding the
# timeline history (the review's scenario, issue 18 item 1).
#
# Three nodes in raft_ext.synchronous = quorum with auto_promote,
# auto_follow and auto_rejoin (auto_rejoin off on node3 until step 4, so
# that its fork stays in place for the election):
#  1. node1 leads on timeline 1 and records it in the timeline history;
#  2. node3 is promoted behind Raft's back (pg_promote()): timeline 2,
#     which no majority recorded.  It is fenced (its writes refused), and
#     the leader says that member 3 is on a forked timeline;
#  3. node1 commits a row that node2 acknowledges (ANY 1 of the others);
#     then node1 is killed.  Node3 has the higher timeline number and,
#     with its end-of-recovery checkpoint and some WAL of its own, the
#     higher LSN: under the old timeline-first rule it won.  Now node2,
#     which holds the history, is elected and promoted, and has the row;
#  4. node3 is rewound by auto_rejoin (onto node2, or node2 onto it: while
#     node3 is down node2 has no majority, and the next election may go
#     either way); writes resume, both hold every acknowledged row and none
#     the fork was asked for, and the history on every member ends with the
#     final primary's timeline.
# The invariant checker runs throughout.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftFailover::create_cluster(3,
	auto_rejoin => 'on',
	conf => { 3 => "raft_ext.auto_rejoin = off\n" });
my ($node1, $node2, $node3) = @nodes;
# Quorum mode once the standbys stream (a lone primary's commits would wait).
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}
my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);

# 1. node1 leads on timeline 1, recorded in the history.
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'node1 leads as primary');
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 AND bool_and(committed) AND min(timeline) = 1
		    FROM raft_ext.raft_timeline_history}),
	'timeline 1 is the committed first step of the history');
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT current_setting('synchronous_standby_names') = 'ANY 1 ("node2", "node3")'}),
	'quorum mode names the two standbys');

# 2. node3 promoted behind Raft's back.
$node3->safe_psql('postgres', 'SELECT pg_promote(true, 60)');
ok(RaftFailover::is_primary($node3), 'node3 is out of recovery');
my ($ret, $out, $err) = RaftFailover::sql($node3,
	'INSERT INTO fo_rows (i) VALUES (900)');
isnt($ret, 0, 'node3 (forked, not leading) refuses writes');
like($err, qr/25006|read-only/, 'with SQLSTATE 25006 (read-only)');
# Its own WAL (a checkpoint and some WAL traffic the fence does not block)
# runs past node1's: LSN alone would rank it first.
$node3->safe_psql('postgres',
	'CHECKPOINT; SELECT pg_switch_wal(); CHECKPOINT; SELECT pg_switch_wal();');
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT timeline_standing = 'forked' FROM raft_ext.raft_cluster
		   WHERE member_id = 3}),
	'the leader sees member 3 on a forked timeline (raft_cluster)');
ok( $node3->poll_query_until(
		'postgres',
		q{SELECT timeline_standing = 'forked' FROM raft_ext.raft_status}),
	'node3 says it is on a forked timeline (raft_status)');
ok($node1->log_contains('member 3 is on a forked timeline'),
	'the leader logs that member 3 is forked');

# 3. an acknowledged row on timeline 1, then the leader dies.
$node1->safe_psql('postgres', 'INSERT INTO fo_rows (i) VALUES (1001)');
is($node2->safe_psql('postgres', 'SELECT count(*) FROM fo_rows WHERE i = 1001'),
	'1', 'node2 acknowledged row 1001 (it holds it)');
my ($ret3, $lsn3) = RaftFailover::sql($node3, 'SELECT pg_current_wal_insert_lsn()');
my $lsn2 = $node2->safe_psql('postgres', 'SELECT pg_last_wal_receive_lsn()');
note("at the kill: node2 received $lsn2, node3 (forked) inserted $lsn3");
$faults->kill9($node1);

my ($new) = RaftFailover::wait_primary([ $node2, $node3 ]);
ok(defined $new, 'a primary is elected among the survivors');
is($new->name, 'node2', 'the member holding the history wins, not the fork');
is($node2->safe_psql('postgres', 'SELECT count(*) FROM fo_rows WHERE i = 1001'),
	'1', 'the new primary has the acknowledged row');
($ret) = RaftFailover::sql($node3, 'INSERT INTO fo_rows (i) VALUES (901)');
isnt($ret, 0, 'the fork still refuses writes');
my $tl2 = $node2->safe_psql('postgres', 'SELECT timeline FROM raft_ext.raft_status');
cmp_ok($tl2, '>', 2, "the new primary picked a timeline id ($tl2) past the fork's");
is($tl2 % 64, 2, 'one that is its own modulo 64 (no other member can pick it)');

# 4. the fork is rewound and the cluster is whole again.  While node3 is
# down for its rewind, node2 alone has no majority and steps down; the
# next election may go to either of them (both then hold the history), so
# the final primary is whichever leads.  In quorum mode writes need a
# standby: they resume once the rewound node3 streams.
$node3->append_conf('postgresql.conf', "raft_ext.auto_rejoin = on\n");
$node3->reload;
my $inserted = 0;
my $deadline = time() + 180;
while (!$inserted && time() < $deadline)
{
	my ($p) = RaftFailover::wait_primary([ $node2, $node3 ]);
	next unless defined $p;
	($ret) = RaftFailover::sql($p,
		'INSERT INTO fo_rows (i) VALUES (1002) ON CONFLICT DO NOTHING',
		timeout => 15);
	$inserted = $ret == 0;
}
ok($inserted, 'writes are acknowledged again once the fork has rejoined');
# Leadership may still move: each rejoin stops a node, the other then has no
# majority, and the rewound one may win the next election (then the other
# rejoins in turn).  The final primary is the one the cluster settles on.
my $final = RaftFailover::wait_settled([ $node2, $node3 ], 180);
ok(defined $final, 'the cluster settles: one primary, the other streams from it');
$final //= $node2;
for my $node ($node2, $node3)
{
	ok( RaftFailover::poll_true($node,
			'SELECT count(*) = 2 FROM fo_rows WHERE i IN (1001, 1002)'),
		$node->name . ' has the acknowledged rows of both primaries');
	is($node->safe_psql('postgres',
			'SELECT count(*) FROM fo_rows WHERE i IN (900, 901)'),
		'0', $node->name . ': nothing the fork was asked to write exists');
}
my $want = $final->safe_psql('postgres',
	q{SELECT timeline FROM raft_ext.raft_status});
my $want_id = RaftTest::raft_id($final);
for my $node ($node2, $node3)
{
	ok( RaftFailover::poll_true($node,
			qq{SELECT bool_and(committed) AND max(timeline) = $want
			     AND (SELECT node_id FROM raft_ext.raft_timeline_history
			           ORDER BY step DESC LIMIT 1) = $want_id
			     FROM raft_ext.raft_timeline_history}),
		$node->name . "'s history ends with the final primary's timeline $want");
}

$faults->restart($node1);
ok(defined RaftFailover::wait_whole([ $node1, $node2, $node3 ], $final, 180),
	'the old primary rejoins as a standby of the final primary');
$checker->stop_and_check;
done_testing();
