# Copyright: the raft_ext authors.

# raftctl reinit and raftctl remove on a live three-node cluster in
# raft_ext.synchronous = quorum:
#  1. reinit of a member whose data directory is damaged (killed, base/ and
#     pg_control deleted): re-cloned from the primary, it streams again as
#     the same member (node id, Raft state kept) and holds every row;
#  2. reinit refusals, each leaving the cluster as it was: the leader's own
#     directory (the primary keeps running), a directory that is gone (its
#     Raft state with it: remove and join instead), bad usage;
#  3. remove refusals: the leader (switch over first), bad usage;
#  4. remove of a standby: the leader's membership no longer names it, the
#     synchronous quorum is lowered after (ANY 1 of the other two, then
#     nothing with two voters); removing it again is a no-op that succeeds.

use strict;
use warnings;

use File::Path qw(rmtree);
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3);
my ($primary) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads') or RaftTest::give_up('no primary');
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}
my @standbys = grep { $_ != $primary } @nodes;
my ($victim, $other) = @standbys;
my $victim_id = RaftTest::raft_id($victim);
my $from = $primary->connstr('postgres');

# Run raftctl; returns (exit code, stdout, stderr).
sub raftctl
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'raftctl', @args ], '<', \undef, '>', \$out, '2>', \$err);
	note("raftctl @args[ 2 .. $#args ]: exit " . ($? >> 8) . "\n$out$err");
	return ($? >> 8, $out, $err);
}

# synchronous_standby_names on the primary becomes 'want'.
sub wait_sync_names
{
	my ($want, $what) = @_;
	(my $q = $want) =~ s/'/''/g;
	ok( $primary->poll_query_until('postgres',
			"SELECT current_setting('synchronous_standby_names') = '$q'"),
		"$what: synchronous_standby_names is '$want'")
	  or diag('it is: ' . $primary->safe_psql('postgres', 'SHOW synchronous_standby_names'));
	return;
}

my ($ret, $out, $err) = RaftFailover::sql($primary,
	'INSERT INTO fo_rows (i) SELECT g FROM generate_series(1, 1000) g');
is($ret, 0, 'rows are written in quorum mode') or diag($err);
$primary->wait_for_catchup($_) for @standbys;
my $term_before = $victim->safe_psql('postgres', 'SELECT term FROM raft_status');

# 1. A damaged member is re-cloned.
RaftTest::kill9($victim);
my $pgdata = $victim->data_dir;
# the machine's processes are gone before its disk is found damaged
for (1 .. 300)
{
	last if system("pg_ctl status -D '$pgdata' >/dev/null 2>&1") != 0;
	Time::HiRes::usleep(100_000);
}
rmtree("$pgdata/base");
unlink("$pgdata/global/pg_control");
($ret, $out, $err) = raftctl('reinit', '-D', $pgdata, '--from', $from, '--force');
is($ret, 0, 'reinit of a damaged member succeeds') or diag($err);
$victim->_update_pid(1);    # the rejoin helper started it
like($out, qr/re-cloning \Q$pgdata\E from node \d+/, '... saying where it clones from');
ok(RaftFailover::wait_follows($victim, $primary),
	'the re-cloned member streams from the primary');
is($victim->safe_psql('postgres', 'SHOW raft_ext.node_id'), $victim_id,
	'... with its own node id');
cmp_ok($victim->safe_psql('postgres', 'SELECT term FROM raft_status'), '>=', $term_before,
	'... and its Raft state (its term did not go back)');
# the helper starts it with its log in the data directory
ok(slurp_file("$pgdata/raft_ext_rejoin.server.log") !~ /belongs to node/,
	'... not taken for another incarnation');
$primary->wait_for_catchup($victim);
is($victim->safe_psql('postgres', 'SELECT count(*) FROM fo_rows'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM fo_rows'),
	'... and it holds every row');
ok(!-e "$pgdata.rejoin-old" && !-e "$pgdata.rejoin-save",
	'nothing of the old directory is left beside it');

# 2. reinit refusals.
($ret, $out, $err) = raftctl('reinit', '-D', $primary->data_dir, '--from', $from, '--force');
is($ret, 4, 'reinit of the leader\'s own directory is refused');
like($err, qr/leads the cluster: it is not re-cloned/, '... saying that it leads');
ok(RaftFailover::is_primary($primary), '... and the primary still runs as the primary');
($ret, $out, $err) = raftctl('reinit', '-D', "$pgdata.gone", '--from', $from, '--force');
is($ret, 4, 'reinit of a directory that is gone is refused');
like($err, qr/Raft state .* is gone too.*--node-id and --address .* to remove the member and join it again/s,
	'... asking for the options that remove it and join it again');
($ret, $out, $err) = raftctl('reinit', '--from', $from);
is($ret, 64, 'reinit without -D is a usage error');
($ret, $out, $err) = raftctl('reinit', '-D', $pgdata);
is($ret, 64, 'reinit without --from is a usage error');

# 3. remove refusals.
my $leader_id = RaftTest::raft_id($primary);
($ret, $out, $err) = raftctl('-d', $from, 'remove', $leader_id, '--force');
is($ret, 4, 'remove of the leader is refused');
like($err, qr/switchover --to \d+/, '... pointing to a switchover first');
($ret, $out, $err) = raftctl('-d', $from, 'remove');
is($ret, 64, 'remove without an id is a usage error');
($ret, $out, $err) = raftctl('-d', $from, 'remove', 'three');
is($ret, 64, 'remove of a non-number is a usage error');
($ret, $out, $err) = raftctl('-d', $from, 'remove', $victim_id);
is($ret, 4, 'a removal nobody confirms is refused');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM raft_peers'), 3,
	'... and all three are members still');

# 4. remove a standby.
(my $pair = join ', ', map { '"node' . RaftTest::raft_id($_) . '"' }
	  sort { RaftTest::raft_id($a) <=> RaftTest::raft_id($b) } @standbys);
wait_sync_names("ANY 1 ($pair)", 'three voters');
($ret, $out, $err) = raftctl('-d', $from, 'remove', $victim_id, '--force');
is($ret, 0, 'remove of a standby succeeds') or diag($err);
like($out, qr/node $victim_id is no longer a member: 2 voters remain/, '... and says so');
is($primary->safe_psql('postgres',
		"SELECT count(*) FROM raft_peers WHERE peer_id = $victim_id"), 0,
	'the leader no longer names it');
wait_sync_names('', 'two voters');
($ret, $out, $err) = RaftFailover::sql($primary, 'INSERT INTO fo_rows (i) VALUES (-1)');
is($ret, 0, 'writes are acknowledged after the removal') or diag($err);
($ret, $out, $err) = raftctl('-d', $from, 'remove', $victim_id, '--force');
is($ret, 0, 'removing it again succeeds');
like($out, qr/not a member .*nothing to remove/, '... as a no-op');

$_->stop('immediate') for @nodes;
done_testing();
