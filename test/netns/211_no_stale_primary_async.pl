# Copyright: the raft_ext authors.

# Without synchronous replication, can former primaries be re-elected and
# write on an old timeline?  Not with raft_ext.auto_rejoin: they rejoin.
#
#  1. node1, the primary, is cut off: a standby X takes over (timeline 2);
#     after the heal node1 rejoins as a standby of X by itself;
#  2. X is cut off: one of the standbys, Y, takes over and acknowledges
#     writes alone; after the heal X rejoins as a standby of Y;
#  3. Y is cut off: the two others are a majority, but they are standbys of
#     Y now, on its timeline: the one elected promotes onto a new timeline.
# Before auto_rejoin, step 3 re-elected a former primary that was still a
# primary on an old timeline, and everything Y had acknowledged was lost
# (this test recorded it as TODO).  Now: no former primary leads as primary
# again, and no write is acknowledged on an older timeline after one on a
# newer (0 timeline regressions).  The checker's invariants and the
# split-brain check (by term) hold throughout.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 3, sync => 0, auto_rejoin => 'on');
my $run = RaftNetnsSteps->begin($c);
my ($node1) = $c->nodes;

my ($x) = $run->isolate_primary(hold => 1, label => 'step 1, node1 cut off');
my (undef, $former) = $run->heal_and_settle(whole => 1);
is(scalar @$former, 0, 'step 1: node1 rejoined by itself');
my ($y) = $run->isolate_primary(hold => 1, label => 'step 2, ' . $x->name . ' cut off');
ok($y, 'step 2: ' . ($y ? $y->name : 'nobody') . ' takes over');
(undef, $former) = $run->heal_and_settle(whole => 1);
is(scalar @$former, 0, 'step 2: ' . $x->name . ' rejoined by itself');

my ($p, $term) = $c->wait_primary;
my %was_standby = map { $_->name => 1 } grep { $_ != $p } $c->nodes;
my $at = $c->isolate($p);
my ($again) = $c->wait_primary(among => [ grep { $_ != $p } $c->nodes ],
	min_term => $term + 1);
diag('step 3, ' . $p->name . ' cut off: '
	  . ($again ? $again->name . ' leads as primary' : 'no primary'));
ok($again && $was_standby{ $again->name },
	'step 3: the new primary was a standby of ' . $p->name . ' (promoted), not a stale former primary');
RaftFaults::hold(2, 'step 3');
(undef, $former) = $run->heal_and_settle(whole => 1);
is(scalar @$former, 0, 'step 3: ' . $p->name . ' rejoined by itself');
my $counts = $run->conclude;
diag("lost writes $counts->{lost}, timeline regressions $counts->{timeline_regressions}");
is($counts->{timeline_regressions}, 0,
	'no write acknowledged on an older timeline after one on a newer');
done_testing();
