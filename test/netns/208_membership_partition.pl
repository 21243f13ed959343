# Copyright: the raft_ext authors.

# Real partitions during membership changes (raft_ext.add_node,
# raft_ext.remove_node); synchronous replication.
#
#  1. a fourth node, a streaming standby cloned from the primary in its own
#     namespace, is added with add_node, and right after the request the
#     primary is cut off: the others should elect a new primary.  They do
#     not when node 4, which has no Raft log yet, has received more WAL
#     than nodes 2 and 3: it refuses both for their WAL position (voters
#     refuse candidates behind them), they refuse it for its Raft log, and
#     no majority forms until the primary comes back (a TODO test records
#     it, with every node's raft_status).  After the heal and the old
#     primary's rejoin, every node sees members 1,2,3,4;
#  2. the former primary (a standby again) is removed with remove_node, and
#     right after the request one of the other standbys is cut off: the
#     rest keeps a majority; after the heal every remaining node sees the
#     new membership.
# Checker invariants, no split-brain write, no acknowledged write lost.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 1);
my ($primary, $term) = $c->wait_primary;
my $node4 = $c->new_node(4, [ 1, 2, 3 ]);
$c->add_standby($node4, $primary);
my $run = RaftNetnsSteps->begin($c, among => [ grep { $_ != $node4 } $c->nodes ]);

# Members as $node sees them: "id,id,...".
sub members
{
	my ($node) = @_;
	my $out = '';
	$node->psql('postgres',
		q{SELECT string_agg(peer_id::text, ',' ORDER BY peer_id) FROM raft_ext.raft_peers},
		stdout => \$out, timeout => 10);
	return $out;
}

sub wait_members
{
	my ($want, @nodes) = @_;
	for my $n (@nodes)
	{
		RaftFaults::poll_until(sub { members($n) eq $want }, $n->name . " sees $want")
		  or return 0;
	}
	return 1;
}

# 1. add_node, then the primary is cut off.
$primary->safe_psql('postgres',
	"SELECT raft_ext.add_node(4, '" . $node4->tcp_conninfo . "')");
my $at = $c->isolate($primary);
my @rest = grep { $_ != $primary } $c->nodes;
my $new = $run->expect_failover($primary, $at, 'add_node, primary cut off', $term, \@rest,
	'node 4 may have the most WAL and an empty Raft log: it refuses every '
	  . 'candidate with less WAL, they refuse it for its log, no leader');
RaftFaults::hold(1, 'the primary stays cut off');
my ($leader, $former, $diverged) = $run->heal_and_settle;
ok(defined $leader, 'after add_node and the cut: a primary leads');
$run->rejoin_former($leader, $former, $diverged) if $leader;
ok(wait_members('1,2,3,4', $c->nodes), 'every node sees members 1,2,3,4');
$c->set_sync(4);

# 2. remove_node of the old primary, then another standby is cut off.
($leader, $term) = $c->wait_primary;
my $gone = $primary == $leader ? $node4 : $primary;
my ($cut) = grep { $_ != $leader && $_ != $gone } $c->nodes;
$leader->safe_psql('postgres', "SELECT raft_ext.remove_node($gone->{raft_id})");
$c->isolate($cut);
RaftFaults::hold(3 * RaftFaults::election_timeout(), 'remove_node, a standby cut off');
my ($final) = $c->wait_primary(among => [ grep { $_ != $cut && $_ != $gone } $c->nodes ]);
is($final && $final->name, $leader->name, 'the primary keeps leading while a standby is cut off');
$c->heal;
my @remaining = grep { $_ != $gone } $c->nodes;
my $want = join ',', sort { $a <=> $b } map { $_->{raft_id} } @remaining;
ok(wait_members($want, @remaining), "the remaining nodes see members $want");
$run->checker->forget($gone);
$gone->stop;    # it left the cluster: not a fault

$run->conclude;
done_testing();
