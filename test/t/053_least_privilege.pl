# Copyright: the raft_ext authors.

# The three least-privilege roles of the README ("Roles"), and no superuser
# in any conninfo: raft_transport (EXECUTE on raft_ext.receive) in
# raft_ext.peers, raft_replication (REPLICATION) in every primary_conninfo
# (raft_ext.replication_user), raft_rewind (pg_checkpoint and pg_rewind's
# functions) for the rejoin helper (raft_ext.rewind_user); scram-sha-256 for
# all three, passwords in a password file only.  The default automation
# (nothing auto_* set).  Through:
#  1. a failover after kill -9 of a primary whose WAL had diverged (a
#     commit the standbys never received): the killed node rejoins by
#     itself with pg_rewind run as raft_rewind, and streams as
#     raft_replication;
#  2. a switchover: the old primary demotes and rejoins;
# every Raft connection is raft_transport's, every WAL receiver
# raft_replication's, and no log line, view or status shows a password.

use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFailover;
use RaftFaults;
use Test::More;
use Time::HiRes qw(time usleep);

my %password = (
	raft_transport => 'tr4nsport-Secret',
	raft_replication => 'r3plication-Secret',
	raft_rewind => 'r3wind-Secret');
my $passfile = PostgreSQL::Test::Utils::tempdir() . '/pgpass';
open my $fh, '>', $passfile or die "$passfile: $!";
print $fh "*:*:*:$_:$password{$_}\n" for sort keys %password;
close $fh;
chmod 0600, $passfile;

my @nodes = map { PostgreSQL::Test::Cluster->new("node$_") } 1 .. 3;
$nodes[$_]->{raft_id} = $_ + 1 for 0 .. $#nodes;
my $peers = join ';', map {
	"$_->{raft_id}:" . RaftTest::conninfo($_) . " user=raft_transport passfile=$passfile"
} @nodes;
my $conf = RaftFailover::node_conf($peers, defaults => 1)
  . "password_encryption = 'scram-sha-256'\n"
  . "raft_ext.replication_user = 'raft_replication'\n"
  . "raft_ext.rewind_user = 'raft_rewind'\n"
  . "log_connections = on\n";

# pg_hba: the test framework's own superuser trusted, as ever; the three
# roles only with scram-sha-256.
sub write_hba
{
	my ($node) = @_;
	my $super = $ENV{USER} // getpwuid($<);
	$node->append_conf('pg_hba.conf', '', );
	open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $hba "local all $super trust\n"
	  . "local replication $super trust\n"
	  . "local all raft_transport,raft_rewind scram-sha-256\n"
	  . "local replication raft_replication scram-sha-256\n";
	close $hba;
}

my $primary = $nodes[0];
$primary->init(allows_streaming => 1);
write_hba($primary);
# The roles first, before raft_ext is loaded: a node that does not lead
# yet is fenced, and the roles are what lets the members elect.
$primary->start;
$primary->safe_psql('postgres', q{
	SET log_statement = 'none';		-- the passwords stay out of the log
	CREATE ROLE raft_transport LOGIN PASSWORD 'tr4nsport-Secret';
	CREATE ROLE raft_replication LOGIN REPLICATION PASSWORD 'r3plication-Secret';
	CREATE ROLE raft_rewind LOGIN PASSWORD 'r3wind-Secret';
	GRANT pg_checkpoint TO raft_rewind;
	GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean),
		pg_stat_file(text, boolean), pg_read_file(text),
		pg_read_binary_file(text), pg_read_binary_file(text, bigint, bigint, boolean)
		TO raft_rewind;
});
# The grant on raft_ext.receive as the README says: on the first primary,
# before the standbys exist, with the fence off for the moment (a node that
# has not led refuses writes, and the grant is what lets the members elect).
$primary->append_conf('postgresql.conf', $conf . "raft_ext.node_id = 1\n");
$primary->restart;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION raft_ext;
	ALTER SYSTEM SET raft_ext.fencing = off;
	SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres', "SELECT NOT fencing FROM raft_ext.raft_status");
$primary->safe_psql('postgres', q{
	GRANT EXECUTE ON FUNCTION raft_ext.receive(bytea) TO raft_transport;
	ALTER SYSTEM RESET raft_ext.fencing;
	SELECT pg_reload_conf();
});
$primary->poll_query_until('postgres', "SELECT fencing FROM raft_ext.raft_status");
for my $role (sort keys %password)
{
	is($primary->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = '$role'"),
		'f', "$role is not a superuser");
}
$primary->backup('base');
for my $standby (@nodes[ 1 .. 2 ])
{
	my $id = $standby->{raft_id};
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->append_conf('postgresql.conf',
		    "raft_ext.node_id = $id\n"
		  . "primary_conninfo = 'host=" . $primary->host . ' port=' . $primary->port
		  . " user=raft_replication passfile=$passfile application_name=node$id'\n");
	$standby->start;
}
my $faults = RaftFaults->new(\@nodes);
my ($leader, $term) = RaftFailover::wait_primary(\@nodes);
is(defined $leader ? $leader->name : 'none', 'node1', 'node1 leads as the primary')
  or RaftTest::give_up('no primary');
RaftFailover::create_table(\@nodes);
ok(RaftFailover::wait_whole(\@nodes, $primary, 60), 'both standbys stream from node1');

# The connections each job makes, as the server sees them.
sub check_roles
{
	my ($label, $primary) = @_;
	is($primary->safe_psql('postgres',
			"SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_replication"),
		'raft_replication', "$label: every standby streams as raft_replication");
	for my $node (@nodes)
	{
		my ($ret, $out) = RaftFailover::sql($node,
			"SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
			  . "WHERE application_name LIKE 'raft\\_ext\\_%'");
		is($out, 'raft_transport',
			"$label: peers reach " . $node->name . ' as raft_transport');
	}
}
check_roles('at the start', $primary);

# 1. A diverged primary is killed: its last commit never reached the
# standbys (their WAL receivers were stopped, and it did not wait).
my @walrcv = map {
	[ $_, $_->safe_psql('postgres', 'SELECT pid FROM pg_stat_wal_receiver') ]
} @nodes[ 1 .. 2 ];
kill 'STOP', $_->[1] for @walrcv;
$primary->safe_psql('postgres',
	"SET synchronous_commit = local; INSERT INTO fo_rows (i) SELECT g FROM generate_series(1000, 1999) g");
$faults->kill9($primary);
kill 'CONT', $_->[1] for @walrcv;
my ($new, $new_term) = RaftFailover::wait_primary([ @nodes[ 1 .. 2 ] ], min_term => $term + 1);
ok(defined $new, 'a standby promotes after kill -9 of node1') or RaftTest::give_up('no failover');
my $offset = -s $primary->logfile;
$faults->restart($primary);
my $took = RaftFailover::wait_whole(\@nodes, $new, 90);
ok(defined $took, 'node1 rejoins as a standby of ' . $new->name . ' by itself')
  or diag(slurp_file($primary->logfile, $offset));
# The node streams a moment before the helper records that it is done.
ok(RaftFailover::poll_true($primary, "SELECT rejoin_state = 'done' FROM raft_ext.raft_status", 60),
	'the rejoin finished');
my $log = slurp_file($primary->logfile, $offset);
like($log, qr/raft_ext_rejoin\[\d+\]: running pg_rewind/, 'it ran pg_rewind (its WAL had diverged)');
like(slurp_file($new->logfile), qr/connection authorized: user=raft_rewind/,
	'pg_rewind connected to ' . $new->name . ' as raft_rewind');
$new->wait_for_catchup($primary);
is($primary->safe_psql('postgres', 'SELECT count(*) FROM fo_rows'),
	$new->safe_psql('postgres', 'SELECT count(*) FROM fo_rows'),
	'node1 holds what the new primary holds');
check_roles('after the failover', $new);

# 2. Switchover back to node1.
my ($ret, $out, $err) = RaftFailover::sql($new,
	'SELECT raft_ext.transfer_leadership(1)', timeout => 30);
is($ret, 0, 'transfer_leadership(1) succeeds') or diag($err);
($leader) = RaftFailover::wait_primary(\@nodes, min_term => $new_term + 1);
is(defined $leader ? $leader->name : 'none', 'node1', 'node1 is the primary again');
$took = RaftFailover::wait_whole(\@nodes, $primary, 90);
ok(defined $took, 'the old primary ' . $new->name . ' demotes and rejoins');
check_roles('after the switchover', $primary);

# No conninfo names a superuser; no password shows anywhere.
for my $node (@nodes)
{
	my $pc = $node->safe_psql('postgres', 'SHOW primary_conninfo');
	my @users = $pc =~ /\buser='?([^' ]+)/g;
	is("@users", 'raft_replication', $node->name . ': primary_conninfo names raft_replication only')
	  if $pc ne '';
	my $seen = join "\n",
	  slurp_file($node->logfile),
	  $node->safe_psql('postgres', 'SELECT * FROM raft_ext.raft_status'),
	  $node->safe_psql('postgres', 'SELECT * FROM raft_ext.raft_peers'),
	  $node->safe_psql('postgres', 'SELECT * FROM raft_ext.raft_cluster');
	my @leaks = grep { index($seen, $_) >= 0 } values %password;
	is(scalar(@leaks), 0, $node->name . ': no password in its log, raft_status, raft_peers or raft_cluster');
}

$_->stop for @nodes;
done_testing();
