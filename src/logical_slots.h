/*
 * logical_slots.h
 *	  raft_ext.sync_logical_slots: logical replication slots follow the
 *	  primary through PostgreSQL 17's slot synchronization, with the
 *	  settings it needs kept in step with the Raft membership
 *	  (logical_slots.c).
 *
 * The worker calls into it once per loop iteration (never blocking):
 *
 *	  raft_logical_slots_step(&status, now)		after the member slots
 *	  raft_logical_slots_fill_status(&status)	while building the snapshot
 *
 * failover_follow.c asks raft_logical_slots_dbname() for the dbname that
 * primary_conninfo needs for the slot-sync worker.
 */
#ifndef RAFT_LOGICAL_SLOTS_H
#define RAFT_LOGICAL_SLOTS_H

#include "status.h"

extern bool raft_sync_logical_slots;

/* Define raft_ext.sync_logical_slots; from _PG_init. */
extern void raft_logical_slots_define_settings(void);

/*
 * Whether slot synchronization is in effect here: PostgreSQL 17 or later,
 * the setting on, wal_level logical, and member slots kept (the slot-sync
 * worker needs primary_slot_name).
 */
extern bool raft_logical_slots_in_effect(void);

/*
 * The dbname primary_conninfo carries for the slot-sync worker while
 * synchronization is in effect: the current primary_conninfo's, else the
 * leader's member address's, else "postgres"; NULL when not in effect
 * (physical replication ignores a dbname, and raft_ext leaves it out).
 */
extern const char *raft_logical_slots_dbname(const char *current_dbname,
											 const char *leader_dbname);

/*
 * On the primary that leads: synchronized_standby_slots names the member
 * slots of the voters that stream (a logical consumer receives a change
 * only once they have it); on a standby that follows: sync_replication_slots
 * and hot_standby_feedback on, a dbname in primary_conninfo, and failover
 * slots left from when this node was the primary dropped (with synced =
 * false they stop the slot-sync worker).  See logical_slots.c for why the
 * list is safe.
 */
extern void raft_logical_slots_step(const RaftStatus *status, raft_time now);

/*
 * What a standby adds to the flags it reports to its leader (beside
 * RAFT_EXT_FLAG_PROMOTES, failover.h): RAFT_EXT_FLAG_LOGICAL_READY when it
 * holds synchronized copies of the primary's failover slots and every copy
 * is sync-ready (at least one, none still temporary), as of the last pass.
 * The leader shows it (raft_cluster.logical_slots) and hands leadership
 * only to a standby that has it while it has failover slots: a promotion
 * drops a copy that is not ready, and the consumer's slot would be gone.
 */
#define RAFT_EXT_FLAG_LOGICAL_READY 0x02
extern uint8 raft_logical_slots_flags(void);

/* The counts /metrics shows, into a status snapshot. */
extern void raft_logical_slots_fill_status(RaftStatus *status);

/* RaftStatus.logical_sync */
#define RAFT_LOGICAL_SYNC_OFF		0	/* the setting is off (or before 17) */
#define RAFT_LOGICAL_SYNC_BLOCKED	1	/* on, but wal_level or member slots prevent it */
#define RAFT_LOGICAL_SYNC_ON		2	/* in effect */

#endif							/* RAFT_LOGICAL_SLOTS_H */
