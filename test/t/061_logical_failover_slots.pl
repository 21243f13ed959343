# Copyright: the raft_ext authors.

# raft_ext.sync_logical_slots: a logical slot created with failover = true
# follows the primary, and its consumer never receives a change that the
# next primary lacks.
#
# PostgreSQL 17 and later, on a cluster made by raftctl init and join with
# wal_level = logical:
#  1. raft_ext sets what the slot-sync worker needs on the standbys
#     (sync_replication_slots, hot_standby_feedback, a dbname in
#     primary_conninfo) and, on the primary, synchronized_standby_slots to
#     the member slots of the streaming voters;
#  2. two real consumers through a conninfo that names every member
#     (target_session_attrs=read-write) while a writer commits a row every
#     few milliseconds: pg_recvlogical with test_decoding on slot "cdc"
#     (failover = true), and a separate PostgreSQL server subscribed with
#     CREATE SUBSCRIPTION ... WITH (failover = true);
#  3. kill -9 of the primary under that load: the new primary has the
#     slot, the consumer resumes on it by itself;
#  4. two switchovers in a row: the old primary, a standby now, drops its
#     own copy of the slot (synced = false, which would stop the slot-sync
#     worker) and syncs the new primary's; slots keep syncing everywhere;
#  5. a standby down: it leaves synchronized_standby_slots (it must not
#     stall the consumer), and comes back into it when it streams again;
#  6. the setting switched off: raft_ext removes the list it wrote.
# At the end every row of the final primary's table reached the consumer
# (no lost change), the consumer saw no row the final primary lacks (no
# change the next primary did not have), and the duplicates (at-least-once
# delivery after a reconnection) are counted; the subscriber's table is the
# final primary's, row for row.
#
# PostgreSQL 15: switching the setting on is refused with a clear error,
# and a logical slot on the primary is reported as unprotected.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftCtlNodes;
use Test::More;

my $n = RaftCtlNodes->new(3);
my $wait_for = \&RaftCtlNodes::wait_for;
my ($major) = `pg_config --version` =~ /(\d+)/;

sub start
{
	my ($id) = @_;
	return system('pg_ctl', '-D', $n->dir($id), '-l', $n->dir($id) . '.raft_ext/postgresql.log',
		'-w', '-t', '60', 'start') == 0;
}

sub restart
{
	my ($id) = @_;
	return system('pg_ctl', '-D', $n->dir($id), '-l', $n->dir($id) . '.raft_ext/postgresql.log',
		'-w', '-t', '60', '-m', 'fast', 'restart') == 0;
}

sub kill9
{
	my ($id) = @_;
	my ($pid) = split /\n/, slurp_file($n->dir($id) . '/postmaster.pid');
	my @children = split /\s+/, `pgrep -P $pid`;
	kill 'KILL', $pid;
	$wait_for->(sub { !grep { -e "/proc/$_" } ($pid, @children) }, 30);
	return;
}

# 1. the cluster, wal_level = logical (pg_basebackup copies it to the standbys)
my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1));
is($rc, 0, 'raftctl init makes node 1') or diag("$out\n$err");
$n->sql(1, 'ALTER SYSTEM SET wal_level = logical');
# (postgresql.auto.conf: pg_basebackup copies it to the standbys)
$n->sql(1, 'ALTER SYSTEM SET raft_ext.sync_logical_slots = on') if $major >= 17;
ok(restart(1), 'node 1 restarts with wal_level = logical');
ok($wait_for->(sub { ($n->primary // 0) == 1 }, 60), 'node 1 leads again');

if ($major < 17)
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-q', '-At', '-d', $n->local_conninfo(1), '-c',
			'ALTER SYSTEM SET raft_ext.sync_logical_slots = on' ], '<', \undef, '>', \$o, '2>', \$e);
	isnt($?, 0, "PostgreSQL $major: raft_ext.sync_logical_slots = on is refused");
	like($e, qr/raft_ext\.sync_logical_slots needs PostgreSQL 17 or later/, '... saying what it needs');
	like($e, qr/no slot synchronization: a logical replication slot exists only on the primary/,
		'... and why');
	is($n->value(1, 'SHOW raft_ext.sync_logical_slots'), 'off', '... and it is off');
	$n->sql(1, "SELECT pg_create_logical_replication_slot('cdc', 'test_decoding')");
	ok($wait_for->(sub { $n->server_log(1)
				=~ /1 logical replication slot\(s\) on this primary will not survive a failover/ }, 30),
		'a logical slot on the primary is reported: it will not survive a failover');
	$n->sql(1, "SELECT pg_drop_replication_slot('cdc')");
	done_testing();
	exit 0;
}

my $pwfile = $n->dir(1) . '.raft_ext/pgpass';
my $from = $n->local_conninfo(1);
for my $id (2, 3)
{
	($rc, $out, $err) = $n->raftctl('join', '-D', $n->dir($id), '--node-id', $id,
		'--address', '127.0.0.1:' . $n->port($id), '--from', $from, '--password-file', $pwfile);
	is($rc, 0, "raftctl join makes node $id") or diag("$out\n$err");
}
is($n->value(2, 'SHOW wal_level'), 'logical', 'the standbys have wal_level = logical');
for my $id (2, 3)
{
	ok($wait_for->(sub {
				$n->value($id, "SELECT current_setting('sync_replication_slots') || current_setting('hot_standby_feedback')")
				  eq 'onon'
			}, 30),
		"node $id: raft_ext set sync_replication_slots and hot_standby_feedback on");
	ok($wait_for->(sub { $n->value($id, 'SHOW primary_conninfo') =~ /dbname=/ }, 30),
		"node $id: primary_conninfo carries a dbname for the slot-sync worker");
}
ok($wait_for->(sub { $n->value(1, 'SHOW synchronized_standby_slots') eq 'raft_node_2,raft_node_3' }, 30),
	'the primary lists both standbys\' member slots in synchronized_standby_slots')
  or diag($n->value(1, 'SHOW synchronized_standby_slots'));

# 2. the consumer and the writer
$n->sql(1, 'CREATE TABLE t (i bigint PRIMARY KEY)');
$n->sql(1, 'CREATE SEQUENCE t_seq');
is(($n->sql(1, "SELECT pg_create_logical_replication_slot('cdc', 'test_decoding', false, false, true)"))[0],
	0, 'slot "cdc" made with failover = true');
# over each node's socket (peer authentication), as local_conninfo
my %sock = map { $_ => $n->socket_of($_) } $n->ids;
my $all = join(' ', 'host=' . join(',', map { $sock{$_} } $n->ids),
	'port=' . join(',', map { $n->port($_) } $n->ids),
	'dbname=postgres target_session_attrs=read-write connect_timeout=2');
my $changes = $n->base . '/changes.txt';
# its messages go to a file: a pipe nobody reads would fill and stop it
my $consumer_log = $n->base . '/pg_recvlogical.log';
my $consumer = IPC::Run::start(
	[ 'pg_recvlogical', '-d', $all, '--slot', 'cdc', '--start', '-f', $changes, '-F', '1', '-s', '1' ],
	'<', \undef, '>', $consumer_log, '2>', $consumer_log);
sub consumer_said { return -f $consumer_log ? slurp_file($consumer_log) : ''; }

# the subscriber: a server of its own, subscribed through the same
# conninfo; its slot (named after the subscription) has failover = true
$n->sql(1, 'CREATE PUBLICATION pub FOR TABLE t');
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->start;
$subscriber->safe_psql('postgres', 'CREATE TABLE t (i bigint PRIMARY KEY)');
$subscriber->safe_psql('postgres',
	"CREATE SUBSCRIPTION sub CONNECTION '$all' PUBLICATION pub WITH (failover = true)");
ok($wait_for->(sub {
			$n->value(1, "SELECT failover FROM pg_replication_slots WHERE slot_name = 'sub'") eq 't'
		}, 60),
	'the subscription made slot "sub" on the primary with failover = true');

my @writers;
sub start_writer
{
	my ($id) = @_;
	# a new primary takes writes once its timeline is committed
	$wait_for->(sub { ($n->sql($id, q{INSERT INTO t VALUES (nextval('t_seq'))}))[0] == 0 }, 60)
	  or diag("node $id does not take writes");
	push @writers, IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $n->local_conninfo($id), '-c',
			q{DO $$ BEGIN FOR k IN 1..100000 LOOP INSERT INTO t VALUES (nextval('t_seq')); COMMIT; PERFORM pg_sleep(0.003); END LOOP; END $$} ],
		'<', \undef, '>', '/dev/null', '2>', '/dev/null');
	return;
}
sub stop_writers
{
	for my $w (@writers)
	{
		$w->kill_kill if $w->pumpable;
		eval { $w->finish };
	}
	@writers = ();
	# the server runs a DO block on after its client is gone
	$n->sql($_, q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'DO $$%'})
	  for grep { defined $n->socket_of($_) } $n->ids;
	sleep 1;
	return;
}

# The ids the consumer has written, each with how often.
sub consumed
{
	my %seen;
	return \%seen unless -f $changes;
	my $text = slurp_file($changes);
	$seen{$1}++ while $text =~ /table public\.t: INSERT: i\[bigint\]:(\d+)/g;
	return \%seen;
}

sub synced_ready
{
	my ($id) = @_;
	return $n->value($id, "SELECT coalesce(bool_and(synced AND NOT temporary), false) "
		  . "FROM pg_replication_slots WHERE slot_name = 'cdc'") eq 't';
}

start_writer(1);
ok($wait_for->(sub { scalar(keys %{ consumed() }) >= 200 }, 60), 'the consumer receives the writer\'s rows')
  or die "consumer: consumer_said() / rows on node 1: " . $n->value(1, 'SELECT count(*) FROM t')
  . ' / ' . $n->value(1, 'SELECT * FROM pg_stat_replication');
for my $id (2, 3)
{
	ok($wait_for->(sub { synced_ready($id) }, 90), "node $id has slot \"cdc\" synced and ready")
	  or diag($n->value($id, 'SELECT * FROM pg_replication_slots'));
	ok($wait_for->(sub {
				$n->value($id, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub' "
					  . "AND synced AND NOT temporary") eq '1'
			}, 90),
		"node $id has the subscription's slot synced and ready")
	  or diag($n->value($id, 'SELECT * FROM pg_replication_slots'));
}

# 3. kill -9 of the primary under the load
kill9(1);
stop_writers();
my $p;
ok($wait_for->(sub { $p = $n->primary; defined $p && $p != 1 }, 60), 'a new primary after kill -9 of node 1')
  or die 'no new primary';
is($n->value($p, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc' AND NOT temporary"),
	'1', "the new primary (node $p) has slot \"cdc\"");
my $before = scalar(keys %{ consumed() });
start_writer($p);
ok($wait_for->(sub { scalar(keys %{ consumed() }) >= $before + 200 }, 90),
	"the consumer resumed on node $p by itself") or diag(consumer_said());
ok(start(1), 'node 1 starts again');
ok($wait_for->(sub { $n->streams(1) }, 120), 'node 1 rejoins as a standby');
ok($wait_for->(sub { synced_ready(1) }, 90), 'node 1, a standby now, has the new primary\'s "cdc" synced')
  or diag($n->value(1, 'SELECT * FROM pg_replication_slots'));

# 4. two switchovers in a row; slot "cdc2" is made on node $p (synced =
# false there), which the first switchover turns into a standby
$n->sql($p, "CREATE ROLE dba SUPERUSER LOGIN PASSWORD 'dba-secret'");
is(($n->sql($p, "SELECT pg_create_logical_replication_slot('cdc2', 'test_decoding', false, false, true)"))[0],
	0, "slot \"cdc2\" made on node $p with failover = true");
is($n->value($p, "SELECT synced FROM pg_replication_slots WHERE slot_name = 'cdc2'"), 'f',
	'... with synced = false there');
# each standby's copies as the primary shows them ("2=ready,3=not ready")
sub logical_column
{
	my ($id) = @_;
	return $n->value($id, "SELECT string_agg(member_id || '=' || coalesce(logical_slots, '-'), ',' "
		  . "ORDER BY member_id) FROM raft_ext.raft_cluster WHERE NOT is_self");
}
my $dba = sub { 'host=127.0.0.1 port=' . $n->port($_[0]) . ' dbname=postgres user=dba password=dba-secret' };
# a new slot's copies stay temporary until the primary's slot moves on: the
# primary shows them not ready and refuses a switchover to such a standby
my $not_ready;
ok($wait_for->(sub { ($not_ready) = logical_column($p) =~ /(\d+)=not ready/; defined $not_ready }, 60),
	"the primary shows a standby whose copy of \"cdc2\" is not ready yet")
  or diag(logical_column($p));
($rc, $out, $err) = $n->raftctl('-d', $dba->($p), 'switchover', '--to', $not_ready, '--timeout', '5', '--force');
isnt($rc, 0, "a switchover to node $not_ready is refused");
like("$out$err", qr/node $not_ready has not synchronized the failover slots/, '... saying why')
  or diag("$out\n$err");
is($n->primary, $p, "node $p is still the primary");
sub synced_ready2
{
	my ($id) = @_;
	return $n->value($id, "SELECT coalesce(bool_and(synced AND NOT temporary), false) "
		  . "FROM pg_replication_slots WHERE slot_name = 'cdc2'") eq 't';
}
my $origin = $p;
# a new slot is synced as temporary until its primary's copy moves on (a
# promotion drops a temporary one): move it on until the standbys have it
ok($wait_for->(sub {
			$n->sql($p, q{SELECT pg_replication_slot_advance('cdc2', pg_current_wal_lsn())});
			!grep { !synced_ready2($_) } grep { $_ != $p } $n->ids
		}, 90),
	'"cdc2" is synced and ready on the standbys');
my $all_ready = join(',', map { "$_=ready" } grep { $_ != $p } $n->ids);
ok($wait_for->(sub { logical_column($p) eq $all_ready }, 30),
	'the primary shows every standby ready (raft_cluster.logical_slots)')
  or diag(logical_column($p));
($rc, $out, $err) = $n->raftctl('-d', $dba->($p), 'list');
like($out, qr/active, logical ready/, 'raftctl list shows it in the Slot column') or diag($out);
($rc, $out, $err) = $n->raftctl('-d', $dba->($p), '-f', 'json', 'list');
is(scalar(() = $out =~ /"logical_slots": "ready", "logical_behind_bytes": \d+/g), 2,
	'raftctl list -f json: each standby\'s copies, ready, and how far they trail the primary\'s slots')
  or diag($out);
is(scalar(() = $out =~ /"failover_slots": \[\{"name": "\w+", "behind_bytes": \d+\}(, \{"name": "\w+", "behind_bytes": \d+\}){2}\]/g), 2,
	'... and, per standby, each of the three failover slots (cdc, sub, cdc2) with how far its copy trails')
  or diag($out);
for my $round (1, 2)
{
	my $old = $n->primary;
	my ($to) = grep { $_ != $old } $n->ids;
	ok($wait_for->(sub { logical_column($old) =~ /\b$to=ready\b/ }, 60),
		"switchover $round: node $old shows node ${to}'s copies ready")
	  or diag(logical_column($old));
	stop_writers();
	($rc, $out, $err) = $n->raftctl('-d', $dba->($old), 'switchover', '--to', $to,
		'--timeout', '60', '--force');
	is($rc, 0, "switchover $round: node $old to node $to") or diag("$out\n$err");
	ok($wait_for->(sub { ($n->primary // 0) == $to }, 60), "node $to is the primary");
	start_writer($to);
	ok($wait_for->(sub { $n->streams($old) }, 120), "node $old follows as a standby");
	ok($wait_for->(sub { synced_ready($old) }, 90),
		"node $old, a standby now, has \"cdc\" synced from node $to")
	  or diag($n->value($old, 'SELECT * FROM pg_replication_slots'));
	for my $id (grep { $_ != $to } $n->ids)
	{
		ok($wait_for->(sub { synced_ready($id) }, 90), "switchover $round: node $id keeps syncing");
	}
	# (before the next switchover: one to a node whose copy is not ready
	# yet loses the slot, as a promotion drops a temporary synced slot)
	if ($round == 1)
	{
		like($n->server_log($origin),
			qr/dropped the logical slot "cdc2" left from when this node was the primary/,
			"node $origin, a standby after the first switchover, dropped its own \"cdc2\" (synced = false)");
		ok($wait_for->(sub {
					$n->sql($to, q{SELECT pg_replication_slot_advance('cdc2', pg_current_wal_lsn())});
					synced_ready2($origin)
				}, 90),
			"... and syncs the primary's \"cdc2\" instead")
		  or diag($n->value($origin, 'SELECT * FROM pg_replication_slots'));
	}
}

# 5. a standby down leaves the list; back, it returns to it
my $primary = $n->primary;
my ($down, $up) = grep { $_ != $primary } $n->ids;
ok(system('pg_ctl', '-D', $n->dir($down), '-m', 'immediate', '-w', 'stop') == 0, "node $down stops");
ok($wait_for->(sub { $n->value($primary, 'SHOW synchronized_standby_slots') eq "raft_node_$up" }, 30),
	"the primary lists only node ${up}'s slot: node $down must not stall the consumer")
  or diag($n->value($primary, 'SHOW synchronized_standby_slots'));
$before = scalar(keys %{ consumed() });
ok($wait_for->(sub { scalar(keys %{ consumed() }) >= $before + 100 }, 60),
	'the consumer keeps receiving while node ' . $down . ' is down')
  or diag(join("\n", 'rows: ' . $n->value($primary, 'SELECT count(*), max(i) FROM t'),
		$n->value($primary, 'SELECT slot_name, active, restart_lsn, confirmed_flush_lsn FROM pg_replication_slots'),
		$n->value($primary, 'SELECT application_name, state, flush_lsn FROM pg_stat_replication'),
		$n->value($primary, "SELECT pid, backend_type, wait_event_type, wait_event, state FROM pg_stat_activity WHERE backend_type = 'walsender'"),
		$n->value($primary, 'SELECT slot_name, synced, failover, temporary, invalidation_reason, conflicting FROM pg_replication_slots'),
		$n->value($primary, 'SELECT pg_current_wal_flush_lsn()'),
		$n->value($primary, 'SHOW synchronized_standby_slots'),
		$n->value($up, 'SELECT status, slot_name, flushed_lsn FROM pg_stat_wal_receiver')));
ok(start($down), "node $down starts again");
ok($wait_for->(sub {
			$n->value($primary, 'SHOW synchronized_standby_slots') eq
			  join(',', map { "raft_node_$_" } sort { $a <=> $b } ($down, $up))
		}, 60),
	"node $down is listed again once it streams");

# the end: every row reached the consumer, none that the primary lacks
stop_writers();
my %final = map { $_ => 1 } split /\n/, $n->value($primary, 'SELECT i FROM t ORDER BY i');
ok(scalar(keys %final) > 1000, 'the writer committed ' . scalar(keys %final) . ' rows');
ok($wait_for->(sub { my $c = consumed(); !grep { !$c->{$_} } keys %final }, 90),
	'every row of the final primary reached the consumer (no lost change)')
  or diag('missing: ' . join(',', (grep { !consumed()->{$_} } sort { $a <=> $b } keys %final)[0 .. 20]));
my $c = consumed();
my @phantom = grep { !$final{$_} } keys %$c;
is(scalar(@phantom), 0, 'the consumer saw no row that the final primary lacks')
  or diag('phantom: ' . join(',', sort { $a <=> $b } @phantom));
my $dups = grep { $c->{$_} > 1 } keys %$c;
note("061 consumer: rows=" . scalar(keys %final) . " received=" . scalar(keys %$c)
	  . " duplicates=$dups lost=0 phantom=" . scalar(@phantom));
$consumer->kill_kill;
eval { $consumer->finish };
# the subscriber: the same rows as the final primary, no more, no fewer
my $digest = 'SELECT count(*), md5(coalesce(string_agg(i::text, \',\' ORDER BY i), \'\')) FROM t';
my $want = $n->value($primary, $digest);
ok($wait_for->(sub { $subscriber->safe_psql('postgres', $digest) eq $want }, 90),
	'the subscriber\'s table is the final primary\'s (no lost change, none it lacks)')
  or diag('primary: ' . $want . ' subscriber: ' . $subscriber->safe_psql('postgres', $digest)
	  . "\n" . $subscriber->safe_psql('postgres', 'SELECT * FROM pg_stat_subscription'));
note('061 subscriber: rows=' . (split /\|/, $want)[0] . ' equal to the final primary\'s');
$subscriber->safe_psql('postgres', 'ALTER SUBSCRIPTION sub DISABLE');
$subscriber->safe_psql('postgres', 'ALTER SUBSCRIPTION sub SET (slot_name = NONE)');
$subscriber->stop;

# switched off, raft_ext removes its list: it would no longer follow the
# membership, and a removed member's slot left in it would stall consumers
$n->sql($primary, 'ALTER SYSTEM SET raft_ext.sync_logical_slots = off');
$n->sql($primary, 'SELECT pg_reload_conf()');
ok($wait_for->(sub { $n->value($primary, 'SHOW synchronized_standby_slots') eq '' }, 30),
	'switched off, the primary no longer has raft_ext\'s synchronized_standby_slots')
  or diag($n->value($primary, 'SHOW synchronized_standby_slots'));

done_testing();
