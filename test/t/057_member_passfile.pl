# Copyright: the raft_ext authors.

# Each machine's own password file (raft_ext.passfile), whatever a
# member's address names.
#
# A member's address lives in the Raft log, the same on every member; the
# password file raftctl made for it is a path on that member's machine.
# On machines whose data directories are not at the same path, another
# member that connected with that path would find no file and no password.
# The test makes three members with raftctl init and join, then moves every
# node's password file elsewhere (as if each machine kept it at its own
# place), so that every passfile any address names is gone, and points each
# node's raft_ext.passfile at its new place:
#  1. raftctl wrote raft_ext.passfile into each node's raft_ext.conf;
#  2. after a restart of all three, the Raft transport connects every
#     member to every other, the standbys stream (auto_follow rewrites a
#     primary_conninfo that named the old file), and writes are acknowledged
#     in raft_ext.synchronous = quorum;
#  3. kill -9 of the primary: another node is elected and promoted; the old
#     primary, restarted, rejoins by itself (pg_rewind, whose source
#     conninfo carries this node's password file) and streams.

use strict;
use warnings;

use File::Copy qw(move);
use PostgreSQL::Test::Utils;
use RaftCtlNodes;
use Test::More;

my $n = RaftCtlNodes->new(3);
my $base = $n->base;
my $wait_for = \&RaftCtlNodes::wait_for;

my ($rc, $out, $err) = $n->raftctl('init', '-D', $n->dir(1), '--node-id', '1',
	'--address', '127.0.0.1:' . $n->port(1), '--cluster-name', 'passfiles');
is($rc, 0, 'init makes node 1') or BAIL_OUT("init failed: $out$err");
for my $id (2, 3)
{
	($rc, $out, $err) = $n->raftctl('join', '-D', $n->dir($id), '--node-id', $id,
		'--address', '127.0.0.1:' . $n->port($id),
		'--password-file', $n->dir(1) . '.raft_ext/pgpass',
		'--from', $n->local_conninfo(1));
	is($rc, 0, "join makes node $id") or BAIL_OUT("join failed: $out$err");
}

# 1. each node's raft_ext.conf names its own password file
for my $id ($n->ids)
{
	my $pgpass = $n->dir($id) . '.raft_ext/pgpass';
	like(slurp_file($n->dir($id) . '.raft_ext/raft_ext.conf'),
		qr/^raft_ext\.passfile = '\Q$pgpass\E'$/m,
		"node $id: raft_ext.conf sets raft_ext.passfile to its own password file");
	is($n->value($id, 'SHOW raft_ext.passfile'), $pgpass, "node $id: in effect");
}

# 2. every password file moves; the addresses in the log name the old places
for my $id ($n->ids)
{
	system('pg_ctl', '-D', $n->dir($id), '-m', 'fast', '-w', 'stop') == 0
	  or BAIL_OUT("could not stop node $id");
}
for my $id ($n->ids)
{
	my $old = $n->dir($id) . '.raft_ext/pgpass';
	my $new = "$base/machine$id.pgpass";
	move($old, $new) or die "move $old: $!";
	my $conf = $n->dir($id) . '.raft_ext/raft_ext.conf';
	my $text = slurp_file($conf);
	$text =~ s/^raft_ext\.passfile = .*$/raft_ext.passfile = '$new'/m;
	open(my $fh, '>', $conf) or die "$conf: $!";
	print $fh $text;
	close $fh;
	ok(!-e $old, "node $id: the password file its address names is gone");
}
for my $id ($n->ids)
{
	system('pg_ctl', '-D', $n->dir($id), '-l', $n->dir($id) . '.raft_ext/postgresql.log',
		'-w', 'start') == 0
	  or BAIL_OUT("could not start node $id");
}
# Raft traffic runs between the leader and each follower (followers do not
# talk to each other): the leader hears from both, each follower from it.
my $hears_from = sub {
	my ($id, $peers) = @_;
	return $n->value($id, qq{SELECT count(*) FROM raft_ext.raft_peers
		WHERE peer_id IN ($peers) AND connected AND last_contact < interval '2 s'})
	  eq scalar(split /,/, $peers);
};
my $p;
ok($wait_for->(sub { $p = $n->primary; defined $p }, 60), 'a primary is elected after the restart');
my @others = grep { $_ != $p } $n->ids;
ok( $wait_for->(
		sub {
			$hears_from->($p, join(',', @others))
			  && !grep { !$hears_from->($_, $p) } @others;
		},
		60),
	'the leader and each follower hear from each other (the transport uses raft_ext.passfile)');
my @standbys = grep { $_ != $p } $n->ids;
ok($wait_for->(sub { !grep { !$n->streams($_) } @standbys }, 60),
	'both standbys stream (auto_follow wrote primary_conninfo with raft_ext.passfile)');
for my $id (@standbys)
{
	my $ci = $n->value($id, 'SHOW primary_conninfo');
	like($ci, qr/passfile='\Q$base\E\/machine$id\.pgpass'/, "node $id: primary_conninfo names its own password file");
}
$n->sql($_, 'ALTER SYSTEM SET raft_ext.synchronous = quorum') for $n->ids;
$n->sql($_, 'SELECT pg_reload_conf()') for $n->ids;
ok($wait_for->(sub { $n->value($p, q{SELECT current_setting('synchronous_standby_names') LIKE 'ANY 1 %'}) eq 't' }, 30),
	'quorum mode');
is(($n->sql($p, 'CREATE TABLE pf (i int PRIMARY KEY); INSERT INTO pf VALUES (1)'))[0], 0,
	'a write is acknowledged by a standby in quorum mode');

# 3. kill -9 of the primary, failover, the old primary rejoins
my $pidfile = $n->dir($p) . '/postmaster.pid';
my ($pid) = split /\n/, slurp_file($pidfile);
kill 'KILL', $pid;
my $new;
ok($wait_for->(sub { $new = $n->primary; defined $new && $new != $p }, 60),
	"another node is elected and promoted after the kill of node $p")
  or BAIL_OUT('no failover');
is(($n->sql($new, 'INSERT INTO pf VALUES (2)'))[0], 0, "node $new acknowledges a write");
$wait_for->(sub { !kill(0, $pid) }, 30);
system('pg_ctl', '-D', $n->dir($p), '-l', $n->dir($p) . '.raft_ext/postgresql.log', '-w', 'start');
ok($wait_for->(sub { $n->streams($p) && $n->value($p, 'SELECT count(*) FROM pf') eq '2' }, 120),
	"node $p rejoins by itself and streams from node $new");
like(slurp_file($n->dir($p) . '.raft_ext/postgresql.log'),
	qr/raft_ext_rejoin\[\d+\]: (running pg_rewind|no rewind needed)/,
	"node ${p}'s log says how it rejoined");
done_testing();
