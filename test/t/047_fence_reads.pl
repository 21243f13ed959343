# Copyright: the raft_ext authors.

# A session that may write never reads stale data on a primary that lost
# the lease (docs/fencing.md, "Reads").
#
# A primary (node1) and two standbys with auto_promote and auto_follow on,
# auto_rejoin off (node1 stays a fenced primary).  Two long-lived sessions
# on node1: a read-write one, as a pooler keeps it, and a read-only one
# (default_transaction_read_only = on).  Both read kv(1) = 'old'.  node1 is
# paused (SIGSTOP) until a standby leads, is promoted and overwrites kv(1)
# with 'new'; then node1 resumes.  From then on the read-write session
# gets SQLSTATE 25006 on every SELECT, until node1's worker, seeing the
# new leader in a later term, ends it: it never reads 'old' again.  The
# read-only session keeps reading (stale data, as on a standby) and is not
# ended.  A fresh multi-host read-write session reaches the new primary and
# reads 'new'.

use strict;
use warnings;

use DBI;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftFailover;
use RaftTest;
use Test::More;
use Time::HiRes qw(time usleep);

my @nodes = RaftFailover::create_cluster(3);
my ($node1, $node2, $node3) = @nodes;
my $faults = RaftFaults->new(\@nodes);
my ($leader) = RaftFailover::wait_primary(\@nodes);
is($leader->name, 'node1', 'the primary leads');

$node1->safe_psql('postgres',
	"CREATE TABLE kv (k int PRIMARY KEY, v text); INSERT INTO kv VALUES (1, 'old')");
$node1->wait_for_catchup($_) for ($node2, $node3);

# A session on node1 with the given extra conninfo; dies if it cannot.
sub session
{
	my ($extra) = @_;
	my $dbh = DBI->connect(
		'dbi:Pg:' . $node1->connstr('postgres') . ($extra // ''),
		'', '',
		{ AutoCommit => 1, RaiseError => 0, PrintError => 0, PrintWarn => 0 })
	  or die 'cannot connect to node1: ' . DBI->errstr;
	return $dbh;
}

# Read kv(1) in a session: (value, SQLSTATE); value undef on an error.
sub read_kv
{
	my ($dbh) = @_;
	my ($v) = $dbh->selectrow_array('SELECT v FROM kv WHERE k = 1');
	return ($v, $dbh->state);
}

# The read-write session must wait for node1's lease: a session opened on a
# fenced node is read-only by default.
my $rw;
RaftFaults::poll_until(
	sub {
		$rw->disconnect if $rw;
		$rw = session();
		my ($ro_default) =
		  $rw->selectrow_array('SHOW default_transaction_read_only');
		return defined $ro_default && $ro_default eq 'off';
	},
	'a read-write session on node1');
my $ro = session(" options='-c default_transaction_read_only=on'");
is((read_kv($rw))[0], 'old', 'the read-write session reads kv(1)');
is((read_kv($ro))[0], 'old', 'the read-only session reads kv(1)');

# node1 stops; a standby leads, is promoted and overwrites kv(1).
$faults->pause($node1);
my ($new) = RaftFailover::wait_primary([ $node2, $node3 ]);
ok(defined $new, 'a standby leads and is promoted');
ok( RaftFaults::poll_until(
		sub {
			my ($ret) = RaftFailover::sql($new,
				"UPDATE kv SET v = 'new' WHERE k = 1", timeout => 5);
			return $ret == 0;
		},
		'the new primary takes the write'),
	'the new primary overwrites kv(1)');
$faults->resume($node1);

# The read-write session: 25006 until it is ended, never 'old'.
my ($stale, $refused, $ended, $other) = (0, 0, 0, '');
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $deadline)
{
	my ($v, $state) = read_kv($rw);
	if (defined $v)
	{
		$stale++;
	}
	elsif ($state eq '25006')
	{
		$refused++;
	}
	elsif (!$rw->ping)
	{
		$ended = 1;
		last;
	}
	else
	{
		$other .= " $state";
	}
	usleep(50_000);
}
is($stale, 0, 'the read-write session never reads kv(1) on node1 again');
ok($ended, 'node1 ends the read-write session once the new leader is known')
  or diag("refused $refused times, other SQLSTATEs:$other");
is($other, '', 'every read before that is refused with SQLSTATE 25006');
ok( $node1->log_contains(
		qr/terminating connection of process \d+ because node 1 lost the lease to node \d+/),
	'node1 says why it ended the session');

# The read-only session: still reads on node1, stale as on a standby.
my ($v, $state) = read_kv($ro);
is($v, 'old', 'the read-only session keeps reading on node1');
ok($ro->ping, 'the read-only session was not ended');

# A fresh multi-host read-write session lands on the new primary.
my $mh = DBI->connect('dbi:Pg:' . RaftFailover::multi_host_conninfo(\@nodes),
	'', '', { AutoCommit => 1, RaiseError => 0, PrintError => 0 });
ok($mh, 'a multi-host read-write session connects');
my ($port, $mv) = $mh
  ? $mh->selectrow_array(
	"SELECT current_setting('port'), v FROM kv WHERE k = 1")
  : ();
is($port, $new->port, 'it reaches the new primary');
is($mv, 'new', 'and reads the new value');

$_->disconnect for grep { $_ } ($ro, $mh);
$_->stop for @nodes;
done_testing();
