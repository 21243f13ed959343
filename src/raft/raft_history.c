/*
 * raft_history.c
 *	  The timeline history the log carries, and the rules that judge WAL
 *	  positions against it.
 *
 * PostgreSQL's timelines fork: timeline N + 1 contains timeline N only up
 * to N + 1's switch point, and a server promoted behind Raft's back (an
 * operator's pg_promote(), a promotion that completed after its node lost
 * leadership) writes WAL on a timeline that no majority accepted.  So a
 * position is never compared by timeline number.  The history is the chain
 * of RAFT_ENTRY_TIMELINE steps in the log (each: timeline, where it begins,
 * its parent), applied in log order; like a membership change, a step
 * counts as soon as its entry is in the log and is undone when truncated.
 * A position either lies on the history (its WAL is a prefix of the
 * history's WAL: then it is as far along as its LSN) or has left it (a
 * fork: it holds the history only up to where it left).
 *
 * The vote rule (raft__position_refused) judges both the voter's and the
 * candidate's position against the candidate's history, which the vote
 * request carries: a candidate that can win holds every committed step in
 * its log (Raft's log restriction), so a voter whose own log lags still
 * sees the timeline of a commit it holds.  The voter refuses a candidate
 * that holds less of the history than it does (beyond the tolerance), and
 * a candidate that left the history when the voter is on it and holds at
 * least as much; a forked voter protects only what it holds of the
 * history, so it never blocks the candidate that holds the rest.
 * docs/failover.md has the argument that no acknowledged commit is lost.
 */
#include <string.h>

#include "raft_internal.h"

#define LSN_INFINITY UINT64_MAX

/* "unknown", "on history", "forked" */
const char *
raft_standing_name(raft_standing standing)
{
	switch (standing)
	{
		case RAFT_STANDING_ON_HISTORY:
			return "on history";
		case RAFT_STANDING_FORKED:
			return "forked";
		default:
			return "unknown";
	}
}

/* Where step i of h ends: the next step's beginning, or never. */
static uint64_t
step_end(const raft_timeline *h, int nh, int i)
{
	return i + 1 < nh ? h[i + 1].begin : LSN_INFINITY;
}

/* Whether a position is the "unknown" one. */
static bool
position_unknown(raft_position p)
{
	return p.major == 0 && p.minor == 0;
}

/*
 * Where position p stands against history h (nh steps, oldest first), and
 * in *valid how much of the history's WAL it holds.
 *
 * Timelines are matched by number and beginning together: a server that
 * missed a promotion picks the same timeline number for its own, and the
 * two are different timelines.  The parent of the oldest step is known
 * only by number; it lies on the history up to that step's beginning.
 * A position whose parent is on no step (a fork of a fork) is unknown.
 */
static raft_standing
place(const raft_timeline *h, int nh, raft_position p, uint64_t *valid)
{
	*valid = 0;
	if (nh == 0 || position_unknown(p))
		return RAFT_STANDING_UNKNOWN;

	/* on a timeline of the history */
	for (int i = nh - 1; i >= 0; i--)
	{
		if (h[i].tli == p.major && h[i].begin == p.begin)
		{
			uint64_t	end = step_end(h, nh, i);

			*valid = p.minor < end ? p.minor : end;
			return p.minor <= end ? RAFT_STANDING_ON_HISTORY :
				RAFT_STANDING_FORKED;
		}
	}
	if (h[0].parent != 0 && h[0].parent == p.major)
	{
		*valid = p.minor < h[0].begin ? p.minor : h[0].begin;
		return p.minor <= h[0].begin ? RAFT_STANDING_ON_HISTORY :
			RAFT_STANDING_FORKED;
	}

	/*
	 * branched off a timeline of the history: a fork that holds the
	 * parent's part of the history up to its own beginning (or up to
	 * where the history left the parent, if that came first).  The parent
	 * too is matched by its beginning: two members' timelines of one id
	 * (an operator's promotion that collided with a reserved one) are
	 * different timelines, and a child of the other one holds none of this
	 * one's WAL.
	 */
	if (p.parent != 0)
	{
		for (int i = nh - 1; i >= 0; i--)
		{
#ifdef RAFT_MUTANT_PARENT_BY_NUMBER
			if (h[i].tli == p.parent && h[i].begin <= p.begin)
#else
			if (h[i].tli == p.parent && h[i].begin == p.parent_begin &&
				h[i].begin <= p.begin)
#endif
			{
				uint64_t	end = step_end(h, nh, i);

				*valid = p.begin < end ? p.begin : end;
				return RAFT_STANDING_FORKED;
			}
		}
		if (h[0].parent == p.parent)
		{
			*valid = p.begin < h[0].begin ? p.begin : h[0].begin;
			return RAFT_STANDING_FORKED;
		}
	}
	return RAFT_STANDING_UNKNOWN;
}

/*
 * Apply one step to a history (h, with log indexes idx; *nh steps).  The
 * step continues the newest step of its parent that it can branch from and
 * cuts everything after it; a step whose parent the history does not know
 * starts it afresh.  The oldest step is dropped when the history is full.
 */
static void
history_apply(raft_timeline *h, raft_index *idx, int *nh,
			  const raft_timeline *step, raft_index index)
{
	int			keep = 0;

	if (*nh > 0 && h[*nh - 1].tli == step->tli &&
		h[*nh - 1].begin == step->begin)
		return;					/* already the newest step */
	for (int i = *nh - 1; i >= 0; i--)
	{
		if (h[i].tli == step->parent && h[i].begin <= step->begin)
		{
			keep = i + 1;
			break;
		}
	}
	if (keep == RAFT_MAX_HISTORY)
	{
		memmove(&h[0], &h[1], (RAFT_MAX_HISTORY - 1) * sizeof(*h));
		memmove(&idx[0], &idx[1], (RAFT_MAX_HISTORY - 1) * sizeof(*idx));
		keep--;
	}
	h[keep] = *step;
	idx[keep] = index;
	*nh = keep + 1;
}

/* Apply the TIMELINE entry 'e' (just appended to the log) to the history. */
void
raft__history_apply_entry(raft_node *n, const raft_entry *e)
{
	raft_timeline step;
	const char *why;

	n->last_timeline_index = e->index;
	if (raft_timeline_decode(e->data, e->len, &step, &why) != RAFT_OK)
		return;
	history_apply(n->history, n->history_index, &n->n_history, &step,
				  e->index);
}

/* Rebuild the history from the log (after a truncation removed a step). */
void
raft__history_recompute(raft_node *n)
{
	n->n_history = 0;
	n->last_timeline_index = 0;
	for (size_t i = 0; i < n->log_len; i++)
	{
		if (n->log[i].type == RAFT_ENTRY_TIMELINE)
			raft__history_apply_entry(n, &n->log[i]);
	}
}

/* The newest steps of the node's history, for a vote request. */
void
raft__history_tail(const raft_node *n, raft_message *m)
{
	int			from = n->n_history > RAFT_HISTORY_TAIL ?
		n->n_history - RAFT_HISTORY_TAIL : 0;

	m->n_history = (uint8_t) (n->n_history - from);
	for (int i = 0; i < m->n_history; i++)
	{
		/* what judging needs; the wire does not carry the rest */
		memset(&m->history[i], 0, sizeof(m->history[i]));
		m->history[i].tli = n->history[from + i].tli;
		m->history[i].begin = n->history[from + i].begin;
		m->history[i].parent = n->history[from + i].parent;
		m->history[i].node = n->history[from + i].node;
	}
}

/*
 * Before any history: the rule of the versions that had none, which
 * compares the timeline first.  It holds only until the first primary's
 * step is in the log (the extension proposes it as soon as it leads as
 * primary, and takes no write before it is committed).
 */
static bool
legacy_behind(uint64_t lag, raft_position mine, raft_position cand)
{
	if (cand.major < mine.major)
		return true;
	if (cand.major > mine.major)
		return false;
	return mine.minor > cand.minor && mine.minor - cand.minor > lag;
}

/*
 * The voters' rule: whether a voter at 'mine' refuses a candidate at
 * 'cand' whose history is h (nh steps).  Also the leader's, deciding
 * whether a transfer target could win (raft_transfer.c), with its own
 * history.  {0, 0} on either side means "unknown" and is never refused.
 */
bool
raft__position_refused(const raft_node *n, raft_position mine,
					   raft_position cand, const raft_timeline *h, int nh)
{
	uint64_t	lag = n->opts.max_position_lag;
	uint64_t	held_mine;
	uint64_t	held_cand;
	raft_standing st_mine;
	raft_standing st_cand;

	if (position_unknown(mine) || position_unknown(cand) ||
		lag == RAFT_POSITION_ANY)
		return false;
#ifdef RAFT_MUTANT_TIMELINE_FIRST
	/* the rule before the history: a higher timeline wins outright */
	(void) h;
	(void) nh;
	(void) st_mine;
	(void) st_cand;
	(void) held_mine;
	(void) held_cand;
	return legacy_behind(lag, mine, cand);
#else
	if (nh == 0)
		return legacy_behind(lag, mine, cand);
	st_mine = place(h, nh, mine, &held_mine);
	st_cand = place(h, nh, cand, &held_cand);
	/* what cannot be placed: the voter protects all of it, the candidate
	 * offers nothing */
	if (st_mine == RAFT_STANDING_UNKNOWN)
		held_mine = mine.minor;
	if (st_cand == RAFT_STANDING_UNKNOWN)
		held_cand = 0;
	/* a fork never wins over a member that holds as much of the history */
	if (st_cand != RAFT_STANDING_ON_HISTORY &&
		st_mine == RAFT_STANDING_ON_HISTORY && held_mine >= held_cand)
		return true;
	return held_mine > held_cand && held_mine - held_cand > lag;
#endif
}

/*
 * The leader's succession order: whether position a comes before b.
 * Positions on the history first, then by how much of the history they
 * hold; 0 when neither comes first.
 */
int
raft__position_order(const raft_node *n, raft_position a, raft_position b)
{
	uint64_t	va;
	uint64_t	vb;
	raft_standing sa = place(n->history, n->n_history, a, &va);
	raft_standing sb = place(n->history, n->n_history, b, &vb);

#ifdef RAFT_MUTANT_TIMELINE_FIRST
	(void) sa;
	(void) sb;
	(void) va;
	(void) vb;
	return raft_position_compare(a, b);
#else
	if (n->n_history == 0)
		return raft_position_compare(a, b);
	if ((sa == RAFT_STANDING_ON_HISTORY) != (sb == RAFT_STANDING_ON_HISTORY))
		return sa == RAFT_STANDING_ON_HISTORY ? 1 : -1;
	if (va != vb)
		return va > vb ? 1 : -1;
	return 0;
#endif
}

/* See raft.h. */
const raft_timeline *
raft_get_history(const raft_node *n, int *count, const raft_index **indexes)
{
	*count = n->n_history;
	if (indexes != NULL)
		*indexes = n->history_index;
	return n->history;
}

/* See raft.h. */
raft_standing
raft_position_standing(const raft_node *n, raft_position position,
					   uint64_t *valid)
{
	uint64_t	held;
	raft_standing st = place(n->history, n->n_history, position, &held);

	if (valid != NULL)
		*valid = held;
	return st;
}

/* See raft.h. */
bool
raft_timeline_committed(const raft_node *n, uint64_t tli, uint64_t begin)
{
	int			last = n->n_history - 1;

	/*
	 * No position check (independent instances, whose WAL positions are
	 * unrelated): the history judges nothing, and nothing waits for it.
	 */
	if (n->opts.max_position_lag == RAFT_POSITION_ANY)
		return true;
	/*
	 * Recorded by this node itself: a server that promoted from the same
	 * point without seeing the step picks the same timeline id and the same
	 * beginning, but its WAL is another; only the node that promoted is a
	 * primary on a step's timeline (any other primary promoted again).
	 */
	return last >= 0 && n->history[last].tli == tli &&
		n->history[last].begin == begin &&
		n->history[last].node == n->id &&
		n->history_index[last] <= n->commit;
}
