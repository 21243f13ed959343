# Copyright: the raft_ext authors.

# Peers whose host accepts TCP connections but never answers must not slow
# the others down: the worker's loop never blocks on a connection.
#
# Five members: four real instances and, as member 5, a listener (a child
# of this script) that accepts every connection and never reads from it or
# writes to it: libpq's startup packet goes unanswered forever.
#  1. The four real nodes elect a leader; for a few seconds it keeps its
#     lease without a gap, keeps sending to every healthy follower, and the
#     followers keep hearing from it, while member 5 is stuck.
#  2. A follower's postmaster and all its children are stopped (SIGSTOP): its
#     socket still accepts connections (the kernel completes them) and the
#     leader's query already sent to it is never answered.  Same
#     expectations, for the three healthy nodes.  Then it is resumed and
#     catches up.
# The invariant checker samples every node for the whole test and must stay
# clean.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(usleep time);

# The silent member: accept, hold the socket, never read or write.
my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => 0,
	Listen => 64,
	ReuseAddr => 1,
	Proto => 'tcp') or die "could not listen: $!";
my $silent_port = $listener->sockport;
my $silent_pid = fork();
die "fork: $!" unless defined $silent_pid;
if ($silent_pid == 0)
{
	my @held;
	while (my $conn = $listener->accept)
	{
		push @held, $conn;
	}
	POSIX::_exit(0);    # never run the parent's END blocks
}
close $listener;
# Never leave the child behind, even if the test dies.
my $parent_pid = $$;
END { kill 'KILL', $silent_pid if $silent_pid && $$ == $parent_pid; }

my $silent = "5:host=127.0.0.1 port=$silent_port dbname=postgres";
my @nodes = RaftTest::create_cluster(4, start => 0);
my $peers = RaftTest::peers_value(@nodes) . ";$silent";
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.peers = '$peers'\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
}
my ($checker, $faults) = RaftScenario::watch(\@nodes);
# The silent member is this scenario's first fault.
$faults->record_fault("member 5: 127.0.0.1 port $silent_port accepts and never answers");
# 1. Member 5 never answers.
my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader: ' . $leader->name . " in term $term");
my @followers = grep { $_ != $leader } @nodes;
is(RaftTest::steady_leader_failures($leader, $term, \@followers, 3), 0,
	'the leader keeps its lease and heartbeats while member 5 is silent');
my ($connected, $sent) = RaftTest::row($leader,
	'SELECT connected, msgs_sent FROM raft_ext.raft_peers WHERE peer_id = 5');
is($connected, 'f', 'the leader never gets a working connection to member 5');
note("messages queued or sent towards member 5: $sent");

# 2. A follower stops answering too (SIGSTOP of its whole instance).
my $stopped = $followers[0];
my @healthy = @followers[ 1 .. $#followers ];
$faults->pause($stopped);
is(RaftTest::steady_leader_failures($leader, $term, \@healthy, 3), 0,
	'the leader keeps its lease and heartbeats while a follower is stopped');
my @live = ($leader, @healthy);
my ($still, $still_term) = RaftTest::wait_for_leader(\@live);
is($still->name, $leader->name, 'the leader never changed');
is($still_term, $term, 'nor did the term');

# Commands are served promptly: the leader hands over to a healthy follower.
my ($new_leader, $new_term) =
  RaftTest::transfer_to($leader, $healthy[0], \@live, $term);
is($new_leader->name, $healthy[0]->name,
	'leadership transfer works while two members are unresponsive');

# The stopped follower resumes and catches up.
$faults->resume($stopped);
my ($final, $final_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
is(RaftTest::status($stopped)->{role}, 'follower', 'the resumed node follows');

kill 'KILL', $silent_pid;
waitpid($silent_pid, 0);
RaftScenario::finish($checker, $faults, \@nodes, 2);
