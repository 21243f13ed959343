/*
 * raft_replication.c
 *	  AppendEntries on both sides, commitment, CheckQuorum and the lease.
 *
 * The leader keeps, per member, the highest index known to match (match)
 * and the next index to send (next).  A peer whose next is a guess is
 * "probing": it gets one message per heartbeat or response until it
 * answers; afterwards entries are pipelined and every heartbeat resends
 * from match + 1, so a lost message costs at most one heartbeat interval.
 *
 * Every APPEND carries the leader's send time ("echo"), which followers
 * return together with their own election timeout.  A voter that
 * acknowledged send time t refuses votes (stickiness) until at least t plus
 * ITS OWN election timeout, which need not be the leader's: nodes may run
 * with different timings while an operator rolls a change of settings
 * through the cluster.  So each voter is sticky until t_i + ET_i (the
 * leader itself until now + its ET), and the lease runs to the largest time
 * by which a whole majority is still sticky -- the quorum-th largest of
 * those -- minus the drift margin.  No voter of that majority can help elect
 * anyone else before then.  Sizing it with the leader's ET alone let a
 * leader with a long ET hold its lease while followers with a short one
 * elected a rival (test_lease_sized_by_acknowledging_quorum_timeouts).
 */
#include <string.h>

#include "raft_internal.h"

/* The progress of member 'id', or NULL. */
raft_progress *
raft__progress(raft_node *n, raft_id id)
{
	for (int i = 0; i < n->n_prs; i++)
		if (n->prs[i].id == id)
			return &n->prs[i];
	return NULL;
}

/* Fresh progress for one member on taking office or joining. */
static void
init_progress(raft_node *n, raft_progress *pr, raft_id id)
{
	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->next = raft__last_index(n) + 1;
	pr->probing = true;
	pr->last_contact = n->now;
}

/* Progress for every other member, as a new leader knows it. */
void
raft__reset_progress(raft_node *n)
{
	n->n_prs = 0;
	for (int i = 0; i < n->config.count; i++)
	{
		if (n->config.members[i].id == n->id)
			continue;
		init_progress(n, &n->prs[n->n_prs++], n->config.members[i].id);
	}
}

/* Follow a membership change: keep known members, add new, drop gone. */
void
raft__sync_progress(raft_node *n)
{
	raft_progress old[RAFT_MAX_MEMBERS];
	int			n_old = n->n_prs;

	if (n->role != RAFT_LEADER)
		return;
	memcpy(old, n->prs, sizeof(old));
	n->n_prs = 0;
	for (int i = 0; i < n->config.count; i++)
	{
		raft_id		id = n->config.members[i].id;
		raft_progress *pr = &n->prs[n->n_prs];
		bool		found = false;

		if (id == n->id)
			continue;
		for (int j = 0; j < n_old; j++)
			if (old[j].id == id)
			{
				*pr = old[j];
				found = true;
			}
		if (!found)
			init_progress(n, pr, id);
		n->n_prs++;
	}
	if (n->transfer_target != RAFT_NOBODY &&
		!raft_is_voter(n, n->transfer_target))
		raft__transfer_cancel(n);
}

/*
 * Whether the leader counts 'pr' among its possible successors: a voter
 * that may stand and answered in this term, within ET.
 */
static bool
rank_eligible(const raft_node *n, const raft_progress *pr)
{
	return pr->heard && pr->priority > 0 && raft_is_voter(n, pr->id) &&
		n->now - pr->last_contact < n->opts.election_timeout;
}

/* Whether eligible 'a' comes before eligible 'b' in the succession. */
static bool
rank_before(const raft_node *n, const raft_progress *a, const raft_progress *b)
{
	int			cmp = raft__position_order(n, a->position, b->position);

	if (cmp != 0)
		return cmp > 0;
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->id < b->id;
}

/*
 * The rank of 'target' among the followers (see raft_options.rank_step):
 * eligible ones first in succession order, the others after them by id.
 */
static uint8_t
rank_of(const raft_node *n, const raft_progress *target)
{
	bool		eligible = rank_eligible(n, target);
	int			rank = 0;

	if (n->opts.rank_step == 0)
		return RAFT_RANK_UNKNOWN;
	for (int i = 0; i < n->n_prs; i++)
	{
		const raft_progress *pr = &n->prs[i];
		bool		e;

		if (pr == target)
			continue;
		e = rank_eligible(n, pr);
		if (eligible ? (e && rank_before(n, pr, target)) :
			(e || pr->id < target->id))
			rank++;
	}
	return (uint8_t) rank;
}

/*
 * Send one APPEND to a peer from its next index.  'resync' (heartbeats)
 * first rewinds a pipelining peer to match + 1, resending whatever may have
 * been lost.
 */
void
raft__send_append(raft_node *n, raft_progress *pr, bool resync)
{
	raft_index	last = raft__last_index(n);
	raft_index	next;
	uint32_t	count = 0;
	raft_message *m;

	if (resync && !pr->probing)
		pr->next = pr->match + 1;
	if (pr->next > last + 1)
		pr->next = last + 1;
	if (pr->next <= pr->match)
		pr->next = pr->match + 1;
	if (pr->next == 0)
		pr->next = 1;
	next = pr->next;
	if (next <= last)
	{
		raft_index	avail = last - next + 1;
		size_t		bytes = 0;

		if (avail > RAFT_MAX_ENTRIES_PER_MSG)
			avail = RAFT_MAX_ENTRIES_PER_MSG;
		/* by count and by bytes, but always at least one entry */
		while (count < avail)
		{
			bytes += raft__entry_at(n, next + count)->len;
			if (count > 0 && bytes > RAFT_MAX_APPEND_BYTES)
				break;
			count++;
		}
	}
	m = raft__new_message(n, RAFT_MSG_APPEND, pr->id);
	if (m == NULL)
		return;
	m->prev_log_index = next - 1;
	m->prev_log_term = raft__term_at(n, next - 1);
	m->commit = n->commit;
	m->echo = n->now;
	m->rank = rank_of(n, pr);
	if (!raft__attach_entries(n, m, next, count))
		return;
	if (!pr->probing)
		pr->next = next + count;
}

/*
 * Send APPENDs: to everyone (heartbeat), or only to pipelining peers with
 * entries they have not been sent yet.
 */
void
raft__broadcast_append(raft_node *n, bool heartbeat)
{
	raft_index	last = raft__last_index(n);

	for (int i = 0; i < n->n_prs; i++)
	{
		raft_progress *pr = &n->prs[i];

		if (heartbeat)
			raft__send_append(n, pr, true);
		else if (!pr->probing && pr->next <= last)
			raft__send_append(n, pr, false);
	}
}

/* Leader tick: heartbeats, CheckQuorum, transfer, promotions, lease. */
void
raft__leader_tick(raft_node *n)
{
	n->last_leader_contact = n->now;
	if (n->opts.check_quorum &&
		n->now - n->term_start >= n->opts.election_timeout)
	{
		int			active = raft_is_voter(n, n->id) ? 1 : 0;

		for (int i = 0; i < n->n_prs; i++)
			if (raft_is_voter(n, n->prs[i].id) &&
				n->now - n->prs[i].last_contact < n->opts.election_timeout)
				active++;
		if (active < raft__quorum(n))
		{
			raft__become_follower(n, n->term, RAFT_NOBODY);
			return;
		}
	}
	raft__transfer_tick(n);
	if (n->role != RAFT_LEADER)
		return;
	if (n->now >= n->heartbeat_due)
	{
		raft__broadcast_append(n, true);
		n->heartbeat_due = n->now + n->opts.heartbeat_interval;
	}
	raft__maybe_promote(n);
	raft__update_lease(n);
}

/* Raise the commit index (never lowers it); hook for membership. */
void
raft__set_commit(raft_node *n, raft_index commit)
{
	if (commit > raft__last_index(n))
		commit = raft__last_index(n);
	if (commit <= n->commit)
		return;
	n->commit = commit;
	raft__membership_committed(n);
}

/* Sort helper: descending order of indexes or times. */
static void
sort_desc(uint64_t *v, int count)
{
	for (int i = 1; i < count; i++)
	{
		uint64_t	x = v[i];
		int			j = i - 1;

		while (j >= 0 && v[j] < x)
		{
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
}

/*
 * The highest value that at least a quorum of the voters' values v[0..count)
 * reach (v is sorted in place).  False if fewer than a quorum are given.
 */
static bool
quorum_value(const raft_node *n, uint64_t *v, int count, uint64_t *value)
{
	int			quorum = raft__quorum(n);

	if (count < quorum)
		return false;
	sort_desc(v, count);
	*value = v[quorum - 1];
	return true;
}

/*
 * Leader: commit the highest index a majority of voters holds, provided it
 * is of the current term (older entries commit with it, never by counting).
 */
void
raft__maybe_commit(raft_node *n)
{
	uint64_t	match[RAFT_MAX_MEMBERS];
	int			count = 0;
	raft_index	candidate;

	if (n->role != RAFT_LEADER)
		return;
	if (raft_is_voter(n, n->id))
		match[count++] = n->stable;
	for (int i = 0; i < n->n_prs; i++)
		if (raft_is_voter(n, n->prs[i].id))
			match[count++] = n->prs[i].match;
	if (!quorum_value(n, match, count, &candidate))
		return;
	if (candidate <= n->commit || raft__term_at(n, candidate) != n->term)
		return;
	raft__set_commit(n, candidate);
	if (n->role == RAFT_LEADER)
	{
		/* tell the followers now rather than at the next heartbeat */
		for (int i = 0; i < n->n_prs; i++)
			if (!n->prs[i].probing)
				raft__send_append(n, &n->prs[i], false);
	}
}

/* Leader: recompute the lease horizon (see the file header). */
void
raft__update_lease(raft_node *n)
{
	uint64_t	acked[RAFT_MAX_MEMBERS];
	int			count = 0;
	uint64_t	newest;

	n->lease_until = 0;
	if (n->role != RAFT_LEADER || n->transfer_target != RAFT_NOBODY ||
		!n->opts.check_quorum)
		return;
	/* when each voter stops being sticky; 0: it never acknowledged us */
	if (raft_is_voter(n, n->id))
		acked[count++] = (uint64_t) (n->now + n->opts.election_timeout);
	for (int i = 0; i < n->n_prs; i++)
	{
		const raft_progress *pr = &n->prs[i];
		raft_time	timeout = pr->acked_timeout;

		if (!raft_is_voter(n, pr->id))
			continue;
#ifdef RAFT_MUTANT_LEASE_OWN_TIMEOUT
		timeout = n->opts.election_timeout;
#endif
		acked[count++] = pr->acked_echo >= n->term_start && pr->acked_echo > 0 ?
			(uint64_t) (pr->acked_echo + timeout) : 0;
	}
	if (!quorum_value(n, acked, count, &newest) || (raft_time) newest <= 0)
		return;
	n->lease_until = (raft_time) newest - n->opts.lease_drift_margin;
}

/* Follower: the last index <= 'index' whose term is <= 'term'. */
static raft_index
find_conflict_by_term(const raft_node *n, raft_index index, raft_term term)
{
	if (index > raft__last_index(n))
		index = raft__last_index(n);
	while (index > 0 && raft__term_at(n, index) > term)
		index--;
	return index;
}

/*
 * Follower: handle an APPEND of our term from the leader (the dispatcher
 * has already adopted its term and checked its contents).
 */
void
raft__handle_append(raft_node *n, const raft_message *m)
{
	raft_index	last = raft__last_index(n);
	raft_message *r;

	if (n->role == RAFT_LEADER ||
		(n->leader != RAFT_NOBODY && n->leader != m->from))
	{
		/* two leaders in one term cannot happen: a confused or forged peer */
		n->stats.msgs_dropped_invalid++;
		return;
	}
	if (n->role != RAFT_FOLLOWER)
		raft__become_follower(n, m->term, m->from);
	n->leader = m->from;
	n->last_leader_contact = n->now;
	n->rank = m->rank;
	raft__reset_election_timer(n);

	if (m->prev_log_index <= last &&
		raft__term_at(n, m->prev_log_index) == m->prev_log_term)
	{
		raft_index	new_last = m->prev_log_index + m->n_entries;

		for (uint32_t i = 0; i < m->n_entries; i++)
		{
			const raft_entry *e = &m->entries[i];

			if (e->index <= raft__last_index(n))
			{
				if (raft__term_at(n, e->index) == e->term)
					continue;
				if (e->index <= n->commit)
				{
					/* would rewrite a committed entry: refuse the message */
					n->stats.msgs_dropped_invalid++;
					return;
				}
				raft__log_truncate(n, e->index);
			}
			if (raft__log_append(n, e->term, e->type, e->data, e->len) != RAFT_OK)
				return;			/* out of memory: the leader will retry */
		}
		raft__set_commit(n, m->commit < new_last ? m->commit : new_last);
		r = raft__new_message(n, RAFT_MSG_APPEND_RESPONSE, m->from);
		if (r == NULL)
			return;
		r->success = true;
		r->match_index = new_last;
		r->echo = m->echo;
		r->position = n->position;
		r->timeout = n->opts.election_timeout;
		r->priority = raft__own_priority(n);
		r->flags = n->flags;
		return;
	}

	/* consistency check failed: hint where our logs may agree */
	r = raft__new_message(n, RAFT_MSG_APPEND_RESPONSE, m->from);
	if (r == NULL)
		return;
	r->success = false;
	r->reject_hint = m->prev_log_index > last ? last :
		find_conflict_by_term(n, m->prev_log_index - 1 < last ?
							  m->prev_log_index - 1 : last,
							  m->prev_log_term);
	r->echo = m->echo;
	r->position = n->position;
	r->timeout = n->opts.election_timeout;
	r->priority = raft__own_priority(n);
	r->flags = n->flags;
}

/* Leader: handle an APPEND_RESPONSE of our term. */
void
raft__handle_append_response(raft_node *n, const raft_message *m)
{
	raft_progress *pr = raft__progress(n, m->from);

	if (n->role != RAFT_LEADER)
		return;
	if (pr == NULL)
	{
		n->stats.msgs_dropped_unknown++;
		return;
	}
	pr->last_contact = n->now;
	if (m->echo >= n->term_start && m->echo <= n->now &&
		m->echo > pr->acked_echo)
	{
		/* the timeout goes with the ack it came in: it sized that promise */
		pr->acked_echo = m->echo;
		pr->acked_timeout = m->timeout;
	}

	/*
	 * Its position as it reports it now.  Responses may arrive out of
	 * order, so this can step back a little; that only delays a transfer
	 * (see raft__transfer_check), it never hurries one.
	 */
	pr->position = m->position;
	pr->heard = true;
	pr->priority = m->priority;
	pr->flags = m->flags;

	if (m->success)
	{
		if (m->match_index > pr->match)
			pr->match = m->match_index;
		if (pr->next <= pr->match)
			pr->next = pr->match + 1;
		pr->probing = false;
		raft__maybe_commit(n);
		if (n->role != RAFT_LEADER)
			return;
		if (pr->next <= raft__last_index(n))
			raft__send_append(n, pr, false);
	}
	else
	{
		raft_index	next = pr->next > 1 ? pr->next - 1 : 1;

		if (m->reject_hint + 1 < next)
			next = m->reject_hint + 1;
		if (next <= pr->match)
			next = pr->match + 1;
		pr->next = next;
		pr->probing = true;
		raft__send_append(n, pr, false);
	}

	/*
	 * Every response from a transfer target, not only one that advances its
	 * match index: a target already holding our whole log may still be
	 * waiting for its position to catch up, and each response reports it.
	 */
	raft__transfer_check(n, pr);
	raft__update_lease(n);
}
