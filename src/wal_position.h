/*
 * wal_position.h
 *	  This node's WAL position, as the (timeline, LSN) pair Raft compares.
 */
#ifndef RAFT_WAL_POSITION_H
#define RAFT_WAL_POSITION_H

#include "raft/raft.h"

/*
 * Where this node's WAL ends: on a primary the insert position and timeline,
 * on a standby the further of what was received (flushed) and what was
 * replayed; with where that timeline begins and its parent timeline (from
 * the timeline's history file).  Callable from a background worker with no
 * database.
 */
extern raft_position raft_wal_position(void);

/*
 * On a primary handing leadership over: flush every WAL record inserted so
 * far.  WAL senders send only flushed WAL, and the WAL writer flushes a
 * partly filled page only up to the last asynchronous commit, so without
 * this the tail of an open transaction (or an aborted one) could stay
 * unflushed indefinitely and the target never reach the insert position the
 * transfer waits for.  Called by the worker while a transfer is under way.
 */
extern void raft_wal_flush_for_transfer(void);

#endif							/* RAFT_WAL_POSITION_H */
