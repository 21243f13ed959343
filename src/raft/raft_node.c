/*
 * raft_node.c
 *	  Options, node creation and destruction, restoring the persisted log,
 *	  observers and the small naming helpers of the engine.
 *
 * A node is created from its durable state (term, vote, lazily persisted
 * commit) and the bootstrap membership; the caller then feeds back its
 * persisted entries with raft_restore_entry() before the first input.
 */
#include <stdlib.h>
#include <string.h>

#include "raft_internal.h"

/* Default allocator: malloc. */
static void *
default_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

/* Default allocator: realloc. */
static void *
default_realloc(void *ctx, void *ptr, size_t size)
{
	(void) ctx;
	return realloc(ptr, size);
}

/* Default allocator: free. */
static void
default_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

/* Allocate through the node's allocator. */
void *
raft__alloc(raft_node *n, size_t size)
{
	return n->opts.alloc(n->opts.alloc_ctx, size);
}

/* Reallocate through the node's allocator (ptr may be NULL). */
void *
raft__realloc(raft_node *n, void *ptr, size_t size)
{
	if (ptr == NULL)
		return n->opts.alloc(n->opts.alloc_ctx, size);
	return n->opts.realloc(n->opts.alloc_ctx, ptr, size);
}

/* Free through the node's allocator (NULL is fine). */
void
raft__free(raft_node *n, void *ptr)
{
	if (ptr != NULL)
		n->opts.free(n->opts.alloc_ctx, ptr);
}

/* Fill in the defaults (see raft.h). */
void
raft_options_init(raft_options *options, raft_id id)
{
	memset(options, 0, sizeof(*options));
	options->id = id;
	options->heartbeat_interval = 100;
	options->election_timeout = 1000;
	options->election_spread = 500;	/* 0.5 x ET: see bench/engine/README.md */
	options->lease_drift_margin = 100;
	options->seed = 1;
	options->prevote = true;
	options->check_quorum = true;
	options->never_campaign = false;
	options->max_position_lag = RAFT_POSITION_ANY;
	options->rank_step = 50;	/* heartbeat / 2: see bench/engine/README.md */
	options->rank_jitter = 10;
	options->priority = 1;
}

/*
 * How long a new node refuses votes and does not campaign: the longer of
 * its election timeout and the timeout it promised before a restart.
 */
raft_time
raft__startup_window(const raft_options *o)
{
#ifndef RAFT_MUTANT_STARTUP_OWN_TIMEOUT
	if (o->startup_stickiness > o->election_timeout)
		return o->startup_stickiness;
#endif
	return o->election_timeout;
}

/* Check options; *why gets a static reason on failure. */
int
raft_options_validate(const raft_options *o, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (o == NULL)
		*why = "options are missing";
	else if (o->id == RAFT_NOBODY)
		*why = "node id must be nonzero";
	else if (o->heartbeat_interval <= 0)
		*why = "heartbeat interval must be positive";
	else if (o->election_timeout <= 2 * o->heartbeat_interval)
		*why = "election timeout must exceed twice the heartbeat interval";
	else if (o->election_spread < 0)
		*why = "election spread must not be negative";
	else if (o->election_spread > INT64_MAX / 4 ||
			 o->election_timeout > INT64_MAX / 4)
		*why = "election timeout or spread is too large";
	else if (o->lease_drift_margin < 0 ||
			 o->lease_drift_margin >= o->election_timeout)
		*why = "lease drift margin must be in [0, election timeout)";
	else if (o->transfer_hold < 0 || o->transfer_hold > INT64_MAX / 4)
		*why = "transfer hold must be in [0, INT64_MAX / 4]";
	else if (o->startup_stickiness < 0 ||
			 o->startup_stickiness > INT64_MAX / 4)
		*why = "startup stickiness must be in [0, INT64_MAX / 4]";
	else if (o->rank_step < 0 || o->rank_jitter < 0 ||
			 o->rank_step > INT64_MAX / (4 * RAFT_MAX_MEMBERS) ||
			 o->rank_jitter > INT64_MAX / 4)
		*why = "rank step and jitter must be small and not negative";
	else if (o->priority < 1 || o->priority > RAFT_MAX_PRIORITY)
		*why = "priority must be in [1, 100]";
	else if ((o->alloc == NULL) != (o->free == NULL) ||
			 (o->alloc == NULL) != (o->realloc == NULL))
		*why = "allocator functions must be given together or not at all";
	return *why == NULL ? RAFT_OK : RAFT_EINVAL;
}

/* Whether a bootstrap membership is well formed. */
static bool
membership_valid(const raft_membership *m)
{
	if (m->count < 0 || m->count > RAFT_MAX_MEMBERS)
		return false;
	for (int i = 0; i < m->count; i++)
	{
		if (m->members[i].id == RAFT_NOBODY)
			return false;
		if (memchr(m->members[i].address, '\0', RAFT_MAX_ADDRESS) == NULL)
			return false;
		for (int j = 0; j < i; j++)
			if (m->members[j].id == m->members[i].id)
				return false;
	}
	return true;
}

/* Create a node (see raft.h). */
raft_node *
raft_new(const raft_options *options, const raft_hard_state *hs,
		 const raft_membership *bootstrap, raft_time now)
{
	raft_options o;
	raft_node  *n;

	if (raft_options_validate(options, NULL) != RAFT_OK)
		return NULL;
	if (bootstrap != NULL && !membership_valid(bootstrap))
		return NULL;
	if (hs != NULL && hs->voted_for != RAFT_NOBODY && hs->term == 0)
		return NULL;
	o = *options;
	if (o.alloc == NULL)
	{
		o.alloc = default_alloc;
		o.realloc = default_realloc;
		o.free = default_free;
	}
	n = o.alloc(o.alloc_ctx, sizeof(*n));
	if (n == NULL)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->opts = o;
	n->id = o.id;
	n->rng = o.seed ^ ((uint64_t) o.id * UINT64_C(0x9E3779B97F4A7C15));
	if (hs != NULL)
	{
		n->term = hs->term;
		n->voted_for = hs->voted_for;
		n->restored_commit = hs->commit;
		n->persisted = *hs;
		n->persisted.commit = 0;
	}
	if (bootstrap != NULL)
		n->bootstrap = *bootstrap;
	n->config = n->bootstrap;
	n->role = RAFT_FOLLOWER;
	n->leader = RAFT_NOBODY;
	n->now = now;

	/*
	 * Behave as though a leader was just heard: a node that restarts quickly
	 * must not help elect a rival inside the lease of the leader it followed.
	 */
	n->last_leader_contact = now;
	n->sticky_until = now + raft__startup_window(&o);
	n->rank = RAFT_RANK_UNKNOWN;
	raft__reset_election_timer(n);
	n->rep_role = RAFT_FOLLOWER;
	n->rep_term = n->term;
	n->rep_leader = RAFT_NOBODY;
	return n;
}

/* See raft.h. */
raft_time
raft_election_deadline(const raft_node *n)
{
	return n->role == RAFT_LEADER ? 0 : n->election_deadline;
}

/* Free a node and everything it owns. */
void
raft_free(raft_node *n)
{
	if (n == NULL)
		return;
	raft__log_free(n);
	raft__batch_free(n, &n->pending);
	raft__batch_free(n, &n->out);
	raft__free(n, n->ready_entries);
	raft__free(n, n->ready_committed);
	for (size_t i = 0; i < n->n_garbage; i++)
		raft__free(n, n->garbage[i]);
	raft__free(n, n->garbage);
	n->opts.free(n->opts.alloc_ctx, n);
}

/* Load one persisted entry at startup (see raft.h). */
int
raft_restore_entry(raft_node *n, const raft_entry *e)
{
	int			rc;

	if (n == NULL || e == NULL || n->started)
		return RAFT_EINVAL;
	if (e->index != raft__last_index(n) + 1 ||
		e->term < raft__term_at(n, raft__last_index(n)) ||
		e->term == 0 || !raft__entry_valid(e))
		return RAFT_ECORRUPT;
	rc = raft__log_append(n, e->term, e->type, e->data, e->len);
	if (rc != RAFT_OK)
		return rc;

	/*
	 * An entry newer than the persisted term means the crash fell between
	 * writing the log and writing the term: the entry proves we knew of
	 * that term, and no vote in it can have left this node (messages follow
	 * the fsync of both), so adopt it with no vote.
	 */
	if (e->term > n->term)
	{
		n->term = e->term;
		n->voted_for = RAFT_NOBODY;
		n->rep_term = n->term;
	}
	n->stable = e->index;

	/* the lazily persisted commit may only cover what is restored */
	n->commit = n->restored_commit < e->index ? n->restored_commit : e->index;
	n->applied = n->commit;
	n->membership_changed = false;
	return RAFT_OK;
}

/* Quorum size of the current configuration's voters. */
int
raft__quorum(const raft_node *n)
{
	int			voters = 0;

	for (int i = 0; i < n->config.count; i++)
		if (n->config.members[i].voter)
			voters++;
	return voters / 2 + 1;
}

/* Slot of 'id' in a membership, or -1. */
int
raft__member_slot(const raft_membership *m, raft_id id)
{
	for (int i = 0; i < m->count; i++)
		if (m->members[i].id == id)
			return i;
	return -1;
}

/* Whether 'id' is a member (voter or learner) of the current config. */
bool
raft__is_member(const raft_node *n, raft_id id)
{
	return raft__member_slot(&n->config, id) >= 0;
}

/* Observer: own id. */
raft_id
raft_self(const raft_node *n)
{
	return n->id;
}

/* Observer: role. */
raft_role
raft_get_role(const raft_node *n)
{
	return n->role;
}

/* Observer: current term. */
raft_term
raft_get_term(const raft_node *n)
{
	return n->term;
}

/* Observer: vote in the current term. */
raft_id
raft_get_vote(const raft_node *n)
{
	return n->voted_for;
}

/* Observer: known leader of the current term. */
raft_id
raft_get_leader(const raft_node *n)
{
	return n->leader;
}

/* Observer: commit index. */
raft_index
raft_commit_index(const raft_node *n)
{
	return n->commit;
}

/* Observer: last log index. */
raft_index
raft_last_index(const raft_node *n)
{
	return raft__last_index(n);
}

/* Observer: term of the last log entry. */
raft_term
raft_last_term(const raft_node *n)
{
	return raft__term_at(n, raft__last_index(n));
}

/* Observer: one entry of the log. */
bool
raft_get_entry(const raft_node *n, raft_index index, raft_entry *entry)
{
	const raft_entry *e = raft__entry_at(n, index);

	if (e == NULL)
		return false;
	if (entry != NULL)
		*entry = *e;
	return true;
}

/* Observer: the membership in force (as of the log's last change). */
const raft_membership *
raft_get_membership(const raft_node *n)
{
	return &n->config;
}

/* Observer: whether 'id' is a voter in the current membership. */
bool
raft_is_voter(const raft_node *n, raft_id id)
{
	int			slot = raft__member_slot(&n->config, id);

	return slot >= 0 && n->config.members[slot].voter;
}

/* Observer: lease horizon (0 unless a leader holding a lease). */
raft_time
raft_lease_until(const raft_node *n)
{
	return n->role == RAFT_LEADER ? n->lease_until : 0;
}

/* Observer: whether the lease is unexpired at 'now'. */
bool
raft_has_lease(const raft_node *n, raft_time now)
{
	return raft_lease_until(n) > now;
}

/* Observer: when a leader of our term was last heard. */
raft_time
raft_last_leader_contact(const raft_node *n)
{
	return n->last_leader_contact;
}

/* Observer: transfer target under way. */
raft_id
raft_transfer_target(const raft_node *n)
{
	return n->role == RAFT_LEADER ? n->transfer_target : RAFT_NOBODY;
}

/* Observer: a leader's view of one peer. */
bool
raft_get_progress(const raft_node *n, raft_id id, raft_peer_progress *p)
{
	if (n->role != RAFT_LEADER)
		return false;
	if (id == n->id)
	{
		if (p != NULL)
		{
			p->match_index = n->stable;
			p->next_index = raft__last_index(n) + 1;
			p->last_contact = n->now;
			p->heard = true;
			p->position = n->position;
			p->flags = n->flags;
		}
		return true;
	}
	for (int i = 0; i < n->n_prs; i++)
	{
		if (n->prs[i].id != id)
			continue;
		if (p != NULL)
		{
			p->match_index = n->prs[i].match;
			p->next_index = n->prs[i].next;
			p->last_contact = n->prs[i].last_contact;
			p->heard = n->prs[i].heard;
			p->position = n->prs[i].position;
			p->flags = n->prs[i].flags;
		}
		return true;
	}
	return false;
}

/* Observer: counters. */
const raft_stats *
raft_get_stats(const raft_node *n)
{
	return &n->stats;
}

/* Record the node's position; vote requests carry it from now on. */
void
raft_set_position(raft_node *n, raft_position position)
{
	n->position = position;
}

/* See raft.h. */
void
raft_set_flags(raft_node *n, uint8_t flags)
{
	n->flags = flags;
}

/*
 * Change the transfer hold.  A transfer already holding keeps the end it
 * computed: commits that passed the fence before its drop used the headroom
 * of that moment.
 */
void
raft_set_transfer_hold(raft_node *n, raft_time hold)
{
	if (hold >= 0 && hold <= INT64_MAX / 4)
		n->opts.transfer_hold = hold;
}

/* Lexicographic comparison of positions. */
int
raft_position_compare(raft_position a, raft_position b)
{
	if (a.major != b.major)
		return a.major < b.major ? -1 : 1;
	if (a.minor != b.minor)
		return a.minor < b.minor ? -1 : 1;
	return 0;
}

/* Text of a result code. */
const char *
raft_strerror(int rc)
{
	switch (rc)
	{
		case RAFT_OK:
			return "success";
		case RAFT_ENOMEM:
			return "out of memory";
		case RAFT_EINVAL:
			return "invalid argument";
		case RAFT_ENOTLEADER:
			return "not the leader";
		case RAFT_EBUSY:
			return "a membership change or leadership transfer is under way";
		case RAFT_EUNKNOWN:
			return "no such member";
		case RAFT_ETOOBIG:
			return "payload too large";
		case RAFT_ECORRUPT:
			return "restored state is inconsistent";
		case RAFT_EUNREACHABLE:
			return "the target has not answered within the election timeout";
	}
	return "unknown error";
}

/* Name of a role. */
const char *
raft_role_name(raft_role role)
{
	switch (role)
	{
		case RAFT_FOLLOWER:
			return "follower";
		case RAFT_PRECANDIDATE:
			return "precandidate";
		case RAFT_CANDIDATE:
			return "candidate";
		case RAFT_LEADER:
			return "leader";
	}
	return "unknown";
}

/* Name of a message type. */
const char *
raft_msg_type_name(int type)
{
	switch (type)
	{
		case RAFT_MSG_PREVOTE:
			return "prevote";
		case RAFT_MSG_PREVOTE_RESPONSE:
			return "prevote_response";
		case RAFT_MSG_VOTE:
			return "vote";
		case RAFT_MSG_VOTE_RESPONSE:
			return "vote_response";
		case RAFT_MSG_APPEND:
			return "append";
		case RAFT_MSG_APPEND_RESPONSE:
			return "append_response";
		case RAFT_MSG_TIMEOUT_NOW:
			return "timeout_now";
	}
	return "unknown";
}
