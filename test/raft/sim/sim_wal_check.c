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
 *	- its WAL runs through the timelines of its engine's history, newest
 *	  first: its timelines end with the history's steps, in order (the
 *	  parent of the oldest step known only by its number), so that the WAL
 *	  it writes on is the one the history, and hence the vote rule, vouch
 *	  for.
 * Acknowledgements are counted only in quorum seeds (max_position_lag 0,
 * as raft_ext.synchronous = quorum requires).
 */
#include "sim.h"

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
	j = w->nseg;
	for (int i = nh - 1; i >= 0; i--)
	{
		if (j == 0 || w->seg[j - 1].tli != h[i].tli ||
			w->seg[j - 1].begin != h[i].begin)
		{
			sim_fail(c, "WAL left the committed history",
					 "n%u may write as primary on timeline %llu (from LSN %llu) "
					 "but its WAL does not run through the history's step %d "
					 "(timeline %llu from LSN %llu, by n%u)", nd->id,
					 (unsigned long long) s->tli, (unsigned long long) s->begin,
					 i, (unsigned long long) h[i].tli,
					 (unsigned long long) h[i].begin, h[i].node);
			return;
		}
		j--;
	}
	if (nh > 0 && h[0].parent != 0 && j > 0 && w->seg[j - 1].tli != h[0].parent)
		sim_fail(c, "WAL left the committed history",
				 "n%u may write as primary on timeline %llu but its WAL reached "
				 "the history's oldest step (timeline %llu) from timeline %llu, "
				 "not from its parent %llu", nd->id, (unsigned long long) s->tli,
				 (unsigned long long) h[0].tli,
				 (unsigned long long) w->seg[j - 1].tli,
				 (unsigned long long) h[0].parent);
}
