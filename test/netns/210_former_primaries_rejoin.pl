# Copyright: the raft_ext authors.

# Former primaries rejoin by themselves through later failovers
# (raft_ext.auto_rejoin on); synchronous replication (ANY 1).
#
#  1. the primary (node1) is cut off by a real partition for 10 s: a
#     standby X is elected and promotes; node1 stays fenced while cut off;
#     after the heal it rejoins as a standby of X by itself: the cluster is
#     whole again (every node streams from X) with no operator;
#  2. X is cut off: one of the two standbys (node1 or Y) must win and
#     promote; X is fenced meanwhile; after the heal X rejoins by itself and
#     the cluster is whole again, writable, under ANY 1.
# The checks of every scenario (no split brain, no acknowledged write lost,
# no write acknowledged on an older timeline) hold throughout.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $c = RaftNetns->new(nodes => 3, sync => 1, auto_rejoin => 'on');
my $run = RaftNetnsSteps->begin($c);
my ($node1) = $c->nodes;

# 1.
my ($x, $old) = $run->isolate_primary(hold => 10, label => 'node1 cut off');
my ($leader, $former) = $run->heal_and_settle(whole => 1);
is($leader && $leader->name, $x && $x->name, $x->name . ' leads after the heal');
is(scalar @$former, 0, 'node1 rejoined by itself: no former primary is left');

# 2.
my ($p, $term) = $c->wait_primary;
my $at = $c->isolate($x);
my ($new) = $c->wait_primary(among => [ grep { $_ != $x } $c->nodes ],
	min_term => $term + 1);
ok($new, 'with ' . $x->name . ' cut off, ' . ($new ? $new->name : 'nobody')
	  . ', a standby, leads and is primary');
RaftFaults::hold(2, $x->name . ' stays cut off');
$run->expect_fenced($x, $x->name . ', the cut-off former primary');
($leader, $former) = $run->heal_and_settle(whole => 1);
is($leader && $leader->name, $new && $new->name, 'the new primary leads after the heal');
is(scalar @$former, 0, $x->name . ' rejoined by itself: no former primary is left');

my $counts = $run->conclude;
is($counts->{timeline_regressions}, 0,
	'no write acknowledged on an older timeline after one on a newer');
done_testing();
