# Copyright: the raft_ext authors.

# A planned switchover completes while the primary holds WAL it has not
# flushed.
#
# WAL senders send only flushed WAL, and the WAL writer flushes a partly
# filled page only up to the last asynchronous commit, so the WAL of an open
# transaction can stay unflushed for as long as the transaction stays open.
# A primary's Raft position is therefore its flush position: a transfer
# that waited for the target to reach the primary's insert position would
# wait for WAL the target can never receive and be abandoned ("leadership
# transfer ... did not complete"), as the first switchover of a fresh
# benchmark cluster was.
#
#  1. a transaction on the primary inserts rows and stays open: the insert
#     position is ahead of the flush position, and the position the node
#     gives Raft (raft_status.wal_position) is the flush position;
#  2. raft_ext.transfer_leadership(2) succeeds at the first request: node2
#     leads and promotes;
#  3. the old primary demotes and rejoins without pg_rewind (auto_rejoin),
#     and every node streams from node2.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3, auto_rejoin => 'on');
my ($node1, $node2) = @nodes;
my $checker = RaftChecker->start(\@nodes);
my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
is($primary->name, 'node1', 'node1 is the primary');

# An open transaction whose rows are inserted but never committed.
my ($in, $out, $err) = ('', '', '');
my $open = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node1->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$in .= "BEGIN;\nINSERT INTO fo_rows (i) SELECT g FROM generate_series(1000, 1020) g;\n";
$open->pump while length $in;
ok( $node1->poll_query_until(
		'postgres',
		'SELECT pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn()'),
	'node1 holds WAL it has not flushed');

# What node1 tells Raft: its flush position, what its standbys can have.
my ($rc, $positions) = RaftFailover::sql($node1,
	'SELECT wal_position, pg_current_wal_flush_lsn(), pg_current_wal_insert_lsn() FROM raft_status');
my ($told, $flushed, $inserted) = split /\|/, $positions // '';
is($told, $flushed, "node1's Raft position is its flush position ($flushed)");
isnt($told, $inserted, "not its insert position ($inserted)");
my ($ret, undef, $stderr) =
  RaftFailover::sql($node1, 'SELECT raft_ext.transfer_leadership(2)', timeout => 30);
is($ret, 0, 'the transfer to node2 completes at the first request')
  or diag($stderr);

my ($new) = RaftFailover::wait_primary(\@nodes, min_term => $term + 1);
ok(defined $new && $new == $node2, 'node2 leads and is primary');
ok(defined RaftFailover::wait_whole(\@nodes, $node2, 60),
	'every node streams from node2');
my $log = slurp_file($node1->logfile);
like($log, qr/raft_ext_rejoin\[\d+\]: no rewind needed/,
	'node1 rejoined without pg_rewind');

$open->kill_kill;
$checker->stop_and_check;
$_->stop for @nodes;
done_testing();
