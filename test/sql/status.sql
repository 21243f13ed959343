-- The one-node cluster of test/regress.conf elects itself; the status views,
-- is_leader(), leader_id() and fencing_token() then say so.

SELECT raft_ext.wait_for_leader('30s') AS leader;

-- The leader's lease follows its first acknowledged heartbeat round, and is
-- renewed every heartbeat; a loaded machine may let it lapse for a moment, so
-- the lease checks poll until they see it (up to 30 s).
CREATE FUNCTION lease_seen() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..600 LOOP
		IF EXISTS (SELECT FROM raft_status
					WHERE has_lease
					  AND lease_remaining > '0' AND lease_remaining <= '200ms'
					  AND raft_ext.fencing_token() = term) THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN false;
END
$$;
SELECT lease_seen();
DROP FUNCTION lease_seen();

-- Columns of the view (raft_ext.raft_status and public.raft_status agree).
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'raft_ext.raft_status'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT count(*) AS same_columns
  FROM pg_attribute a JOIN pg_attribute b USING (attnum, attname, atttypid)
 WHERE a.attrelid = 'raft_ext.raft_status'::regclass
   AND b.attrelid = 'public.raft_status'::regclass AND attnum > 0;

SELECT node_id, role, term > 0 AS has_term, voted_for, leader_id,
       commit_index >= 1 AS committed, last_log_index >= commit_index AS log_ok,
       in_recovery, wal_position > '0/0' AS has_wal, timeline,
       leader_since <= now() AS leader_since_ok, transfer_target, error
  FROM raft_status;

SELECT raft_ext.is_leader(), raft_ext.leader_id();
-- the token is the term, or NULL in a moment without the lease
SELECT coalesce(raft_ext.fencing_token() = term, true) AS token_ok
  FROM raft_status;
SELECT raft_ext.validate_settings();

-- The peer view: this node only.
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'raft_ext.raft_peers'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT peer_id, is_self, voter, conninfo, last_error FROM raft_peers;

-- The one-node primary records its timeline as the first step of the
-- timeline history in the Raft log, and is on it.
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN EXISTS (SELECT FROM raft_ext.raft_timeline_history WHERE committed);
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT step, term > 0 AS term_known, node_id, timeline, parent_timeline,
       begins_at, reason, committed, promoted_at IS NOT NULL AS dated
  FROM raft_ext.raft_timeline_history;
SELECT timeline_standing FROM raft_ext.raft_status;
SELECT member_id, timeline_standing FROM raft_ext.raft_cluster;

-- The switches in effect, as the configuration sets them (fencing is off in
-- test/regress.conf; auto_promote and auto_follow are on by default, and
-- auto_rejoin = auto follows auto_follow), and no reason to wait: this
-- leader is a primary.
SELECT fencing, auto_promote, auto_follow, auto_rejoin, primary_wait
  FROM raft_ext.raft_status;
