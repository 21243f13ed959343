# Copyright: the raft_ext authors.

# A planned switchover completes while the primary holds WAL it has not
# flushed.
#
# WAL senders send only flushed WAL, and the WAL writer flushes a partly
# filled page only up to the last asynchronous commit, so the WAL of an open
# transaction can stay unflushed for as long as the transaction stays open.
# A transfer waits until the target has everything the primary inserted
# (its Raft position is the insert position: a commit record inserted but
# still being flushed must reach the target too), so the worker flushes the
# inserted WAL while a transfer is under way.  Without that the transfer
# waited for WAL the target could never receive and was abandoned
# ("leadership transfer ... did not complete"), as the first switchover of
# a fresh benchmark cluster was.
#
#  1. a transaction on the primary inserts rows and stays open: the insert
#     position is ahead of the flush position;
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
use Time::HiRes qw(usleep);

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
$in .= "BEGIN;\n";
# Other sessions' WAL (the checker's hint bits, with wal_log_hints) can get
# the tail flushed at any time: insert again until the tail is unflushed,
# then ask for the transfer at once.
my $unflushed = 0;
for my $try (1 .. 50)
{
	$in .= "INSERT INTO fo_rows (i) SELECT g FROM generate_series("
	  . (1000 + 100 * $try) . ", " . (1050 + 100 * $try) . ") g;\n";
	$open->pump while length $in;
	my ($rc, $out) = RaftFailover::sql($node1,
		'SELECT pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn()');
	$unflushed = 1, last if $out eq 't';
	usleep(50_000);
}
ok($unflushed, 'node1 holds WAL it has not flushed');

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
