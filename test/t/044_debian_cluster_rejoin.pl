# Copyright: the raft_ext authors.

# raft_ext.auto_rejoin on clusters laid out and run the Debian way
# (postgresql-common, without systemd): configuration in
# $PG_CLUSTER_CONF_ROOT/<version>/<name>/ (the test's own stand-in for
# /etc/postgresql), data directory elsewhere, servers started by
# pg_ctlcluster, which passes -c config_file=... (recorded in
# postmaster.opts).  The built-in rejoin helper must find that
# configuration again.
#
#  1. node1 is made by pg_createcluster (initdb), node2 and node3 by
#     pg_createcluster and then pg_basebackup -R into their data
#     directories (the usual Debian recipe for a standby); raft_ext's
#     settings go to each cluster's conf.d/, a marker setting to its
#     postgresql.conf; every server is started with pg_ctlcluster.  A
#     client commits numbered rows throughout.
#  2. kill -9 of the primary's postmaster; a standby promotes; the killed
#     node is started again with pg_ctlcluster and rejoins by itself as a
#     standby of the new primary (raft_ext_rejoin[...] lines in its log),
#     with the configuration of its conf directory (config_file, the
#     marker, its application_name node1 in the new primary's
#     pg_stat_replication, its external_pid_file), and pg_lsclusters and
#     pg_ctlcluster status see it online.
#  3. a planned switchover (raft_ext.transfer_leadership) back to node1:
#     the old primary demotes and rejoins without pg_rewind, still with its
#     Debian configuration.
#  4. kill -9 of the primary again, and the former primary rejoined by
#     hand while it is down (raft_ext_rejoin, as rejoin-standby.sh runs
#     it): crash recovery in single-user mode must find the configuration
#     outside the data directory too.
# At the end no acknowledged write is missing on any node, and the checker
# saw no breach.  Everything lives in the test's temporary directories;
# the cluster names are t044_*, never a system cluster's.  Skipped without
# postgresql-common.

use strict;
use warnings;

use File::Path qw(rmtree);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftDebian;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftFailover;
use Test::More;
use Time::HiRes qw(time usleep);

my $WHOLE_WITHIN = 60;

{
	my $why = RaftDebian::unavailable();
	plan skip_all => $why if $why;
}

# The installation the TAP framework uses (pg_config on PATH): its pg_ctl,
# so its postgres and its raft_ext; the conf root, the stand-in for
# /etc/postgresql inside tmp_check (RaftDebian).
my $bindir = RaftDebian::bindir();
my $version = RaftDebian::version();
my $deb = RaftDebian->new;

my @nodes;
my $writer;

# Stop the writer, every server this test started and every rejoin helper
# working on one of its data directories (by PID), then remove the conf
# root; runs on success and failure (before the framework's own END, which
# then has nothing left to stop).
sub cleanup
{
	RaftFailover::stop_writer($writer) if $writer;
	for my $pass (1 .. 2)
	{
		for my $node (@nodes)
		{
			my $data = $node->data_dir;
			kill 'TERM', helper_pids($data);
			if (system("pg_ctl -D '$data' status >/dev/null 2>&1") == 0)
			{
				system('pg_ctl', '-D', $data, '-m', 'immediate', '-w', 'stop');
				my $pid = postmaster_pid($node);
				if (defined $pid && kill(0, $pid) && cmdline($pid) =~ /postgres/)
				{
					kill 'KILL', $pid;
				}
			}
			$node->{_pid} = undef;
		}
		usleep(200_000) if $pass == 1;
	}
	return;
}

END
{
	my $rc = $?;
	cleanup();
	$? = $rc;
}

sub cmdline
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/cmdline" or return '';
	local $/;
	my $cmd = <$fh> // '';
	close $fh;
	$cmd =~ tr/\0/ /;
	return $cmd;
}

# PIDs of raft_ext_rejoin processes working on $data.
sub helper_pids
{
	my ($data) = @_;
	opendir my $dh, '/proc' or return ();
	my @pids = grep { /^\d+$/ && $_ != $$ } readdir $dh;
	closedir $dh;
	return grep {
		my $cmd = cmdline($_);
		$cmd =~ /raft_ext_rejoin/ && $cmd =~ /\Q$data\E(\s|$)/
	} @pids;
}

sub postmaster_pid
{
	my ($node) = @_;
	open my $fh, '<', $node->data_dir . '/postmaster.pid' or return undef;
	my $pid = <$fh>;
	close $fh;
	chomp $pid if defined $pid;
	return (defined $pid && $pid =~ /^\d+$/) ? $pid : undef;
}

# pg_ctlcluster <version> <name> <action>, with the framework's pg_ctl.
sub ctl
{
	my ($node, $action) = @_;
	my $ok = $deb->ctl($node->{debian}, $action);
	$node->_update_pid(1) if $ok && $action eq 'start';
	return $ok;
}

sub lsclusters_status
{
	my ($node) = @_;
	return $deb->status($node->{debian});
}

# Start a node killed by kill -9 with pg_ctlcluster: wait for the killed
# postmaster to disappear (it can stay a zombie for a moment), and retry
# while its orphaned children still hold its shared memory.
sub start_killed
{
	my ($node) = @_;
	my $pid = delete $node->{raft_killed_pid};
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	usleep(50_000) while defined $pid && kill(0, $pid) && time() < $deadline;
	my $offset = -s $node->logfile;
	until (ctl($node, 'start'))
	{
		# pg_ctlcluster checks the new server with a few connections in a
		# row; the rejoin helper, if it stops the server meanwhile, can make
		# it report a failure although the server started (and is being
		# rejoined).
		if (PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset) =~
			/raft_ext_rejoin\[\d+\]/)
		{
			note('pg_ctlcluster start reported a failure, but the server '
				  . 'started and the rejoin helper took over');
			return 1;
		}
		return 0 if time() >= $deadline;
		usleep(200_000);
	}
	return 1;
}

# The Debian settings the test expects to be in effect on $node.
sub check_debian_conf
{
	my ($node, $label) = @_;
	my $name = $node->{debian};
	my ($config_file, $marker, $pidfile_setting) = RaftTest::row($node,
		"SELECT current_setting('config_file'), current_setting('raft_test.marker'), "
		  . "current_setting('external_pid_file')");
	is($config_file, "$node->{confdir}/postgresql.conf",
		"$label: config_file is $name\'s in the conf root");
	is($marker, "conf of $name", "$label: the marker from $name\'s postgresql.conf is in effect");
	my $expid = PostgreSQL::Test::Utils::slurp_file($pidfile_setting) // '';
	($expid) = split /\n/, $expid;
	is($expid, postmaster_pid($node), "$label: external_pid_file has the running postmaster");
	like(lsclusters_status($node), qr/^online/, "$label: pg_lsclusters shows $name online");
	ok(ctl($node, 'status'), "$label: pg_ctlcluster $version $name status: running");
	ok(!-e $node->data_dir . '/postgresql.conf', "$label: no postgresql.conf in the data directory");
	return;
}

# The new primary's WAL senders are named after the other nodes.
sub check_senders
{
	my ($primary, $label) = @_;
	my $want = join ',', sort map { $_->name } grep { $_ != $primary } @nodes;
	ok( RaftFailover::poll_true($primary,
			"SELECT string_agg(application_name, ',' ORDER BY application_name) = '$want' "
			  . 'FROM pg_stat_replication'),
		"$label: " . $primary->name . " streams to $want (application_name)")
	  or diag(join ' ', RaftTest::row($primary,
		"SELECT string_agg(application_name, ',') FROM pg_stat_replication"));
	return;
}

# 1. The clusters.
@nodes = map { PostgreSQL::Test::Cluster->new("node$_") } 1 .. 3;
for my $i (0 .. $#nodes)
{
	my $node = $nodes[$i];
	$node->{raft_id} = $i + 1;
	$node->{debian} = 't044_' . $node->name;
	$node->{confdir} = $deb->confdir($node->{debian});
}
my $peers = RaftTest::peers_value(@nodes);
my $primary = $nodes[0];

for my $node (@nodes)
{
	my $name = $node->{debian};
	RaftTest::give_up("pg_createcluster $version $name failed")
	  unless $deb->create($name, datadir => $node->data_dir, socketdir => $node->host,
		port => $node->port, logfile => $node->logfile);

	PostgreSQL::Test::Utils::append_to_file("$node->{confdir}/postgresql.conf",
		"\n# only in the conf root: checked after every rejoin\n"
		  . "raft_test.marker = 'conf of $name'\n");
	PostgreSQL::Test::Utils::append_to_file("$node->{confdir}/conf.d/raft_ext.conf",
		    "listen_addresses = ''\n"
		  . RaftFailover::node_conf($peers, auto_rejoin => 'on')
		  . "raft_ext.cluster_name = '$RaftTest::CLUSTER_NAME'\n"
		  . "raft_ext.fencing = on\n"
		  . "raft_ext.node_id = $node->{raft_id}\n");

	if ($node != $primary)
	{
		# The standby's data: a base backup of node1 in place of the
		# fresh initdb, primary_conninfo (with this node's
		# application_name) in postgresql.auto.conf, standby.signal.
		rmtree($node->data_dir);
		my $conninfo = 'host=' . $primary->host . ' port=' . $primary->port
		  . ' application_name=' . $node->name;
		PostgreSQL::Test::Utils::system_or_bail('pg_basebackup', '-D', $node->data_dir,
			'-d', $conninfo, '-R', '-X', 'stream', '--checkpoint', 'fast', '--no-sync');
	}
	ok(ctl($node, 'start'), "pg_ctlcluster $version $name start");
	RaftTest::give_up("$name did not start") unless $node->{_pid};
	like(PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/postmaster.opts'),
		qr/"-c" "config_file=\Q$node->{confdir}\E\/postgresql.conf"/,
		"$name: postmaster.opts names the configuration in the conf root");
	$primary->safe_psql('postgres', 'CREATE EXTENSION raft_ext') if $node == $primary;
}
$primary->wait_for_catchup($_) for @nodes[ 1 .. $#nodes ];

# Synchronous only now (as RaftFailover::create_cluster): no acknowledged
# commit is lost to a kill -9.
my $names = join ', ', map { $_->name } @nodes;
for my $node (@nodes)
{
	PostgreSQL::Test::Utils::append_to_file("$node->{confdir}/conf.d/raft_ext.conf",
		"synchronous_standby_names = 'ANY 1 ($names)'\n");
	ok(ctl($node, 'reload'), "pg_ctlcluster reload $node->{debian}");
}
RaftFailover::create_table(\@nodes);
check_debian_conf($_, 'initially') for @nodes;

my $checker = RaftChecker->start(\@nodes);
my $faults = RaftFaults->new(\@nodes);
my $term;
($primary, $term) = RaftFailover::wait_primary(\@nodes);
ok(defined $primary, 'a primary leads');
$writer = RaftFailover::start_writer(\@nodes, seconds => 300);
ok(defined RaftFailover::wait_acks_on($writer, $primary, 10),
	'writes are acknowledged by the primary');

my %log_offset;
sub mark_logs { %log_offset = map { $_->name => -s $_->logfile } @nodes; return; }
sub log_since
{
	my ($node) = @_;
	return PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset{ $node->name });
}

# 2. kill -9 of the primary; started again with pg_ctlcluster, it rejoins
# by itself.
mark_logs();
my $killed = $primary;
my @standbys = grep { $_ != $killed } @nodes;
my $killed_at = time();
$faults->kill9($killed);
my ($new, $other, $new_term) =
  RaftFailover::expect_failover('044 kill', $killed_at, \@standbys, $term + 1, $writer);
RaftTest::give_up('no failover after kill -9') unless defined $new;

my $started_at = time();
ok(start_killed($killed), "pg_ctlcluster start of the killed $killed->{debian}");
my $took = RaftFailover::wait_whole(\@nodes, $new, $WHOLE_WITHIN);
ok(defined $took,
	"within $WHOLE_WITHIN s every node streams from the new primary " . $new->name)
  or diag(log_since($killed));
RaftFailover::diag_timing('044 pg_ctlcluster start -> whole again',
	defined $took ? time() - $started_at : undef);
RaftTest::give_up('the killed node did not rejoin') unless defined $took;

ok( RaftFailover::poll_true($killed,
		"SELECT rejoin_state = 'done' FROM raft_ext.raft_status"),
	'rejoin_state is done on ' . $killed->name);
my ($error, $recovery) = RaftTest::row($killed,
	'SELECT rejoin_error, in_recovery FROM raft_ext.raft_status');
is($error, '', 'no rejoin_error');
is($recovery, 't', $killed->name . ' is a standby');
my $log = log_since($killed);
like($log, qr/raft_ext_rejoin\[\d+\]: stopping the server/,
	'the rejoin helper stopped the restarted former primary (its log)');
like($log, qr/raft_ext_rejoin\[\d+\]: done/, 'the rejoin helper finished (its log)');
check_debian_conf($killed, 'after the rejoin');
like(lsclusters_status($killed), qr/recovery/, 'pg_lsclusters: in recovery');
check_senders($new, 'after the rejoin');

# 3. A planned switchover back to node1: the old primary demotes and
# rejoins without pg_rewind.
mark_logs();
my $target = $killed;
my $old = $new;
my $tid = $target->{raft_id};
my $asked_at = time();
my $deadline = time() + 30;
while (time() < $deadline)
{
	my ($leader) = RaftTest::agreed_leader(\@nodes);
	last if defined $leader && $leader == $target;
	my ($rc, undef, $err) = RaftFailover::sql($old,
		"SELECT raft_ext.transfer_leadership($tid)", timeout => 5);
	diag("transfer request failed: $err") if $rc != 0;
	usleep(500_000);
}
($new, $new_term) = RaftFailover::wait_primary(\@nodes, min_term => $new_term + 1);
ok(defined $new && $new == $target, $target->name . ' leads and is primary after the switchover');
RaftTest::give_up('the switchover did not happen') unless defined $new && $new == $target;
ok(defined RaftFailover::wait_acks_on($writer, $new, 10, $asked_at),
	'writes resume on ' . $new->name);
$took = RaftFailover::wait_whole(\@nodes, $new, $WHOLE_WITHIN);
ok(defined $took, "switchover: within $WHOLE_WITHIN s every node streams from " . $new->name)
  or diag(log_since($old));
RaftFailover::diag_timing('044 switchover request -> whole again',
	defined $took ? time() - $asked_at : undef);
RaftTest::give_up('the old primary did not rejoin') unless defined $took;
$log = log_since($old);
like($log, qr/raft_ext_rejoin\[\d+\]: demoting after a switchover/,
	$old->name . ' demoted (its log)');
like($log, qr/raft_ext_rejoin\[\d+\]: no rewind needed/,
	$old->name . ' rejoined without pg_rewind');
unlike($log, qr/raft_ext_rejoin\[\d+\]: running pg_rewind/, 'no pg_rewind on ' . $old->name);
check_debian_conf($old, 'after the switchover');
check_senders($new, 'after the switchover');

# 4. kill -9 of the primary; the former primary, down, is rejoined by hand:
# crash recovery in single-user mode, then pg_rewind if needed, then a start
# with the options pg_ctlcluster gave it.
mark_logs();
$killed = $new;
@standbys = grep { $_ != $killed } @nodes;
$killed_at = time();
$faults->kill9($killed);
($new, $other, $new_term) =
  RaftFailover::expect_failover('044 kill 2', $killed_at, \@standbys, $new_term + 1, $writer);
RaftTest::give_up('no failover after the second kill -9') unless defined $new;
my $pid = delete $killed->{raft_killed_pid};
$deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
usleep(50_000) while defined $pid && kill(0, $pid) && time() < $deadline;
my ($ok, $out, $err) = (0, '', '');
# Orphaned children of the killed postmaster may hold its shared memory for
# a moment (single-user mode then refuses to start): the helper is run
# again, as it is made to be.
while (!$ok && time() < $deadline)
{
	($out, $err) = ('', '');
	$ok = IPC::Run::run(
		[
			"$bindir/raft_ext_rejoin", '-D', $killed->data_dir,
			'--source', RaftTest::conninfo($new),
			'--log', $killed->logfile
		],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(2 * $PostgreSQL::Test::Utils::timeout_default));
	note("raft_ext_rejoin by hand: $out$err");
	usleep(500_000) unless $ok;
}
ok($ok, 'raft_ext_rejoin by hand on the killed ' . $killed->{debian}) or diag("$out$err");
like($out, qr/running crash recovery in single-user mode/,
	'crash recovery in single-user mode ran');
$killed->_update_pid(1);
$took = RaftFailover::wait_whole(\@nodes, $new, $WHOLE_WITHIN);
ok(defined $took, "within $WHOLE_WITHIN s every node streams from " . $new->name)
  or diag(log_since($killed));
check_debian_conf($killed, 'after the rejoin by hand');
check_senders($new, 'after the rejoin by hand');

RaftFailover::stop_writer($writer);
RaftFailover::check_final_rows($writer, @nodes);
my $all = join '', map { PostgreSQL::Test::Utils::slurp_file($_->logfile) } @nodes;
my @rewinds = $all =~ /raft_ext_rejoin\[\d+\]: running pg_rewind/g;
my @skipped = $all =~ /raft_ext_rejoin\[\d+\]: no rewind needed/g;
note(scalar(@rewinds) . ' rejoin(s) ran pg_rewind, ' . scalar(@skipped) . ' needed none');
$checker->stop_and_check;

for my $node (@nodes)
{
	ok(ctl($node, 'stop'), "pg_ctlcluster $version $node->{debian} stop");
	like(lsclusters_status($node), qr/^down/, "pg_lsclusters shows $node->{debian} down");
	$node->{_pid} = undef;
}
done_testing();
