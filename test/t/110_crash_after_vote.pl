# Copyright: the raft_ext authors.

# A voter's worker dies at the worst moment of an election: right after its
# vote is durable and before the vote's reply is sent (the failpoint
# 'crash-after-vote-persist').  After the postmaster restarts the worker the
# node must still know that vote: same term, same candidate, never a second
# vote in that term.
#
# Five nodes, two parts:
#  1. During a planned transfer.  The failpoint is armed on three followers
#     and the leader hands leadership to the fourth (transfer_leadership):
#     the target campaigns at once, and each armed follower persists its
#     vote for it and dies before replying.  The target cannot win (two
#     votes of five); a leader is elected once the three are back.
#  2. After the leader's death.  The failpoint is armed on the four
#     followers and the leader is killed (kill -9): the first candidate's
#     voters persist their votes and die, so it never hears a single answer.
#     No leader can be elected until at least two of them have come back.
# The failpoint fires on a vote for another node only (a candidate's vote
# for itself has no reply to lose).
# For every node that died:
#  - its state file, read while its worker was down, holds exactly the term
#    and vote the failpoint reported (the vote was durable before the exit);
#  - the restarted worker starts in that term;
#  - every sample the checker took of it in that term shows that same vote;
#  - it runs Raft without error afterwards, in a term at least as high.
# The killed leader then restarts and all five agree.  The invariant checker
# samples every node for the whole test and must stay clean (it also checks
# one vote per term on every node).
#
# The failpoint exits the worker with proc_exit(1): the postmaster restarts
# only that background worker, after bgw_restart_time (1 s), as it does for
# a worker that fails.  (An abort() or SIGKILL of the worker would make the
# postmaster reinitialize every process of the instance; killing a whole
# instance is what kill -9 of the postmaster does in the other scenarios.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(usleep time);

my @nodes = RaftFaults::create_cluster(5);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

# Term and vote in a node's state file (state.c's layout: u64 term at 80,
# u32 voted_for at 88), or () if it cannot be read whole.
sub state_file
{
	my ($node) = @_;
	my $path = $node->data_dir . '/pg_raft/state';
	open(my $fh, '<:raw', $path) or return ();
	local $/;
	my $buf = <$fh>;
	close $fh;
	return () unless defined $buf && length($buf) == 104;
	return (unpack('Q<', substr($buf, 80, 8)), unpack('V', substr($buf, 88, 4)));
}

my $fp_re = qr/failpoint crash-after-vote-persist: node (\d+) (?:persisted its vote|exits after its vote) for node (\d+) in term (\d+)/;
my %fired;     # node name => what its failpoint reported, and what we saw
my @all_fired; # every firing of the test, both parts

# Arm the failpoint on @$armed and remember where their logs end.
sub arm
{
	my ($armed) = @_;
	my %offset;
	for my $node (@$armed)
	{
		$offset{ $node->name } = -s $node->logfile;
		$node->safe_psql('postgres',
			q{SELECT raft_ext.fault_failpoint('crash-after-vote-persist')});
	}
	return \%offset;
}

# Watch the logs of @$armed every 20 ms until @$voters agree on a leader in
# a term above $term.  When a worker reports the failpoint, read its state
# file at once, while the worker is down (the postmaster restarts it about a
# second later).  Then disarm the nodes that did not fire.  Returns the
# leader and its term.
sub watch
{
	my ($armed, $offset, $voters, $term) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	my ($leader, $leader_term);
	my $next_look = 0;
	while (time() < $deadline)
	{
		for my $node (@$armed)
		{
			my $name = $node->name;
			next if $fired{$name} && $fired{$name}{offset} == $offset->{$name};
			my $log = slurp_file($node->logfile, $offset->{$name});
			next unless $log =~ $fp_re;
			my %f = (node => $1, vote => $2, term => $3,
				offset => $offset->{$name});
			@f{qw(file_term file_vote)} = state_file($node);
			$log = slurp_file($node->logfile, $offset->{$name});
			$f{read_while_down} = $log !~ /$fp_re.*LOG:  node \d+ started/s;
			$fired{$name} = \%f;
			push @all_fired, [ $node, \%f ];
			$faults->record_fault("$name: worker exit after persisting its vote "
				  . "for node $f{vote} in term $f{term}");
		}
		if (time() >= $next_look)
		{
			($leader, $leader_term) = RaftTest::agreed_leader($voters);
			last if defined $leader && $leader_term > $term;
			$next_look = time() + 0.2;
		}
		usleep(20_000);
	}
	$_->safe_psql('postgres', q{SELECT raft_ext.fault_failpoint('none')})
	  for @$armed;
	return ($leader, $leader_term);
}

# What must hold for a node whose worker died after persisting a vote.
sub check_fired
{
	my ($node) = @_;
	my $name = $node->name;
	my $f = $fired{$name};

  SKIP:
	{
		skip "$name restarted before its state file was read", 2
		  unless $f->{read_while_down};
		is($f->{file_term}, $f->{term},
			"$name: the persisted term is the voted term ($f->{term})");
		is($f->{file_vote}, $f->{vote},
			"$name: the persisted vote is that vote (node $f->{vote})");
	}

	# The restarted worker starts in the voted term.
	$node->wait_for_log(qr/$fp_re.*LOG:  node \d+ started in term \d+/s,
		$f->{offset});
	my $after = slurp_file($node->logfile, $f->{offset});
	my (undef, undef, undef, $start_term) =
	  $after =~ /$fp_re.*?LOG:  node \d+ started in term (\d+)/s;
	is($start_term, $f->{term},
		"$name: the restarted worker starts in the voted term");

	ok( $node->poll_query_until(
			'postgres',
			q{SELECT error IS NULL AND role <> 'stopped' FROM raft_ext.raft_status}),
		"$name: Raft runs without error after the restart");
	cmp_ok(RaftTest::status($node)->{term}, '>=', $f->{term},
		"$name: its term never went back");
	return;
}

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader: ' . $leader->name . " in term $term");

# 1. Votes for another node, replies never sent.  A planned transfer makes
# the target campaign at once (its request overrides stickiness); the three
# other followers are armed, so each one persists its vote for the target
# and dies before answering.  The target gets only the old leader's vote,
# two of five: the transfer fails, and a leader is elected once the three
# are back.
my ($target, @others) = grep { $_ != $leader } @nodes;
%fired = ();
my $offset = arm(\@others);
my ($ret, $out, $err) = $leader->psql('postgres',
	'SELECT raft_ext.transfer_leadership(' . RaftTest::raft_id($target) . ')');
note("transfer to " . $target->name . ': ' . ($ret ? "failed: $err" : 'done'));
my ($new_leader, $new_term) = watch(\@others, $offset, \@nodes, $term);
ok(defined $new_leader, 'a leader is elected after three voters died')
  and note('leader: ' . $new_leader->name . " in term $new_term");
for my $node (@others)
{
	my $f = $fired{ $node->name };
	ok($f && $f->{vote} != $f->{node},
		$node->name . ' died right after persisting its vote for another node')
	  or next;
	note($node->name . " voted for node $f->{vote} in term $f->{term}"
		  . ($f->{vote} == RaftTest::raft_id($target) ? ' (the target)' : ''));
	check_fired($node);
}

# 2. In an election after the leader's death: arm every follower, kill -9
# the leader.  The first candidate's voters die before answering it.
($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my @followers = grep { $_ != $leader } @nodes;
%fired = ();
$offset = arm(\@followers);
$faults->kill9($leader);
($new_leader, $new_term) = watch(\@followers, $offset, \@followers, $term);
ok(defined $new_leader, 'the four survivors elect a leader')
  and note('new leader: ' . $new_leader->name . " in term $new_term");
cmp_ok(scalar(keys %fired), '>=', 2,
	'at least two of them died right after persisting a vote');
for my $node (grep { $fired{ $_->name } } @followers)
{
	my $f = $fired{ $node->name };
	note($node->name . " voted for node $f->{vote} in term $f->{term} and exited");
	check_fired($node);
}

# The old leader comes back; all five agree.
$faults->restart($leader);
my ($final, $final_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $new_term // $term + 1);
ok(defined $final, 'all five agree on a leader after the old one restarts');

$checker->stop_and_check;

# The vote each voter persisted is the only one it ever showed in that term.
for my $firing (@all_fired)
{
	my ($node, $f) = @$firing;
	my %votes;
	$votes{ $_->{voted_for} // '' }++
	  for grep { ($_->{term} // -1) == $f->{term} && ($_->{role} // '') ne 'stopped' }
	  $checker->samples($f->{node});
	delete $votes{''};
	delete $votes{0};
	ok(!grep({ $_ != $f->{vote} } keys %votes),
		$node->name . " never showed another vote in term $f->{term}")
	  or diag(explain \%votes);
}

RaftScenario::finish($checker, $faults, \@nodes, 6);
