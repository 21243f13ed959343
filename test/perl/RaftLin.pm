
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftLin - the linearizability check of the partition suite: builds the
checker and the register clients (test/lincheck/), runs the clients in a
cluster's client namespace, checks their history, and records the verdict
for scripts/test-summary.pl.

=head1 SYNOPSIS

  use RaftLin;

  my $lin = RaftLin->start($cluster, seed => 42);  # the register clients
  $lin->wait_ok(100);                              # they are running
  ...                                              # partitions
  my $r = $lin->conclude(label => 'isolated primary, quorum');
  # $r: { ops, keys, violations, unknown, stale_reads, unwritten_reads,
  #       verdict, output }

  my $r = RaftLin::check($file);                   # lincheck on a file

=head1 DESCRIPTION

The clients (lincheck_client, one process each, started with ip netns exec
in the client namespace) read, write and compare-and-set the registers of
a few keys in the table lin_reg, through a multi-host conninfo with
target_session_attrs=read-write: two long-lived sessions, a session that
keeps its connection across errors the server reports (25006 from the
fence), a reader that keeps its connection until it breaks (a pooler's),
and a client that connects for every operation.  Each records every
operation with its invocation and completion on CLOCK_MONOTONIC, in
lincheck's history format (test/lincheck/lincheck.c).

conclude() stops them, concatenates their files into
tmp_check/netns/<test>.lin.history, runs lincheck on it, prints its
verdict per key and in all, and appends the counts to
tmp_check/lin_counts/<test>.txt.

B<Lost write or stale read.>  Without synchronous replication a cut-off
primary acknowledges commits until its lease runs out, and the new primary
never gets them: a history with such a lost write is not linearizable,
and that is what asynchronous replication means.  A read served by a
deposed primary after the new primary took over is another matter (a
stale read: the fence should prevent it).  without_lost_branch() tells
them apart: every write the final primary's lin_log lacks (acknowledged,
or indeterminate but observed by some read) is removed, with the
operations the same node served on the same key from that write's
invocation until another node first acknowledged anything (the old
primary's lost branch: what it did while it still held the lease).  What
is left must be linearizable: a read of the old primary after the new one
took over is still there, and still caught.

=cut

package RaftLin;

use strict;
use warnings;

use Carp;
use File::Basename qw(basename dirname);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Utils;
use RaftFaults;
use Test::More;
use Time::HiRes qw(time usleep);

# The checker's search budget (steps per key): "unknown" beyond it.
our $BUDGET = 20_000_000;
# Milliseconds each client pauses between operations.
our $PAUSE_MS = 4;
our $KEYS = 3;

# The clients: name, kind (lincheck_client's KIND).
our @CLIENTS = (
	[ 'session1', 'session' ],
	[ 'session2', 'session' ],
	[ 'sticky', 'sticky' ],
	[ 'reader', 'reader' ],
	[ 'short', 'short' ]);

=pod

=head1 FUNCTIONS

=over

=item RaftLin::build(client => 0|1)

Compile lincheck (and, with client => 1, lincheck_client against libpq)
with -Wall -Wextra -Werror into tmp_check/lincheck_bin, unless a binary
there is newer than its sources: the test files of one run share it (a
lock serializes them under prove -j; each binary is renamed into place).
Returns the directory; dies with the compiler's output on failure.

=cut

sub build
{
	my (%opts) = @_;
	my $src = dirname(__FILE__) . '/../lincheck';
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/lincheck_bin";
	make_path($dir);
	open(my $lock, '>', "$dir/.lock") or croak "open $dir/.lock: $!";
	flock($lock, LOCK_EX) or croak "flock $dir/.lock: $!";
	my $cc = $ENV{CC} // 'cc';
	my @flags = ('-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror');
	# name, sources, compiler flags, linker flags
	my @builds = ([ 'lincheck',
		[ map { "$src/$_.c" } qw(lincheck lincheck_history lincheck_search lincheck_report) ],
		[], [] ]);
	if ($opts{client})
	{
		my $pgc = $ENV{PG_CONFIG} // 'pg_config';
		chomp(my $inc = `$pgc --includedir`);
		chomp(my $lib = `$pgc --libdir`);
		push @builds,
		  [ 'lincheck_client', [ "$src/lincheck_client.c" ], [ "-I$inc" ],
			[ "-L$lib", '-lpq', "-Wl,-rpath,$lib" ] ];
	}
	for my $b (@builds)
	{
		my ($name, $sources, $cflags, $ldflags) = @$b;
		my $bin = "$dir/$name";
		next if -x $bin && !grep { -M $_ <= -M $bin } @$sources, "$src/lincheck.h";
		my ($out, $err) = ('', '');
		my $ok = IPC::Run::run(
			[ split(' ', $cc), @flags, @$cflags, '-o', "$bin.$$",
			  @$sources, @$ldflags ],
			'>', \$out, '2>', \$err);
		croak "building $name failed:\n$out$err" unless $ok;
		rename("$bin.$$", $bin) or croak "rename $bin.$$: $!";
	}
	close $lock;
	return $dir;
}

=pod

=item RaftLin::check($file, budget => steps)

Run lincheck on a history file.  Returns { ops, keys, linearizable,
violations, unknown, stale_reads, unwritten_reads, exit, output, verdict }
(unwritten_reads: reads of a value no operation of the history wrote,
such as a lost write read after it was set aside) where verdict is
"linearizable", "violation" or "unknown" (a violation wins over unknown);
dies if the checker could not read the file.

=cut

sub check
{
	my ($file, %opts) = @_;
	my $dir = build();
	my ($out, $err) = ('', '');
	IPC::Run::run([ "$dir/lincheck", '-b', $opts{budget} // $BUDGET, $file ],
		'>', \$out, '2>', \$err);
	my $exit = $? >> 8;
	croak "lincheck $file: $err" if $exit > 2 || $out !~ /^lincheck: (.*)$/m;
	my %r = map { split /=/ } map { s/ /=/r } $1 =~ /(\w+ \d+)/g;
	$r{exit} = $exit;
	$r{output} = $out;
	$r{verdict} =
	    $r{violations} ? 'violation'
	  : $r{unknown} ? 'unknown'
	  : 'linearizable';
	return \%r;
}

=pod

=item RaftLin::parse($file)

The operations of a history file: hashes { client, op, key, arg, arg2,
invoke, complete, outcome, result, node, host, text }, and the clock
line's realtime - monotonic offset (ns) as the second value.

=cut

sub parse
{
	my ($file) = @_;
	my (@ops, $offset);
	open(my $fh, '<', $file) or croak "open $file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		if ($line =~ /^# client .* realtime_ns (\d+) monotonic_ns (\d+)/)
		{
			$offset //= $1 - $2;
			next;
		}
		next if $line =~ /^\s*(#|$)/;
		my @f = split ' ', $line;
		my %extra = map { split /=/, $_, 2 } grep { /=/ } @f[ 9 .. $#f ];
		push @ops, {
			client => $f[0], op => $f[1], key => $f[2], arg => $f[3],
			arg2 => $f[4], invoke => $f[5], complete => $f[6],
			outcome => $f[7], result => $f[8],
			node => $extra{node} // '-', host => $extra{host} // '-',
			text => $line };
	}
	close $fh;
	return (\@ops, $offset);
}

=pod

=item RaftLin::without_lost_branch(\@ops, \%survived, \%node_of_host)

The lost-write explanation (DESCRIPTION): %survived holds "key value" for
every value the final primary's lin_log has; %node_of_host maps a
client's host address to the node (for operations without an answer).
Returns (\@kept, \%counts) with counts lost_acked (acknowledged writes
the final primary lacks), lost_observed (indeterminate ones some read
saw), removed (the operations of the lost branches).

=cut

sub without_lost_branch
{
	my ($ops, $survived, $node_of_host) = @_;
	my $node = sub {
		my ($o) = @_;
		return $o->{node} ne '-' ? $o->{node} : $node_of_host->{ $o->{host} } // '?';
	};
	my $wrote = sub {
		my ($o) = @_;
		return $o->{arg} if $o->{op} eq 'w';
		return $o->{arg2}
		  if $o->{op} eq 'c' && ($o->{outcome} eq 'info' || $o->{result} eq '1');
		return undef;
	};
	my %observed;
	for my $o (grep { $_->{outcome} eq 'ok' } @$ops)
	{
		$observed{"$o->{key} $o->{result}"} = 1 if $o->{op} eq 'r';
		$observed{"$o->{key} $o->{arg}"} = 1 if $o->{op} eq 'c';
	}
	# Acknowledgements by node, in time order: where a lost branch ends.
	my @acks = sort { $a->[0] <=> $b->[0] }
	  map { [ $_->{complete}, $node->($_) ] }
	  grep { $_->{outcome} eq 'ok' } @$ops;

	my (%remove, %windows, %lost_value);
	my %counts = (lost_acked => 0, lost_observed => 0, removed => 0);
	for my $o (@$ops)
	{
		my $v = $wrote->($o);
		next unless defined $v && $o->{outcome} ne 'fail';
		next if $survived->{"$o->{key} $v"};
		next unless $o->{outcome} eq 'ok' || $observed{"$o->{key} $v"};
		$counts{ $o->{outcome} eq 'ok' ? 'lost_acked' : 'lost_observed' }++;
		$remove{$o} = 1;
		my $n = $node->($o);

		# The first acknowledgement by another node after it began.
		my ($lo, $hi) = (0, scalar @acks);
		while ($lo < $hi)
		{
			my $mid = int(($lo + $hi) / 2);
			if ($acks[$mid][0] <= $o->{invoke}) { $lo = $mid + 1; }
			else { $hi = $mid; }
		}
		$lo++ while $lo < @acks && $acks[$lo][1] eq $n;
		my $end = $lo < @acks ? $acks[$lo][0] : 9**20;
		push @{ $windows{"$n $o->{key}"} }, [ $o->{invoke}, $end ];
		$lost_value{"$n $o->{key} $v"} = $end;
	}
	for my $o (@$ops)
	{
		next if $remove{$o};
		# An operation on the lost write's node that saw its value before
		# another node took over: it may have begun before the write did
		# (they overlapped), so the window below does not hold it, yet it
		# belongs to the lost branch.  (After the takeover such a read is a
		# stale read, and stays.)
		my $seen = $o->{op} eq 'r' ? $o->{result} : $o->{op} eq 'c' ? $o->{arg} : undef;
		my $end = defined $seen ? $lost_value{ $node->($o) . " $o->{key} $seen" } : undef;
		if (defined $end && $o->{outcome} eq 'ok' && $o->{invoke} < $end)
		{
			$remove{$o} = 1;
			next;
		}
		my $w = $windows{ $node->($o) . " $o->{key}" } or next;
		$remove{$o} = 1
		  if grep { $o->{invoke} >= $_->[0] && $o->{invoke} < $_->[1] } @$w;
	}
	my @kept = grep { !$remove{$_} } @$ops;
	$counts{removed} = @$ops - @kept;
	return (\@kept, \%counts);
}

=pod

=item RaftLin::write_ops($file, \@ops)

Write operations (as parse returns them) back as a history file.

=cut

sub write_ops
{
	my ($file, $ops) = @_;
	open(my $fh, '>', $file) or croak "open $file: $!";
	print $fh "$_->{text}\n" for @$ops;
	close $fh;
	return;
}

=pod

=item RaftLin::record($test, %counts)

Append "key=value ..." to tmp_check/lin_counts/$test.txt (added up by
scripts/test-summary.pl netns).

=cut

sub record
{
	my ($test, %c) = @_;
	my $dir = "$PostgreSQL::Test::Utils::tmp_check/lin_counts";
	make_path($dir);
	open(my $fh, '>>', "$dir/$test.txt") or croak "open $dir/$test.txt: $!";
	print $fh join(' ', map { "$_=$c{$_}" } sort keys %c) . "\n";
	close $fh;
	return;
}

=pod

=back

=head1 METHODS

=over

=item RaftLin->start($cluster, seed => n)

Create lin_reg and lin_log on the primary, build the programs and start
the clients (@RaftLin::CLIENTS) in the client namespace, each with its own
seed derived from n.

=cut

sub start
{
	my ($class, $c, %opts) = @_;
	my $dir = build(client => 1);
	my ($primary) = $c->wait_primary;
	croak 'no primary to create the registers on' unless $primary;
	$primary->safe_psql('postgres',
		'CREATE TABLE IF NOT EXISTS lin_reg (key text PRIMARY KEY, value bigint NOT NULL); '
		  . 'CREATE TABLE IF NOT EXISTS lin_log (key text NOT NULL, value bigint NOT NULL)');
	my $seed = $opts{seed} // 1;
	my $conninfo =
	    'host=' . join(',', map { $_->{addr} } $c->nodes)
	  . ' port=' . ($c->nodes)[0]->port . ' dbname=postgres user=postgres'
	  . ' target_session_attrs=read-write connect_timeout=2';
	my $self = bless {
		c => $c,
		seed => $seed,
		procs => {},
		files => [],
		node_of_host => { map { ($_->{addr} => $_->{raft_id}) } $c->nodes },
		test => basename($0, '.pl'),
	}, $class;
	my $i = 0;
	for my $cl (@CLIENTS)
	{
		my ($name, $kind) = @$cl;
		$i++;
		my $file = "$c->{outdir}/$self->{test}_$c->{prefix}_lin_$name.txt";
		unlink $file;
		push @{ $self->{files} }, $file;
		my @cmd = $c->in_client("$dir/lincheck_client", $name, $i, $kind,
			$conninfo, $file, $seed * 10 + $i, $KEYS, 600, $PAUSE_MS);
		my $pid = fork();
		croak "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(STDIN, '<', '/dev/null');
			exec(@cmd) or POSIX::_exit(127);
		}
		$self->{procs}{$name} = $pid;
	}
	return $self;
}

=pod

=item $lin->wait_ok($n)

Poll until the clients recorded $n acknowledged operations in all.

=cut

sub wait_ok
{
	my ($self, $n) = @_;
	my $count = 0;
	my $ok = RaftFaults::poll_until(
		sub {
			$count = 0;
			for my $f (@{ $self->{files} })
			{
				open(my $fh, '<', $f) or next;
				$count += grep { / ok / } <$fh>;
				close $fh;
			}
			return $count >= $n;
		},
		"$n register operations acknowledged");
	ok($ok, "the register clients run ($count operations acknowledged)");
	return;
}

=pod

=item $lin->stop

SIGTERM every client (each finishes its operation), SIGKILL after 10 s.

=cut

sub stop
{
	my ($self) = @_;
	my @pids = values %{ $self->{procs} };
	kill 'TERM', @pids if @pids;
	my $deadline = time() + 10;
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

=item $lin->conclude(label => text, lost_writes => 0|1, extra => \%counts)

Stop the clients, write tmp_check/netns/<test>.lin.history, check it, and
assert it linearizable (with the checker's explanation and the faults'
times on that clock when not).  With lost_writes => 1 (asynchronous
replication) the whole history is checked and reported, and what must be
linearizable is the history without its lost branches
(without_lost_branch, against the final primary's lin_log; written to
<test>.lin.nolost.history).  Records the counts; returns the verdict hash
of the history asserted.

=cut

sub conclude
{
	my ($self, %opts) = @_;
	my $c = $self->{c};
	my $label = $opts{label} // 'register history';
	$self->stop;
	my $file = "$c->{outdir}/$self->{test}.lin.history";
	open(my $out, '>', $file) or croak "open $file: $!";
	for my $f (@{ $self->{files} })
	{
		open(my $in, '<', $f) or next;
		print $out $_ while <$in>;
		close $in;
	}
	close $out;

	my $all = check($file);
	# The nodes that acknowledged writes: more than one means the clients
	# went through a failover.
	my ($ops) = parse($file);
	my %primaries = map { $_->{node} => 1 }
	  grep { $_->{outcome} eq 'ok' && $_->{op} ne 'r' && $_->{node} ne '-' } @$ops;
	my $primaries = join(',', sort keys %primaries) || '-';
	diag("$label: writes acknowledged by node(s) $primaries");
	diag("$label: lincheck on $all->{ops} operations ($all->{keys} keys): "
		  . "$all->{verdict}, $all->{stale_reads} definitely stale reads, "
		  . "$all->{unwritten_reads} reads of unwritten values, "
		  . "seed $self->{seed}; history $file");
	my ($asserted, %counts) = ($all);
	if ($opts{lost_writes})
	{
		my ($leader) = $c->wait_primary;
		my %survived = map { $_ => 1 } split /\n/,
		  $leader->safe_psql('postgres', q{SELECT key || ' ' || value FROM lin_log});
		my ($kept, $lost) = without_lost_branch($ops, \%survived, $self->{node_of_host});
		my $nolost = "$c->{outdir}/$self->{test}.lin.nolost.history";
		write_ops($nolost, $kept);
		$asserted = check($nolost);
		diag("$label: $lost->{lost_acked} acknowledged writes lost, "
			  . "$lost->{lost_observed} indeterminate writes read and lost, "
			  . "$lost->{removed} operations of lost branches set aside; the rest: "
			  . "$asserted->{ops} operations, $asserted->{verdict}, "
			  . "$asserted->{stale_reads} definitely stale reads, "
			  . "$asserted->{unwritten_reads} reads of writes set aside as lost "
			  . '(served after another node took over)');
		%counts = (ops_all => $all->{ops}, verdict_all => $all->{verdict},
			map { ($_ => $lost->{$_}) } keys %$lost);
	}
	my $ok = is($asserted->{verdict}, 'linearizable',
		"$label: the register history is linearizable ($asserted->{ops} operations)");
	unless ($ok)
	{
		my @lines = split /\n/, $asserted->{output};
		diag(join("\n", grep { !/^key .*, linearizable,/ } @lines[ 0 .. ($#lines < 100 ? $#lines : 100) ]));
		$self->_diag_faults($file);
	}
	record($self->{test},
		ops => $asserted->{ops},
		keys => $asserted->{keys},
		violations => $asserted->{violations},
		unknown => $asserted->{unknown},
		stale_reads => $asserted->{stale_reads},
		unwritten_reads => $asserted->{unwritten_reads},
		verdict => $asserted->{verdict},
		seed => $self->{seed},
		primaries => $primaries,
		%counts,
		%{ $opts{extra} // {} });
	return $asserted;
}

# The faults and heals on the history's time scale (seconds since its
# first invocation), to read an explanation against.
sub _diag_faults
{
	my ($self, $file) = @_;
	my ($ops, $offset) = parse($file);
	return unless @$ops && defined $offset;
	my ($origin) = sort { $a <=> $b } map { $_->{invoke} } @$ops;
	diag(join "\n", map {
		sprintf('  %s at %.3f s%s', $_->{type},
			($_->{t} * 1e6 - $offset - $origin) / 1e9,
			$_->{what} ? ": $_->{what}" : '')
	} $self->{c}->faults);
	return;
}

=pod

=back

=cut

1;
