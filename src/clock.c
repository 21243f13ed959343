/*
 * clock.c
 *	  The monotonic clock shared by the worker and the backends.
 *
 * The worker stamps the leader's lease with this clock and backends compare
 * against it when they decide whether this node may commit, so it must not
 * jump with the wall clock (NTP steps, an administrator's date command).
 * CLOCK_MONOTONIC is system-wide on Linux, hence comparable across processes.
 */
#include "postgres.h"

#include <time.h>

#include "raft_ext.h"

/* Milliseconds of CLOCK_MONOTONIC into *now; false if the clock failed. */
bool
raft_monotonic_try(raft_time *now)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return false;
	*now = (raft_time) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return true;
}

/* Milliseconds of CLOCK_MONOTONIC; ERROR if the clock fails. */
raft_time
raft_monotonic_now(void)
{
	raft_time	now;

	if (!raft_monotonic_try(&now))
		elog(ERROR, "clock_gettime(CLOCK_MONOTONIC) failed: %m");
	return now;
}
