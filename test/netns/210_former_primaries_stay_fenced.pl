# Copyright: the raft_ext authors.

# Former primaries that nobody rejoins stay fenced through later
# failovers; synchronous replication (ANY 1).
#
#  1. the primary (node1) is cut off: a standby X is elected and promotes;
#     after the heal node1 is a former primary, fenced, and is left so;
#  2. X is cut off: the only node that is still a standby, Y, must win
#     (node1 is on an older timeline: Y refuses its vote requests) and
#     promote; node1 must never hold the lease again; after the heal node1
#     and X are both former primaries, fenced.
# Y then has no standby left, so under ANY 1 its commits wait: writes stop
# being acknowledged, but none that was acknowledged is lost, and no
# former primary accepts one (the checks of every scenario).  Finally both
# former primaries are rejoined and writes resume on Y.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;
use Time::HiRes qw(time);

my $c = RaftNetns->new(nodes => 3, sync => 1);
my $run = RaftNetnsSteps->begin($c);
my ($node1) = $c->nodes;

# 1.
my ($x, $old) = $run->isolate_primary(hold => 2, label => 'node1 cut off');
my ($leader, $former) = $run->heal_and_settle;
is_deeply([ map { $_->name } @$former ], ['node1'], 'node1 is a former primary, left fenced');
my ($y) = grep { $_ != $node1 && $_ != $x } $c->nodes;

# 2.
my ($p, $term) = $c->wait_primary;
my $at = $c->isolate($x);
my ($new) = $c->wait_primary(among => [ $node1, $y ], min_term => $term + 1);
is($new && $new->name, $y->name,
	'with ' . $x->name . ' cut off, ' . $y->name . ', the last standby, leads and is primary');
RaftFaults::hold(2, $x->name . ' stays cut off');
$run->expect_fenced($node1, 'node1, a former primary, during the second failover');
($leader, $former) = $run->heal_and_settle;
is($leader && $leader->name, $y->name, $y->name . ' leads after the heal');
is_deeply([ sort map { $_->name } @$former ], [ sort map { $_->name } $node1, $x ],
	'node1 and ' . $x->name . ' are former primaries, fenced');

$run->rejoin_former($leader, $former);
$run->conclude;

# node1 never held the lease again once its lease from before the first
# cut had run out (an election timeout at most), not even after its rejoin.
my ($first_cut) = map { $_->{t} } grep { $_->{type} eq 'fault' } $c->faults;
my $limit = $first_cut + 1000 * RaftFaults::election_timeout();
my @leased = grep { $_->{has_lease} && $_->{clock} > $limit }
  $run->checker->samples(1);
is(scalar @leased, 0, 'node1 held no lease after it was cut off');
done_testing();
