# Copyright: the raft_ext authors.

# After an fsync of the Raft state fails, Raft stays stopped on that node
# until the server restarts (issue 9, item 5): the kernel may have dropped
# the pages it could not write, so a retry could "succeed" with the data
# lost.  Neither a reload (SIGHUP) nor a restart of the worker brings Raft
# back on the same storage; a server restart does.  And opening the state
# directory fsyncs what it already holds before using it.
#
# The failpoint 'fsync-fail' makes the next fsync of the Raft state fail
# with EIO, once.
#  1. Armed on a follower whose worker is then terminated: the restarted
#     worker's first fsync is the one that opening the directory does on an
#     existing log segment; it fails, and Raft stays stopped.
#  2. Armed on a follower that then persists a new term (the leader hands
#     leadership to the third node): that fsync fails, Raft stops; a reload
#     and a worker restart leave it stopped; a server restart brings it back.
# The other two nodes keep a leader throughout.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFaults;
use Test::More;

my @nodes = RaftFaults::create_cluster(3);
my $stays = 'Raft stays stopped on this node until the server restarts: an fsync of its state failed';

sub error_of
{
	my ($node) = @_;
	return scalar $node->safe_psql('postgres',
		'SELECT coalesce(error, \'\') FROM raft_status');
}

# The worker's pid: the postmaster's child whose title names it.
sub worker_pid
{
	my ($node) = @_;
	for my $pid (RaftFaults::_children($node->{_pid}))
	{
		open(my $fh, '<', "/proc/$pid/cmdline") or next;
		my $cmd = <$fh> // '';
		close $fh;
		return $pid if $cmd =~ /raft_ext worker/;
	}
	return undef;
}

# Terminate the worker and wait until the postmaster has started another.
sub restart_worker
{
	my ($node) = @_;
	my $old = worker_pid($node) // die 'no raft_ext worker';
	kill 'TERM', $old;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my $new = worker_pid($node);
		return if defined $new && $new != $old;
		select(undef, undef, undef, 0.1);
	}
	die 'the worker was not restarted';
}

sub wait_stays_stopped
{
	my ($node) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT error LIKE '$stays%' FROM raft_status});
}

my ($leader) = RaftTest::wait_for_leader(\@nodes);
my ($f1, $f2) = grep { $_ != $leader } @nodes;

# 1. The fsync of opening the directory.
$f1->safe_psql('postgres', q{SELECT raft_ext.fault_failpoint('fsync-fail')});
my $offset = -s $f1->logfile;
restart_worker($f1);
ok(wait_stays_stopped($f1), 'a failed fsync while opening the state directory stops Raft');
my $error = error_of($f1);
note("raft_status.error: $error");
like($error, qr{could not fsync file "[^"]*pg_raft/log/[0-9A-F]{16}"},
	'the failed fsync was of an existing log segment, at open');
ok($f1->log_contains(qr/failpoint fsync-fail/, $offset), 'the failpoint fired');
my @rest = grep { $_ != $f1 } @nodes;
ok(defined((RaftTest::wait_for_leader(\@rest))[0]), 'the other two keep a leader');

$f1->restart;
ok( $f1->poll_query_until('postgres',
		q{SELECT error IS NULL AND role = 'follower' FROM raft_status}),
	'after a server restart the node runs Raft again');

# 2. The fsync of persisting a new term.
($leader) = RaftTest::wait_for_leader(\@nodes);
my ($victim, $target) = grep { $_ != $leader } @nodes;
$victim->safe_psql('postgres', q{SELECT raft_ext.fault_failpoint('fsync-fail')});
$offset = -s $victim->logfile;
$leader->safe_psql('postgres',
	'SELECT raft_ext.transfer_leadership(' . RaftTest::raft_id($target) . ')');
ok(wait_stays_stopped($victim), 'a failed fsync of a new term stops Raft');
$error = error_of($victim);
note("raft_status.error: $error");
like($error, qr/could not fsync/, 'raft_status.error names the failed fsync');
is($victim->safe_psql('postgres', 'SELECT raft_ext.is_leader()'), 'f', 'the node does not lead');

$victim->safe_psql('postgres', 'SELECT pg_reload_conf()');
$victim->wait_for_log(qr/configuration reloaded, but Raft stays stopped until the server restarts\n.*DETAIL:  An fsync of the Raft state failed earlier/, $offset);
is(error_of($victim), $error, 'a reload leaves Raft stopped, with the same error');

restart_worker($victim);
ok(wait_stays_stopped($victim), 'a restarted worker leaves Raft stopped too');
like(error_of($victim), qr/^\Q$stays\E: An fsync of the Raft state failed earlier/, 'and says why');

@rest = grep { $_ != $victim } @nodes;
ok(defined((RaftTest::wait_for_leader(\@rest))[0]), 'the other two keep a leader');

$victim->restart;
ok( $victim->poll_query_until('postgres',
		q{SELECT error IS NULL AND role = 'follower' FROM raft_status}),
	'after a server restart the node runs Raft again');
ok(defined((RaftTest::wait_for_leader(\@nodes))[0]), 'all three agree on a leader');

$_->stop for @nodes;
done_testing();
