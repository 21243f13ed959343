
# Copyright: the raft_ext authors.

# A standby made with pg_basebackup gets a copy of the primary's Raft state
# directory: the primary's term, its vote and its log.  The standby has its
# own node id, so it must not inherit any of it -- a vote the primary gave is
# not a vote the standby gave.  Its worker moves the copied directory aside
# (and says so in the log), starts with term 0, no vote and an empty log, and
# joins the cluster as a follower.
#
# Members: node 1 (primary, streaming), node 3 (a second voter, so that
# nodes 1 and 3 elect a leader and node 1 really votes before the copy), and
# node 2 (the standby cloned from node 1).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

# Decode a version 1 state file (see src/storage_state.c): node id, term,
# voted_for.
sub read_state_file
{
	my ($path) = @_;
	my $data = RaftTest::slurp_bytes($path);
	die "$path: unexpected length " . length($data) unless length($data) == 104;
	my $node = unpack('V', substr($data, 12, 4));
	my ($lo, $hi) = unpack('VV', substr($data, 80, 8));
	my $voted = unpack('V', substr($data, 88, 4));
	return { node_id => $node, term => $hi * 2**32 + $lo, voted_for => $voted,
		bytes => $data };
}

# Where a node keeps its Raft state.
sub state_dir
{
	my ($node, $dir) = @_;
	return $dir =~ m{^/} ? $dir : $node->data_dir . "/$dir";
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
my $standby = PostgreSQL::Test::Cluster->new('standby');
my $witness = PostgreSQL::Test::Cluster->new('witness');
$primary->{raft_id} = 1;
$standby->{raft_id} = 2;
$witness->{raft_id} = 3;
my @all = ($primary, $standby, $witness);

my $peers = RaftTest::peers_value(@all);
# The witness is a separate initdb: its default cluster name (from the
# system identifier) would not be the primary's, so name the cluster.
my $common = "shared_preload_libraries = 'raft_ext'\n"
  . "raft_ext.cluster_name = 'cloned'\n"
  . "raft_ext.peers = '$peers'\n"
  . RaftTest::timing_conf();

$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $common . "raft_ext.node_id = 1\n");
$witness->init;
$witness->append_conf('postgresql.conf', $common . "raft_ext.node_id = 3\n");
$primary->start;
$witness->start;
$_->safe_psql('postgres', 'CREATE EXTENSION raft_ext') for ($primary, $witness);
my $witness_system =
  $witness->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()');

# Nodes 1 and 3 are a majority of three: they elect a leader, and node 1
# votes (for itself or for node 3) in that term.
my ($leader, $term) = RaftTest::wait_for_leader([ $primary, $witness ]);
ok(defined $leader, 'nodes 1 and 3 elect a leader');

my $dir_setting =
  $primary->safe_psql('postgres', 'SHOW raft_ext.state_directory');

# 1. Clone node 1.  What the copy holds is what node 2 must not inherit.
$primary->backup('clone');
my $copied_dir = $primary->backup_dir . "/clone/$dir_setting";
SKIP:
{
	skip 'state directory outside the data directory is not copied', 1
	  if $dir_setting =~ m{^/};
	ok(-f "$copied_dir/state", 'the base backup carries node 1\'s state file');
}
my $source = read_state_file("$copied_dir/state");
is($source->{node_id}, 1, 'the copied state belongs to node 1');
cmp_ok($source->{term}, '>=', 1, 'node 1 had a term when it was copied');
isnt($source->{voted_for}, 0, 'node 1 had voted when it was copied');
note("copied state: term $source->{term}, voted for $source->{voted_for}");

# 2. Start the clone as node 2, a streaming standby.
$standby->init_from_backup($primary, 'clone', has_streaming => 1);
$standby->append_conf('postgresql.conf', "raft_ext.node_id = 2\n");
$standby->start;

$standby->wait_for_log(
	qr/raft state directory "[^"]*" belongs to node 1, not to this node \(2\); moved it to "[^"]*"/,
	0);
pass('the standby logs that it moved the copied state aside');

my $own_dir = state_dir($standby, $dir_setting);
my @moved = glob("$own_dir.from-node-1.*");
is(scalar(@moved), 1, 'the copied directory was moved aside, not deleted');
is(read_state_file("$moved[0]/state")->{bytes},
	$source->{bytes}, 'the moved directory holds the copied state unchanged');
is(read_state_file("$own_dir/state")->{node_id},
	2, 'the new state directory is stamped with node 2');

# 3. Node 2 joins as a follower of the cluster's leader.
($leader, $term) = RaftTest::wait_for_leader(\@all);
ok(defined $leader, 'all three nodes agree on a leader');
$standby->poll_query_until('postgres',
	"SELECT role = 'follower' AND coalesce(error, '') = '' FROM raft_status")
  or die 'the standby did not become a healthy follower';
is($standby->safe_psql('postgres', 'SELECT in_recovery FROM raft_status'),
	't', 'node 2 is a standby in recovery');

# 4. Node 2 never claims node 1's vote: in the copied term, it has voted for
# nobody (it took part in no election there); in a later term any vote is
# its own.  Its durable state says the same as its view.
my ($st_term, $st_vote) = split /\|/,
  $standby->safe_psql('postgres',
	"SELECT term, coalesce(voted_for, 0) FROM raft_status");
cmp_ok($st_term, '>=', $source->{term}, 'node 2 learned the cluster\'s term');
if ($st_term == $source->{term})
{
	is($st_vote, 0, 'node 2 has not voted in the copied term');
}
else
{
	pass('node 2 is in a later term than the copied one');
}

$standby->stop;
my $after = read_state_file("$own_dir/state");
is($after->{node_id}, 2, 'node 2\'s state file is its own after a restart');
ok(!($after->{term} == $source->{term}
		&& $after->{voted_for} == $source->{voted_for}
		&& $source->{voted_for} != 0),
	'node 2\'s durable vote is not the copied vote of node 1');

# 5. Restarting node 2 keeps its own state: nothing is moved aside again.
my $offset = -s $standby->logfile;
$standby->start;
($leader, $term) = RaftTest::wait_for_leader(\@all);
ok(defined $leader, 'node 2 rejoins after a restart');
ok(!$standby->log_contains(qr/belongs to node/, $offset),
	'node 2 keeps its own state across a restart');
is(scalar(() = glob("$own_dir.from-node-*")), 1,
	'only the one copied directory was ever moved aside');

# 6. The witness is a member of its own database system (another initdb).
# When it is not the leader, auto_rejoin (on by default) tries to make it the
# leader's standby; pg_rewind cannot, and a re-clone would replace another
# system's data: the helper refuses, and the witness keeps its own data.
# (The helper stops the witness for a moment on each attempt.)
$witness->poll_query_until('postgres', 'SELECT true')
  or die 'the witness does not answer';
is($witness->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()'),
	$witness_system, 'the witness keeps its own database system');
my ($rejoin_state, $rejoin_error) = split /\|/,
  $witness->safe_psql('postgres',
	"SELECT coalesce(rejoin_state, ''), coalesce(rejoin_error, '') FROM raft_status");
note("witness rejoin_state: '$rejoin_state', rejoin_error: '$rejoin_error'");
if ($rejoin_state eq 'failed')
{
	like($rejoin_error, qr/belongs to another database system/,
		'the rejoin helper refused to re-clone a data directory of another system');
}
else
{
	unlike($rejoin_state, qr/^(done|recloning)$/, 'the witness was not re-cloned');
}

$_->stop for @all;
done_testing();
