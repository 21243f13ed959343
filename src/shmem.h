/*
 * shmem.h
 *	  raft_ext's shared memory (shmem.c): the structure that holds the
 *	  status snapshot, the lease atomic, the inbox, the command mailbox, the
 *	  fault masks and the peers' incarnations.
 */
#ifndef RAFT_SHMEM_H
#define RAFT_SHMEM_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "raft/raft.h"
#include "status.h"

/* Bytes of encoded envelopes the inbox can hold before it drops. */
#define RAFT_INBOX_SIZE		(1024 * 1024)

/* A request from a SQL backend that only the worker can carry out. */
typedef enum RaftCommandKind
{
	RAFT_CMD_NONE = 0,
	RAFT_CMD_TRANSFER,
	RAFT_CMD_ADD_NODE,
	RAFT_CMD_REMOVE_NODE
} RaftCommandKind;

typedef struct RaftCommand
{
	RaftCommandKind kind;
	raft_id		target;
	char		conninfo[RAFT_MAX_ADDRESS];
} RaftCommand;

/*
 * What the backends of this node have seen of one peer's incarnations (the
 * random number each worker process of that peer draws at start and sends
 * in its connections' application_name).  A new incarnation replaces the
 * current one (the peer restarted).  One that was replaced and still
 * speaks means two processes act as that node id: a clone (receive.c).
 * One batch from a replaced incarnation may be a stale one still in flight
 * when the old process died (a connection has at most one query in
 * flight), so it takes two.
 */
typedef struct RaftIncarnation
{
	raft_id		id;				/* RAFT_NOBODY: free slot */
	uint64		current;		/* the newest to appear */
	raft_time	current_seen;
	uint64		previous;		/* the one it replaced, 0 if none */
	raft_time	previous_seen;
	uint32		previous_after; /* batches from previous since replaced */
} RaftIncarnation;

#define RAFT_INCARNATION_SLOTS	(2 * RAFT_MAX_MEMBERS)

typedef struct RaftShared
{
	LWLock	   *lock;			/* status, inbox, mailbox */
	Latch	   *worker_latch;	/* NULL while no worker runs */

	RaftStatus	status;

	/*
	 * The term of the lease in lease_word (below), readable without the
	 * lock: raft_ext.fencing_token() hands it out.  raft_publish_lease
	 * revokes the lease word before it changes the term, and publishes a
	 * lease of the new term only after it (status.c), so a reader that sees
	 * the same lease word before and after reading the term read that
	 * lease's term (raft_lease_term).
	 */
	pg_atomic_uint64 lease_term;

	/* Inbox: a byte ring of (uint32 length, envelope bytes) records. */
	uint64		inbox_head;		/* total bytes ever written */
	uint64		inbox_tail;		/* total bytes ever consumed */
	char		inbox[RAFT_INBOX_SIZE];

	/* Command mailbox: one request at a time, identified by its sequence. */
	uint64		cmd_seq;		/* last submitted */
	uint64		cmd_done_seq;	/* last finished */
	RaftCommand cmd;
	int			cmd_result;		/* raft_result of the finished command */
	char		cmd_message[RAFT_ERROR_LEN];
	ConditionVariable cmd_cv;	/* backends wait here for cmd_done_seq */
	ConditionVariable status_cv;	/* signalled on every status publication */

	/* Fault injection (tests only; see raft_ext.fault_injection). */
	uint64		fault_drop_to;	/* bit n-1 set: drop messages to node n */
	uint64		fault_drop_from;	/* bit n-1 set: drop messages from node n */
	uint32		fault_failpoint;	/* RaftFailpoint armed, 0 = none */

	/* Peers' incarnations, for clone detection (under lock). */
	RaftIncarnation incarnations[RAFT_INCARNATION_SLOTS];

	/* The cluster name the worker runs with (raft_effective_cluster_name). */
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];

	/* An fsync of the Raft state failed: Raft stays stopped (storage.h). */
	bool		storage_fsync_failed;

	/* The fence's counters since the server started (fencing.c, /metrics). */
	pg_atomic_uint64 fence_refusals;	/* writes refused at commit */
	pg_atomic_uint64 fence_late_commits;	/* committed after the lease ran out */
	/*
	 * 1 while this node is a primary that lost the lease to (or never had it
	 * from) another leader: replication connections are refused (fence_wal.c).
	 */
	pg_atomic_uint32 wal_fenced;

	/*
	 * The lease horizon and its epoch in one word (status.h): what the fence
	 * reads, on every statement of a session that may write and at both ends
	 * of a commit.  raft_publish_lease keeps it current.
	 */
	pg_atomic_uint64 lease_word;
} RaftShared;

extern RaftShared *raft_shared;

extern void raft_shmem_request(void);
extern void raft_shmem_startup(void);

/*
 * Backends: note a batch from incarnation 'incarnation' of node 'id' at
 * 'now'.  Returns true if two incarnations of that node are alive (both
 * heard within 'window' ms, and one that had been replaced spoke again)
 * and 'incarnation' is the newer of the two, the one to refuse; *other
 * then receives the other one.
 */
extern bool raft_incarnation_seen(raft_id id, uint64 incarnation,
								  raft_time now, raft_time window,
								  uint64 *other);
/* Whether node 'id' is currently seen running twice (for raft_peers). */
extern bool raft_incarnation_conflict(raft_id id, raft_time now,
									  raft_time window);

/* Backends: queue one validated envelope; false (and counted) if full. */
extern bool raft_inbox_put(const uint8 *data, uint32 len);
/* Worker: take the next envelope into buf; returns its length, 0 if none. */
extern uint32 raft_inbox_take(uint8 *buf, uint32 cap);


/* Worker: fetch a pending command; false if none. */
extern bool raft_command_take(RaftCommand *cmd, uint64 *seq);
/* Worker: report a command's outcome. */
extern void raft_command_finish(uint64 seq, int result, const char *message);

/* Backends: ERROR unless raft_ext's shared memory exists (it was preloaded). */
extern void raft_require_shared(void);

/*
 * Backends: hand a command to the worker and wait up to timeout_ms for its
 * outcome, a raft_result; message_out (RAFT_ERROR_LEN bytes) receives the
 * worker's text.  ERROR if the worker is not running or does not answer in
 * time (the command is then withdrawn, though the worker may have acted).
 */
extern int	raft_command_submit(const RaftCommand *cmd, int timeout_ms,
								char *message_out);

#endif							/* RAFT_SHMEM_H */
