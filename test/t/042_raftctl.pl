# Copyright: the raft_ext authors.

# raftctl against a live cluster (a primary and two streaming standbys):
#  1. list prints every member, node1 the Primary, the standbys Replicas;
#  2. status --watch 1 --count 2 refreshes the table;
#  3. switchover --to 2 hands over and returns once node2 is the primary;
#  4. a member that is down is listed as unreachable;
#  5. exit codes: 2 for a node that cannot be reached, 3 for a role without
#     EXECUTE on transfer_leadership, 1 for bad usage; a plain role (no
#     pg_read_all_stats, which hides the WAL receivers' status) still sees
#     a healthy cluster with streaming standbys.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftFaults;
use Time::HiRes qw(usleep);
use Test::More;
use JSON::PP;

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
like($out, qr/^Cluster: pg-\d+ \(term \d+, leader 1, healthy\)$/m, 'the header names the cluster, the leader and the health');
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
# A role without pg_read_all_stats sees no WAL receiver's status: the
# cluster is still healthy, its standbys streaming.
($rc, $out, $err) = raftctl('-d', $node1->connstr('postgres') . ' user=plain', 'list');
is($rc, 0, 'raftctl list as a plain role exits 0 (healthy)') or diag("$out$err");
like($out, qr/^2\s+\|[^|]+\| Replica \| follower\s+\| streaming/m,
	'... and shows node2 streaming');
($rc, $out, $err) = raftctl('-d', $node1->connstr('postgres') . ' user=plain', 'switchover', '--to', '2', '--force');
is($rc, 3, 'switchover without EXECUTE on transfer_leadership exits 3');
like($err, qr/permission denied/, '... saying permission denied');
($rc, $out, $err) = raftctl('-d', $d, 'switchover');
is($rc, 64, 'switchover without --to exits 64');
($rc, $out, $err) = raftctl('-d', $d, 'switchover', '--to', '9');
is($rc, 64, 'switchover to a non-member exits 64');
($rc, $out, $err) = raftctl('-d', $d, 'frobnicate');
is($rc, 64, 'an unknown command exits 64');
($rc, $out, $err) = raftctl('-d', $d, '-f', 'xml', 'list');
is($rc, 64, 'an unknown format exits 64');
($rc, $out, $err) = raftctl('-d', $d, 'switchover', '--to', '2');
is($rc, 4, 'a switchover nobody confirms exits 4');
like($err, qr/Switch over from node 1 to node 2.*\[y\/N\].*use --force/s, '... after asking');
ok(RaftFailover::is_primary($node1), '... and node1 is still the primary');

# 6a. JSON, healthy
($rc, $out, $err) = raftctl('-d', $d, '-f', 'json', 'list');
is($rc, 0, 'list -f json on a healthy cluster exits 0') or diag($err);
my $j = decode_json($out);
is($j->{health}, 'healthy', 'JSON: healthy');
is($j->{primary}, 1, 'JSON: node1 is the primary');
is(scalar @{ $j->{members} }, 3, 'JSON: three members');
is_deeply([ map { $_->{role} } @{ $j->{members} } ], [qw(primary replica replica)],
	'JSON: the roles');
is_deeply([ map { $_->{state} } @{ $j->{members} } ], [qw(running streaming streaming)],
	'JSON: the states');

# 8a. failover while a primary exists: refused, switchover is the way.
($rc, $out, $err) = raftctl('-d', $d, 'failover', '--candidate', '2', '--force');
is($rc, 4, 'failover --candidate with a primary in place exits 4');
like($err, qr/node 1 is the primary: use "switchover --to 2"/, '... pointing to switchover');

# 9. --version
($rc, $out, $err) = raftctl('--version');
is($rc, 0, '--version exits 0');
like($out, qr/^raftctl \(raft_ext\) \d+\.\d+$/m, '--version names the version');

# 3. switchover
($rc, $out, $err) = raftctl('-d', $d, 'switchover', '--to', '2', '--timeout', '60', '--force');
is($rc, 0, 'raftctl switchover --to 2 exits 0') or diag("$out$err");
like($out, qr/node 2 is the primary/, '... once node2 is the primary');
ok(RaftFailover::is_primary($node2), 'node2 is out of recovery');
is($node2->safe_psql('postgres', 'SELECT has_lease FROM raft_ext.raft_status'), 't',
	'node2 holds the lease');

# 7. a failover: node2 killed, node1 or node3 promotes.
my ($before) = RaftFailover::wait_primary(\@nodes);
is($before->name, 'node2', 'node2 leads before the failover');
my $faults = RaftFaults->new(\@nodes);
$faults->kill9($node2);
my ($after) = RaftFailover::wait_primary([ $node1, $node3 ]);
ok(defined $after, 'a member took over from node2');
my $survivor = $after;
my $d1 = $survivor->connstr('postgres');
ok( RaftFailover::poll_true($survivor,
		"SELECT count(*) >= 3 FROM raft_ext.raft_timeline_history WHERE committed"),
	'the failover is in the history');
($rc, $out, $err) = raftctl('-d', $d1, '-f', 'json', 'history');
is($rc, 0, 'history -f json exits 0') or diag($err);
my $h = decode_json($out);
note("history: $out");
my ($sw) = grep { $_->{new_primary} == 2 } @$h;
ok(defined $sw, 'the switchover to node2 is in the history');
is($sw->{old_primary}, 1, '... from node1') if $sw;
my $last = $h->[-1];
is($last->{new_primary}, $survivor->{raft_id}, 'the last step is the failover to ' . $survivor->name);
is($last->{old_primary}, 2, '... from node2');
ok($last->{timeline} > $sw->{timeline}, '... on a later timeline') if $sw;
like($last->{lsn}, qr{^[0-9A-F]+/[0-9A-F]+$}, '... with its LSN');
ok(length($last->{reason}) > 0, "... and a reason ($last->{reason})");
($rc, $out, $err) = raftctl('-d', $d1, 'history');
is($rc, 0, 'history as a table exits 0');
like($out, qr/^Step \| Term\s+\| Old primary \| New primary/m, 'the table has its header');

# 4, 6b. a member down: listed as unreachable, degraded (exit 1)
($rc, $out, $err) = raftctl('-d', $d1, 'list');
is($rc, 1, 'raftctl list with a member down exits 1 (degraded)');
like($out, qr/^2\s+\|[^|]+\| -\s+\| -\s+\| unreachable/m, 'node2 is listed as unreachable');
like($err, qr/member 2: .*(refused|No such file)/s, '... and why on stderr');
like($out, qr/^\d\s+\|[^|]+\| Primary /m, 'a Primary is listed');
($rc, $out, $err) = raftctl('-d', $d1, '-f', 'json', 'status');
is($rc, 1, 'status -f json exits 1 too');
is(decode_json($out)->{health}, 'degraded', 'JSON: degraded');

# 6c, 8. two members down: no primary (exit 2), nobody leads
my ($other) = grep { $_ != $survivor } ($node1, $node3);
$other->stop('immediate');
my $no_primary = 0;
for (1 .. 100)
{
	($rc, $out, $err) = raftctl('-d', $d1, '-f', 'json', 'list');
	$no_primary = 1, last if $rc == 2;
	usleep(200_000);
}
ok($no_primary, 'list exits 2 once no primary is left');
is(decode_json($out)->{health}, 'no primary', 'JSON: no primary');
is(decode_json($out)->{primary}, undef, 'JSON: primary is null');
($rc, $out, $err) = raftctl('-d', $d1, 'failover', '--candidate', $survivor->{raft_id}, '--force');
is($rc, 4, 'failover --candidate with nobody leading exits 4');
like($err, qr/no member leads.*1 of 3 members answer/s, '... saying why');

# 5b. the node given by -d unreachable
($rc, $out, $err) = raftctl('-d', $other->connstr('postgres'), 'list');
is($rc, 69, 'raftctl against a stopped node exits 69');
like($err, qr/could not connect to the node/, '... saying it could not connect');

$survivor->stop('immediate');
done_testing();
