-- What an unprivileged role may do: read the status, not change anything,
-- not feed the transport, and not see passwords.

CREATE ROLE regress_raft_reader;
CREATE ROLE regress_raft_peer;
GRANT EXECUTE ON FUNCTION raft_ext.receive(bytea) TO regress_raft_peer;

SET ROLE regress_raft_reader;
SELECT node_id, role FROM raft_status;
SELECT node_id FROM raft_ext.raft_status;
SELECT raft_ext.is_leader(), raft_ext.leader_id();
SELECT coalesce(raft_ext.fencing_token() > 0, true) AS token_ok;
SELECT raft_ext.wait_for_leader('10s') AS leader;
SELECT peer_id, conninfo FROM raft_peers;
SELECT raft_ext.receive('\x00');
SELECT raft_ext.transfer_leadership(1);
SELECT raft_ext.add_node(2, 'host=localhost');
SELECT raft_ext.remove_node(2);
SELECT raft_ext.validate_settings();
-- PostgreSQL's own wording of this refusal changed in 16: its SQLSTATE only.
\set VERBOSITY sqlstate
SHOW raft_ext.peers;
\set VERBOSITY default
RESET ROLE;

-- A role granted receive() gets past the permission check.
SET ROLE regress_raft_peer;
SELECT raft_ext.receive('\x00');
RESET ROLE;

-- A superuser sees the conninfo as configured.
SELECT peer_id, conninfo FROM raft_peers;

DROP ROLE regress_raft_reader;
REVOKE EXECUTE ON FUNCTION raft_ext.receive(bytea) FROM regress_raft_peer;
DROP ROLE regress_raft_peer;
