/*
 * fence_sessions.c
 *	  A primary that lost the lease to another leader ends its client
 *	  sessions that may write, so that connection poolers and multi-host
 *	  clients reconnect to the new primary instead of getting SQLSTATE 25006
 *	  on every statement for as long as the session lives.
 *
 * Which sessions may write only the backend itself knows (its
 * default_transaction_read_only and its current transaction), so each
 * client backend keeps a slot in shared memory up to date: its pid and one
 * bit, "may write", meaning that its session default is read-write or it
 * is in a read-write transaction (fencing.c sets it at session start, at
 * every statement, and when a transaction ends).  Read-only sessions, by
 * the client's choice or by the fence's default for sessions opened on a
 * fenced node, keep their bit clear and keep running: they read as on a
 * standby.  The bit errs towards "may write": what a transaction's end
 * cannot see yet (a SET LOCAL reverted after it) is corrected at the next
 * statement.
 *
 * The worker (raft_fence_sessions_step, from fence_wal.c's step) ends the
 * sessions whose bit is set once the node has lost the lease to another
 * leader, observably: it held a lease in term T, and its status now shows
 * another node as the leader in a later term, for two election timeouts
 * (as for the WAL senders).  Once per such term: the sessions that predate
 * the takeover.  A lease that lapsed while
 * the node stayed the leader of its term, with nobody else elected (a
 * stalled worker, a majority slow to answer), ends nothing: the node may
 * simply renew it, and meanwhile the statement check refuses (fencing.c).
 * A session that waits for synchronous replication is ended too: its
 * commit is not acknowledged (docs/fencing.md says what becomes of it).
 */
#include "postgres.h"

#include <signal.h>

#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "replication/syncrep.h"
#include "pg_compat.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"

#include "fencing.h"
#include "settings.h"

/*
 * One slot per backend id: (pid << 1) | may_write, 0 when free.  One word,
 * so that the worker never pairs one session's pid with another's bit.
 */
static pg_atomic_uint64 *fence_slots = NULL;
static int	fence_nslots = 0;

/* This backend's slot (NULL if none) and what it last wrote there. */
static pg_atomic_uint64 *my_slot = NULL;
static bool my_may_write = false;

/* Worker: the term of the last lease this node held (0: none yet). */
static raft_term lease_term = 0;
/* Worker: the term of the other leader it last ended sessions for. */
static raft_term swept_term = 0;
/* Worker: the other leader it sees, in which term, and since when (0: none). */
static raft_id other_leader = RAFT_NOBODY;
static raft_term other_term = 0;
static raft_time other_since = 0;

/* The slots' size, for shmem_request_hook. */
Size
raft_fence_sessions_size(void)
{
	return MAXALIGN(mul_size(Max(MaxBackends, 0), sizeof(pg_atomic_uint64)));
}

/* Attach to (and, the first time, clear) the slots; under AddinShmemInitLock. */
void
raft_fence_sessions_startup(void)
{
	bool		found;

	fence_nslots = Max(MaxBackends, 0);
	if (fence_nslots == 0)
		return;
	fence_slots = ShmemInitStruct("raft_ext fence sessions",
								  raft_fence_sessions_size(), &found);
	if (!found)
	{
		for (int i = 0; i < fence_nslots; i++)
			pg_atomic_init_u64(&fence_slots[i], 0);
	}
}

/* Write this backend's slot. */
static void
slot_write(bool may_write)
{
	pg_atomic_write_u64(my_slot,
						((uint64) MyProcPid << 1) | (may_write ? 1 : 0));
	my_may_write = may_write;
}

/* Free this backend's slot when it exits. */
static void
slot_release(int code, Datum arg)
{
	if (my_slot != NULL)
		pg_atomic_write_u64(my_slot, 0);
	my_slot = NULL;
}

/* See fencing.h. */
void
raft_fence_session_begin(bool may_write)
{
	if (fence_slots == NULL || my_slot != NULL ||
		raft_my_backend_number() < 1 || raft_my_backend_number() > fence_nslots)
		return;
	my_slot = &fence_slots[raft_my_backend_number() - 1];
	before_shmem_exit(slot_release, (Datum) 0);
	slot_write(may_write);
}

/* See fencing.h. */
void
raft_fence_session_note(bool may_write)
{
	if (my_slot != NULL && may_write != my_may_write)
		slot_write(may_write);
}

/* See fencing.h. */
void
raft_fence_session_may_write(void)
{
	if (my_slot != NULL && !my_may_write)
		slot_write(true);
}

/* Whether backend 'pid' waits for synchronous replication now. */
static bool
waits_for_sync_rep(pid_t pid)
{
	PGPROC	   *proc = BackendPidGetProc(pid);

	/* An unlocked read: a hint for the log line only. */
	return proc != NULL && proc->syncRepState == SYNC_REP_WAITING;
}

/* End every client session whose slot says it may write; returns how many. */
static int
end_sessions(raft_id leader, raft_term term)
{
	int			n = 0;

	for (int i = 0; i < fence_nslots; i++)
	{
		uint64		word = pg_atomic_read_u64(&fence_slots[i]);
		pid_t		pid = (pid_t) (word >> 1);

		if ((word & 1) == 0 || pid == 0)
			continue;

		/*
		 * Clear the bit first, so that a later sweep does not end (and log)
		 * the same session again; the backend sets it again only if it goes
		 * from read-only to read-write.  Only a live backend, not a pid
		 * reused by something else.
		 */
		if (!pg_atomic_compare_exchange_u64(&fence_slots[i], &word, word & ~UINT64CONST(1)) ||
			BackendPidGetProc(pid) == NULL)
			continue;
		ereport(LOG,
				(errmsg("terminating connection of process %d because node %u lost the lease to node %u",
						(int) pid, (unsigned) raft_node_id, (unsigned) leader),
				 waits_for_sync_rep(pid) ?
				 errdetail("Node %u leads in term %llu. The session was waiting for synchronous replication: "
						   "its commit is not acknowledged, and this node will be rewound if the new primary lacks it.",
						   (unsigned) leader, (unsigned long long) term) :
				 errdetail("Node %u leads in term %llu; this session may write, and on this node it could only get errors.",
						   (unsigned) leader, (unsigned long long) term),
				 errhint("Clients reconnect with target_session_attrs=read-write to reach the new primary.")));
		if (kill(pid, SIGTERM) == 0)
			n++;
	}
	return n;
}

/* See fencing.h. */
void
raft_fence_sessions_step(const RaftStatus *status, raft_time now)
{
	bool		lost;

	if (fence_slots == NULL || !raft_status_running(status))
		return;
	if (status->role == RAFT_LEADER && status->lease_until > now)
	{
		lease_term = status->term;
		other_since = 0;
		return;
	}

	/*
	 * Lost to another leader: that one is known, and it leads in a term
	 * after the last lease this node held.  A higher term alone is not
	 * enough (an election under way may yet return the lease to this node),
	 * nor a lapse within the term.  A node that never held a lease since the
	 * worker started counts any other leader: its read-write sessions date
	 * from before, and it does not lead now.
	 */
	lost = raft_fencing && !RecoveryInProgress() &&
		status->role != RAFT_LEADER &&
		status->leader_id != RAFT_NOBODY &&
		status->leader_id != (raft_id) raft_node_id &&
		status->term > lease_term;
	if (!lost)
	{
		other_since = 0;
		return;
	}
	if (other_since == 0 || status->leader_id != other_leader ||
		status->term != other_term)
	{
		other_leader = status->leader_id;
		other_term = status->term;
		other_since = now;
	}

	/*
	 * Once the other leader has led for two election timeouts, as for the
	 * WAL senders (fence_wal.c): a standby that won while this primary was
	 * healthy hands leadership back within a few heartbeats, and the session
	 * that asked for a switchover gets its answer first.  Meanwhile the
	 * sessions get SQLSTATE 25006.  Once per leader's term: the sessions
	 * that predate the takeover.  A session that turns read-write later (SET
	 * default_transaction_read_only = off on a node that made it read-only)
	 * is one the client opened knowing what it got; it gets 25006 on every
	 * statement.
	 */
	if (now - other_since < 2 * (raft_time) raft_election_timeout ||
		status->term == swept_term)
		return;
	swept_term = status->term;
	(void) end_sessions(status->leader_id, status->term);
}
