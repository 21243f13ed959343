/*
 * worker.h
 *	  State shared by the files of the raft_ext background worker.
 *
 * worker.c runs the loop (signals, engine, storage, transport, commands);
 * worker_status.c turns the worker's state into the snapshot published in
 * shared memory.  Both run only in the worker process.
 */
#ifndef RAFT_WORKER_H
#define RAFT_WORKER_H

#include "status.h"
#include "storage.h"

typedef struct RaftWorker
{
	raft_node  *node;			/* NULL while Raft is stopped */
	RaftStorage *storage;
	raft_time	tick_interval;	/* ms between ticks */
	TimestampTz leader_since;	/* wall clock of the last role change */
	raft_position position;		/* last given to raft_set_position */
	char		error[RAFT_ERROR_LEN];	/* why Raft is stopped; "" if running */
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];	/* name in use */

	/* Timing the engine was built with (the engine cannot change it live). */
	int			heartbeat_interval;
	int			election_timeout;
	int			election_spread;
	int			lease_drift_margin;
	/* when the promise file may come down to election_timeout; 0 done */
	raft_time	promise_until;

	/* Status publication. */
	raft_time	last_publish;
	bool		force_publish;
} RaftWorker;

/* Build the snapshot of 'worker' into *status (zeroed first). */
extern void worker_build_status(const RaftWorker *worker, RaftStatus *status);

/* Publish 'status' if it changed, a heartbeat passed, or forced. */
extern void worker_publish_status(RaftWorker *worker, const RaftStatus *status,
								  raft_time now);

/* Publish "no worker" on exit: no latch, no lease. */
extern void worker_publish_exit(void);

/* worker_input.c: the inbox and the command mailbox. */
extern void worker_input_init(void);
/* Feed every envelope waiting in the inbox to the engine. */
extern void worker_drain_inbox(RaftWorker *worker);
/* Take pending commands; with Raft stopped, refuse them. */
extern void worker_take_commands(RaftWorker *worker, raft_time now);

#endif							/* RAFT_WORKER_H */
