# Copyright: the raft_ext authors.

# The bootstrap membership is fixed at a node's first start (issue 9, item
# 3).  raft_ext.peers is re-read at every start, and every membership change
# in the log applies to it; a node restarted with other members would compute
# another configuration than its peers from the same log.  Reproduced before
# the fix: three nodes, add_node(4) committed everywhere, node 1 restarted
# with node 3's entry replaced by a node 5 showed members 1,2,4,5 while the
# cluster had 1,2,3,4 -- two configurations with disjoint majorities.
#
# Now:
#  1. that restart stops Raft on node 1 with a clear raft_status.error and a
#     LOG line; the others keep their leader and their membership;
#  1b. raft_ext.peers naming the current membership (1, 2, 3, 4 after the
#     add_node) is accepted too, with a LOG line saying so;
#  2. an address-only change (node 2's conninfo written differently) is
#     accepted, and the new address is the one node 1 uses;
#  3. no password of a member address appears in any server log, nor in
#     raft_status or raft_peers as a non-superuser sees them.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

# A password in every member address (the test's pg_hba trusts local
# connections, so it is carried but never checked).
my $secret = 'Sekr1t-raft-pw';

my @nodes = RaftTest::create_cluster(3, start => 0);
my $node4 = PostgreSQL::Test::Cluster->new('node4');
$node4->init;
$node4->{raft_id} = 4;
my $node5 = PostgreSQL::Test::Cluster->new('node5');    # never started
$node5->{raft_id} = 5;

sub address
{
	my ($node, $extra) = @_;
	return RaftTest::conninfo($node) . " password=$secret" . ($extra // '');
}

sub peers
{
	return join ';', map { RaftTest::raft_id($_) . ':' . address($_) } @_;
}

sub set_peers
{
	my ($node, $value) = @_;
	$node->append_conf('postgresql.conf', "raft_ext.peers = '$value'\n");
}

set_peers($_, peers(@nodes)) for @nodes;
$node4->append_conf(
	'postgresql.conf',
	"shared_preload_libraries = 'raft_ext'\n"
	  . "raft_ext.node_id = 4\n"
	  . "raft_ext.cluster_name = '$RaftTest::CLUSTER_NAME'\n"
	  . "raft_ext.max_lag_on_failover = -1\n"
	  . RaftTest::timing_conf());
set_peers($node4, peers(@nodes, $node4));
for my $node (@nodes, $node4)
{
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
}

my ($leader) = RaftTest::wait_for_leader(\@nodes);
$leader->safe_psql('postgres',
	"SELECT raft_ext.add_node(4, '" . address($node4) . "')");
my @four = (@nodes, $node4);
ok(RaftTest::wait_members(\@four, '1,2,3,4', running => 1), 'add_node(4) is in every node\'s log');
# (and node 4 a voter everywhere: the error below names the membership as
# node 1 last saw it, staged members marked)
ok(RaftTest::wait_members(\@four, '1,2,3,4', running => 1, voters => 1),
	'node 4, caught up, is a voter in every node\'s log');

my ($n1, $n2, $n3) = @nodes;
my $state_dir = $n1->data_dir . '/pg_raft';
ok(-f "$state_dir/bootstrap", 'node 1 persisted its bootstrap membership');

# 1. Node 1 restarts with node 3 replaced by node 5.  Leadership first goes
# elsewhere, so that the cluster's leader is not the node that stops.
$n1->stop;
set_peers($n1, peers($n1, $n2, $node4, $node5));
my $offset = -s $n1->logfile;
$n1->start;
ok( $n1->poll_query_until(
		'postgres',
		q{SELECT error LIKE '%names neither this node''s bootstrap membership nor the current one%'
		  FROM raft_status}),
	'node 1 stops Raft: raft_ext.peers names neither its bootstrap membership nor the current one');
my $error = $n1->safe_psql('postgres', 'SELECT error FROM raft_status');
note("raft_status.error: $error");
like($error, qr/first started with members 1, 2, 3, the current membership is 1, 2, 3, 4; raft_ext\.peers names 1, 2, 4, 5 \(node 3: /,
	'the error names the three memberships and the missing member');
ok($n1->log_contains(qr/WARNING:  Raft stopped on node 1: raft_ext\.peers names neither/, $offset),
	'and the server log says so');
is($n1->safe_psql('postgres', 'SELECT raft_ext.is_leader()'), 'f',
	'node 1 does not lead');
my @others = ($n2, $n3, $node4);
my ($leader2) = RaftTest::wait_for_leader(\@others);
ok(defined $leader2, 'nodes 2, 3 and 4 keep a leader');
is(RaftTest::members($_), '1,2,3,4', $_->name . ' keeps members 1,2,3,4') for @others;

# A reload does not make the wrong value acceptable either.
$n1->safe_psql('postgres', 'SELECT pg_reload_conf()');
$n1->wait_for_log(qr/starting Raft again/, $offset);
ok( $n1->poll_query_until(
		'postgres',
		q{SELECT error LIKE '%names neither%' FROM raft_status}),
	'after a reload node 1 still refuses');

# 1b. raft_ext.peers naming the current membership (1, 2, 3 and the added
# 4), as a DBA writes it after add_node: accepted, with a LOG line; the
# engine still starts from the persisted bootstrap membership.
$n1->stop;
set_peers($n1, peers($n1, $n2, $n3, $node4));
$offset = -s $n1->logfile;
$n1->start;
ok(RaftTest::wait_members([$n1], '1,2,3,4', running => 1),
	'raft_ext.peers naming the current membership is accepted: node 1 runs with members 1,2,3,4');
ok($n1->log_contains(qr/raft_ext\.peers names the current membership \(nodes 1, 2, 3, 4\), not this node's bootstrap membership/, $offset),
	'and the server log says which one it names');
is($n1->safe_psql('postgres', q{SELECT coalesce(error, '') FROM raft_status}), '',
	'no error in raft_status');

# 2. The original members, with node 2's address written differently: the
# same members, so only the address changes, and that is allowed.
$n1->stop;
set_peers($n1, peers($n1, $n3) . ';2:' . address($n2, ' connect_timeout=7'));
$n1->start;
ok(RaftTest::wait_members([$n1], '1,2,3,4', running => 1), 'an address-only change is accepted: node 1 runs with members 1,2,3,4');
like(
	$n1->safe_psql('postgres',
		'SELECT conninfo FROM raft_ext.raft_peers WHERE peer_id = 2'),
	qr/connect_timeout=7/,
	'node 1 uses node 2\'s new address');
my ($leader3) = RaftTest::wait_for_leader(\@four);
ok(defined $leader3, 'all four agree on a leader');

# A state directory from raft_ext 1.0 has no bootstrap file: it adopts the
# configured membership once, and says so.
$n1->stop;
unlink "$state_dir/bootstrap" or die "unlink: $!";
$offset = -s $n1->logfile;
$n1->start;
$n1->wait_for_log(qr/has no bootstrap membership; adopting the one raft_ext\.peers names\n.*DETAIL:  raft_ext\.peers names nodes 1, 3, 2\./, $offset);
pass('a directory without a bootstrap file adopts raft_ext.peers, with a LOG line');
ok(RaftTest::wait_members([$n1], '1,2,3,4', running => 1), 'and node 1 runs');
ok(-f "$state_dir/bootstrap", 'the adopted membership is persisted');

# A damaged bootstrap file stops Raft; it is never silently rewritten.
$n1->stop;
my $good = slurp_file("$state_dir/bootstrap");
my $bad = $good;
substr($bad, 90, 1) = chr(ord(substr($bad, 90, 1)) ^ 0x01);
open my $fh, '>:raw', "$state_dir/bootstrap" or die;
print $fh $bad;
close $fh;
$n1->start;
ok( $n1->poll_query_until(
		'postgres',
		q{SELECT error LIKE 'raft state file "%bootstrap" is corrupt: The checksum does not match%' FROM raft_status}),
	'a damaged bootstrap file stops Raft with a clear error');
is(slurp_file("$state_dir/bootstrap"), $bad, 'the damaged file is left as it is');
$n1->stop;
open $fh, '>:raw', "$state_dir/bootstrap" or die;
print $fh $good;
close $fh;
$n1->start;
ok(RaftTest::wait_members([$n1], '1,2,3,4', running => 1), 'with the file restored node 1 runs again');
($leader3) = RaftTest::wait_for_leader(\@four);

# 3. No password anywhere a non-superuser or the log can see it.
# (roles are not replicated here: create it where writes commit, the leader)
$leader3->safe_psql('postgres', 'CREATE ROLE watcher LOGIN');
my $as_watcher = $leader3->safe_psql('postgres',
	'SET ROLE watcher; SELECT string_agg(conninfo || coalesce(last_error, \'\'), \' \') FROM raft_ext.raft_peers; '
	  . 'SELECT coalesce(error, \'\') FROM raft_status');
unlike($as_watcher, qr/\Q$secret\E/, 'raft_peers and raft_status hide the password from a non-superuser');
like($as_watcher, qr/password=\*{8}/, 'the password is shown masked');

# A bad value reloaded on node 2 (refused by the check hook): the log line
# must not quote the password of a URI libpq cannot parse.
my $offset2 = -s $n2->logfile;
set_peers($n2, peers(@nodes) . ";9:postgresql://u:$secret\@h:1/db?bogus=1");
$n2->safe_psql('postgres', 'SELECT pg_reload_conf()');
$n2->wait_for_log(qr/invalid value for parameter "raft_ext\.peers"/, $offset2);
pass('node 2 refused the reloaded value');

for my $node (@four)
{
	my $log = slurp_file($node->logfile);
	unlike($log, qr/\Q$secret\E/, $node->name . '\'s server log holds no password');
}

$_->stop for @four;
done_testing();
