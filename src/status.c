/*
 * status.c
 *	  The status snapshot: the worker publishes it, the fence, the failover
 *	  policy and the SQL views read it, and the predicates they share.
 *
 * The snapshot lives in shared memory (shmem.h) under its lock; the lease
 * horizon is copied, with its lease epoch, into an atomic word beside it
 * (the lease word, status.h), which the fence reads at every statement of a
 * session that may write and around every commit of a write, without
 * taking the lock.
 */
#include "postgres.h"

#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#include "clock.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"

/*
 * Publish the worker's status.  inbox_dropped belongs to the inbox, which
 * counts it under the same lock, so the published copy does not overwrite it.
 */
void
raft_publish_status(const RaftStatus *status)
{
	uint64		dropped;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	dropped = raft_shared->status.inbox_dropped;
	memcpy(&raft_shared->status, status, sizeof(RaftStatus));
	raft_shared->status.inbox_dropped = dropped;
	raft_publish_lease(raft_status_running(status) ? status->lease_until : 0,
					   status->term);
	LWLockRelease(raft_shared->lock);

	ConditionVariableBroadcast(&raft_shared->status_cv);
}

/*
 * Worker: publish the lease horizon the fence reads, and its identity (the
 * lease word, status.h).  A lease held now gets a new epoch unless it
 * continues the one published last: same term, that one still in force
 * now, and no shorter.  A lease that is not held (0, or already past) keeps
 * the epoch: nobody can pass the fence with it, and the next lease held
 * gets a new one, since the previous one is then not in force.  So the
 * epoch changes once per lease gained, not at every publication, and its
 * 24 bits wrap only after 16 million leases.
 *
 * The barrier makes a lease given up visible to every backend before the
 * caller goes on to send anything: a leadership transfer's TIMEOUT_NOW must
 * never leave while this node's backends can still see the old lease.
 * Only the worker publishes, so the read-modify-write needs no lock.
 */
void
raft_publish_lease(raft_time lease_until, raft_term term)
{
	/* the term of the last lease held */
	raft_term	held_term = pg_atomic_read_u64(&raft_shared->lease_term);
	uint64		old = pg_atomic_read_u64(&raft_shared->lease_word);
	raft_time	previous = raft_lease_word_until(old);
	uint64		epoch = raft_lease_word_epoch(old);
	raft_time	now = 0;

	/*
	 * Out of range (a clock 34 years past boot), or no clock to tell whether
	 * it continues the last one: publish no lease at all.
	 */
	if ((uint64) lease_until > RAFT_LEASE_MASK || !raft_monotonic_try(&now))
		lease_until = 0;
	if (lease_until > now)
	{
		bool		continues = previous > now && term == held_term &&
			lease_until >= previous;

		if (!continues)
			epoch = (epoch + 1) & RAFT_LEASE_EPOCH_MASK;
		if (term != held_term)
		{
			/*
			 * A lease of another term: revoke the old word first, so that no
			 * reader pairs it with the new term (raft_lease_term).  The new
			 * word has a new epoch, so it never equals the old one.
			 */
			pg_atomic_write_u64(&raft_shared->lease_word,
								epoch << RAFT_LEASE_BITS);
			pg_write_barrier();
			pg_atomic_write_u64(&raft_shared->lease_term, (uint64) term);
			pg_write_barrier();
		}
	}
	pg_atomic_write_u64(&raft_shared->lease_word,
						(epoch << RAFT_LEASE_BITS) | (uint64) lease_until);
	pg_memory_barrier();
}

/*
 * Anyone: the term of the lease this node holds now, or 0 if it holds none.
 * It reads the lease word the fence reads, not the status snapshot, which
 * the worker publishes a moment after the lease (worker.c): a commit that
 * passed the fence must never have read "no lease" here.  The term is read
 * between two readings of the lease word; if they differ, the worker
 * published meanwhile and the reading is retried.  Equal readings pair the
 * word with its own term: the worker revokes a word before it changes the
 * term (raft_publish_lease), and a revoked word is never republished.
 */
raft_term
raft_lease_term(void)
{
	for (;;)
	{
		uint64		word = pg_atomic_read_u64(&raft_shared->lease_word);
		raft_term	term;
		raft_time	now;

		pg_read_barrier();
		term = (raft_term) pg_atomic_read_u64(&raft_shared->lease_term);
		pg_read_barrier();
		if (pg_atomic_read_u64(&raft_shared->lease_word) != word)
			continue;
		if (!raft_monotonic_try(&now) || raft_lease_word_until(word) <= now)
			return 0;
		return term;
	}
}

/* Copy the current status snapshot. */
void
raft_read_status(RaftStatus *status)
{
	LWLockAcquire(raft_shared->lock, LW_SHARED);
	memcpy(status, &raft_shared->status, sizeof(RaftStatus));
	LWLockRelease(raft_shared->lock);
}

/* Whether the snapshot describes a worker that is running Raft. */
bool
raft_status_running(const RaftStatus *st)
{
	return st->worker_running && st->error[0] == '\0';
}

/* See status.h. */
const RaftPeerStatus *
raft_status_member(const RaftStatus *st, raft_id id)
{
	for (int i = 0; i < st->n_peers && i < RAFT_MAX_MEMBERS; i++)
	{
		if (st->peers[i].id == id)
			return &st->peers[i];
	}
	return NULL;
}

/* The leader known to the snapshot: this node while it leads. */
raft_id
raft_status_leader(const RaftStatus *st)
{
	if (!raft_status_running(st))
		return RAFT_NOBODY;
	if (st->role == RAFT_LEADER)
		return st->node_id != RAFT_NOBODY ? st->node_id : (raft_id) raft_node_id;
	return st->leader_id;
}
