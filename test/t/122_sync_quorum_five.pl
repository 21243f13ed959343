# Copyright: the raft_ext authors.

# raft_ext.synchronous = quorum on five streaming nodes (k = 2: every
# commit is on the primary and two standbys) under a client that records
# every acknowledged commit:
#  1. two standbys are killed at once: the primary goes on acknowledging,
#     now that both remaining standbys confirm each commit;
#  2. then the primary is killed, and the two standbys killed in step 1
#     (behind) come back: four of five can elect, and the WAL-aware vote
#     elects one of the two standbys that hold every acknowledged commit;
#  3. on the final primary, no acknowledged write is missing.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time);

my @nodes = RaftFailover::create_cluster(5);
my ($primary) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads') or BAIL_OUT('no primary');

for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}
for my $node (@nodes)
{
	ok( $node->poll_query_until(
			'postgres',
			q{SELECT current_setting('synchronous_standby_names') LIKE 'ANY 2 (%'}),
		$node->name . ': ANY 2 of the other four');
}

my $writer = RaftFailover::start_writer(\@nodes);
ok(defined RaftFailover::wait_acks_on($writer, $primary, 20),
	'the primary acknowledges writes');

# 1. Two standbys at once.
my @standbys = grep { $_ != $primary } @nodes;
my @killed = @standbys[ 0, 1 ];
my @kept = @standbys[ 2, 3 ];
RaftTest::kill9($_) for @killed;
ok(defined RaftFailover::wait_acks_on($writer, $primary, 20, time()),
	'with two standbys down, the primary still acknowledges writes');

# 2. The primary; the two killed standbys come back behind.
RaftTest::kill9($primary);
RaftTest::restart_killed($_) for @killed;
my @alive = (@kept, @killed);
my ($new) = RaftFailover::wait_primary(\@alive);
ok(defined $new, 'four of five elect a new primary')
  or BAIL_OUT('no new primary');
ok((grep { $_ == $new } @kept) == 1,
	'the new primary is one of the standbys that confirmed every commit');
ok(defined RaftFailover::wait_acks_on($writer, $new, 10, time()),
	'the new primary acknowledges writes');
RaftFailover::stop_writer($writer);

# 3. Nothing acknowledged is missing.
RaftFailover::check_rows($new, $writer, 'the final primary');

$_->stop('immediate') for @alive;
done_testing();
