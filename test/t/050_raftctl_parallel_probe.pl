# Copyright: the raft_ext authors.

# raftctl asks every member at once, with one connect timeout for all.  Two
# staged members are added whose addresses accept TCP connections and never
# answer (a listening socket nobody serves): probed one after the other,
# each would cost the whole 5 s timeout.
#  1. list reports both as unreachable ("no answer within the connect
#     timeout") and the cluster as degraded (exit 1), the primary as before;
#  2. it returns within one timeout plus slack (under 9 s), not two.

use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftFailover::create_cluster(3);
my ($primary) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads');

# Two silent listeners: the kernel completes the handshake, nobody answers.
my @silent = map {
	IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
	  or die "listen: $!"
} 1 .. 2;
for my $i (0 .. 1)
{
	my $id = 4 + $i;
	my $port = $silent[$i]->sockport;
	$primary->safe_psql('postgres',
		"SELECT raft_ext.add_node($id, 'host=127.0.0.1 port=$port dbname=postgres')");
	ok( $primary->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM raft_ext.raft_peers WHERE peer_id = $id"),
		"member $id is in the membership");
}

my ($out, $err) = ('', '');
my $started = time();
IPC::Run::run([ 'raftctl', '-d', $primary->connstr('postgres'), 'list' ],
	'>', \$out, '2>', \$err);
my $rc = $? >> 8;
my $elapsed = time() - $started;
note("raftctl list ($elapsed s):\n$out$err");

# 1.
is($rc, 1, 'list exits 1: degraded');
like($out, qr/^4\s+\|[^|]+\| -\s+\| -\s+\| unreachable/m, 'member 4 is unreachable');
like($out, qr/^5\s+\|[^|]+\| -\s+\| -\s+\| unreachable/m, 'member 5 is unreachable');
like($err, qr/member 4: no answer within the connect timeout/, '... no answer within the timeout');
like($out, qr/^\d\s+\|[^|]+\| Primary /m, 'the primary is listed');

# 2. One timeout for all: both silent members cost it once.
cmp_ok($elapsed, '<', 9, 'list returned within one connect timeout plus slack, not two');

close $_ for @silent;
$_->stop('immediate') for @nodes;
done_testing();
