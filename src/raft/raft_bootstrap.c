/*
 * raft_bootstrap.c
 *	  The rule that keeps a node's bootstrap membership fixed across restarts.
 *
 * The bootstrap membership is the base under every membership change in the
 * log: a node that restarts with a different one computes a different
 * configuration from the same log.  Two configurations that differ in two
 * members can have disjoint majorities, and then two leaders can be elected
 * in one term.  So the membership a node first started with is persisted by
 * the caller, and every later start is checked against it here: members may
 * change their addresses (a host moved), nothing else.
 */
#include <string.h>

#include "raft.h"

#ifndef RAFT_MUTANT_ACCEPT_BOOTSTRAP_CHANGE
/* Index of member 'id' in 'm', or -1. */
static int
find_member(const raft_membership *m, raft_id id)
{
	for (int i = 0; i < m->count; i++)
		if (m->members[i].id == id)
			return i;
	return -1;
}
#endif

/* Compare a configured bootstrap membership with the persisted one (raft.h). */
int
raft_bootstrap_check(const raft_membership *persisted,
					 const raft_membership *configured,
					 raft_membership *effective, raft_id *culprit,
					 const char **why)
{
	*culprit = RAFT_NOBODY;
	*why = NULL;
	if (persisted->count < 0 || persisted->count > RAFT_MAX_MEMBERS ||
		configured->count < 0 || configured->count > RAFT_MAX_MEMBERS)
	{
		*why = "membership has an impossible member count";
		return RAFT_EINVAL;
	}

#ifndef RAFT_MUTANT_ACCEPT_BOOTSTRAP_CHANGE
	for (int i = 0; i < persisted->count; i++)
	{
		const raft_member *p = &persisted->members[i];
		int			slot = find_member(configured, p->id);

		if (slot < 0)
		{
			*culprit = p->id;
			*why = "a member of the persisted bootstrap membership is missing from the configured one";
			return RAFT_EINVAL;
		}
		if (configured->members[slot].voter != p->voter)
		{
			*culprit = p->id;
			*why = "a member's voting right differs from the persisted bootstrap membership";
			return RAFT_EINVAL;
		}
	}
	for (int i = 0; i < configured->count; i++)
	{
		if (find_member(persisted, configured->members[i].id) < 0)
		{
			*culprit = configured->members[i].id;
			*why = "the configured membership names a member the persisted bootstrap membership does not have";
			return RAFT_EINVAL;
		}
	}

	/* Same members, same rights: take the persisted set, new addresses. */
	*effective = *persisted;
	for (int i = 0; i < effective->count; i++)
	{
		int			slot = find_member(configured, effective->members[i].id);

		memcpy(effective->members[i].address,
			   configured->members[slot].address, RAFT_MAX_ADDRESS);
		effective->members[i].address[RAFT_MAX_ADDRESS - 1] = '\0';
	}
#else
	/* Mutant: the fix reverted; the configured membership silently wins. */
	*effective = *configured;
#endif
	return RAFT_OK;
}
