# Copyright: the raft_ext authors.

# raft_ext.synchronous set back to off in an incident: quorum mode wrote
# synchronous_standby_names = 'ANY 1 ("node2", "node3")' on the primary; no
# standby can stream (replication connections are refused, Raft still runs,
# so the primary keeps its lease) and a commit hangs in its synchronous
# wait.  Setting raft_ext.synchronous = off and reloading:
#  1. the worker removes the value quorum mode wrote (it logs so), and
#     synchronous_standby_names is empty again;
#  2. the hung commit completes, acknowledged;
#  3. a new commit goes through.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use Test::More;

my @nodes = RaftFailover::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;
my ($primary) = RaftFailover::wait_primary(\@nodes);
is($primary->name, 'node1', 'node1 is the primary');

# Quorum mode on every member; postgresql.conf's own value out of the way.
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf',
		"synchronous_standby_names = ''\nraft_ext.synchronous = quorum\n");
	$node->reload;
}
ok( $node1->poll_query_until('postgres',
		q{SELECT current_setting('synchronous_standby_names') = 'ANY 1 ("node2", "node3")'}),
	'quorum mode wrote ANY 1 (node2, node3) on node1');
$node1->safe_psql('postgres', 'INSERT INTO fo_rows (i) VALUES (1)');

# The incident: no standby streams any more.
my $hba = slurp_file($node1->data_dir . '/pg_hba.conf');
open my $fh, '>', $node1->data_dir . '/pg_hba.conf' or die $!;
print $fh "local replication all reject\nhost replication all all reject\n$hba";
close $fh;
$node1->reload;
$node1->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender'");
ok( $node1->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_replication"),
	'no standby streams from node1');

# A commit hangs waiting for the quorum.
my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node1->connstr('postgres'), '-c',
		'INSERT INTO fo_rows (i) VALUES (2)' ],
	'>', \$out, '2>', \$err);
ok( $node1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'"),
	'a commit waits for the synchronous quorum');
is($node1->safe_psql('postgres', 'SELECT has_lease FROM raft_ext.raft_status'), 't',
	'node1 still holds the lease (Raft runs)');

# 1. synchronous = off: what quorum mode wrote is removed.
my $offset = -s $node1->logfile;
$node1->safe_psql('postgres', 'ALTER SYSTEM SET raft_ext.synchronous = off');
$node1->reload;
ok( $node1->poll_query_until('postgres',
		q{SELECT current_setting('synchronous_standby_names') = ''}),
	'synchronous_standby_names is empty again');
ok($node1->log_contains(qr/removes the synchronous_standby_names that raft_ext\.synchronous = quorum wrote/,
		$offset), 'the worker logged the removal');
unlike(slurp_file($node1->data_dir . '/postgresql.auto.conf'),
	qr/^synchronous_standby_names/m, 'postgresql.auto.conf no longer sets it');

# 2. The hung commit completes, acknowledged.
ok($h->finish, 'the hung commit completed') or diag($err);
is($node1->safe_psql('postgres', 'SELECT count(*) FROM fo_rows WHERE i = 2'), '1',
	'its row is there');

# 3. New commits go through.
$node1->safe_psql('postgres', 'INSERT INTO fo_rows (i) VALUES (3)');
is($node1->safe_psql('postgres', 'SELECT count(*) FROM fo_rows WHERE i = 3'), '1',
	'a new commit goes through');

$_->stop('immediate') for @nodes;
done_testing();
