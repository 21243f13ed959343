
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftFailover - helpers for the automatic failover TAP tests (030-034): a
primary with streaming standbys that promote and follow by themselves, a
client that commits numbered rows and records which commits were
acknowledged, and failover timings.

=head1 SYNOPSIS

  use RaftFailover;

  my @nodes = RaftFailover::create_cluster(3);     # node1 primary
  my $writer = RaftFailover::start_writer(\@nodes);
  ...
  RaftFailover::stop_writer($writer);
  my @acked = RaftFailover::acknowledged($writer);  # [i, time, port]
  RaftFailover::check_rows($new_primary, $writer);

=cut

package RaftFailover;

use strict;
use warnings;

use FindBin;
use IO::Handle;
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftChecker;
use RaftFaults;
use RaftTest;
use Test::More;
use Time::HiRes qw(time usleep);

# The scripts/ directory of this checkout.
our $SCRIPTS = "$FindBin::RealBin/../../scripts";

# Waits in these tests are for seconds, not minutes: give up sooner than
# the framework's default so that a failure ends the test in time.
$PostgreSQL::Test::Utils::timeout_default = 30
  if $PostgreSQL::Test::Utils::timeout_default > 30;

=pod

=head1 FUNCTIONS

=over

=item create_cluster($n, %opts)

node1, a primary, and node2..node$n, hot standbys streaming from it under
synchronous replication (ANY 1 of all the nodes, named by
application_name, set once the standbys run), wal_log_hints on and
wal_keep_size for pg_rewind, raft_ext.auto_promote
and raft_ext.auto_follow on, raft_ext.auto_rejoin off (these tests rejoin
by hand; auto_rejoin => 'on' turns it on; defaults => 1 sets none of the
three, as the README's configuration does), fault injection on.  Options: timing =>
{ setting => value }; conf => { id => extra postgresql.conf text for that
node }; extra_conf => text for every node.  Waits for a primary to lead,
then creates the table fo_rows on it (create_table).  Returns the nodes,
all started and caught up.

=cut

sub create_cluster
{
	my ($n, %opts) = @_;
	my @nodes = map { PostgreSQL::Test::Cluster->new("node$_") } 1 .. $n;
	$nodes[$_]->{raft_id} = $_ + 1 for 0 .. $#nodes;
	my $peers = RaftTest::peers_value(@nodes);
	my $names = join ', ', map { $_->name } @nodes;
	my $conf = node_conf($peers, %opts);

	my $primary = $nodes[0];
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf',
		$conf . "raft_ext.node_id = 1\n" . ($opts{conf}{1} // ''));
	$primary->start;
	$primary->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
	$primary->backup('base');
	for my $standby (@nodes[ 1 .. $#nodes ])
	{
		my $id = $standby->{raft_id};
		$standby->init_from_backup($primary, 'base', has_streaming => 1);
		# Later lines win over the primary's from the backup.
		$standby->append_conf('postgresql.conf',
			    "raft_ext.node_id = $id\n"
			  . "primary_conninfo = '"
			  . $primary->connstr
			  . " application_name=node$id'\n"
			  . ($opts{conf}{$id} // ''));
		$standby->start;
	}
	$primary->wait_for_catchup($_) for @nodes[ 1 .. $#nodes ];

	# Synchronous only now: with no standby yet, every commit would wait.
	for my $node (@nodes)
	{
		$node->append_conf('postgresql.conf',
			"synchronous_standby_names = 'ANY 1 ($names)'\n");
		$node->reload;
	}

	create_table(\@nodes);
	return @nodes;
}

=pod

=item node_conf($peers, %opts)

The postgresql.conf lines create_cluster gives every node (before
raft_ext.node_id and primary_conninfo): for a test that builds the nodes
itself.  Options auto_rejoin, timing and extra_conf as for create_cluster.

=cut

sub node_conf
{
	my ($peers, %opts) = @_;
	return "shared_preload_libraries = 'raft_ext'\n"
	  . "log_statement = 'ddl'\n"
	  . "hot_standby = on\n"
	  . "wal_log_hints = on\n"
	  . "wal_keep_size = '256MB'\n"
	  . "client_connection_check_interval = '1s'\n"
	  . "wal_receiver_status_interval = 1s\n"
	  . "wal_retrieve_retry_interval = 200ms\n"
	  . "raft_ext.fault_injection = on\n"
	  . ($opts{defaults} ? '' :
		  "raft_ext.auto_promote = on\n"
		  . "raft_ext.auto_follow = on\n"
		  . "raft_ext.auto_rejoin = " . ($opts{auto_rejoin} // 'off') . "\n")
	  . "raft_ext.peers = '$peers'\n"
	  . RaftTest::timing_conf(%{ $opts{timing} // {} })
	  . ($opts{extra_conf} // '');
}

=pod

=item create_table(\@nodes)

Wait for a primary to lead (only a node with the lease may write), create
the table fo_rows on it with row 0, and wait until every other node has
it.  Returns the primary.

=cut

sub create_table
{
	my ($nodes) = @_;
	my ($leader) = wait_primary($nodes);
	die 'no primary leads the new cluster' unless defined $leader;
	$leader->safe_psql('postgres',
		'CREATE TABLE fo_rows (i int PRIMARY KEY, at timestamptz DEFAULT now());'
		  . 'INSERT INTO fo_rows (i) VALUES (0)');
	$leader->wait_for_catchup($_) for grep { $_ != $leader } @$nodes;
	return $leader;
}

=pod

=item sql($node, $query)

Run $query on $node; returns (exit code, stdout, stderr) and never dies
(exit code -1 when it timed out, after timeout => seconds, default 20).

=cut

sub sql
{
	my ($node, $query, %opts) = @_;
	return RaftTest::query($node, $query, %opts);
}

=pod

=item is_primary($node)

Whether the node is up and out of recovery.

=cut

sub is_primary
{
	my ($node) = @_;
	my ($ret, $out) = sql($node, 'SELECT pg_is_in_recovery()', timeout => 5);
	return $ret == 0 && $out eq 'f';
}

=pod

=item multi_host_conninfo(\@nodes)

A conninfo naming every node with target_session_attrs=read-write: libpq
finds the node that accepts writes.

=cut

sub multi_host_conninfo
{
	my ($nodes) = @_;
	return
	    'host='
	  . join(',', map { $_->host } @$nodes)
	  . ' port='
	  . join(',', map { $_->port } @$nodes)
	  . ' dbname=postgres target_session_attrs=read-write connect_timeout=2';
}

=pod

=item start_writer(\@nodes, %opts)

Fork a client that inserts rows 1, 2, 3, ... into fo_rows, one psql per
commit, on whichever node accepts writes, and appends "i time port" to a
file for every commit the server acknowledged.  A commit that fails (or
does not answer within 5 s) is not recorded, the next number is used, and
the next attempt tries the nodes in another order.
Runs until stop_writer or seconds => N (default 120).  With conninfo =>
'...' every commit goes there instead (a load balancer in front of the
nodes, for instance), and \@nodes may be empty.

=cut

sub start_writer
{
	my ($nodes, %opts) = @_;
	my $file = $PostgreSQL::Test::Utils::tmp_check . "/writer_$$" . '_'
	  . int(time() * 1000) . '.acks';
	my @order = @$nodes;
	my $seconds = $opts{seconds} // 120;
	unlink $file, "$file.stop";

	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(my $fh, '>>', $file) or POSIX::_exit(1);
		$fh->autoflush(1);
		my $deadline = time() + $seconds;
		my $i = 0;
		while (time() < $deadline && !-e "$file.stop")
		{
			$i++;
			my $conninfo = $opts{conninfo} // multi_host_conninfo(\@order);
			my $out = `timeout 5 psql -X -At -d '$conninfo' -c "INSERT INTO fo_rows (i) VALUES ($i) RETURNING current_setting('port')" 2>/dev/null`;
			if ($? == 0 && defined $out && $out =~ /^(\d+)/)
			{
				my $port = $1;
				printf $fh "%d %.3f %d\n", $i, time(), $port;
				# Try the node that took the write first next time.
				@order = ((grep { $_->port == $port } @order),
					(grep { $_->port != $port } @order)) if @order;
			}
			else
			{
				# Try another node first next time: a primary that hangs
				# (paused, or waiting for a synchronous standby that left)
				# must not hold the client back.
				push @order, shift @order if @order;
				usleep(20_000);
			}
		}
		close $fh;
		POSIX::_exit(0);
	}
	return { pid => $pid, file => $file };
}

=pod

=item stop_writer($writer)

Stop the client and wait for it.

=cut

sub stop_writer
{
	my ($writer) = @_;
	return unless $writer->{pid};
	if (open(my $fh, '>', "$writer->{file}.stop"))
	{
		close $fh;
	}
	waitpid($writer->{pid}, 0);
	delete $writer->{pid};
	return;
}

=pod

=item acknowledged($writer)

The acknowledged commits so far: a list of [i, time, port].

=cut

sub acknowledged
{
	my ($writer) = @_;
	my @acks;
	open(my $fh, '<', $writer->{file}) or return ();
	while (my $line = <$fh>)
	{
		push @acks, [ split ' ', $line ] if $line =~ /^\d+ [\d.]+ \d+$/;
	}
	close $fh;
	return @acks;
}

=pod

=item wait_acks_on($writer, $node, $count)

Wait until $count commits after now were acknowledged by $node; returns
the time of the first one, or undef on timeout.

=cut

sub wait_acks_on
{
	my ($writer, $node, $count, $since) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	$since //= 0;
	while (time() < $deadline)
	{
		my @mine =
		  grep { $_->[2] == $node->port && $_->[1] >= $since }
		  acknowledged($writer);
		return $mine[0][1] if @mine >= $count;
		usleep(100_000);
	}
	return undef;
}

=pod

=item expect_write_refused($node, $what)

A write on $node must fail with SQLSTATE 25006 (the fence); $what names the
node in the test's description.

=cut

sub expect_write_refused
{
	my ($node, $what) = @_;
	my ($ret, $out, $err) = sql($node,
		"\\set VERBOSITY verbose\nINSERT INTO fo_rows (i) VALUES (-1)",
		timeout => 10);
	like($err, qr/25006/, "a write on $what is refused (SQLSTATE 25006)");
	return;
}

=pod

=item check_final_rows($writer, @nodes)

After stop_writer: every node has replayed the last acknowledged row, and
holds every acknowledged row (check_rows): two tests a node.

=cut

sub check_final_rows
{
	my ($writer, @nodes) = @_;
	my ($max) = map { $_->[0] } (acknowledged($writer))[-1];
	for my $node (@nodes)
	{
		ok( $node->poll_query_until('postgres',
				"SELECT count(*) > 0 FROM fo_rows WHERE i = $max"),
			$node->name . ' has the last acknowledged row');
		check_rows($node, $writer);
	}
	return;
}

=pod

=item check_rows($node, $writer, $name)

Every acknowledged row is in fo_rows on $node: one test.

=cut

sub check_rows
{
	my ($node, $writer, $name) = @_;
	my @acks = acknowledged($writer);
	my ($ret, $out) = sql($node, 'SELECT i FROM fo_rows ORDER BY i');
	my %have = map { $_ => 1 } split /\n/, $out;
	my @missing = grep { !$have{ $_->[0] } } @acks;
	is(scalar(@missing), 0,
		($name // $node->name)
		  . ': all '
		  . scalar(@acks)
		  . ' acknowledged rows present')
	  or diag('missing: ' . join(' ', map { $_->[0] } @missing[ 0 .. ($#missing < 20 ? $#missing : 19) ]));
	return;
}

=pod

=item leader_since_epoch($node)

The node's raft_status.leader_since as seconds since the epoch.

=cut

sub leader_since_epoch
{
	my ($node) = @_;
	my ($ret, $out) = sql($node,
		'SELECT extract(epoch FROM leader_since) FROM raft_ext.raft_status');
	return $ret == 0 ? $out : undef;
}

=pod

=item wait_primary(\@nodes, %opts)

Wait until exactly one of @nodes is the Raft leader, agreed by all, and out
of recovery; returns ($node, $term).  exclude => $node never counts.

=cut

sub wait_primary
{
	my ($nodes, %opts) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		my ($leader, $term) = RaftTest::agreed_leader($nodes);
		return ($leader, $term)
		  if defined $leader
		  && (!defined $opts{min_term} || $term >= $opts{min_term})
		  && is_primary($leader);
		usleep(100_000);
	}
	return ();
}

=pod

=item follows($standby, $primary)

Whether $standby's WAL receiver streams from $primary.

=cut

sub follows
{
	my ($standby, $primary) = @_;
	my ($ret, $out) = sql($standby,
		"SELECT status || ' ' || coalesce(sender_port, 0) FROM pg_stat_wal_receiver");
	return $ret == 0 && $out eq 'streaming ' . $primary->port;
}

=pod

=item wait_follows($standby, $primary)

Poll until follows($standby, $primary); true, or false on timeout.

=cut

sub wait_follows
{
	my ($standby, $primary) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if follows($standby, $primary);
		usleep(100_000);
	}
	return 0;
}

=pod

=item wait_whole(\@nodes, $primary, $seconds)

Poll until every node but $primary is a standby whose WAL receiver streams
from $primary, for at most $seconds; returns the seconds it took, or undef
on timeout.  Then refreshes every node's postmaster pid (the rejoin helper
restarts servers behind the test framework's back).

=cut

sub wait_whole
{
	my ($nodes, $primary, $seconds) = @_;
	my $start = time();
	while (time() < $start + $seconds)
	{
		# A node may be down for a moment (the helper restarts it): psql
		# then fails, and may break IPC::Run's pipe, which dies.
		if (!grep { $_ != $primary && !eval { follows($_, $primary) } }
			@$nodes)
		{
			my $took = time() - $start;
			$_->_update_pid(1) for @$nodes;
			return $took;
		}
		usleep(100_000);
	}
	$_->_update_pid(-1) for @$nodes;
	return undef;
}

=pod

=item wait_settled(\@nodes, $seconds)

Poll until the cluster has settled: one agreed leader that is the primary,
and every other node of @nodes streaming from it.  Leadership may still
move while a rejoin stops a node (with a member down, the leader then has
no majority and the next election may go either way), so the primary is
looked up again on every round.  Returns the primary, or undef after
$seconds (default the framework's timeout).

=cut

sub wait_settled
{
	my ($nodes, $seconds) = @_;
	my $deadline = time() + ($seconds // $PostgreSQL::Test::Utils::timeout_default);
	while (time() < $deadline)
	{
		my ($leader) = RaftTest::agreed_leader($nodes);
		if (defined $leader && eval { is_primary($leader) })
		{
			my $left = $deadline - time();
			my $took = wait_whole($nodes, $leader, $left < 10 ? $left : 10);
			my ($still) = RaftTest::agreed_leader($nodes);
			return $leader
			  if defined $took && defined $still && $still == $leader;
		}
		usleep(200_000);
	}
	$_->_update_pid(-1) for @$nodes;
	return undef;
}

=pod

=item poll_true($node, $query, $seconds)

Poll until $query returns 't' on $node, for at most $seconds (default the
framework's timeout); survives the node being down for a moment (the rejoin
helper stops and starts it), which poll_query_until does not.

=cut

sub poll_true
{
	my ($node, $query, $seconds) = @_;
	my $deadline = time() + ($seconds // $PostgreSQL::Test::Utils::timeout_default);
	while (time() < $deadline)
	{
		my ($ret, $out) = eval { sql($node, $query, timeout => 10) };
		return 1 if defined $ret && $ret == 0 && defined $out && $out eq 't';
		usleep(100_000);
	}
	return 0;
}

=pod

=item rejoin($node, $leader)

Run scripts/rejoin-standby.sh on a stopped or running former primary so
that it becomes a standby of $leader, then start it (as the test framework
knows it).  Returns the script's exit code.

=cut

sub rejoin
{
	my ($node, $leader) = @_;
	$node->stop('fast') if $node->{_pid};
	my ($stdout, $stderr) = ('', '');
	my $ok = IPC::Run::run(
		[
			"$SCRIPTS/rejoin-standby.sh",
			'-D', $node->data_dir,
			'--source', $leader->connstr('postgres'),
			'--application-name', $node->name,
			'--no-start'
		],
		'>', \$stdout, '2>', \$stderr);
	note("rejoin-standby.sh: $stdout$stderr");
	$node->start if $ok;
	return $ok;
}

=pod

=item diag_timing($what, $seconds)

Print a failover timing (diag, so that it shows without -v).

=cut

sub diag_timing
{
	my ($what, $seconds) = @_;
	diag(defined $seconds
		? sprintf('%s: %.3f s', $what, $seconds)
		: "$what: not measured");
	return;
}

=pod

=item expect_failover($label, $fault_at, \@candidates, $min_term, $writer)

After a fault on the primary at $fault_at (epoch seconds): one of
@candidates must become leader and primary in a term >= $min_term, writes
must resume on it, and it must be followed by the other candidate.  Prints
the fault -> new leader and fault -> first acknowledged write timings.
Returns ($new_primary, $other, $new_term).

=cut

sub expect_failover
{
	my ($label, $fault_at, $candidates, $min_term, $writer) = @_;
	my ($new, $new_term) = wait_primary($candidates, min_term => $min_term);
	ok(defined $new, 'a standby becomes leader and primary');
	my ($other) = grep { $_ != $new } @$candidates;
	my $since = leader_since_epoch($new);
	my $first_ack = wait_acks_on($writer, $new, 10, $fault_at);
	ok(defined $first_ack, 'writes resume on ' . $new->name);
	diag_timing("$label -> new leader",
		defined $since ? $since - $fault_at : undef);
	diag_timing("$label -> first write acknowledged by the new primary",
		defined $first_ack ? $first_ack - $fault_at : undef);
	ok(wait_follows($other, $new),
		$other->name . ' follows the new primary ' . $new->name);
	return ($new, $other, $new_term);
}

=pod

=item start_scenario(%opts)

The opening every failover scenario shares: create_cluster(3, %opts), the
invariant checker and a fault injector on the nodes, node1 leading as the
primary, and a writer whose commits node1 acknowledges (both checked as
tests).  Returns a hash reference: nodes (array reference), checker,
faults, term (node1's) and writer.

=cut

sub start_scenario
{
	my (%opts) = @_;
	my @nodes = create_cluster(3, %opts);
	my $checker = RaftChecker->start(\@nodes);
	my $faults = RaftFaults->new(\@nodes);
	my ($leader, $term) = wait_primary(\@nodes);
	is($leader->name, 'node1', 'the primary leads');
	my $writer = start_writer(\@nodes);
	ok(defined wait_acks_on($writer, $nodes[0], 20),
		'writes are acknowledged by the primary');
	return {
		nodes => \@nodes,
		checker => $checker,
		faults => $faults,
		term => $term,
		writer => $writer
	};
}

=pod

=item learns_leader($node, $leader)

Wait until $node's raft_status names $leader as the leader; returns
whether it did in time.

=cut

sub learns_leader
{
	my ($node, $leader) = @_;
	return $node->poll_query_until('postgres',
		'SELECT leader_id = '
		  . RaftTest::raft_id($leader)
		  . ' FROM raft_ext.raft_status');
}

=pod

=item check_and_heal($faults, $writer, $old, $new, $what)

The end of a fault that cut the old primary $old off: stop $writer, every
row it had acknowledged is on $new, a write on $old ($what) is refused;
then heal every cut and check that $old learns that $new leads.

=cut

sub check_and_heal
{
	my ($faults, $writer, $old, $new, $what) = @_;
	stop_writer($writer);
	check_rows($new, $writer);
	expect_write_refused($old, $what);
	$faults->heal;
	ok(learns_leader($old, $new),
		'after the heal the old primary learns who leads');
	return;
}

=pod

=item rejoin_and_catch_up($old, $new, $writer, $new_label)

Rejoin the former primary $old as a standby of $new with
scripts/rejoin-standby.sh, then check that it follows $new (called
$new_label in the test's name, $new->name by default) and holds the last
row $writer had acknowledged (each a test).

=cut

sub rejoin_and_catch_up
{
	my ($old, $new, $writer, $new_label) = @_;
	ok(rejoin($old, $new), 'rejoin-standby.sh succeeds');
	ok(wait_follows($old, $new),
		$old->name . ' follows ' . ($new_label // $new->name));
	my ($max) = map { $_->[0] } (acknowledged($writer))[-1];
	ok( $old->poll_query_until(
			'postgres', "SELECT count(*) > 0 FROM fo_rows WHERE i = $max"),
		$old->name . ' sees the last acknowledged row');
	return;
}

=pod

=item finish_scenario($checker, $started, \@nodes)

The close every failover scenario shares: the checker's verdict, the
runtime since $started (a note), every node stopped.  Returns the
checker's result (RaftChecker's stop).

=cut

sub finish_scenario
{
	my ($checker, $started, $nodes) = @_;
	$checker->stop_and_check;
	note(sprintf('runtime %.1f s', time() - $started));
	$_->stop for @$nodes;
	return $checker->stop;
}

=pod

=back

=cut

1;
