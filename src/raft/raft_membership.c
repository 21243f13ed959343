/*
 * raft_membership.c
 *	  Proposals, and single-server membership changes carried in the log.
 *
 * A change is one RAFT_ENTRY_CHANGE entry whose payload is an encoded
 * raft_change.  It takes effect on each node as soon as the entry is in its
 * log (raft_log.c).  Changing one server at a time keeps every old majority
 * and new majority overlapping, provided a leader starts a change only once
 * the previous one is committed -- and only once an entry of its own term
 * is committed.  Without the second rule a new leader can append a change
 * while the previous leader's uncommitted change sits in other logs; each
 * is one server away from the configuration they share, but two apart from
 * each other, so their majorities can be disjoint: the change commits under
 * one while a leader elected under the other overwrites it (Ongaro's
 * raft-dev post of 2015, test_change_after_leader_change_keeps_commits).
 * Committing its NOOP proves that a majority of the current configuration
 * holds this leader's log, so no stale change can win any more.
 *
 * Staged members (RAFT_CHANGE_ADD_STAGED) are learners that the leader
 * promotes by itself once they have caught up: a node that is down when it
 * is added never counts towards a quorum it cannot help to form.
 */
#include <string.h>

#include "raft_internal.h"

/* Append an entry as leader and start replicating it. */
static int
leader_append(raft_node *n, raft_entry_type type, const uint8_t *data,
			  uint32_t len, raft_index *index)
{
	int			rc;

	rc = raft__log_append(n, n->term, (uint8_t) type, data, len);
	if (rc != RAFT_OK)
		return rc;
	if (index != NULL)
		*index = raft__last_index(n);
	raft__broadcast_append(n, false);
	return RAFT_OK;
}

/* Leader only: append an entry (see raft.h). */
int
raft_propose(raft_node *n, raft_entry_type type, const uint8_t *data,
			 uint32_t len, raft_index *index)
{
	n->started = true;
	if (n->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (n->transfer_target != RAFT_NOBODY)
		return RAFT_EBUSY;
	if (type != RAFT_ENTRY_NORMAL && type != RAFT_ENTRY_NOOP)
		return RAFT_EINVAL;		/* changes go through raft_propose_change */
	if (len > RAFT_MAX_ENTRY_DATA)
		return RAFT_ETOOBIG;
	if (len > 0 && data == NULL)
		return RAFT_EINVAL;
	return leader_append(n, type, data, len, index);
}

/* Leader only: append a timeline history step (see raft.h). */
int
raft_propose_timeline(raft_node *n, const raft_timeline *step,
					  raft_index *index)
{
	uint8_t		buf[RAFT_TIMELINE_ENCODED_SIZE];
	size_t		len = 0;
	const char *why;

	n->started = true;
	if (index != NULL)
		*index = 0;
	if (n->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (n->transfer_target != RAFT_NOBODY)
		return RAFT_EBUSY;
	if (step == NULL ||
		raft_timeline_encode(step, buf, sizeof(buf), &len, &why) != RAFT_OK)
		return RAFT_EINVAL;
	if (n->n_history > 0 && n->history[n->n_history - 1].tli == step->tli &&
		n->history[n->n_history - 1].begin == step->begin)
		return RAFT_OK;
	return leader_append(n, RAFT_ENTRY_TIMELINE, buf, (uint32_t) len, index);
}

/* Whether 'c' makes sense against the current configuration. */
static int
check_change(const raft_node *n, const raft_change *c)
{
	int			slot = raft__member_slot(&n->config, c->id);
	int			voters = 0;

	for (int i = 0; i < n->config.count; i++)
		if (n->config.members[i].voter)
			voters++;
	if (c->id == RAFT_NOBODY)
		return RAFT_EINVAL;
	switch (c->op)
	{
		case RAFT_CHANGE_ADD_VOTER:
		case RAFT_CHANGE_ADD_LEARNER:
		case RAFT_CHANGE_ADD_STAGED:
			if (slot >= 0 || n->config.count >= RAFT_MAX_MEMBERS)
				return RAFT_EINVAL;
			if (memchr(c->address, '\0', RAFT_MAX_ADDRESS) == NULL)
				return RAFT_EINVAL;
			return RAFT_OK;
		case RAFT_CHANGE_PROMOTE:
			if (slot < 0)
				return RAFT_EUNKNOWN;
			return n->config.members[slot].voter ? RAFT_EINVAL : RAFT_OK;
		case RAFT_CHANGE_REMOVE:
			if (slot < 0)
				return RAFT_EUNKNOWN;
			if (n->config.members[slot].voter && voters <= 1)
				return RAFT_EINVAL;		/* would leave nobody to decide */
			return RAFT_OK;
	}
	return RAFT_EINVAL;
}

/* Leader only: propose a single-server membership change (see raft.h). */
int
raft_propose_change(raft_node *n, const raft_change *change,
					raft_index *index)
{
	uint8_t		buf[sizeof(raft_change) + 64];
	size_t		len = 0;
	const char *why;
	int			rc;

	n->started = true;
	if (change == NULL)
		return RAFT_EINVAL;
	if (n->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (n->transfer_target != RAFT_NOBODY)
		return RAFT_EBUSY;
	if (n->last_change_index > n->commit)
		return RAFT_EBUSY;		/* the previous change is not committed */
#ifndef RAFT_MUTANT_CHANGE_BEFORE_OWN_TERM_COMMIT
	if (raft__term_at(n, n->commit) != n->term)
		return RAFT_EBUSY;		/* our opening NOOP is not committed yet */
#endif
	rc = check_change(n, change);
	if (rc != RAFT_OK)
		return rc;
	rc = raft_change_encode(change, buf, sizeof(buf), &len, &why);
	if (rc != RAFT_OK)
		return rc;
	return leader_append(n, RAFT_ENTRY_CHANGE, buf, (uint32_t) len, index);
}

/*
 * The commit index moved: a leader whose own removal is now committed steps
 * down (until then it led the cluster without counting itself).
 */
void
raft__membership_committed(raft_node *n)
{
	if (n->role != RAFT_LEADER || n->last_change_index > n->commit)
		return;
	if (!raft_is_voter(n, n->id))
		raft__become_follower(n, n->term, RAFT_NOBODY);
}

/*
 * Leader tick: promote one staged learner that has caught up -- it holds
 * everything committed so far and answered within the election timeout --
 * through the ordinary change path, so the usual rules (one change at a
 * time, own term committed, no transfer under way) apply.  A staged member
 * that never comes up stays a learner and never weighs on the quorum.
 */
void
raft__maybe_promote(raft_node *n)
{
	if (n->role != RAFT_LEADER)
		return;
	for (int i = 0; i < n->config.count; i++)
	{
		const raft_member *mb = &n->config.members[i];
		raft_progress *pr;
		raft_change c;

		if (!mb->staged || mb->voter || mb->id == n->id)
			continue;
		pr = raft__progress(n, mb->id);
		if (pr == NULL || pr->match < n->commit || pr->match == 0 ||
			n->now - pr->last_contact >= n->opts.election_timeout)
			continue;
		memset(&c, 0, sizeof(c));
		c.op = RAFT_CHANGE_PROMOTE;
		c.id = mb->id;
		if (raft_propose_change(n, &c, NULL) == RAFT_OK)
			n->stats.promotions++;
		return;					/* one change at a time anyway */
	}
}
