# Copyright: the raft_ext authors.

# raft_ext.synchronous = quorum on a primary with two streaming standbys:
#  1. every member, standbys included, keeps synchronous_standby_names =
#     'ANY 1 (the other two)', and a write is acknowledged;
#  2. after the primary is killed, the new primary has 'ANY 1 (the other
#     two)' from its first commit, and its writes are acknowledged;
#  3. removing the dead member raises the guarantee first (ANY 1 of the
#     one voter that stays), then lowers it once the removal is committed
#     (two voters: k = 0, empty);
#  4. adding a member raises k while it is a staged learner, without
#     naming it, and names it only once its promotion is committed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3);
my ($primary) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads');

# The value each member should hold: ANY k of the others, in id order.
sub quorum_value
{
	my ($k, @others) = @_;
	return '' if $k == 0;
	return "ANY $k ("
	  . join(', ',
		map { '"node' . RaftTest::raft_id($_) . '"' }
		sort { RaftTest::raft_id($a) <=> RaftTest::raft_id($b) } @others)
	  . ')';
}

sub wait_setting
{
	my ($node, $want, $what) = @_;
	my $q = $want;
	$q =~ s/'/''/g;
	ok( $node->poll_query_until(
			'postgres',
			"SELECT current_setting('synchronous_standby_names') = '$q'"),
		"$what: synchronous_standby_names is '$want'")
	  or diag('it is: '
		  . $node->safe_psql('postgres', 'SHOW synchronous_standby_names'));
	return;
}

# Position in the node's log of the line setting 'value', from 'offset'.
sub set_line_at
{
	my ($node, $value, $offset) = @_;
	my $log = slurp_file($node->logfile);
	my $line = qq{sets synchronous_standby_names to "$value"};
	return index($log, $line, $offset);
}

for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "raft_ext.synchronous = quorum\n");
	$node->reload;
}

# 1. Every member names the other two.
for my $node (@nodes)
{
	wait_setting($node, quorum_value(1, grep { $_ != $node } @nodes),
		$node->name);
}
my ($ret, $out, $err) = RaftFailover::sql($primary,
	'INSERT INTO fo_rows (i) VALUES (1)');
is($ret, 0, 'a write on the primary is acknowledged') or diag($err);

# 2. Kill the primary; the new one already holds ANY 1 (the other two).
RaftTest::kill9($primary);
my @survivors = grep { $_ != $primary } @nodes;
my ($new) = RaftFailover::wait_primary(\@survivors);
ok(defined $new, 'a survivor is promoted') or RaftTest::give_up('no new primary');
my ($other) = grep { $_ != $new } @survivors;
wait_setting($new, quorum_value(1, $primary, $other),
	'the new primary ' . $new->name);
ok(RaftFailover::wait_follows($other, $new),
	$other->name . ' follows the new primary');
($ret, $out, $err) = RaftFailover::sql($new,
	'INSERT INTO fo_rows (i) VALUES (2)');
is($ret, 0, 'a write on the new primary is acknowledged') or diag($err);

# 3. Remove the dead member: first ANY 1 of the voter that stays, then
#    (two voters, k = 0) nothing to wait for.
my $from = length(slurp_file($new->logfile));
my $dead = RaftTest::raft_id($primary);
$new->safe_psql('postgres', "SELECT raft_ext.remove_node($dead)");
wait_setting($new, '', 'after the removal');
my $raised = set_line_at($new, quorum_value(1, $other), $from);
my $lowered = set_line_at($new, '', $from);
ok($raised >= 0 && $lowered > $raised,
	'the guarantee was raised before the removal and lowered after it');
wait_setting($other, '', $other->name . ' after the removal');

# 4. Add node 4, a standby of the new primary.
$new->backup('b4');
my $node4 = PostgreSQL::Test::Cluster->new('node4');
$node4->{raft_id} = 4;
$node4->init_from_backup($new, 'b4', has_streaming => 1);
$node4->append_conf('postgresql.conf',
	    "raft_ext.node_id = 4\n"
	  . "raft_ext.peers = '"
	  . RaftTest::peers_value($new, $other, $node4) . "'\n"
	  . "primary_conninfo = '"
	  . $new->connstr
	  . " application_name=node4'\n");
$node4->start;
$from = length(slurp_file($new->logfile));
$new->safe_psql('postgres',
	q{SELECT raft_ext.add_node(4, '} . RaftTest::conninfo($node4) . q{')});
wait_setting($new, quorum_value(1, $other, $node4),
	'after node 4 is promoted');
my $staged = set_line_at($new, quorum_value(1, $other), $from);
my $named = set_line_at($new, quorum_value(1, $other, $node4), $from);
ok($staged >= 0 && $named > $staged,
	'k was raised while node 4 was staged, and node 4 named only after its promotion');
wait_setting($node4, quorum_value(1, $new, $other), 'node 4');
($ret, $out, $err) = RaftFailover::sql($new,
	'INSERT INTO fo_rows (i) VALUES (3)');
is($ret, 0, 'a write with three voters again is acknowledged') or diag($err);

# 5. A removal waits until the remaining voters hold the primary's WAL:
#    with both standbys' WAL receivers stopped and a commit they never got,
#    removing the primary itself (the other two would then elect without
#    it) is refused, with the counts.
my @receivers = map { $_->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver') }
  ($other, $node4);
kill 'STOP', @receivers;
($ret, $out, $err) = RaftFailover::sql($new,
	'SET synchronous_commit = local; INSERT INTO fo_rows (i) VALUES (4)');
is($ret, 0, 'a commit that waits for no standby') or diag($err);
($ret, $out, $err) = RaftFailover::sql($new,
	'SELECT raft_ext.remove_node(' . RaftTest::raft_id($new) . ')', timeout => 30);
kill 'CONT', @receivers;
isnt($ret, 0, 'removing the primary while the other voters lack its WAL is refused');
like($err, qr/remaining voters do not hold this primary's WAL yet/, 'with the reason');
like($err, qr/1 of the 2 remaining voters must hold WAL up to/, 'and the counts');

# Quorum mode needs the WAL-aware vote: a reload without it is refused.
my $log_from = -s $node4->logfile;
$node4->append_conf('postgresql.conf', "raft_ext.max_lag_on_failover = -1\n");
$node4->reload;
ok( $node4->wait_for_log(
		qr/raft_ext.synchronous = quorum needs raft_ext.max_lag_on_failover = 0/,
		$log_from),
	'quorum mode with max_lag_on_failover = -1 is refused');

$node4->stop('immediate');
$_->stop('immediate') for @survivors;
done_testing();
