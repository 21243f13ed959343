
# Copyright: the raft_ext authors.

# Adding a member that is down never costs the quorum (issue 9).  Three
# nodes, one of them stopped; raft_ext.add_node adds a fourth that is not
# running yet.  add_node stages it: a learner until it has caught up, so the
# leader keeps its lease and keeps committing writes with two of the three
# voters.  (As a voter at once, node 4 would have made a quorum of three out
# of four with only two up, and fenced the primary.)  Then node 4 starts,
# catches up and the leader promotes it by itself; the stopped node comes
# back.  Before node 4 starts, a voter restarts with raft_ext.peers naming
# node 4 too (the current membership, node 4 still staged): accepted.  The
# invariant checker samples every node throughout.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftTest::create_cluster(3);

# The fourth instance, configured but not started.
my $node4 = RaftTest::extra_node(4, \@nodes);

my ($checker, $faults) = RaftScenario::watch([ @nodes, $node4 ]);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my ($down) = grep { $_ != $leader } @nodes;
$faults->stop($down);
my @up = grep { $_ != $down } @nodes;
($leader, $term) = RaftTest::wait_for_leader(\@up);
note('leader ' . $leader->name . " in term $term, " . $down->name . ' stopped');

$leader->safe_psql('postgres',
	q{SELECT raft_ext.add_node(4, '} . RaftTest::conninfo($node4) . q{')});
pass('add_node(4) accepted while node 4 is down');

ok( $leader->poll_query_until(
		'postgres',
		q{SELECT staged AND NOT voter FROM raft_ext.raft_peers WHERE peer_id = 4}),
	'node 4 is a staged learner in the leader\'s raft_peers');

# Longer than an election timeout and CheckQuorum's window: a quorum that
# counted node 4 would have cost the lease and the leadership by now.
RaftFaults::hold(3 * RaftFaults::election_timeout(),
	'node 4 and ' . $down->name . ' down');
my ($still, $still_term) = RaftTest::wait_for_leader(\@up);
is($still->name, $leader->name, 'the leader kept leading');
is($still_term, $term, 'in the same term');
is(RaftTest::status($leader)->{has_lease}, 't', 'and it holds the lease');
$leader->safe_psql('postgres',
	'CREATE TABLE staged_add (x int); INSERT INTO staged_add VALUES (1)');
is($leader->safe_psql('postgres', 'SELECT count(*) FROM staged_add'),
	'1', 'the primary stays writable (the fence let the write commit)');

# The other voter that is up restarts with raft_ext.peers naming the
# current membership, node 4 included, as a DBA writes it after add_node:
# raft_ext.peers cannot say that node 4 is still staged, and must be
# accepted all the same (the ids agree; voting rights come from the log).
my ($follower) = grep { $_ != $leader } @up;
$follower->stop;
$follower->append_conf('postgresql.conf',
	"raft_ext.peers = '" . RaftTest::peers_value(@nodes, $node4) . "'\n");
$follower->start;
ok( $follower->poll_query_until(
		'postgres',
		q{SELECT error IS NULL FROM raft_status}),
	'raft_ext.peers naming the current membership with node 4 staged is accepted');
ok( $follower->log_contains(
		qr/raft_ext\.peers names the current membership \(nodes 1, 2, 3, 4 \(non-voting\)\)/),
	'and the server log says which one it names');
is( $follower->safe_psql('postgres',
		q{SELECT staged AND NOT voter FROM raft_ext.raft_peers WHERE peer_id = 4}),
	't', 'node 4 is still staged there');

# Node 4 comes up: it catches up and the leader promotes it by itself.
$node4->start;
$node4->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
ok( $leader->poll_query_until(
		'postgres',
		q{SELECT voter AND NOT staged FROM raft_ext.raft_peers WHERE peer_id = 4}),
	'node 4 was promoted to voter once it had caught up');
ok( $node4->poll_query_until(
		'postgres',
		q{SELECT voter FROM raft_ext.raft_peers WHERE peer_id = 4}),
	'node 4 sees itself as a voter');

$faults->start($down);
my @all = (@nodes, $node4);
my ($final, $final_term) = RaftTest::wait_for_leader(\@all);
ok(defined $final, 'all four agree on a leader: ' . $final->name);

RaftScenario::finish($checker, $faults, \@all, 1);
