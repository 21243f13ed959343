/*
 * raft_membership.c
 *	  Proposals, and single-server membership changes carried in the log.
 *
 * A change is one RAFT_ENTRY_CHANGE entry whose payload is an encoded
 * raft_change.  It takes effect on each node as soon as the entry is in its
 * log (raft_log.c).  Changing one server at a time keeps every old majority
 * and new majority overlapping, provided a leader starts a change only once
 * the previous one is committed.
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
