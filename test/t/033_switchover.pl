# Copyright: the raft_ext authors.

# Planned switchover with raft_ext.transfer_leadership().
#
# A primary (node1) and two standbys under synchronous replication with
# auto_promote and auto_follow on, a client committing numbered rows
# throughout.  The primary hands leadership to node2: node2, having won by
# that transfer, promotes itself (it does not hand leadership back to its
# still healthy upstream); node1 loses the lease at once, so the fence
# refuses its commits; node3 follows node2.  No acknowledged write is lost,
# and node1 rejoins as a standby of node2 with scripts/rejoin-standby.sh.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $started = time();
my $s = RaftFailover::start_scenario();
my @nodes = @{ $s->{nodes} };
my ($node1, $node2, $node3) = @nodes;
my ($checker, $term, $writer) = @$s{qw(checker term writer)};

# The transfer may be refused or abandoned while node2 trails node1's WAL
# (voters compare positions); ask again until node2 leads.
my $asked_at = time();
my ($new, $new_term);
for my $attempt (1 .. 20)
{
	RaftFailover::sql($node1, 'SELECT raft_ext.transfer_leadership(2)');
	($new, $new_term) = RaftTest::agreed_leader(\@nodes);
	last if defined $new && $new == $node2;
	usleep(500_000);
	($new, $new_term) = RaftTest::agreed_leader(\@nodes);
	last if defined $new && $new == $node2;
}
($new, $new_term) = RaftFailover::wait_primary(\@nodes, min_term => $term + 1);
ok(defined $new, 'a new primary leads');
is($new->name, 'node2', 'node2 leads and is primary after the switchover');
RaftFailover::diag_timing('033 transfer request -> node2 primary', time() - $asked_at);

my $first_ack = RaftFailover::wait_acks_on($writer, $node2, 10, $asked_at);
ok(defined $first_ack, 'writes resume on node2');
RaftFailover::diag_timing('033 transfer request -> first write acknowledged by node2',
	defined $first_ack ? $first_ack - $asked_at : undef);
ok(RaftFailover::wait_follows($node3, $node2), 'node3 follows node2');
RaftFailover::stop_writer($writer);

RaftFailover::check_rows($node2, $writer);
RaftFailover::expect_write_refused($node1, 'the old primary');

RaftFailover::rejoin_and_catch_up($node1, $node2, $writer);
RaftFailover::check_rows($node1, $writer, 'rejoined node1');
ok( $node1->poll_query_until(
		'postgres', 'SELECT leader_id = 2 FROM raft_ext.raft_status'),
	'node1 agrees that node2 leads');

RaftFailover::finish_scenario($checker, $started, \@nodes);
done_testing();
