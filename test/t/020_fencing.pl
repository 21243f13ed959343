
# Copyright: the raft_ext authors.

# Fencing: a node that does not hold the leader's lease cannot commit a
# write.  Three independent instances: the leader commits; a follower refuses
# at commit with SQLSTATE 25006 naming the leader, aborts cleanly, still
# serves reads, and lets autovacuum's ANALYZE commit; new sessions on a
# follower are read-only by default, so libpq's target_session_attrs=
# read-write finds the leader; PREPARE and COMMIT PREPARED are fenced too.
# After the leader is killed the new leader becomes writable and the
# restarted old leader is fenced.  raft_ext.fencing = off lets a follower
# commit.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

# Run $sql on $node with verbose errors (SQLSTATE shown): ($ret, $stderr).
sub run_sql
{
	my ($node, $sql, $db) = @_;
	my ($stdout, $stderr);
	my $ret = $node->psql(
		$db // 'postgres',
		"\\set VERBOSITY verbose\n$sql",
		stdout => \$stdout,
		stderr => \$stderr);
	return ($ret, $stderr // '');
}

# Run $sql on $node: it must fail with $error (test $what), and $count_sql
# must then count 0 (test $nothing): the refused write left no trace.
sub refused_without_trace
{
	my ($node, $sql, $error, $what, $count_sql, $nothing) = @_;
	my (undef, $err) = run_sql($node, $sql);
	like($err, $error, $what);
	is($node->safe_psql('postgres', $count_sql), '0', $nothing);
	return;
}

# Set raft_ext.fencing on $node and wait until new sessions see it.
sub set_fencing
{
	my ($node, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET raft_ext.fencing = $value");
	$node->reload;
	$node->poll_query_until('postgres', 'SHOW raft_ext.fencing', $value)
	  or die $node->name . ": raft_ext.fencing did not become $value";
	return;
}

# The port of the node that a read-write multi-host connection reaches, and
# whether that node says it leads ("port|t").
sub read_write_target
{
	my (@candidates) = @_;
	my $host = $candidates[0]->host;
	my $connstr =
		'host=' . join(',', ($host) x @candidates)
	  . ' port=' . join(',', map { $_->port } @candidates)
	  . ' dbname=postgres target_session_attrs=read-write connect_timeout=5';
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run [
		$candidates[0]->installed_command('psql'), '-XAtq',
		'-d', $connstr,
		'-c', "SELECT current_setting('port') || '|' || raft_ext.is_leader()"
	  ],
	  '>', \$stdout, '2>', \$stderr;
	chomp $stdout;
	note("read-write connection: '$stdout' $stderr");
	return $stdout;
}

# Fencing off at first, so that every node can create its table; it is
# turned on below, at run time.  Prepared transactions for 2PC; WAL senders
# so that a synchronous-replication wait can hold a commit (step 9).
my @nodes = RaftTest::create_cluster(3,
	extra_conf => "raft_ext.fencing = off\nmax_prepared_transactions = 5\n"
	  . "wal_level = replica\nmax_wal_senders = 2\n");

is($nodes[0]->safe_psql('postgres', 'SHOW raft_ext.fencing'),
	'off', 'raft_ext.fencing from postgresql.conf is applied at start');
$_->safe_psql('postgres', 'CREATE TABLE t (id int, written_on int)')
  for @nodes;
set_fencing($_, 'on') for @nodes;

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my $leader_id = RaftTest::raft_id($leader);
my @followers = grep { $_ != $leader } @nodes;
note('leader: ' . $leader->name . " in term $term");

# 1. The leader commits once its first heartbeat round is acknowledged.
ok( $leader->poll_query_until(
		'postgres',
		"WITH i AS (INSERT INTO t VALUES (1, $leader_id) RETURNING 1) "
		  . 'SELECT count(*) = 1 FROM i'),
	'the leader commits a write');
ok($leader->poll_query_until('postgres', 'SHOW default_transaction_read_only',
		'off'),
	'new sessions on the leader are read-write');

# A headroom longer than any lease fences the leader itself.
$leader->safe_psql('postgres',
	"ALTER SYSTEM SET raft_ext.fencing_headroom = '60s'");
$leader->reload;
$leader->poll_query_until('postgres', 'SHOW raft_ext.fencing_headroom', '1min')
  or die 'raft_ext.fencing_headroom was not reloaded';
my ($ret, $err) = run_sql($leader,
	"SET default_transaction_read_only = off;\nINSERT INTO t VALUES (1, 0);");
like($err,
	qr/25006: cannot commit a write on a fenced node.*\n.*DETAIL:  This node \($leader_id\) is the leader, but its lease runs out in \d+ ms, less than raft_ext.fencing_headroom/,
	'the leader refuses a commit when its lease has less than the headroom left');
$leader->safe_psql('postgres', 'ALTER SYSTEM RESET raft_ext.fencing_headroom');
$leader->reload;
ok( $leader->poll_query_until(
		'postgres',
		"WITH i AS (INSERT INTO t VALUES (1, $leader_id) RETURNING 1) "
		  . 'SELECT count(*) = 1 FROM i'),
	'with the default headroom the leader commits again');

# 2. Followers: read-only sessions, writes refused at commit.
for my $f (@followers)
{
	my $name = $f->name;

	is($f->safe_psql('postgres', 'SHOW default_transaction_read_only'),
		'on', "$name: a new session is read-only by default");

	($ret, $err) = run_sql($f, 'INSERT INTO t VALUES (2, 0)');
	like($err, qr/ERROR:  25006: cannot execute INSERT in a read-only transaction/,
		"$name: a plain INSERT is refused by the read-only default");

	($ret, $err) = run_sql($f,
		"SET default_transaction_read_only = off;\nINSERT INTO t VALUES (2, 0);");
	isnt($ret, 0, "$name: an INSERT with the default turned off fails");
	like($err, qr/ERROR:  25006: cannot execute a write on a fenced node/,
		"$name: ... before it writes, with SQLSTATE 25006");
	like($err,
		qr/DETAIL:  This node \(\d+\) does not hold the leader's lease; the leader is node $leader_id\./,
		"$name: ... and the message names the leader");

	refused_without_trace($f,
		"BEGIN READ WRITE;\nCREATE TABLE t_ddl (i int);\nCOMMIT;",
		qr/25006: cannot commit a write on a fenced node/,
		"$name: COMMIT of a transaction block that wrote (DDL, not refused before it runs) is refused",
		'SELECT count(*) FROM t',
		"$name: the refused transactions left nothing behind");

	is($f->safe_psql('postgres',
			"BEGIN READ ONLY;\nSELECT count(*) FROM t;\nCOMMIT;"),
		'0', "$name: a read-only transaction works");

	refused_without_trace($f,
		"BEGIN READ WRITE;\nCREATE TABLE t_ddl (i int);\nPREPARE TRANSACTION 'on_follower';",
		qr/25006: cannot prepare a write on a fenced node/,
		"$name: PREPARE TRANSACTION of a write is refused",
		'SELECT count(*) FROM pg_prepared_xacts',
		"$name: nothing was prepared");
}

# 3. Installing raft_ext itself is not fenced (the nodes need it to talk),
# as long as it is alone in its transaction.
my $f = $followers[0];
($ret, $err) =
  run_sql($f, "BEGIN;\nCREATE EXTENSION raft_ext;\nCOMMIT;", 'template1');
like($err, qr/25006/,
	'CREATE EXTENSION raft_ext in a transaction block of a fenced session fails');
($ret, $err) = run_sql($f, 'CREATE EXTENSION raft_ext', 'template1');
is($ret, 0, 'CREATE EXTENSION raft_ext alone works on a fenced node')
  or diag($err);

# 4. libpq with every node and target_session_attrs=read-write lands on the
# leader, whatever the order.
is(read_write_target(@followers, $leader),
	$leader->port . '|true',
	'target_session_attrs=read-write connects to the leader');

# 5. raft_ext.fencing = off lets a follower commit; autovacuum's ANALYZE (a
# write by a background process) commits on a fenced follower.
$f->safe_psql('postgres', 'ALTER SYSTEM SET autovacuum = off');
set_fencing($f, 'off');
is($f->safe_psql('postgres', 'SHOW default_transaction_read_only'),
	'off', 'with fencing off a new session on a follower is read-write');
($ret, $err) = run_sql($f,
	"CREATE TABLE av (i int);\nINSERT INTO av SELECT generate_series(1, 1000);"
);
is($ret, 0, 'with fencing off a follower commits a write') or diag($err);

$f->safe_psql('postgres',
	"ALTER SYSTEM SET autovacuum = on;\nALTER SYSTEM SET autovacuum_naptime = '1s';"
);
set_fencing($f, 'on');
($ret, $err) = run_sql($f,
	"SET default_transaction_read_only = off;\nINSERT INTO av VALUES (0);");
like($err, qr/cannot (commit|execute) a write on a fenced node/,
	'the follower is fenced again');
# pg_statistic rows for av exist only if the ANALYZE committed.
ok( $f->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'av'"),
	'autovacuum ANALYZEs a table on a fenced follower');

# 6. A transaction prepared while this node leads.
$leader->safe_psql('postgres',
	"BEGIN;\nINSERT INTO t VALUES (10, $leader_id);\nPREPARE TRANSACTION 'before_kill';"
);
is( $leader->safe_psql(
		'postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'before_kill'"),
	'1',
	'the leader prepares a transaction');

# 7. Kill the leader: the new leader becomes writable once it has the lease.
RaftTest::kill9($leader);
my @survivors = grep { $_ != $leader } @nodes;
my ($new_leader, $new_term) =
  RaftTest::wait_for_leader(\@survivors, min_term => $term + 1);
my $new_id = RaftTest::raft_id($new_leader);
note('new leader: ' . $new_leader->name . " in term $new_term");
ok( $new_leader->poll_query_until(
		'postgres',
		"WITH i AS (INSERT INTO t VALUES (20, $new_id) RETURNING 1) "
		  . 'SELECT count(*) = 1 FROM i'),
	'the new leader commits a write once it holds the lease');
is(read_write_target($leader, @survivors),
	$new_leader->port . '|true',
	'target_session_attrs=read-write skips the dead node and finds the new leader');

# 8. The old leader comes back fenced; COMMIT PREPARED is refused there.
RaftTest::restart_killed($leader);
($ret, $err) = run_sql($leader,
	"SET default_transaction_read_only = off;\nINSERT INTO t VALUES (30, 0);");
like($err, qr/25006: cannot execute a write on a fenced node/,
	'the restarted old leader is fenced');
($ret, $err) = run_sql($leader, "COMMIT PREPARED 'before_kill'");
like($err,
	qr/25006: cannot commit a prepared transaction on a fenced node/,
	'COMMIT PREPARED is refused on a fenced node');
is( $leader->safe_psql(
		'postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'before_kill'"),
	'1',
	'the prepared transaction is still prepared');
($ret, $err) = run_sql($leader, "ROLLBACK PREPARED 'before_kill'");
is($ret, 0, 'ROLLBACK PREPARED is allowed on a fenced node') or diag($err);

my ($final_leader) = RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
my $final_id = RaftTest::raft_id($final_leader);
($ret, $err) = run_sql($leader,
	"SET default_transaction_read_only = off;\nINSERT INTO t VALUES (31, 0);");
like($err,
	qr/DETAIL:  This node \(\d+\) does not hold the leader's lease; the leader is node $final_id\./,
	'the old leader names the current leader when it refuses');
is($leader->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id >= 30'),
	'0', 'the old leader committed nothing while fenced');

# 9. A commit that passed the fence but completed after the lease ran out
# is reported to the client.  A synchronous-replication wait (for a standby
# that does not exist) holds a commit between the check and its end; the
# other nodes stop, the lease runs out, the wait is cancelled.
my @others = grep { $_ != $final_leader } @nodes;
$final_leader->safe_psql('postgres',
	"ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
$final_leader->reload;
$final_leader->poll_query_until('postgres', 'SHOW synchronous_standby_names',
	'nobody');
ok( $final_leader->poll_query_until('postgres',
		'SELECT raft_ext.fencing_token() IS NOT NULL'),
	'the leader holds the lease before the slow commit');
my $bg = $final_leader->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/,
	"\\echo started\nINSERT INTO t VALUES (40, $final_id);\n");
ok( $final_leader->poll_query_until(
		'postgres',
		"SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $pid"),
	'a commit passed the fence and waits for synchronous replication');
$_->stop('immediate') for @others;
ok( $final_leader->poll_query_until('postgres',
		'SELECT raft_ext.fencing_token() IS NULL'),
	'the leader loses its lease without a majority');
$final_leader->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$bg->query('SELECT 1');
like(
	$bg->{stderr},
	qr/WARNING:  write committed after this node's lease ran out/,
	'the client is warned that its commit completed after the lease');
$bg->quit;
$final_leader->stop;
done_testing();
