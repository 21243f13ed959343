/*
 * slot_calls.h
 *	  PostgreSQL's replication slot calls, made safe for the worker's loop
 *	  (slot_calls.c): an error is logged and reported as false, never
 *	  thrown (an error there would stop Raft).
 */
#ifndef RAFT_EXT_SLOT_CALLS_H
#define RAFT_EXT_SLOT_CALLS_H

/*
 * Create a persistent physical slot that reserves WAL now (from the last
 * checkpoint's redo point; on a standby, the last restartpoint's).  'kind'
 * names the slot in the log line of a failure ("member slot").
 */
extern bool raft_slot_create_physical(const char *name, const char *kind);

/* Drop a slot nobody uses (false if it failed: in use meanwhile, say). */
extern bool raft_slot_drop(const char *name, const char *kind);

#endif							/* RAFT_EXT_SLOT_CALLS_H */
