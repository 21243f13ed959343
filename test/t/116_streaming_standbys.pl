# Copyright: the raft_ext authors.

# A primary with two streaming standbys (pg_basebackup, hot_standby on), each
# with its own raft_ext.node_id; the extension is created on the primary only
# and reaches the standbys through WAL.  All three run Raft:
#  1. they elect a leader and agree on it;
#  2. kill -9 of the Raft leader's postmaster: the other two elect a new one;
#  3. the killed instance restarts and rejoins (a standby reconnects to its
#     primary; a primary comes back as a primary and its standbys reconnect).
# Steps 2 and 3 run twice.
# The invariant checker samples every node for the whole test and must stay
# clean.

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
my ($primary, $standby1, $standby2) = @nodes;

is($_->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', $_->name . ' is a hot standby')
  for ($standby1, $standby2);
is( $standby1->safe_psql(
		'postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'raft_ext'}),
	'1', 'the extension reached the standby through WAL');

my ($checker, $faults) = RaftScenario::watch(\@nodes);

# 1. One leader, agreed on by all three.
my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
ok(defined $leader, 'primary and standbys elect a leader');
note('first leader: ' . $leader->name . " in term $term");
for my $node (@nodes)
{
	is( $node->safe_psql(
			'postgres', 'SELECT error IS NULL FROM raft_ext.raft_status'),
		't', $node->name . ' runs Raft without error');
	is( $node->safe_psql(
			'postgres', q{SELECT count(*) FROM raft_ext.raft_peers}),
		'3', $node->name . ' sees three members');
}

# Each node kept its own state directory: the standbys' copies of the
# primary's were moved aside, not reused.
for my $standby ($standby1, $standby2)
{
	ok( $standby->log_contains(
			qr/raft state directory .* belongs to node 1, not to this node/),
		$standby->name . ' set aside the state directory copied from node 1')
	  or note('no cloned state directory (pg_basebackup skipped it?)');
}

# 2 and 3, twice: kill whichever node leads, let the others elect, bring it
# back.  No planned transfer here: handing leadership to a standby is a
# switchover request to the failover policy (src/failover.c), which may
# promote it.  With the policy's defaults (no auto_promote) nobody is
# promoted: a standby that leads while the primary is down stays a standby,
# and hands leadership back to the primary once it is healthy again.
for my $round (1, 2)
{
	($leader, $term) = RaftTest::wait_for_leader(\@nodes);
	note("round $round: " . $leader->name . " leads in term $term");

	my @survivors = grep { $_ != $leader } @nodes;
	$faults->kill9($leader);
	my ($new_leader, $new_term) =
	  RaftTest::wait_for_leader(\@survivors, min_term => $term + 1);
	isnt($new_leader->name, $leader->name,
		"round $round: killed " . $leader->name . ', a survivor becomes the leader');
	note('new leader: ' . $new_leader->name . " in term $new_term");

	$faults->restart($leader);
	my ($final, $final_term) =
	  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
	my $st = RaftTest::status($leader);
	cmp_ok($st->{term}, '>=', $new_term,
		$leader->name . ' knows the newer term after its restart');
	is($st->{leader_id}, RaftTest::raft_id($final),
		$leader->name . ' agrees on the leader after its restart');
	is( $leader->safe_psql(
			'postgres', 'SELECT error IS NULL FROM raft_ext.raft_status'),
		't', $leader->name . ' runs Raft without error after its restart');
	is($primary->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
		'f', 'the primary is still the only primary');
	is($_->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
		't', $_->name . ' is still a standby')
	  for ($standby1, $standby2);
}

# Streaming replication is untouched by all this: both standbys stream from
# the primary again (a killed standby reconnects; a killed primary is
# reconnected to).  No write is made: fencing may refuse it on a primary that
# does not lead.
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT count(*) = 2 FROM pg_stat_replication WHERE state = 'streaming'}),
	'both standbys stream from the primary again');

RaftScenario::finish($checker, $faults, \@nodes, 2);
