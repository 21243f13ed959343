# Copyright: the raft_ext authors.

# Automatic failover after kill -9 of the primary.
#
# A primary (node1) and two standbys under synchronous replication, with
# raft_ext.auto_promote and raft_ext.auto_follow on; a client commits
# numbered rows without pause and records which commits were acknowledged.
#  1. the primary is the Raft leader (a healthy primary stays primary);
#  2. kill -9 of the primary: the standby with the most WAL becomes the
#     leader and promotes itself; writes resume on it; the other standby
#     follows it; every acknowledged row is on the new primary;
#  3. the old primary restarts as a primary: its writes are refused (it does
#     not hold the lease) until scripts/rejoin-standby.sh makes it a standby
#     of the new primary, which it then follows.
# Prints the failover times (kill -> new leader, kill -> first write
# acknowledged by the new primary).  The invariant checker runs throughout.
# raft_ext.on_role_change logs every role change; the new leader's is
# checked.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $started = time();
# raft_ext.on_role_change runs in the data directory: each node logs its
# role changes there.
my @nodes = RaftFailover::create_cluster(3,
	extra_conf =>
	  "raft_ext.on_role_change = 'echo \"%e %n %r %t %l %%\" >> role_changes.log'\n");
my ($node1, $node2, $node3) = @nodes;
my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);

# 1. The primary leads.
my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $leader, 'a primary leads');
is($leader->name, 'node1', 'the healthy primary is the Raft leader');

my $writer = RaftFailover::start_writer(\@nodes);
ok(defined RaftFailover::wait_acks_on($writer, $node1, 20),
	'writes are acknowledged by the primary');

# 2. kill -9 of the primary.
my $killed_at = time();
$faults->kill9($node1);
my %received;
for my $standby ($node2, $node3)
{
	my ($ret, $out) = RaftFailover::sql($standby,
		q{SELECT pg_last_wal_receive_lsn() - '0/0'::pg_lsn});
	$received{ $standby->name } = $out;
}
note('WAL received at the kill: '
	  . join(', ', map { "$_ $received{$_}" } sort keys %received));

my ($new, $other, $new_term) = RaftFailover::expect_failover('030 kill',
	$killed_at, [ $node2, $node3 ], $term + 1, $writer);
# The new primary had at least the other standby's WAL: that standby
# streams from it, which PostgreSQL allows only when its own WAL is a
# prefix of the new timeline's (auto_rejoin is off here, so nothing
# rewinds it).  Comparing the two received positions sampled after the
# kill raced with the promotion under load.
ok(RaftFailover::wait_follows($other, $new),
	$new->name . ' had received at least as much WAL as ' . $other->name
	  . ': it streams from ' . $new->name . ' with no rewind');
RaftFailover::stop_writer($writer);
my ($max) = map { $_->[0] } (RaftFailover::acknowledged($writer))[-1];
ok( $other->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM fo_rows WHERE i = $max"),
	$other->name . ' sees the last acknowledged row');
RaftFailover::check_rows($new, $writer);

# 3. The old primary comes back as a primary: fenced.
$faults->restart($node1);
ok( $node1->poll_query_until(
		'postgres',
		'SELECT leader_id = ' . RaftTest::raft_id($new) . ' FROM raft_ext.raft_status'),
	'the old primary learns who leads');
RaftFailover::expect_write_refused($node1, 'the old primary');

ok(RaftFailover::rejoin($node1, $new), 'rejoin-standby.sh succeeds');
is($node1->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the old primary is a standby now');
ok(RaftFailover::wait_follows($node1, $new),
	'the old primary follows the new primary');
ok( $node1->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM fo_rows WHERE i = $max"),
	'the old primary sees the last acknowledged row');
RaftFailover::check_rows($node1, $writer, 'rejoined node1');
ok( $node1->poll_query_until(
		'postgres',
		'SELECT leader_id = ' . RaftTest::raft_id($new) . ' FROM raft_ext.raft_status'),
	'the rejoined node agrees on the leader');

# The role-change command ran on the new leader for its election.
my $id = RaftTest::raft_id($new);
my $changes = slurp_file($new->data_dir . '/role_changes.log');
like($changes, qr/^raft $id leader $new_term $id %$/m,
	'on_role_change ran with %e %n %r %t %l %% expanded on the new leader');
# ... and for PostgreSQL's role changes: it started as a standby and was
# promoted (the event a virtual IP follows).
like($changes, qr/^started $id standby \d+ \d+ %$/m,
	'on_role_change ran when the new leader started, as a standby');
ok(RaftFailover::poll_true($new,
		"SELECT pg_read_file('role_changes.log') ~ '(^|\\n)promoted $id primary $new_term $id %'"),
	'on_role_change ran when the new leader was promoted');
like(slurp_file($node1->data_dir . '/role_changes.log'), qr/^started 1 primary /m,
	'on_role_change ran when node1 started, as a primary');

$checker->stop_and_check;
note(sprintf('runtime %.1f s', time() - $started));
$_->stop for @nodes;
done_testing();
