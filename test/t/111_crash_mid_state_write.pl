# Copyright: the raft_ext authors.

# The worker dies in the middle of writing its state file (the failpoint
# 'crash-mid-state-write'): the temporary file holds half a record, the
# rename over "state" never happens, and nothing is sent (the contract:
# durable before anything leaves the node).  After the postmaster restarts
# the worker, the old state must still be valid and in use: no error, a term
# no lower than before, no vote given twice, and the half-written temporary
# file gone.
#
# Three nodes.  The failpoint is armed on both followers and the leader is
# killed (kill -9).  The first survivor to write its state (as it campaigns,
# or as it votes) dies halfway; then the other.  For each one that died:
#  - while its worker was down, "state.tmp" held exactly the bytes the
#    failpoint reported and "state" was still a whole 104-byte record with
#    the term it had before the write;
#  - the restarted worker starts in that old term, runs Raft without error
#    and has removed "state.tmp";
#  - it never reports a term lower than the one seen before the crash.
# The two survivors then elect a leader, the killed leader rejoins, and the
# invariant checker (sampling every node for the whole test) stays clean.
#
# Like 110_crash_after_vote.pl, the failpoint exits with proc_exit(1): the
# postmaster restarts only the worker, after bgw_restart_time (1 s).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftFaults;
use RaftScenario;
use Test::More;
use Time::HiRes qw(usleep time);

my @nodes = RaftFaults::create_cluster(3);
my ($checker, $faults) = RaftScenario::watch(\@nodes);

# Size of a file, or undef if it does not exist.
sub size_of
{
	my ($path) = @_;
	return -e $path ? -s $path : undef;
}

# Term in a whole state file (u64 at offset 80 of 104 bytes), else undef.
sub file_term
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or return undef;
	local $/;
	my $buf = <$fh>;
	close $fh;
	return undef unless defined $buf && length($buf) == 104;
	return unpack('Q<', substr($buf, 80, 8));
}

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
note('leader: ' . $leader->name . " in term $term");
my @followers = grep { $_ != $leader } @nodes;
my %offset = map { $_->name => -s $_->logfile } @followers;
my %before = map { $_->name => RaftTest::status($_)->{term} } @followers;

$_->safe_psql('postgres',
	q{SELECT raft_ext.fault_failpoint('crash-mid-state-write')})
  for @followers;
$faults->kill9($leader);

# Watch the followers' logs every 20 ms until the survivors elect a leader;
# when a worker reports the failpoint, look at its files at once, while it
# is down (the postmaster restarts it a second later).
my $fp_re = qr/failpoint crash-mid-state-write: wrote (\d+) of (\d+) bytes of "([^"]+)" \(term (\d+)/;
my %fired;
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
my ($new_leader, $new_term);
my $next_look = 0;
while (time() < $deadline)
{
	for my $node (@followers)
	{
		next if $fired{ $node->name };
		my $log = slurp_file($node->logfile, $offset{ $node->name });
		next unless $log =~ $fp_re;
		my %f = (written => $1, size => $2, tmp => $3, new_term => $4);
		my $dir = $node->data_dir . '/pg_raft';
		$f{tmp_size} = size_of("$dir/state.tmp");
		$f{file_term} = file_term("$dir/state");
		$log = slurp_file($node->logfile, $offset{ $node->name });
		$f{read_while_down} = $log !~ /$fp_re.*LOG:  node \d+ started/s;
		$fired{ $node->name } = \%f;
		$faults->record_fault($node->name
			  . ": worker exit halfway through writing term $f{new_term}");
	}
	if (time() >= $next_look)
	{
		($new_leader, $new_term) = RaftTest::agreed_leader(\@followers);
		last if defined $new_leader && $new_term > $term;
		$next_look = time() + 0.2;
	}
	usleep(20_000);
}
ok(defined $new_leader, 'the two survivors elect a leader')
  and note('new leader: ' . $new_leader->name . " in term $new_term");
cmp_ok(scalar(keys %fired), '>=', 1,
	'at least one worker died halfway through a state write');

$_->safe_psql('postgres', q{SELECT raft_ext.fault_failpoint('none')})
  for @followers;

for my $node (grep { $fired{ $_->name } } @followers)
{
	my $f = $fired{ $node->name };
	my $name = $node->name;
	my $dir = $node->data_dir . '/pg_raft';
	note("$name wrote $f->{written} of $f->{size} bytes of term $f->{new_term} and exited");
	cmp_ok($f->{written}, '<', $f->{size}, "$name: the write was cut short");

  SKIP:
	{
		skip "$name restarted before its files were read", 2
		  unless $f->{read_while_down};
		is($f->{tmp_size}, $f->{written},
			"$name: state.tmp held only the half that was written");
		is($f->{file_term}, $before{$name},
			"$name: state still held the old term, whole");
	}

	# The restarted worker starts from the old state.
	$node->wait_for_log(qr/$fp_re.*LOG:  node \d+ started in term \d+/s,
		$offset{$name});
	my $after = slurp_file($node->logfile, $offset{$name});
	my (undef, undef, undef, undef, $start_term) =
	  $after =~ /$fp_re.*?LOG:  node \d+ started in term (\d+)/s;
	cmp_ok($start_term, '>=', $before{$name},
		"$name: the restarted worker starts in term $start_term, not below the term seen before");
	cmp_ok($start_term, '<', $f->{new_term},
		"$name: the half-written term was not taken")
	  if $f->{new_term} > $before{$name};

	ok( $node->poll_query_until(
			'postgres',
			'SELECT error IS NULL AND role <> \'stopped\' FROM raft_ext.raft_status'),
		"$name: Raft runs without error after the restart");
	ok(!-e "$dir/state.tmp", "$name: the half-written state.tmp is gone");
	cmp_ok(RaftTest::status($node)->{term}, '>=', $before{$name},
		"$name: its term never went back");
}

$faults->restart($leader);
my ($final, $final_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $new_term // $term + 1);
ok(defined $final, 'all three agree on a leader after the old one restarts');

RaftScenario::finish($checker, $faults, \@nodes, 2);
