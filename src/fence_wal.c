/*
 * fence_wal.c
 *	  A fenced primary sends no WAL: while this node is a primary without the
 *	  lease and another member leads (or this node led before and lost it),
 *	  the worker ends its WAL senders and new replication connections are
 *	  refused.
 *
 * Why: the commit fence refuses a commit, but the WAL already written by a
 * fenced primary (aborted transactions, vacuum, checkpoints, and commits
 * that passed the fence just before the lease ran out) would still reach
 * the standbys on its side of a partition.  A standby that received WAL the
 * new primary never got has diverged and needs pg_rewind; ending the
 * senders as soon as the lease is gone keeps the standbys at or before the
 * point the new primary forks from.
 *
 * When, for a primary:
 *  - it leads, but the lease it held ran out (a majority stopped answering);
 *  - it led before and has heard from no leader for an election timeout
 *    (cut off; not sooner: a standby that wins an election while this
 *    primary is healthy makes it step down before it hears the winner);
 *  - another member has led for two election timeouts and answers it;
 *  - it was fenced and does not lead again.
 * Not while another member has led for less than that: a standby that wins
 * while this healthy primary lives hands leadership back within a few
 * heartbeats (failover.c), and it recognises its primary by its streaming
 * WAL receiver: ending the senders then would make it promote instead.
 * Not while this node demotes after a switchover it started (rejoin.c):
 * its WAL senders deliver the shutdown checkpoint to the standbys.
 * Not for a primary that has not led since the worker started and hears
 * from no leader (a cluster starting up): its standbys would be cut off
 * until the first election.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xlog.h"
#include "miscadmin.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/spin.h"

#include "fencing.h"
#include "rejoin.h"
#include "settings.h"
#include "shmem.h"

/* This node has led since the worker started (worker process only). */
static bool has_led = false;
/* The other leader this node hears from, and since when. */
static raft_id other_leader = RAFT_NOBODY;
static raft_time other_leader_since = 0;
/* Since when this node neither leads nor hears a leader, 0 if it does. */
static raft_time adrift_since = 0;

/* End every WAL sender; returns how many were signalled. */
static int
terminate_walsenders(void)
{
	int			n = 0;

	if (WalSndCtl == NULL)
		return 0;
	for (int i = 0; i < max_wal_senders; i++)
	{
		WalSnd	   *walsnd = &WalSndCtl->walsnds[i];
		pid_t		pid;

		SpinLockAcquire(&walsnd->mutex);
		pid = walsnd->pid;
		SpinLockRelease(&walsnd->mutex);
		if (pid != 0 && kill(pid, SIGTERM) == 0)
			n++;
	}
	return n;
}

/* See fencing.h. */
void
raft_fence_wal_step(const RaftStatus *status, raft_time now)
{
	bool		leading = (status->role == RAFT_LEADER);
	bool		hears_other;
	bool		fenced = false;
	bool		was_fenced;
	int			n;

	if (raft_shared == NULL)
		return;
	/* Client sessions that may write go the same way (fence_sessions.c). */
	raft_fence_sessions_step(status, now);
	if (leading)
		has_led = true;
	hears_other = !leading && status->leader_id != RAFT_NOBODY &&
		status->leader_id != (raft_id) raft_node_id &&
		status->last_leader_contact != 0 &&
		now - status->last_leader_contact < raft_election_timeout;
	if (leading || hears_other)
		adrift_since = 0;
	else if (adrift_since == 0)
		adrift_since = now;
	if (!hears_other)
		other_leader = RAFT_NOBODY;
	else if (status->leader_id != other_leader)
	{
		other_leader = status->leader_id;
		other_leader_since = now;
	}
	was_fenced = pg_atomic_read_u32(&raft_shared->wal_fenced) != 0;

	if (raft_fencing && raft_status_running(status) && !RecoveryInProgress())
	{
		if (leading)
			fenced = status->lease_until != 0 && status->lease_until <= now;
		else if (was_fenced)
			fenced = true;
		else if (hears_other)
			fenced = now - other_leader_since >= 2 * raft_election_timeout &&
				!raft_rejoin_demoting(now);
		else
			fenced = has_led && now - adrift_since >= raft_election_timeout &&
				!raft_rejoin_demoting(now);
	}
	pg_atomic_write_u32(&raft_shared->wal_fenced, fenced ? 1 : 0);
	if (!fenced)
	{
		if (was_fenced)
			ereport(LOG,
					(errmsg("node %u accepts replication connections again",
							(unsigned) raft_node_id)));
		return;
	}
	n = terminate_walsenders();
	if (!was_fenced)
		ereport(LOG,
				(errmsg("node %u is a fenced primary: ending %d WAL sender(s) and refusing replication connections",
						(unsigned) raft_node_id, n),
				 status->leader_id != RAFT_NOBODY ?
				 errdetail("Node %u is the Raft leader; this node does not hold the lease.",
						   (unsigned) status->leader_id) :
				 errdetail("This node lost the lease and no leader is known yet.")));
}

/* See fencing.h. */
bool
raft_fence_wal_refused(void)
{
	return raft_shared != NULL && raft_fencing &&
		pg_atomic_read_u32(&raft_shared->wal_fenced) != 0;
}
