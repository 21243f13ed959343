/*
 * clock.h
 *	  The monotonic clock of the lease and the fence (clock.c).
 */
#ifndef RAFT_CLOCK_H
#define RAFT_CLOCK_H

#include "raft/raft.h"

/*
 * Monotonic milliseconds (CLOCK_BOOTTIME where it exists, which keeps
 * counting while the machine is suspended, else CLOCK_MONOTONIC),
 * comparable across the processes of one machine: the worker stamps the lease with it and backends compare
 * against it when they decide whether this node may commit.
 */
extern raft_time raft_monotonic_now(void);
/* The same, for callers that must not throw: false if the clock failed. */
extern bool raft_monotonic_try(raft_time *now);

#endif							/* RAFT_CLOCK_H */
