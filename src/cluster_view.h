/*
 * cluster_view.h
 *	  What this node knows of every member (cluster_view.c): one picture
 *	  that the HTTP endpoint (/cluster, /metrics, the health paths) and the
 *	  raft_cluster view share.
 */
#ifndef RAFT_CLUSTER_VIEW_H
#define RAFT_CLUSTER_VIEW_H

#include "postgres.h"

#include <netdb.h>

#include "access/xlogdefs.h"

#include "raft/raft.h"
#include "status.h"

/* At most this many walsenders are reported (max_wal_senders may be more). */
#define RAFT_VIEW_MAX_STANDBYS	32

/* A standby streaming from this node, as its walsender shows it. */
typedef struct RaftViewStandby
{
	char		application_name[NAMEDATALEN];
	raft_id		member;			/* the member it is ("node<id>"), or 0 */
	const char *state;			/* walsender state: "streaming", ... */
	XLogRecPtr	flush;
	XLogRecPtr	replay;
	int64		lag;			/* this node's WAL position - replay, bytes */
} RaftViewStandby;

/* One member.  Unknown values: NULL, 0 / InvalidXLogRecPtr, -1. */
typedef struct RaftViewMember
{
	raft_id		id;
	bool		is_self;
	bool		voter;
	bool		staged;
	bool		connected;
	char	   *address;		/* masked (password=********) */
	const char *raft_role;		/* leader, follower, learner, candidate ... */
	const char *pg_role;		/* primary, standby, or NULL if not known */
	TimeLineID	timeline;
	XLogRecPtr	lsn;
	int64		lag;			/* bytes behind this node's WAL position */
	int64		last_contact_ms;	/* ms since the last message from it */

	/*
	 * Rejoin state: the one place to fill it from the status snapshot
	 * once the worker publishes it (cluster_view_rejoin in cluster_view.c).
	 */
	const char *rejoin_state;
	const char *rejoin_error;
	/*
	 * Its WAL against the timeline history: "on history", "forked", or
	 * NULL if unknown (this node's own; another member's on the leader).
	 */
	const char *timeline_standing;
	/* On the primary: its slot (member_slots.h), NULL / -1 if not known. */
	const char *slot;
	int64		slot_retained;

	/*
	 * Its copies of the failover slots (raft_ext.sync_logical_slots):
	 * "ready" (every copy sync-ready: a promotion keeps them) or "not
	 * ready"; NULL where it does not apply.  This node's own when it is a
	 * standby; every standby's on the leading primary that has failover
	 * slots, from their reports (RAFT_EXT_FLAG_LOGICAL_READY).
	 */
	const char *logical_slots;
} RaftViewMember;

typedef struct RaftClusterView
{
	RaftStatus *status;			/* the worker's snapshot */
	raft_time	now;			/* monotonic ms when it was read */
	bool		running;		/* Raft runs (raft_status_running) */
	raft_id		leader;			/* RAFT_NOBODY if not known */
	bool		has_lease;		/* this node leads and holds the lease */
	int64		lease_remaining_ms;
	bool		in_recovery;
	bool		hot_standby;	/* in recovery and accepting read-only sessions */
	TimeLineID	timeline;
	XLogRecPtr	lsn;			/* raft_wal_position() */
	/* In recovery: the WAL receiver (WalRcv). */
	bool		streaming;
	char		upstream_host[NI_MAXHOST];	/* the sender, while streaming */
	int			upstream_port;
	XLogRecPtr	received;		/* flushed by the WAL receiver */
	XLogRecPtr	upstream_end;	/* the primary's WAL end it last reported */
	XLogRecPtr	replayed;
	int64		replay_lag;		/* upstream_end - replayed, -1 unknown */
	int			n_standbys;
	RaftViewStandby standbys[RAFT_VIEW_MAX_STANDBYS];
	int			n_members;
	RaftViewMember members[RAFT_MAX_MEMBERS];
} RaftClusterView;

/* Fill a palloc'd view; reads shared memory only (short locks). */
extern RaftClusterView *raft_cluster_view(void);

/* Whether this node is the writable primary holding the lease. */
extern bool raft_view_is_primary(const RaftClusterView *view);

#endif							/* RAFT_CLUSTER_VIEW_H */
