# Copyright: the raft_ext authors.

# The old primary can send Raft messages but receive none (issue 9, item 7).
# It loses its quorum and steps down; a standby wins the election, sees its
# upstream (the old primary) still "answering" Raft, and hands leadership
# back to it.  The old primary never receives the TIMEOUT_NOW, the transfer
# is abandoned, the standby steps down, wins again, hands back again: before
# the fix this went on forever, with no writable primary.
#
# Now a handback that does not produce a leader within an election timeout
# stops the handing back (it is retried only after an exponentially growing,
# bounded pause), and the standby leader promotes per raft_ext.auto_promote:
# a writable primary emerges, writes resume, the other standby follows, and
# the standbys log only a few handbacks while the fault lasts.  (Before the
# fix, the leading standby retried the handback every election timeout --
# "could not hand leadership to node 1: the target has not answered" -- and
# never promoted: no writable primary at all.)

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
# node1 campaigns every 200 ms once it has stepped down (a short election
# timeout, no spread), so that its vote requests keep reaching the standbys
# and it always looks alive to them: the handback is certain, not a race
# between its first campaign and theirs.
# (The standbys are made from node1's base backup, so they set the default
# timing back.)
my $default = join '', map { "raft_ext.$_ = '$RaftTest::DEFAULT_TIMING{$_}'\n" }
  qw(election_timeout election_spread);
my $s = RaftFailover::start_scenario(
	conf => {
		1 => "raft_ext.election_timeout = '200ms'\nraft_ext.election_spread = 0\n",
		2 => $default,
		3 => $default
	});
my @nodes = @{ $s->{nodes} };
my ($node1, $node2, $node3) = @nodes;
my ($checker, $faults, $term, $writer) = @$s{qw(checker faults term writer)};

my %offset = map { $_->name => -s $_->logfile } @nodes;
my $cut_at = time();
$faults->one_way([ $node2, $node3 ], $node1);
my ($new, $other, $new_term) = RaftFailover::expect_failover('036 deaf primary',
	$cut_at, [ $node2, $node3 ], $term + 1, $writer);
ok(defined $new, 'a writable primary emerges although the old one still sends');

# It stays: watch for five election timeouts that the new primary keeps
# leading and no further handback happens.
my $et = RaftFaults::election_timeout();
my $handbacks = sub {
	my $n = 0;
	for my $node ($node2, $node3)
	{
		my $log = slurp_file($node->logfile, $offset{ $node->name });
		$n++ while $log =~ /(?:hands|could not hand) leadership to node 1\b/g;
	}
	return $n;
};
my $before = $handbacks->();
usleep(5 * $et * 1_000_000);
my ($still, $still_term) = RaftTest::agreed_leader([ $node2, $node3 ]);
ok(defined $still && $still == $new, $new->name . ' still leads five election timeouts later');
is($handbacks->(), $before, 'no handback meanwhile');
cmp_ok($before, "<=", 4, "few handbacks in all ($before): no ping-pong");
my $gave_up = 0;
for my $node ($node2, $node3)
{
	$gave_up ||= $node->log_contains(qr/stops handing leadership back to node 1/, $offset{ $node->name });
}
# Or the deaf primary, hearing no leader, ended its WAL senders
# (fence_wal.c): its standbys then see no healthy upstream to hand back to.
$gave_up ||= $node1->log_contains(qr/is a fenced primary: ending \d+ WAL sender/,
	$offset{ $node1->name } // 0);
ok($gave_up,
	'a standby logged that it stopped handing leadership back, or the deaf primary ended its WAL senders');

RaftFailover::check_and_heal($faults, $writer, $node1, $new,
	'the deaf old primary');

RaftFailover::finish_scenario($checker, $started, \@nodes);
done_testing();
