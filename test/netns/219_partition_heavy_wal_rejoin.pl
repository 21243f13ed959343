# Copyright: the raft_ext authors.

# Healing after a real write volume, over a real partition: 054's rejoin
# after recycled WAL, but with the primary cut off by the network instead
# of killed, under a sustained load, and the old primary rejoining by
# itself (raft_ext.auto_rejoin on, raft_ext.rejoin_reclone on by default).
#
# No WAL kept on purpose: wal_keep_size = 0 (RaftNetns keeps 256 MB by
# default), max_wal_size = 64MB and min_wal_size = 32MB, so that the load's
# checkpoints recycle segments on every node.  raft_ext.synchronous =
# quorum: the worker itself keeps synchronous_standby_names at 'ANY 1' of
# the current standbys and rewrites it after the failover, so the new
# primary, with one standby left while the old primary is cut off, commits
# the load without an operator, and the suite's checks can require that no
# acknowledged write is lost (with a fixed 'ANY 1 (node1, node2, node3)'
# this would hold too, but nobody would adjust it to the new membership of
# the quorum; quorum is what a deployment with auto_rejoin runs).
#
#  1. a heavy writer (a process in the client namespace, bulk INSERTs of
#     4,000 rows of 1 kB per statement, about 4.5 MB of WAL each) runs on
#     the primary; it follows the primary through the failover (it asks
#     each node, in turn, whether it is a primary holding the lease, and
#     writes only there);
#  2. the primary (node1) is cut off by a real partition; a standby is
#     elected and promotes, the writer goes on on it until 64 MB of WAL and
#     more were written since node1's last checkpoint before the cut
#     (pg_control_checkpoint() read on node1 just before it, and again after
#     the failover: a checkpoint that completed before the fork counts);
#     then the heal;
#  3. node1 rejoins by itself and streams from the new primary within
#     $REJOIN_BOUND s of the heal, with 64 MB and more of WAL between its
#     last checkpoint before the fork and that moment; the diag says how it
#     rejoined (pg_rewind or a re-clone with pg_basebackup, from its server
#     log) and how long it took; rejoin_state ends 'done'; every node
#     streams from the new primary; node1 holds the new primary's rows of
#     the load; and the suite's checks (conclude): no acknowledged write
#     lost, no split brain, no timeline regression, no invariant breach.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use RaftHeavyWriter;
use Test::More;
use Time::HiRes qw(time usleep);

my $MB = 1024 * 1024;
my $WAL_TARGET = 64 * $MB;
my $ROWS_PER_BATCH = 4000;
# From the heal to node1 streaming from the new primary.
my $REJOIN_BOUND = 180;
# The writer stops by itself after this long, whatever happens.
my $WRITER_LIMIT = 220;

# One value from $node over its Unix socket, or undef.
sub q1
{
	my ($node, $sql) = @_;
	my $out;
	my $ret = $node->psql('postgres', $sql, stdout => \$out, timeout => 10);
	return $ret == 0 ? $out : undef;
}

my $c = RaftNetns->new(
	nodes => 3,
	sync => 'quorum',
	auto_rejoin => 'on',
	extra_conf => "wal_keep_size = 0\n"
	  . "max_wal_size = '64MB'\n"
	  . "min_wal_size = '32MB'\n");
my @nodes = $c->nodes;
my $node1 = $nodes[0];
is(q1($node1, q{SELECT current_setting('wal_keep_size') || ' '
	  || current_setting('max_wal_size')}), '0 64MB',
	'no WAL kept on purpose: wal_keep_size 0, max_wal_size 64MB');
is(q1($node1, 'SELECT count(*) FROM pg_replication_slots'), '0',
	'and no replication slot holds WAL back');

my $run = RaftNetnsSteps->begin($c);

# 1. The heavy writer, in the client namespace.
my $writer = RaftHeavyWriter->start($c, rows => $ROWS_PER_BATCH, limit => $WRITER_LIMIT);

# Let the load run on node1 until one of its checkpoints came from the
# load itself (max_wal_size), as the last one before a real fork would.
my $ckpt0 = q1($node1, 'SELECT checkpoint_lsn FROM pg_control_checkpoint()');
my $lsn0 = q1($node1, 'SELECT pg_current_wal_lsn()');
ok( RaftFaults::poll_until(
		sub {
			my $now = q1($node1,
				"SELECT checkpoint_lsn > '$ckpt0' AND pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') > 24 * 1024 * 1024 FROM pg_control_checkpoint()");
			return defined $now && $now eq 't';
		},
		'a checkpoint on node1 under the load', 90),
	'the heavy writer writes on node1 and its checkpoints recycle WAL');

# 2. node1's last checkpoint just before the cut, then the cut.
my ($ckpt, $redo, $tli) = split /\|/, q1($node1,
	q{SELECT checkpoint_lsn || '|' || redo_lsn || '|' || timeline_id FROM pg_control_checkpoint()});
note("node1's last checkpoint before the cut: $ckpt (redo $redo) on timeline $tli");
my ($new, $old) = $run->isolate_primary(hold => 3, label => 'node1 cut off under load');
is($old && $old->name, 'node1', 'node1 was the primary that was cut off');
die "no new primary: giving up\n" unless $new;

# Where the new timeline forked (the new primary's history file), and
# node1's checkpoint again: one that completed before the fork counts.
my $new_tli = q1($new, q{SELECT substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8)});
my $history = q1($new, "SELECT pg_read_file('pg_wal/$new_tli.history')") // '';
my ($fork) = map { (split /\t/)[1] } grep { /^$tli\t/ } split /\n/, $history;
ok(defined $fork, "the new primary's timeline forked off timeline $tli at "
	  . ($fork // '?'));
my $ckpt_after = q1($old, 'SELECT checkpoint_lsn FROM pg_control_checkpoint()');
if (defined $fork && defined $ckpt_after
	&& q1($new, "SELECT '$ckpt_after'::pg_lsn > '$ckpt' AND '$ckpt_after'::pg_lsn < '$fork'") eq 't')
{
	note("node1 completed a checkpoint at $ckpt_after after the read, before the fork");
	$ckpt = $ckpt_after;
}

# The writer goes on on the new primary until 64 MB since that checkpoint.
my $wal_since = sub {
	my $p = shift;
	return q1($p, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$ckpt')::bigint") // 0;
};
my $reached = RaftFaults::poll_until(sub { $wal_since->($new) >= $WAL_TARGET },
	'64 MB of WAL on the new primary', 120);
my $at_heal = $wal_since->($new);
ok($reached, sprintf('the writer goes on on %s: %.1f MB of WAL since node1\'s last checkpoint before the cut',
		$new->name, $at_heal / $MB));
my $writes = $writer->batches;
note("heavy writer: $writes batches acknowledged before the heal");

# 3. Heal; node1 rejoins by itself.
$_->mark_log for $c->nodes;
my $healed_at = time();
$c->heal;
# Streams: its WAL receiver streams from the new primary, and is the same
# process 1.5 s later, still streaming.  A receiver refused by the source
# ("requested WAL segment ... has already been removed") shows
# 'streaming' for a moment at each of its restarts, every 200 ms.
my $receiver = sub {
	my ($n) = @_;
	my $out = q1($n, q{SELECT pid || ' ' || status || ' ' || coalesce(sender_host, '')
		FROM pg_stat_wal_receiver}) // '';
	my ($pid, $status, $host) = split / /, $out;
	return ($status // '') eq 'streaming' && ($host // '') eq $new->{addr} ? $pid : undef;
};
my $streams = sub {
	my ($n) = @_;
	my $pid = $receiver->($n) or return 0;
	usleep(1_500_000);
	my $again = $receiver->($n);
	return defined $again && $again eq $pid;
};
my $took;
my $wal_at_rejoin;
RaftFaults::poll_until(
	sub {
		return 0 unless $streams->($old);
		$wal_at_rejoin = $wal_since->($new);
		$took = time() - $healed_at;
		return 1;
	},
	'node1 streaming from the new primary', $REJOIN_BOUND);
ok(defined $took, sprintf('node1 rejoins by itself and streams from %s within %d s of the heal%s',
		$new->name, $REJOIN_BOUND, defined $took ? sprintf(' (%.1f s)', $took) : ''))
  or do
{
	my @removed = $old->log_since_heal =~ /(requested WAL segment \S+ has already been removed)/g;
	diag(scalar(@removed) . " times node1's WAL receiver was refused: $removed[0]") if @removed;
	my @lines = grep { /raft_ext_rejoin|node 1 |backup recovery|consistent recovery/ }
	  split /\n/, $old->log_since_heal;
	diag("node1 since the heal:\n" . join("\n", @lines[ ($#lines > 40 ? $#lines - 40 : 0) .. $#lines ]));
	$run->dump_state;
};
# Not streaming within the bound: the volume at the end of the bound.
my $wal_measured = $wal_at_rejoin // $wal_since->($new);
cmp_ok($wal_measured, '>=', $WAL_TARGET,
	sprintf('%.1f MB of WAL between node1\'s last checkpoint before the fork (%s) and %s',
		$wal_measured / $MB, $ckpt,
		defined $took ? 'its streaming again' : 'the end of the bound (it did not stream)'));

# The load stops once node1 streams (or the bound is over).
$writer->stop;

my $log = $old->log_since_heal;
my $how =
    $log =~ /re-cloning it from the source with pg_basebackup/
  ? ($log =~ /re-cloned from the source/ ? 're-clone (pg_basebackup)' : 're-clone (started, not finished)')
  : $log =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/ ? 'pg_rewind'
  : $log =~ /raft_ext_rejoin\[\d+\]: no rewind needed/ ? 'no rewind needed'
  : 'unknown';
my ($why) = $log =~ /pg_rewind cannot rejoin this node \((.*?)\): re-cloning/;
diag(sprintf('node1 rejoined by %s%s, %s after the heal; %.1f MB of WAL since its last checkpoint before the fork',
		$how, $why ? " (because: $why)" : '',
		defined $took ? sprintf('streaming %.1f s', $took) : 'not streaming',
		$wal_measured / $MB));
isnt($how, 'unknown', "node1's log says how it rejoined: $how");
my $attempts = () = $log =~ /is a primary but node \d+ is the Raft leader: rejoining as its standby/g;
note("rejoin attempts by node1 after the heal: $attempts");
ok( RaftFaults::poll_until(
		sub { (q1($old, 'SELECT rejoin_state FROM raft_ext.raft_status') // '') eq 'done' },
		"node1's rejoin_state done", 360),
	"node1's rejoin_state is done");
# A re-clone keeps its slot until the clone has replayed what the source
# wrote meanwhile, and drops it only once the standby streams without it
# (otherwise the source's next checkpoint removes WAL the clone needs).
like($old->log_since_heal, qr/has replayed up to \S+; now streaming without the slot.*dropped the slot/s,
	"node1's re-clone slot was kept until it had caught up, then dropped")
  if $how =~ /^re-clone/;

# Every node streams from the new primary (the third node too, rewound by
# itself if it had diverged), within what is left of the bound.
my $all = RaftFaults::poll_until(
	sub { !grep { $_ != $new && !$streams->($_) } @nodes },
	'every standby streaming',
	($REJOIN_BOUND - (time() - $healed_at)) > 10 ? $REJOIN_BOUND - (time() - $healed_at) : 10);
ok($all, 'every node streams from ' . $new->name);

# node1 holds the new primary's rows of the load.
my $batches = $writer->batches;
ok( RaftFaults::poll_until(
		sub {
			(q1($new, q{SELECT count(*) FROM pg_stat_activity
				WHERE query LIKE 'INSERT INTO big%' AND state <> 'idle'}) // '') eq '0';
		},
		'the last batch to end', 40),
	'the last batch of the load has ended on the new primary');
my $rows = q1($new, 'SELECT count(*) FROM big');
my $end_lsn = q1($new, 'SELECT pg_current_wal_lsn()');
for my $n (grep { $_ != $new } @nodes)
{
	ok( RaftFaults::poll_until(
			sub {
				(q1($n, "SELECT pg_last_wal_replay_lsn() >= '$end_lsn'") // '') eq 't';
			},
			$n->name . " replaying up to $end_lsn", defined $took ? 90 : 5),
		$n->name . " catches up with the new primary ($end_lsn)");
}
is(q1($old, 'SELECT count(*) FROM big'), $rows,
	"node1 holds the new primary's rows of the load ($rows)");
my $total = q1($new, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')::bigint") // 0;
diag(sprintf('heavy writer: %d batches of %d rows acknowledged, %.1f MB of WAL in %.0f s',
		$batches, $ROWS_PER_BATCH, $total / $MB, $writer->seconds));

$run->conclude(
	settled => [ $run->settle(whole => 1) ],
	extra => {
		rejoin => $how eq 'pg_rewind' ? 'rewind' : $how =~ /re-clone/ ? 'reclone' : $how,
		rejoin_s => defined $took ? sprintf('%.1f', $took) : '-',
		wal_mb_since_checkpoint => int($wal_measured / $MB),
		load_batches => $batches,
	});
done_testing();
