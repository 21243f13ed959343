# Copyright: the raft_ext authors.

# The history checks of the partition suite (RaftHistory: split-brain
# writes, timeline regressions, lost writes, failover times) catch what they
# claim to, on a synthetic history.  Needs no namespace.  The totals of a
# run are added up after prove by scripts/test-summary.pl.

use strict;
use warnings;

use RaftHistory;
use Test::More;

is($_->[2], $_->[1], "history self-test: $_->[0]") for RaftHistory::self_test();
done_testing();
