# Copyright: the raft_ext authors.

# scripts/orchestrate.sh, the example orchestrator for clusters that keep
# raft_ext.auto_promote and raft_ext.auto_follow off.
#
# First, with auto_promote off, a standby that leads while the primary is
# healthy hands leadership back to it (a healthy primary stays primary).
# Then kill -9 of the primary: a standby becomes the Raft leader but stays a
# standby (auto_promote off); the orchestrator promotes it and re-points the
# other standby; when the old primary comes back (fenced), the orchestrator
# rejoins it as a standby with scripts/rejoin-standby.sh.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $started = time();
my @nodes = RaftFailover::create_cluster(3,
	extra_conf => "raft_ext.auto_promote = off\nraft_ext.auto_follow = off\n");
my ($node1, $node2, $node3) = @nodes;
my $faults = RaftFaults->new(\@nodes);
my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'the primary leads');

# A healthy primary stays primary: cut node1 off from Raft (replication
# still flows), so a standby becomes the leader; with auto_promote off it
# stays a standby.  Once the cut heals, the standby leader sees that the
# member it streams from answers Raft again and hands leadership back.
$faults->isolate($node1);
my ($standby_leader, $cut_term) =
  RaftTest::wait_for_leader([ $node2, $node3 ], min_term => $term + 1);
ok(defined $standby_leader, 'with node1 cut off, a standby leads');
$faults->heal;
my ($back, $back_term) =
  RaftFailover::wait_primary(\@nodes, min_term => $cut_term + 1);
ok(defined $back && $back == $node1,
	'after the heal the standby leader hands leadership back to the healthy primary');
is($_->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', $_->name . ' was not promoted')
  for ($node2, $node3);
ok( $standby_leader->log_contains(qr/hands leadership to node 1/),
	'the standby leader logged the hand-over');
$term = $back_term;

my $log = $PostgreSQL::Test::Utils::tmp_check . '/orchestrate.log';
my $orchestrator = IPC::Run::start(
	[
		"$RaftFailover::SCRIPTS/orchestrate.sh",
		(map { ('-n', $_->connstr('postgres')) } @nodes),
		'--pgdata', '1=' . $node1->data_dir,
		'--interval', '0.3',
		'--duration', '60'
	],
	'>', $log, '2>&1');

$faults->kill9($node1);
my ($new) = RaftTest::wait_for_leader([ $node2, $node3 ], min_term => $term + 1);
ok(defined $new, 'a standby becomes the Raft leader');
($new) = RaftFailover::wait_primary([ $node2, $node3 ], min_term => $term + 1);
ok(defined $new, 'the orchestrator promoted the leader');
my $other = $new == $node2 ? $node3 : $node2;
ok(RaftFailover::wait_follows($other, $new),
	$other->name . ' was re-pointed at the new primary');
$new->safe_psql('postgres', 'INSERT INTO fo_rows (i) VALUES (1)');

# The old primary comes back: fenced, then rejoined by the orchestrator.
$faults->restart($node1);
my $rejoined = 0;
my $deadline = time() + 40;
while (time() < $deadline && !$rejoined)
{
	$rejoined = RaftFailover::follows($node1, $new);
	usleep(300_000);
}
ok($rejoined, 'the orchestrator rejoined the old primary as a standby');

$orchestrator->signal('INT');
$orchestrator->finish;
my $out = slurp_file($log);
note($out);
like($out, qr/promoting it$/m, 'the orchestrator logged the promotion');
like($out, qr/stopped$/m, 'the orchestrator stops cleanly on SIGINT');

# rejoin-standby.sh started node1 itself: stop it by its data directory.
system('pg_ctl', '-D', $node1->data_dir, '-m', 'immediate', 'stop');
$node1->{_pid} = undef;
note(sprintf('runtime %.1f s', time() - $started));
$_->stop for ($node2, $node3);
done_testing();
