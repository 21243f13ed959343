/*
 * faults.h
 *	  Fault injection for tests: the failpoints a test can arm through
 *	  raft_ext.fault_failpoint(), and how their names map to numbers.
 *
 * The armed failpoint lives in raft_shared->fault_failpoint (raft_ext.h) as
 * one of the RaftFailpoint values below; 0 always means none armed.  The
 * worker and the storage code act on it only while raft_ext.fault_injection
 * is on, so a production instance pays one bool test.  Message loss between
 * nodes is injected with the fault_drop_to / fault_drop_from masks beside it.
 */
#ifndef RAFT_FAULTS_H
#define RAFT_FAULTS_H

/*
 * Failpoints.  The numbers are stored in shared memory only, never on disk,
 * so they may be renumbered freely; append new ones before
 * RAFT_FAILPOINT_COUNT and give them a name in raft_failpoint_names.
 */
typedef enum RaftFailpoint
{
	RAFT_FAILPOINT_NONE = 0,
	/* The worker exits right after the term and vote are durable. */
	RAFT_FAILPOINT_CRASH_AFTER_VOTE_PERSIST,
	/* The worker exits halfway through writing the state file. */
	RAFT_FAILPOINT_CRASH_MID_STATE_WRITE,
	/* The next fsync of the Raft state fails with EIO. */
	RAFT_FAILPOINT_FSYNC_FAIL,
	/* The worker stops working until disarmed (at most a minute). */
	RAFT_FAILPOINT_STALL,
	/*
	 * The worker stops working, as for STALL, right after it published a
	 * lease that its status snapshot does not show yet (until disarmed).
	 */
	RAFT_FAILPOINT_STALL_AFTER_LEASE,
	RAFT_FAILPOINT_COUNT
} RaftFailpoint;

/* Names as SQL sees them, indexed by RaftFailpoint. */
extern const char *const raft_failpoint_names[RAFT_FAILPOINT_COUNT];

/* The failpoint called name, or -1 if there is none. */
extern int	raft_failpoint_from_name(const char *name);

/*
 * Worker, once per loop iteration: with failpoint "stall" armed, do nothing
 * until it is disarmed (fault_stall.c).
 */
extern void raft_fault_stall_point(void);

/*
 * Worker, just before it publishes its status snapshot: with failpoint
 * "stall_after_lease" armed and lease_unpublished (the fence already sees a
 * lease that the last snapshot published does not), stall there: the window
 * in which backends pass the fence while the snapshot lags.
 */
extern void raft_fault_stall_after_lease_point(bool lease_unpublished);

/* Highest node id the drop masks can name (one bit per node). */
#define RAFT_FAULT_MAX_NODE		64

#endif							/* RAFT_FAULTS_H */
