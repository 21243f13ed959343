
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftWriter - the partition suite's clients: processes in the client
namespace that commit one row at a time and record every attempt.

=head1 SYNOPSIS

  use RaftWriter;

  my $w = RaftWriter->start($cluster);   # one writer per node + a multi-host one
  ...
  $w->stop;
  my @attempts = $w->attempts;           # every attempt, in file order

=head1 DESCRIPTION

start() launches, in the cluster's client namespace (which no partition
cuts), one writer pinned to each node ("pin<id>", that node's address) and
one writer with every node's address and target_session_attrs=read-write
("multi": libpq itself looks for the node that accepts writes).  Each is a
separate process running RaftWriter::main with DBD::Pg.

Each attempt inserts one row into nx_rows with a unique id, tagged by the
server with the node that wrote it (raft_ext.node_id), the timeline
(substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8)) and the fencing
token (the term while the node holds the lease), and is recorded as one
JSON line:

  { w, id, start, end (epoch ms), outcome, host, node, tli, term,
    sqlstate, error }

outcome is "ok" (the server acknowledged the commit), "error" (the server
refused: sqlstate says why), "timeout" (no answer within
$RaftWriter::ATTEMPT_TIMEOUT s: the connection is dropped, the outcome is
unknown) or "connect" (no connection could be made; no row was sent).
After anything but "ok" the writer drops its connection and connects again
(a session opened on a fenced node stays read-only).  No query is ever
cancelled: a cancelled wait for synchronous replication reports success
with a warning, which would count a commit that no standby has.

=cut

package RaftWriter;

use strict;
use warnings;

use File::Basename qw(dirname);
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time usleep);

our $ATTEMPT_TIMEOUT = 3;
our $PAUSE_MS = 10;

our $INSERT = q{INSERT INTO nx_rows (id, writer, node, tli, term)
  VALUES ($1, $2, current_setting('raft_ext.node_id')::int,
    substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8),
    raft_ext.fencing_token())
  RETURNING node, tli, term};

=pod

=head1 METHODS

=over

=item RaftWriter->start($cluster, %opts)

Start the writers (seconds => N: each stops by itself after N seconds,
default 600).  Their files go to the cluster's output directory.

=cut

sub start
{
	my ($class, $cluster, %opts) = @_;
	my @nodes = $cluster->nodes;
	my %conninfo = map { ('pin' . $_->{raft_id} => $_->tcp_conninfo) } @nodes;
	$conninfo{multi} =
	    'host=' . join(',', map { $_->{addr} } @nodes)
	  . " port=$RaftNetns::PORT dbname=postgres user=postgres"
	  . ' target_session_attrs=read-write';
	my $self = bless {
		procs => {},
		files => {},
		node_of => { map { ($_->{addr} => $_->{raft_id}) } @nodes },
	}, $class;
	my $tag = "$cluster->{test}_$cluster->{prefix}_" . int(time() * 1000);
	my $lib = dirname(__FILE__);

	for my $name (sort keys %conninfo)
	{
		my $file = "$cluster->{outdir}/${tag}_$name.jsonl";
		unlink $file;
		my @cmd = $cluster->in_client($^X, "-I$lib", '-MRaftWriter', '-e',
			'RaftWriter::main(@ARGV)', $name, "$conninfo{$name} connect_timeout=2",
			$file, $opts{seconds} // 600);
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(STDIN, '<', '/dev/null');
			exec(@cmd) or POSIX::_exit(127);
		}
		$self->{procs}{$name} = $pid;
		$self->{files}{$name} = $file;
	}
	return $self;
}

=pod

=item $w->stop

Stop every writer (SIGTERM: each finishes its attempt; SIGKILL after 10 s)
and wait for them.  Idempotent.

=cut

sub stop
{
	my ($self) = @_;
	my @pids = values %{ $self->{procs} };
	kill 'TERM', @pids if @pids;
	my $deadline = time() + $ATTEMPT_TIMEOUT + 10;
	for my $pid (@pids)
	{
		while (waitpid($pid, POSIX::WNOHANG()) == 0)
		{
			if (time() > $deadline)
			{
				kill 'KILL', $pid;
				waitpid($pid, 0);
				last;
			}
			usleep(20_000);
		}
	}
	$self->{procs} = {};
	return;
}

sub DESTROY
{
	my ($self) = @_;
	kill 'KILL', values %{ $self->{procs} // {} };
	return;
}

=pod

=item $w->attempts

Every attempt recorded so far by every writer (hash references as above;
node is the one that served it: for an acknowledged attempt as the server
said, otherwise the node whose address the connection went to).

=cut

sub attempts
{
	my ($self) = @_;
	my @all;
	my $json = JSON::PP->new;
	for my $name (sort keys %{ $self->{files} })
	{
		open(my $fh, '<', $self->{files}{$name}) or next;
		while (my $line = <$fh>)
		{
			# A line cut short by a SIGKILL is not an attempt.
			my $a = eval { $json->decode($line) } or next;
			# A refused or unanswered attempt was served by the node its
			# connection went to.
			$a->{node} //= $self->{node_of}{ $a->{host} // '' };
			push @all, $a;
		}
		close $fh;
	}
	return @all;
}

=pod

=item $w->acked_since($t, [$node_id])

Acknowledged attempts that ended after $t (epoch seconds), optionally only
those served by node $node_id, in order of acknowledgement.

=cut

sub acked_since
{
	my ($self, $t, $node_id) = @_;
	return sort { $a->{end} <=> $b->{end} }
	  grep {
		$_->{outcome} eq 'ok' && $_->{end} > $t * 1000
		  && (!defined $node_id || $_->{node} == $node_id)
	  } $self->attempts;
}

=pod

=item $w->wait_acked($count, %opts)

Poll until $count attempts were acknowledged after since => t (epoch s,
default now), by node => id if given, or not by not_node => id.  Returns
the first one, or undef on timeout (timeout => s).

=cut

sub wait_acked
{
	my ($self, $count, %opts) = @_;
	my $since = $opts{since} // time();
	my $first;
	RaftFaults::poll_until(
		sub {
			my @a = grep {
				!defined $opts{not_node} || $_->{node} != $opts{not_node}
			} $self->acked_since($since, $opts{node});
			$first = $a[0] if @a >= $count;
			return @a >= $count;
		},
		"$count acknowledged writes",
		$opts{timeout});
	return $first;
}

=pod

=back

=head1 THE WRITER PROCESS

=over

=item RaftWriter::main($name, $conninfo, $file, $seconds)

Commit rows until SIGTERM or $seconds, one JSON line per attempt in $file.

=cut

sub main
{
	my ($name, $conninfo, $file, $seconds) = @_;
	require DBI;
	require DBD::Pg;
	my $stop = 0;
	$SIG{TERM} = $SIG{INT} = sub { $stop = 1; };
	$0 = "raft netns writer $name";
	open(my $out, '>>', $file) or die "open $file: $!";
	$out->autoflush(1);
	my $json = JSON::PP->new->canonical;
	my $deadline = time() + $seconds;
	my ($dbh, $sth, $seq) = (undef, undef, 0);

	my $emit = sub {
		my (%r) = @_;
		print $out $json->encode({ w => $name, %r }) . "\n";
	};
	my $drop = sub {
		eval { $dbh->disconnect if $dbh; };
		($dbh, $sth) = (undef, undef);
	};

	while (!$stop && time() < $deadline)
	{
		if (!$dbh)
		{
			my $t = time();
			$dbh = DBI->connect("dbi:Pg:$conninfo", '', '',
				{ AutoCommit => 1, RaiseError => 0, PrintError => 0,
				  PrintWarn => 0, pg_server_prepare => 0 });
			if (!$dbh)
			{
				$emit->(start => $t * 1000, end => time() * 1000,
					outcome => 'connect', error => _one_line($DBI::errstr));
				usleep(100_000);
				next;
			}
			$sth = $dbh->prepare($INSERT, { pg_async => DBD::Pg::PG_ASYNC() });
		}

		my $id = "$name-" . ++$seq;
		my $start = time();
		my %r = (id => $id, start => $start * 1000, host => $dbh->{pg_host});
		my $sent = eval { $sth->execute($id, $name); 1 };
		my ($ready, $row) = (0, undef);
		while ($sent)
		{
			$ready = $dbh->pg_ready;
			last if $ready || time() - $start > $ATTEMPT_TIMEOUT;
			my $rin = '';
			vec($rin, $dbh->{pg_socket}, 1) = 1;
			select($rin, undef, undef, 0.05);
		}
		if ($sent && $ready > 0)
		{
			my $ok = eval { $sth->pg_result; 1 } && !$dbh->err;
			$row = $ok ? $sth->fetchrow_arrayref : undef;
		}
		$r{end} = time() * 1000;
		if ($row)
		{
			@r{qw(node tli term)} = @$row;
			$emit->(%r, outcome => 'ok');
			usleep($PAUSE_MS * 1000);
			next;
		}
		if ($sent && !$ready)
		{
			$emit->(%r, outcome => 'timeout');
		}
		else
		{
			$emit->(%r, outcome => 'error', sqlstate => $dbh->state,
				error => _one_line($dbh->errstr));
		}
		$drop->();
		usleep(50_000);
	}
	$drop->();
	close $out;
	return;
}

sub _one_line
{
	my ($s) = @_;
	$s //= '';
	$s =~ s/\s+/ /g;
	return $s;
}

=pod

=back

=cut

1;
