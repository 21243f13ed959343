/* raft_ext--1.0--1.1.sql: upgrade raft_ext from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION raft_ext UPDATE" to load this file. \quit

-- 1.1 has the objects of 1.0 unchanged: this path exists so that upgrades
-- are tested (test/sql/upgrade.sql) before the first one that changes
-- something.  What changes in raft_ext--1.1.sql goes here as well.
