
# Copyright: the raft_ext authors.

# Rolling restart of a primary with two streaming hot standbys, every node
# running raft_ext: each node in turn is restarted (pg_ctl restart) while
# the other two keep running, three times round.  After every restart there
# is a leader that all three agree on, and no node's term has gone backwards.

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

my @nodes = RaftFaults::create_replicated_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

is($nodes[$_]->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't',
	$nodes[$_]->name . ' is a hot standby') for 1, 2;

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
for my $pass (1 .. 3)
{
	for my $node (@nodes)
	{
		my $before = RaftFaults::status($node)->{term};
		$faults->restart($node);
		my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes, min_term => $term);
		ok(defined $after, "pass $pass, after restarting " . $node->name . ': '
			  . $after->name . " leads in term $after_term");
		cmp_ok(RaftFaults::status($node)->{term}, '>=', $before,
			"pass $pass: " . $node->name . "'s term did not go back");
		($leader, $term) = ($after, $after_term);
	}
}

# Replication still works end to end.
$nodes[0]->safe_psql('postgres', 'CREATE TABLE rolled (x int); INSERT INTO rolled VALUES (1)');
$nodes[0]->wait_for_catchup($_) for @nodes[ 1, 2 ];
is($_->safe_psql('postgres', 'SELECT count(*) FROM rolled'), '1',
	$_->name . ' replays the primary after the restarts') for @nodes[ 1, 2 ];

RaftScenario::finish($checker, $faults, \@nodes, 6);
