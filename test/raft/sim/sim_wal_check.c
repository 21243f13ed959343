/*
 * sim_wal_check.c
 *	  Invariant 7 of DESIGN.md on the WAL model of sim_wal.c: no commit
 *	  acknowledged to a client is missing from a later primary that takes
 *	  writes, and no node whose WAL left the committed timeline history
 *	  becomes a writable primary.
 *
 * Checked after every step of every node (and at each round of the
 * servers' loop, and before each write): whenever a node's primary may
 * write (wal_writable: Raft leader, lease with the fence's headroom, its
 * timeline step committed),
 *	- its WAL holds the newest acknowledged write with everything before it
 *	  (the same records up to that LSN: the same prefix hash), which covers
 *	  every older acknowledged write, since each writer held the previous
 *	  ones when it wrote;
 *	- its WAL runs through the timelines of its engine's history: from
 *	  where the history begins, each LSN of its WAL is on the timeline the
 *	  history puts it on (timelines that hold no WAL, two switches at one
 *	  LSN, are left out; before the oldest step nothing is checked: its
 *	  parent is known only by number, and may itself hold no WAL), so that
 *	  the WAL it writes on is the one the history, and hence the vote rule,
 *	  vouch for.
 * Acknowledgements are counted only in quorum seeds (max_position_lag 0,
 * as raft_ext.synchronous = quorum requires).
 */
#include "sim.h"

/* The timeline of w that holds LSN x (at a switch point, the newer one). */
static size_t
seg_at(const sim_wal *w, uint64_t x)
{
	size_t		j = w->nseg - 1;

	while (j > 0 && w->seg[j].begin > x)
		j--;
	return j;
}

/* Invariant 7 for node nd (see above). */
void
inv_wal(sim_cluster *c, sim_node *nd)
{
	const sim_wal *w = &nd->wal;
	const sim_seg *s;
	const raft_timeline *h;
	int			nh = 0;
	size_t		j;

	if (c->failed || nd->state != NODE_UP || !wal_writable(c, nd))
		return;
	s = &w->seg[w->nseg - 1];
	if (c->ack_lsn > 0 &&
		(w->len < c->ack_lsn || w->hash[c->ack_lsn] != c->ack_hash))
	{
		sim_fail(c, "acknowledged write lost",
				 "n%u may write as primary on timeline %llu (from LSN %llu) but "
				 "its WAL (to LSN %zu) lacks the write n%u acknowledged at LSN "
				 "%llu", nd->id, (unsigned long long) s->tli,
				 (unsigned long long) s->begin, w->len, c->ack_by,
				 (unsigned long long) c->ack_lsn);
		return;
	}
	/* without the position check the engine vouches for no WAL */
	if (c->cfg.position_lag == RAFT_POSITION_ANY)
		return;
	h = raft_get_history(nd->raft, &nh, NULL);
	if (nh == 0)
		return;
	/* every step that holds WAL is the node's timeline there ... */
	for (int i = 0; i < nh; i++)
	{
		if (i + 1 < nh && h[i + 1].begin == h[i].begin)
			continue;
		j = seg_at(w, h[i].begin);
		if (w->seg[j].tli != h[i].tli || w->seg[j].begin != h[i].begin)
		{
			sim_fail(c, "WAL left the committed history",
					 "n%u may write as primary on timeline %llu (from LSN %llu) "
					 "but at LSN %llu its WAL is on timeline %llu (from %llu), "
					 "not on the history's step %d (timeline %llu, by n%u)",
					 nd->id, (unsigned long long) s->tli,
					 (unsigned long long) s->begin,
					 (unsigned long long) h[i].begin,
					 (unsigned long long) w->seg[j].tli,
					 (unsigned long long) w->seg[j].begin, i,
					 (unsigned long long) h[i].tli, h[i].node);
			return;
		}
	}
	/* ... and every timeline of its WAL since the history began is a step */
	for (j = 0; j < w->nseg; j++)
	{
		int			i = nh - 1;

		if ((j + 1 < w->nseg && w->seg[j + 1].begin == w->seg[j].begin) ||
			w->seg[j].begin < h[0].begin)
			continue;
		while (i > 0 && h[i].begin > w->seg[j].begin)
			i--;
		if (h[i].tli != w->seg[j].tli || h[i].begin != w->seg[j].begin)
		{
			sim_fail(c, "WAL left the committed history",
					 "n%u may write as primary on timeline %llu (from LSN %llu) "
					 "but its WAL runs through timeline %llu from LSN %llu, "
					 "which the history does not hold", nd->id,
					 (unsigned long long) s->tli, (unsigned long long) s->begin,
					 (unsigned long long) w->seg[j].tli,
					 (unsigned long long) w->seg[j].begin);
			return;
		}
	}
}
