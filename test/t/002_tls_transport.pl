# Copyright: the raft_ext authors.
#
# The transport over TLS: peers' conninfo asks for sslmode=require, every
# node accepts TCP connections only through hostssl, and the cluster still
# elects a leader and replicates.  pg_stat_ssl shows the workers' sessions
# encrypted.  Nothing in raft_ext handles TLS itself: libpq's non-blocking
# connect (PQconnectPoll) negotiates it, which is what this checks.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

# A throwaway self-signed certificate for 127.0.0.1 (no verification:
# sslmode=require only asks for encryption).
my $certdir = PostgreSQL::Test::Utils::tempdir;
system_or_bail(
	'openssl', 'req', '-new', '-x509', '-nodes', '-days', '1',
	'-subj', '/CN=127.0.0.1', '-keyout', "$certdir/server.key",
	'-out', "$certdir/server.crt");
chmod 0600, "$certdir/server.key";

my @nodes = RaftTest::create_cluster(3, start => 0);

# Peers reach each other over TCP with TLS required.
my $peers = join ';',
  map { RaftTest::raft_id($_) . ':host=127.0.0.1 port=' . $_->port
	  . ' dbname=postgres sslmode=require' } @nodes;
for my $node (@nodes)
{
	$node->append_conf(
		'postgresql.conf', qq{
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$certdir/server.crt'
ssl_key_file = '$certdir/server.key'
raft_ext.peers = '$peers'
});
	# Unix sockets for the test itself; TCP only encrypted.
	open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $hba "local all all trust\n";
	print $hba "hostssl all all 127.0.0.1/32 trust\n";
	close $hba;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
}

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
ok(defined $leader, 'a leader is elected over TLS connections');

# Every worker's outgoing sessions on the leader's peers are encrypted.
for my $node (@nodes)
{
	ok( $node->poll_query_until(
			'postgres', q{
SELECT count(*) >= 1 AND bool_and(s.ssl)
  FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
 WHERE a.application_name LIKE 'raft_ext%'}),
		$node->name . ': raft_ext peer sessions use TLS');
}

# A plain TCP connection is refused, so Raft could not run without TLS.
my ($ret, $out, $err) = $nodes[0]->psql('postgres', 'SELECT 1',
	connstr => 'host=127.0.0.1 port=' . $nodes[0]->port
	  . ' dbname=postgres sslmode=disable');
isnt($ret, 0, 'a connection without TLS is refused');
like($err, qr/no pg_hba.conf entry|SSL off/, '... by pg_hba.conf');

# Kill the leader: the survivors elect another one, still over TLS.
RaftTest::kill9($leader);
my @survivors = grep { $_ != $leader } @nodes;
my ($second, $second_term) =
  RaftTest::wait_for_leader(\@survivors, min_term => $term + 1);
ok(defined $second && $second != $leader,
	'the survivors elect a new leader over TLS');
cmp_ok($second_term, '>', $term, '... in a later term');

done_testing();
