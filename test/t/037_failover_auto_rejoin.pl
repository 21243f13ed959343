# Copyright: the raft_ext authors.

# raft_ext.auto_rejoin: the cluster heals itself after kill -9 of the
# primary, three times in a row.
#
# A primary and two standbys under synchronous replication (ANY 1), with
# auto_promote, auto_follow and auto_rejoin on, and a client committing
# numbered rows throughout.  Each round:
#  1. kill -9 of the primary: a standby promotes and writes resume on it;
#  2. the killed node is started again (as the primary it was): the fence
#     refuses its writes and its replication connections, and without any
#     other help it rejoins as a standby of the new primary (the rejoin
#     helper stops it, rewinds it only if its WAL diverged, and starts it
#     as a standby): within 60 s every node but the new primary streams
#     from it;
#  3. raft_status.rejoin_state on the rejoined node says "done", its Raft
#     state (term, vote) survived, every acknowledged row is there.
# The checker samples every node's raft_status throughout; at the end no
# acknowledged write is missing on any node.  Prints the time from the
# restart of the killed node until the cluster is whole again.

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

# Generous: the rejoin helper stops, checks, maybe rewinds and starts a
# server, on a busy machine.
my $WHOLE_WITHIN = 60;

my @nodes = RaftFailover::create_cluster(3, auto_rejoin => 'on');
my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);

my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads');
my $writer = RaftFailover::start_writer(\@nodes, seconds => 300);
ok(defined RaftFailover::wait_acks_on($writer, $primary, 10),
	'writes are acknowledged by the primary');

for my $round (1 .. 3)
{
	my @standbys = grep { $_ != $primary } @nodes;
	my $killed = $primary;

	my $TLI_SQL = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int";
	my ($killed_tli) = RaftTest::row($primary, $TLI_SQL);

	# 1. kill -9 of the primary.
	my $killed_at = time();
	$faults->kill9($killed);
	my ($new, $other, $new_term) = RaftFailover::expect_failover(
		"037 round $round kill", $killed_at, \@standbys, $term + 1, $writer);
	last unless defined $new;

	# The new timeline branched from the killed primary's, with its whole
	# ancestry: the ids reserved before the promotion are nobody's children
	# (one written as a child of the standby's timeline drew its startup
	# process onto it, and pg_rewind then found no common ancestor).
	my ($new_tli) = RaftTest::row($new, $TLI_SQL);
	my ($history) = RaftTest::row($new, sprintf(
		"SELECT pg_read_file('pg_wal/%08X.history')", $new_tli));
	my @lines = grep { /^\d/ } split /\n/, $history;
	like($lines[0] // '', qr/^1\t/,
		"round $round: the history of timeline $new_tli begins with timeline 1");
	like($lines[-1] // '', qr/^$killed_tli\t/,
		"round $round: timeline $new_tli branched from the killed primary's timeline $killed_tli")
	  or diag($history);

	# 2. The killed node comes back as a primary and rejoins by itself.
	$faults->restart($killed);
	my $restarted_at = time();
	my $took = RaftFailover::wait_whole(\@nodes, $new, $WHOLE_WITHIN);
	ok(defined $took,
		"round $round: within $WHOLE_WITHIN s every node streams from the new primary "
		  . $new->name)
	  or diag(slurp_file($killed->logfile));
	RaftFailover::diag_timing("037 round $round restart -> whole again", $took);
	last unless defined $took;

	# 3. What the rejoined node shows.
	ok( RaftFailover::poll_true($killed,
			"SELECT rejoin_state = 'done' FROM raft_ext.raft_status"),
		"round $round: rejoin_state is done on " . $killed->name);
	my ($error, $recovery, $vterm) = RaftTest::row($killed,
		'SELECT rejoin_error, in_recovery, term FROM raft_ext.raft_status');
	is($error, '', "round $round: no rejoin_error");
	is($recovery, 't', "round $round: " . $killed->name . ' is a standby');
	cmp_ok($vterm, '>=', $new_term,
		"round $round: the rejoined node kept its Raft state (term $vterm >= $new_term)");
	ok(defined RaftFailover::wait_acks_on($writer, $new, 5, time()),
		"round $round: the new primary is writable");
	my ($max) = map { $_->[0] } (RaftFailover::acknowledged($writer))[-1];
	ok( $killed->poll_query_until('postgres',
			"SELECT count(*) > 0 FROM fo_rows WHERE i >= $max"),
		"round $round: the rejoined node replays the newest rows");

	($primary, $term) = ($new, $new_term);
}

# A switchover on top of the three failovers.
my ($target) = grep { $_ != $primary } @nodes;
my ($ret, $out, $err) = RaftFailover::sql($primary,
	'SELECT raft_ext.transfer_leadership(' . $target->{raft_id} . ')', timeout => 30);
is($ret, 0, 'a switchover to ' . $target->name . ' after the failovers') or diag($err);
my ($after) = RaftFailover::wait_primary(\@nodes, min_term => $term + 1);
is(defined $after ? $after->name : 'none', $target->name, $target->name . ' is the primary');
ok(defined RaftFailover::wait_whole(\@nodes, $target, $WHOLE_WITHIN),
	'the old primary rejoins after the switchover');

RaftFailover::stop_writer($writer);
RaftFailover::check_final_rows($writer, @nodes);

# The failover history (the timeline history in the Raft log): the first
# primary, three failovers and the switchover, the same on every member,
# and the same after a full restart.
my $HISTORY_SQL = 'SELECT string_agg(concat_ws(\' \', step, term, node_id, timeline, '
  . 'parent_timeline, begins_at, reason), \'; \' ORDER BY step) '
  . 'FROM raft_ext.raft_timeline_history WHERE committed';
sub same_history
{
	my ($label) = @_;
	my %seen;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		%seen = map { $_->name => (RaftTest::row($_, $HISTORY_SQL))[0] } @nodes;
		my %distinct = map { $_ => 1 } values %seen;
		return (values %seen)[0] if keys %distinct == 1;
		usleep(200_000);
	}
	diag("$label: " . join("\n", map { "$_: $seen{$_}" } sort keys %seen));
	return undef;
}
my $history = same_history('after the switchover');
ok(defined $history, 'every member holds the same failover history');
my @steps = split /; /, $history // '';
cmp_ok(scalar(@steps), '>=', 5,
	'it records the first primary, three failovers and the switchover (' . scalar(@steps) . ' steps)');
like($steps[0] // '', qr/ first primary$/, 'its first step is the first primary');
is(scalar(grep { / promotion$/ } @steps), scalar(@steps) - 1, 'every later step is a promotion');
$checker->stop_and_check;
# A planned full restart: the standbys stop first and start last.  (The
# primary stopped first, the standbys still up would elect one of
# themselves and promote it within an election timeout: a failover, and a
# new step in the history, rightly so.)
my ($last) = RaftFailover::wait_primary(\@nodes);
my @standbys_now = grep { $_ != $last } @nodes;
$_->stop for @standbys_now, $last;
$_->start for $last, @standbys_now;
RaftFailover::wait_primary(\@nodes);
is(same_history('after a full restart'), $history,
	'the history is the same on every member after a full restart');
my $log = join '', map { slurp_file($_->logfile) } @nodes;
my @rewinds = $log =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/g;
my @skipped = $log =~ /raft_ext_rejoin\[\d+\]: no rewind needed/g;
note(scalar(@rewinds) . ' rejoin(s) ran pg_rewind, ' . scalar(@skipped) . ' needed none');

$_->stop for @nodes;
done_testing();
