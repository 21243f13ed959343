/* raft_ext--1.1--1.2.sql: upgrade raft_ext from 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION raft_ext UPDATE" to load this file. \quit

-- 1.2: raft_ext.status() and raft_ext.cluster() gain "timeline_standing"
-- (a node's WAL against the timeline history in the Raft log: on history
-- or forked), raft_ext.status() also "primary_wait" (why a leader is not
-- the primary yet) and the switches in effect (fencing, auto_promote,
-- auto_follow, auto_rejoin), and raft_ext.timeline_history() is new.  A function's OUT
-- columns cannot change in place, so the functions and the views over them
-- are made again, with the same comments and grants.
DROP VIEW IF EXISTS public.raft_status;
DROP VIEW raft_ext.raft_status;
DROP FUNCTION raft_ext.status();
DROP VIEW IF EXISTS public.raft_cluster;
DROP VIEW raft_ext.raft_cluster;
DROP FUNCTION raft_ext.cluster();

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
	OUT timeline_standing text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'raft_ext_cluster'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION raft_ext.cluster() IS
'Every member of the Raft cluster as this node knows it (addresses masked)';

CREATE VIEW raft_ext.raft_cluster AS SELECT * FROM raft_ext.cluster();

COMMENT ON VIEW raft_ext.raft_cluster IS
'Every member of the Raft cluster as this node knows it (addresses masked)';

-- The public views again only where earlier versions made them.
DO $$
BEGIN
	IF to_regclass('public.raft_peers') IS NOT NULL THEN
		CREATE VIEW public.raft_status AS SELECT * FROM raft_ext.status();
		COMMENT ON VIEW public.raft_status IS 'Same as raft_ext.raft_status';
		GRANT SELECT ON public.raft_status TO PUBLIC;
		CREATE VIEW public.raft_cluster AS SELECT * FROM raft_ext.cluster();
		COMMENT ON VIEW public.raft_cluster IS 'Same as raft_ext.raft_cluster';
		GRANT SELECT ON public.raft_cluster TO PUBLIC;
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION raft_ext.status() TO PUBLIC;
GRANT SELECT ON raft_ext.raft_status TO PUBLIC;
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
	IF to_regclass('public.raft_peers') IS NOT NULL THEN
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
