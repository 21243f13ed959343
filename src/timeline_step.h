/*
 * timeline_step.h
 *	  The primary's timeline in the Raft log's timeline history: the leader
 *	  records its primary's timeline, and takes no write before the record
 *	  is committed.
 */
#ifndef RAFT_TIMELINE_STEP_H
#define RAFT_TIMELINE_STEP_H

#include "raft/raft.h"

#include "status.h"

/* raft_timeline.reason codes this extension writes. */
typedef enum RaftTimelineReason
{
	RAFT_TIMELINE_FIRST = 1,	/* the history's first step: the primary of
								 * a new (or upgraded) cluster */
	RAFT_TIMELINE_PROMOTED = 2, /* a leader promoted, continuing the history */
	RAFT_TIMELINE_ADOPTED = 3,	/* a leader whose primary's timeline the
								 * history lacked (it won holding all of it) */
	RAFT_TIMELINE_ANCESTOR = 4	/* a timeline between the history and an
								 * adopted one, recorded just before it */
} RaftTimelineReason;

/* "first primary", "promotion", "adopted", "ancestor", or "unknown" */
extern const char *raft_timeline_reason_name(uint8 reason);

/*
 * The worker's step, each turn of its loop: a leader whose server is a
 * primary on a timeline that is not the history's newest step proposes
 * that step; every node logs when its own WAL, or (on the leader) a
 * member's, has left the history.
 */
extern void raft_timeline_step(raft_node *node, const RaftStatus *status);

/*
 * The lease this node may publish for the fence: 'lease', unless the node
 * is a primary whose timeline is not yet a committed step of the history
 * (its writes could then be acknowledged on a timeline that a later
 * election does not know of).
 */
extern raft_time raft_timeline_gate_lease(raft_node *node, raft_position position,
										  raft_time lease);

/*
 * Before this standby promotes: make sure PostgreSQL picks a timeline id
 * that no member's WAL and no step of the history uses yet, nor another
 * member's promotion.  PostgreSQL picks one past the newest timeline
 * history file in pg_wal, and a fork it never streamed from is not there:
 * two different timelines with one id fool pg_rewind ("no rewind
 * required"), let a standby stream one onto the other, and look like one
 * timeline to the history.  So a history file is written for each id up to
 * just below the first one past all known that is this node's own modulo
 * RAFT_TIMELINE_ID_STRIDE.
 */
#define RAFT_TIMELINE_ID_STRIDE 64
extern void raft_timeline_reserve_ids(const RaftStatus *status);

/* Fill the timeline fields of a status snapshot (worker_status.c). */
extern void raft_timeline_fill_status(raft_node *node, RaftStatus *status);

#endif							/* RAFT_TIMELINE_STEP_H */
