# Copyright: the raft_ext authors.

# Planned switchovers with a clean demotion, ten in a row, under a
# continuous writer, with raft_ext.auto_rejoin on.
#
# Each round, raft_ext.transfer_leadership(target) on the primary:
#  1. the call succeeds at the first request (the transfer does not wait
#     for WAL the primary has not flushed), and the target becomes the
#     leader and the primary;
#  2. the old primary demotes (CHECKPOINT, fast shutdown) and its final WAL
#     reaches the target before the target promotes, so the old primary
#     rejoins as a standby without pg_rewind ("no rewind needed" in its
#     log, never "running pg_rewind"), and within 60 s every node streams
#     from the new primary (no standby stranded on the old timeline);
#  3. writes resume on the new primary.
# At the end every acknowledged row is on every node, and no node's log
# shows a pg_rewind.  The checker samples every node throughout.  Prints
# the time from the request until the new primary acknowledges writes and
# until the cluster is whole again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $ROUNDS = 10;
my $WHOLE_WITHIN = 60;

my @nodes = RaftFailover::create_cluster(3, auto_rejoin => 'on');
my $checker = RaftChecker->start(\@nodes);

my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads');
my $writer = RaftFailover::start_writer(\@nodes, seconds => 300);
ok(defined RaftFailover::wait_acks_on($writer, $primary, 10),
	'writes are acknowledged by the primary');

# How many lines of each node's log were read before this round.
my $failed_requests = 0;
my %log_offset = map { $_->name => -s $_->logfile } @nodes;

for my $round (1 .. $ROUNDS)
{
	my ($target) =
	  grep { $_->{raft_id} == $primary->{raft_id} % scalar(@nodes) + 1 } @nodes;
	my $tid = $target->{raft_id};
	my $old = $primary;
	my $asked_at = time();

	# Under the writer the transfer must complete at the first request (the
	# old primary's position is its flushed WAL, which the target reaches).
	# Ask again if it did not, so that a failure still leaves the later
	# rounds to run; the count is checked at the end.
	my ($new, $new_term);
	my $deadline = time() + 30;
	my $requests = 0;
	while (time() < $deadline)
	{
		if (RaftTest::raft_id((RaftTest::agreed_leader(\@nodes))[0] // $target) != $tid)
		{
			my ($rc, undef, $err) = RaftFailover::sql($old,
				"SELECT raft_ext.transfer_leadership($tid)", timeout => 5);
			$requests++;
			if ($rc != 0)
			{
				$failed_requests++;
				diag("round $round: transfer request $requests failed: $err");
			}
		}
		($new, $new_term) = RaftTest::agreed_leader(\@nodes);
		last if defined $new && $new == $target;
		usleep(200_000);
	}
	($new, $new_term) = RaftFailover::wait_primary(\@nodes, min_term => $term + 1);
	ok(defined $new && $new == $target,
		"round $round: " . $target->name . ' leads and is primary');
	last unless defined $new && $new == $target;
	my $first_ack = RaftFailover::wait_acks_on($writer, $new, 5, $asked_at);
	ok(defined $first_ack, "round $round: writes resume on " . $new->name);
	RaftFailover::diag_timing("038 round $round request -> first write on the new primary",
		defined $first_ack ? $first_ack - $asked_at : undef);

	my $took = RaftFailover::wait_whole(\@nodes, $new, $WHOLE_WITHIN);
	ok(defined $took, "round $round: within $WHOLE_WITHIN s every node streams from " . $new->name);
	RaftFailover::diag_timing("038 round $round request -> whole again",
		defined $took ? time() - $asked_at : undef);
	last unless defined $took;

	my $log = slurp_file($old->logfile, $log_offset{ $old->name });
	like($log, qr/raft_ext_rejoin\[\d+\]: no rewind needed/,
		"round $round: " . $old->name . ' rejoined without pg_rewind');
	unlike($log, qr/raft_ext_rejoin\[\d+\]: running pg_rewind/,
		"round $round: no pg_rewind on " . $old->name);
	%log_offset = map { $_->name => -s $_->logfile } @nodes;
	($primary, $term) = ($new, $new_term);
}

RaftFailover::stop_writer($writer);
RaftFailover::check_final_rows($writer, @nodes);
my $all = join '', map { slurp_file($_->logfile) } @nodes;
my @rewinds = $all =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/g;
is(scalar(@rewinds), 0, "no pg_rewind in $ROUNDS switchovers");
is($failed_requests, 0, 'every transfer completed at its first request');

$checker->stop_and_check;
$_->stop for @nodes;
done_testing();
