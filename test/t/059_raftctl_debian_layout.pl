# Copyright: the raft_ext authors.

# raftctl init and join in Debian's layout (postgresql-common): each node's
# configuration in its conf directory ($PG_CLUSTER_CONF_ROOT/<version>/<name>,
# the test's stand-in for /etc/postgresql), its data directory elsewhere,
# as pg_createcluster makes them; raftctl is given both (-D and
# --config-dir) and adds its lines to the conf directory's files.
#
#  1. refusals before anything changes: a relative --config-dir, one
#     without postgresql.conf, one whose postgresql.conf names another data
#     directory, a join into the data directory pg_createcluster made;
#  2. node 1: pg_createcluster, then raftctl init --config-dir: it leads;
#     postgresql.conf and pg_hba.conf of its conf directory carry raftctl's
#     lines, the data directory has no configuration file, the server runs
#     with -c config_file=... (postmaster.opts), pg_lsclusters shows it
#     online;
#  3. nodes 2 and 3: pg_createcluster, its data directory removed, then
#     raftctl join --config-dir: voters that stream, online,recovery for
#     pg_lsclusters, the same files checked;
#  4. rows, kill -9 of the primary: a new primary takes writes; the killed
#     node, started again with pg_ctlcluster, rejoins by itself with its
#     conf directory's configuration; every row is on it;
#  6. docs/failover.md's systemd recipe, taken from the page: its unit and
#     rejoin_command with this test's paths, systemctl a stand-in that runs
#     the unit as systemd would (ExecStart, then ExecStopPost, in a session
#     of their own); kill -9 of the primary, restarted by pg_ctlcluster: it
#     rejoins through the unit (the source address in a file of mode 0600),
#     whose ExecStopPost starts the server;
#  7. pg_ctlcluster stops every node.

use strict;
use warnings;

use Cwd;
use File::Path qw(rmtree);
use PostgreSQL::Test::Utils;
use RaftCtlNodes;
use RaftDebian;
use Test::More;

{
	my $why = RaftDebian::unavailable();
	plan skip_all => $why if $why;
}

my $n = RaftCtlNodes->new(3);
my $deb = RaftDebian->new;
my $base = $n->base;
my $wait_for = \&RaftCtlNodes::wait_for;
my $bindir = RaftDebian::bindir();
my $version = RaftDebian::version();
my $sock = "$base/sock";
mkdir $sock or die "mkdir $sock: $!";
my %name = map { $_ => "t059_node$_" } $n->ids;
my %conf = map { $_ => $deb->confdir($name{$_}) } $n->ids;
# step 6: the systemd recipe's unit and rejoin_command, its run directory,
# the stand-in for systemctl and the file of its calls
my ($unit, $command);
my $run = "$base/run";
my $systemctl = "$base/systemctl";
my $calls = "$base/systemctl.calls";

for my $id ($n->ids)
{
	ok( $deb->create($name{$id}, datadir => $n->dir($id), port => $n->port($id),
			socketdir => $sock, logfile => "$base/$name{$id}.log"),
		"pg_createcluster makes $name{$id}");
}

# The files raftctl edits in a conf directory, and what the data directory
# must not have.
sub check_layout
{
	my ($id, $state) = @_;
	like(slurp_file("$conf{$id}/postgresql.conf"),
		qr/^include_if_exists = '\Q@{[ $n->dir($id) ]}\E\.raft_ext\/raft_ext\.conf'$/m,
		"node $id: its conf directory's postgresql.conf includes raft_ext.conf");
	like(slurp_file("$conf{$id}/pg_hba.conf"), qr/^# raft_ext: added by raftctl/m,
		"node $id: its conf directory's pg_hba.conf has raftctl's lines");
	ok(!-e $n->dir($id) . "/$_", "node $id: no $_ in the data directory")
	  for qw(postgresql.conf pg_hba.conf);
	my $config = "$conf{$id}/postgresql.conf";
	like(slurp_file($n->dir($id) . '/postmaster.opts'), qr/"-c" "config_file=\Q$config\E"/,
		"node $id: the server runs with its conf directory's postgresql.conf");
	is($n->value($id, 'SHOW config_file'), $config,
		"node $id: config_file is the conf directory's");
	is($deb->status($name{$id}), $state, "node $id: pg_lsclusters shows it $state");
	return;
}

# The unit and the rejoin_command of docs/failover.md's systemd recipe.
sub recipe_from_docs
{
	my $doc = slurp_file('docs/failover.md');
	my ($u) = $doc =~ m{    # /etc/systemd/system/raft-ext-rejoin\@\.service\n((?:    \S.*\n)+)}
	  or die 'no unit in docs/failover.md';
	my ($c) = $doc =~ m{^    raft_ext\.rejoin_command = '(.*)'$}m
	  or die 'no rejoin_command in docs/failover.md';
	$u =~ s/^    //mg;
	$c =~ s/''/'/g;
	return ($u, $c);
}

# The recipe's text for node $id: this test's paths for Debian's.
sub recipe_for
{
	my ($text, $id) = @_;
	my $inst = "$version-$name{$id}";
	$text =~ s{/usr/lib/postgresql/15/bin}{$bindir}g;
	$text =~ s{/var/lib/postgresql/15/main}{$n->dir($id)}ge;
	$text =~ s{/run/postgresql}{$run}g;
	$text =~ s{15-main}{$inst}g;
	$text =~ s{/bin/systemctl}{$systemctl}g;
	$text =~ s{sudo systemctl}{$systemctl}g;
	return $text;
}

# A postgresql.conf string literal.
sub conf_quote
{
	my ($v) = @_;
	$v =~ s/'/''/g;
	return "'$v'";
}

# The stand-in for systemctl (test/bin/systemctl-standin, see step 6): the
# rejoin unit of each node in its directory, every call recorded in $calls.
sub write_systemctl
{
	my $units = "$base/units";
	mkdir $units or die "mkdir $units: $!";
	# the unit names one cluster's paths: one instance file per node
	# (systemd takes name@instance.service over the template)
	PostgreSQL::Test::Utils::append_to_file(
		"$units/raft-ext-rejoin\@$version-$name{$_}.service", recipe_for($unit, $_))
	  for $n->ids;
	my $standin = Cwd::abs_path('test/bin/systemctl-standin');
	PostgreSQL::Test::Utils::append_to_file($systemctl,
		"#!/bin/sh\nexec '$standin' --calls '$calls' --units '$units' --bindir '$bindir' "
		  . "--log '$base/unit.log' --conf-root '" . $deb->root . "' \"\$@\"\n");
	chmod 0755, $systemctl or die "chmod $systemctl: $!";
	return;
}

# 1. refusals
my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--config-dir', 'etc/main');
is($rc, 64, 'a relative --config-dir is refused (usage)');
like($err, qr/--config-dir must be an absolute path/, '... saying why');
($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--config-dir', $base);
is($rc, 64, 'a --config-dir without postgresql.conf is refused');
like($err, qr/holds no postgresql\.conf/, '... saying why');
my $conf1_before = slurp_file("$conf{1}/postgresql.conf");
($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(2), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--config-dir', $conf{1});
isnt($rc, 0, "a --config-dir that names another data directory is refused");
like($err, qr/names the data directory "\Q@{[ $n->dir(1) ]}\E", not "\Q@{[ $n->dir(2) ]}\E"/,
	'... naming both');
is(slurp_file("$conf{1}/postgresql.conf"), $conf1_before, '... and changes nothing');

# 2. init
($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--config-dir', $conf{1}, '--cluster-name', 'deb');
is($rc, 0, 'raftctl init --config-dir adopts the cluster pg_createcluster made') or diag("$out\n$err");
my $config1 = "$conf{1}/postgresql.conf";
like($out, qr/-o "-c config_file='\Q$config1\E'"/, '... starting it with its configuration');
is($n->primary, 1, 'node 1 leads');
check_layout(1, 'online');

my $pwfile = $n->dir(1) . '.raft_ext/pgpass';
my $from = $n->local_conninfo(1);

# 3. join
($rc, $out, $err) = $n->raftctl('join', '-D', $n->dir(2), '--node-id', '2',
	'--address', '127.0.0.1:' . $n->port(2), '--from', $from, '--password-file', $pwfile,
	'--config-dir', $conf{2});
isnt($rc, 0, "a join into pg_createcluster's data directory is refused");
like($err, qr/remove the data directory that pg_createcluster made/, '... saying what to do');
is($n->members_on(1), '1', '... and adds no member');
for my $id (2, 3)
{
	rmtree($n->dir($id));
	($rc, $out, $err) = $n->raftctl('join', '-D', $n->dir($id), '--node-id', $id,
		'--address', '127.0.0.1:' . $n->port($id), '--from', $from,
		'--password-file', $pwfile, '--config-dir', $conf{$id});
	is($rc, 0, "raftctl join --config-dir makes node $id") or diag("$out\n$err");
	ok($n->streams($id), "node $id streams");
	check_layout($id, 'online,recovery');
}
is($n->members_on(1), '1,2,3', 'three members');

# 4. kill -9 of the primary; the killed node rejoins, started by pg_ctlcluster
$n->sql(1, 'CREATE TABLE w (i int PRIMARY KEY)');
is(($n->sql(1, 'INSERT INTO w SELECT generate_series(1, 1000)'))[0], 0, 'rows on node 1');
my ($pid) = split /\n/, slurp_file($n->dir(1) . '/postmaster.pid');
my @children = split /\s+/, `pgrep -P $pid`;
kill 'KILL', $pid;
my $new;
ok($wait_for->(sub { $new = $n->primary; defined $new && $new != 1 }, 60),
	'a new primary after kill -9 of node 1') or diag('none');
$new //= 2;
ok($wait_for->(sub { ($n->sql($new, 'INSERT INTO w SELECT generate_series(1001, 2000)'))[0] == 0 }, 60),
	"node $new takes writes");
$wait_for->(sub { !grep { -e "/proc/$_" } ($pid, @children) }, 30);
ok($deb->ctl($name{1}, 'start'), 'pg_ctlcluster starts node 1 again')
  or diag(slurp_file("$base/$name{1}.log"));
ok($wait_for->(sub { $n->streams(1) }, 120), 'node 1 rejoins as a standby by itself');
ok($wait_for->(sub { $n->value(1, 'SELECT count(*) FROM w') eq '2000' }, 60),
	'node 1 has every row');
check_layout(1, 'online,recovery');
is($n->value(1, 'SHOW raft_ext.node_id'), '1', 'node 1 keeps its node id');

# 6. The systemd recipe of docs/failover.md, as written there: its unit and
# its rejoin_command, with this test's paths, and a stand-in for systemctl
# that does what systemd would: "start --no-block" of the rejoin unit runs
# ExecStart and then ExecStopPost in a session of their own (the unit's
# own cgroup: nothing of the server's), "start postgresql@V-NAME.service"
# is pg_ctlcluster V NAME start.  The server never runs the helper itself.
($unit, $command) = recipe_from_docs();
mkdir $run or die "mkdir $run: $!";
write_systemctl();
my $old = $n->primary // die 'no primary before step 6';
for my $id ($n->ids)
{
	PostgreSQL::Test::Utils::append_to_file("$conf{$id}/conf.d/rejoin.conf",
		"raft_ext.rejoin_command = " . conf_quote(recipe_for($command, $id)) . "\n");
	$n->sql($id, 'SELECT pg_reload_conf()');
}
is($n->value($old, 'SHOW raft_ext.rejoin_command'), recipe_for($command, $old),
	"node $old runs the documented rejoin_command");
($pid) = split /\n/, slurp_file($n->dir($old) . '/postmaster.pid');
@children = split /\s+/, `pgrep -P $pid`;
kill 'KILL', $pid;
ok($wait_for->(sub { $new = $n->primary; defined $new && $new != $old }, 60),
	"a new primary after kill -9 of node $old") or diag('none');
$new //= $old == 1 ? 2 : 1;
ok($wait_for->(sub { ($n->sql($new, 'INSERT INTO w SELECT generate_series(2001, 3000)'))[0] == 0 }, 60),
	"node $new takes writes");
$wait_for->(sub { !grep { -e "/proc/$_" } ($pid, @children) }, 30);
ok($deb->ctl($name{$old}, 'start'), "pg_ctlcluster starts node $old again (systemd's Restart=)");
ok($wait_for->(sub { $n->streams($old) && -f $calls && slurp_file($calls) =~ /postgresql\@/ }, 180),
	"node $old rejoins through the rejoin unit and streams")
  or diag(-f $calls ? slurp_file($calls) : 'systemctl was never called');
my $instance = "$version-$name{$old}";
# (another node's check of a standby may run its unit meanwhile)
is(join('', grep { /\@\Q$instance\E\.service$/ } split /^/m, slurp_file($calls)),
	"start --no-block raft-ext-rejoin\@$instance.service\nstart postgresql\@$instance.service\n",
	'systemctl started the rejoin unit, whose ExecStopPost started the server');
is((stat "$run/raft-ext-rejoin-$instance.source")[2] & 0777, 0600,
	'the source address went through a file of mode 0600');
like(slurp_file(-f "$base/unit.log" ? "$base/unit.log" : '/dev/null'),
	qr/raft_ext_rejoin\[\d+\]: (running pg_rewind|no rewind needed)/,
	'the unit ran raft_ext_rejoin (pg_rewind or none needed)');
ok($wait_for->(sub { $n->value($old, 'SELECT count(*) FROM w') eq '3000' }, 60),
	"node $old has every row");
check_layout($old, 'online,recovery');

# 7. pg_ctlcluster stops every node
for my $id ($n->ids)
{
	ok($deb->ctl($name{$id}, 'stop'), "pg_ctlcluster stops node $id");
	like($deb->status($name{$id}), qr/^down/, "node $id is down for pg_lsclusters");
}

done_testing();
