# Copyright: the raft_ext authors.

# raft_ext.cluster_name defaults to empty since issue 9: the worker then
# uses "pg-" and the database system identifier.  A state directory that
# raft_ext 1.0 stamped with its default name ("raft_ext") keeps that name
# while the setting is unset, with a LOG line: an upgraded node must not
# refuse its own state, nor stop talking to members still on 1.0.  A name
# set explicitly is never replaced: another name is still an ERROR.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

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

$node->stop;
done_testing();
