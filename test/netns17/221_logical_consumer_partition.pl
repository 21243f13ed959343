# Copyright: the raft_ext authors.

# A logical consumer across a real network partition of the primary
# (PostgreSQL 17 and later: raft_ext.sync_logical_slots).
#
# Three nodes, raft_ext.synchronous = quorum, wal_level = logical, member
# slots and auto_rejoin on; slot "cdc" with failover = true; pg_recvlogical
# (test_decoding) in the client namespace reads it through a conninfo that
# names every node with target_session_attrs=read-write, while the
# framework's writers commit rows.  Twice: the primary is cut off from both
# standbys (the client still reaches it) until the majority has elected
# and promoted a new primary, the cut holds, then heals; the old primary
# rejoins by itself.  Before each cut the standbys have the slot ready
# (raft_cluster.logical_slots on the primary).
#
# The consumer resumes on each new primary by itself; at the end every row
# of the final primary reached it (no lost change) and it received no row
# the final primary lacks (the cut-off primary's logical WAL sender sends
# nothing its standbys have not flushed: synchronized_standby_slots, and
# its fence ends it); duplicates (at-least-once delivery) are counted.
# The checker's invariants and the writers' safety checks hold throughout.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftNetns;
use RaftNetnsSteps;
use Test::More;

my ($major) = `pg_config --version` =~ /(\d+)/;
die "test/netns17 needs PostgreSQL 17 or later (slot synchronization), not $major\n"
  if $major < 17;

my $c = RaftNetns->new(nodes => 3, sync => 'quorum', auto_rejoin => 'on',
	extra_conf => "wal_level = logical\n"
	  . "max_slot_wal_keep_size = '1GB'\n"
	  . "raft_ext.sync_logical_slots = on\n");
my $run = RaftNetnsSteps->begin($c);
my ($primary) = $c->wait_primary;

# Each standby's copies of the failover slots as the primary shows them.
sub copies_ready
{
	my ($p) = @_;
	my $out = '';
	$p->psql('postgres',
		q{SELECT count(*) FILTER (WHERE logical_slots = 'ready') = count(*)
		    FROM raft_ext.raft_cluster WHERE NOT is_self},
		stdout => \$out, timeout => 10);
	return $out eq 't';
}

is($primary->safe_psql('postgres',
		"SELECT count(*) FROM pg_create_logical_replication_slot('cdc', 'test_decoding', false, false, true)"),
	'1', 'slot "cdc" made with failover = true');
# The writers began before the slot: a row committed before its consistent
# point is not decoded, and each such row is visible now; a row not
# visible now commits later and must reach the consumer.
my %existing = map { $_ => 1 } split /\n/, $primary->safe_psql('postgres', 'SELECT id FROM nx_rows');

my $all = 'host=' . join(',', map { $_->{addr} } $c->nodes)
  . ' port=' . join(',', map { $_->port } $c->nodes)
  . ' dbname=postgres user=postgres target_session_attrs=read-write connect_timeout=2';
my $changes = $c->{base} . '/changes.txt';
my $consumer_log = $c->{base} . '/pg_recvlogical.log';
# messages to a file: a pipe nobody reads would fill and stop it
my $consumer = IPC::Run::start(
	[ $c->in_client("$c->{bindir}/pg_recvlogical", '-d', $all, '--slot', 'cdc', '--start',
			'-f', $changes, '-F', '1', '-s', '1') ],
	'<', \undef, '>', $consumer_log, '2>', $consumer_log);

# The row ids the consumer has written, each with how often.
sub consumed
{
	my %seen;
	return \%seen unless -f $changes;
	my $text = slurp_file($changes);
	$seen{$1}++ while $text =~ /table public\.nx_rows: INSERT: id\[text\]:'([^']+)'/g;
	return \%seen;
}

ok(RaftFaults::poll_until(sub { scalar(keys %{ consumed() }) >= 100 }, 'the first rows', 60),
	'the consumer receives the writers\' rows')
  or diag(-f $consumer_log ? slurp_file($consumer_log) : 'no consumer output');

for my $round (1, 2)
{
	my ($p) = $c->wait_primary;
	ok(RaftFaults::poll_until(sub { copies_ready($p) }, 'the slot ready', 120),
		"round $round: every standby has the slot ready (raft_cluster.logical_slots)");
	my $before = scalar(keys %{ consumed() });
	my ($new, $old) = $run->isolate_primary(hold => 3, label => "round $round");
	my ($leader, $former, $diverged) = $run->heal_and_settle(whole => 1);
	is(scalar(@$former) + scalar(@$diverged), 0,
		"round $round: the cluster is whole again by itself");
	ok(RaftFaults::poll_until(sub { scalar(keys %{ consumed() }) >= $before + 200 }, 'new rows', 90),
		"round $round: the consumer resumed on the new primary " . $leader->name)
	  or diag(slurp_file($consumer_log));
}

my ($final) = $c->wait_primary;
my $counts = $run->conclude;
my %final = map { $_ => 1 } split /\n/, $final->safe_psql('postgres', 'SELECT id FROM nx_rows');
my @expected = grep { !$existing{$_} } keys %final;
ok(RaftFaults::poll_until(sub { my $seen = consumed(); !grep { !$seen->{$_} } @expected }, 'every row', 90),
	'every row of the final primary committed after the slot was made reached the consumer (no lost change)')
  or diag('missing: ' . join(',', (grep { !consumed()->{$_} } sort @expected)[0 .. 20]));
my $seen = consumed();
my @phantom = grep { !$final{$_} } keys %$seen;
is(scalar(@phantom), 0, 'the consumer received no row that the final primary lacks')
  or diag('phantom: ' . join(',', (sort @phantom)[0 .. 20]));
my $dups = grep { $seen->{$_} > 1 } keys %$seen;
diag('221 consumer: rows=' . scalar(keys %final) . ' (' . scalar(@expected) . ' after the slot was made) received='
	  . scalar(keys %$seen)
	  . " duplicates=$dups lost=0 phantom=" . scalar(@phantom));
$consumer->kill_kill;
eval { $consumer->finish };
done_testing();
