-- The statement check on a one-node instance: a session that may write
-- reads user data only while the node holds the lease; a read-only session
-- reads anyway; queries that read no user relation are not checked.

SELECT raft_ext.wait_for_leader('30s') AS leader;
-- The fence is off in the regress configuration (test/regress.conf): on
-- for this test, by a reload.
ALTER SYSTEM SET raft_ext.fencing = on;
SELECT pg_reload_conf();
DO $$
BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN current_setting('raft_ext.fencing') = 'on';
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;
SHOW raft_ext.fencing;
-- Wait for the lease itself, and write in a read-write session.
CREATE FUNCTION lease_seen() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..600 LOOP
		IF raft_ext.fencing_token() IS NOT NULL THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN false;
END
$$;
-- Until the lease has run out: from then on, until the stall ends below,
-- the node holds none.
CREATE FUNCTION lease_lost() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..600 LOOP
		IF raft_ext.fencing_token() IS NULL THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN false;
END
$$;
SET default_transaction_read_only = off;
SELECT lease_seen();
CREATE TABLE fence_kv (k int PRIMARY KEY, v text);
INSERT INTO fence_kv VALUES (1, 'one');

-- Leader with the lease: everything reads.
SELECT v FROM fence_kv WHERE k = 1;
COPY fence_kv TO STDOUT;
BEGIN READ ONLY;
SELECT v FROM fence_kv WHERE k = 1;
COMMIT;

-- The worker stalls (failpoint "stall"; test/regress.conf turns
-- raft_ext.fault_injection on, which only a server start can): its lease
-- runs out, and nobody renews it until the stall ends.
SELECT raft_ext.fault_failpoint('stall');
SELECT lease_lost();
\set VERBOSITY terse
-- A session that may write: every read of a user relation is refused.
SELECT v FROM fence_kv WHERE k = 1;
COPY fence_kv TO STDOUT;
COPY (SELECT v FROM fence_kv) TO STDOUT;
WITH t AS (SELECT v FROM fence_kv) SELECT count(*) FROM t;
-- also in a read-only transaction: the session's default is read-write
BEGIN READ ONLY;
SELECT v FROM fence_kv WHERE k = 1;
ROLLBACK;
-- Writes are refused before they run.
INSERT INTO fence_kv VALUES (2, 'two');
-- What reads no user relation is not checked: catalogs, views over
-- functions, plain expressions, EXPLAIN without ANALYZE.
SELECT count(*) > 0 AS catalog FROM pg_class WHERE relname = 'fence_kv';
SELECT count(*) AS status_view FROM raft_ext.raft_status;
SELECT 1 AS one;
EXPLAIN (COSTS OFF) SELECT v FROM fence_kv;
-- A read-only session reads, as on a standby.
SET default_transaction_read_only = on;
SELECT v FROM fence_kv WHERE k = 1;
COPY fence_kv TO STDOUT;
-- but not in a read-write transaction
BEGIN READ WRITE;
SELECT v FROM fence_kv WHERE k = 1;
ROLLBACK;
\set VERBOSITY default

-- The stall ends: the worker renews the lease, and the read-write session
-- reads again.
SELECT raft_ext.fault_clear();
ALTER SYSTEM RESET raft_ext.fencing;
SELECT pg_reload_conf();
SET default_transaction_read_only = off;
SELECT raft_ext.wait_for_leader('30s') AS leader;
SELECT lease_seen();
SELECT v FROM fence_kv WHERE k = 1;
DROP TABLE fence_kv;
DROP FUNCTION lease_seen();
DROP FUNCTION lease_lost();
