-- Argument checking of the SQL functions, and requests that the one-node
-- cluster refuses.

SELECT raft_ext.wait_for_leader('30s') AS leader;

-- wait_for_leader
SELECT raft_ext.wait_for_leader('-1s');
SELECT raft_ext.wait_for_leader(NULL);
SELECT raft_ext.wait_for_leader('2 days');
SELECT raft_ext.wait_for_leader('0') AS leader;
SELECT raft_ext.wait_for_leader() AS leader;

-- transfer_leadership
SELECT raft_ext.transfer_leadership(NULL);
SELECT raft_ext.transfer_leadership(0);
SELECT raft_ext.transfer_leadership(-5);
SELECT raft_ext.transfer_leadership(99);
-- to itself: nothing to do
SELECT raft_ext.transfer_leadership(1);
SELECT raft_ext.leader_id();

-- add_node
SELECT raft_ext.add_node(NULL, 'host=localhost');
SELECT raft_ext.add_node(0, 'host=localhost');
SELECT raft_ext.add_node(2, NULL);
SELECT raft_ext.add_node(2, '');
SELECT raft_ext.add_node(2, 'nonsense');
SELECT raft_ext.add_node(2, 'host=localhost bogus=1');
SELECT raft_ext.add_node(2, 'host=' || repeat('x', 1100));
-- control characters are refused, and libpq's complaints are masked
SELECT raft_ext.add_node(2, E'host=localhost\nport=5432');
SELECT raft_ext.add_node(2, E'host=localhost application_name=\'x\ty\'');
SELECT raft_ext.add_node(2, 'host=localhost password');
SELECT raft_ext.add_node(1, 'dbname=postgres');

-- remove_node
SELECT raft_ext.remove_node(NULL);
SELECT raft_ext.remove_node(-1);
SELECT raft_ext.remove_node(99);

-- still the leader of a one-node cluster
SELECT raft_ext.is_leader(), (SELECT count(*) FROM raft_peers) AS members;
