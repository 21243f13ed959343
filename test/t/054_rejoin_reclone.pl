# Copyright: the raft_ext authors.

# A rejoin after a real write volume: pg_rewind cannot rewind a former
# primary whose WAL from before the fork was recycled, and the rejoin
# helper re-clones it (raft_ext.rejoin_reclone).
#
# No WAL kept on purpose (wal_keep_size = 0), no automatic checkpoint during
# the load.  The primary checkpoints, writes over 64 MB of WAL (several
# segments), and is killed with kill -9; a standby takes over.
# Restarted, the killed node's end-of-recovery checkpoint recycles the
# segments that held its last checkpoint before the fork, which pg_rewind
# needs (the issue's "could not open file .../pg_wal/...").
#  1. with rejoin_reclone off it stays a fenced primary, rejoin_state
#     failed, rejoin_error giving pg_rewind's reason;
#  2. with rejoin_reclone on (reload) the next attempt re-clones it with
#     pg_basebackup: it streams from the new primary, holds every row, and
#     kept its own node id, configuration and Raft state.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftFaults;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftFailover::create_cluster(3, auto_rejoin => 'on',
	extra_conf => "wal_keep_size = 0\nlog_connections = on\n"
	  . "max_wal_size = '1GB'\n"
	  . "min_wal_size = '32MB'\n"
	  . "checkpoint_timeout = '1h'\n");
my $faults = RaftFaults->new(\@nodes);
my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads') or RaftTest::give_up('no primary');

$primary->safe_psql('postgres', 'CREATE TABLE big (i int, pad text); CHECKPOINT');
my $lsn0 = $primary->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$primary->safe_psql('postgres',
	"INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(1, 66000) g");
my $bytes = $primary->safe_psql('postgres',
	"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')");
cmp_ok($bytes, '>', 64 * 1024 * 1024, "the load wrote $bytes bytes of WAL since the checkpoint (64 MB and more)");

$primary->append_conf('postgresql.conf', "raft_ext.rejoin_reclone = off\n");
$faults->kill9($primary);
my @survivors = grep { $_ != $primary } @nodes;
my ($new, $new_term) = RaftFailover::wait_primary(\@survivors, min_term => $term + 1);
ok(defined $new, 'a standby takes over') or RaftTest::give_up('no failover');
my ($ret) = RaftFailover::sql($new, 'INSERT INTO big VALUES (0, \'after the failover\')');
is($ret, 0, 'the new primary takes writes');
my $rows = $new->safe_psql('postgres', 'SELECT count(*) FROM big');

# 1. rejoin_reclone off: the rewind fails and the node stays fenced.
my $offset = -s $primary->logfile;
$faults->restart($primary);
ok(RaftFailover::poll_true($primary,
		"SELECT rejoin_state = 'failed' FROM raft_ext.raft_status", 90),
	'with rejoin_reclone off the rejoin fails');
my ($error) = RaftTest::row($primary, 'SELECT rejoin_error FROM raft_ext.raft_status');
like($error, qr/pg_rewind/, "rejoin_error gives pg_rewind's reason: $error");
is(join(',', RaftTest::row($primary, 'SELECT pg_is_in_recovery(), has_lease FROM raft_ext.raft_status')),
	'f,f', 'it is still a primary, without the lease (fenced)');

# 2. rejoin_reclone on: the next attempt re-clones it.
my ($node_id, $vterm) = RaftTest::row($primary, 'SELECT node_id, term FROM raft_ext.raft_status');
my $source_offset = -s $new->logfile;
$primary->safe_psql('postgres',
	'ALTER SYSTEM SET raft_ext.rejoin_reclone = on; SELECT pg_reload_conf()');
my $took = RaftFailover::wait_whole(\@nodes, $new, 180);
ok(defined $took, $primary->name . ' rejoins as a standby of ' . $new->name . ' by a re-clone')
  or diag(slurp_file($primary->logfile, $offset));
RaftFailover::diag_timing('054 re-clone -> streaming again', $took);
my $log = slurp_file($primary->logfile, $offset);
like($log, qr/raft_ext_rejoin\[\d+\]: pg_rewind cannot rejoin this node \(.*\): re-cloning it from the source with pg_basebackup/,
	'the helper says why it re-clones');
like($log, qr/raft_ext_rejoin\[\d+\]: re-cloned from the source/, 'and that it did');
# Rule reclone_never_acks: pg_basebackup's connections carry a name of their
# own, so that its WAL stream, which reports what it wrote as flushed, is
# never taken for this member's synchronous standby ("node<id>").
my $source_log = slurp_file($new->logfile, $source_offset);
like($source_log,
	qr/replication connection authorized: user=\S+ application_name=raft_ext_reclone_/,
	'reclone_never_acks: the clone connects to the source as raft_ext_reclone_*');
ok(RaftFailover::poll_true($primary, "SELECT rejoin_state = 'done' FROM raft_ext.raft_status"),
	'rejoin_state is done');
my ($id_after, $term_after) = RaftTest::row($primary, 'SELECT node_id, term FROM raft_ext.raft_status');
is($id_after, $node_id, 'it kept its node id');
cmp_ok($term_after, '>=', $vterm, "it kept its Raft state (term $term_after >= $vterm)");
unlike(slurp_file($primary->logfile, $offset), qr/belongs to node \d+, not to this node/,
	'its Raft state directory is its own, not the source\'s');
ok($primary->poll_query_until('postgres', "SELECT count(*) = $rows FROM big"),
	"it holds every row of the new primary ($rows)");
ok(!-d $primary->data_dir . '.rejoin-old', 'the old data directory is gone');

$_->stop for @nodes;
done_testing();
