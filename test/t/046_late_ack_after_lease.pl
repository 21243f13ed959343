# Copyright: the raft_ext authors.

# raft_ext.synchronous = quorum: a commit in flight on the primary when its
# Raft worker stalls is never acknowledged once another leader has been
# elected (docs/fencing.md, "No acknowledgement after the lease").
#
# A primary (node1) and two standbys, auto_promote and auto_follow on,
# except node3: failover_priority 0 and auto_follow off, so that it is never
# elected and keeps streaming from node1 (the standby "still streaming from
# the old primary" of the hazard).  Rows 1..5 are acknowledged.  Both
# standbys' WAL receivers are stopped (SIGSTOP), so that INSERT 1001 passes
# the fence and then waits for the synchronous quorum; node1's worker
# stalls (failpoint "stall": no heartbeat, no publication, while its WAL
# senders run on).  node2 is elected (with node3's vote); then the WAL
# receivers continue, node3 flushes INSERT 1001 from node1 and releases
# node1's wait, the worker still stalled.  The
# commit completed outside the lease it passed the fence with, so node1
# withholds the acknowledgement: the client sees the connection end, never
# "INSERT 0 1".  (Before the lease identity, the fence only warned, and the
# client got a success the new primary may not have.)  Then the stall ends,
# a primary leads (node2, or node1 again if node2 handed leadership back
# before promoting), and it has every acknowledged row.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftFailover;
use RaftTest;
use Test::More;

my @nodes = RaftFailover::create_cluster(3,
	conf => { 3 => "raft_ext.failover_priority = 0\nraft_ext.auto_follow = off\n" });
my ($node1, $node2, $node3) = @nodes;
my ($primary) = RaftFailover::wait_primary(\@nodes);
is($primary->name, 'node1', 'the primary leads') or RaftTest::give_up('no primary');

for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT current_setting('synchronous_standby_names') LIKE 'ANY 1 (%'}),
	'the primary waits for one of the two standbys');
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT count(*) = 2 FROM pg_stat_replication WHERE sync_state = 'quorum'}),
	'both standbys are quorum candidates');

# Acknowledged rows (in a session opened under the lease).
my @acked;
for my $i (1 .. 5)
{
	RaftFaults::poll_until(
		sub {
			my ($ret) = RaftFailover::sql($node1,
				"INSERT INTO fo_rows (i) VALUES ($i)", timeout => 10);
			return $ret == 0;
		},
		"row $i") or next;
	push @acked, $i;
}
is(scalar(@acked), 5, 'rows 1..5 are acknowledged');

# Stop (and, at the end whatever happens, continue) the WAL receivers.
my @stopped;
END { kill 'CONT', @stopped if @stopped; }
for my $standby ($node2, $node3)
{
	my $pid =
	  $standby->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver');
	ok($pid =~ /^\d+$/, $standby->name . ' has a WAL receiver') or next;
	kill 'STOP', $pid;
	push @stopped, $pid;
}

# INSERT 1001 passes the fence and waits for the standbys.
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-X', '-d', $node1->connstr('postgres'),
		'-c', 'INSERT INTO fo_rows (i) VALUES (1001)'
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout(3 * $PostgreSQL::Test::Utils::timeout_default));
ok( $node1->poll_query_until(
		'postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'}),
	'INSERT 1001 waits for synchronous replication');

# node1's worker stalls; the standbys elect one of them.
my $log_from = -s $node1->logfile;
$node1->safe_psql('postgres', "SELECT raft_ext.fault_failpoint('stall')");
my $elected = RaftFaults::poll_until(
	sub {
		for my $standby ($node2, $node3)
		{
			my ($ret, $out) = RaftFailover::sql($standby,
				q{SELECT role = 'leader' AND has_lease FROM raft_ext.raft_status},
				timeout => 5);
			return $standby if $ret == 0 && $out eq 't';
		}
		return undef;
	},
	'a standby leads with the lease');
ok($elected, 'a standby is elected while node1 stalls');

# The WAL receivers continue: one still streams from node1 and releases
# the wait, with node1's worker still stalled.
kill 'CONT', @stopped;
@stopped = ();
my $finished = RaftFaults::poll_until(sub { eval { $h->pump_nb }; !$h->pumpable }, 'INSERT 1001 ends',
	$PostgreSQL::Test::Utils::timeout_default);
ok($finished, "node3 releases INSERT 1001's wait while node1's worker stalls");

# End the stall (node1 then ends what still waits: not acknowledged either).
$node1->safe_psql('postgres', 'SELECT raft_ext.fault_clear()');
$h->finish;
my $rc = $h->result;
unlike($out, qr/INSERT 0 1/,
	'INSERT 1001 is not acknowledged after another leader was elected');
isnt($rc, 0, 'psql reports a failure');
like($err, qr/server closed the connection|connection to server was lost|terminating connection/,
	'the client sees the connection end');
ok( $node1->wait_for_log(
		qr/terminating connection because its commit completed outside this node's lease/,
		$log_from),
	'node1 says why it did not acknowledge');

# A primary leads again, and it has every acknowledged row.  Usually node2,
# elected during the stall, has promoted; but if the stall ends before it
# does, node1 holds WAL that node2 lacks (INSERT 1001, flushed by node3),
# and node2 hands leadership back to it rather than fork a timeline that
# would lose it: either is right.
my ($new) = RaftFailover::wait_primary(\@nodes);
ok(defined $new, 'a primary leads after the stall: ' . ($new ? $new->name : 'none'));
if ($new)
{
	my ($ret, $rows) = RaftFailover::sql($new,
		'SELECT i FROM fo_rows WHERE i BETWEEN 1 AND 5 ORDER BY i');
	is($rows, join("\n", @acked), 'the primary has every acknowledged row');
}

$_->stop for @nodes;
done_testing();
