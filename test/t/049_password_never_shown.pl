# Copyright: the raft_ext authors.

# A password in the Raft conninfos is never shown.  Every member reaches the
# others as the role "raft" (EXECUTE on raft_ext.receive only, as the
# README's recipe grants) with its password in raft_ext.peers and
# scram-sha-256 in pg_hba.conf.  That role cannot run CHECKPOINT, so the
# rejoin of a killed old primary fails with a message naming the source:
#  1. rejoin_error is filled and names the source with its password masked;
#  2. the password appears in no node's server log (the helper's log lines
#     and die messages go there), in no row of raft_status, raft_cluster or
#     raft_peers read by a non-superuser, in no HTTP /cluster or /metrics
#     answer, and not in the helper's status file.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftFaults;
use RaftFailover;
use RaftHttp;
use Test::More;

my $password = 'Wh1sper_049_qz';
my @nodes = map { PostgreSQL::Test::Cluster->new("node$_") } 1 .. 3;
$nodes[$_]->{raft_id} = $_ + 1 for 0 .. $#nodes;
$_->{http_port} = PostgreSQL::Test::Cluster::get_free_port() for @nodes;
my ($node1, $node2, $node3) = @nodes;
my $peers = join ';',
  map { "$_->{raft_id}:" . RaftTest::conninfo($_) . " user=raft password=$password" } @nodes;
my $conf = RaftFailover::node_conf($peers, auto_rejoin => 'on');

$node1->init(allows_streaming => 1);
# The roles first, before raft_ext fences this node (and before
# log_statement = ddl, which would log the password itself): raft_ext
# loaded, Raft not configured yet.
$node1->append_conf('postgresql.conf',
	"shared_preload_libraries = 'raft_ext'\nraft_ext.fencing = off\nlog_statement = none\n");
$node1->start;
$node1->safe_psql('postgres',
	"CREATE ROLE raft LOGIN PASSWORD '$password';\n"
	  . "CREATE ROLE watcher LOGIN;\n"
	  . "CREATE EXTENSION raft_ext;\n"
	  . "GRANT USAGE ON SCHEMA raft_ext TO raft;\n"
	  . "GRANT EXECUTE ON FUNCTION raft_ext.receive(bytea) TO raft;\n");
$node1->stop;
$node1->append_conf('postgresql.conf',
	$conf . "raft_ext.fencing = on\n" . "raft_ext.node_id = 1\n"
	  . "raft_ext.http_port = $node1->{http_port}\n"
	  . "raft_ext.http_listen_addresses = '127.0.0.1'\n");
# The role "raft" authenticates with its password, everyone else as before.
my $hba = slurp_file($node1->data_dir . '/pg_hba.conf');
open my $fh, '>', $node1->data_dir . '/pg_hba.conf' or die $!;
print $fh "local all raft scram-sha-256\nhost all raft 127.0.0.1/32 scram-sha-256\n$hba";
close $fh;
$node1->start;
$node1->backup('base');
for my $standby ($node2, $node3)
{
	my $id = $standby->{raft_id};
	$standby->init_from_backup($node1, 'base', has_streaming => 1);
	$standby->append_conf('postgresql.conf',
		    "raft_ext.node_id = $id\n"
		  . "raft_ext.http_port = $standby->{http_port}\n"
		  . "primary_conninfo = '"
		  . $node1->connstr
		  . " application_name=node$id'\n");
	$standby->start;
}
$node1->wait_for_catchup($_) for ($node2, $node3);
RaftFailover::create_table(\@nodes);
my $faults = RaftFaults->new(\@nodes);

my ($primary, $term) = RaftFailover::wait_primary(\@nodes);
is($primary->name, 'node1', 'node1 is the primary, Raft runs as "raft" with a password');

# The old primary is killed, another member takes over, the old one comes
# back and its rejoin fails: "raft" may not run CHECKPOINT on the source.
$faults->kill9($node1);
my ($new) = RaftFailover::wait_primary([ $node2, $node3 ], min_term => $term + 1);
ok(defined $new, 'a standby took over');
$faults->restart($node1);
ok( RaftFailover::poll_true($node1,
		"SELECT rejoin_state = 'failed' AND rejoin_error LIKE '%source:%' FROM raft_ext.raft_status", 120),
	'the rejoin failed with a message naming the source');
$node1->_update_pid(1);

# 1. The source is named, its password masked.
my $error = $node1->safe_psql('postgres', 'SELECT rejoin_error FROM raft_ext.raft_status');
like($error, qr/password=\*{8}/, "rejoin_error masks the password: $error");

# 2. Nowhere the password.
my %seen;
for my $node (@nodes)
{
	my $name = $node->name;
	$seen{"$name server log"} = slurp_file($node->logfile);
	for my $view (qw(raft_status raft_cluster raft_peers))
	{
		$seen{"$name $view"} = $node->safe_psql('postgres',
			"SELECT * FROM raft_ext.$view", extra_params => [ '-U', 'watcher' ]);
	}
	for my $path ('/cluster', '/metrics')
	{
		my ($status, $body) = RaftHttp::get($node->{http_port}, $path);
		is($status, 200, "$name: GET $path answers");
		$seen{"$name HTTP $path"} = $body;
	}
	my $status_file = $node->data_dir . '/raft_ext_rejoin.status';
	$seen{"$name helper status file"} = slurp_file($status_file) if -f $status_file;
}
like($seen{'node1 raft_cluster'}, qr/\*{8}/, 'raft_cluster shows the addresses masked');
like($seen{'node1 server log'}, qr/CHECKPOINT on the source failed/,
	"the helper's failure is in node1's server log");
for my $where (sort keys %seen)
{
	unlike($seen{$where}, qr/\Q$password\E/, "no password in $where");
}

$_->stop('immediate') for grep { defined $_->{_pid} } @nodes;
done_testing();
