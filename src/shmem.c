/*
 * shmem.c
 *	  raft_ext's shared memory: the structure that holds the worker's
 *	  published status (read and written through status.c), the inbox of
 *	  envelopes that backends received for the worker, the one-slot command
 *	  mailbox from backends to the worker, and the peers' incarnations.
 *
 * One LWLock (a named tranche) protects all of it.  Every critical section
 * is a copy, never a wait, so the worker is never held up by a slow backend.
 * Backends wait on condition variables instead of polling: status_cv is
 * broadcast on every status publication, cmd_cv when a command finishes.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"

#include "clock.h"
#include "fencing.h"
#include "shmem.h"
#include "status.h"

RaftShared *raft_shared = NULL;

/* Worker-local: the last command handed out, so each is taken once. */
static uint64 last_taken_seq = 0;

/* Reserve our shared memory and our lock (shmem_request_hook time). */
void
raft_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(RaftShared)));
	RequestAddinShmemSpace(raft_fence_sessions_size());
	RequestNamedLWLockTranche("raft_ext", 1);
}

/* Attach to (and, first time, initialize) our shared memory. */
void
raft_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	raft_shared = ShmemInitStruct("raft_ext", sizeof(RaftShared), &found);
	if (!found)
	{
		memset(raft_shared, 0, sizeof(RaftShared));
		raft_shared->lock = &(GetNamedLWLockTranche("raft_ext"))->lock;
		raft_shared->worker_latch = NULL;
		ConditionVariableInit(&raft_shared->cmd_cv);
		ConditionVariableInit(&raft_shared->status_cv);
		pg_atomic_init_u64(&raft_shared->lease_term, 0);
		pg_atomic_init_u64(&raft_shared->fence_refusals, 0);
		pg_atomic_init_u64(&raft_shared->fence_late_commits, 0);
		pg_atomic_init_u32(&raft_shared->wal_fenced, 0);
		pg_atomic_init_u64(&raft_shared->lease_word, 0);
	}
	raft_fence_sessions_startup();
	LWLockRelease(AddinShmemInitLock);
}

/* ERROR unless the shared memory exists, i.e. the library was preloaded. */
void
raft_require_shared(void)
{
	if (raft_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("raft_ext must be loaded via shared_preload_libraries"),
				 errhint("Add raft_ext to shared_preload_libraries and restart the server.")));
}

/* Copy n bytes into the inbox ring at logical position pos (wraps). */
static void
ring_write(uint64 pos, const void *src, uint32 n)
{
	uint32		off = (uint32) (pos % RAFT_INBOX_SIZE);
	uint32		first = Min(n, RAFT_INBOX_SIZE - off);

	memcpy(raft_shared->inbox + off, src, first);
	if (first < n)
		memcpy(raft_shared->inbox, (const char *) src + first, n - first);
}

/* Copy n bytes out of the inbox ring from logical position pos (wraps). */
static void
ring_read(uint64 pos, void *dst, uint32 n)
{
	uint32		off = (uint32) (pos % RAFT_INBOX_SIZE);
	uint32		first = Min(n, RAFT_INBOX_SIZE - off);

	memcpy(dst, raft_shared->inbox + off, first);
	if (first < n)
		memcpy((char *) dst + first, raft_shared->inbox, n - first);
}

/*
 * Queue one envelope for the worker.  A full inbox drops the envelope and
 * counts it: Raft tolerates lost messages, and a backend must never wait for
 * the worker.
 */
bool
raft_inbox_put(const uint8 *data, uint32 len)
{
	uint64		need = (uint64) sizeof(uint32) + len;
	Latch	   *latch;

	Assert(raft_shared != NULL);
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (len == 0 ||
		need > RAFT_INBOX_SIZE - (raft_shared->inbox_head - raft_shared->inbox_tail))
	{
		raft_shared->status.inbox_dropped++;
		LWLockRelease(raft_shared->lock);
		return false;
	}
	ring_write(raft_shared->inbox_head, &len, sizeof(uint32));
	ring_write(raft_shared->inbox_head + sizeof(uint32), data, len);
	raft_shared->inbox_head += need;
	latch = raft_shared->worker_latch;
	LWLockRelease(raft_shared->lock);

	/* A stale latch pointer only costs some process a spurious wakeup. */
	if (latch != NULL)
		SetLatch(latch);
	return true;
}

/*
 * Take the next envelope.  One larger than the caller's buffer cannot be
 * delivered; it is dropped and counted rather than left to block the queue.
 */
uint32
raft_inbox_take(uint8 *buf, uint32 cap)
{
	uint32		len = 0;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	while (raft_shared->inbox_head != raft_shared->inbox_tail)
	{
		ring_read(raft_shared->inbox_tail, &len, sizeof(uint32));
		if (len <= cap)
		{
			ring_read(raft_shared->inbox_tail + sizeof(uint32), buf, len);
			raft_shared->inbox_tail += sizeof(uint32) + len;
			break;
		}
		raft_shared->inbox_tail += sizeof(uint32) + len;
		raft_shared->status.inbox_dropped++;
		len = 0;
	}
	LWLockRelease(raft_shared->lock);
	return len;
}

/*
 * Worker: the pending command, if there is one this process has not taken
 * yet.  A worker that restarts takes an unfinished command again.
 */
bool
raft_command_take(RaftCommand *cmd, uint64 *seq)
{
	bool		found = false;

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	if (raft_shared->cmd_seq > raft_shared->cmd_done_seq &&
		raft_shared->cmd_seq != last_taken_seq)
	{
		*cmd = raft_shared->cmd;
		*seq = raft_shared->cmd_seq;
		last_taken_seq = raft_shared->cmd_seq;
		found = true;
	}
	LWLockRelease(raft_shared->lock);
	return found;
}

/*
 * Worker: record a command's outcome and wake the waiting backend.  A
 * command the backend has withdrawn (it timed out) is already done; its late
 * outcome is ignored.
 */
void
raft_command_finish(uint64 seq, int result, const char *message)
{
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (seq == raft_shared->cmd_seq && seq > raft_shared->cmd_done_seq)
	{
		raft_shared->cmd_done_seq = seq;
		raft_shared->cmd_result = result;
		strlcpy(raft_shared->cmd_message, message ? message : "",
				RAFT_ERROR_LEN);
		raft_shared->cmd.kind = RAFT_CMD_NONE;
	}
	LWLockRelease(raft_shared->lock);

	ConditionVariableBroadcast(&raft_shared->cmd_cv);
}

/* Mark command seq done (withdrawn) if it is still pending. */
static void
command_withdraw(uint64 seq)
{
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (seq == raft_shared->cmd_seq && seq > raft_shared->cmd_done_seq)
	{
		raft_shared->cmd_done_seq = seq;
		raft_shared->cmd_result = RAFT_EINVAL;
		strlcpy(raft_shared->cmd_message, "withdrawn", RAFT_ERROR_LEN);
		raft_shared->cmd.kind = RAFT_CMD_NONE;
	}
	LWLockRelease(raft_shared->lock);

	/* Someone may be waiting for the slot to become free. */
	ConditionVariableBroadcast(&raft_shared->cmd_cv);
}

/* Milliseconds left until deadline (monotonic), never negative. */
static long
ms_left(raft_time deadline)
{
	raft_time	now = raft_monotonic_now();

	return now >= deadline ? 0 : (long) (deadline - now);
}

/*
 * Wait for the mailbox slot, submit, and return the sequence number given
 * to the command.  The latch of the worker to wake goes into *latch.
 */
static uint64
command_enqueue(const RaftCommand *cmd, raft_time deadline, Latch **latch)
{
	uint64		seq = 0;

	ConditionVariablePrepareToSleep(&raft_shared->cmd_cv);
	for (;;)
	{
		bool		running;

		LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
		running = raft_shared->status.worker_running &&
			raft_shared->worker_latch != NULL;
		if (running && raft_shared->cmd_seq == raft_shared->cmd_done_seq)
		{
			seq = ++raft_shared->cmd_seq;
			raft_shared->cmd = *cmd;
			*latch = raft_shared->worker_latch;
		}
		LWLockRelease(raft_shared->lock);

		if (!running)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("raft_ext worker is not running"),
					 errhint("Check the server log for the reason.")));
		}
		if (seq != 0)
			break;
		if (ms_left(deadline) == 0)
		{
			ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("another raft_ext command is still in progress"),
					 errhint("Try again later.")));
		}
		ConditionVariableTimedSleep(&raft_shared->cmd_cv, ms_left(deadline),
									PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	return seq;
}

/* See shmem.h. */
int
raft_command_submit(const RaftCommand *cmd, int timeout_ms, char *message_out)
{
	raft_time	deadline = raft_monotonic_now() + Max(timeout_ms, 0);
	Latch	   *latch = NULL;
	uint64		seq;
	int			result = RAFT_OK;

	raft_require_shared();
	seq = command_enqueue(cmd, deadline, &latch);
	SetLatch(latch);

	/* An error or cancel while waiting withdraws the command. */
	PG_TRY();
	{
		ConditionVariablePrepareToSleep(&raft_shared->cmd_cv);
		for (;;)
		{
			bool		done;

			LWLockAcquire(raft_shared->lock, LW_SHARED);
			done = raft_shared->cmd_done_seq >= seq;
			if (done)
			{
				result = raft_shared->cmd_result;
				strlcpy(message_out, raft_shared->cmd_message, RAFT_ERROR_LEN);
			}
			LWLockRelease(raft_shared->lock);
			if (done)
				break;

			if (ms_left(deadline) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("raft_ext worker did not answer within %d ms",
								timeout_ms),
						 errdetail("The request was withdrawn, but the worker may already have acted on it.")));
			ConditionVariableTimedSleep(&raft_shared->cmd_cv, ms_left(deadline),
										PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		}
		ConditionVariableCancelSleep();
	}
	PG_CATCH();
	{
		ConditionVariableCancelSleep();
		command_withdraw(seq);
		PG_RE_THROW();
	}
	PG_END_TRY();

	return result;
}

/* The slot of node 'id', or a free or the stalest one for it (under lock). */
static RaftIncarnation *
incarnation_slot(raft_id id)
{
	RaftIncarnation *stalest = NULL;

	for (int i = 0; i < RAFT_INCARNATION_SLOTS; i++)
	{
		RaftIncarnation *slot = &raft_shared->incarnations[i];

		if (slot->id == id)
			return slot;
		if (stalest == NULL || slot->id == RAFT_NOBODY ||
			(stalest->id != RAFT_NOBODY &&
			 slot->current_seen < stalest->current_seen))
			stalest = slot;
	}
	memset(stalest, 0, sizeof(RaftIncarnation));
	stalest->id = id;
	return stalest;
}

/* Whether the slot shows two live incarnations (under lock). */
static bool
incarnation_conflict(const RaftIncarnation *slot, raft_time now,
					 raft_time window)
{
	return slot->previous != 0 && slot->previous_after >= 2 &&
		now - slot->current_seen < window &&
		now - slot->previous_seen < window;
}

/* See shmem.h. */
bool
raft_incarnation_seen(raft_id id, uint64 incarnation, raft_time now,
					  raft_time window, uint64 *other)
{
	RaftIncarnation *slot;
	bool		conflict;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	slot = incarnation_slot(id);
	if (slot->current == incarnation)
	{
		slot->current_seen = now;
		*other = slot->previous;
	}
	else if (slot->previous == incarnation && slot->previous != 0)
	{
		/* A replaced incarnation speaks: still in flight, or alive. */
		slot->previous_seen = now;
		if (slot->previous_after < PG_UINT32_MAX)
			slot->previous_after++;
		*other = slot->current;
	}
	else
	{
		/* A new one: the node restarted (or a copy of it started). */
		slot->previous = slot->current;
		slot->previous_seen = slot->current_seen;
		slot->previous_after = 0;
		slot->current = incarnation;
		slot->current_seen = now;
		*other = slot->previous;
	}
	/*
	 * Only the newer of two live incarnations is refused: the one that
	 * replaced an incarnation that still speaks is the copy (or the second
	 * start) and the established one keeps its place, so that a clone of
	 * the leader does not stop the leader too.
	 */
	conflict = incarnation_conflict(slot, now, window) &&
		slot->current == incarnation;
	LWLockRelease(raft_shared->lock);
	return conflict;
}

/* See shmem.h. */
bool
raft_incarnation_conflict(raft_id id, raft_time now, raft_time window)
{
	bool		conflict = false;

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	for (int i = 0; i < RAFT_INCARNATION_SLOTS; i++)
	{
		const RaftIncarnation *slot = &raft_shared->incarnations[i];

		if (slot->id == id)
		{
			conflict = incarnation_conflict(slot, now, window);
			break;
		}
	}
	LWLockRelease(raft_shared->lock);
	return conflict;
}
