/* raft_ext--1.3.sql: install script of raft_ext 1.3 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION raft_ext" to load this file. \quit

-- The schema (raft_ext, from the control file) is readable by everyone: what
-- each function allows is decided by its own EXECUTE grant below.
GRANT USAGE ON SCHEMA raft_ext TO PUBLIC;

---------------------------------------------------------------------------
-- Status
---------------------------------------------------------------------------

CREATE FUNCTION raft_ext.status(
	OUT node_id int,
	OUT role text,
	OUT term bigint,
	OUT voted_for int,
	OUT leader_id int,
	OUT has_lease boolean,
	OUT lease_remaining interval,
	OUT commit_index bigint,
	OUT last_log_index bigint,
	OUT last_contact interval,
	OUT in_recovery boolean,
	OUT wal_position pg_lsn,
	OUT timeline int,
	OUT leader_since timestamptz,
	OUT transfer_target int,
	OUT error text,
	OUT rejoin_state text,
	OUT rejoin_error text,
	OUT timeline_standing text,
	OUT primary_wait text,
	OUT fencing boolean,
	OUT auto_promote boolean,
	OUT auto_follow boolean,
	OUT auto_rejoin boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'raft_ext_status'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.status() IS
'This node''s Raft state: role, term, leader, lease, log, WAL position';

CREATE VIEW raft_ext.raft_status AS SELECT * FROM raft_ext.status();

COMMENT ON VIEW raft_ext.raft_status IS
'This node''s Raft state: role, term, leader, lease, log, WAL position';

CREATE FUNCTION raft_ext.peers(
	OUT peer_id int,
	OUT is_self boolean,
	OUT voter boolean,
	OUT staged boolean,
	OUT conninfo text,
	OUT connected boolean,
	OUT last_contact interval,
	OUT match_index bigint,
	OUT msgs_sent bigint,
	OUT msgs_received bigint,
	OUT msgs_dropped bigint,
	OUT last_error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'raft_ext_peers'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.peers() IS
'Members of the Raft cluster as this node sees them (passwords masked for non-superusers)';

CREATE VIEW raft_ext.raft_peers AS SELECT * FROM raft_ext.peers();

COMMENT ON VIEW raft_ext.raft_peers IS
'Members of the Raft cluster as this node sees them (passwords masked for non-superusers)';

-- The same views in public, so that "SELECT * FROM raft_status" works with
-- the default search_path.  They belong to the extension and go with it.  A
-- database without a public schema gets only the raft_ext ones.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public') THEN
		CREATE VIEW public.raft_status AS SELECT * FROM raft_ext.status();
		CREATE VIEW public.raft_peers AS SELECT * FROM raft_ext.peers();
		COMMENT ON VIEW public.raft_status IS 'Same as raft_ext.raft_status';
		COMMENT ON VIEW public.raft_peers IS 'Same as raft_ext.raft_peers';
		GRANT SELECT ON public.raft_status, public.raft_peers TO PUBLIC;
	END IF;
END
$$;

---------------------------------------------------------------------------
-- Questions
---------------------------------------------------------------------------

CREATE FUNCTION raft_ext.is_leader()
RETURNS boolean
AS 'MODULE_PATHNAME', 'raft_ext_is_leader'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.is_leader() IS
'Whether this node is the Raft leader';

CREATE FUNCTION raft_ext.leader_id()
RETURNS int
AS 'MODULE_PATHNAME', 'raft_ext_leader_id'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.leader_id() IS
'Id of the leader this node knows of, NULL if none';

CREATE FUNCTION raft_ext.fencing_token()
RETURNS bigint
AS 'MODULE_PATHNAME', 'raft_ext_fencing_token'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.fencing_token() IS
'The current term while this node holds the leader''s lease, else NULL';

CREATE FUNCTION raft_ext.wait_for_leader(timeout interval DEFAULT '10s')
RETURNS int
AS 'MODULE_PATHNAME', 'raft_ext_wait_for_leader'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.wait_for_leader(interval) IS
'Wait until a leader is known and return its id; error after the timeout';

CREATE FUNCTION raft_ext.validate_settings()
RETURNS text
AS 'MODULE_PATHNAME', 'raft_ext_validate_settings'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.validate_settings() IS
'NULL if the raft_ext.* settings are consistent, else what is wrong';

---------------------------------------------------------------------------
-- Requests (not executable by PUBLIC)
---------------------------------------------------------------------------

CREATE FUNCTION raft_ext.transfer_leadership(target int)
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_transfer_leadership'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.transfer_leadership(int) IS
'Hand leadership to another voter and wait until it leads';

CREATE FUNCTION raft_ext.add_node(id int, conninfo text)
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_add_node'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.add_node(int, text) IS
'Add a member to the Raft cluster (on the leader)';

CREATE FUNCTION raft_ext.remove_node(id int)
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_remove_node'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.remove_node(int) IS
'Remove a member from the Raft cluster (on the leader)';

-- The transport endpoint: peers' workers call it with batches of messages.
-- Grant it to the role the peers connect as, e.g.
--   GRANT EXECUTE ON FUNCTION raft_ext.receive(bytea) TO raft_peer_role;
CREATE FUNCTION raft_ext.receive(batch bytea)
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_receive'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.receive(bytea) IS
'Transport endpoint: queue a batch of Raft messages from a peer';

---------------------------------------------------------------------------
-- Privileges
---------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION raft_ext.receive(bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.transfer_leadership(int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.add_node(int, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.remove_node(int) FROM PUBLIC;
-- Its messages can quote parts of raft_ext.peers, which may hold passwords.
REVOKE EXECUTE ON FUNCTION raft_ext.validate_settings() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION raft_ext.status() TO PUBLIC;
GRANT EXECUTE ON FUNCTION raft_ext.peers() TO PUBLIC;
GRANT EXECUTE ON FUNCTION raft_ext.is_leader() TO PUBLIC;
GRANT EXECUTE ON FUNCTION raft_ext.leader_id() TO PUBLIC;
GRANT EXECUTE ON FUNCTION raft_ext.fencing_token() TO PUBLIC;
GRANT EXECUTE ON FUNCTION raft_ext.wait_for_leader(interval) TO PUBLIC;
GRANT SELECT ON raft_ext.raft_status, raft_ext.raft_peers TO PUBLIC;

---------------------------------------------------------------------------
-- Fault injection (tests only)
---------------------------------------------------------------------------

-- Every function below raises an error unless raft_ext.fault_injection is
-- on; a test cluster turns it on in postgresql.conf, so that the worker acts
-- on the faults too.  None of them is executable by PUBLIC.

CREATE FUNCTION raft_ext.fault_drop(to_nodes int[] DEFAULT '{}',
									from_nodes int[] DEFAULT '{}')
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_fault_drop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.fault_drop(int[], int[]) IS
'Tests only: drop this node''s messages to to_nodes and from from_nodes';

CREATE FUNCTION raft_ext.fault_clear()
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_fault_clear'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.fault_clear() IS
'Tests only: stop dropping messages and disarm the failpoint';

CREATE FUNCTION raft_ext.fault_failpoint(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'raft_ext_fault_failpoint'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION raft_ext.fault_failpoint(text) IS
'Tests only: arm a failpoint by name (''none'' disarms)';

CREATE FUNCTION raft_ext.fault_state(
	OUT drop_to int[],
	OUT drop_from int[],
	OUT failpoint text)
RETURNS record
AS 'MODULE_PATHNAME', 'raft_ext_fault_state'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.fault_state() IS
'Tests only: the message drop masks and the armed failpoint';

REVOKE EXECUTE ON FUNCTION raft_ext.fault_drop(int[], int[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.fault_clear() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.fault_failpoint(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION raft_ext.fault_state() FROM PUBLIC;

-- raft_cluster, every member as this node knows it: the same picture as
-- the HTTP endpoint's /cluster.  Sources: member_id, address, voter,
-- connected and last_contact from the Raft worker's status snapshot (the
-- raft_peers columns; address always masked); raft_role: this node's own
-- role, "leader" for the leader it knows of, else follower or learner;
-- pg_role, timeline, lsn: this node's own; on a primary, for a standby
-- streaming from it, its walsender (pg_stat_replication's replay_lsn); on a
-- standby, for the member it streams from, "primary" and the WAL end that
-- one last reported (pg_stat_wal_receiver's latest_end_lsn); lag: bytes of
-- WAL this node has that the member has not replayed; slot and
-- slot_retained_bytes, on the primary: the member's slot (raft_ext.
-- member_slots: active, inactive, lost, missing) and the WAL it retains;
-- logical_slots (raft_ext.sync_logical_slots): whether the member's copies
-- of the failover slots would survive its promotion, "ready" or "not
-- ready": a standby's own, and on the leading primary every standby's;
-- NULL where this node cannot know.
CREATE FUNCTION raft_ext.cluster(
	OUT member_id int,
	OUT is_self boolean,
	OUT address text,
	OUT voter boolean,
	OUT connected boolean,
	OUT raft_role text,
	OUT pg_role text,
	OUT timeline int,
	OUT lsn pg_lsn,
	OUT lag bigint,
	OUT last_contact interval,
	OUT rejoin_state text,
	OUT rejoin_error text,
	OUT timeline_standing text,
	OUT slot text,
	OUT slot_retained_bytes bigint,
	OUT logical_slots text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'raft_ext_cluster'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.cluster() IS
'Every member of the Raft cluster as this node knows it (addresses masked)';

CREATE VIEW raft_ext.raft_cluster AS SELECT * FROM raft_ext.cluster();

COMMENT ON VIEW raft_ext.raft_cluster IS
'Every member of the Raft cluster as this node knows it (addresses masked)';

DO $$
BEGIN
	IF to_regclass('public.raft_status') IS NOT NULL THEN
		CREATE VIEW public.raft_cluster AS SELECT * FROM raft_ext.cluster();
		COMMENT ON VIEW public.raft_cluster IS 'Same as raft_ext.raft_cluster';
		GRANT SELECT ON public.raft_cluster TO PUBLIC;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION raft_ext.cluster() TO PUBLIC;
GRANT SELECT ON raft_ext.raft_cluster TO PUBLIC;

---------------------------------------------------------------------------
-- Timeline history (1.2)
---------------------------------------------------------------------------

-- The timeline history that this node's Raft log holds: which node promoted
-- to which timeline, in which term, where the timeline begins on its
-- parent, when and why (first primary, promotion, adopted).  Committed
-- steps are the same on every member.  WAL positions are judged against
-- this history, never by timeline number (docs/failover.md).
CREATE FUNCTION raft_ext.timeline_history(
	OUT step int,
	OUT term bigint,
	OUT node_id int,
	OUT timeline int,
	OUT parent_timeline int,
	OUT begins_at pg_lsn,
	OUT promoted_at timestamptz,
	OUT reason text,
	OUT committed boolean,
	OUT log_index bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'raft_ext_timeline_history'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.timeline_history() IS
'The timeline history in the Raft log: every promotion, oldest first';

CREATE VIEW raft_ext.raft_timeline_history AS
	SELECT * FROM raft_ext.timeline_history();

COMMENT ON VIEW raft_ext.raft_timeline_history IS
'The timeline history in the Raft log: every promotion, oldest first';

DO $$
BEGIN
	IF to_regclass('public.raft_status') IS NOT NULL THEN
		CREATE VIEW public.raft_timeline_history AS
			SELECT * FROM raft_ext.timeline_history();
		COMMENT ON VIEW public.raft_timeline_history IS
			'Same as raft_ext.raft_timeline_history';
		GRANT SELECT ON public.raft_timeline_history TO PUBLIC;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION raft_ext.timeline_history() TO PUBLIC;
GRANT SELECT ON raft_ext.raft_timeline_history TO PUBLIC;
