# Copyright: the raft_ext authors.

# A real HAProxy in front of three nodes, routing to the node whose HTTP
# endpoint answers 200 to "option httpchk GET /primary" (the check Patroni
# users already have).  A client writes through HAProxy without pause:
#  1. every write lands on node1, the primary;
#  2. kill -9 of node1: a standby is elected and promotes itself, HAProxy
#     routes to it, writes resume there;
#  3. node1 rejoins as a standby (scripts/rejoin-standby.sh), then a
#     planned switchover (raft_ext.transfer_leadership) to the other
#     standby: HAProxy follows, writes resume on the target;
#  4. each acknowledged write landed on the primary of its time: the
#     servers that acknowledged writes follow node1, new, target in order,
#     never back; every acknowledged row is on the final primary.
# Prints the writes before and after each change and the time until the
# first write through HAProxy landed on the new primary.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftHttp;
use Test::More;
use Time::HiRes qw(time usleep);

# HAProxy reaches the servers over TCP on 127.0.0.1.
my @nodes = RaftHttp::create_cluster(3, extra_conf => "listen_addresses = '127.0.0.1'\n");
my ($node1, $node2, $node3) = @nodes;
my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'node1 is the primary and leads');

my $proxy = RaftHttp::start_haproxy(\@nodes);
ok( $node1->poll_query_until('postgres', 'SELECT 1', '1') &&
	RaftHttp::wait_status($node1->{http_port}, '/primary', 200),
	'node1 answers /primary with 200');

my $writer = RaftHttp::start_proxy_writer($proxy->{port});
ok(defined RaftFailover::wait_acks_on($writer, $node1, 20),
	'writes through HAProxy land on node1');
my $before_kill = scalar RaftFailover::acknowledged($writer);

# 2. kill -9 of the primary.
my $killed_at = time();
$node1->kill9;
my ($new, $new_term) =
  RaftFailover::wait_primary([ $node2, $node3 ], min_term => $term + 1);
ok(defined $new, 'a standby is elected and promoted');
my ($other) = grep { $_ != $new } ($node2, $node3);
my $first_new = RaftFailover::wait_acks_on($writer, $new, 10, $killed_at);
ok(defined $first_new, 'writes through HAProxy resume on ' . $new->name);
ok(RaftFailover::wait_follows($other, $new), $other->name . ' follows ' . $new->name);
my $after_kill = scalar RaftFailover::acknowledged($writer);
diag(sprintf('041 kill -9: %d writes before, %d after; kill -> first write via HAProxy on %s: %.2f s',
		$before_kill, $after_kill - $before_kill, $new->name,
		defined $first_new ? $first_new - $killed_at : -1));

# The old primary rejoins as a standby of the new one (rejoin-standby.sh):
# under synchronous replication, the switchover's target needs a standby
# once the old primary is fenced.
ok(RaftFailover::rejoin($node1, $new), 'node1 rejoins as a standby');
ok(RaftFailover::wait_follows($node1, $new), 'node1 follows ' . $new->name);
is(RaftHttp::get_status($node1->{http_port}, '/primary'), 503,
	'node1 answers /primary with 503');

# 3. Planned switchover to the other standby.
my $target_id = RaftTest::raft_id($other);
my $asked_at = time();
my $switched;
for my $attempt (1 .. 20)
{
	RaftFailover::sql($new, "SELECT raft_ext.transfer_leadership($target_id)");
	my $until = time() + 3;
	while (!$switched && time() < $until)
	{
		my ($l) = RaftTest::agreed_leader(\@nodes);
		$switched = defined $l && $l == $other && RaftFailover::is_primary($other);
		usleep(100_000) unless $switched;
	}
	last if $switched;
}
ok($switched, $other->name . ' is primary after the switchover');
my $first_target = RaftFailover::wait_acks_on($writer, $other, 10, $asked_at);
ok(defined $first_target, 'writes through HAProxy resume on ' . $other->name);
RaftFailover::stop_writer($writer);
my @acks = RaftFailover::acknowledged($writer);
diag(sprintf('041 switchover: %d writes before, %d after; request -> first write via HAProxy on %s: %.2f s',
		$after_kill, scalar(@acks) - $after_kill, $other->name,
		defined $first_target ? $first_target - $asked_at : -1));

# 4. Each write on the primary of its time: ports in order, never back.
my @expected = ($node1->port, $new->port, $other->port);
my ($stage, $out_of_order) = (0, 0);
for my $ack (@acks)
{
	$stage++ while $stage < $#expected && $ack->[2] != $expected[$stage];
	$out_of_order++ if $ack->[2] != $expected[$stage];
}
is($out_of_order, 0, 'every write landed on the primary of its time (node1, then '
	  . $new->name . ', then ' . $other->name . ')');
ok( $other->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'the target is out of recovery');
RaftFailover::check_rows($other, $writer);

# The old primary of the switchover is fenced: its endpoint says so, and
# its metrics count the refused write.
RaftFailover::expect_write_refused($new, 'the fenced old primary');
is(RaftHttp::get_status($new->{http_port}, '/primary'), 503,
	'the fenced old primary answers /primary with 503');
is(RaftHttp::get_status($new->{http_port}, '/health'), 200,
	'... and /health with 200 (it accepts connections)');
# A session that opts out of the read-only default reaches the commit-time
# fence, which is what the counter counts (the read-only default refuses
# with the same SQLSTATE before the fence is reached).
my (undef, undef, $fence_err) = RaftFailover::sql($new,
	"SET default_transaction_read_only = off;\n"
	  . 'INSERT INTO fo_rows (i) VALUES (-2)',
	timeout => 10);
like($fence_err, qr/fenced node/, 'the commit-time fence refuses the write');
my (undef, $fenced_metrics) = RaftHttp::get($new->{http_port}, '/metrics');
my ($refusals) = $fenced_metrics =~ /^raft_ext_fence_refusals_total (\d+)$/m;
cmp_ok($refusals // 0, '>=', 1, 'its raft_ext_fence_refusals_total counts the refusal');

RaftHttp::stop_haproxy($proxy);
ok(!kill(0, $proxy->{pid}), 'haproxy is stopped');
$_->stop for @nodes;
done_testing();
