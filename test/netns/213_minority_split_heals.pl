# Copyright: the raft_ext authors.

# 206's 2 | 3 split with raft_ext.auto_rejoin on: five nodes, ANY 2, the
# primary and one standby (its "buddy") in the minority.
#
# The majority elects one of its own, which promotes; the old primary is
# fenced and ends its WAL senders once its lease runs out.  After the heal
# the cluster must become whole again by itself: the old primary rejoins
# as a standby, and the minority standby, if it received WAL the majority
# never got (a commit in flight, waiting for its second synchronous
# acknowledgement: "new timeline forked off current database system
# timeline before current recovery point"), is rewound onto the new
# timeline by the same helper (--if-diverged) instead of waiting forever.
# Prints whether the buddy had diverged and was rewound this run (it
# depends on timing).  No acknowledged write lost, no split-brain write,
# 0 timeline regressions.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftNetns;
use RaftNetnsScenarios;
use RaftNetnsSteps;
use Test::More;

my $c = RaftNetns->new(nodes => 5, sync => 1, auto_rejoin => 'on');
my $run = RaftNetnsSteps->begin($c);
my (undef, undef, $buddy) = RaftNetnsScenarios::minority_primary_split($run);

my ($leader, $former, $diverged) = $run->heal_and_settle(whole => 1);
is(scalar(@$former) + scalar(@$diverged), 0,
	'whole again by itself: the old primary and the minority standby stream from the new primary');
my $buddy_log = slurp_file($buddy->{logfile});
diag('minority standby ' . $buddy->name . ': '
	  . ($buddy_log =~ /raft_ext_rejoin\[\d+\]: diverged:/
		? 'had diverged, rewound by auto_rejoin'
		: 'had not diverged'));
my $counts = $run->conclude;
is($counts->{timeline_regressions}, 0,
	'no write acknowledged on an older timeline after one on a newer');
done_testing();
