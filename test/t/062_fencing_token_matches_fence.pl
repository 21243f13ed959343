
# Copyright: the raft_ext authors.

# Rule fencing_token_matches_fence: a write that passed the fence read a
# fencing token.  raft_ext.fencing_token() is what a client records to prove
# that its write was made under the lease (the partition suites check every
# acknowledged write by it), so it must read the lease the fence reads.
#
# The worker publishes a new lease (the word the fence reads) before the
# status snapshot that shows it; in between, backends already pass the
# fence.  A token read from the snapshot was NULL there, and a CI run of
# 212_primary_isolated_quorum recorded an acknowledged write "without a
# fencing token".  Failpoint "stall-after-lease" holds that window open:
# node2's worker stalls right after it published the lease it gained by a
# leadership transfer, before its snapshot shows it.  A session on node2
# retries an INSERT that records the token until the fence lets one
# through; the token it recorded must be the new term.  (With the token
# read from the snapshot, this test fails: the mutant check.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftFaults;
use RaftTest;
use Test::More;

# The first INSERT the fence lets through, and the token it recorded.
my $FIRST_WRITE = q{CREATE FUNCTION first_write() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t bigint;
BEGIN
	FOR i IN 1 .. 4000 LOOP
		BEGIN
			INSERT INTO tok VALUES (i, raft_ext.fencing_token()) RETURNING token INTO t;
			-- a notice reaches the client now, even if the commit fails
			RAISE NOTICE 'token=%', coalesce(t::text, 'NULL');
			RETURN coalesce(t::text, 'NULL');
		EXCEPTION WHEN read_only_sql_transaction THEN
			PERFORM pg_sleep(0.005);
		END;
	END LOOP;
	RETURN 'refused';
END $$};

# Fencing off at first, so that every node can create its table (separate
# instances, no replication); on once the tables exist.
my @nodes = RaftFaults::create_cluster(3, extra_conf => "raft_ext.fencing = off\n");
for my $node (@nodes)
{
	$node->safe_psql('postgres', 'CREATE TABLE tok (id int, token bigint)');
	$node->safe_psql('postgres', $FIRST_WRITE);
	$node->append_conf('postgresql.conf', "raft_ext.fencing = on\n");
	$node->reload;
	$node->poll_query_until('postgres', 'SHOW raft_ext.fencing', 'on')
	  or die $node->name . ': raft_ext.fencing did not turn on';
}

my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
my ($target) = grep { $_ != $leader } @nodes;
my $target_id = RaftTest::raft_id($target);
note('leader ' . $leader->name . " in term $term; target " . $target->name);

# The writer on the target: a read-write session that retries (every 5 ms,
# for up to 20 s) an INSERT recording the token until the fence lets one
# through (first_write), and prints the token it recorded.
my $writer = $target->background_psql('postgres', on_error_stop => 0);
$writer->query_safe('SET default_transaction_read_only = off');

$target->safe_psql('postgres',
	q{SELECT raft_ext.fault_failpoint('stall-after-lease')});
$writer->query_until(qr/writing/,
	"\\echo writing\nSELECT first_write();\n");
# (the call may report that the target did not confirm: it stalls)
$leader->psql('postgres', "SELECT raft_ext.transfer_leadership($target_id)",
	on_error_die => 0);

ok( RaftFaults::poll_until(
		sub {
			slurp_file($target->logfile) =~
			  /failpoint stall-after-lease: the raft_ext worker of node $target_id stops working/;
		},
		'the target stalls after publishing its lease', 20),
	'the target stalled between publishing its lease and its snapshot');

# Whatever happens, the stall ends when the writer is done.
my $out = $writer->query('SELECT 1');
$target->safe_psql('postgres', 'SELECT raft_ext.fault_clear()');
my ($token) = $writer->{stderr} =~ /token=(\w+)/;
($token) = $out =~ /^(refused)$/m unless defined $token;
$writer->quit;
note("the first write on the target recorded token " . ($token // '(none)'));

ok(defined $token && $token ne 'refused',
	'the fence let a write through on the target');
like($token // '', qr/^\d+$/,
	'fencing_token_matches_fence: the write that passed the fence read a token');
cmp_ok(($token // "") =~ /^\d+$/ ? $token : 0, '>', $term,
	'the token is the target\'s term, higher than the old leader\'s');

# The stall over, the snapshot catches up and agrees.
my ($final, $final_term) = RaftTest::wait_for_leader(\@nodes, min_term => $term + 1);
ok( $final->poll_query_until('postgres',
		'SELECT raft_ext.fencing_token() = term FROM raft_status'),
	'after the stall the token and raft_status agree on the leader');
$_->stop for @nodes;
done_testing();
