# Copyright: the raft_ext authors.

# raft_ext.synchronous = quorum: a commit whose wait for the synchronous
# standbys is cut short is not acknowledged.  Both standbys' WAL receivers
# are stopped (SIGSTOP: they neither flush nor confirm), so an INSERT on the
# primary waits in SyncRep; then
#  1. pg_cancel_backend: PostgreSQL alone would report success with a
#     WARNING ("has already committed locally"); here the client sees the
#     connection end instead, never "INSERT 0 1";
#  2. pg_terminate_backend: the same (PostgreSQL's own behaviour).
# Once the WAL receivers run again, writes are acknowledged as before.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3);
my ($primary) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads') or RaftTest::give_up('no primary');
my @standbys = grep { $_ != $primary } @nodes;

for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT current_setting('synchronous_standby_names') LIKE 'ANY 1 (%'}),
	'the primary waits for one of the two standbys');
ok( $primary->poll_query_until(
		'postgres',
		q{SELECT count(*) = 2 FROM pg_stat_replication WHERE sync_state = 'quorum'}),
	'both standbys are quorum candidates');

# Stop (and, at the end whatever happens, continue) the WAL receivers.
my @stopped;
END { kill 'CONT', @stopped if @stopped; }
for my $standby (@standbys)
{
	my $pid = $standby->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver');
	ok($pid =~ /^\d+$/, $standby->name . ' has a WAL receiver') or next;
	kill 'STOP', $pid;
	push @stopped, $pid;
}

# Start an INSERT, wait until it waits for the standbys, interrupt it with
# $how, and return what the client got: (exit code, stdout, stderr).
sub interrupted_insert
{
	my ($i, $how) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $primary->connstr('postgres'),
			'-c', "INSERT INTO fo_rows (i) VALUES ($i)"
		],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	ok( $primary->poll_query_until(
			'postgres',
			q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'}),
		"INSERT $i waits for synchronous replication");
	$primary->safe_psql('postgres',
		"SELECT $how(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
	$h->finish;
	return ($? >> 8, $out, $err);
}

my $log_from = -s $primary->logfile;
my ($rc, $out, $err) = interrupted_insert(1001, 'pg_cancel_backend');
unlike($out, qr/INSERT 0 1/, 'a cancelled wait is not acknowledged');
isnt($rc, 0, 'psql reports a failure');
like($err, qr/server closed the connection|connection to server was lost/,
	'the client sees the connection end');
ok( $primary->log_contains(
		qr/terminating connection because its commit at [0-9A-F]+\/[0-9A-F]+ was not confirmed/,
		$log_from),
	'the server says why it ended the session');

($rc, $out, $err) = interrupted_insert(1002, 'pg_terminate_backend');
unlike($out, qr/INSERT 0 1/, 'a terminated wait is not acknowledged');
isnt($rc, 0, 'psql reports a failure');

kill 'CONT', @stopped;
@stopped = ();
my ($ret, $o, $e) = RaftFailover::sql($primary,
	'INSERT INTO fo_rows (i) VALUES (1003)');
is($ret, 0, 'with the WAL receivers running again, a write is acknowledged')
  or diag($e);
is( $primary->safe_psql('postgres',
		'SELECT count(*) FROM fo_rows WHERE i IN (1001, 1002, 1003)'),
	'3', 'the unacknowledged commits were committed locally (an unknown outcome, not a loss)');

$_->stop('immediate') for @nodes;
done_testing();
