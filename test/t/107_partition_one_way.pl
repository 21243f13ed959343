
# Copyright: the raft_ext authors.

# One-way message loss.
#  1. The leader's messages to one follower are lost (the follower's reach
#     the leader): the follower hears no leader, but cannot pass PreVote
#     while the other follower hears the leader; nobody's term moves.
#  2. One follower's messages to the leader are lost: the leader still has
#     a majority; nothing changes.  The same when all of one follower's
#     messages are lost.
#  3. The leader's messages to both followers are lost: they elect a new
#     leader, and the old one, which still hears them, steps down.
#  4. Both followers' messages to the leader are lost: it steps down for
#     want of a quorum, they elect a new leader, and the deaf old leader
#     keeps its term.
# After each, healing finds one leader with the term grown by at most one.

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

my $et = RaftFaults::election_timeout();
my @nodes = RaftFaults::create_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my ($f1, $f2) = grep { $_ != $leader } @nodes;

# 1 and 2: the leader and the term stay.
for my $case ([ 'leader -> follower lost', $leader, $f1 ],
	[ 'follower -> leader lost', $f1, $leader ],
	[ 'follower -> everyone lost', $f2, [ $leader, $f1 ] ])
{
	my ($what, $from, $to) = @$case;
	$faults->one_way($from, $to);
	RaftFaults::hold(3 * $et, "$what for 3 x ET");
	is(RaftFaults::status($leader)->{role}, 'leader', "$what: the leader keeps leading");
	is(RaftFaults::status($_)->{term}, $term, "$what: " . $_->name . " stays in term $term")
	  for @nodes;
	$faults->heal;
	my ($after, $after_term) = RaftTest::wait_for_leader(\@nodes);
	is($after->name, $leader->name, "$what: after healing the same node leads");
	is($after_term, $term, "$what: after healing the term is still $term");
}

# 3. The leader cannot send at all.
$faults->one_way($leader, [ $f1, $f2 ]);
my ($new_leader, $new_term) =
  RaftTest::wait_for_leader([ $f1, $f2 ], min_term => $term + 1);
cmp_ok($new_term, '>', $term, 'a leader that cannot send is replaced: '
	  . $new_leader->name . " in term $new_term");
my $st = RaftFaults::poll_until(
	sub { my $s = RaftFaults::status($leader); $s && $s->{role} ne 'leader' ? $s : undef },
	'the old leader to step down');
ok($st, 'the old leader, which still hears the others, steps down');
cmp_ok($st->{term}, '>=', $new_term, 'it learned the new term') if $st;
$faults->heal;
my ($healed, $healed_term) = RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
cmp_ok($healed_term - $new_term, '<=', 1, "after healing: term $healed_term (was $new_term)");

# 4. The leader hears nobody (both followers' messages to it are lost):
#    it loses its quorum and steps down; the followers elect one of them;
#    the old leader, deaf, cannot pass PreVote and keeps its term.
($leader, $term) = ($healed, $healed_term);
($f1, $f2) = grep { $_ != $leader } @nodes;
$faults->one_way([ $f1, $f2 ], $leader);
my ($deaf_new, $deaf_term) =
  RaftTest::wait_for_leader([ $f1, $f2 ], min_term => $term + 1);
cmp_ok($deaf_term, '>', $term, 'a leader that hears nobody is replaced: '
	  . $deaf_new->name . " in term $deaf_term");
ok( RaftFaults::poll_until(
		sub { my $s = RaftFaults::status($leader); $s && $s->{role} ne 'leader' },
		'the deaf leader to step down'),
	'the deaf leader steps down');
RaftFaults::hold(2 * $et, 'deaf node for 2 x ET');
is(RaftFaults::status($leader)->{term}, $term, "the deaf node stays in term $term");
$faults->heal;
($healed, $healed_term) = RaftTest::wait_for_leader(\@nodes, min_term => $deaf_term);
cmp_ok($healed_term - $deaf_term, '<=', 1,
	"after healing: term $healed_term (was $deaf_term)");

RaftScenario::finish($checker, $faults, \@nodes, 3);
