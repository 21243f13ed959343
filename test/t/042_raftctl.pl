# Copyright: the raft_ext authors.

# raftctl against a live cluster (a primary and two streaming standbys):
#  1. list prints every member, node1 the Primary, the standbys Replicas;
#  2. status --watch 1 --count 2 refreshes the table;
#  3. switchover --to 2 hands over and returns once node2 is the primary;
#  4. a member that is down is listed as unreachable;
#  5. exit codes: 2 for a node that cannot be reached, 3 for a role without
#     EXECUTE on transfer_leadership, 1 for bad usage.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'node1 is the primary');
ok($node2->poll_query_until('postgres',
		q{SELECT status = 'streaming' FROM pg_stat_wal_receiver}),
	'node2 streams');
ok($node3->poll_query_until('postgres',
		q{SELECT status = 'streaming' FROM pg_stat_wal_receiver}),
	'node3 streams');

# Run raftctl; returns (exit code, stdout, stderr).
sub raftctl
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'raftctl', @args ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

my $d = $node2->connstr('postgres');

# 1. list
my ($rc, $out, $err) = raftctl('-d', $d, 'list');
is($rc, 0, 'raftctl list exits 0') or diag($err);
note("raftctl list:\n$out");
like($out, qr/^Cluster: pg-\d+ \(term \d+, leader 1\)$/m, 'the header names the cluster and the leader');
like($out, qr/^1\s+\|[^|]+\| Primary \| leader\s+\| running/m, 'node1 is listed as Primary and leader');
like($out, qr/^2\s+\|[^|]+\| Replica \| follower\s+\| streaming/m, 'node2 is a streaming Replica');
like($out, qr/^3\s+\|[^|]+\| Replica \| follower\s+\| streaming/m, 'node3 is a streaming Replica');

# 2. status --watch
($rc, $out, $err) = raftctl('-d', $d, 'status', '--watch', '1', '--count', '2');
is($rc, 0, 'raftctl status --watch exits 0 after --count tables');
is(scalar(() = $out =~ /^Cluster: /mg), 2, 'status --watch 1 --count 2 printed two tables');

# 5a. privileges and usage, while node1 leads
$node1->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
$node1->wait_for_catchup($_) for ($node2, $node3);
($rc, $out, $err) = raftctl('-d', $node1->connstr('postgres') . ' user=plain', 'switchover', '--to', '2');
is($rc, 3, 'switchover without EXECUTE on transfer_leadership exits 3');
like($err, qr/permission denied/, '... saying permission denied');
($rc, $out, $err) = raftctl('-d', $d, 'switchover');
is($rc, 1, 'switchover without --to exits 1');
($rc, $out, $err) = raftctl('-d', $d, 'switchover', '--to', '9');
is($rc, 1, 'switchover to a non-member exits 1');
($rc, $out, $err) = raftctl('-d', $d, 'frobnicate');
is($rc, 1, 'an unknown command exits 1');

# 3. switchover
($rc, $out, $err) = raftctl('-d', $d, 'switchover', '--to', '2', '--timeout', '60');
is($rc, 0, 'raftctl switchover --to 2 exits 0') or diag("$out$err");
like($out, qr/node 2 is the primary/, '... once node2 is the primary');
ok(RaftFailover::is_primary($node2), 'node2 is out of recovery');
is($node2->safe_psql('postgres', 'SELECT has_lease FROM raft_ext.raft_status'), 't',
	'node2 holds the lease');

# 4. a member down
$node3->stop('fast');
($rc, $out, $err) = raftctl('-d', $d, 'list');
is($rc, 0, 'raftctl list with a member down exits 0');
like($out, qr/^3\s+\|[^|]+\| -\s+\| -\s+\| unreachable/m, 'node3 is listed as unreachable');
like($err, qr/member 3: .*(refused|No such file)/s, '... and why on stderr');
like($out, qr/^2\s+\|[^|]+\| Primary /m, 'node2 is listed as Primary');

# 5b. the node given by -d unreachable
($rc, $out, $err) = raftctl('-d', $node3->connstr('postgres'), 'list');
is($rc, 2, 'raftctl against a stopped node exits 2');
like($err, qr/could not connect to the node/, '... saying it could not connect');

$_->stop for ($node1, $node2);
done_testing();
