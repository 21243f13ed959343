
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

Checked over all samples of the run (stop() does the analysis):

=over

=item 1. at most one leader per term (a term -> leader map over the run);

=item 2. at most one node holds an unexpired lease at any instant (below);

=item 3. no node's term ever decreases (across restarts too; samples taken
while the worker is not running, role "stopped", are skipped);

=item 4. no node reports two different votes in one term.

=back

The lease check.  A sample of node A with has_lease = true says: A holds the
lease from the observation until observation + lease_remaining.  The
checker turns it into a claim [clock_timestamp, statement_timestamp +
lease_remaining]: the part of that interval A is certain to have claimed
whatever the exact moment of the observation, so the checker's own timing
(a sample answered late, a backend descheduled between reading the status and
reading the clock) can only shorten a claim, never lengthen it.  The
uncertainty is reported as max_uncertainty_ms (normally well under 1 ms,
against a drift margin of tens of ms between one lease's end and the next
one's earliest start).  A claim ends early when A gives the lease up:

=over

=item - A is next seen as not the leader, or in another term: the claim ends
at A's leader_since (the wall-clock time of its role change), or at that
sample's statement_timestamp if leader_since is older than the claim (the
worker restarted);

=item - A is next seen still leader in the same term without the lease while
a transfer is under way (transfer_target set): the engine gives up the lease
before it sends TimeoutNow (raft_transfer.c), and the moment it did so is
not observable; the claim ends at A's last sample with the lease;

=item - a transfer the test announced with note_transfer (it may complete
between two samples, so that A is next seen as a follower whose
leader_since comes after the new leader's first lease): the claims end at
the later of the note's time and A's last sample with the lease;

=item - any other early loss of the lease ends the claim at the statement
time of the sample that shows it.

=back

Two claims of different nodes that overlap are a breach.  Comparing claims
over time (rather than only two leases in the same round) catches a new
leader whose lease starts before the old leader's horizon even when the two
were never sampled in the same round.  The start of a claim is the first
sample that shows it, so an overlap shorter than the sampling interval is
caught only if a sample falls into it.

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

	my $result = check_samples(\@samples, transfers => $self->{transfers});
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

=pod

=item RaftChecker::check_samples(\@samples, transfers => [...])

The analysis, on samples as samples() returns them (node, role, term,
voted_for, has_lease, rem, stmt, clock, leader_since, transfer_target);
transfers lists the noted transfers ({ node, time } in epoch ms).
Returns { samples, breaches => [...], max_uncertainty_ms, lease_claims,
terms }.  Pure: the self-test feeds it synthetic samples.

=cut

sub check_samples
{
	my ($samples, %opts) = @_;
	my (@breaches, %leaders, %by_node, %transfers);
	my $max_unc = 0;

	for my $s (@$samples)
	{
		push @{ $by_node{ $s->{node} } }, $s;
		my $unc = ($s->{clock} // 0) - ($s->{stmt} // 0);
		$max_unc = $unc if $unc > $max_unc;
	}

	push @{ $transfers{ $_->{node} } }, $_->{time}
	  for @{ $opts{transfers} // [] };

	# 1. At most one leader per term.
	for my $s (@$samples)
	{
		next unless ($s->{role} // '') eq 'leader';
		$leaders{ $s->{term} }{ $s->{node} } //= $s->{clock};
	}
	for my $term (sort { $a <=> $b } keys %leaders)
	{
		my @ids = sort { $a <=> $b } keys %{ $leaders{$term} };
		push @breaches, "term $term has two leaders: nodes @ids" if @ids > 1;
	}

	my @claims;
	for my $id (sort { $a <=> $b } keys %by_node)
	{
		my @s = sort { $a->{clock} <=> $b->{clock} } @{ $by_node{$id} };
		my ($max_term, %vote, %reported);

		for my $s (@s)
		{
			next if ($s->{role} // 'stopped') eq 'stopped';

			# 3. Terms never go backwards.
			if (defined $max_term && $s->{term} < $max_term
				&& !$reported{term}++)
			{
				push @breaches,
				  "node $id: term went back from $max_term to $s->{term} "
				  . _at($s);
			}
			$max_term = $s->{term}
			  if !defined $max_term || $s->{term} > $max_term;

			# 4. One vote per term.
			next unless defined $s->{voted_for};
			my $v = $vote{ $s->{term} } //= $s->{voted_for};
			if ($v != $s->{voted_for} && !$reported{"vote$s->{term}"}++)
			{
				push @breaches,
				  "node $id: voted for $v and for $s->{voted_for} in term "
				  . "$s->{term} " . _at($s);
			}
		}

		push @claims, _lease_claims($id, \@s, $transfers{$id} // []);
	}

	# 2. Lease claims of different nodes never overlap.
	@claims = sort { $a->{lo} <=> $b->{lo} } @claims;
	my (%latest, %reported, $min_gap);
	for my $c (@claims)
	{
		for my $other (keys %latest)
		{
			next if $other == $c->{node};
			my $o = $latest{$other};
			my $gap = $c->{lo} - $o->{hi};
			$min_gap = $gap if !defined $min_gap || $gap < $min_gap;
			my $overlap = _min($o->{hi}, $c->{hi}) - $c->{lo};
			next unless $overlap > 0;
			my $key = "$other/$o->{term}/$c->{node}/$c->{term}";
			next if $reported{$key}++;
			push @breaches, sprintf(
				"leases overlap by %.1f ms: node %d (term %d) until %.1f, "
				  . "node %d (term %d) from %.1f",
				$overlap, $other, $o->{term}, $o->{hi},
				$c->{node}, $c->{term}, $c->{lo});
		}
		$latest{ $c->{node} } = $c
		  if !$latest{ $c->{node} } || $c->{hi} > $latest{ $c->{node} }{hi};
	}

	return {
		samples => scalar @$samples,
		breaches => \@breaches,
		max_uncertainty_ms => $max_unc,
		lease_claims => scalar @claims,
		min_lease_gap_ms => $min_gap,
		terms => { map { $_ => join(',', sort keys %{ $leaders{$_} }) }
			  keys %leaders },
	};
}

# One node's lease claims, from its samples in time order (see DESCRIPTION).
sub _lease_claims
{
	my ($id, $s, $transfers) = @_;
	my (@claims, @open);
	my $since = 0;				# time of the previous no-lease sample

	for my $x (@$s)
	{
		if ($x->{has_lease} && defined $x->{rem})
		{
			@open = grep { $_->{term} == $x->{term} } @open;
			my $c = {
				node => $id,
				term => $x->{term},
				lo => $x->{clock},
				hi => $x->{stmt} + $x->{rem},
			};
			push @claims, $c;
			push @open, $c;
			next;
		}
		my $prev = $since;
		$since = $x->{clock};
		next unless @open;

		# No lease now: claims still running were given up early.
		my $w;
		my $role = $x->{role} // 'stopped';
		my ($noted) = sort { $b <=> $a }
		  grep { $_ > $prev && $_ <= $x->{clock} } @$transfers;
		if (defined $noted)
		{
			# A transfer was requested since the lease was last absent: the
			# lease was given up after the request, before TimeoutNow.
			$w = $noted > $open[-1]{lo} ? $noted : $open[-1]{lo};
		}
		elsif ($role eq 'leader' && $x->{term} == $open[-1]{term})
		{
			$w = defined $x->{transfer_target}
			  ? $open[-1]{lo}
			  : $x->{stmt};
		}
		elsif ($role ne 'stopped' && defined $x->{leader_since}
			&& $x->{leader_since} > $open[-1]{lo})
		{
			$w = $x->{leader_since};
		}
		else
		{
			$w = $x->{stmt};
		}
		$_->{hi} = _min($_->{hi}, $w) for @open;
		@open = ();
	}
	return @claims;
}

sub _min { return $_[0] < $_[1] ? $_[0] : $_[1]; }

# Where a sample was taken, for messages.
sub _at
{
	my ($s) = @_;
	return sprintf('(sample at %.1f, round %s)', $s->{clock}, $s->{round} // '?');
}

=pod

=item RaftChecker::self_test()

Runs check_samples on synthetic histories, each with a known number of
breaches.  Returns a list of [name, expected, found, breaches] for the
caller to assert (119_checker_self_test.pl does).

=cut

sub self_test
{
	# A sample: node, role, term, vote, lease remaining (undef: none),
	# time; optional leader_since, transfer_target.
	my $S = sub {
		my ($node, $role, $term, $vote, $rem, $t, %o) = @_;
		return {
			node => $node, role => $role, term => $term,
			voted_for => $vote, has_lease => defined $rem ? 1 : 0,
			rem => $rem, stmt => $t - 0.1, clock => $t,
			leader_since => $o{since}, transfer_target => $o{transfer},
		};
	};
	my @cases = (
		[ 'clean handover after expiry', 0, [
			$S->(1, 'leader', 2, 1, 300, 1000),
			$S->(2, 'follower', 2, 1, undef, 1005),
			$S->(1, 'leader', 2, 1, undef, 1400),
			$S->(2, 'leader', 3, 2, 300, 1600),
			$S->(1, 'follower', 3, 2, undef, 1610, since => 1590) ] ],
		[ 'two leaders in one term', 1, [
			$S->(1, 'leader', 4, 1, undef, 1000),
			$S->(2, 'leader', 4, 2, undef, 1020) ] ],
		[ 'term goes back after a restart', 1, [
			$S->(1, 'follower', 5, undef, undef, 1000),
			$S->(1, 'stopped', 0, undef, undef, 1100),
			$S->(1, 'follower', 4, undef, undef, 1200) ] ],
		[ 'two votes in one term', 1, [
			$S->(3, 'follower', 6, 1, undef, 1000),
			$S->(3, 'follower', 6, 2, undef, 1100) ] ],
		[ 'new lease before the old horizon, different rounds', 1, [
			$S->(1, 'leader', 7, 1, 300, 1000),
			$S->(2, 'leader', 8, 2, 300, 1250) ] ],
		[ 'lease overlap seen only through a late answer', 1, [
			$S->(1, 'leader', 9, 1, 500, 1000),
			$S->(1, 'leader', 9, 1, 480, 1400),
			$S->(2, 'leader', 10, 2, 200, 1700) ] ],
		[ 'old leader stepped down before the new lease', 0, [
			$S->(1, 'leader', 11, 1, 300, 1000),
			$S->(1, 'follower', 12, 2, undef, 1100, since => 1050),
			$S->(2, 'leader', 12, 2, 300, 1060) ] ],
		[ 'old leader stepped down after the new lease began', 1, [
			$S->(1, 'leader', 13, 1, 300, 1000),
			$S->(2, 'leader', 14, 2, 300, 1040),
			$S->(1, 'follower', 14, 2, undef, 1100, since => 1050) ] ],
		[ 'transfer gives the lease up', 0, [
			$S->(1, 'leader', 15, 1, 300, 1000),
			$S->(1, 'leader', 15, 1, 290, 1010),
			$S->(2, 'leader', 16, 2, 300, 1020),
			$S->(1, 'leader', 15, 1, undef, 1030, transfer => 2) ] ],
		[ 'fast transfer between two samples, noted', 0, [
			$S->(1, 'leader', 20, 1, 300, 1000),
			$S->(2, 'leader', 21, 2, 300, 1015),
			$S->(1, 'follower', 21, 2, undef, 1020, since => 1018) ],
			[ { node => 1, time => 1005 } ] ],
		[ 'fast transfer between two samples, not noted', 1, [
			$S->(1, 'leader', 20, 1, 300, 1000),
			$S->(2, 'leader', 21, 2, 300, 1015),
			$S->(1, 'follower', 21, 2, undef, 1020, since => 1018) ] ],
		[ 'paused leader keeps a lease past its horizon', 1, [
			$S->(1, 'leader', 17, 1, 300, 1000),
			$S->(2, 'leader', 18, 2, 300, 1400),
			$S->(1, 'leader', 17, 1, 300, 1500) ] ],
		[ 'stopped samples are ignored', 0, [
			$S->(1, 'follower', 19, 2, undef, 1000),
			$S->(1, 'stopped', 0, undef, undef, 1100),
			$S->(1, 'follower', 19, 2, undef, 1200) ] ],
	);
	my @out;
	for my $c (@cases)
	{
		my ($name, $want, $samples, $transfers) = @$c;
		my $r = check_samples($samples, transfers => $transfers // []);
		push @out, [ $name, $want, scalar @{ $r->{breaches} }, $r->{breaches} ];
	}
	return @out;
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
