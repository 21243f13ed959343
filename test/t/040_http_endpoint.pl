# Copyright: the raft_ext authors.

# The HTTP endpoint (raft_ext.http_port) on a primary and two streaming
# standbys:
#  1. Patroni's paths answer 200 or 503 by role, on every node; HEAD like
#     GET; ?lag= on /replica; /sync and /async by raft_ext.synchronous;
#  2. /cluster lists every member, passwords masked; /history lists the
#     timeline history (node1 the first primary), the same committed steps
#     on every node; /metrics passes promtool check metrics;
#  3. bad input: unknown paths 404, other methods 405, bodies, bad ?lag=,
#     oversized and malformed requests 4xx and closed, or closed;
#  4. 100 idle HTTP connections open on the leader: the Raft worker keeps
#     sending heartbeats, no follower changes leader or term, the endpoint
#     still answers another address; the idle connections are closed by the
#     server (test/t/045_http_abuse.pl tests those limits).

use strict;
use warnings;

use JSON::PP;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftHttp;
use Test::More;
use Time::HiRes qw(time usleep);

my @nodes = RaftHttp::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'node1 is the primary and leads');
$leader->safe_psql('postgres', 'INSERT INTO fo_rows (i) SELECT generate_series(1, 100)');
$leader->wait_for_catchup($_) for ($node2, $node3);

# 1. Paths by role.
my $p1 = $node1->{http_port};
for my $path (qw(/primary /leader /read-write /master / /read-only /health /liveness /readiness))
{
	is(RaftHttp::get_status($p1, $path), 200, "primary: GET $path is 200");
}
is(RaftHttp::get_status($p1, '/replica'), 503, 'primary: GET /replica is 503');
for my $standby ($node2, $node3)
{
	my $port = $standby->{http_port};
	my $name = $standby->name;
	ok(RaftHttp::wait_status($port, '/replica', 200), "$name: GET /replica is 200 (streaming)");
	for my $path (qw(/primary /leader /read-write /master))
	{
		is(RaftHttp::get_status($port, $path), 503, "$name: GET $path is 503");
	}
	for my $path (qw(/read-only /health /liveness /readiness /replica?lag=16MB /replica?lag=1000000))
	{
		is(RaftHttp::get_status($port, $path), 200, "$name: GET $path is 200");
	}
}
my ($head_status, $head_headers, $head_body) =
  RaftHttp::request($p1, "HEAD /primary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is($head_status, 200, 'HEAD /primary is 200 on the primary');
is($head_body, '', 'HEAD sends no body');
is(RaftHttp::get_status($node2->{http_port}, '/primary'), 503, 'a standby: /primary 503');
# /sync and /async: with raft_ext.synchronous = off no standby is taken for
# synchronous; in quorum mode a voting standby is.
is(RaftHttp::get_status($node2->{http_port}, '/async'), 200, 'a standby, synchronous = off: /async 200');
is(RaftHttp::get_status($node2->{http_port}, '/sync'), 503, '... /sync 503');
is(RaftHttp::get_status($p1, '/sync'), 503, 'the primary: /sync 503');
is(RaftHttp::get_status($p1, '/async'), 503, 'the primary: /async 503');
$node2->safe_psql('postgres', 'ALTER SYSTEM SET raft_ext.synchronous = quorum');
$node2->reload;
ok(RaftHttp::wait_status($node2->{http_port}, '/sync', 200),
	'a voting standby, synchronous = quorum: /sync 200');
is(RaftHttp::get_status($node2->{http_port}, '/async'), 503, '... /async 503');
$node2->safe_psql('postgres', 'ALTER SYSTEM RESET raft_ext.synchronous');
$node2->reload;
ok(RaftHttp::wait_status($node2->{http_port}, '/async', 200), 'back to off: /async 200');
my ($hs) = RaftHttp::request($node2->{http_port},
	"HEAD /primary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is($hs, 503, 'HEAD /primary is 503 on a standby');

# ?lag=: a standby whose replay stops falls behind the primary's WAL end.
$node3->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$leader->safe_psql('postgres', 'INSERT INTO fo_rows (i) SELECT generate_series(1000, 30000)');
ok(RaftHttp::wait_status($node3->{http_port}, '/replica?lag=1kB', 503),
	'a standby with paused replay: /replica?lag=1kB is 503');
is(RaftHttp::get_status($node3->{http_port}, '/replica?lag=1GB'), 200,
	'... and /replica?lag=1GB is 200');
is(RaftHttp::get_status($node3->{http_port}, '/replica'), 200,
	'... and /replica without a limit is 200');
$node3->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
ok(RaftHttp::wait_status($node3->{http_port}, '/replica?lag=1kB', 200),
	'replay resumed: /replica?lag=1kB is 200 again');

# 2. /cluster and /metrics.
my ($cs, $cluster_body) = RaftHttp::get($p1, '/cluster');
is($cs, 200, '/cluster is 200');
my $cluster = eval { decode_json($cluster_body) };
ok(defined $cluster, '/cluster is JSON') or diag($cluster_body);
is(scalar @{ $cluster->{members} }, 3, '/cluster lists three members');
is($cluster->{leader}, 1, '/cluster names the leader');
my %member = map { $_->{id} => $_ } @{ $cluster->{members} };
is($member{1}{raft_role}, 'leader', 'member 1 is the Raft leader');
is($member{1}{pg_role}, 'primary', 'member 1 is the PostgreSQL primary');
is($member{2}{pg_role}, 'standby', 'member 2 is seen streaming from the primary');
ok(defined $member{2}{lag}, 'member 2 has a lag');
like($member{1}{lsn}, qr{^[0-9A-F]+/[0-9A-F]+$}, 'member 1 has an LSN');
ok(exists $member{3}{rejoin_state}, 'members carry a rejoin_state field');
my (undef, $standby_cluster) = RaftHttp::get($node2->{http_port}, '/cluster');
my %seen_by_2 = map { $_->{id} => $_ } @{ decode_json($standby_cluster)->{members} };
is($seen_by_2{2}{pg_role}, 'standby', 'node2 sees itself as a standby');
is($seen_by_2{1}{pg_role}, 'primary', 'node2 sees node1, which it streams from, as the primary');
unlike($cluster_body, qr/password=(?!\*)/, '/cluster shows no password');

# /history: node1's first promotion, committed, the same on every node.
my @histories;
for my $node (@nodes)
{
	my ($hs, $hbody) = RaftHttp::get($node->{http_port}, '/history');
	is($hs, 200, $node->name . ': GET /history is 200');
	my $hist = eval { decode_json($hbody) };
	ok(defined $hist, $node->name . ': /history is JSON') or diag($hbody);
	push @histories, [ grep { $_->{committed} } @{ $hist->{history} // [] } ];
}
my $first = $histories[0][0];
ok(defined $first, '/history has a committed step');
is($first->{new_primary}, 1, 'the first step is node1 promoting') if $first;
is($first->{old_primary}, undef, '... with no old primary') if $first;
is($first->{reason}, 'first primary', '... as the first primary') if $first;
like($first->{lsn}, qr{^[0-9A-F]+/[0-9A-F]+$}, '... with an LSN') if $first;
like($first->{time} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... and a time') if $first;
is_deeply($histories[1], $histories[0], 'node2 has the same committed history');
is_deeply($histories[2], $histories[0], 'node3 has the same committed history');
is($node1->safe_psql('postgres',
		'SELECT count(*) FROM raft_ext.raft_timeline_history WHERE committed'),
	scalar @{ $histories[0] }, '/history has the steps raft_timeline_history has');

for my $node (@nodes)
{
	my ($ms, $metrics) = RaftHttp::get($node->{http_port}, '/metrics');
	is($ms, 200, $node->name . ': /metrics is 200');
	my $file = "$PostgreSQL::Test::Utils::tmp_check/metrics_" . $node->name;
	open(my $fh, '>', $file) or die $!;
	print $fh $metrics;
	close $fh;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $file, '>', \$out, '2>', \$err);
	ok($ok, $node->name . ': promtool check metrics passes') or diag("$out$err");
	like($metrics, qr/^raft_ext_term \d+$/m, $node->name . ': raft_ext_term');
	like($metrics, qr/^raft_ext_rejoin_attempts 0$/m,
		$node->name . ': no rejoin attempted');
	like($metrics, qr/^raft_ext_rejoin_failed 0$/m, $node->name . ': none failed');
	like($metrics, qr/^raft_ext_peer_messages_sent_total\{peer="\d"\} \d+$/m,
		$node->name . ': per-peer message counters');
	like($metrics, qr/^raft_ext_fencing_enabled 1$/m, $node->name . ': fencing on');
	like($metrics, qr/^raft_ext_auto_promote 1$/m, $node->name . ': auto_promote on');
	like($metrics, qr/^raft_ext_auto_follow 1$/m, $node->name . ': auto_follow on');
	like($metrics, qr/^raft_ext_auto_rejoin 0$/m, $node->name . ': auto_rejoin off');
}
# raft_ext.fencing = off (admin work) shows in the metrics after a reload.
$node3->safe_psql('postgres', 'ALTER SYSTEM SET raft_ext.fencing = off');
$node3->reload;
my $fencing_off = 0;
for (1 .. 100)
{
	my (undef, $m) = RaftHttp::get($node3->{http_port}, '/metrics');
	$fencing_off = 1, last if $m =~ /^raft_ext_fencing_enabled 0$/m;
	usleep(100_000);
}
ok($fencing_off, 'node3: raft_ext_fencing_enabled 0 after fencing = off and a reload');
$node3->safe_psql('postgres', 'ALTER SYSTEM RESET raft_ext.fencing');
$node3->reload;
my (undef, $m1) = RaftHttp::get($p1, '/metrics');
like($m1, qr/^raft_ext_has_lease 1$/m, 'the primary has the lease');
like($m1, qr/^raft_ext_standby_lag_bytes\{application_name="node2",state="streaming"\} \d+$/m,
	'the primary reports node2\'s lag');
my (undef, $m2) = RaftHttp::get($node2->{http_port}, '/metrics');
like($m2, qr/^raft_ext_has_lease 0$/m, 'a standby has no lease');
like($m2, qr/^raft_ext_wal_receiver_streaming 1$/m, 'a standby streams');
like($m1, qr/^raft_ext_fence_refusals_total 0$/m, 'no refusal on the primary');

# 3. Bad input.
is(RaftHttp::get_status($p1, '/nope'), 404, 'an unknown path is 404');
is(RaftHttp::get_status($p1, '/primary/x'), 404, 'a longer path is 404');
for my $method (qw(POST PUT DELETE PATCH OPTIONS TRACE))
{
	my ($st, $hd) = RaftHttp::request($p1,
		"$method /primary HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	is($st, 405, "$method is 405");
	like($hd, qr/^Allow: GET, HEAD/mi, "$method: the answer says Allow: GET, HEAD");
}
my ($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1, "GET /replica?lag=abc HTTP/1.1\r\nHost: x\r\n\r\n");
is($bs, 400, 'a bad ?lag= is 400');
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1,
	"GET /primary HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
is($bs, 400, 'a GET with a body is 400');
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1, "GET /primary HTTP/1.1\r\n\r\n");
is($bs, 400, 'HTTP/1.1 without Host is 400');
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1,
	"GET /primary HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 20000) . "\r\n\r\n");
ok(defined $bs && $bs >= 400 && $bs < 500, "oversized headers are refused ($bs)");
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1,
	'GET /' . ('a' x 20000) . " HTTP/1.1\r\nHost: x\r\n\r\n");
ok(defined $bs && $bs >= 400 && $bs < 500, "an oversized request line is refused ($bs)");
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1, "GET /primary HTTP/9.9\r\nHost: x\r\n\r\n");
ok(defined $bs && $bs >= 400, "an unknown HTTP version is refused ($bs)");
ok($bclosed, '... and the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1, "GARBAGE\r\n\r\n");
ok($bclosed, 'a request line that is not HTTP: the connection is closed');
($bs, $bh, $bb, $bclosed) = RaftHttp::request($p1, "\x00\x01\x02\xff\xfe\r\n\r\n", timeout => 30);
ok($bclosed, 'binary junk: the connection is closed (at the latest by the connection timeout)');
is(RaftHttp::get_status($p1, '/primary'), 200, 'after all that, /primary still answers 200');

# 4. 100 idle connections on the leader.
my @idle;
for my $i (1 .. 100)
{
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p1, Proto => 'tcp');
	# Half say nothing, half send an unfinished request (a slow client).
	syswrite($sock, "GET /primary HTTP/1.1\r\n") if $sock && $i % 2;
	push @idle, $sock if $sock;
}
is(scalar @idle, 100, '100 idle HTTP connections are open on the leader');
my $term_before = RaftTest::status($node1)->{term};
my $sent_sql = 'SELECT sum(msgs_sent) FROM raft_ext.raft_peers WHERE NOT is_self';
my $sent_before = $node1->safe_psql('postgres', $sent_sql);
# Hold them for 40 heartbeats' worth of messages to both peers (2 s).
ok( $node1->poll_query_until('postgres', "SELECT ($sent_sql) >= $sent_before + 80"),
	'the leader keeps sending heartbeats while they are open');
# From another address: 127.0.0.1 holds its per-address limit.
my ($idle_status) = RaftHttp::request($p1,
	"GET /primary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", from => '127.0.0.2');
is($idle_status, 200, 'the endpoint still answers /primary');
for my $node (@nodes)
{
	my $st = RaftTest::status($node);
	is("$st->{term}/$st->{leader_id}", "$term_before/1",
		$node->name . ': same term and leader while they were open');
}
my (undef, $m_after) = RaftHttp::get($node2->{http_port}, '/metrics');
my ($changes_before) = $m2 =~ /^raft_ext_leader_changes_total (\d+)$/m;
my ($changes_after) = $m_after =~ /^raft_ext_leader_changes_total (\d+)$/m;
is($changes_after, $changes_before, 'node2 counted no leader change');

# The server closes idle connections (beyond the per-address limit at once,
# the others at the request deadline).
my $closed = 0;
my $deadline = time() + 60;
my %open = map { $_ => $_ } @idle;
while (%open && time() < $deadline)
{
	my $rin = '';
	vec($rin, fileno($_), 1) = 1 for values %open;
	next unless select(my $rout = $rin, undef, undef, 0.5);
	for my $s (values %open)
	{
		next unless vec($rout, fileno($s), 1);
		my $n = sysread($s, my $buf, 4096);
		if (!$n)
		{
			delete $open{$s};
			close $s;
			$closed++;
		}
	}
}
is($closed, 100, 'the server closed all 100 idle connections');

$_->stop for @nodes;
done_testing();
