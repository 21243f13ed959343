/*
 * raft_log.c
 *	  The node's in-memory copy of its log, and the membership it implies.
 *
 * Every entry's payload is copied into memory from the node's allocator, so
 * the caller's buffers (a decoded message, a proposal) need not outlive the
 * call.  Membership changes take effect as soon as their entry is in the log
 * and are undone when it is truncated away: the configuration in force is
 * the bootstrap membership with every CHANGE entry of the log applied in
 * order.  Timeline history steps behave the same way (raft_history.c).
 */
#include <string.h>

#include "raft_internal.h"

/* Index of the last entry (0 when empty). */
raft_index
raft__last_index(const raft_node *n)
{
	return (raft_index) n->log_len;
}

/* Term of the entry at 'index'; 0 for index 0 or beyond the log. */
raft_term
raft__term_at(const raft_node *n, raft_index index)
{
	if (index == 0 || index > n->log_len)
		return 0;
	return n->log[index - 1].term;
}

/* The entry at 'index', or NULL. */
const raft_entry *
raft__entry_at(const raft_node *n, raft_index index)
{
	if (index == 0 || index > n->log_len)
		return NULL;
	return &n->log[index - 1];
}

/* Whether an entry's type and payload description are acceptable. */
bool
raft__entry_valid(const raft_entry *e)
{
	if (e->type < RAFT_ENTRY_NOOP || e->type > RAFT_ENTRY_TIMELINE)
		return false;
	if (e->len > RAFT_MAX_ENTRY_DATA)
		return false;
	if (e->len > 0 && e->data == NULL)
		return false;
	return true;
}

/*
 * Apply one change to a membership.  Returns false (leaving it unchanged)
 * when the change makes no sense there; every node replays the same log, so
 * every node ignores the same changes.
 */
bool
raft__membership_apply(raft_membership *m, const raft_change *c)
{
	int			slot;

	if (c->id == RAFT_NOBODY)
		return false;
	slot = raft__member_slot(m, c->id);
	switch (c->op)
	{
		case RAFT_CHANGE_ADD_VOTER:
		case RAFT_CHANGE_ADD_LEARNER:
		case RAFT_CHANGE_ADD_STAGED:
			if (slot >= 0 || m->count >= RAFT_MAX_MEMBERS)
				return false;
			if (memchr(c->address, '\0', RAFT_MAX_ADDRESS) == NULL)
				return false;
			m->members[m->count].id = c->id;
			m->members[m->count].voter = c->op == RAFT_CHANGE_ADD_VOTER;
			m->members[m->count].staged = c->op == RAFT_CHANGE_ADD_STAGED;
			memcpy(m->members[m->count].address, c->address, RAFT_MAX_ADDRESS);
			m->count++;
			return true;
		case RAFT_CHANGE_PROMOTE:
			if (slot < 0 || m->members[slot].voter)
				return false;
			m->members[slot].voter = true;
			m->members[slot].staged = false;
			return true;
		case RAFT_CHANGE_REMOVE:
			if (slot < 0)
				return false;
			memmove(&m->members[slot], &m->members[slot + 1],
					(size_t) (m->count - slot - 1) * sizeof(raft_member));
			m->count--;
			return true;
	}
	return false;
}

/* Apply the CHANGE entry 'e' to the node's configuration. */
static void
apply_change_entry(raft_node *n, const raft_entry *e)
{
	raft_change c;
	const char *why;

	n->voter_before_change = raft_is_voter(n, n->id);
	memset(&c, 0, sizeof(c));
	if (raft_change_decode(e->data, e->len, &c, &why) != RAFT_OK)
		return;
	if (raft__membership_apply(&n->config, &c))
		n->membership_changed = true;
}

/*
 * Recompute the configuration from the bootstrap membership and the CHANGE
 * entries of the log (after a truncation removed one).
 */
void
raft__membership_recompute(raft_node *n)
{
	n->config = n->bootstrap;
	n->last_change_index = 0;
	n->voter_before_change = false;
	for (size_t i = 0; i < n->log_len; i++)
	{
		if (n->log[i].type != RAFT_ENTRY_CHANGE)
			continue;
		apply_change_entry(n, &n->log[i]);
		n->last_change_index = n->log[i].index;
	}
	n->membership_changed = true;
	raft__sync_progress(n);
}

/* Append one entry at the end of the log, copying its payload. */
int
raft__log_append(raft_node *n, raft_term term, uint8_t type,
				 const uint8_t *data, uint32_t len)
{
	raft_entry *e;
	uint8_t    *copy = NULL;

	if (len > RAFT_MAX_ENTRY_DATA)
		return RAFT_ETOOBIG;
	if (n->log_len == n->log_cap)
	{
		size_t		cap = n->log_cap == 0 ? 64 : n->log_cap * 2;
		raft_entry *log = raft__realloc(n, n->log, cap * sizeof(*log));

		if (log == NULL)
			return RAFT_ENOMEM;
		n->log = log;
		n->log_cap = cap;
	}
	if (len > 0)
	{
		copy = raft__alloc(n, len);
		if (copy == NULL)
			return RAFT_ENOMEM;
		memcpy(copy, data, len);
	}
	e = &n->log[n->log_len];
	e->term = term;
	e->index = (raft_index) n->log_len + 1;
	e->type = type;
	e->len = len;
	e->data = copy;
	n->log_len++;
	if (type == RAFT_ENTRY_CHANGE)
	{
		n->last_change_index = e->index;
		apply_change_entry(n, e);
		raft__sync_progress(n);
	}
	else if (type == RAFT_ENTRY_TIMELINE)
		raft__history_apply_entry(n, e);
	return RAFT_OK;
}

/* Drop entries with index >= 'from' (never committed ones). */
void
raft__log_truncate(raft_node *n, raft_index from)
{
	bool		undo_change;
	bool		undo_timeline;

	if (from == 0 || from > n->log_len)
		return;
	undo_change = n->last_change_index >= from;
	undo_timeline = n->last_timeline_index >= from;
	for (size_t i = (size_t) (from - 1); i < n->log_len; i++)
		raft__discard_payload(n, (void *) n->log[i].data);
	n->log_len = (size_t) (from - 1);
	if (n->stable >= from)
		n->stable = from - 1;
	if (n->truncate_from == 0 || from < n->truncate_from)
		n->truncate_from = from;
	if (undo_change)
		raft__membership_recompute(n);
	if (undo_timeline)
		raft__history_recompute(n);
}

/* Free the log's memory. */
void
raft__log_free(raft_node *n)
{
	for (size_t i = 0; i < n->log_len; i++)
		raft__free(n, (void *) n->log[i].data);
	raft__free(n, n->log);
	n->log = NULL;
	n->log_len = 0;
	n->log_cap = 0;
}
