/*
 * raft_ext.h
 *	  Declarations shared by the PostgreSQL side of raft_ext.
 *
 * Who owns what:
 *	  settings.c	the raft_ext.* GUCs and their validation, peers parsing
 *	  shmem.c		shared memory: status snapshot, inbox, command mailbox
 *	  init.c		_PG_init: settings, shared memory hooks, the worker
 *	  worker.c		the background worker: engine, storage, transport
 *	  transport.c	outgoing libpq connections (transport.h)
 *	  storage.c		durable term/vote file and log segments (storage.h)
 *	  sql_*.c		SQL-callable functions and views
 *
 * The engine itself (src/raft/) includes no PostgreSQL header; this file is
 * where the two worlds meet.
 */
#ifndef RAFT_EXT_H
#define RAFT_EXT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"

#include "raft/raft.h"

/* ---- settings.c ---- */

extern int	raft_node_id;
extern char *raft_peers;
extern char *raft_cluster_name;
extern int	raft_heartbeat_interval;
extern int	raft_election_timeout;
extern int	raft_election_spread;
extern int	raft_lease_drift_margin;
extern char *raft_state_directory;
extern bool raft_fault_injection;

extern void raft_define_settings(void);

/*
 * Parse a raft_ext.peers value ("id:conninfo;id:conninfo;...") into a
 * membership (every entry a voter, address = conninfo).  On failure returns
 * false with a palloc'd message in *error.  Checks: ids in 1..INT32_MAX,
 * no duplicates, conninfo passes raft_conninfo_problem (no control
 * character, parses with PQconninfoParse), at most
 * RAFT_MAX_MEMBERS entries, conninfo shorter than RAFT_MAX_ADDRESS.
 */
extern bool raft_parse_peers(const char *value, raft_membership *out,
							 char **error);

/*
 * The cluster name raft_ext.cluster_name stands for when it is empty: "pg-"
 * and the database system identifier (pg_control), which a primary and its
 * streaming standbys share.  out holds RAFT_MAX_CLUSTER_NAME + 1 bytes.
 */
extern void raft_default_cluster_name(char *out);

/*
 * The cluster name this node uses: raft_ext.cluster_name if set, else the
 * one the worker chose at start (raft_shared->cluster_name: the default, or
 * the 1.0 default its state directory carries), else the default.
 */
extern void raft_effective_cluster_name(char *out);

/* The default of raft_ext 1.0, still honoured in its state directories. */
#define RAFT_LEGACY_CLUSTER_NAME	"raft_ext"

/* ---- member addresses (conninfo.c) ---- */

/*
 * NULL if conninfo is acceptable as a member address (no control character,
 * parsed by libpq), else a palloc'd sentence saying why not, which never
 * quotes the conninfo (it may hold a password).
 */
extern char *raft_conninfo_problem(const char *conninfo);

/*
 * The conninfo rebuilt from its parsed options with every secret one
 * (password, sslpassword) replaced by asterisks; asterisks alone if it does
 * not parse.  palloc'd.  The only form in which an address is logged or
 * shown to non-superusers.
 */
extern char *raft_conninfo_masked(const char *conninfo);

/*
 * A libpq message about a conninfo with every double-quoted piece (libpq
 * quotes the text it could not parse, which may be a password) replaced by
 * asterisks, unless it is a connection keyword or a lone punctuation
 * character; trailing white space removed.  palloc'd.
 */
extern char *raft_conninfo_mask_message(const char *message);

/* Fill engine options from the settings. */
extern void raft_options_from_settings(raft_options *options);

/*
 * Cross-setting checks that check hooks cannot make reliably (a hook sees one
 * setting at a time, in file order): node_id set, peers nonempty and naming
 * this node, election_timeout >= 3 x heartbeat_interval, lease_drift_margin <
 * election_timeout, and the engine's own option checks.  Returns false with
 * a palloc'd message in *error.  The worker calls it at start and on every
 * reload; raft_ext.validate_settings() shows its verdict.
 */
extern bool raft_settings_validate(char **error);

/* ---- clock ---- */

/*
 * Monotonic milliseconds (CLOCK_BOOTTIME where it exists, which keeps
 * counting while the machine is suspended, else CLOCK_MONOTONIC),
 * comparable across the processes of one machine: the worker stamps the lease with it and backends compare
 * against it when they decide whether this node may commit.
 */
extern raft_time raft_monotonic_now(void);
/* The same, for callers that must not throw: false if the clock failed. */
extern bool raft_monotonic_try(raft_time *now);

/* ---- shmem.c ---- */

/* Bytes of encoded envelopes the inbox can hold before it drops. */
#define RAFT_INBOX_SIZE		(1024 * 1024)
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
} RaftPeerStatus;

/* The worker's published view of itself; copied whole under the lock. */
typedef struct RaftStatus
{
	bool		worker_running;
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
	char		error[RAFT_ERROR_LEN];	/* nonempty: Raft is stopped, why */
	int			n_peers;
	RaftPeerStatus peers[RAFT_MAX_MEMBERS];
} RaftStatus;

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
	 * status.lease_until again (0 unless Raft runs), readable without the
	 * lock: the commit-time fence (fencing.c) reads it on every commit of a
	 * write.  raft_publish_status keeps it current.
	 */
	pg_atomic_uint64 lease_until;

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
} RaftShared;

extern RaftShared *raft_shared;

extern void raft_shmem_request(void);
extern void raft_shmem_startup(void);

/*
 * Backends: note a batch from incarnation 'incarnation' of node 'id' at
 * 'now'.  Returns true if two incarnations of that node are alive (both
 * heard within 'window' ms, and one that had been replaced spoke again);
 * *other then receives the other one.
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

/* Worker: publish a snapshot (wakes status_cv waiters). */
extern void raft_publish_status(const RaftStatus *status);
/* Worker: publish the lease horizon alone, visible before it sends. */
extern void raft_publish_lease(raft_time lease_until);
/* Anyone: copy the current snapshot. */
extern void raft_read_status(RaftStatus *status);

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

/* ---- sql_status.c ---- */

/* Whether a snapshot shows a worker running Raft (running, no error). */
extern bool raft_status_running(const RaftStatus *status);
/* The leader a snapshot knows of (this node if it leads), or RAFT_NOBODY. */
extern raft_id raft_status_leader(const RaftStatus *status);

#endif							/* RAFT_EXT_H */
