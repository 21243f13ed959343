# Copyright: the raft_ext authors.

# raft_ext.member_slots on a cluster made as the README makes it (raftctl
# init and join, which also bound max_slot_wal_keep_size):
#  1. the primary has a slot for each other member, "raft_node_<id>", and
#     each standby streams through its own; raftctl join cloned through it
#     (pg_basebackup -S raft_node_<id> -C); raft_cluster shows each slot
#     active with the WAL it retains, raftctl list in its Slot column;
#  2. kill -9 of the primary: the new primary has the slots of the other
#     two (the dead one's too), the other standby streams through its slot
#     there, and the old primary, restarted, rejoins and streams through
#     its own (and drops the slots it kept as the primary);
#  3. a standby down beyond max_slot_wal_keep_size (48MB here, wal_keep_size
#     0) while the
#     primary writes and checkpoints: its slot is lost, reported lost in
#     raft_cluster and in the log, and retains nothing; started again, the
#     standby rejoins (a re-clone) and streams through a new slot;
#  4. raftctl remove of a standby, then it stops: its slot is dropped (a
#     minute later);
#  5. raftctl join of a fourth member: cloned through its slot, which the
#     primary keeps once it is a member; it streams through it.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftCtlNodes;
use Test::More;

my $n = RaftCtlNodes->new(4);
my $base = $n->base;
my $wait_for = \&RaftCtlNodes::wait_for;

# Slots named raft_node_* on node $id: "id:active,id:inactive" (wal_status
# 'lost' shown as lost).
sub slots_on
{
	my ($id) = @_;
	return $n->value($id,
		q{SELECT coalesce(string_agg(substr(slot_name, 11) || ':' ||
		    CASE WHEN wal_status = 'lost' THEN 'lost' WHEN active THEN 'active' ELSE 'inactive' END,
		    ',' ORDER BY slot_name), '')
		  FROM pg_replication_slots WHERE slot_name ~ '^raft_node_[0-9]+$'});
}

# The slot node $id's WAL receiver streams through ('' if none or not streaming).
sub streams_through
{
	my ($id) = @_;
	return $n->value($id,
		q{SELECT coalesce(slot_name, '') FROM pg_stat_wal_receiver WHERE status = 'streaming'});
}

# raft_cluster's slot column for member $member, on node $id.
sub cluster_slot
{
	my ($id, $member) = @_;
	return $n->value($id,
		"SELECT coalesce(slot, '') || ' ' || coalesce(slot_retained_bytes::text, '') "
		  . "FROM raft_ext.raft_cluster WHERE member_id = $member");
}

sub kill9
{
	my ($id) = @_;
	my ($pid) = split /\n/, slurp_file($n->dir($id) . '/postmaster.pid');
	my @children = split /\s+/, `pgrep -P $pid`;
	kill 'KILL', $pid;
	return ($pid, @children);
}

sub start
{
	my ($id) = @_;
	return system('pg_ctl', '-D', $n->dir($id), '-l', $n->dir($id) . '.raft_ext/postgresql.log',
		'-w', '-t', '60', 'start') == 0;
}

sub join_node
{
	my ($id, $from) = @_;
	my ($rc, $out, $err) = $n->raftctl('join', '-D', $n->dir($id), '--node-id', $id,
		'--address', '127.0.0.1:' . $n->port($id), '--from', $from,
		'--password-file', $n->dir(1) . '.raft_ext/pgpass');
	is($rc, 0, "raftctl join makes node $id") or diag("$out\n$err");
	return $out;
}

# 1. three members
my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1));
is($rc, 0, 'raftctl init makes node 1') or diag("$out\n$err");
is($n->value(1, 'SHOW max_slot_wal_keep_size'), '4GB', 'raftctl bounds max_slot_wal_keep_size');
my $from = $n->local_conninfo(1);
$out = join_node(2, $from);
like($out, qr/pg_basebackup .* -S raft_node_2 -C/, 'node 2 is cloned through its slot');
join_node(3, $from);
ok($wait_for->(sub { slots_on(1) eq '2:active,3:active' }, 60),
	'the primary has an active slot for each standby') or diag(slots_on(1));
ok($wait_for->(sub { streams_through(2) eq 'raft_node_2' && streams_through(3) eq 'raft_node_3' }, 60),
	'each standby streams through its own slot');
like(cluster_slot(1, 2), qr/^active \d+$/, 'raft_cluster shows node 2\'s slot active, with the WAL it retains');
ok($wait_for->(sub { cluster_slot(1, 3) =~ /^active \d+$/ }, 30), '... and node 3\'s')
  or diag(cluster_slot(1, 3) . ' / ' . $n->value(1, 'SELECT * FROM raft_ext.raft_cluster'));
is(cluster_slot(1, 1), ' ', '... and no slot for the primary itself');
is(cluster_slot(2, 3), ' ', 'a standby does not report slots');
# raftctl reaches every member over TCP with -d's credentials: a DBA's role
$n->sql(1, "CREATE ROLE dba SUPERUSER LOGIN PASSWORD 'dba-secret'");
sub admin
{
	my ($id) = @_;
	return 'host=127.0.0.1 port=' . $n->port($id)
	  . ' dbname=postgres user=dba password=dba-secret connect_timeout=3';
}
($rc, $out, $err) = $n->raftctl('-d', admin(1), 'list');
like($out, qr/^3\s+\|[^\n]*\| active\s+\| /m, 'raftctl list shows node 3\'s slot active') or diag($out);
($rc, $out, $err) = $n->raftctl('-d', admin(1), '-f', 'json', 'list');
like($out, qr/"id": 2, [^\n]*"slot": "active"/, '... and its JSON too');

# 2. kill -9 of the primary
$n->sql(1, 'CREATE TABLE w (i int PRIMARY KEY)');
$n->sql(1, 'INSERT INTO w SELECT generate_series(1, 1000)');
my @gone = kill9(1);
my $p;
ok($wait_for->(sub { $p = $n->primary; defined $p && $p != 1 }, 60), 'a new primary after kill -9 of node 1')
  or die 'no new primary';
my $other = $p == 2 ? 3 : 2;
ok($wait_for->(sub { slots_on($p) eq ($p == 2 ? "1:inactive,3:active" : "1:inactive,2:active") }, 60),
	"the new primary (node $p) has the slots of nodes 1 and $other, ${other}'s in use")
  or diag(slots_on($p));
ok($wait_for->(sub { streams_through($other) eq "raft_node_$other" }, 60),
	"node $other streams through its slot on node $p");
# made before the promotion, so that node $other's first connection found it
{
	my $log = slurp_file($n->dir($p) . '.raft_ext/postgresql.log');
	my $made = index($log, qq{created the member slot "raft_node_$other"});
	my $promoted = index($log, 'selected new timeline ID');
	ok($made >= 0 && $promoted >= 0 && $made < $promoted,
		"node $p made node ${other}'s slot before its promotion ended recovery")
	  or diag("slot made at $made, promotion at $promoted");
	unlike($log, qr/replication slot "raft_node_\d+" does not exist/,
		'... so no standby was refused for a missing slot');
}
$wait_for->(sub { !grep { -e "/proc/$_" } @gone }, 30);
ok(start(1), 'node 1 starts again');
ok($wait_for->(sub { streams_through(1) eq 'raft_node_1' }, 120),
	'node 1 rejoins and streams through its slot on the new primary') or diag(streams_through(1));
ok($wait_for->(sub { $n->value(1, 'SELECT count(*) FROM w') eq '1000' }, 60), 'node 1 has the rows');
ok($wait_for->(sub { slots_on(1) eq '' }, 30),
	'node 1, a standby now, keeps none of the slots it had as the primary') or diag(slots_on(1));

# 3. a standby away beyond the bound
for my $id (1 .. 3)
{
	# wal_keep_size (raftctl's 1GB) would keep the WAL whatever the slots
	$n->sql($id, "ALTER SYSTEM SET max_slot_wal_keep_size = '48MB'");
	$n->sql($id, "ALTER SYSTEM SET wal_keep_size = 0");
	$n->sql($id, 'SELECT pg_reload_conf()');
}
my $away = $other;
ok(system('pg_ctl', '-D', $n->dir($away), '-m', 'immediate', '-w', 'stop') == 0, "node $away stops");
ok($wait_for->(sub { slots_on($p) =~ /\b$away:inactive\b/ }, 30), "its slot on node $p is unused");
for my $round (1 .. 4)
{
	$n->sql($p, "CREATE TABLE fill$round AS SELECT g, repeat('x', 400) AS pad FROM generate_series(1, 60000) g");
	$n->sql($p, 'SELECT pg_switch_wal()');
	$n->sql($p, 'CHECKPOINT');
}
ok($wait_for->(sub { cluster_slot($p, $away) =~ /^lost/ }, 60),
	"raft_cluster on node $p shows node ${away}'s slot lost") or diag(cluster_slot($p, $away));
like(slurp_file($n->dir($p) . '.raft_ext/postgresql.log'),
	qr/the member slot of node $away was lost: it was away beyond max_slot_wal_keep_size \(48 MB\)/,
	'... and the log says so');
is($n->value($p, "SELECT restart_lsn IS NULL FROM pg_replication_slots WHERE slot_name = 'raft_node_$away'"),
	't', 'a lost slot retains no WAL');
ok(start($away), "node $away starts again");
ok($wait_for->(sub { streams_through($away) eq "raft_node_$away" }, 240),
	"node $away rejoins and streams through a new slot")
  or diag(streams_through($away) . ' / ' . slots_on($p));
# 15 lets a standby stream through an invalidated physical slot again (it
# is valid once more); 16 and later refuse it, and the primary makes the
# slot again after reporting it lost for a minute.
# (15: once the standby's first feedback has moved restart_lsn)
ok($wait_for->(sub {
			$n->value($p, "SELECT restart_lsn IS NOT NULL AND wal_status <> 'lost' "
				  . "FROM pg_replication_slots WHERE slot_name = 'raft_node_$away'") eq 't'
		}, 30),
	'the slot retains WAL for the member again')
  or diag($n->value($p, "SELECT restart_lsn, wal_status FROM pg_replication_slots WHERE slot_name = 'raft_node_$away'"));

# 4. remove a standby, then stop it
($rc, $out, $err) = $n->raftctl('-d', admin($p), 'remove', $away, '--force');
is($rc, 0, "raftctl remove $away") or diag("$out\n$err");
ok(system('pg_ctl', '-D', $n->dir($away), '-m', 'fast', '-w', 'stop') == 0, "node $away stops");
ok($wait_for->(sub { slots_on($p) !~ /\b$away:/ }, 120), "its slot is dropped on node $p (a minute after it is unused)")
  or diag(slots_on($p));
like(slurp_file($n->dir($p) . '.raft_ext/postgresql.log'),
	qr/dropped the member slot "raft_node_$away": its node is no longer a member/, '... saying why');

# 5. a fourth member
$out = join_node(4, $n->local_conninfo($p));
like($out, qr/-S raft_node_4 -C/, 'node 4 is cloned through its slot');
ok($wait_for->(sub { streams_through(4) eq 'raft_node_4' }, 60), 'node 4 streams through it');
like(slots_on($p), qr/\b4:active\b/, "node $p keeps it once node 4 is a member");

done_testing();
