# Copyright: the raft_ext authors.

# The defaults fail over.  A streaming cluster whose members set only
# raft_ext.node_id and raft_ext.peers (and the test timing): no
# raft_ext.auto_* line anywhere, as the README's configuration.
#  1. raft_status shows the switches in effect: fencing, auto_promote,
#     auto_follow and auto_rejoin on;
#  2. a switchover (transfer_leadership) makes the target the writable
#     primary, and the old primary rejoins as its standby by itself;
#  3. kill -9 of the primary: a standby promotes, writes resume, and the
#     killed node, restarted, rejoins by itself;
#  4. a transfer to a standby that has auto_promote off is refused, with
#     the reason: it would lead as a standby while the old primary is
#     fenced;
#  5. decide-only (auto_promote off everywhere): after a kill -9 the new
#     leader stays a standby and says why in raft_status.primary_wait and
#     in the log; with auto_promote on again on the other survivor,
#     raftctl failover --candidate hands it leadership and it promotes.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftFaults;
use IPC::Run;
use Test::More;
use Time::HiRes qw(time usleep);

my @nodes = RaftFailover::create_cluster(3, defaults => 1);
my $faults = RaftFaults->new(\@nodes);

# 1. The switches in effect.
my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads') or RaftTest::give_up('no primary');
for my $node (@nodes)
{
	is(join(',', RaftTest::row($node,
		'SELECT fencing, auto_promote, auto_follow, auto_rejoin FROM raft_ext.raft_status')),
		't,t,t,t', $node->name . ': fencing, auto_promote, auto_follow, auto_rejoin in effect');
}

my $n = 0;
# A row committed on $node (and so acknowledged by a standby: ANY 1).
sub writes
{
	my ($node) = @_;
	$n++;
	my ($ret) = RaftFailover::sql($node, "INSERT INTO fo_rows (i) VALUES ($n)", timeout => 10);
	return $ret == 0;
}

sub wait_writes
{
	my ($node) = @_;
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		return 1 if writes($node);
		usleep(100_000);
	}
	return 0;
}

# 2. Switchover.
my ($target) = grep { $_ != $primary } @nodes;
my ($ret, $out, $err) = RaftFailover::sql($primary,
	'SELECT raft_ext.transfer_leadership(' . $target->{raft_id} . ')', timeout => 30);
is($ret, 0, 'transfer_leadership to ' . $target->name . ' succeeds') or diag($err);
my ($new) = RaftFailover::wait_primary(\@nodes, min_term => $term + 1);
is(defined $new ? $new->name : 'none', $target->name,
	'the target of the switchover is the primary');
ok(wait_writes($target), 'writes are acknowledged on ' . $target->name);
my $took = RaftFailover::wait_whole(\@nodes, $target, 60);
ok(defined $took, 'the old primary ' . $primary->name . ' rejoins by itself')
  or diag(slurp_file($primary->logfile));
($primary, $term) = RaftFailover::wait_primary(\@nodes);

# 3. kill -9 of the primary.
my $killed = $primary;
my @survivors = grep { $_ != $killed } @nodes;
$faults->kill9($killed);
($new, my $new_term) = RaftFailover::wait_primary(\@survivors, min_term => $term + 1);
ok(defined $new, 'a standby promotes after kill -9 of ' . $killed->name)
  or RaftTest::give_up('no failover');
ok(wait_writes($new), 'writes resume on ' . $new->name);
$faults->restart($killed);
$took = RaftFailover::wait_whole(\@nodes, $new, 60);
ok(defined $took, 'the killed node ' . $killed->name . ' rejoins by itself')
  or diag(slurp_file($killed->logfile));
($primary, $term) = ($new, $new_term);

# 4. A transfer to a standby that would not promote is refused.
my ($lazy) = grep { $_ != $primary } @nodes;
$lazy->safe_psql('postgres',
	'ALTER SYSTEM SET raft_ext.auto_promote = off; SELECT pg_reload_conf()');
ok(RaftFailover::poll_true($lazy,
		'SELECT NOT auto_promote FROM raft_ext.raft_status'),
	$lazy->name . ' has auto_promote off');
# (that is this backend's reading of the reload; the worker there reports
# the new flags in its next answers to the leader, a heartbeat later: give
# it ample time, since a transfer the leader accepts on the old flags ends
# the test's loop)
usleep(2_000_000);
my $refused = 0;
for (1 .. 50)
{
	($ret, $out, $err) = RaftFailover::sql($primary,
		'SELECT raft_ext.transfer_leadership(' . $lazy->{raft_id} . ')', timeout => 30);
	if ($ret != 0 && $err =~ /would not promote/)
	{
		$refused = 1;
		last;
	}
	last if $ret == 0;
	usleep(100_000);
}
ok($refused, 'a transfer to ' . $lazy->name . ', which would not promote, is refused')
  or diag("ret $ret: $err");
like($err, qr/auto_promote off/, 'the refusal says why');
my ($still) = RaftTest::agreed_leader(\@nodes);
is(defined $still ? $still->name : 'none', $primary->name, $primary->name . ' still leads');
ok(writes($primary), $primary->name . ' still takes writes');

# 5. Decide-only: auto_promote off everywhere, then kill -9 of the primary.
for my $node (grep { $_ != $lazy } @nodes)
{
	$node->safe_psql('postgres',
		'ALTER SYSTEM SET raft_ext.auto_promote = off; SELECT pg_reload_conf()');
}
ok(RaftFailover::poll_true($_, 'SELECT NOT auto_promote FROM raft_ext.raft_status'),
	$_->name . ': decide-only') for @nodes;
$killed = $primary;
@survivors = grep { $_ != $killed } @nodes;
my $log_offset = { map { $_->name => -s $_->logfile } @survivors };
$faults->kill9($killed);
my $leader;
my $deadline = time() + 30;
while (time() < $deadline && !defined $leader)
{
	my ($l) = RaftTest::agreed_leader(\@survivors);
	$leader = $l if defined $l && $l != $killed;
	usleep(100_000);
}
ok(defined $leader, 'the survivors elect a leader') or RaftTest::give_up('no leader');
ok(RaftFailover::poll_true($leader,
		"SELECT primary_wait LIKE 'raft_ext.auto_promote is off (decide-only)%' FROM raft_ext.raft_status"),
	'the leader ' . $leader->name . ' says in primary_wait why it does not promote');
is(join(',', RaftTest::row($leader, 'SELECT pg_is_in_recovery()')), 't',
	'it stays a standby');
ok($leader->wait_for_log(qr/leads in term \d+ but does not promote: raft_ext\.auto_promote is off/,
		$log_offset->{ $leader->name }),
	'and says so in its log');
# raftctl failover --candidate: the other survivor, with auto_promote on
# again, takes over from the leader that will not promote.
my ($candidate) = grep { $_ != $leader } @survivors;
$candidate->safe_psql('postgres',
	'ALTER SYSTEM SET raft_ext.auto_promote = on; SELECT pg_reload_conf()');
ok(RaftFailover::poll_true($candidate, 'SELECT auto_promote FROM raft_ext.raft_status'),
	$candidate->name . ' has auto_promote on again');
my ($rc, $rout, $rerr) = ('', '', '');
IPC::Run::run([ 'raftctl', '-d', $leader->connstr('postgres'), 'failover',
		'--candidate', $candidate->{raft_id}, '--force', '--timeout', '30' ],
	'>', \$rout, '2>', \$rerr);
$rc = $? >> 8;
is($rc, 0, 'raftctl failover --candidate ' . $candidate->{raft_id} . ' exits 0')
  or diag("stdout: $rout\nstderr: $rerr");
like($rout, qr/node $candidate->{raft_id} is the primary/, 'it reports the new primary');
ok(wait_writes($candidate), 'writes resume on ' . $candidate->name);
is(join(',', RaftTest::row($candidate, 'SELECT primary_wait IS NULL FROM raft_ext.raft_status')),
	't', 'a primary has no primary_wait');

$_->stop for grep { $_ != $killed } @nodes;
done_testing();
