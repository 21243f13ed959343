/*
 * raft_election.c
 *	  Election timers, PreVote, elections, and the voter's side of both.
 *
 * The election timeout is drawn uniformly from [ET, ET + spread) by a
 * seeded generator each time the timer is reset, so a run is reproducible
 * from its seed.  Time is a deadline, not a count of ticks: the caller may
 * tick at any rate.
 *
 * Stickiness (with check_quorum): a node that heard from a live leader less
 * than ET ago refuses PreVote and Vote requests and does not adopt their
 * term, unless the request comes from a leadership transfer.  The leader's
 * lease (raft_replication.c) rests on this rule.
 */
#include <string.h>

#include "raft_internal.h"

/* splitmix64: small, fast, good enough to spread timeouts. */
static uint64_t
next_random(raft_node *n)
{
	uint64_t	z;

	n->rng += UINT64_C(0x9E3779B97F4A7C15);
	z = n->rng;
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* The priority this node reports to its leader: 0 if it never stands. */
uint8_t
raft__own_priority(const raft_node *n)
{
	return n->opts.never_campaign ? 0 : n->opts.priority;
}

/*
 * Draw a new election deadline: in [now + ET, now + ET + spread) while no
 * rank is known, else now + ET + rank * rank_step plus a jitter in
 * [rank_jitter / 2, rank_jitter) (see raft_options.rank_step).  The jitter
 * keeps two nodes that believe in the same rank (one missed the latest
 * heartbeat) apart, and its floor lets the other followers' stickiness,
 * which began when they heard the same heartbeat a little later, run out
 * before the first-ranked node's PreVote reaches them.
 *
 * Ranks need PreVote: without it a node that cannot win (its log is behind)
 * raises the term at every timeout and deposes each new leader, and ranked
 * followers waiting their turn leave it the first to time out every time
 * (the simulator's liveness check found that livelock).  So without
 * PreVote the random spread stays.
 */
void
raft__reset_election_timer(raft_node *n)
{
	raft_time	timeout = n->opts.election_timeout;

	if (n->rank != RAFT_RANK_UNKNOWN && n->opts.rank_step > 0 &&
		n->opts.prevote)
	{
		raft_time	half = n->opts.rank_jitter / 2;

		timeout += (raft_time) n->rank * n->opts.rank_step + half;
		if (n->opts.rank_jitter - half > 0)
			timeout += (raft_time) (next_random(n) %
									(uint64_t) (n->opts.rank_jitter - half));
	}
	else if (n->opts.election_spread > 0)
		timeout += (raft_time) (next_random(n) %
								(uint64_t) n->opts.election_spread);
	n->election_deadline = n->now + timeout;

	/* a new node that promised a longer timeout waits it out first */
	if (n->now < n->sticky_until &&
		n->election_deadline < n->sticky_until + (timeout - n->opts.election_timeout))
		n->election_deadline = n->sticky_until + (timeout - n->opts.election_timeout);
}

/*
 * Whether this node may stand for election at all: a voter, or a node whose
 * own removal is still uncommitted.  The latter matters when the removal
 * reached nobody else: its log is then the longest, no remaining voter can
 * win without it, and it alone can commit the change.  It campaigns with
 * the new configuration (not counting itself), and steps down as soon as the
 * removal commits, as any leader removed by a change does.
 */
bool
raft__can_campaign(const raft_node *n)
{
	if (n->opts.never_campaign)
		return false;
	if (raft_is_voter(n, n->id))
		return true;
	return n->last_change_index > n->commit && n->voter_before_change;
}

/*
 * Whether we heard from a live leader within ET (stickiness), or are still
 * inside the startup window (raft_new).
 */
bool
raft__in_lease(const raft_node *n)
{
	if (!n->opts.check_quorum)
		return false;
	if (n->role == RAFT_LEADER)
		return true;
	if (n->now < n->sticky_until)
		return true;
	return n->now - n->last_leader_contact < n->opts.election_timeout;
}

/* Step down (or stay) to follower in 'term', following 'leader'. */
void
raft__become_follower(raft_node *n, raft_term term, raft_id leader)
{
	if (term > n->term)
	{
		n->term = term;
		n->voted_for = RAFT_NOBODY;
	}
	if (n->role == RAFT_LEADER)
	{
		n->stats.leader_stepdowns++;

		/*
		 * A deposed leader's lease may not have run out: stay sticky for ET
		 * so this node cannot help elect a rival inside it.  Its election
		 * timer starts now (a leader has none running).
		 */
		n->last_leader_contact = n->now;
		raft__reset_election_timer(n);
	}

	/*
	 * Otherwise the timer keeps running: only a leader's message or a vote
	 * granted resets it (Figure 2).  Resetting it on every higher term seen
	 * would let a candidate with a stale log, retrying again and again,
	 * keep the up-to-date node from ever standing.
	 */
	n->role = RAFT_FOLLOWER;
	n->leader = leader;
	n->transfer_target = RAFT_NOBODY;
	n->lease_until = 0;
	n->n_prs = 0;
	memset(&n->tally, 0, sizeof(n->tally));
}

/* Record a (pre)vote answer from 'id'; returns false if not a voter. */
static bool
tally_record(raft_node *n, raft_id id, bool granted)
{
	raft_tally *t = &n->tally;

	if (!raft_is_voter(n, id))
		return false;
	for (int i = 0; i < t->n; i++)
		if (t->ids[i] == id)
			return true;		/* first answer counts */
	if (t->n >= RAFT_MAX_MEMBERS)
		return false;
	t->ids[t->n] = id;
	t->granted[t->n] = granted;
	t->n++;
	return true;
}

/* Count granted (or refused) answers of the tally. */
static int
tally_count(const raft_node *n, bool granted)
{
	int			c = 0;

	for (int i = 0; i < n->tally.n; i++)
		if (n->tally.granted[i] == granted)
			c++;
	return c;
}

/* Send a vote request of 'type' to every other voter. */
static void
send_vote_requests(raft_node *n, raft_msg_type type, bool transfer)
{
	raft_index	last = raft__last_index(n);

	for (int i = 0; i < n->config.count; i++)
	{
		const raft_member *mb = &n->config.members[i];
		raft_message *m;

		if (!mb->voter || mb->id == n->id)
			continue;
		m = raft__new_message(n, type, mb->id);
		if (m == NULL)
			continue;
		if (type == RAFT_MSG_PREVOTE)
			m->term = n->term + 1;
		m->last_log_index = last;
		m->last_log_term = raft__term_at(n, last);
		m->position = n->position;
		raft__history_tail(n, m);
		m->transfer = transfer;
	}
}

/*
 * Stand as 'role' (pre-candidate or candidate): no leader known, a new
 * election timer, a fresh tally holding our own vote.  Returns whether that
 * vote alone is a quorum.
 */
static bool
stand(raft_node *n, raft_role role)
{
	n->role = role;
	n->leader = RAFT_NOBODY;
	memset(&n->tally, 0, sizeof(n->tally));
	/*
	 * The rank has served: it made this node stand first.  If the round
	 * fails, the next timeouts are spread at random: two nodes that both
	 * believed in one rank (from different leaders) otherwise stood within
	 * the rank jitter of each other at every round, split the vote each
	 * time and never elected (the simulator's seed 6116447: two voters, 220
	 * ms apart from each other by 2 ms, for ever).
	 */
#ifndef RAFT_MUTANT_RANK_KEPT_AFTER_STANDING
	n->rank = RAFT_RANK_UNKNOWN;
#endif
	raft__reset_election_timer(n);
	tally_record(n, n->id, true);
	return tally_count(n, true) >= raft__quorum(n);
}

/* Start a PreVote round: ask whether we could win term + 1. */
void
raft__start_prevote(raft_node *n)
{
	n->stats.prevotes_started++;
	if (stand(n, RAFT_PRECANDIDATE))
	{
		raft__campaign(n, false);
		return;
	}
	send_vote_requests(n, RAFT_MSG_PREVOTE, false);
}

/* Start an election in term + 1 (transfer: ordered by TIMEOUT_NOW). */
void
raft__campaign(raft_node *n, bool transfer)
{
	n->term++;
	n->voted_for = n->id;
	n->stats.elections_started++;
	if (stand(n, RAFT_CANDIDATE))
	{
		raft__become_leader(n);
		return;
	}
	send_vote_requests(n, RAFT_MSG_VOTE, transfer);
}

/* Take office: open the term with a NOOP and announce it. */
void
raft__become_leader(raft_node *n)
{
	n->role = RAFT_LEADER;
	n->leader = n->id;
	n->rank = RAFT_RANK_UNKNOWN;
	n->term_start = n->now;
	n->last_leader_contact = n->now;
	n->lease_until = 0;
	n->transfer_target = RAFT_NOBODY;
	memset(&n->tally, 0, sizeof(n->tally));
	raft__reset_progress(n);
	if (raft__log_append(n, n->term, RAFT_ENTRY_NOOP, NULL, 0) != RAFT_OK)
	{
		/* without its NOOP this term could never commit: give it up */
		raft__become_follower(n, n->term, RAFT_NOBODY);
		return;
	}
	raft__broadcast_append(n, true);
	n->heartbeat_due = n->now + n->opts.heartbeat_interval;
}

/* Non-leader tick: campaign when the election deadline has passed. */
void
raft__election_tick(raft_node *n)
{
	if (n->now < n->election_deadline)
		return;
	if (!raft__can_campaign(n))
	{
		raft__reset_election_timer(n);
		return;
	}
#ifdef RAFT_MUTANT_RANK_SKIPS_STICKINESS
	/* the broken shortcut: "first in line, so stand at once" */
	if (n->rank == 0)
	{
		raft__campaign(n, true);
		return;
	}
#endif
	if (n->opts.prevote)
		raft__start_prevote(n);
	else
		raft__campaign(n, false);
}

/* Raft's log restriction: the candidate's log is at least as new as ours. */
static bool
log_at_least_as_new(const raft_message *req, raft_index last, raft_term last_term)
{
	return req->last_log_term > last_term ||
		(req->last_log_term == last_term && req->last_log_index >= last);
}

/* Answer a (pre)vote request. */
static void
respond_vote(raft_node *n, const raft_message *req, bool granted,
			 raft_vote_refusal why, raft_term term)
{
	raft_message *m;

	m = raft__new_message(n, req->type == RAFT_MSG_PREVOTE ?
						  RAFT_MSG_PREVOTE_RESPONSE : RAFT_MSG_VOTE_RESPONSE,
						  req->from);
	if (m == NULL)
		return;
	m->term = term;
	m->granted = granted;
	m->refusal = (uint8_t) why;
}

/*
 * Handle PREVOTE or VOTE whose term is not below ours (stale requests are
 * answered by the dispatcher).  The sender is a voter of our configuration
 * or may know a newer one (see may_know_newer_config in raft_receive.c).
 *
 * We answer even when we are not a voter in our own configuration: the
 * candidate may know a newer one that promoted or added us (a new node
 * learns it only from a leader, and without its vote there may never be
 * one).  Learners still never decide anything: a candidate counts only the
 * answers of voters in its own configuration.
 */
void
raft__handle_vote_request(raft_node *n, const raft_message *m)
{
	bool		prevote = m->type == RAFT_MSG_PREVOTE;
	raft_index	last = raft__last_index(n);
	raft_term	last_term = raft__term_at(n, last);
	bool		repeat;

	/* a retransmitted request we already granted is granted again */
	repeat = !prevote && m->term == n->term && n->voted_for == m->from;

	/* stickiness: a live leader exists; keep our term, refuse */
	if (!repeat && !m->transfer && raft__in_lease(n))
	{
		respond_vote(n, m, false, RAFT_VOTE_LEADER_ALIVE, n->term);
		return;
	}
	if (prevote && m->term <= n->term)
	{
		respond_vote(n, m, false, RAFT_VOTE_STALE_TERM, n->term);
		return;
	}
	if (!prevote && m->term > n->term)
		raft__become_follower(n, m->term, RAFT_NOBODY);

	if (!prevote && !repeat)
	{
		if (n->voted_for != RAFT_NOBODY)
		{
			/*
			 * Our own candidacy in this term against a candidate whose log
			 * is at least as new as ours: we cannot vote for it in this
			 * term, but it may win where we cannot (voters refuse a log
			 * behind theirs).  Draw our next deadline from now, so that its
			 * next attempt is as likely as ours to come first.  Otherwise a
			 * candidate whose timer happens to run ahead raises the term
			 * just before every attempt of the up-to-date one and refuses
			 * it each time, phase-locked until the random draws drift
			 * apart (without PreVote; the simulator's seed 3175476 went 36 s
			 * without a leader that way, with two voters).  A stale
			 * candidate still never resets our timer
			 * (test_refused_vote_does_not_reset_election_timer).
			 */
			if (n->voted_for == n->id && log_at_least_as_new(m, last, last_term))
				raft__reset_election_timer(n);
			respond_vote(n, m, false, RAFT_VOTE_ALREADY_VOTED, n->term);
			return;
		}
		if (n->leader != RAFT_NOBODY)
		{
			respond_vote(n, m, false, RAFT_VOTE_LEADER_ALIVE, n->term);
			return;
		}
	}

	/* Raft's log restriction: the candidate's log is at least as new */
	if (!log_at_least_as_new(m, last, last_term))
	{
		respond_vote(n, m, false, RAFT_VOTE_LOG_BEHIND, n->term);
		return;
	}
	if (raft__position_refused(n, n->position, m->position, m->history,
							   m->n_history))
	{
		respond_vote(n, m, false, RAFT_VOTE_POSITION_BEHIND, n->term);
		return;
	}

	if (prevote)
	{
		/* grant without touching our term or vote */
		respond_vote(n, m, true, RAFT_VOTE_GRANTED, m->term);
		return;
	}
	n->voted_for = m->from;
	raft__reset_election_timer(n);
	respond_vote(n, m, true, RAFT_VOTE_GRANTED, n->term);
}

/* Count a (pre)vote answer; win or lose when a quorum has spoken. */
void
raft__handle_vote_response(raft_node *n, const raft_message *m)
{
	int			quorum = raft__quorum(n);

	if (m->type == RAFT_MSG_PREVOTE_RESPONSE)
	{
		if (n->role != RAFT_PRECANDIDATE)
			return;
		/* granted answers carry the term we asked for, refusals the voter's */
		if (m->granted ? m->term != n->term + 1 : m->term != n->term)
			return;
	}
	else if (n->role != RAFT_CANDIDATE || m->term != n->term)
		return;

	if (!tally_record(n, m->from, m->granted))
	{
		n->stats.msgs_dropped_unknown++;
		return;
	}
	if (tally_count(n, true) >= quorum)
	{
		if (n->role == RAFT_PRECANDIDATE)
			raft__campaign(n, false);
		else
			raft__become_leader(n);
	}
	else if (tally_count(n, false) >= quorum)
		raft__become_follower(n, n->term, RAFT_NOBODY);
}
