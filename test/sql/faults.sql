-- Fault injection: on in the regress configuration (it can only be set at
-- server start), so the functions act: argument checks, the state they
-- leave, and no EXECUTE for PUBLIC.  (The refusal while it is off is
-- checked by TAP 001, whose nodes leave it off.)

SHOW raft_ext.fault_injection;
SELECT raft_ext.fault_drop('{2}', '{3}');
SELECT raft_ext.fault_clear();
SELECT raft_ext.fault_failpoint('none');
SELECT * FROM raft_ext.fault_state();

-- Not at run time, not even for a session.
SET raft_ext.fault_injection = on;
SELECT * FROM raft_ext.fault_state();
SELECT raft_ext.fault_drop('{2,3}', '{64}');
SELECT * FROM raft_ext.fault_state();
SELECT raft_ext.fault_drop(to_nodes => '{1}');
SELECT * FROM raft_ext.fault_state();
SELECT raft_ext.fault_drop(NULL, NULL);
SELECT * FROM raft_ext.fault_state();
SELECT raft_ext.fault_drop('{0}', '{}');
SELECT raft_ext.fault_drop('{}', '{65}');
SELECT raft_ext.fault_drop('{1,NULL}', '{}');
SELECT raft_ext.fault_drop('{{1},{2}}', '{}');
SELECT raft_ext.fault_failpoint('crash-after-vote-persist');
SELECT failpoint FROM raft_ext.fault_state();
SELECT raft_ext.fault_failpoint('crash-mid-state-write');
SELECT failpoint FROM raft_ext.fault_state();
SELECT raft_ext.fault_failpoint('no-such-failpoint');
SELECT raft_ext.fault_failpoint(NULL);
SELECT raft_ext.fault_drop('{2}', '{2}');
SELECT raft_ext.fault_clear();
SELECT * FROM raft_ext.fault_state();

-- Not for PUBLIC, even with the switch on.
CREATE ROLE regress_raft_faults;
SET ROLE regress_raft_faults;
SELECT raft_ext.fault_drop('{2}', '{}');
SELECT raft_ext.fault_clear();
SELECT raft_ext.fault_failpoint('none');
SELECT * FROM raft_ext.fault_state();
RESET ROLE;
DROP ROLE regress_raft_faults;

SELECT raft_ext.fault_clear();
