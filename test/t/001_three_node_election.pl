
# Copyright: the raft_ext authors.

# Three instances elect exactly one leader that all of them agree on.  When
# the leader's postmaster is killed (kill -9), the two survivors elect a new
# leader in a higher term; when the old leader comes back it rejoins as a
# follower of the new leader, in the newer term.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

my @nodes = RaftTest::create_cluster(3);

# 1. One leader, agreed on by all.
my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
ok(defined $leader, 'three nodes elect a leader');
cmp_ok($term, '>=', 1, 'the first leader has a term of at least 1');
note('first leader: ' . $leader->name . " in term $term");

# Every node's peers are connected to the leader: its log shows it.
$leader->wait_for_log(
	qr/node \d+ is now leader in term $term/, 0);
pass('the leader logged its election');

# Fault injection stays off unless postgresql.conf turns it on, which only a
# server start can do (these nodes leave it off).
my (undef, undef, $fault_err) =
  $leader->psql('postgres', q{SELECT raft_ext.fault_drop('{2}', '{3}')});
like($fault_err, qr/fault injection is disabled/,
	'fault functions are refused while raft_ext.fault_injection is off');
(undef, undef, $fault_err) =
  $leader->psql('postgres', 'SET raft_ext.fault_injection = on');
like($fault_err, qr/cannot be changed without restarting the server/,
	'and it cannot be switched on at run time');

# 2. Kill the leader; the survivors elect a new one in a higher term.
my @survivors = grep { $_ != $leader } @nodes;
RaftTest::kill9($leader);

my ($new_leader, $new_term) =
  RaftTest::wait_for_leader(\@survivors, min_term => $term + 1);
isnt($new_leader->name, $leader->name, 'a survivor becomes the leader');
cmp_ok($new_term, '>', $term, 'the new leader has a higher term');
note('second leader: ' . $new_leader->name . " in term $new_term");

# 3. The old leader restarts and follows the new leader in the newer term.
RaftTest::restart_killed($leader);
my ($final_leader, $final_term) =
  RaftTest::wait_for_leader(\@nodes, min_term => $new_term);
my $rejoined = RaftTest::status($leader);
is($rejoined->{role}, 'follower', 'the old leader rejoins as a follower');
cmp_ok($rejoined->{term}, '>=', $new_term,
	'the old leader knows the newer term');
is($rejoined->{leader_id}, RaftTest::raft_id($final_leader),
	'the old leader follows the current leader');
ok(RaftTest::wait_for_peers_connected($final_leader, 2),
	'the leader is connected to both peers and hears from them');

$_->stop for @nodes;
done_testing();
