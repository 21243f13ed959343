-- raft_ext.* settings: values, reserved prefix, and refused changes.

SHOW raft_ext.node_id;
SHOW raft_ext.cluster_name;
SHOW raft_ext.heartbeat_interval;
SHOW raft_ext.election_timeout;
SHOW raft_ext.state_directory;
SELECT name, context, unit FROM pg_settings
 WHERE name LIKE 'raft\_ext.%' ORDER BY name;
SELECT raft_ext.validate_settings();

-- restart-only and reload-only settings cannot be SET
SET raft_ext.node_id = 2;
SET raft_ext.cluster_name = 'other';
SET raft_ext.peers = '1:dbname=postgres';
SET raft_ext.election_timeout = 500;

-- raft_ext.synchronous: off (the default) or quorum, reload only
SHOW raft_ext.synchronous;
SELECT enumvals FROM pg_settings WHERE name = 'raft_ext.synchronous';
SET raft_ext.synchronous = quorum;
ALTER SYSTEM SET raft_ext.synchronous = 'always';
ALTER SYSTEM SET raft_ext.synchronous = '';

-- the prefix is reserved
SET raft_ext.no_such_setting = 1;

-- fault injection is a server start setting: never switched on at run time
SET raft_ext.fault_injection = on;
SHOW raft_ext.fault_injection;
ALTER SYSTEM SET raft_ext.fault_injection = on;
ALTER SYSTEM RESET raft_ext.fault_injection;

-- lease_drift_margin 0 is refused: the fence's guarantee needs a margin
ALTER SYSTEM SET raft_ext.lease_drift_margin = 0;
ALTER SYSTEM SET raft_ext.lease_drift_margin = '50ms';
ALTER SYSTEM RESET raft_ext.lease_drift_margin;

-- bad peers (ALTER SYSTEM checks the value before writing anything)
ALTER SYSTEM SET raft_ext.peers = '1:dbname=a;1:dbname=b';
ALTER SYSTEM SET raft_ext.peers = '1:dbname=postgres;2:nonsense';
ALTER SYSTEM SET raft_ext.peers = '1:dbname=postgres;2:host=x bogus=1';
ALTER SYSTEM SET raft_ext.peers = '2:dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = 'x:dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = '0:dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = '99999999999:dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = '1 dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = '1:';
ALTER SYSTEM SET raft_ext.peers = ';;';
SELECT string_agg(i || ':dbname=postgres', ';') AS many
  FROM generate_series(1, 17) i \gset
ALTER SYSTEM SET raft_ext.peers = :'many';
SELECT '1:dbname=' || repeat('x', 1100) AS long \gset
ALTER SYSTEM SET raft_ext.peers = :'long';
-- the message never repeats the value: it may hold a password
ALTER SYSTEM SET raft_ext.peers = '1:password=secret;1:password=secret';
-- control characters in a member address are refused: auto_follow writes
-- addresses into postgresql.auto.conf, where a newline ends the line
ALTER SYSTEM SET raft_ext.peers = E'1:host=a\nport=5432 dbname=postgres';
ALTER SYSTEM SET raft_ext.peers = E'1:dbname=postgres application_name=\'a\rb\'';
ALTER SYSTEM SET raft_ext.peers = E'1:dbname=postgres;2:host=b\x01 dbname=postgres';
-- libpq's parse errors quote what they could not parse: masked
ALTER SYSTEM SET raft_ext.peers = '1:dbname=postgres;2:host=b password';
ALTER SYSTEM SET raft_ext.peers = '1:dbname=postgres;2:postgresql://u:hunter2@h:5432/db?bogus=1';

-- raft_ext.cluster_name defaults to empty: the worker then uses "pg-" and
-- the database system identifier, shared by a primary and its standbys
SELECT boot_val = '' AS derived_by_default FROM pg_settings WHERE name = 'raft_ext.cluster_name';

-- bad cluster names and ranges
ALTER SYSTEM SET raft_ext.cluster_name = E'tab\there';
ALTER SYSTEM SET raft_ext.cluster_name = 'a234567890123456789012345678901234567890123456789012345678901234';
-- PostgreSQL's own range message gained units in 17: SQLSTATE only.
\set VERBOSITY sqlstate
ALTER SYSTEM SET raft_ext.heartbeat_interval = 1;
ALTER SYSTEM SET raft_ext.election_timeout = '2min';
\set VERBOSITY default
ALTER SYSTEM SET raft_ext.state_directory = '';
ALTER SYSTEM SET raft_ext.auto_rejoin = 'sometimes';
ALTER SYSTEM SET raft_ext.rejoin_command = 'rejoin %d %x';

-- raft_ext.auto_rejoin defaults to auto: on when raft_ext.auto_follow is on
SELECT boot_val FROM pg_settings WHERE name = 'raft_ext.auto_rejoin';

-- nothing was written
SELECT count(*) FROM pg_file_settings WHERE name LIKE 'raft\_ext.%'
   AND sourcefile LIKE '%postgresql.auto.conf';

-- raft_ext.replication_user and raft_ext.rewind_user: a plain role name,
-- which goes into a conninfo as it is; a password never goes here.
ALTER SYSTEM SET raft_ext.replication_user = 'raft replication';
ALTER SYSTEM SET raft_ext.rewind_user = 'x'' password=secret';
ALTER SYSTEM SET raft_ext.rewind_user = 'raft_rewind';
ALTER SYSTEM RESET raft_ext.rewind_user;
-- raft_ext.passfile: an absolute path without control characters.
ALTER SYSTEM SET raft_ext.passfile = 'relative/pgpass';
ALTER SYSTEM SET raft_ext.passfile = E'/tmp/pg\npass';
ALTER SYSTEM SET raft_ext.passfile = '/var/lib/postgresql/15/main.raft_ext/pgpass';
ALTER SYSTEM RESET raft_ext.passfile;
-- %e (the event) is a placeholder of on_role_change; others are refused.
ALTER SYSTEM SET raft_ext.on_role_change = 'echo %e %r %t %l %n %%';
ALTER SYSTEM SET raft_ext.on_role_change = 'echo %x';
ALTER SYSTEM RESET raft_ext.on_role_change;
