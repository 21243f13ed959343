# Copyright: the raft_ext authors.

# raft_ext.cluster_name defaults to empty since issue 9: the worker then
# uses "pg-" and the database system identifier.  A state directory that
# raft_ext 1.0 stamped with its default name ("raft_ext") keeps that name
# while the setting is unset, with a LOG line: an upgraded node must not
# refuse its own state, nor stop talking to members still on 1.0.  A name
# set explicitly is never replaced: another name is still an ERROR.
#
# A cluster's name cannot change after its first start (every member checks
# it in every message).  A name set on a node that first started under the
# default one ("pg-" and the system identifier) is a rename: refused with an
# error that names the cluster's name and says to set it back, never to
# move the state directory; without the setting again, Raft runs.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;
use Time::HiRes qw(usleep);

my ($node) = RaftTest::create_cluster(1, cluster_name => 'raft_ext');
ok(defined((RaftTest::wait_for_leader([$node]))[0]), 'a one-node cluster named "raft_ext" leads');

# Unset the name: the directory keeps the 1.0 default.
$node->stop;
$node->append_conf('postgresql.conf', "raft_ext.cluster_name = ''\n");
my $offset = -s $node->logfile;
$node->start;
$node->wait_for_log(qr/belongs to cluster "raft_ext", the default name of raft_ext 1\.0; keeping that name/, $offset);
pass('the 1.0 default name is kept, with a LOG line');
ok($node->log_contains(qr/started in term \d+ with \d+ log entries, cluster "raft_ext"/, $offset),
	'the worker runs under that name');
ok(defined((RaftTest::wait_for_leader([$node]))[0]), 'and leads again');

# Another explicit name is a configuration mistake: refused.
$node->stop;
$node->append_conf('postgresql.conf', "raft_ext.cluster_name = 'other'\n");
$node->start;
ok( $node->poll_query_until('postgres',
		q{SELECT error LIKE 'raft state directory "pg_raft" belongs to cluster "raft_ext", not "other"%' FROM raft_status}),
	'an explicit other name is refused');
ok($node->log_contains(qr/HINT:  A cluster's name cannot change after its first start: set raft_ext\.cluster_name = 'raft_ext' and restart the server/),
	'... the server log saying to set the name back');
$node->stop;

# A rename of a cluster that started under the default name.
my $fresh = PostgreSQL::Test::Cluster->new('fresh');
$fresh->{raft_id} = 1;
$fresh->init;
$fresh->append_conf('postgresql.conf',
	"shared_preload_libraries = 'raft_ext'\n"
	  . "raft_ext.node_id = 1\n"
	  . "raft_ext.peers = '1:" . RaftTest::conninfo($fresh) . "'\n"
	  . RaftTest::timing_conf());
$fresh->start;
my $created = 0;
for (1 .. 100)
{
	last if ($created = $fresh->psql('postgres', 'CREATE EXTENSION raft_ext') == 0);
	usleep(100_000);
}
ok($created, 'a one-node cluster under the default name');
my $default = $fresh->safe_psql('postgres', q{SELECT 'pg-' || system_identifier FROM pg_control_system()});
$fresh->stop;
$fresh->append_conf('postgresql.conf', "raft_ext.cluster_name = 'prod'\n");
$fresh->start;
ok( $fresh->poll_query_until('postgres',
		qq{SELECT error LIKE 'raft_ext.cluster_name cannot change after the cluster''s first start: this cluster is "$default", not "prod"%' FROM raft_status}),
	'a name set after the first start is refused as a rename');
like($fresh->safe_psql('postgres', 'SELECT error FROM raft_status'),
	qr/took the default name "\Q$default\E"/,
	'... saying where the name came from');
my ($hint) = slurp_file($fresh->logfile) =~ /(HINT:  Set raft_ext\.cluster_name = '\Q$default\E'[^\n]*)/;
like($hint // '', qr/on this node, or remove the setting, and restart the server/,
	'... the server log saying how to set it back');
unlike($hint // '', qr/\bmove\b/, '... and not to move the state directory');
$fresh->append_conf('postgresql.conf', "raft_ext.cluster_name = ''\n");
$fresh->restart;
ok(defined((RaftTest::wait_for_leader([$fresh]))[0]), 'without the setting, Raft runs and leads again');
$fresh->stop;
done_testing();
