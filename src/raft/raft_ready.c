/*
 * raft_ready.c
 *	  The engine's output: outgoing messages and the ready batch.
 *
 * Messages are queued in a "pending" batch as the node decides to send
 * them.  raft_get_ready() hands the pending batch out together with the
 * entries to persist and the entries newly committed; every pointer handed
 * out stays valid until raft_advance(), so nothing the node does in between
 * (even against the contract) can pull memory from under the caller.  For
 * the same reason, payloads of truncated entries are not freed at once but
 * parked until no handed-out batch can refer to them.
 */
#include <string.h>

#include "raft_internal.h"

/* Make room for 'count' more messages in a batch. */
static bool
batch_reserve_msgs(raft_node *n, raft_batch *b, size_t count)
{
	size_t		cap;
	raft_message *msgs;
	size_t	   *off;

	if (b->n_msgs + count <= b->cap_msgs)
		return true;
	cap = b->cap_msgs == 0 ? 16 : b->cap_msgs;
	while (cap < b->n_msgs + count)
		cap *= 2;
	msgs = raft__realloc(n, b->msgs, cap * sizeof(*msgs));
	if (msgs == NULL)
		return false;
	b->msgs = msgs;
	off = raft__realloc(n, b->ent_off, cap * sizeof(*off));
	if (off == NULL)
		return false;
	b->ent_off = off;
	b->cap_msgs = cap;
	return true;
}

/* Make room for 'count' more entry descriptors in a batch. */
static bool
batch_reserve_ents(raft_node *n, raft_batch *b, size_t count)
{
	size_t		cap;
	raft_entry *ents;

	if (b->n_ents + count <= b->cap_ents)
		return true;
	cap = b->cap_ents == 0 ? 64 : b->cap_ents;
	while (cap < b->n_ents + count)
		cap *= 2;
	ents = raft__realloc(n, b->ents, cap * sizeof(*ents));
	if (ents == NULL)
		return false;
	b->ents = ents;
	b->cap_ents = cap;
	return true;
}

/* Release a batch's memory. */
void
raft__batch_free(raft_node *n, raft_batch *b)
{
	raft__free(n, b->msgs);
	raft__free(n, b->ent_off);
	raft__free(n, b->ents);
	memset(b, 0, sizeof(*b));
}

/*
 * Queue a new message of our current term and return it for the caller to
 * fill in, or NULL when memory ran out (the message is then simply lost,
 * which Raft tolerates like any network loss).
 */
raft_message *
raft__new_message(raft_node *n, raft_msg_type type, raft_id to)
{
	raft_batch *b = &n->pending;
	raft_message *m;

	if (!batch_reserve_msgs(n, b, 1))
		return NULL;
	m = &b->msgs[b->n_msgs];
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t) type;
	m->from = n->id;
	m->to = to;
	m->term = n->term;
	b->ent_off[b->n_msgs] = 0;
	b->n_msgs++;
	return m;
}

/*
 * Attach log entries [first, first + count) to the message just created.
 * On memory failure the message is withdrawn and false returned.
 */
bool
raft__attach_entries(raft_node *n, raft_message *msg, raft_index first,
					 uint32_t count)
{
	raft_batch *b = &n->pending;

	if (count == 0)
		return true;
	if (!batch_reserve_ents(n, b, count))
	{
		/* msg is the last one queued: drop it */
		b->n_msgs--;
		return false;
	}
	b->ent_off[b->n_msgs - 1] = b->n_ents;
	for (uint32_t i = 0; i < count; i++)
		b->ents[b->n_ents++] = *raft__entry_at(n, first + i);
	msg->n_entries = count;
	return true;
}

/*
 * Park a truncated entry's payload until no handed-out pointer can see it.
 * If even the parking list cannot grow, free at once when nothing is handed
 * out, else leak it (bounded by memory failure, never unsafe).
 */
void
raft__discard_payload(raft_node *n, void *payload)
{
	if (payload == NULL)
		return;
	if (n->n_garbage == n->cap_garbage)
	{
		size_t		cap = n->cap_garbage == 0 ? 16 : n->cap_garbage * 2;
		void	  **g = raft__realloc(n, n->garbage, cap * sizeof(*g));

		if (g == NULL)
		{
			if (!n->out_busy && n->pending.n_ents == 0)
				raft__free(n, payload);
			return;
		}
		n->garbage = g;
		n->cap_garbage = cap;
	}
	n->garbage[n->n_garbage++] = payload;
}

/* The hard state as it stands now. */
static raft_hard_state
current_hard_state(const raft_node *n)
{
	raft_hard_state hs;

	hs.term = n->term;
	hs.voted_for = n->voted_for;
	hs.commit = n->commit;
	return hs;
}

/* Whether term or vote differ from what the caller has made durable. */
static bool
hard_state_dirty(const raft_node *n)
{
	return n->term != n->persisted.term ||
		n->voted_for != n->persisted.voted_for;
}

/* Whether there is anything for the caller to do. */
bool
raft_has_ready(const raft_node *n)
{
	raft_index	stable = n->stable;
	raft_index	applied = n->applied;
	bool		hs_dirty = hard_state_dirty(n);

	/* what a ready handed out but not yet advanced already covers */
	if (n->out_busy)
	{
		if (n->ready_last > stable)
			stable = n->ready_last;
		if (n->ready_commit > applied)
			applied = n->ready_commit;
		hs_dirty = n->term != n->handed.term ||
			n->voted_for != n->handed.voted_for;
	}
	return hs_dirty ||
		n->truncate_from != 0 ||
		stable < raft__last_index(n) ||
		n->pending.n_msgs > 0 ||
		n->commit > applied ||
		n->role != n->rep_role || n->term != n->rep_term ||
		n->leader != n->rep_leader ||
		n->membership_changed ||
		raft_lease_until(n) != n->rep_lease;
}

/* Append the pending batch to the handed-out one. */
static bool
merge_pending(raft_node *n)
{
	raft_batch *p = &n->pending;
	raft_batch *o = &n->out;

	if (o->n_msgs == 0 && o->n_ents == 0)
	{
		raft_batch	tmp = *o;

		*o = *p;
		*p = tmp;
		return true;
	}
	if (!batch_reserve_msgs(n, o, p->n_msgs))
		return false;
	if (!batch_reserve_ents(n, o, p->n_ents))
		return false;
	for (size_t i = 0; i < p->n_msgs; i++)
	{
		o->msgs[o->n_msgs + i] = p->msgs[i];
		o->ent_off[o->n_msgs + i] = p->ent_off[i] + o->n_ents;
	}
	if (p->n_ents > 0)
		memcpy(o->ents + o->n_ents, p->ents, p->n_ents * sizeof(raft_entry));
	o->n_msgs += p->n_msgs;
	o->n_ents += p->n_ents;
	p->n_msgs = 0;
	p->n_ents = 0;
	return true;
}

/* Copy log entries [first, last] into a growable array. */
static bool
copy_entries(raft_node *n, raft_entry **arr, size_t *cap, raft_index first,
			 raft_index last, size_t *count)
{
	size_t		want = last >= first ? (size_t) (last - first + 1) : 0;

	*count = 0;
	if (want == 0)
		return true;
	if (*cap < want)
	{
		raft_entry *a = raft__realloc(n, *arr, want * sizeof(raft_entry));

		if (a == NULL)
			return false;
		*arr = a;
		*cap = want;
	}
	for (size_t i = 0; i < want; i++)
		(*arr)[i] = *raft__entry_at(n, first + i);
	*count = want;
	return true;
}

/*
 * Hand out everything the caller must do (see raft.h).  Called again before
 * raft_advance() (which the contract does not ask for), it hands out only
 * what is new since the previous call, so nothing is persisted, sent or
 * applied twice.
 */
void
raft_get_ready(raft_node *n, raft_ready *r)
{
	raft_index	last = raft__last_index(n);
	size_t		n_entries = 0;
	size_t		n_committed = 0;
	size_t		old_msgs = n->out_busy ? n->out.n_msgs : 0;
	raft_index	first_unstable;
	raft_index	first_committed;

	memset(r, 0, sizeof(*r));
	n->started = true;
	r->role = n->role;
	r->term = n->term;
	r->leader = n->leader;

	first_unstable = n->stable + 1;
	first_committed = n->applied + 1;
	if (n->out_busy)
	{
		if (n->ready_last + 1 > first_unstable)
			first_unstable = n->ready_last + 1;
		if (n->ready_commit + 1 > first_committed)
			first_committed = n->ready_commit + 1;
	}
	if (n->truncate_from != 0 && n->truncate_from < first_unstable)
		first_unstable = n->truncate_from;

	/*
	 * Entries to persist come first: if they cannot be handed out, neither
	 * may the messages (an acknowledgement must never precede its entries).
	 */
	if (!copy_entries(n, &n->ready_entries, &n->cap_ready_entries,
					  first_unstable, last, &n_entries) ||
		!merge_pending(n))
		return;
	if (!copy_entries(n, &n->ready_committed, &n->cap_ready_committed,
					  first_committed, n->commit, &n_committed))
		n_committed = 0;

	r->hard_state = current_hard_state(n);
	r->hard_state_changed = hard_state_dirty(n);
	r->truncate_from = n->truncate_from;
	r->n_entries = n_entries;
	r->entries = n_entries > 0 ? n->ready_entries : NULL;
	for (size_t i = 0; i < n->out.n_msgs; i++)
	{
		raft_message *m = &n->out.msgs[i];

		m->entries = m->n_entries > 0 ? n->out.ents + n->out.ent_off[i] : NULL;
	}
	r->n_messages = n->out.n_msgs - old_msgs;
	r->messages = r->n_messages > 0 ? n->out.msgs + old_msgs : NULL;
	r->n_committed = n_committed;
	r->committed = n_committed > 0 ? n->ready_committed : NULL;
	r->role_changed = n->role != n->rep_role || n->term != n->rep_term ||
		n->leader != n->rep_leader;
	r->membership_changed = n->membership_changed;
	r->lease_until = raft_lease_until(n);

	/* what this ready covers, for raft_advance() */
	n->handed = r->hard_state;
	n->ready_last = last;
	n->ready_commit = first_committed - 1 + n_committed;
	n->truncate_from = 0;
	if (n->stable > first_unstable - 1)
		n->stable = first_unstable - 1;
	n->rep_role = n->role;
	n->rep_term = n->term;
	n->rep_leader = n->leader;
	n->rep_lease = r->lease_until;
	n->membership_changed = false;
	n->n_garbage_old = n->n_garbage;
	n->out_busy = true;
}

/* The caller has carried out the last ready (see raft.h). */
void
raft_advance(raft_node *n, raft_time now)
{
	if (now > n->now)
		n->now = now;
	if (!n->out_busy)
		return;
	n->out_busy = false;

	/*
	 * What was handed out is durable now.  A truncation after get_ready may
	 * have cut into it: then stable stops where the log was cut (the
	 * truncation is pending and will be handed out again).
	 */
	n->persisted.term = n->handed.term;
	n->persisted.voted_for = n->handed.voted_for;
	n->persisted.commit = n->handed.commit;
	if (n->ready_last > n->stable)
	{
		raft_index	s = n->ready_last;

		if (n->truncate_from != 0 && n->truncate_from - 1 < s)
			s = n->truncate_from - 1;
		if (s > raft__last_index(n))
			s = raft__last_index(n);
		if (s > n->stable)
			n->stable = s;
	}
	if (n->ready_commit > n->applied)
		n->applied = n->ready_commit;

	n->out.n_msgs = 0;
	n->out.n_ents = 0;
	for (size_t i = 0; i < n->n_garbage_old; i++)
		raft__free(n, n->garbage[i]);
	if (n->n_garbage > n->n_garbage_old)
		memmove(n->garbage, n->garbage + n->n_garbage_old,
				(n->n_garbage - n->n_garbage_old) * sizeof(void *));
	n->n_garbage -= n->n_garbage_old;
	n->n_garbage_old = 0;

	/* a leader counts its own log only once it is durable */
	if (n->role == RAFT_LEADER)
	{
		raft__maybe_commit(n);
		raft__update_lease(n);
	}
}
