# Copyright: the raft_ext authors.

# The invariant checker can see breaches at all: RaftInvariants::self_test
# feeds it synthetic histories with known breaches (two leaders in a term, a
# term going back, two votes in a term, overlapping leases, ...), and two
# independent one-node clusters sampled as if they were one must show
# breaches.  The totals of a run (what every scenario recorded) are added up
# after prove by scripts/test-summary.pl.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use RaftChecker;
use RaftInvariants;
use Test::More;

# The checker detects what it should, and nothing else.
for my $case (RaftInvariants::self_test())
{
	my ($name, $want, $got, $breaches) = @$case;
	is($got, $want, "checker self-test: $name ($want breach"
		  . ($want == 1 ? '' : 'es') . ')')
	  or diag(join("\n", @$breaches));
}

# The same, end to end on live nodes: two independent one-node clusters
# each elect themselves in term 1 and hold a lease.  Sampled as if they were
# one cluster, that must show as two leaders in one term and overlapping
# leases.  (Not recorded in the run's totals.)
my @pair;
for my $id (1, 2)
{
	my $node = PostgreSQL::Test::Cluster->new("solo$id");
	$node->init;
	$node->{raft_id} = $id;
	my %t = %RaftTest::DEFAULT_TIMING;
	$node->append_conf('postgresql.conf',
		    "shared_preload_libraries = 'raft_ext'\n"
		  . "raft_ext.node_id = $id\n"
		  . "raft_ext.peers = '$id:" . RaftTest::conninfo($node) . "'\n"
		  . join('', map { "raft_ext.$_ = '$t{$_}'\n" } sort keys %t));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION raft_ext');
	push @pair, $node;
}
my $control = RaftChecker->start(\@pair);
for my $node (@pair)
{
	$node->poll_query_until('postgres',
		'SELECT has_lease FROM raft_ext.raft_status')
	  or die $node->name . ' never got its lease';
}
# Let both be sampled with their leases for a few rounds.
$pair[$_]->poll_query_until('postgres',
	q{SELECT now() - pg_postmaster_start_time() > '1s'}) for 0, 1;
my $r = $control->stop;
note("live control: $_") for @{ $r->{breaches} };
ok((grep { /^term \d+ has two leaders/ } @{ $r->{breaches} }),
	'live control: the checker sees two leaders in one term');
ok((grep { /^leases overlap/ } @{ $r->{breaches} }),
	'live control: the checker sees two overlapping leases');
$_->stop for @pair;

done_testing();
