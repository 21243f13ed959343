/*
 * clock.c
 *	  The clock shared by the worker and the backends for the lease and the
 *	  fence.
 *
 * The worker stamps the leader's lease with this clock and backends compare
 * against it when they decide whether this node may commit, so it must not
 * jump with the wall clock (NTP steps, an administrator's date command).
 * It must not stop either: CLOCK_MONOTONIC does not advance while the
 * machine is suspended, so a leader suspended past the end of its lease
 * would wake up believing the lease still runs while the others have
 * elected a new leader.  CLOCK_BOOTTIME (Linux) counts the suspended time
 * too; where it does not exist, CLOCK_MONOTONIC is the best there is.  Both
 * are system-wide, hence comparable across processes.
 *
 * What no clock inside the guest can see: a hypervisor that freezes the
 * whole virtual machine (a pause, a live migration) and resumes it with its
 * clocks continuing from where they stopped.  docs/fencing.md says so.
 */
#include "postgres.h"

#include <time.h>

#include "clock.h"

#ifdef CLOCK_BOOTTIME
#define RAFT_CLOCK_ID		CLOCK_BOOTTIME
#define RAFT_CLOCK_NAME		"CLOCK_BOOTTIME"
#else
#define RAFT_CLOCK_ID		CLOCK_MONOTONIC
#define RAFT_CLOCK_NAME		"CLOCK_MONOTONIC"
#endif

/* Milliseconds of the lease clock into *now; false if the clock failed. */
bool
raft_monotonic_try(raft_time *now)
{
	struct timespec ts;

	if (clock_gettime(RAFT_CLOCK_ID, &ts) != 0)
		return false;
	*now = (raft_time) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return true;
}

/* Milliseconds of the lease clock; ERROR if the clock fails. */
raft_time
raft_monotonic_now(void)
{
	raft_time	now;

	if (!raft_monotonic_try(&now))
		elog(ERROR, "clock_gettime(%s) failed: %m", RAFT_CLOCK_NAME);
	return now;
}
