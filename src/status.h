/*
 * status.h
 *	  The status snapshot the worker publishes (status.c) and that the
 *	  fence, the failover policy and the SQL views read.
 */
#ifndef RAFT_STATUS_H
#define RAFT_STATUS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "raft/raft.h"

#define RAFT_ERROR_LEN		256

/* One peer, as published by the worker for raft_ext.peers view. */
typedef struct RaftPeerStatus
{
	raft_id		id;
	bool		is_self;
	bool		voter;
	bool		staged;			/* learner to be promoted once caught up */
	bool		connected;
	char		conninfo[RAFT_MAX_ADDRESS];
	raft_time	last_contact;	/* monotonic ms of last message from it, 0 never */
	raft_index	match_index;	/* leader only, else 0 */
	uint64		msgs_sent;
	uint64		msgs_received;
	uint64		msgs_dropped;
	char		last_error[RAFT_ERROR_LEN];
	/* leader only (the member's last report), and for this node itself: */
	raft_position position;		/* its WAL position, {0, 0} unknown */
	uint8		standing;		/* raft_standing against the history */
	uint64		history_holds;	/* how much of the history it holds (LSN) */
	bool		flags_known;	/* leader only: it reported its flags */
	uint8		flags;			/* ... RAFT_EXT_FLAG_* (failover.h) */
	/* the primary only: its slot (member_slots.h) */
	uint8		slot_state;		/* RAFT_SLOT_* */
	int64		slot_retained;	/* bytes of WAL it retains, -1 unknown */
} RaftPeerStatus;

/* The worker's published view of itself; copied whole under the lock. */
/* Room for raft_status.primary_wait. */
#define RAFT_PRIMARY_WAIT_LEN 192

typedef struct RaftStatus
{
	bool		worker_running;
	uint64		member_slots_lost;	/* member slots seen lost (member_slots.h) */
	/* logical slot synchronization (logical_slots.h) */
	uint8		logical_sync;	/* RAFT_LOGICAL_SYNC_* */
	int			logical_failover;	/* failover slots here (a standby: synced, ready) */
	int			logical_unprotected;	/* the primary: logical slots no standby syncs */
	int			logical_syncing;	/* a standby: synced slots not yet ready */
	int			logical_listed; /* the leading primary: slots in
								 * synchronized_standby_slots, -1 n/a */
	uint64		logical_dropped;	/* leftover failover slots dropped */
	pid_t		worker_pid;
	raft_id		node_id;
	raft_role	role;
	raft_term	term;
	raft_id		voted_for;
	raft_id		leader_id;
	raft_time	lease_until;	/* monotonic ms; 0 = no lease */
	raft_index	commit_index;
	raft_index	last_log_index;
	raft_time	last_leader_contact;	/* monotonic ms, 0 = never */
	TimestampTz leader_since;	/* wall clock of the last role change */
	raft_position position;		/* (timeline, LSN) given to the engine */
	raft_id		transfer_target;
	uint64		inbox_dropped;	/* envelopes dropped because it was full */
	/* Since the worker started (Prometheus counters; reset on restart). */
	uint64		elections_started;
	uint64		leader_changes; /* the known leader changed */
	uint64		role_changes;
	char		error[RAFT_ERROR_LEN];	/* nonempty: Raft is stopped, why */
	char		rejoin_state[32];	/* auto_rejoin's step, "" if none (rejoin.c) */
	char		rejoin_error[RAFT_ERROR_LEN];	/* why its last attempt failed */
	int			rejoin_attempt;	/* attempts of the latest rejoin, 0 none */
	bool		rejoin_failed;	/* its latest attempt failed */
	char		primary_wait[RAFT_PRIMARY_WAIT_LEN];	/* a leader that is not the
														 * primary: why (failover.c) */
	int			n_peers;
	RaftPeerStatus peers[RAFT_MAX_MEMBERS];
	/* the timeline history in the log, and this node against it */
	uint8		standing;		/* raft_standing of 'position' */
	uint64		history_holds;	/* how much of the history it holds (LSN) */
	bool		timeline_committed; /* its timeline is the committed newest
									 * step (a primary may take writes) */
	int			n_history;
	raft_timeline history[RAFT_MAX_HISTORY];
	raft_index	history_index[RAFT_MAX_HISTORY];	/* log index of each step */
	raft_term	history_term[RAFT_MAX_HISTORY]; /* its entry's term */
} RaftStatus;

/* Worker: publish a snapshot (wakes status_cv waiters). */
extern void raft_publish_status(const RaftStatus *status);
/*
 * Worker: publish the lease horizon alone (with the term it belongs to),
 * visible before it sends.
 */
extern void raft_publish_lease(raft_time lease_until, raft_term term);

/*
 * Anyone: the term of the lease this node holds now (the lease word the
 * fence reads), 0 if none: raft_ext.fencing_token().
 */
extern raft_term raft_lease_term(void);

/*
 * The lease word (RaftShared.lease_word): the published lease horizon and
 * its identity, the lease epoch, in one 64-bit atomic, so that a backend
 * reads both at once and never a horizon of one lease with the epoch of
 * another.  The low RAFT_LEASE_BITS bits are the horizon (ms of the lease
 * clock, which counts from boot: 2^40 ms is 34 years), the high 24 bits the
 * epoch.  The worker gives a lease a new epoch unless it continues the one
 * published before it without a gap: same term, the previous horizon not
 * yet reached, a horizon no shorter (status.c).  So two readings with the
 * same epoch and a horizon in the future at the second one mean that this
 * node held the lease all the time in between.
 */
#define RAFT_LEASE_BITS		40
#define RAFT_LEASE_MASK		((UINT64CONST(1) << RAFT_LEASE_BITS) - 1)
#define RAFT_LEASE_EPOCH_MASK	((UINT64CONST(1) << (64 - RAFT_LEASE_BITS)) - 1)

/* The lease horizon a lease word holds (monotonic ms, 0 = none). */
static inline raft_time
raft_lease_word_until(uint64 word)
{
	return (raft_time) (word & RAFT_LEASE_MASK);
}

/* The lease epoch a lease word holds. */
static inline uint32
raft_lease_word_epoch(uint64 word)
{
	return (uint32) (word >> RAFT_LEASE_BITS);
}
/* Anyone: copy the current snapshot. */
extern void raft_read_status(RaftStatus *status);

/* Whether a snapshot shows a worker running Raft (running, no error). */
extern bool raft_status_running(const RaftStatus *status);
/* The leader a snapshot knows of (this node if it leads), or RAFT_NOBODY. */
extern raft_id raft_status_leader(const RaftStatus *status);
/* The member entry of 'id' in a snapshot, or NULL. */
extern const RaftPeerStatus *raft_status_member(const RaftStatus *status, raft_id id);

#endif							/* RAFT_STATUS_H */
