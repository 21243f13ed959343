# Copyright: the raft_ext authors.

# Planned leadership transfer (raft_ext.transfer_leadership) in a 3-node
# cluster:
#  1. to a follower that is caught up: it leads in a higher term;
#  2. to a follower that is behind (it was partitioned away with
#     raft_ext.fault_drop while the leadership moved, so it misses the new
#     term's entries): the leader first brings it up to date, then it leads;
#  3. to a node that is down: the call fails with a clear error and the
#     leader stays the leader.
# The invariant checker samples every node for the whole test and must stay
# clean.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(usleep time);

my @nodes = RaftFaults::create_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

# One value from a node ('' for NULL).
sub value
{
	my ($node, $sql) = @_;
	return scalar $node->safe_psql('postgres', $sql);
}

# Ask $from to hand leadership to $to; returns (ok, stderr).
sub transfer
{
	my ($from, $to) = @_;
	my ($stdout, $stderr);
	my $ret = $from->psql(
		'postgres',
		'SELECT raft_ext.transfer_leadership(' . RaftTest::raft_id($to) . ')',
		stdout => \$stdout,
		stderr => \$stderr,
		on_error_die => 0);
	return ($ret == 0, $stderr // '');
}

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('first leader: ' . $leader->name . " in term $term");

# 1. To a caught-up follower.
my ($target) = grep { $_ != $leader } @nodes;
my ($ok, $err) = transfer($leader, $target);
ok($ok, 'transfer to a caught-up follower succeeds') or diag($err);
my ($new_leader, $new_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $term + 1);
is($new_leader->name, $target->name, 'the target leads');
cmp_ok($new_term, '>', $term, 'in a higher term');
$leader = $new_leader;
$term = $new_term;

# 2. To a follower that is behind.  Cut it off from everyone, move the
# leadership elsewhere (the new term's no-op entry never reaches it), then
# heal and hand it the leadership at once: the leader must catch it up first.
my ($behind) = grep { $_ != $leader } @nodes;
my ($third) = grep { $_ != $leader && $_ != $behind } @nodes;
$faults->partition([$behind], [ $leader, $third ]);
($ok, $err) = transfer($leader, $third);
ok($ok, 'transfer between the two connected nodes succeeds') or diag($err);
($leader, $term) = RaftTest::wait_for_leader([ $leader, $third ],
	min_term => $term + 1);
is($leader->name, $third->name, 'the connected follower leads');

my $leader_last = value($leader,
	'SELECT last_log_index FROM raft_ext.raft_status');
my $behind_last = value($behind,
	'SELECT last_log_index FROM raft_ext.raft_status');
cmp_ok($behind_last, '<', $leader_last,
	'the partitioned node is behind the leader\'s log');

$faults->heal;
($ok, $err) = transfer($leader, $behind);
ok($ok, 'transfer to a node that was behind succeeds') or diag($err);
($new_leader, $new_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $term + 1);
is($new_leader->name, $behind->name, 'the node that was behind leads');
cmp_ok(
	value($new_leader, 'SELECT last_log_index FROM raft_ext.raft_status'),
	'>', $leader_last, 'it holds the old leader\'s entries and its own no-op');
$leader = $new_leader;
$term = $new_term;

# 3. To a node that is down.  Wait until the leader has noticed (no contact
# for more than an election timeout), then ask.
my ($down) = grep { $_ != $leader } @nodes;
my @up = grep { $_ != $down } @nodes;
$faults->kill9($down);
my $down_id = RaftTest::raft_id($down);
ok( $leader->poll_query_until(
		'postgres', qq{
	SELECT coalesce(last_contact > interval '1s', true)
	FROM raft_ext.raft_peers WHERE peer_id = $down_id}),
	'the leader sees the killed node silent');

($ok, $err) = transfer($leader, $down);
ok(!$ok, 'transfer to a node that is down fails');
like(
	$err,
	qr/node $down_id (is not responding|is down|is unreachable)|leadership transfer to node $down_id did not complete/,
	'with a clear error');
note("error: $err");

# The leader stays the leader: over the next two election timeouts it never
# steps down, and after that it still leads in the same term.
my $deadline = time() + 2.0;
my $stayed = 1;
while (time() < $deadline)
{
	my $st = RaftTest::status($leader);
	$stayed = 0 unless defined $st && $st->{role} eq 'leader';
	usleep(50_000);
}
ok($stayed, 'the leader never stepped down while the transfer failed');
my ($after, $after_term) = RaftTest::wait_for_leader(\@up);
is($after->name, $leader->name, 'the same node leads afterwards');
is($after_term, $term, 'in the same term');

# The killed node comes back and follows.
$faults->restart($down);
($after, $after_term) = RaftTest::wait_for_leader(\@nodes, min_term => $term);
is(RaftTest::status($down)->{role}, 'follower', 'the restarted node follows');

RaftScenario::finish($checker, $faults, \@nodes, 2);
