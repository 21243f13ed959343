# Copyright: the raft_ext authors.

# Asymmetric cuts: packets in one direction only are lost.
#
#  1. a standby's packets to the primary are lost (the primary's reach the
#     standby): TCP needs both directions, so the standby soon hears
#     nothing either, but the primary keeps a majority with the other
#     standby and must keep leading in the same term; the standby's PreVote
#     is refused by the other standby, which hears the leader;
#  2. the primary's packets to every standby are lost (theirs reach it):
#     the primary hears no acknowledgement, steps down and is fenced; a
#     standby is elected and promotes.
# After each heal: one primary with streaming standbys, any former primary
# fenced.  Synchronous replication: no acknowledged write may be lost.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);
my ($primary, $term) = $c->wait_primary;
my ($s1, $s2) = grep { $_ != $primary } $c->nodes;

# 1. standby -> primary lost.
my $at = $c->one_way($s1, [$primary]);
RaftFaults::hold(3 * RaftFaults::election_timeout(), 'one-way loss standby -> primary');
ok(defined $run->writers->wait_acked(10, node => $primary->{raft_id}, since => $at),
	'standby -> primary lost: the primary acknowledges writes');
my $st = $run->status($primary);
ok($st->{role} eq 'leader' && $st->{term} == $term,
	"standby -> primary lost: the primary still leads in term $term");
my ($leader, $former) = $run->heal_and_settle;
is($leader && $leader->name, $primary->name, 'the same primary after the heal');

# 2. primary -> everyone lost.
$at = $c->one_way($primary, [ $s1, $s2 ]);
my $new = $run->expect_failover($primary, $at, 'one-way loss primary -> all', $term);
RaftFaults::hold(2, 'the old primary stays one-way cut');
$run->expect_fenced($primary, 'the one-way cut old primary');
($leader, $former) = $run->heal_and_settle;
is_deeply([ map { $_->name } @$former ], [ $primary->name ],
	'the old primary is the one former primary');

$run->conclude(settled => [ $leader, $former ]);
done_testing();
