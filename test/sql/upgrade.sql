-- Installing 1.0 and updating gives the same objects as a fresh install.
-- The regression database already holds the extension (--load-extension):
-- compare in a database of our own.
\set regress_db :DBNAME
CREATE DATABASE raft_ext_upgrade;
\c raft_ext_upgrade

-- Every member object of the extension, with what an upgrade script could
-- get wrong: function bodies and signatures, view definitions, privileges.
CREATE TEMP VIEW extension_objects AS
SELECT pg_describe_object(d.classid, d.objid, 0) AS object,
       CASE d.classid
           WHEN 'pg_proc'::regclass THEN
               (SELECT concat_ws(' ', md5(p.prosrc), p.prokind,
                                 pg_get_function_arguments(p.oid),
                                 pg_get_function_result(p.oid),
                                 p.provolatile, p.proisstrict, p.prosecdef,
                                 p.proacl)
                  FROM pg_proc p WHERE p.oid = d.objid)
           WHEN 'pg_class'::regclass THEN
               (SELECT concat_ws(' ', c.relkind, md5(pg_get_viewdef(c.oid)),
                                 c.relacl)
                  FROM pg_class c WHERE c.oid = d.objid)
           WHEN 'pg_namespace'::regclass THEN
               (SELECT concat_ws(' ', n.nspacl)
                  FROM pg_namespace n WHERE n.oid = d.objid)
           ELSE ''
       END AS detail
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'raft_ext')
   AND d.deptype = 'e';

CREATE EXTENSION raft_ext;
SELECT extversion FROM pg_extension WHERE extname = 'raft_ext';
CREATE TEMP TABLE fresh AS SELECT * FROM extension_objects;
DROP EXTENSION raft_ext;

CREATE EXTENSION raft_ext VERSION '1.0';
-- The new library serves 1.0's objects until the update.
SELECT count(*) > 0 AS peers_served FROM raft_ext.raft_peers;
ALTER EXTENSION raft_ext UPDATE TO '1.1';
-- and 1.1's (raft_status and raft_cluster without timeline_standing)
SELECT count(*) AS status_served FROM raft_ext.raft_status;
SELECT count(*) > 0 AS cluster_served FROM raft_ext.raft_cluster;
ALTER EXTENSION raft_ext UPDATE TO '1.2';
-- and 1.2's (raft_cluster without the member slot columns)
SELECT count(*) > 0 AS cluster_served FROM raft_ext.raft_cluster;
ALTER EXTENSION raft_ext UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'raft_ext';
CREATE TEMP TABLE upgraded AS SELECT * FROM extension_objects;

-- Functions and views: 17 also records the views' row types as members,
-- which the comparison below includes but the count leaves out.
SELECT count(*) AS objects FROM fresh WHERE object NOT LIKE 'type %';
-- Both lists empty: nothing missing, nothing extra, nothing different.
SELECT 'only in a fresh install' AS side, * FROM (TABLE fresh EXCEPT TABLE upgraded) f
UNION ALL
SELECT 'only after the update', * FROM (TABLE upgraded EXCEPT TABLE fresh) u
ORDER BY 1, 2;

\c :regress_db
DROP DATABASE raft_ext_upgrade;
