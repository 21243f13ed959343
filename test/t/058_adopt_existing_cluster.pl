# Copyright: the raft_ext authors.

# Adding raft_ext to an existing primary with standbys, without a new clone
# (the recipe in docs/operations.md):
#  1. a plain PostgreSQL primary (initdb, peer and SCRAM authentication)
#     with rows, and two streaming standbys made with pg_basebackup -R;
#  2. the primary is stopped and adopted by raftctl init: it restarts as
#     the first member and leads; the standbys keep streaming from it;
#  3. refusals of join --adopt, each changing nothing: a directory that is
#     not a standby's, a running standby, a standby of another database
#     system;
#  4. each standby is stopped and adopted by raftctl join --adopt: no
#     pg_basebackup (a file only that standby had survives), it restarts as
#     a member, streams from the leader and becomes a voter; the rows are
#     there;
#  5. kill -9 of the primary: a standby is elected and promoted and takes
#     writes; the old primary, restarted, rejoins by itself.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use RaftCtlNodes;
use Test::More;

my $n = RaftCtlNodes->new(3);
my $base = $n->base;
my $wait_for = \&RaftCtlNodes::wait_for;
my $sock = '/var/run/postgresql';

sub run_ok
{
	my ($what, @cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	ok($ok, $what) or diag("@cmd\n$out$err");
	return $ok;
}

sub pg_ctl_start
{
	my ($id, @opts) = @_;
	return run_ok("node $id starts", 'pg_ctl', '-D', $n->dir($id), '-l', "$base/node$id.log",
		@opts, '-w', 'start');
}

sub pg_ctl_stop
{
	my ($id) = @_;
	return run_ok("node $id stops", 'pg_ctl', '-D', $n->dir($id), '-m', 'fast', '-w', 'stop');
}

# 1. a plain primary with rows, two standbys
run_ok('initdb of the plain primary', 'initdb', '-D', $n->dir(1), '--auth-local=peer',
	'--auth-host=scram-sha-256');
pg_ctl_start(1, '-o', '-p ' . $n->port(1));
is(($n->sql(1, 'CREATE TABLE t (i int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)'))[0],
	0, 'the plain primary has rows');
for my $id (2, 3)
{
	run_ok("pg_basebackup -R makes standby $id", 'pg_basebackup', '-D', $n->dir($id), '-R',
		'-X', 'stream', '-c', 'fast', '-d',
		"host=$sock port=" . $n->port(1) . " application_name=standby$id");
	PostgreSQL::Test::Utils::append_to_file($n->dir($id) . '/only_this_standby', "$id\n");
	pg_ctl_start($id, '-o', '-p ' . $n->port($id));
}
ok($wait_for->(sub { $n->streams(2) && $n->streams(3) }, 60), 'both standbys stream');

# 2. the primary is adopted by raftctl init
pg_ctl_stop(1);
my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--cluster-name', 'adopted');
is($rc, 0, 'raftctl init adopts the stopped primary') or diag("$out$err");
like($out, qr/adopting the existing data directory/, '... saying so');
is($n->primary, 1, 'node 1 leads as the primary');
is($n->value(1, 'SELECT count(*) FROM t'), '1000', 'with its rows');
ok($wait_for->(sub { $n->streams(2) && $n->streams(3) }, 60),
	'the standbys stream from it again after its restart');

# 3. refusals of join --adopt
my $pwfile = $n->dir(1) . '.raft_ext/pgpass';
my @common = ('--password-file', $pwfile, '--from', $n->local_conninfo(1));
sub refused
{
	my ($label, $pattern, $dir, @extra) = @_;
	my ($rc, $out, $err) = $n->raftctl('join', '--adopt', '-D', $dir, '--node-id', '9',
		'--address', '127.0.0.1:' . PostgreSQL::Test::Cluster::get_free_port(), @common, @extra);
	isnt($rc, 0, "$label: join --adopt refuses");
	like($err, $pattern, "$label: ... saying why") or diag("$out$err");
	ok(!-e "$dir.raft_ext", "$label: ... writing nothing beside it");
	is($n->members_on(1), '1', "$label: ... and adding no member");
}
mkdir "$base/empty";
refused('not a standby', qr/--adopt takes the data directory of a standby/, "$base/empty");
refused('a running standby', qr/a server runs in .*stop it first/, $n->dir(2));
run_ok('initdb of another database system', 'initdb', '-D', "$base/other", '--auth-local=peer');
PostgreSQL::Test::Utils::append_to_file("$base/other/standby.signal", '');
refused('another database system', qr/belongs to another database system than the leader's/,
	"$base/other");

# 4. each standby is adopted by raftctl join --adopt
for my $id (2, 3)
{
	pg_ctl_stop($id);
	($rc, $out, $err) = $n->raftctl('join', '--adopt', '-D', $n->dir($id), '--node-id', $id,
		'--address', '127.0.0.1:' . $n->port($id), @common);
	is($rc, 0, "raftctl join --adopt makes standby $id member $id") or diag("$out$err");
	like($out, qr/adopting the standby in .*: no new clone/, "... saying so");
	unlike($out, qr/pg_basebackup/, '... without pg_basebackup');
	ok(-f $n->dir($id) . '/only_this_standby', '... keeping the standby\'s own files');
	ok($wait_for->(sub { $n->streams($id) }, 60), "node $id streams");
}
is($n->members_on(1), '1,2,3', 'the leader has three members');
is($n->value(1, q{SELECT count(*) FROM raft_ext.raft_peers WHERE voter AND NOT staged}), '3',
	'all three are voters');
is(($n->sql(1, 'INSERT INTO t VALUES (1001)'))[0], 0, 'a write on the primary');
ok($wait_for->(sub { $n->value(2, 'SELECT count(*) FROM t') eq '1001'
	  && $n->value(3, 'SELECT count(*) FROM t') eq '1001' }, 60),
	'both adopted standbys have every row');

# 5. failover and rejoin
my ($pid) = split /\n/, slurp_file($n->dir(1) . '/postmaster.pid');
kill 'KILL', $pid;
my $new;
ok($wait_for->(sub { $new = $n->primary; defined $new && $new != 1 }, 60),
	'a standby is elected and promoted after the kill of the primary')
  or BAIL_OUT('no failover');
is(($n->sql($new, 'INSERT INTO t VALUES (1002)'))[0], 0, "node $new takes writes");
$wait_for->(sub { !kill(0, $pid) }, 30);
pg_ctl_start(1);
ok($wait_for->(sub { $n->streams(1) && $n->value(1, 'SELECT count(*) FROM t') eq '1002' }, 120),
	'the old primary rejoins by itself and has every row');
done_testing();
