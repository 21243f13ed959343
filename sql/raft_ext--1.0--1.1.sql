/* raft_ext--1.0--1.1.sql: upgrade raft_ext from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION raft_ext UPDATE" to load this file. \quit

-- 1.1: raft_ext.peers() gains the "staged" column (a member added by
-- add_node that is still catching up as a non-voter).  A function's OUT
-- columns cannot change in place, so the function and the views over it are
-- made again, with the same comments and grants.
DROP VIEW IF EXISTS public.raft_peers;
DROP VIEW raft_ext.raft_peers;
DROP FUNCTION raft_ext.peers();

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

-- public.raft_peers again only where 1.0 made the public views.
DO $$
BEGIN
	IF to_regclass('public.raft_status') IS NOT NULL THEN
		CREATE VIEW public.raft_peers AS SELECT * FROM raft_ext.peers();
		COMMENT ON VIEW public.raft_peers IS 'Same as raft_ext.raft_peers';
		GRANT SELECT ON public.raft_peers TO PUBLIC;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION raft_ext.peers() TO PUBLIC;
GRANT SELECT ON raft_ext.raft_peers TO PUBLIC;

-- 1.1: raft_cluster, every member as this node knows it: the same picture as
-- the HTTP endpoint's /cluster.  Sources: member_id, address, voter,
-- connected and last_contact from the Raft worker's status snapshot (the
-- raft_peers columns; address always masked); raft_role: this node's own
-- role, "leader" for the leader it knows of, else follower or learner;
-- pg_role, timeline, lsn: this node's own; on a primary, for a standby
-- streaming from it, its walsender (pg_stat_replication's replay_lsn); on a
-- standby, for the member it streams from, "primary" and the WAL end that
-- one last reported (pg_stat_wal_receiver's latest_end_lsn); lag: bytes of
-- WAL this node has that the member has not replayed; NULL where this node
-- cannot know.
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
	OUT rejoin_error text)
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

-- 1.1: raft_ext.status() gains rejoin_state and rejoin_error
-- (raft_ext.auto_rejoin), made again the same way.
DROP VIEW IF EXISTS public.raft_status;
DROP VIEW raft_ext.raft_status;
DROP FUNCTION raft_ext.status();

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
	OUT rejoin_error text)
RETURNS record
AS 'MODULE_PATHNAME', 'raft_ext_status'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.status() IS
'This node''s Raft state: role, term, leader, lease, log, WAL position';

CREATE VIEW raft_ext.raft_status AS SELECT * FROM raft_ext.status();

COMMENT ON VIEW raft_ext.raft_status IS
'This node''s Raft state: role, term, leader, lease, log, WAL position';

-- public.raft_status again where public.raft_peers was made again above.
DO $$
BEGIN
	IF to_regclass('public.raft_peers') IS NOT NULL THEN
		CREATE VIEW public.raft_status AS SELECT * FROM raft_ext.status();
		COMMENT ON VIEW public.raft_status IS 'Same as raft_ext.raft_status';
		GRANT SELECT ON public.raft_status TO PUBLIC;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION raft_ext.status() TO PUBLIC;
GRANT SELECT ON raft_ext.raft_status TO PUBLIC;
