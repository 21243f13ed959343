/*
 * sim_invariants.c
 *	  The invariants of DESIGN.md, checked as the run goes.
 *
 * Each check runs at the step where the fact it is about can change, which
 * is equivalent to checking everything after every step but costs O(1) per
 * step instead of O(log length):
 *	- Election Safety: a table term -> leader, over the whole run;
 *	- one lease at a time: a lease can only start on its holder's step, so
 *	  on that step no other node may hold one (in real, i.e. sim, time);
 *	- one vote per term: every persisted (term, vote) of each node, kept
 *	  across crashes, and every vote granted on the wire checked against the
 *	  disk;
 *	- Log Matching: a table (index, term) -> hash of the whole prefix;
 *	- Leader Completeness: a new leader's log holds every entry committed in
 *	  an earlier term (prefix hash at the last such index);
 *	- the commitment rule: a leader's newest committed entry is of its term;
 *	- State Machine Safety: one canonical committed sequence; every apply
 *	  matches it, in order, with no gap; no proposal committed twice;
 *	- liveness in the fault-free tail (inv_tail_check);
 *	- no acknowledged write lost, no writable primary off the committed
 *	  timeline history (inv_wal, sim_wal_check.c).
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Reset the bookkeeping. */
void
inv_init(sim_inv *inv)
{
	memset(inv, 0, sizeof(*inv));
}

/* Release the bookkeeping. */
void
inv_free(sim_inv *inv)
{
	free(inv->leader_of_term);
	free(inv->canon);
	free(inv->ltab);
	free(inv->committed_ids);
	memset(inv, 0, sizeof(*inv));
}

/* Hash of one entry, position included. */
uint64_t
inv_entry_digest(raft_index index, raft_term term, uint8_t type,
				 const uint8_t *data, uint32_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (uint32_t k = 0; k < len; k++)
		h = (h ^ data[k]) * 0x100000001b3ULL;
	return sim_mix64(h ^ sim_mix64(index * 0x9e3779b97f4a7c15ULL ^ term) ^
					 ((uint64_t) type << 56));
}

/* Hash of a prefix extended by one entry. */
uint64_t
inv_prefix(uint64_t prev, uint64_t digest)
{
	return sim_mix64(prev * 31 + digest);
}

/* Slot of (index, term) in the Log Matching table; grows the table. */
static sim_ltab_slot *
ltab_find(sim_inv *inv, raft_index index, raft_term term)
{
	size_t		mask;
	size_t		i;

	if ((inv->ltab_used + 1) * 2 > inv->ltab_cap)
	{
		size_t		old_cap = inv->ltab_cap;
		sim_ltab_slot *old = inv->ltab;

		inv->ltab_cap = old_cap ? old_cap * 2 : 1024;
		inv->ltab = calloc(inv->ltab_cap, sizeof(sim_ltab_slot));
		if (inv->ltab == NULL)
			abort();
		inv->ltab_used = 0;
		for (size_t k = 0; k < old_cap; k++)
			if (old[k].index != 0)
			{
				sim_ltab_slot *s = ltab_find(inv, old[k].index, old[k].term);

				*s = old[k];
				inv->ltab_used++;
			}
		free(old);
	}
	mask = inv->ltab_cap - 1;
	i = (size_t) sim_mix64(index * 0x9e3779b97f4a7c15ULL + term) & mask;
	while (inv->ltab[i].index != 0 &&
		   (inv->ltab[i].index != index || inv->ltab[i].term != term))
		i = (i + 1) & mask;
	return &inv->ltab[i];
}

/* Log Matching: the same (index, term) anywhere implies the same prefix. */
static void
log_matching(sim_cluster *c, const char *who, raft_index index, raft_term term,
			 uint64_t prefix)
{
	sim_ltab_slot *s = ltab_find(&c->inv, index, term);

	if (s->index == 0)
	{
		s->index = index;
		s->term = term;
		s->prefix = prefix;
		c->inv.ltab_used++;
	}
	else if (s->prefix != prefix)
		sim_fail(c, "Log Matching",
				 "%s holds entry %llu of term %llu with a prefix that differs "
				 "from another log holding the same (index, term)",
				 who, (unsigned long long) index, (unsigned long long) term);
}

/* One vote per term, terms never going back, across restarts. */
void
inv_hard_state(sim_cluster *c, sim_node *nd, const raft_hard_state *hs)
{
	if (hs->term < nd->vote_term)
	{
		sim_fail(c, "durable term", "n%u persists term %llu after term %llu",
				 nd->id, (unsigned long long) hs->term,
				 (unsigned long long) nd->vote_term);
		return;
	}
	if (hs->term == nd->vote_term && nd->vote_for != RAFT_NOBODY &&
		hs->voted_for != nd->vote_for)
	{
		sim_fail(c, "one vote per term",
				 "n%u voted for n%u in term %llu, now persists a vote for n%u "
				 "(incarnation %llu)",
				 nd->id, nd->vote_for, (unsigned long long) hs->term,
				 hs->voted_for, (unsigned long long) nd->incarnations);
		return;
	}
	nd->vote_term = hs->term;
	nd->vote_for = hs->voted_for;
}

/*
 * A truncation must never remove a committed entry on the word of a leader
 * that should have had it: one whose term is at least the term in which the
 * entry was first reported committed (Leader Completeness).  A node that
 * lags behind may still hear from a deposed leader of an older term (a
 * paused node's queued packets) and drop an entry that a later leader
 * committed; Raft allows that, the later leader repairs it, and the node
 * never applied it (seen in a soak: entry of term 5 committed in term 7,
 * truncated by an APPEND of term 6).
 */
void
inv_truncate(sim_cluster *c, sim_node *nd, raft_index from)
{
	sim_inv    *inv = &c->inv;

	if (from == 0 || from > nd->disk.len)
		return;
	if (from <= inv->canon_len &&
		nd->disk.log[from - 1].prefix == inv->canon[from - 1].prefix &&
		raft_get_term(nd->raft) >= inv->canon[from - 1].commit_term)
		sim_fail(c, "committed entry truncated",
				 "n%u truncates from %llu but entry %llu (term %llu) is committed",
				 nd->id, (unsigned long long) from, (unsigned long long) from,
				 (unsigned long long) nd->disk.log[from - 1].term);
	else if (raft_get_role(nd->raft) == RAFT_LEADER &&
			 raft_get_term(nd->raft) == nd->obs_term &&
			 nd->obs_role == RAFT_LEADER)
		sim_fail(c, "Leader Append-Only", "leader n%u truncates its log from %llu",
				 nd->id, (unsigned long long) from);
}

/* An entry just written to the disk of nd. */
void
inv_appended(sim_cluster *c, sim_node *nd, raft_index index)
{
	sim_disk_entry *e = &nd->disk.log[index - 1];
	char		who[32];

	snprintf(who, sizeof(who), "n%u", nd->id);
	log_matching(c, who, index, e->term, e->prefix);
}

/* Record a committed proposal id; fail if it was committed before. */
static void
note_proposal(sim_cluster *c, raft_index index, const raft_entry *e)
{
	uint64_t	id = 0;
	sim_inv    *inv = &c->inv;

	if (e->type != RAFT_ENTRY_NORMAL)
		return;
	if (e->len < 8)
	{
		sim_fail(c, "State Machine Safety", "committed entry %llu has a payload "
				 "no client proposed (%u bytes)", (unsigned long long) index, e->len);
		return;
	}
	memcpy(&id, e->data, 8);
	if (id == 0 || id >= c->next_prop_id)
	{
		sim_fail(c, "State Machine Safety", "committed entry %llu carries "
				 "proposal id %llu that was never proposed",
				 (unsigned long long) index, (unsigned long long) id);
		return;
	}
	if (id >= inv->ids_cap)
	{
		size_t		cap = inv->ids_cap ? inv->ids_cap : 1024;

		while (cap <= id)
			cap *= 2;
		inv->committed_ids = realloc(inv->committed_ids, cap);
		if (inv->committed_ids == NULL)
			abort();
		memset(inv->committed_ids + inv->ids_cap, 0, cap - inv->ids_cap);
		inv->ids_cap = cap;
	}
	if (inv->committed_ids[id])
	{
		sim_fail(c, "State Machine Safety", "proposal %llu committed twice "
				 "(again at index %llu)", (unsigned long long) id,
				 (unsigned long long) index);
		return;
	}
	inv->committed_ids[id] = 1;
	c->stats.committed++;
	if (c->tail && id >= c->tail_first_id && c->tail_commit_index == 0)
		c->tail_commit_index = index;
}

/* Add or compare one committed entry against the canonical sequence. */
static void
canon_entry(sim_cluster *c, sim_node *nd, const raft_entry *e)
{
	sim_inv    *inv = &c->inv;
	raft_term	term = raft_get_term(nd->raft);
	uint64_t	digest = inv_entry_digest(e->index, e->term, e->type, e->data, e->len);
	sim_canon  *k;

	if (e->index <= inv->canon_len)
	{
		k = &inv->canon[e->index - 1];
		if (k->digest != digest)
			sim_fail(c, "State Machine Safety",
					 "n%u commits entry %llu of term %llu, but a different entry "
					 "(term %llu) was committed at that index",
					 nd->id, (unsigned long long) e->index,
					 (unsigned long long) e->term, (unsigned long long) k->term);
		else if (term < k->commit_term)
			k->commit_term = term;
		return;
	}
	inv->canon = sim_grow(inv->canon, &inv->canon_cap, inv->canon_len + 1,
						  sizeof(sim_canon), 256);
	k = &inv->canon[inv->canon_len];
	k->term = e->term;
	k->commit_term = term;
	k->digest = digest;
	k->prefix = inv_prefix(inv->canon_len ? inv->canon[inv->canon_len - 1].prefix : 0,
						   digest);
	inv->canon_len++;
	log_matching(c, "the committed sequence", e->index, e->term, k->prefix);
	note_proposal(c, e->index, e);
}

/* Entries the node says are newly committed. */
void
inv_committed(sim_cluster *c, sim_node *nd, const raft_entry *e, size_t n)
{
	sim_inv    *inv = &c->inv;

	/*
	 * Raft's commitment rule (the paper's Figure 8): a leader commits by
	 * counting replicas only entries of its own term, earlier ones only
	 * through them, so the newest entry it reports committed is of its term.
	 */
	if (raft_get_role(nd->raft) == RAFT_LEADER &&
		e[n - 1].term != raft_get_term(nd->raft))
	{
		sim_fail(c, "commitment rule",
				 "leader n%u of term %llu commits up to entry %llu of term %llu",
				 nd->id, (unsigned long long) raft_get_term(nd->raft),
				 (unsigned long long) e[n - 1].index,
				 (unsigned long long) e[n - 1].term);
		return;
	}

	/* a gap (e.g. right after a restart): fill it from the node's own log */
	for (raft_index i = inv->canon_len + 1; i < e[0].index && !c->failed; i++)
	{
		raft_entry	x;

		if (!raft_get_entry(nd->raft, i, &x))
		{
			sim_fail(c, "ready", "n%u commits %llu but has no entry %llu",
					 nd->id, (unsigned long long) e[0].index,
					 (unsigned long long) i);
			return;
		}
		canon_entry(c, nd, &x);
	}
	for (size_t k = 0; k < n && !c->failed; k++)
	{
		if (k > 0 && e[k].index != e[k - 1].index + 1)
		{
			sim_fail(c, "ready", "n%u: committed entries not consecutive (%llu, %llu)",
					 nd->id, (unsigned long long) e[k - 1].index,
					 (unsigned long long) e[k].index);
			return;
		}
		canon_entry(c, nd, &e[k]);
	}
}

/* Entries the node applies: in order, no gap, matching the canon. */
void
inv_applied(sim_cluster *c, sim_node *nd, const raft_entry *e, size_t n)
{
	if (nd->apply_resync)
	{
		/* the state machine restarts; the engine decides where it resumes */
		nd->applied = e[0].index - 1;
		nd->apply_resync = false;
	}
	for (size_t k = 0; k < n; k++)
	{
		if (e[k].index != nd->applied + 1)
		{
			sim_fail(c, "State Machine Safety", "n%u applies %llu after %llu",
					 nd->id, (unsigned long long) e[k].index,
					 (unsigned long long) nd->applied);
			return;
		}
		if (e[k].index > nd->disk.len ||
			nd->disk.log[e[k].index - 1].term != e[k].term)
		{
			sim_fail(c, "State Machine Safety",
					 "n%u applies entry %llu (term %llu) that its durable log "
					 "does not hold", nd->id, (unsigned long long) e[k].index,
					 (unsigned long long) e[k].term);
			return;
		}
		nd->applied = e[k].index;
	}
}

/* Checks on every message the node is about to send. */
void
inv_sent(sim_cluster *c, sim_node *nd, const raft_message *m)
{
	const raft_hard_state *hs = &nd->disk.hs;

	if (m->type == RAFT_MSG_VOTE_RESPONSE && m->granted &&
		(hs->term != m->term || hs->voted_for != m->to))
		sim_fail(c, "one vote per term",
				 "n%u grants its vote to n%u in term %llu but its disk says "
				 "term %llu vote %u", nd->id, m->to, (unsigned long long) m->term,
				 (unsigned long long) hs->term, hs->voted_for);
	else if (m->type == RAFT_MSG_VOTE &&
			 (hs->term != m->term || hs->voted_for != nd->id))
		sim_fail(c, "one vote per term",
				 "n%u asks for votes in term %llu but its disk says term %llu "
				 "vote %u", nd->id, (unsigned long long) m->term,
				 (unsigned long long) hs->term, hs->voted_for);
	else if (m->term > hs->term && m->type != RAFT_MSG_PREVOTE &&
			 m->type != RAFT_MSG_PREVOTE_RESPONSE)
		sim_fail(c, "durable term",
				 "n%u sends %s in term %llu before persisting that term (disk %llu)",
				 nd->id, raft_msg_type_name(m->type), (unsigned long long) m->term,
				 (unsigned long long) hs->term);
}

/* Election Safety: at most one leader per term over the whole run. */
void
inv_leader_seen(sim_cluster *c, sim_node *nd, raft_term term)
{
	sim_inv    *inv = &c->inv;

	if (term >= inv->n_terms)
	{
		size_t		n = inv->n_terms ? inv->n_terms : 64;

		while (n <= term)
			n *= 2;
		if (n > ((size_t) 1 << 26))
		{
			sim_fail(c, "sanity", "term %llu is implausibly large",
					 (unsigned long long) term);
			return;
		}
		inv->leader_of_term = realloc(inv->leader_of_term, n * sizeof(raft_id));
		if (inv->leader_of_term == NULL)
			abort();
		memset(inv->leader_of_term + inv->n_terms, 0,
			   (n - inv->n_terms) * sizeof(raft_id));
		inv->n_terms = n;
	}
	if (inv->leader_of_term[term] == RAFT_NOBODY)
	{
		inv->leader_of_term[term] = nd->id;
		c->stats.leaders++;
	}
	else if (inv->leader_of_term[term] != nd->id)
		sim_fail(c, "Election Safety", "n%u and n%u are both leaders of term %llu",
				 inv->leader_of_term[term], nd->id, (unsigned long long) term);
}

/* Leader Completeness for a node that has just become leader of 'term'. */
static void
leader_completeness(sim_cluster *c, sim_node *nd, raft_term term)
{
	sim_inv    *inv = &c->inv;
	size_t		k = inv->canon_len;

	/* the newest entry committed in an earlier term than ours */
	while (k > 0 && inv->canon[k - 1].commit_term >= term)
		k--;
	if (k == 0)
		return;
	if (nd->disk.len < k || nd->disk.log[k - 1].prefix != inv->canon[k - 1].prefix)
		sim_fail(c, "Leader Completeness",
				 "n%u leads term %llu but its log (length %zu) lacks entry %zu "
				 "committed in term %llu", nd->id, (unsigned long long) term,
				 nd->disk.len, k, (unsigned long long) inv->canon[k - 1].commit_term);
}

/* Checks after a node's step (its ready loop has drained). */
void
inv_after_step(sim_cluster *c, sim_node *nd)
{
	raft_role	role = raft_get_role(nd->raft);
	raft_term	term = raft_get_term(nd->raft);
	raft_time	now_local = sim_local_now(c, nd);

	/* the engine's log is exactly what is durable */
	if (raft_last_index(nd->raft) != nd->disk.len ||
		(nd->disk.len > 0 &&
		 raft_last_term(nd->raft) != nd->disk.log[nd->disk.len - 1].term))
	{
		sim_fail(c, "durable log", "n%u's engine log ends at %llu/%llu, its disk at %zu",
				 nd->id, (unsigned long long) raft_last_index(nd->raft),
				 (unsigned long long) raft_last_term(nd->raft), nd->disk.len);
		return;
	}
	if (term > nd->disk.hs.term)
	{
		sim_fail(c, "durable term", "n%u is in term %llu but its disk says %llu",
				 nd->id, (unsigned long long) term,
				 (unsigned long long) nd->disk.hs.term);
		return;
	}
	if (role == RAFT_LEADER)
	{
		inv_leader_seen(c, nd, term);
		if (nd->obs_role != RAFT_LEADER || nd->obs_term != term)
			leader_completeness(c, nd, term);
	}
	nd->obs_role = role;
	nd->obs_term = term;
	if (c->failed)
		return;

	/* a lease can only begin on its holder's step: nobody else may hold one */
	if (raft_has_lease(nd->raft, now_local))
	{
		if (role != RAFT_LEADER)
		{
			sim_fail(c, "lease", "n%u holds a lease as %s", nd->id,
					 raft_role_name(role));
			return;
		}
		for (int i = 0; i < c->cfg.n_slots; i++)
		{
			sim_node   *o = &c->nodes[i];

			if (o == nd || o->raft == NULL)
				continue;
			/*
			 * A paused node's lease runs on in real time, and so does the
			 * fence's window for commits under a lease dropped for a
			 * transfer.
			 */
			if (raft_has_lease(o->raft, sim_local_now(c, o)) ||
				o->fence_until > sim_local_now(c, o))
			{
				sim_fail(c, "one lease at a time",
						 "at %lld ms n%u (term %llu, lease until +%lld ms) and "
						 "n%u (term %llu, %s, lease until +%lld ms, fence until +%lld ms) "
						 "both hold a lease",
						 (long long) c->now, nd->id, (unsigned long long) term,
						 (long long) (raft_lease_until(nd->raft) - now_local),
						 o->id, (unsigned long long) raft_get_term(o->raft),
						 o->state == NODE_PAUSED ? "paused" : "running",
						 (long long) (raft_lease_until(o->raft) > sim_local_now(c, o) ?
									  raft_lease_until(o->raft) - sim_local_now(c, o) : 0),
						 (long long) (o->fence_until > sim_local_now(c, o) ?
									  o->fence_until - sim_local_now(c, o) : 0));
				return;
			}
		}
	}
	inv_wal(c, nd);
}

/* Liveness in the fault-free tail: a leader soon, then commits, then catch-up. */
void
inv_tail_check(sim_cluster *c)
{
	raft_time	since = c->now - c->tail_start;
	sim_node   *l;

	if (c->done || c->failed)
		return;
	l = sim_stable_leader(c);
	if (c->leader_found_at == 0 && l != NULL)
	{
		c->leader_found_at = c->now;
		TRACE(c, l->slot, "tail: stable leader after %lld ms", (long long) since);
	}
	if (c->leader_found_at == 0)
	{
		if (since > c->leader_bound)
			sim_fail(c, "liveness", "no stable leader %lld ms after faults healed "
					 "(bound 10 x (ET + spread)%s = %lld ms)", (long long) since,
					 c->cfg.prevote ? "" : " x 3 without PreVote",
					 (long long) c->leader_bound);
		goto again;
	}
	if (c->tail_commit_index == 0)
	{
		if (since > c->leader_bound + 10 * c->cfg.et)
			sim_fail(c, "liveness", "no proposal committed %lld ms after faults "
					 "healed (leader since +%lld ms)", (long long) since,
					 (long long) (c->leader_found_at - c->tail_start));
		goto again;
	}
	if (l != NULL)
	{
		const raft_membership *m = raft_get_membership(l->raft);
		bool		caught_up = true;

		for (int k = 0; k < m->count; k++)
		{
			int			slot = (int) m->members[k].id - 1;

			if (slot >= 0 && slot < c->cfg.n_slots &&
				(c->nodes[slot].raft == NULL ||
				 c->nodes[slot].applied < c->tail_commit_index))
				caught_up = false;
		}
		if (caught_up)
		{
			TRACE(c, l->slot, "tail: all members applied %llu after %lld ms",
				  (unsigned long long) c->tail_commit_index, (long long) since);
			c->done = true;
			return;
		}
	}
	if (since > c->leader_bound + 20 * c->cfg.et)
	{
		sim_fail(c, "liveness", "members have not applied entry %llu %lld ms after "
				 "faults healed", (unsigned long long) c->tail_commit_index,
				 (long long) since);
		return;
	}
again:
	sim_schedule(c, c->now + c->cfg.hb, EV_CHECK, -1, 0, NULL);
}
