# Copyright: the raft_ext authors.

# Peers that cannot be reached at all must not slow the others down.
#
# Five members: three real instances and two addresses where nothing
# listens, both local:
#  - member 4: a TCP port on 127.0.0.1 that nothing listens on; every
#    connection attempt is refused at once (RST);
#  - member 5: a Unix-domain socket in a directory that does not exist;
#    every attempt fails at once with ENOENT.
# The other kind of unreachable host, one that silently drops SYNs so that a
# connection attempt hangs, cannot be built on loopback without root: it
# takes a netfilter DROP rule, or packets sent off the machine to a
# non-routed address.  A listener whose accept queue is full does not do it
# either: on the kernels tried (6.x, SYN cookies on) the client still sees
# the connection established, and then nothing answers, which is the
# "accepts but never answers" case of 112_unresponsive_peer.pl.  That case
# drives the same transport path a SYN-dropping host would (an attempt that
# gets no answer until the transport's own connect deadline), only from a
# later step of the handshake.
# The three real nodes (exactly a quorum of five) elect a leader; for a few
# seconds it keeps its lease without a gap, keeps sending to both followers,
# and they keep hearing from it; a leadership transfer completes promptly.
# The invariant checker samples every node for the whole test and must stay
# clean.

use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(usleep time);

# Member 4: a port that was free a moment ago and that nobody listens on.
my $probe = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => 0,
	Proto => 'tcp') or die "could not bind: $!";
my $refused_port = $probe->sockport;
close $probe;
ok( !IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $refused_port,
		Proto => 'tcp',
		Timeout => 1),
	"connections to port $refused_port are refused");

# Member 5: a socket directory that does not exist.
my $missing_dir = PostgreSQL::Test::Utils::tempdir() . '/no/such/dir';
ok(!-e $missing_dir, "$missing_dir does not exist");

my @nodes = RaftTest::create_cluster(3, start => 0);
my $peers = RaftTest::peers_value(@nodes)
  . ";4:host=127.0.0.1 port=$refused_port dbname=postgres"
  . ";5:host=$missing_dir port=5432 dbname=postgres";
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.peers = '$peers'\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
}
my ($checker, $faults) = RaftScenario::watch(\@nodes);
# The two members that cannot be reached are this scenario's faults.
$faults->record_fault("member 4: nothing listens on 127.0.0.1 port $refused_port");
$faults->record_fault("member 5: no socket directory $missing_dir");

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader: ' . $leader->name . " in term $term");
my @followers = grep { $_ != $leader } @nodes;
is(RaftTest::steady_leader_failures($leader, $term, \@followers, 4), 0,
	'the leader keeps its lease and heartbeats with two members unreachable');

for my $id (4, 5)
{
	my ($connected, $error) = RaftTest::row($leader,
		"SELECT connected, last_error FROM raft_ext.raft_peers WHERE peer_id = $id");
	is($connected, 'f', "member $id is not connected");
	note("member $id last_error: $error");
}
my ($refused_error) = RaftTest::row($leader,
	'SELECT last_error FROM raft_ext.raft_peers WHERE peer_id = 4');
like($refused_error, qr/refused/i, 'member 4\'s error says the connection was refused');
my ($missing_error) = RaftTest::row($leader,
	'SELECT last_error FROM raft_ext.raft_peers WHERE peer_id = 5');
like($missing_error, qr/No such file or directory/i,
	'member 5\'s error says the socket does not exist');

# Commands are served promptly: hand the leadership over and back.
my ($new_leader, $new_term) =
  RaftTest::transfer_to($leader, $followers[0], \@nodes, $term);
is($new_leader->name, $followers[0]->name,
	'leadership transfer works with two members unreachable');
my @new_followers = grep { $_ != $new_leader } @nodes;
is(RaftTest::steady_leader_failures($new_leader, $new_term, \@new_followers, 2), 0,
	'the new leader is steady too');

RaftScenario::finish($checker, $faults, \@nodes, 2);
