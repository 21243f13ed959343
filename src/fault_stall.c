/*
 * fault_stall.c
 *	  Failpoint "stall": the raft_ext worker stops working, as a worker that
 *	  is descheduled, swapped out or stuck in a slow system call would, while
 *	  the rest of the server runs on: backends commit, WAL senders stream.
 *
 * This is the fault the lease identity exists for (docs/fencing.md, "No
 * acknowledgement after the lease"): the published lease stays as it was,
 * the standbys hear no heartbeat and elect another leader, and a commit
 * that passed the fence before the stall may still be released by a
 * standby that streams from this node.  A test arms it with
 * raft_ext.fault_failpoint('stall') and ends it with fault_clear() or
 * fault_failpoint('none'); the stall also ends after a minute, so that a
 * test that fails midway leaves no worker stuck for good, and when the
 * server shuts down.
 *
 * Failpoint "stall-after-lease" stalls the same way, at one place only:
 * after the worker published a lease (the word the fence reads) and before
 * it published the status snapshot that shows it.  Backends pass the fence
 * in that window, and raft_ext.fencing_token() must say so (it reads the
 * lease word, not the snapshot); 062_fencing_token_matches_fence holds the
 * window open to check it.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

#include "clock.h"
#include "faults.h"
#include "settings.h"
#include "shmem.h"

/* The longest a stall lasts, whether disarmed or not (ms). */
#define RAFT_FAULT_STALL_MAX_MS		60000

/* Whether failpoint fp is armed; one word, read without the lock. */
static bool
stall_armed(RaftFailpoint fp)
{
	return raft_fault_injection && raft_shared->fault_failpoint == (uint32) fp;
}

/* Do nothing while fp stays armed (at most RAFT_FAULT_STALL_MAX_MS). */
static void
stall_while_armed(RaftFailpoint fp)
{
	raft_time	start;
	raft_time	now;

	start = raft_monotonic_now();
	ereport(LOG,
			(errmsg("failpoint %s: the raft_ext worker of node %u stops working",
					raft_failpoint_names[fp], (unsigned) raft_node_id)));
	for (;;)
	{
		now = raft_monotonic_now();
		if (!stall_armed(fp) || ShutdownRequestPending)
			break;
		if (now - start >= RAFT_FAULT_STALL_MAX_MS)
		{
			raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
			break;
		}
		/* Messages that arrive set the latch; they wait in the inbox. */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	ereport(LOG,
			(errmsg("failpoint %s: the raft_ext worker of node %u works again after %lld ms",
					raft_failpoint_names[fp], (unsigned) raft_node_id,
					(long long) (now - start))));
}

/* See faults.h. */
void
raft_fault_stall_point(void)
{
	if (stall_armed(RAFT_FAILPOINT_STALL))
		stall_while_armed(RAFT_FAILPOINT_STALL);
}

/* See faults.h. */
void
raft_fault_stall_after_lease_point(bool lease_unpublished)
{
	if (lease_unpublished && stall_armed(RAFT_FAILPOINT_STALL_AFTER_LEASE))
		stall_while_armed(RAFT_FAILPOINT_STALL_AFTER_LEASE);
}
