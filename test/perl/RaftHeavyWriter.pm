# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftHeavyWriter - a write load that fills WAL, for the netns tests

=head1 SYNOPSIS

  use RaftNetns;
  use RaftHeavyWriter;    # after RaftNetns: its END stops the writer first

  my $w = RaftHeavyWriter->start($c, rows => 4000, limit => 220);
  ...
  $w->stop;
  note($w->batches . ' batches acknowledged');

=head1 DESCRIPTION

A process in the client namespace of a RaftNetns cluster that runs bulk
INSERTs (each batch ROWS rows of 1 kB into table C<big>, about 4 MB of WAL
per 4,000 rows) against the nodes in turn: it stays on a node while its
batches succeed and moves to the next one when a batch fails (a fenced
node, a standby, a node that does not answer).  A batch runs only on a
primary that holds the lease (checked in the same session), so the load
never waits on a fenced node.  The table is created on the cluster's
primary by start().  The writer stops by itself after LIMIT seconds,
whatever happens, and when the test ends (also when it dies).

Each batch's outcome is a line of the writer's log
(C<tmp_check/log/TEST_heavy_writer.log>): the time, the node's address,
and C<ok> or C<failed: ...>.

=cut

package RaftHeavyWriter;

use strict;
use warnings;

use File::Basename qw(basename);
use POSIX ();
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time usleep);

my @running;

# The writer's loop: one batch at a time, moving to the next host after a
# failure.
my $SCRIPT = <<'BASH';
set -u
psql=$1 sqlfile=$2 limit=$3
shift 3
hosts=("$@")
i=0
end=$(( $(date +%s) + limit ))
while [ "$(date +%s)" -lt "$end" ]; do
    h=${hosts[$i]}
    if out=$(timeout --foreground -k 2 10 "$psql" -XAtq -v ON_ERROR_STOP=1 \
        -d "host=$h port=5432 dbname=postgres user=postgres connect_timeout=2" \
        -f "$sqlfile" 2>&1); then
        echo "$(date +%s.%N) $h ok"
    else
        echo "$(date +%s.%N) $h failed: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-200)"
        i=$(( (i + 1) % ${#hosts[@]} ))
        sleep 0.2
    fi
done
BASH

=pod

=over

=item RaftHeavyWriter->start($cluster, rows => N, limit => SECONDS)

Create table C<big> on the primary (if missing), wait until every standby
has it, and start the writer.  rows defaults to 4000, limit to 220.

=cut

sub start
{
	my ($class, $c, %opts) = @_;
	my $rows = $opts{rows} // 4000;
	my $self = bless {
		c => $c,
		rows => $rows,
		limit => $opts{limit} // 220,
		log => "$PostgreSQL::Test::Utils::log_path/"
		  . basename($0, '.pl') . '_heavy_writer.log',
	}, $class;

	my ($primary) = $c->wait_primary;
	die "no primary to create the heavy writer's table on\n" unless $primary;
	$primary->safe_psql('postgres', 'CREATE TABLE IF NOT EXISTS big (i int, pad text)');
	$c->wait_catchup($primary, $_) for grep { $_ != $primary } $c->nodes;

	my $dir = PostgreSQL::Test::Utils::tempdir('heavy');
	chmod 0755, $dir;
	my $sqlfile = "$dir/batch.sql";
	open(my $fh, '>', $sqlfile) or die "$sqlfile: $!";
	print $fh <<"SQL";
SELECT (NOT pg_is_in_recovery() AND has_lease) AS may_write FROM raft_ext.raft_status \\gset
\\if :may_write
INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(1, $rows) g;
\\else
\\echo 'not a primary with the lease'
SELECT 1/0;
\\endif
SQL
	close $fh;

	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		POSIX::setpgid(0, 0);
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $self->{log}) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT);
		exec($c->in_client('bash', '-c', $SCRIPT, 'heavy_writer',
				"$c->{bindir}/psql", $sqlfile, $self->{limit},
				map { $_->{addr} } $c->nodes))
		  or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	$self->{started} = time();
	push @running, $self;
	return $self;
}

=pod

=item $w->stop

Stop the writer: its whole process group (bash, timeout, psql).  Safe to
call more than once.

=cut

sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid} or return;
	kill 'TERM', -$pid;
	my $deadline = time() + 5;
	while (waitpid($pid, POSIX::WNOHANG()) == 0 && time() < $deadline)
	{
		usleep(50_000);
	}
	kill 'KILL', -$pid;
	waitpid($pid, 0);
	$self->{pid} = undef;
	$self->{stopped} //= time();
	return;
}

=pod

=item $w->batches

The number of batches acknowledged so far.

=item $w->rows, $w->log_file, $w->seconds

Rows per batch; the writer's log file; seconds it ran (until now, or
until stop()).

=back

=cut

sub batches
{
	my ($self) = @_;
	return 0 unless -f $self->{log};
	return scalar grep { / ok$/ } split /\n/, slurp_file($self->{log});
}

sub rows { return $_[0]{rows}; }
sub log_file { return $_[0]{log}; }
sub seconds { return ($_[0]{stopped} // time()) - $_[0]{started}; }

# Before RaftNetns's END (compiled earlier, so run later): the writers go
# first, also when the test dies.
END
{
	my $rc = $?;
	$_->stop for @running;
	$? = $rc;
}

1;
