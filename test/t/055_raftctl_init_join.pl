# Copyright: the raft_ext authors.

# raftctl init and raftctl join make a cluster from empty directories, with
# no other setup: the test creates nothing but the directories' parent, and
# controls the servers with pg_ctl only.
#  1. init makes node 1 (initdb with --data-checksums, raft_ext.conf
#     included once, the roles, a password file of mode 0600, start,
#     CREATE EXTENSION, lead); running it again changes nothing;
#  2. join adds node 2; a join of node 3 killed with kill -9 during
#     pg_basebackup leaves no data directory, and the same command run
#     again completes;
#  3. refusals, each exiting non-zero with its message and leaving nothing
#     behind (no directory, no member): a duplicate id, a duplicate
#     address, a non-empty directory, no leader reachable, a wrong password
#     (of --from, and of the roles), a --socket-dir that is relative or missing;
#  4. a writer inserts rows; kill -9 of the primary: a new primary is
#     elected and the writes resume; the killed node, restarted, rejoins as
#     a standby by itself (auto_rejoin);
#  5. no password in raftctl's output or the servers' logs.

use strict;
use warnings;

use File::Path qw(rmtree);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $base = PostgreSQL::Test::Utils::tempdir();
my @ids = (1, 2, 3);
# nodes 4 and 5 join later (6.)
my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } 1 .. 5;
my %dir = map { $_ => "$base/node$_" } 1 .. 5;
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();
my $spare_port = PostgreSQL::Test::Cluster::get_free_port();
my $raftctl_output = '';

# Stop every server this test started, also when it dies half-way.
END
{
	for my $d (values %dir)
	{
		next unless -f "$d/postmaster.pid";
		system('pg_ctl', '-D', $d, '-m', 'immediate', '-w', '-t', '30', 'stop');
	}
}

# Run raftctl (at most $timeout s); returns (exit code, stdout, stderr).
sub raftctl
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ 'raftctl', @args ], '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(360));
		1;
	};
	$raftctl_output .= $out . $err;
	# a signal (a crash) is no exit code
	return ($ok && !($? & 127) ? $? >> 8 : -1, $out, $err);
}

# The socket directory and port of node $id's running server (postmaster.pid).
sub socket_of
{
	my ($id) = @_;
	my $pidfile = "$dir{$id}/postmaster.pid";
	return undef unless -f $pidfile;
	my @l = split /\n/, slurp_file($pidfile);
	return $l[4];
}

# A local conninfo (Unix socket, peer authentication) for node $id.
sub local_conninfo
{
	my ($id) = @_;
	my $sock = socket_of($id) // '/var/run/postgresql';
	return "host=$sock port=$port{$id} dbname=postgres connect_timeout=3";
}

# psql on node $id: (exit code, output).
sub sql
{
	my ($id, $query) = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ 'psql', '-X', '-q', '-At', '-d', local_conninfo($id), '-c', $query ],
			'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30));
		1;
	};
	chomp $out;
	return ($ok ? $? >> 8 : -1, $out);
}

# The value of $query on node $id, '' if it fails.
sub value
{
	my ($ret, $out) = sql(@_);
	return $ret == 0 ? $out : '';
}

# Poll $cond every 200 ms for at most $timeout seconds.
sub wait_for
{
	my ($cond, $timeout) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(200_000);
	}
	return 0;
}

# The node that leads, holds the lease and is out of recovery, or undef.
sub primary
{
	for my $id (1 .. 5)
	{
		return $id if value($id,
			'SELECT role = \'leader\' AND has_lease AND NOT in_recovery FROM raft_ext.raft_status') eq 't';
	}
	return undef;
}

# The members node $id's raft_peers lists, as "id,id,...".
sub members_on
{
	my ($id) = @_;
	return value($id, 'SELECT string_agg(peer_id::text, \',\' ORDER BY peer_id) FROM raft_ext.raft_peers');
}

# Whether node $id is in recovery and streams.
sub streams
{
	my ($id) = @_;
	return value($id, q{SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')}) eq 't';
}

# 1. init
my ($rc, $out, $err) = raftctl('init', '-D', $dir{1}, '--node-id', '1',
	'--address', "127.0.0.1:$port{1}", '--cluster-name', 'ops', '--data-checksums');
is($rc, 0, 'raftctl init exits 0') or diag("$out\n$err");
like($out, qr/^raftctl: initdb .*^raftctl: starting .*^raftctl: node 1 leads cluster ops$/ms,
	'init says each step: initdb, start, leads');
my $conf = "$dir{1}.raft_ext/raft_ext.conf";
my $passfile = "$dir{1}.raft_ext/pgpass";
ok(-f $conf, 'raft_ext.conf is written beside the data directory');
like(slurp_file($conf), qr/^raft_ext\.node_id = 1$/m, '... with the node id');
is((stat $passfile)[2] & 0777, 0600, 'the password file has mode 0600');
my ($password) = slurp_file($passfile) =~ /^\*:\*:\*:raft_transport:(.*)$/m;
ok(length($password // '') >= 16, 'a password was generated');
is(value(1, 'SELECT role FROM raft_ext.raft_status'), 'leader', 'node 1 leads');
is(value(1, 'SHOW data_checksums'), 'on', '--data-checksums: initdb enabled data checksums');
is(value(1, q{SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'raft\_%'}),
	'raft_replication:false,raft_rewind:false,raft_transport:false',
	'the three roles exist, none a superuser');

($rc, $out, $err) = raftctl('init', '-D', $dir{1}, '--node-id', '1',
	'--address', "127.0.0.1:$port{1}", '--cluster-name', 'ops');
is($rc, 0, 'raftctl init run again exits 0') or diag("$out\n$err");
like($out, qr/continuing/, '... and continues the earlier run');
is(scalar(() = slurp_file("$dir{1}/postgresql.conf") =~ /^include_if_exists/mg), 1,
	'postgresql.conf has one include line');
($rc, $out, $err) = raftctl('init', '-D', $dir{1}, '--node-id', '7',
	'--address', "127.0.0.1:$port{1}");
is($rc, 4, 'init of another node id in that directory is refused with 4');
like($err, qr/belongs to node 1/, '... saying whose it is');

# A copy of node 1's password file, as a DBA would copy it to a new machine.
my $pwcopy = "$base/pgpass.copy";
PostgreSQL::Test::Utils::append_to_file($pwcopy, slurp_file($passfile));
chmod 0600, $pwcopy;
my $from = local_conninfo(1);

# Some data, so that pg_basebackup takes long enough to be killed.
sql(1, 'CREATE TABLE filler AS SELECT g, repeat(\'x\', 200) AS pad FROM generate_series(1, 300000) g');

# 2. join node 2
($rc, $out, $err) = raftctl('join', '-D', $dir{2}, '--node-id', '2',
	'--address', "127.0.0.1:$port{2}", '--from', $from, '--password-file', $pwcopy);
is($rc, 0, 'raftctl join of node 2 exits 0') or diag("$out\n$err");
like($out, qr/pg_basebackup.*^raftctl: node 2 is a voting member/ms, 'it clones and becomes a voter');
ok(!-e "$dir{2}.raftctl-clone", 'no clone directory is left');
like(slurp_file("$dir{2}.raft_ext/raft_ext.conf"), qr/^raft_ext\.node_id = 2$/m,
	'node 2 has its own raft_ext.conf');
is(scalar(glob("$dir{2}/pg_raft.from-node-*")), undef,
	'node 2 started with a fresh Raft state directory, not the leader\'s (nothing moved aside)');

# join node 3, killed with kill -9 during pg_basebackup
my @cmd = ('join', '-D', $dir{3}, '--node-id', '3', '--address',
	"127.0.0.1:$port{3}", '--from', $from, '--password-file', $pwcopy);
my ($kout, $kerr) = ('', '');
my $h = IPC::Run::start([ 'raftctl', @cmd ], '<', \undef, '>', \$kout, '2>', \$kerr, IPC::Run::timeout(120));
my $seen = wait_for(sub { $h->pump_nb; return -d "$dir{3}.raftctl-clone" || !$h->pumpable }, 60);
ok($seen && -d "$dir{3}.raftctl-clone", 'the join of node 3 began cloning');
kill 'KILL', $h->{KIDS}[0]{PID};
eval { $h->finish };
ok(!-e $dir{3}, 'killed mid-clone, it left no data directory');
# pg_basebackup dies with raftctl (PR_SET_PDEATHSIG); the child it forks to
# stream WAL may live on until the same command runs again, which stops it.
($rc, $out, $err) = raftctl(@cmd);
is($rc, 0, 'the same join run again completes') or diag("$out\n$err");
like($out, qr/removing the unfinished clone/, '... after removing the leftover clone');
ok(!-e "$dir{3}.raftctl-clone", '... and leaves no clone directory');
ok(system('pgrep', '-f', "pg_basebackup -D $dir{3}") != 0,
	'... nor a pg_basebackup of the killed run');

($rc, $out, $err) = raftctl(@cmd);
is($rc, 0, 'join of a node that is a member already exits 0') or diag("$out\n$err");
like($out, qr/is a member already/, '... saying so');

is(members_on(1), '1,2,3', 'the leader lists three members');
is(value(1, 'SELECT count(*) FROM raft_ext.raft_peers WHERE voter AND NOT staged'), 3, '... all voters');
ok(wait_for(sub { streams(2) && streams(3) }, 60), 'nodes 2 and 3 stream');

# 3. refusals: each leaves nothing behind
sub refused
{
	my ($label, $pattern, $dir, @args) = @_;
	my ($rc, $out, $err) = raftctl('join', '-D', $dir, @args);
	isnt($rc, 0, "$label: join refuses");
	like($err, $pattern, "$label: ... saying why") or diag("$out\n$err");
	ok(!-e "$dir.raft_ext" && !-e "$dir.raftctl-clone", "$label: ... leaving nothing beside the directory");
	is(members_on(primary() // 1), '1,2,3', "$label: ... and no member added");
}
my @good = ('--from', $from, '--password-file', $pwcopy);
refused('duplicate id', qr/node id 2 is already a member/, "$base/dup_id",
	'--node-id', '2', '--address', "127.0.0.1:$spare_port", @good);
ok(!-e "$base/dup_id", 'duplicate id: no directory');
my $addr2 = quotemeta("127.0.0.1:$port{2}");
refused('duplicate address', qr/address $addr2 is already member 2's/, "$base/dup_addr",
	'--node-id', '4', '--address', "127.0.0.1:$port{2}", @good);
mkdir "$base/full";
PostgreSQL::Test::Utils::append_to_file("$base/full/somefile", "x\n");
refused('non-empty directory', qr/is not empty/, "$base/full",
	'--node-id', '4', '--address', "127.0.0.1:$spare_port", @good);
is(join(',', sort map { s{.*/}{}r } glob("$base/full/*")), 'somefile', 'non-empty directory: left as it was');
refused('no leader reachable', qr/cannot connect to the member given by --from/, "$base/no_leader",
	'--node-id', '4', '--address', "127.0.0.1:$spare_port",
	'--from', "host=127.0.0.1 port=$closed_port dbname=postgres connect_timeout=2",
	'--password-file', $pwcopy);
refused('wrong password of --from', qr/password authentication failed/, "$base/bad_from",
	'--node-id', '4', '--address', "127.0.0.1:$spare_port",
	'--from', "host=127.0.0.1 port=$port{1} dbname=postgres user=raft_transport password=wrong",
	'--password-file', $pwcopy);
refused('relative --socket-dir', qr/--socket-dir must be one absolute directory path/, "$base/rel_sock",
	'--node-id', '4', '--address', "127.0.0.1:$spare_port", @good, '--socket-dir', 'sock');
refused('missing --socket-dir', qr/--socket-dir "\Q$base\E\/nowhere" is not an existing directory/,
	"$base/no_sock", '--node-id', '4', '--address', "127.0.0.1:$spare_port", @good,
	'--socket-dir', "$base/nowhere");
my $badpw = "$base/badpw";
PostgreSQL::Test::Utils::append_to_file($badpw, "not-the-password\n");
refused('wrong roles\' password', qr/refuses the roles' password: .*password authentication failed/,
	"$base/bad_pw", '--node-id', '4', '--address', "127.0.0.1:$spare_port",
	'--from', $from, '--password-file', $badpw);

# 4. a writer, kill -9 of the primary, a new primary, the old one rejoins
my $old = primary();
ok(defined $old, 'a primary before the kill') or die 'no primary';
sql($old, 'CREATE TABLE w (i int PRIMARY KEY)');
my $writer_ci = join(' ',
	'host=' . join(',', map { socket_of($_) } @ids),
	'port=' . join(',', map { $port{$_} } @ids),
	'dbname=postgres target_session_attrs=read-write connect_timeout=2');
my $acks = '';
my $writer = IPC::Run::start(
	[ 'bash', '-c', 'i=0; while :; do i=$((i+1)); psql -X -q -d "$0" -c "INSERT INTO w VALUES ($i)" >/dev/null 2>&1 && echo $i; sleep 0.05; done', $writer_ci ],
	'<', \undef, '>', \$acks, '2>', '/dev/null', IPC::Run::timeout(300));
ok(wait_for(sub { $writer->pump_nb; scalar(() = $acks =~ /\n/g) >= 20 }, 60), 'the writer commits rows');
my ($pid) = split /\n/, slurp_file("$dir{$old}/postmaster.pid");
my @children = split /\s+/, `pgrep -P $pid`;
my $acks_before = scalar(() = $acks =~ /\n/g);
kill 'KILL', $pid;
my $new;
ok(wait_for(sub { $new = primary(); defined $new && $new != $old }, 60),
	"a new primary is elected after kill -9 of node $old") or diag("no new primary");
ok(wait_for(sub { $writer->pump_nb; scalar(() = $acks =~ /\n/g) >= $acks_before + 20 }, 60),
	'writes resume on the new primary');
$writer->kill_kill;
eval { $writer->finish };

# restart the killed node: once its processes are gone, pg_ctl start
wait_for(sub { !grep { -e "/proc/$_" } ($pid, @children) }, 30);
system('pg_ctl', '-D', $dir{$old}, '-l', "$dir{$old}.raft_ext/postgresql.log", '-w', '-t', '60', 'start') == 0
  or diag("pg_ctl start of node $old failed");
ok(wait_for(sub { streams($old) }, 120), "node $old rejoins as a standby by itself");
my $count = value($new, 'SELECT count(*) FROM w');
ok(wait_for(sub { value($old, 'SELECT count(*) FROM w') eq $count }, 60),
	"node $old holds the new primary's rows ($count)");
like(slurp_file("$dir{$old}.raft_ext/raft_ext.conf"), qr/^raft_ext\.node_id = $old$/m,
	"node $old keeps its own raft_ext.conf through the rejoin");
is(value($old, 'SHOW raft_ext.node_id'), $old, "... and its node id");

# 5. no password anywhere it could leak
my $logs = join '', map { slurp_file("$dir{$_}.raft_ext/postgresql.log") } @ids;
ok(index($raftctl_output, $password) < 0, 'raftctl never printed the password');
ok(index($logs, $password) < 0, 'no server log holds the password');

# 6. Grow to five and shrink to three under a writer, in quorum mode; the
# synchronous quorum is right at every step (k = voters - majority, the
# other voters named).  Node 5 joins with --socket-dir.
my $p = primary();
for my $id (1 .. 3)
{
	sql($id, 'ALTER SYSTEM SET raft_ext.synchronous = quorum');
	sql($id, 'SELECT pg_reload_conf()');
}
# synchronous_standby_names on the primary is ANY k of the other voters.
sub quorum_is
{
	my ($k, $voters, $what) = @_;
	my @others = grep { $_ != $p } @$voters;
	my $want = $k == 0 ? '' : "ANY $k (" . join(', ', map { "\"node$_\"" } @others) . ')';
	my $ok = wait_for(sub { value($p, 'SHOW synchronous_standby_names') eq $want }, 60);
	ok($ok, "$what: synchronous_standby_names is '$want'")
	  or diag('it is: ' . value($p, 'SHOW synchronous_standby_names'));
	return;
}
quorum_is(1, [ 1, 2, 3 ], 'three voters');
# An operator's role for the commands that reach every member over TCP
# (docs/operations.md): a superuser with a password, let in by pg_hba.conf
# on every node (joining nodes copy the leader's file).
sql($p, "CREATE ROLE dba LOGIN SUPERUSER PASSWORD 'dba-secret'");
for my $id (1 .. 3)
{
	my $hba = "$dir{$id}/pg_hba.conf";
	my $lines = slurp_file($hba);
	open my $fh, '>', $hba or die "$hba: $!";
	print $fh "host all dba 127.0.0.1/32 scram-sha-256\n" . $lines;
	close $fh;
	sql($id, 'SELECT pg_reload_conf()');
}
$from = "host=127.0.0.1 port=$port{$p} dbname=postgres user=dba password=dba-secret connect_timeout=3";
my $w_ci = join(' ', 'host=' . socket_of($p), "port=$port{$p}", 'dbname=postgres connect_timeout=2');
$acks = '';
$writer = IPC::Run::start(
	[ 'bash', '-c', 'i=100000; while :; do i=$((i+1)); psql -X -q -d "$0" -c "INSERT INTO w VALUES ($i)" >/dev/null 2>&1 && echo $i; sleep 0.02; done', $w_ci ],
	'<', \undef, '>', \$acks, '2>', '/dev/null', IPC::Run::timeout(600));
ok(wait_for(sub { $writer->pump_nb; scalar(() = $acks =~ /\n/g) >= 10 }, 60), 'a writer commits rows on the primary');
# node 5 puts its Unix socket in a directory of its own (--socket-dir)
my $sockdir5 = "$base/sock5";
mkdir $sockdir5;
for my $id (4, 5)
{
	($rc, $out, $err) = raftctl('join', '-D', $dir{$id}, '--node-id', $id,
		'--address', "127.0.0.1:$port{$id}", '--from', $from, '--password-file', $pwcopy,
		$id == 5 ? ('--socket-dir', $sockdir5) : ());
	is($rc, 0, "node $id joins while the primary takes writes") or diag("$out\n$err");
}
is(socket_of(5), $sockdir5, "node 5's server has its socket in --socket-dir");
ok(-S "$sockdir5/.s.PGSQL.$port{5}", '... where the socket file is');
quorum_is(2, [ 1 .. 5 ], 'five voters');
my @gone = grep { $_ != $p } (5, 4, 3, 2, 1);
@gone = @gone[ 0, 1 ];
($rc, $out, $err) = raftctl('-d', $from, 'remove', $gone[0], '--force');
is($rc, 0, "remove of node $gone[0] exits 0") or diag("$out\n$err");
quorum_is(1, [ grep { $_ != $gone[0] } 1 .. 5 ], 'four voters');
($rc, $out, $err) = raftctl('-d', $from, 'remove', $gone[1], '--force');
is($rc, 0, "remove of node $gone[1] exits 0") or diag("$out\n$err");
my @left = grep { $_ != $gone[0] && $_ != $gone[1] } 1 .. 5;
quorum_is(1, \@left, 'three voters again');
is(members_on($p), join(',', @left), 'three members are left: ' . join(',', @left));
my $before = scalar(() = $acks =~ /\n/g);
ok(wait_for(sub { $writer->pump_nb; scalar(() = $acks =~ /\n/g) >= $before + 10 }, 60),
	'the writer still commits');
$writer->kill_kill;
eval { $writer->finish };
system('pg_ctl', '-D', $dir{$_}, '-m', 'fast', '-w', 'stop') for @gone;

# 7. reinit of a member whose data directory was deleted: it leaves the
# cluster and joins again under its id (its Raft state is gone).
my ($x) = grep { $_ != $p } @left;
my ($xpid) = split /\n/, slurp_file("$dir{$x}/postmaster.pid");
my @xchildren = split /\s+/, `pgrep -P $xpid`;
kill 'KILL', $xpid;
wait_for(sub { !grep { -e "/proc/$_" } ($xpid, @xchildren) }, 30);
rmtree($dir{$x});
($rc, $out, $err) = raftctl('reinit', '-D', $dir{$x}, '--from', $from, '--force');
is($rc, 4, 'reinit of a deleted directory without --node-id and --address is refused');
like($err, qr/Raft state .* is gone too/, '... saying why');
is(members_on($p), join(',', @left), '... and changes nothing');
($rc, $out, $err) = raftctl('reinit', '-D', $dir{$x}, '--from', $from, '--force',
	'--node-id', $x, '--address', "127.0.0.1:$port{$x}", '--password-file', $pwcopy);
is($rc, 0, "reinit of node $x, its directory deleted, exits 0") or diag("$out\n$err");
like($out, qr/leaves the cluster and joins again.*node $x is a voting member/s,
	'... removing it and joining it again');
is(members_on($p), join(',', @left), "node $x is a member again");
ok(wait_for(sub { streams($x) }, 60), "node $x streams");
my $rows = value($p, 'SELECT count(*) FROM w');
ok(wait_for(sub { value($x, 'SELECT count(*) FROM w') eq $rows }, 60), "node $x holds every row ($rows)");
$logs = join '', map { -f "$dir{$_}.raft_ext/postgresql.log" ? slurp_file("$dir{$_}.raft_ext/postgresql.log") : '' } 1 .. 5;
ok(index($raftctl_output, $password) < 0 && index($logs, $password) < 0,
	'after the joins, removals and the reinit: no password in raftctl\'s output or any server log');

done_testing();
