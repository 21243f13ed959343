# Copyright: the raft_ext authors.

# Automatic failover when the primary is paused (SIGSTOP), then resumed.
#
# A primary (node1) and two standbys under synchronous replication, with
# auto_promote and auto_follow on; a client commits numbered rows without
# pause.  node1 (postmaster and every child) is stopped with SIGSTOP: a
# standby becomes leader and promotes itself, writes resume on it, the other
# standby follows it.  The checker shows that no two nodes ever held the
# lease at the same time: node1's lease ran out before the new leader's
# began, so node1 was fenced before anyone else was promoted.  After SIGCONT
# node1 commits nothing: no acknowledged commit comes from it after the
# pause and a write there is refused (SQLSTATE 25006).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $started = time();
my $s = RaftFailover::start_scenario();
my @nodes = @{ $s->{nodes} };
my ($node1, $node2, $node3) = @nodes;
my ($checker, $faults, $term, $writer) = @$s{qw(checker faults term writer)};

# SIGSTOP of the whole primary.
my $paused_at = time();
$faults->pause($node1);
my ($new, $other, $new_term) = RaftFailover::expect_failover('031 pause',
	$paused_at, [ $node2, $node3 ], $term + 1, $writer);

# SIGCONT: node1 wakes up without the lease.
$faults->resume($node1);
my $resumed_at = time();
ok(RaftFailover::learns_leader($node1, $new),
	'the resumed primary learns who leads');
ok(defined RaftFailover::wait_acks_on($writer, $new, 10, time()),
	'writes go on on the new primary after node1 resumed');
RaftFailover::stop_writer($writer);

# A commit node1 made just before the SIGSTOP may reach the client after
# it; what matters is that node1 commits nothing once it runs again.
my @late = grep { $_->[2] == $node1->port && $_->[1] > $resumed_at }
  RaftFailover::acknowledged($writer);
is(scalar(@late), 0, 'no commit acknowledged by node1 after it resumed');
my ($ret, $out) = RaftFailover::sql($node1,
	'SELECT count(*) FROM fo_rows WHERE at > to_timestamp(' . $resumed_at . ')');
is($out, '0', 'node1 holds no row written after it resumed');
RaftFailover::expect_write_refused($node1, 'the resumed old primary');
RaftFailover::check_rows($new, $writer);

my $result = RaftFailover::finish_scenario($checker, $started, \@nodes);
note(sprintf('smallest gap between two leases: %s ms',
		$result->{min_lease_gap_ms} // 'n/a'));
done_testing();
