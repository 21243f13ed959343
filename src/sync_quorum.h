/*
 * sync_quorum.h
 *	  raft_ext.synchronous: synchronous_standby_names that follows the Raft
 *	  membership (sync_quorum.c), and the guard that refuses to acknowledge
 *	  a commit whose synchronous wait was cut short (sync_guard.c).
 *
 * The worker calls into it at two points; neither blocks its loop:
 *
 *	  every loop iteration:		raft_sync_step(node, &status, now)
 *	  before proposing a removal:	raft_sync_before_change(node, &change)
 */
#ifndef RAFT_SYNC_QUORUM_H
#define RAFT_SYNC_QUORUM_H

#include "settings.h"
#include "status.h"

/* Define raft_ext.synchronous and install the commit guard; from _PG_init. */
extern void raft_sync_define_settings(void);

/* k for 'voters' voting members: voters minus the majority. */
extern int	raft_sync_quorum_k(int voters);

/*
 * Keep synchronous_standby_names (and, on a standby, the WAL receiver's
 * application_name) in step with the membership; once per loop iteration.
 */
extern void raft_sync_step(raft_node *node, const RaftStatus *status,
						   raft_time now);

/*
 * The leader is about to propose 'change': write the setting that is safe
 * both before and after it, so that a removal never lowers the guarantee
 * while the old membership may still elect a leader.
 */
extern void raft_sync_before_change(raft_node *node, const raft_change *change);

/* ---- sync_guard.c ---- */

/* Register the commit guard; from raft_sync_define_settings. */
extern void raft_sync_guard_init(void);

#endif							/* RAFT_SYNC_QUORUM_H */
