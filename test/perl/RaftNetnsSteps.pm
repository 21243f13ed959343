
# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftNetnsSteps - the steps the real-partition scenarios (test/netns) share:
cut the primary off and measure the failover, check what the cluster looks
like after the heal, rejoin former primaries, and conclude a scenario with
every check on its history.

=head1 SYNOPSIS

  use RaftNetnsSteps;

  my $c = RaftNetns->new(nodes => 3, sync => 1);
  my $run = RaftNetnsSteps->begin($c);      # checker + writers
  my ($new) = $run->isolate_primary(hold => 3);
  $run->heal_and_settle;                    # one primary, former primaries fenced
  $run->rejoin_former;                      # rejoin-standby.sh on each
  $run->conclude;                           # every check, history, counts

=cut

package RaftNetnsSteps;

use strict;
use warnings;

use File::Basename qw(basename);
use PostgreSQL::Test::Utils;
use RaftChecker;
use RaftFaults;
use RaftHistory;
use RaftNetns;
use RaftTest;
use RaftWriter;
use Test::More;
use Time::HiRes qw(time);

our $TODO;

=pod

=head1 METHODS

=over

=item RaftNetnsSteps->begin($cluster, %opts)

Start the invariant checker on every node (over the Unix sockets) and the
writers in the client namespace; wait until the primary acknowledges
writes.  among => \@nodes: the nodes that must agree on the primary
(default every running node; a node that is not a member yet would never
agree).

=cut

sub begin
{
	my ($class, $c, %opts) = @_;
	my $self = bless {
		c => $c,
		checker => RaftChecker->start([ $c->nodes ]),
		failovers => [],
		started => time(),
	}, $class;
	$self->{writers} = RaftWriter->start($c);
	my ($p) = $c->wait_primary(%opts);
	die "no primary leads at the start of the scenario\n" unless $p;
	ok(defined $self->{writers}->wait_acked(10, node => $p->{raft_id}),
		'writes are acknowledged by the primary ' . $p->name);
	return $self;
}

sub cluster { return $_[0]{c}; }
sub checker { return $_[0]{checker}; }
sub writers { return $_[0]{writers}; }

=pod

=item $run->status($node)

RaftFaults::status with booleans as 1/0 (role, term, leader_id, has_lease,
in_recovery ...), or undef.

=cut

sub status
{
	my ($self, $node) = @_;
	my $st = RaftFaults::status($node) or return undef;
	$st->{$_} = ($st->{$_} // '') eq 'true' ? 1 : 0 for qw(has_lease in_recovery);
	return $st;
}

=pod

=item $run->expect_failover($old, $fault_at, $label, $old_term [, \@among [, $todo]])

After a fault at $fault_at cut the primary $old off: another node must
lead as primary in a term above $old_term, agreed by the nodes of @among
(default: every other running node), and writes must resume on it.  With
$todo (a reason), these are TODO tests and the wait is 20 election
timeouts, not the framework's timeout: a known bug that a test records.  Records
the time from the fault to the first write acknowledged by the new primary
(printed, and kept for the counts).  Returns the new primary.

=cut

sub expect_failover
{
	my ($self, $old, $fault_at, $label, $old_term, $among, $todo) = @_;
	my $c = $self->{c};
	my @others = @{ $among // [ grep { $_ != $old && $_->{_pid} } $c->nodes ] };
	local $TODO = $todo if defined $todo;
	my ($new, $term) = $c->wait_primary(among => \@others,
		min_term => ($old_term // 0) + 1,
		timeout => defined $todo ? 20 * RaftFaults::election_timeout() : undef);
	unless (ok(defined $new, "$label: a new primary leads in a higher term"))
	{
		$self->dump_state;
		return undef;
	}
	my $first = $self->{writers}->wait_acked(1, node => $new->{raft_id},
		since => $fault_at);
	ok(defined $first, "$label: writes resume on " . $new->name);
	if ($first)
	{
		my $ms = $first->{end} - $fault_at * 1000;
		push @{ $self->{failovers} }, $ms;
		diag(sprintf('%s: partition -> first write on the new primary %s: %.0f ms',
				$label, $new->name, $ms));
	}
	return $new;
}

=pod

=item $run->dump_state

Print every running node's raft_status and raft_peers (diag): what a
failed wait needs to be understood.

=cut

sub dump_state
{
	my ($self) = @_;
	for my $n (grep { $_->{_pid} } $self->{c}->nodes)
	{
		my ($st, $peers) = ('', '');
		$n->psql('postgres',
			q{SELECT role, term, voted_for, leader_id, has_lease, commit_index,
			   last_log_index, in_recovery, wal_position, timeline,
			   last_contact, error FROM raft_ext.raft_status},
			stdout => \$st, timeout => 10);
		$n->psql('postgres',
			q{SELECT peer_id, voter, connected, last_contact, match_index,
			   msgs_sent, msgs_received, msgs_dropped, last_error
			   FROM raft_ext.raft_peers ORDER BY peer_id},
			stdout => \$peers, timeout => 10);
		diag($n->name . " raft_status: $st\n  peers:\n    "
			  . join("\n    ", split /\n/, $peers));
	}
	return;
}

=item $run->isolate_primary(hold => s, label => ...)

Cut the current primary off from every other node (the client still
reaches it), expect a failover, hold the partition for hold seconds more,
check that the old primary is fenced meanwhile.  Returns (new, old).

=cut

sub isolate_primary
{
	my ($self, %opts) = @_;
	my $c = $self->{c};
	my ($old, $term) = $c->wait_primary;
	my $label = $opts{label} // 'isolated primary';
	my $at = $c->isolate($old);
	my $new = $self->expect_failover($old, $at, $label, $term);
	RaftFaults::hold($opts{hold} // 2, 'the old primary stays cut off');
	$self->expect_fenced($old, "$label: the cut-off old primary");
	return ($new, $old);
}

=pod

=item $run->expect_fenced($node, $what)

$node has no lease and refuses a write with SQLSTATE 25006.

=cut

sub expect_fenced
{
	my ($self, $node, $what) = @_;
	my $st = $self->status($node);
	ok($st && !$st->{has_lease}, "$what holds no lease");
	my ($out, $err) = ('', '');
	$node->psql('postgres',
		"\\set VERBOSITY verbose\nINSERT INTO nx_rows (id) VALUES ('probe-' || clock_timestamp())",
		stdout => \$out, stderr => \$err, timeout => 10);
	like($err, qr/25006/, "$what refuses writes (SQLSTATE 25006)");
	return;
}

=pod

=item $run->settle(%opts)

After a heal: poll until one node leads as primary with the lease, agreed
by every running node, its Raft transport is connected again to every
running member (heard from within a second), and every other running node
is either a standby
streaming from it, a former primary (out of recovery) without the lease,
or a diverged standby: one whose log shows, since the last heal, that the
new primary's timeline forked off before its own replay position (it
received WAL from the old primary that the new one never got, and cannot
follow without pg_rewind).  With whole => 1 (raft_ext.auto_rejoin on) it
polls until there is neither: every other running node streams from the
leader (former primaries and diverged standbys rejoined by themselves).
A standby streams when the same WAL receiver has streamed from the
leader for a second (a standby whose WAL the leader removed starts
receivers that stream for a moment only).  Then check each former primary:
it refuses writes with 25006.  Returns ($leader, \@former, \@diverged)
and asserts it settled (within => s, default twice the framework's
timeout: a diverged standby's rewind and the second of a new receiver's
confirmation come on top of the failover).  A diverged standby fails a TODO
test (a known limit, see docs/testing.md) and is counted.

=cut

sub settle
{
	my ($self, %opts) = @_;
	my $c = $self->{c};
	my ($leader, @former, @diverged);
	my $why = '';
	my %receiver;    # node name => the WAL receiver seen streaming last
	my $ok = RaftFaults::poll_until(
		sub {
			($leader) = $c->wait_primary;
			return 0 unless $leader;
			# The Raft transport has reconnected to every running member
			# (after a cut it backs off up to an election timeout).
			my $peers = '';
			$leader->psql('postgres',
				q{SELECT string_agg(peer_id::text, ',' ORDER BY peer_id)
				  FROM raft_ext.raft_peers
				  WHERE NOT is_self AND connected
				    AND last_contact < interval '1 s'},
				stdout => \$peers, timeout => 10);
			my %up = map { $_ => 1 } split /,/, $peers;
			my @down = grep { $_ != $leader && $_->{_pid}
				  && !$up{ $_->{raft_id} } } $c->nodes;
			$why = 'the leader is not connected to '
			  . join(', ', map { $_->name } @down);
			return 0 if @down;
			@former = ();
			@diverged = ();
			for my $n (grep { $_ != $leader && $_->{_pid} } $c->nodes)
			{
				my $st = $self->status($n);
				return 0 unless $st;
				if ($st->{in_recovery})
				{
					my $out = '';
					$n->psql('postgres',
						q{SELECT pid || ' ' || status || ' ' || coalesce(sender_host, '')
						  FROM pg_stat_wal_receiver},
						stdout => \$out, timeout => 10);
					$why = $n->name . " is a standby, WAL receiver: '$out'";
					# The same receiver for a second: one that the leader
					# refuses (its WAL removed) streams for a moment only,
					# and a new one takes its place.
					my ($pid, $rest) = split / /, $out, 2;
					my $seen = $receiver{ $n->name };
					$receiver{ $n->name } = $seen = [ $out, time() ]
					  unless $seen && $seen->[0] eq $out;
					my $same = time() - $seen->[1] >= 1.0;
					if (($rest // '') eq "streaming $leader->{addr}")
					{
						next if $same;
						$why = $n->name . " has a new WAL receiver ($pid): streaming?";
						return 0;
					}
					return 0 unless $n->log_since_heal =~
					  /new timeline \d+ forked off current database system timeline/;
					push @diverged, $n;
				}
				else
				{
					$why = $n->name . ' is a primary that holds the lease';
					return 0 if $st->{has_lease};
					push @former, $n;
				}
			}
			if ($opts{whole} && (@former || @diverged))
			{
				$why = 'not whole yet: '
				  . join(', ', map { $_->name } @former, @diverged)
				  . ' to rejoin';
				return 0;
			}
			return 1;
		},
		'one primary, its standbys streaming, former primaries fenced',
		$opts{within} // 2 * $PostgreSQL::Test::Utils::timeout_default);
	if ($opts{whole})
	{
		$_->refresh_pid for grep { $_->{_pid} } $c->nodes;
	}
	ok($ok, 'after the heal: one primary ('
		  . ($leader ? $leader->name : 'none')
		  . '), every standby streams from it, former primaries are fenced')
	  or diag("not converged: $why");
	$self->expect_fenced($_, 'former primary ' . $_->name) for @former;
	if (@diverged)
	{
	  TODO:
		{
			local $TODO = 'a standby cut off with the old primary may hold '
			  . 'WAL the new primary never got (needs pg_rewind)';
			fail('standbys diverged from the new primary: '
				  . join(' ', map { $_->name } @diverged));
		}
	}
	$self->{diverged} += @diverged;
	return ($leader, \@former, \@diverged);
}

=pod

=item $run->heal_and_settle(%opts)

Heal every cut, then settle(%opts).

=cut

sub heal_and_settle
{
	my ($self, %opts) = @_;
	$_->mark_log for $self->{c}->nodes;
	$self->{c}->heal;
	return $self->settle(%opts);
}

=pod

=item $run->rejoin_former($leader, \@former [, \@diverged])

Rejoin each former primary (and each diverged standby) as a standby of
$leader with scripts/rejoin-standby.sh (an operator's step: automatic
rejoin is not there yet); each must then stream from $leader.

=cut

sub rejoin_former
{
	my ($self, $leader, $former, $diverged) = @_;
	$former = [ @$former, @{ $diverged // [] } ];
	for my $n (@$former)
	{
		ok($self->{c}->rejoin($n, $leader),
			'rejoin-standby.sh makes ' . $n->name . ' a standby of ' . $leader->name);
	}
	return unless @$former;
	my (undef, $left, $still) = $self->settle;
	is(scalar(@$left) + scalar(@$still), 0,
		'no former primary or diverged standby is left');
	return;
}

=pod

=item $run->flap(seconds => s, seed => n)

A random schedule of real partitions drawn from the seed (srand), for at
least the given seconds: each step cuts the network one way (a node cut
off, two nodes cut from each other, a node's packets to one or two others
lost, a minority cut from the majority), holds it for 0.3-2.5 s, heals,
waits until the cluster has settled, and waits 0.2-1.2 s before the next
step.  Settled: with raft_ext.auto_rejoin on in the cluster, until it is
whole (every former primary and diverged standby rejoined by itself);
with it off, former primaries are then rejoined with rejoin-standby.sh.
Every step draws the same values whatever the cluster did, so a seed
replays the same schedule (how the cluster reacts is timing and may
differ).  settle_within => s bounds each settle (default: twice the framework's
timeout), for schedules whose rejoins re-clone.  Returns the number of
steps.

=cut

sub flap
{
	my ($self, %opts) = @_;
	my $c = $self->{c};
	my $n = scalar $c->nodes;
	my $whole = $c->{auto_rejoin} eq 'on';
	my $end = time() + $opts{seconds};
	my $step = 0;

	srand($opts{seed});
	while (time() < $end)
	{
		$step++;
		my $kind = int(rand(5));
		my @ids = map { $_->[1] } sort { $a->[0] <=> $b->[0] }
		  map { [ rand(), $_ ] } 1 .. $n;
		my $hold = 0.3 + rand(2.2);
		my $gap = 0.2 + rand(1.0);
		my @nodes = map { $c->node($_) } @ids;
		my ($p, $q, $r) = @nodes;
		my $minority = int(($n - 1) / 2);

		if ($kind == 0) { $c->isolate($p); }
		elsif ($kind == 1) { $c->partition([$p], [$q]); }
		elsif ($kind == 2) { $c->one_way($p, [ $q, $r ]); }
		elsif ($kind == 3) { $c->one_way($p, [$q]); }
		else
		{
			# A minority and a majority (with three nodes: one node cut off).
			$c->partition([ @nodes[ 0 .. $minority - 1 ] ],
				[ @nodes[ $minority .. $n - 1 ] ]);
		}
		note(sprintf('step %d: %s for %.2f s, then %.2f s healed',
				$step, ($c->faults)[-1]{what}, $hold, $gap));
		RaftFaults::hold($hold, "step $step");
		my ($leader, $former, $diverged) = $self->heal_and_settle(whole => $whole,
			within => $opts{settle_within});
		last unless $leader;
		$self->rejoin_former($leader, $former, $diverged) unless $whole;
		RaftFaults::hold($gap, "step $step: healed");
	}
	return $step;
}

=pod

=item $run->conclude(%opts)

End the scenario: settle (unless settled => [leader, former]), let writes
be acknowledged by the final primary, stop the writers and the checker,
then check and record:

=over

=item - the checker's invariants (one leader per term, leases never
overlap, terms never go back, one vote per term);

=item - no split-brain write (RaftHistory::split_brain); with synchronous
replication no timeline regression either (counted without);

=item - with synchronous replication, every acknowledged write is on the
final primary; without it, lost writes are counted and printed;

=item - each former primary acknowledged no write that started after the
heal.

=back

Writes the history file (tmp_check/netns/<test>.history.jsonl) and the
counts (RaftHistory::record; extra => \%counts adds the scenario's own)
and prints a summary line.

=cut

sub conclude
{
	my ($self, %opts) = @_;
	my $c = $self->{c};
	my $test = basename($0, '.pl');
	my ($leader, $former) = @{ $opts{settled} // [ $self->settle ] };
	$former = [ grep { $_->{_pid} } @$former ];
	my $w = $self->{writers};
	ok(defined $w->wait_acked(5, node => $leader->{raft_id}),
		'the final primary ' . $leader->name . ' acknowledges writes')
	  if $leader;
	$w->stop;
	$self->{checker}->stop_and_check($test);

	my @attempts = $w->attempts;
	my @acked = grep { $_->{outcome} eq 'ok' } @attempts;
	my @sb = RaftHistory::split_brain(\@attempts);
	is(scalar @sb, 0, 'no split-brain write in ' . scalar(@acked)
		  . ' acknowledged writes');
	diag("split-brain write: $_") for @sb[ 0 .. ($#sb < 9 ? $#sb : 9) ];
	my @tr = RaftHistory::timeline_regressions(\@attempts);
	if ($c->{sync})
	{
		is(scalar @tr, 0, 'synchronous replication: no write acknowledged '
			  . 'on an older timeline after one on a newer timeline');
	}
	diag("timeline regression: $_") for @tr[ 0 .. ($#tr < 9 ? $#tr : 9) ];

	my ($lost, $extra) = $leader ? RaftHistory::lost_writes($leader, \@attempts) : ([], 0);
	if ($c->{sync})
	{
		is(scalar @$lost, 0,
			'synchronous replication: every acknowledged write is on the final primary');
	}
	else
	{
		note('asynchronous replication: ' . scalar(@$lost)
			  . ' acknowledged writes are not on the final primary');
	}
	diag('lost: ' . join(' ', map { "$_->{id}(node $_->{node})" } @$lost[ 0 .. ($#$lost < 9 ? $#$lost : 9) ]))
	  if @$lost;

	my ($last_heal) = map { $_->{t} } grep { $_->{type} eq 'heal' } reverse $c->faults;
	for my $f (@{ $former // [] })
	{
		my @late = grep {
			$_->{outcome} eq 'ok' && $_->{node} == $f->{raft_id}
			  && defined $last_heal && $_->{start} > $last_heal
		} @attempts;
		is(scalar @late, 0, 'former primary ' . $f->name
			  . ' acknowledged no write after the heal');
	}

	my %by = (error => 0, timeout => 0, connect => 0);
	$by{ $_->{outcome} }++ for @attempts;
	my $commits = grep { $_->{outcome} ne 'connect' } @attempts;
	my $r = $self->{checker}->stop;
	my %counts = (
		partitions => $c->fault_count,
		attempts => $commits,
		acked => scalar @acked,
		refused => $by{error},
		timeouts => $by{timeout},
		lost => scalar @$lost,
		indeterminate_committed => $extra,
		sync => $c->{sync} ? 1 : 0,
		split_brain => scalar @sb,
		timeline_regressions => scalar @tr,
		breaches => scalar @{ $r->{breaches} },
		failover_ms => join(',', map { int } @{ $self->{failovers} }) || '-',
		diverged_standbys => $self->{diverged} // 0,
		seconds => int(time() - $self->{started}),
		%{ $opts{extra} // {} },
	);
	RaftHistory::record($test, %counts);
	my $file = "$c->{outdir}/$test.history.jsonl";
	RaftHistory::write_history($file,
		faults => [ $c->faults ],
		attempts => \@attempts,
		samples => [ $self->{checker}->samples ]);
	diag("netns $test: " . join(' ', map { "$_=$counts{$_}" } sort keys %counts));
	note("history: $file");
	return \%counts;
}

=pod

=back

=cut

1;
