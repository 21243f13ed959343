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
 * replayed.  Callable from a background worker with no database.
 */
extern raft_position raft_wal_position(void);

#endif							/* RAFT_WAL_POSITION_H */
