/*
 * raft_receive.c
 *	  The engine's inputs: ticks and messages.  Every message is checked
 *	  before it can touch the node: impossible contents and unknown senders
 *	  are counted and dropped, never asserted, since a peer may be buggy,
 *	  stale or hostile.  Then terms are reconciled (the rule "any message of
 *	  a higher term makes us a follower in that term", with the PreVote and
 *	  stickiness exceptions) and the message goes to its handler.
 */
#include "raft_internal.h"

/* Whether an APPEND's entries are well formed and consecutive. */
static bool
append_valid(const raft_message *m)
{
	raft_term	prev_term = m->prev_log_term;

	if (m->prev_log_index == 0 && m->prev_log_term != 0)
		return false;
	if (m->prev_log_term > m->term)
		return false;
	if (m->n_entries > RAFT_MAX_ENTRIES_PER_MSG)
		return false;
	if (m->n_entries > 0 && m->entries == NULL)
		return false;
	if (m->prev_log_index > UINT64_MAX - RAFT_MAX_ENTRIES_PER_MSG)
		return false;
	for (uint32_t i = 0; i < m->n_entries; i++)
	{
		const raft_entry *e = &m->entries[i];

		if (e->index != m->prev_log_index + 1 + i)
			return false;
		if (e->term < prev_term || e->term > m->term || e->term == 0)
			return false;
		if (!raft__entry_valid(e))
			return false;
		prev_term = e->term;
	}
	return true;
}

/*
 * Whether a message's contents are possible at all (for us, now).  Requests
 * are never of term 0; responses may be (a refusal from a voter that has
 * never seen a term).
 */
static bool
message_valid(const raft_node *n, const raft_message *m)
{
	if (m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX)
		return false;
	if (m->to != n->id || m->from == n->id || m->from == RAFT_NOBODY)
		return false;
	switch (m->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			if (m->term == 0 || m->last_log_term > m->term)
				return false;
			if ((m->last_log_index == 0) != (m->last_log_term == 0))
				return false;
			return true;
		case RAFT_MSG_APPEND:
			return m->term != 0 && append_valid(m);
		case RAFT_MSG_TIMEOUT_NOW:
			return m->term != 0;
		case RAFT_MSG_APPEND_RESPONSE:
			/* every node has an election timeout; our lease depends on it */
			if (m->timeout <= 0)
				return false;
			/* nobody can hold more than we ever sent them */
			if (m->success && m->term == n->term && n->role == RAFT_LEADER &&
				m->match_index > raft__last_index(n))
				return false;
			return true;
		default:
			return true;
	}
}

/*
 * Whether a vote request from a non-voter deserves an answer: only if its
 * log is at least as up to date as ours and reaches past our newest
 * membership change, so that it may hold a configuration we have not seen
 * (one that added or promoted it).  Without that vote a cluster can lose
 * its quorum for good (Raft thesis 4.1); the candidate counts only voters of
 * its own configuration, so nothing unsafe follows.  Everyone else (a
 * removed node that missed its removal, a stranger) is dropped.
 */
static bool
may_know_newer_config(const raft_node *n, const raft_message *m)
{
	raft_index	last = raft__last_index(n);
	raft_term	last_term = raft__term_at(n, last);

	if (m->last_log_term < last_term ||
		(m->last_log_term == last_term && m->last_log_index < last))
		return false;
	return m->last_log_index > n->last_change_index;
}

/*
 * Whether the sender may talk to us.  APPEND is accepted from anyone: the
 * sender may be a leader we do not know yet (our log may lack the change
 * that added it, or us), and if its term is stale it must hear ours, or a
 * node whose term ran ahead while it was cut off could never rejoin.
 */
static bool
sender_allowed(const raft_node *n, const raft_message *m)
{
	switch (m->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			return raft_is_voter(n, m->from) || may_know_newer_config(n, m);
		case RAFT_MSG_APPEND:
			/* a stale one is answered, so that its sender learns our term */
			return true;
		case RAFT_MSG_TIMEOUT_NOW:
			return m->term >= n->term || raft__is_member(n, m->from);
		default:
			return raft__is_member(n, m->from);
	}
}

/* Tell a stale sender our term (so a deposed leader learns it). */
static void
answer_stale(raft_node *n, const raft_message *m)
{
	raft_message *r;

	if (m->type == RAFT_MSG_APPEND)
	{
		r = raft__new_message(n, RAFT_MSG_APPEND_RESPONSE, m->from);
		if (r != NULL)
		{
			r->success = false;
			r->reject_hint = raft__last_index(n);
			r->echo = m->echo;
			r->position = n->position;
			r->timeout = n->opts.election_timeout;
			r->priority = raft__own_priority(n);
			r->flags = n->flags;
		}
	}
	else if (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE)
	{
		r = raft__new_message(n, m->type == RAFT_MSG_PREVOTE ?
							  RAFT_MSG_PREVOTE_RESPONSE :
							  RAFT_MSG_VOTE_RESPONSE, m->from);
		if (r != NULL)
		{
			r->granted = false;
			r->refusal = RAFT_VOTE_STALE_TERM;
		}
	}
}

/* Handle one message from a peer (see raft.h). */
void
raft_receive(raft_node *n, const raft_message *m, raft_time now)
{
	if (now > n->now)
		n->now = now;
	n->started = true;
	n->stats.msgs_received++;
	if (m == NULL || !message_valid(n, m))
	{
		n->stats.msgs_dropped_invalid++;
		return;
	}
	if (!sender_allowed(n, m))
	{
		n->stats.msgs_dropped_unknown++;
		return;
	}

	if (m->term < n->term)
	{
		answer_stale(n, m);
		n->stats.msgs_dropped_stale++;
		return;
	}
	if (m->term > n->term)
	{
		switch (m->type)
		{
			case RAFT_MSG_PREVOTE:
			case RAFT_MSG_VOTE:
				/* decided in the handler: stickiness may keep our term */
				break;
			case RAFT_MSG_PREVOTE_RESPONSE:
				/* a granted prevote carries the term we asked about */
				if (!m->granted)
					raft__become_follower(n, m->term, RAFT_NOBODY);
				break;
			case RAFT_MSG_APPEND:
			case RAFT_MSG_TIMEOUT_NOW:
				raft__become_follower(n, m->term, m->from);
				break;
			default:
				raft__become_follower(n, m->term, RAFT_NOBODY);
				break;
		}
	}

	switch (m->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			raft__handle_vote_request(n, m);
			break;
		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			raft__handle_vote_response(n, m);
			break;
		case RAFT_MSG_APPEND:
			raft__handle_append(n, m);
			break;
		case RAFT_MSG_APPEND_RESPONSE:
			if (n->role == RAFT_LEADER && m->term == n->term)
				raft__handle_append_response(n, m);
			break;
		case RAFT_MSG_TIMEOUT_NOW:
			raft__handle_timeout_now(n, m);
			break;
	}
}

/* Time passed (see raft.h). */
void
raft_tick(raft_node *n, raft_time now)
{
	if (now > n->now)
		n->now = now;
	n->started = true;
	if (n->role == RAFT_LEADER)
		raft__leader_tick(n);
	else
		raft__election_tick(n);
}
