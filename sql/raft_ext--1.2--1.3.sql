/* raft_ext--1.2--1.3.sql: upgrade raft_ext from 1.2 to 1.3 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION raft_ext UPDATE" to load this file. \quit

-- 1.3: raft_ext.cluster() gains "slot" and "slot_retained_bytes" (on the
-- primary, each member's slot with raft_ext.member_slots, and the WAL it
-- retains) and "logical_slots" (with raft_ext.sync_logical_slots, whether
-- a member's copies of the failover slots would survive its promotion).  A function's OUT columns cannot change in place, so the
-- function and the views over it are made again, with the same comments
-- and grants.
DROP VIEW IF EXISTS public.raft_cluster;
DROP VIEW raft_ext.raft_cluster;
DROP FUNCTION raft_ext.cluster();

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

-- The public view again only where earlier versions made one.
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
