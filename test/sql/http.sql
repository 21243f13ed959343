-- The HTTP endpoint's settings and the raft_cluster view.

-- off by default, restart-only
SHOW raft_ext.http_port;
SHOW raft_ext.http_listen_addresses;
SET raft_ext.http_port = 8008;

-- bad values are refused before anything is written
ALTER SYSTEM SET raft_ext.http_port = -1;
ALTER SYSTEM SET raft_ext.http_port = 65536;
ALTER SYSTEM SET raft_ext.http_port = 'eighty';
ALTER SYSTEM SET raft_ext.http_listen_addresses = '';
ALTER SYSTEM SET raft_ext.http_listen_addresses = '127.0.0.1,,::1';
ALTER SYSTEM SET raft_ext.http_listen_addresses = 'db1 db2';
ALTER SYSTEM SET raft_ext.http_listen_addresses = 'host/name';
-- good ones are accepted
ALTER SYSTEM SET raft_ext.http_port = 8008;
ALTER SYSTEM SET raft_ext.http_listen_addresses = ' 127.0.0.1 , ::1, db-1.example.com ';
ALTER SYSTEM SET raft_ext.http_listen_addresses = '*';
ALTER SYSTEM RESET raft_ext.http_port;
ALTER SYSTEM RESET raft_ext.http_listen_addresses;

-- raft_cluster: its columns, in raft_ext and in public
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'raft_ext.raft_cluster'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT count(*) FROM pg_attribute
 WHERE attrelid = 'public.raft_cluster'::regclass AND attnum > 0;

-- this one-node cluster: itself, the leader and primary, password masked
SELECT raft_ext.wait_for_leader('10 s') = 1 AS leader;
SELECT member_id, is_self, address, voter, connected, raft_role, pg_role,
       timeline > 0 AS has_timeline, lsn IS NOT NULL AS has_lsn, lag,
       rejoin_state
  FROM raft_cluster;

-- readable by anyone
CREATE ROLE raft_cluster_reader;
SET ROLE raft_cluster_reader;
SELECT count(*) FROM raft_ext.raft_cluster;
RESET ROLE;
DROP ROLE raft_cluster_reader;
