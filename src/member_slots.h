/*
 * member_slots.h
 *	  raft_ext.member_slots: every member streams through a physical slot of
 *	  its own ("raft_node_<id>") on whichever node is the primary
 *	  (member_slots.c).
 *
 * The worker calls into it once per loop iteration (never blocking):
 *
 *	  raft_member_slots_step(&status, now)		after the failover policy
 *	  raft_member_slots_before_promotion(&status, now)	by the failover policy
 *	  raft_member_slots_fill_status(&status)	while building the snapshot
 */
#ifndef RAFT_MEMBER_SLOTS_H
#define RAFT_MEMBER_SLOTS_H

#include "status.h"

extern bool raft_member_slots;

/* The slot name prefix; the rest is the member's id. */
#define RAFT_MEMBER_SLOT_PREFIX		"raft_node_"

/* Define raft_ext.member_slots; from _PG_init. */
extern void raft_member_slots_define_settings(void);

/*
 * Whether member slots are kept: the setting on, and max_slot_wal_keep_size
 * bounding them (a WARNING once when it does not).
 */
extern bool raft_member_slots_in_effect(void);

/* Member 'id''s slot name into buf (NAMEDATALEN bytes). */
extern void raft_member_slot_name(raft_id id, char *buf, size_t len);

/*
 * On the primary that leads: create the slot of every other member (voter
 * or staged learner), drop raft_node_* slots of nodes that are not members
 * (or of this node), recreate a member's slot that was lost while no one
 * uses it.  On a standby that follows the leader: primary_slot_name is this
 * node's slot (and back to none if the primary does not have it).
 */
extern void raft_member_slots_step(const RaftStatus *status, raft_time now);

/*
 * On a standby that leads and will promote, once it knows so (before the
 * lease: the standbys point their WAL receivers at it when they first hear
 * from it) and again right before it asks to be promoted: create the
 * slot of every other member now (a physical slot can be made in
 * recovery), so that a standby that follows the new primary finds its slot
 * at its first connection.  Made after the promotion, it was missing for
 * the second the first pass took, the standby's WAL receiver failed
 * ("replication slot does not exist") and tried again only after
 * wal_retrieve_retry_interval (5 s): no synchronous standby meanwhile, and
 * the rejoin check took it for stuck.  The pass above keeps them while the
 * node leads; if it stops leading without promoting, they are dropped.
 */
extern void raft_member_slots_before_promotion(const RaftStatus *status, raft_time now);

/* Each member's slot as this primary last saw it, into a status snapshot. */
extern void raft_member_slots_fill_status(RaftStatus *status);

/* Slot states published in RaftPeerStatus.slot_state. */
#define RAFT_SLOT_UNKNOWN	0	/* not this node's business (not the primary, off) */
#define RAFT_SLOT_MISSING	1	/* not created (yet) */
#define RAFT_SLOT_ACTIVE	2	/* a WAL sender streams through it */
#define RAFT_SLOT_INACTIVE	3	/* exists, unused: WAL retained for the member */
#define RAFT_SLOT_LOST		4	/* invalidated: max_slot_wal_keep_size exceeded */

/* "active", "inactive", "lost", "missing", or NULL for RAFT_SLOT_UNKNOWN. */
extern const char *raft_member_slot_state_name(uint8 state);

#endif							/* RAFT_MEMBER_SLOTS_H */
