
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftChecker - sample every node's raft_status for the whole length of a TAP
scenario and check the invariants of DESIGN.md on the samples.

=head1 SYNOPSIS

  use RaftChecker;

  my $checker = RaftChecker->start(\@nodes);
  ... faults, waits ...
  $checker->stop_and_check;          # TAP: "no invariant breach", counts recorded

  # or, by hand:
  my $result = $checker->stop;       # { samples, rounds, unknown, breaches, ... }
  my @s = $checker->samples(2);      # node 2's samples, oldest first

=head1 DESCRIPTION

start() forks one sampler process per node.  Each sampler keeps its own
connection (DBD::Pg) to its node and runs rounds on a grid shared by all
samplers (round k starts at start time + k x interval, 20 ms by default): it
sends one asynchronous query per round and waits for the answer until the
round ends.  A node that does not answer within the round (SIGSTOPped, down,
restarting) is "unknown" for that round, never "ok".  A broken connection is
reopened at most every 200 ms with connect_timeout=1; because every node has
its own sampler, a node that blocks a connection attempt never delays the
sampling of the others.  A query that is still running when its round ends
is not sent again; its answer, when it comes, is kept as a sample (it carries
its own timestamps), and counts for the round in which it arrived.

Every sample carries two wall-clock times taken by the node itself:
statement_timestamp() (before raft_status was read) and clock_timestamp()
(after), so the moment of the observation is known to lie between them.  All
nodes run on one machine, so their wall clocks are comparable.

The samples are checked (stop() does it) by RaftInvariants: one leader
per term, no two leases at once, terms never go back, one vote per term.

=cut

package RaftChecker;

use strict;
use warnings;

use Carp;
use DBI;
use DBD::Pg qw(:async);
use File::Path qw(make_path);
use File::Basename qw(basename);
use POSIX ();
use Time::HiRes qw(time usleep);
use Test::More;
use PostgreSQL::Test::Utils;
use RaftInvariants;

# The query every round sends; times in epoch milliseconds.
our $QUERY = q{SELECT node_id, role, term, voted_for, leader_id, has_lease,
  extract(epoch FROM lease_remaining) * 1000,
  extract(epoch FROM statement_timestamp()) * 1000,
  extract(epoch FROM clock_timestamp()) * 1000,
  extract(epoch FROM leader_since) * 1000,
  transfer_target
  FROM raft_ext.raft_status};

# Fields of a sample line after the tag, in order.
our @FIELDS = qw(round node_id role term voted_for leader_id has_lease rem
  stmt clock leader_since transfer_target);

# Faults already attributed to an earlier record of this process.
my $faults_recorded = 0;
my $instance = 0;

=pod

=head1 METHODS

=over

=item RaftChecker->start(\@nodes, %opts)

Start sampling.  Options: interval_ms (20), reconnect_ms (200).  The nodes'
raft ids come from RaftTest (the raft_id attribute), else their position.

=cut

sub start
{
	my ($class, $nodes, %opts) = @_;
	my $self = bless {
		interval => ($opts{interval_ms} // 20) / 1000.0,
		reconnect => ($opts{reconnect_ms} // 200) / 1000.0,
		t0 => time() + 0.05,
		dir => "$PostgreSQL::Test::Utils::tmp_check/raft_checker",
		tag => basename($0, '.pl') . '_' . $$ . '_' . $instance++,
		samplers => {},
		files => {},
		transfers => [],
		result => undef,
	}, $class;

	make_path($self->{dir});
	my $pos = 0;
	for my $node (@$nodes)
	{
		$pos++;
		$self->add_node($node, $node->{raft_id} // $pos);
	}
	return $self;
}

=pod

=item $checker->add_node($node [, $id])

Start sampling one more node (a member added during the scenario).

=cut

sub add_node
{
	my ($self, $node, $id) = @_;
	$id //= $node->{raft_id};
	croak "add_node: node has no raft id" unless defined $id;
	croak "add_node: node $id is sampled already"
	  if $self->{samplers}{$id};

	my $file = "$self->{dir}/$self->{tag}_node$id.log";
	$self->{files}{$id} = $file;
	my $pid = fork();
	croak "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $rc = eval { _sampler($self, $node, $id, $file); 0 } // 1;
		print STDERR "raft checker sampler for node $id: $@" if $rc;
		POSIX::_exit($rc);
	}
	$self->{samplers}{$id} = $pid;
	return;
}

=pod

=item $checker->note_transfer($node)

Say that the test is about to ask $node, the leader, to hand its leadership
over (raft_ext.transfer_leadership).  Call it right before the request.
The leader gives up its lease before it sends TimeoutNow, so the target's
election may overtake the old leader's lease horizon; when the whole
transfer happens between two samples the checker cannot see when the lease
was given up, and this note tells it (see the lease check above).

=cut

sub note_transfer
{
	my ($self, $node) = @_;
	my $id = ref $node ? $node->{raft_id} : $node;
	push @{ $self->{transfers} }, { node => $id, time => time() * 1000 };
	return;
}

=pod

=item $checker->forget($node)

Stop sampling a node for good (it left the cluster); its samples so far are
kept and checked.

=cut

sub forget
{
	my ($self, $node) = @_;
	my $id = ref $node ? $node->{raft_id} : $node;
	my $pid = delete $self->{samplers}{$id};
	_reap($pid) if $pid;
	return;
}

# Stop one sampler: SIGTERM, then SIGKILL if it lingers.
sub _reap
{
	my ($pid) = @_;
	kill 'TERM', $pid;
	my $deadline = time() + 5;
	while (time() < $deadline)
	{
		return if waitpid($pid, POSIX::WNOHANG()) != 0;
		usleep(10_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return;
}

# The sampler process: rounds until SIGTERM.
sub _sampler
{
	my ($self, $node, $id, $file) = @_;
	my $stop = 0;
	local $SIG{TERM} = sub { $stop = 1; };
	local $SIG{INT} = 'DEFAULT';
	local $SIG{ALRM} = 'DEFAULT';
	$0 = "raft checker node $id";

	open(my $out, '>>', $file) or die "open $file: $!";
	$out->autoflush(1);

	my $dsn =
	    'dbi:Pg:dbname=postgres;host=' . $node->host
	  . ';port=' . $node->port
	  . ';connect_timeout=1;application_name=raft_checker';
	my ($dbh, $sth, $inflight);
	my $next_connect = 0;
	my $round = 0;
	my $iv = $self->{interval};

	my $drop = sub {
		my ($why) = @_;
		$why =~ s/[\r\n|]+/ /g;
		print $out "E|$round|$why\n";
		eval { $dbh->disconnect if $dbh; };
		($dbh, $sth, $inflight) = (undef, undef, 0);
	};

	while (!$stop)
	{
		my $rstart = $self->{t0} + $round * $iv;
		my $now = time();

		# Rounds that passed while this process was blocked are unknown.
		if ($now >= $rstart + $iv)
		{
			my $missed = int(($now - $rstart) / $iv);
			print $out "U|" . ($round + $_) . "|late\n" for 0 .. $missed - 1;
			$round += $missed;
			next;
		}
		usleep(int(($rstart - $now) * 1e6)) if $now < $rstart;
		last if $stop;
		my $rend = $rstart + $iv;

		if (!$dbh && time() >= $next_connect)
		{
			$next_connect = time() + $self->{reconnect};
			$dbh = DBI->connect($dsn, '', '',
				{ AutoCommit => 1, RaiseError => 0, PrintError => 0,
				  pg_server_prepare => 0 });
			if ($dbh)
			{
				$sth = $dbh->prepare($QUERY, { pg_async => PG_ASYNC });
				$inflight = 0;
			}
			# A slow connect may have eaten this round: start over.
			next if time() >= $rend;
		}

		my $answered = 0;
		if ($dbh)
		{
			if (!$inflight)
			{
				if (eval { $sth->execute; 1 } && !$dbh->err)
				{
					$inflight = 1;
				}
				else
				{
					$drop->('send: ' . ($dbh->errstr // $@ // '?'));
				}
			}
			while ($dbh && $inflight && !$stop)
			{
				my $left = $rend - time();
				my $ready = $dbh->pg_ready;
				if ($ready < 0)
				{
					$drop->('ready: ' . ($dbh->errstr // '?'));
					last;
				}
				if ($ready)
				{
					my $ok = eval { $sth->pg_result; 1 };
					my $row = $ok && !$dbh->err ? $sth->fetchrow_arrayref : undef;
					$inflight = 0;
					if ($row)
					{
						my @v = map { $_ // '' } @$row;
						print $out join('|', 'S', $round, @v) . "\n";
						$answered = 1;
					}
					else
					{
						$drop->('result: ' . ($dbh->errstr // $@ // '?'));
					}
					last;
				}
				last if $left <= 0;
				my $rin = '';
				vec($rin, $dbh->{pg_socket}, 1) = 1;
				select($rin, undef, undef, $left);
			}
		}
		print $out "U|$round|" . ($dbh ? 'slow' : 'down') . "\n"
		  unless $answered;
		$round++;
	}
	eval { $dbh->pg_cancel if $dbh && $inflight; $dbh->disconnect if $dbh; };
	close $out;
	return;
}

=pod

=item $checker->stop

Stop sampling (idempotent) and check the samples.  Returns a hash reference:
samples, rounds (node-rounds), unknown (node-rounds without an answer),
breaches (array of strings), max_uncertainty_ms, lease_claims,
min_lease_gap_ms (smallest time from the end of one node's lease claim to
the start of another node's; negative means an overlap), terms (term ->
leader id), per_node ({ id => { samples, unknown } }).

=cut

sub stop
{
	my ($self) = @_;
	return $self->{result} if $self->{result};
	_reap($_) for values %{ $self->{samplers} };
	$self->{samplers} = {};

	my (@samples, %per_node);
	my ($rounds, $unknown) = (0, 0);
	for my $id (sort { $a <=> $b } keys %{ $self->{files} })
	{
		open(my $in, '<', $self->{files}{$id}) or next;
		my %seen;
		while (my $line = <$in>)
		{
			chomp $line;
			my ($tag, @v) = split /\|/, $line, -1;
			if ($tag eq 'S' && @v == @FIELDS)
			{
				my %s;
				@s{@FIELDS} = @v;
				$s{$_} = undef for grep { $s{$_} eq '' } @FIELDS;
				$s{node} = $id;
				$s{has_lease} = ($s{has_lease} // '') eq '1' ? 1 : 0;
				push @samples, \%s;
				$per_node{$id}{samples}++;
				$seen{ $s{round} } = 1;
			}
			elsif ($tag eq 'U')
			{
				$per_node{$id}{unknown}++;
				$seen{ $v[0] } //= 0;
			}
		}
		close $in;
		$rounds += scalar keys %seen;
		$unknown += scalar grep { !$seen{$_} } keys %seen;
		$per_node{$id}{samples} //= 0;
		$per_node{$id}{unknown} //= 0;
	}
	$self->{samples} = \@samples;

	my $result = RaftInvariants::check_samples(\@samples, transfers => $self->{transfers});
	$result->{rounds} = $rounds;
	$result->{unknown} = $unknown;
	$result->{per_node} = \%per_node;
	$self->{result} = $result;
	return $result;
}

=pod

=item $checker->samples([$id])

After stop: all samples (or node $id's), each a hash reference with the
keys of @RaftChecker::FIELDS plus node (the sampled node's id); times in
epoch ms, rem (lease_remaining) in ms; has_lease 0/1; NULLs are undef.

=cut

sub samples
{
	my ($self, $id) = @_;
	$self->stop;
	my @s = @{ $self->{samples} };
	@s = grep { $_->{node} == $id } @s if defined $id;
	return @s;
}

=pod

=item $checker->assert_clean([$name]) / $checker->stop_and_check([$name])

Stop, print "checker: N samples, M breaches" (and every breach), pass or
fail one TAP test on "no breach", fail if there was no sample at all, and
record (samples, faults, breaches) for scripts/test-summary.pl.  Faults are
those counted by RaftFaults in this process since the previous record.

=cut

sub assert_clean
{
	my ($self, $name) = @_;
	$name //= basename($0, '.pl');
	my $r = $self->stop;
	my $n = scalar @{ $r->{breaches} };
	$self->{checked} = 1;
	diag("checker breach: $_") for @{ $r->{breaches} };
	note(sprintf(
			"checker: %d samples, %d breaches (%d node-rounds, %d unknown, "
			  . "%d lease claims, smallest gap between two nodes' leases %s, "
			  . "max timing uncertainty %.2f ms)",
			$r->{samples}, $n, $r->{rounds}, $r->{unknown},
			$r->{lease_claims},
			defined $r->{min_lease_gap_ms}
			? sprintf('%.1f ms', $r->{min_lease_gap_ms})
			: 'none',
			$r->{max_uncertainty_ms}));
	print "# checker: $r->{samples} samples, $n breaches\n";
	cmp_ok($r->{samples}, '>', 0, "$name: the checker took samples");
	is($n, 0, "$name: no invariant breach in $r->{samples} samples");

	my $total = RaftFaults->can('total') ? RaftFaults::total() : 0;
	record_counts($name,
		samples => $r->{samples},
		faults => $total - $faults_recorded,
		breaches => $n);
	$faults_recorded = $total;
	return $n == 0;
}

sub stop_and_check { my $self = shift; return $self->assert_clean(@_); }

# Whether assert_clean (stop_and_check) has given its verdict.
sub checked { return $_[0]{checked}; }

=pod

=item RaftChecker::counts_dir()

Where the per-test records go: tmp_check of the test run ($TESTDIR/tmp_check,
shared by every TAP file of one "make installcheck"), subdirectory
raft_counts.

=cut

sub counts_dir
{
	return "$PostgreSQL::Test::Utils::tmp_check/raft_counts";
}

=pod

=item RaftChecker::record_counts($name, samples => N, faults => N, breaches => N)

Append one line to counts_dir()/$name.txt.

=cut

sub record_counts
{
	my ($name, %c) = @_;
	my $dir = counts_dir();
	make_path($dir);
	open(my $fh, '>>', "$dir/$name.txt") or die "open $dir/$name.txt: $!";
	print $fh join(' ',
		map { "$_=" . ($c{$_} // 0) } qw(samples faults breaches)), "\n";
	close $fh;
	return;
}

sub DESTROY
{
	my ($self) = @_;
	# Never leave samplers behind, whatever happened to the test.
	kill 'KILL', $_ for values %{ $self->{samplers} // {} };
	waitpid($_, 0) for values %{ $self->{samplers} // {} };
	return;
}

=pod

=back

=cut

1;
