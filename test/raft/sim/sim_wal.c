/*
 * sim_wal.c
 *	  The PostgreSQL server beside each simulated node: its WAL, the
 *	  timelines the WAL runs through, and its role (primary or standby),
 *	  driven the way the extension drives PostgreSQL.
 *
 * Every few heartbeats (EV_WAL) each running server does what the worker
 * would make it do:
 *	- the Raft leader that is a standby and holds the lease asks for its
 *	  promotion, which completes after a delay: usually short, but now and
 *	  then late, possibly after the node lost leadership (a fault);
 *	- the Raft leader that is a primary proposes its timeline step
 *	  (raft_propose_timeline) unless the history's newest step is its own;
 *	- a primary that does not lead, while the node it takes for the leader
 *	  leads as a primary on a committed timeline, demotes after a while (the
 *	  time auto_rejoin's pg_rewind and restart take) and follows it;
 *	- a standby streams from the node it takes for the leader (cascading,
 *	  if that one is a standby too) while the link between them is up, if
 *	  its WAL is a prefix of that node's; one that diverged is rewound to
 *	  the common prefix after a while, but only against a primary that leads
 *	  on a committed timeline (auto_rejoin);
 *	- a primary that may write (Raft leader, lease with the fence's
 *	  headroom, its timeline step committed) takes client writes, which in
 *	  quorum mode are acknowledged once k = voters - majority other voters
 *	  streaming from it flushed them (synchronous_standby_names = ANY k),
 *	  and only while it still holds the lease: a commit that completes after
 *	  the lease ran out gets the fence's warning, "outcome uncertain";
 *	- now and then an operator promotes a random standby (pg_promote(),
 *	  behind Raft's back: a fork, no step proposed).
 * A promotion picks the timeline id after the largest the server knows of,
 * as PostgreSQL does, so two servers can pick the same number for different
 * timelines; timelines are told apart by (id, begin).  Every change of a
 * server's WAL is reported to its engine at once (raft_set_position), so
 * every step of the engine sees its real (timeline, LSN, begin, parent).
 *
 * The model is kinder than PostgreSQL in one way: a standby that holds the
 * same timelines as its upstream but other records (two servers wrote on
 * timelines with the same id and beginning) is seen to have diverged and is
 * rewound; PostgreSQL would stream on.  Such rewinds are counted
 * ("collisions").  WAL is durable at once (no unflushed tail), and the role
 * and a requested promotion survive a crash, as the data directory does.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* The hash of a WAL extended by record 'rec'. */
static uint64_t
rec_hash(uint64_t prev, uint64_t rec)
{
	return sim_mix64(prev * 0x100000001b3ULL ^ (rec + 0x3c6ef372fe94f82bULL));
}

/* Room for a WAL of 'len' records. */
static void
wal_reserve(sim_wal *w, size_t len)
{
	/* sim_grow doubles once per call; a rejoin may copy more than that */
	while (w->cap < len + 1)
		w->hash = sim_grow(w->hash, &w->cap, len + 1, sizeof(uint64_t), 256);
}

/* Append timeline (tli, begin) to a WAL's list. */
static void
seg_push(sim_wal *w, uint64_t tli, uint64_t begin)
{
	w->seg = sim_grow(w->seg, &w->seg_cap, w->nseg + 1, sizeof(sim_seg), 8);
	w->seg[w->nseg].tli = tli;
	w->seg[w->nseg].begin = begin;
	w->nseg++;
	if (tli > w->max_tli)
		w->max_tli = tli;
}

/* Whether two timelines are the same one. */
static bool
seg_equal(const sim_seg *a, const sim_seg *b)
{
	return a->tli == b->tli && a->begin == b->begin;
}

/*
 * A fresh server: the record initdb wrote (the same everywhere: the
 * standbys were cloned from it) on timeline 1.  Slot 0 is the primary.
 */
void
wal_init(sim_cluster *c, sim_node *nd)
{
	sim_wal    *w = &nd->wal;

	(void) c;
	memset(w, 0, sizeof(*w));
	wal_reserve(w, 1);
	w->hash[0] = 0;
	w->hash[1] = rec_hash(0, 1);
	w->len = 1;
	seg_push(w, 1, 0);
	w->primary = nd->slot == 0;
	w->upstream = w->primary ? -1 : 0;
}

/* Release a server's memory. */
void
wal_free(sim_node *nd)
{
	free(nd->wal.hash);
	free(nd->wal.seg);
	memset(&nd->wal, 0, sizeof(nd->wal));
}

/* The position the worker reports: (timeline, LSN, begin, parent). */
raft_position
wal_position(const sim_wal *w)
{
	const sim_seg *s = &w->seg[w->nseg - 1];
	raft_position p;

	p.major = s->tli;
	p.minor = w->len;
	p.begin = s->begin;
	p.parent = w->nseg > 1 ? w->seg[w->nseg - 2].tli : 0;
	p.parent_begin = w->nseg > 1 ? w->seg[w->nseg - 2].begin : 0;
	return p;
}

/* Tell the node's engine where its WAL stands (the worker does each loop). */
void
wal_report(sim_cluster *c, sim_node *nd)
{
	(void) c;
	if (nd->raft != NULL)
		raft_set_position(nd->raft, wal_position(&nd->wal));
}

/*
 * Whether a's timelines are b's first ones and b stays on a's newest one
 * up to a's end: all that PostgreSQL checks (by timeline id alone) before
 * a standby on a streams from b.
 */
static bool
timelines_follow(const sim_wal *a, const sim_wal *b)
{
	if (a->nseg > b->nseg)
		return false;
	for (size_t i = 0; i < a->nseg; i++)
		if (!seg_equal(&a->seg[i], &b->seg[i]))
			return false;
	return a->nseg == b->nseg || b->seg[a->nseg].begin >= a->len;
}

/*
 * Whether WAL a is a prefix of WAL b, so that a standby holding a can
 * stream from b: the same records up to a's end, the same timelines, and
 * b does not leave a's newest timeline before a's end (PostgreSQL's rule,
 * with timelines told apart by their beginning too).
 */
bool
wal_is_prefix(const sim_wal *a, const sim_wal *b)
{
	return a->len <= b->len && a->hash[a->len] == b->hash[a->len] &&
		timelines_follow(a, b);
}

/*
 * The longest prefix of a that is a prefix of b: its length, and in *nseg
 * how many of a's timelines it keeps.  Equal hashes at x mean equal records
 * up to x, so the search for the last equal one can halve.
 */
static size_t
wal_common(const sim_wal *a, const sim_wal *b, size_t *nseg)
{
	size_t		i = 0;
	size_t		lo = 0;
	size_t		hi = a->len < b->len ? a->len : b->len;

	while (i < a->nseg && i < b->nseg && seg_equal(&a->seg[i], &b->seg[i]))
		i++;
	if (i < a->nseg && a->seg[i].begin < hi)
		hi = a->seg[i].begin;
	if (i < b->nseg && b->seg[i].begin < hi)
		hi = b->seg[i].begin;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo + 1) / 2;

		if (a->hash[mid] == b->hash[mid])
			lo = mid;
		else
			hi = mid - 1;
	}
	while (i > 1 && a->seg[i - 1].begin > lo)
		i--;
	*nseg = i;
	return lo;
}

/* Stream b's WAL into a (a prefix of b), up to b's end. */
static void
wal_copy(sim_wal *a, const sim_wal *b)
{
	wal_reserve(a, b->len);
	for (size_t x = a->len + 1; x <= b->len; x++)
		a->hash[x] = b->hash[x];
	a->len = b->len;
	for (size_t i = a->nseg; i < b->nseg; i++)
		seg_push(a, b->seg[i].tli, b->seg[i].begin);
}

/* How long auto_rejoin takes (pg_rewind, a restart): ET/4 to 2 ET. */
static raft_time
rejoin_delay(sim_cluster *c)
{
	return rng_range(&c->rng, c->cfg.et / 4, 2 * c->cfg.et);
}

/* The node's server, if it runs and its engine leads (in its own view). */
static bool
leads(const sim_node *nd)
{
	return nd->state == NODE_UP && raft_get_role(nd->raft) == RAFT_LEADER;
}

/* Whether nd leads as a primary on a committed timeline: others rejoin it. */
static bool
authoritative(const sim_node *nd)
{
	const sim_seg *s = &nd->wal.seg[nd->wal.nseg - 1];

	return leads(nd) && nd->wal.primary &&
		raft_timeline_committed(nd->raft, s->tli, s->begin);
}

/* Whether the replication link between two slots is up both ways. */
static bool
linked(const sim_cluster *c, int a, int b)
{
	return c->link[a][b] && c->link[b][a];
}

/* Whether nd's primary may take a write now (the fence and the history). */
bool
wal_writable(sim_cluster *c, sim_node *nd)
{
	raft_time	local;
	const sim_seg *s;

	if (!nd->wal.primary || nd->raft == NULL || !leads(nd))
		return false;
	local = sim_local_now(c, nd);
	if (!raft_has_lease(nd->raft, local) ||
		raft_lease_until(nd->raft) - local < c->cfg.transfer_hold)
		return false;
	s = &nd->wal.seg[nd->wal.nseg - 1];
	return raft_timeline_committed(nd->raft, s->tli, s->begin);
}

/*
 * The leader's timeline step (timeline_step.c): its own timeline, after
 * those of its timelines since the newest one the history holds (a fork
 * that was elected: its parent may be a timeline of the same id as a step
 * of the history, another server's, seeds 2504679 and 2846749), so that
 * the history runs through its WAL.
 */
static void
propose_step(sim_cluster *c, sim_node *nd)
{
	const sim_wal *w = &nd->wal;
	int			nh = 0;
	const raft_timeline *h = raft_get_history(nd->raft, &nh, NULL);
	size_t		from = w->nseg - 1;

	if (nh > 0 && h[nh - 1].tli == w->seg[from].tli &&
		h[nh - 1].begin == w->seg[from].begin)
		return;
	for (size_t j = w->nseg - 1; j-- > 0;)
	{
		bool		held = false;

		for (int i = 0; i < nh && !held; i++)
			held = h[i].tli == w->seg[j].tli && h[i].begin == w->seg[j].begin;
		if (held)
		{
			from = j + 1;
			break;
		}
	}
	for (size_t j = from; j < w->nseg && nd->raft != NULL; j++)
	{
		raft_timeline step;
		raft_index	index = 0;
		int			rc;

		memset(&step, 0, sizeof(step));
		step.tli = w->seg[j].tli;
		step.begin = w->seg[j].begin;
		step.parent = j > 0 ? w->seg[j - 1].tli : 0;
		step.node = nd->id;
		rc = raft_propose_timeline(nd->raft, &step, &index);
		TRACE(c, nd->slot, "propose timeline %llu from %llu (parent %llu) -> %s "
			  "(index %llu)", (unsigned long long) step.tli,
			  (unsigned long long) step.begin, (unsigned long long) step.parent,
			  raft_strerror(rc), (unsigned long long) index);
		c->stats.node_steps++;
		if (rc != RAFT_OK)
			break;
		if (index != 0)
			sim_process_ready(c, nd);
	}
}

/* The server promotes: a new timeline from where its WAL ends. */
static void
promote(sim_cluster *c, sim_node *nd, const char *why)
{
	sim_wal    *w = &nd->wal;
	uint64_t	parent = w->seg[w->nseg - 1].tli;

	seg_push(w, w->max_tli + 1, w->len);
	w->primary = true;
	w->promote_pending = false;
	w->promote_gen++;
	w->upstream = -1;
	w->rejoin_at = 0;
	w->written = w->settled = w->len;
	TRACE(c, nd->slot, "PROMOTE (%s): timeline %llu from LSN %zu (parent %llu)",
		  why, (unsigned long long) w->max_tli, w->len,
		  (unsigned long long) parent);
	wal_report(c, nd);
	if (leads(nd))
		propose_step(c, nd);
}

/* A requested promotion completes (EV_PROMOTE). */
void
wal_promote_event(sim_cluster *c, const sim_event *ev)
{
	sim_node   *nd = &c->nodes[(int) ev->node];
	sim_wal    *w = &nd->wal;

	if (ev->gen != w->promote_gen || !w->promote_pending)
		return;
	if (nd->state != NODE_UP)
	{
		/* the signal file waits for the server */
		sim_schedule(c, c->now + c->cfg.hb, EV_PROMOTE, nd->slot,
					 w->promote_gen, NULL);
		return;
	}
	if (w->primary)
	{
		w->promote_pending = false;
		return;
	}
	if (!leads(nd))
		c->stats.late_promotions++;
	promote(c, nd, leads(nd) ? "requested" : "requested, completes LATE");
}

/*
 * What the extension does before it asks for a promotion
 * (raft_timeline_reserve_ids): history files up to just below the first id
 * past every timeline it knows of (its WAL's, the history's, the members'
 * positions) that is its own modulo SIM_TLI_STRIDE, so that PostgreSQL picks
 * that id and two members' promotions never pick the same one.
 */
#define SIM_TLI_STRIDE 64
static void
reserve_timeline_id(sim_node *nd)
{
	sim_wal    *w = &nd->wal;
	uint64_t	known = w->max_tli;
	uint64_t	target;
	int			n;
	const raft_timeline *h = raft_get_history(nd->raft, &n, NULL);

	for (int i = 0; i < n; i++)
		if (h[i].tli > known)
			known = h[i].tli;
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++)
	{
		raft_peer_progress p;

		if (raft_get_progress(nd->raft, id, &p) && p.position.major > known)
			known = p.position.major;
	}
	target = known + 1;
	while (target % SIM_TLI_STRIDE != nd->id % SIM_TLI_STRIDE)
		target++;
	if (target - 1 > w->max_tli)
		w->max_tli = target - 1;
}

/* The Raft leader is a standby holding the lease: ask for its promotion. */
static void
request_promotion(sim_cluster *c, sim_node *nd)
{
	sim_wal    *w = &nd->wal;
	raft_time	delay = rng_range(&c->rng, 0, c->cfg.hb);
	bool		late = !c->tail && rng_chance(&c->rng, c->cfg.late_promote);

	if (w->promote_pending ||
		!raft_has_lease(nd->raft, sim_local_now(c, nd)))
		return;
	if (late)
		delay = rng_range(&c->rng, c->cfg.et / 2, 3 * c->cfg.et);
	reserve_timeline_id(nd);
	w->promote_pending = true;
	w->promote_gen++;
	c->stats.promotions++;
	TRACE(c, nd->slot, "promotion requested (done in %lld ms)", (long long) delay);
	sim_schedule(c, c->now + delay, EV_PROMOTE, nd->slot, w->promote_gen, NULL);
}

/*
 * Follow upstream u: stream if the WAL is a prefix of u's, else (once the
 * rejoin delay has passed, and only against an authoritative primary)
 * rewind to the common prefix first.
 */
static void
follow(sim_cluster *c, sim_node *nd, sim_node *u)
{
	sim_wal    *w = &nd->wal;
	size_t		keep_seg = 0;
	size_t		keep;
	bool		same_tl;

	if (wal_is_prefix(w, &u->wal))
	{
		w->rejoin_at = 0;
		if (u->wal.len > w->len || u->wal.nseg > w->nseg)
		{
			wal_copy(w, &u->wal);
			wal_report(c, nd);
		}
		return;
	}
	if (!authoritative(u))
	{
		w->rejoin_at = 0;
		return;
	}
	if (w->rejoin_at == 0)
	{
		w->rejoin_at = c->now + rejoin_delay(c);
		return;
	}
	if (c->now < w->rejoin_at)
		return;
	/* PostgreSQL would see no divergence, and stream on */
	same_tl = timelines_follow(w, &u->wal);
	keep = wal_common(w, &u->wal, &keep_seg);
	TRACE(c, nd->slot, "REWIND against n%u: LSN %zu (timeline %llu) back to %zu%s",
		  u->id, w->len, (unsigned long long) w->seg[w->nseg - 1].tli, keep,
		  same_tl ? " (same timelines, other records)" : "");
	c->stats.rewinds++;
	if (same_tl)
		c->stats.collisions++;
	w->len = keep;
	w->nseg = keep_seg;
	w->rejoin_at = 0;
	wal_copy(w, &u->wal);
	wal_report(c, nd);
}

/* A standby streams from the node it takes for the leader. */
static void
stream(sim_cluster *c, sim_node *nd)
{
	sim_wal    *w = &nd->wal;
	raft_id		lid = raft_get_leader(nd->raft);
	sim_node   *u;

	if (lid != RAFT_NOBODY && lid != nd->id && (int) lid <= c->cfg.n_slots)
		w->upstream = (int) lid - 1;
	if (w->upstream < 0)
		return;
	u = &c->nodes[w->upstream];
	if (u->state != NODE_UP || !linked(c, nd->slot, u->slot) ||
		!rng_chance(&c->rng, 0.8))
		return;
	follow(c, nd, u);
}

/* A primary that does not lead rejoins an authoritative leader's primary. */
static void
rejoin(sim_cluster *c, sim_node *nd)
{
	sim_wal    *w = &nd->wal;
	raft_id		lid = raft_get_leader(nd->raft);
	sim_node   *l;

	if (lid == RAFT_NOBODY || lid == nd->id || (int) lid > c->cfg.n_slots)
	{
		w->rejoin_at = 0;
		return;
	}
	l = &c->nodes[lid - 1];
	if (!authoritative(l) || !linked(c, nd->slot, l->slot))
	{
		w->rejoin_at = 0;
		return;
	}
	if (w->rejoin_at == 0)
	{
		w->rejoin_at = c->now + rejoin_delay(c);
		return;
	}
	if (c->now < w->rejoin_at)
		return;
	TRACE(c, nd->slot, "DEMOTE: rejoins n%u as a standby", l->id);
	w->primary = false;
	w->upstream = l->slot;
	w->written = w->settled = 0;
	follow(c, nd, l);
}

/* A primary that may write takes 1 to 3 client writes. */
static void
write_records(sim_cluster *c, sim_node *nd)
{
	sim_wal    *w = &nd->wal;
	int			n = 1 + (int) rng_below(&c->rng, 3);

	inv_wal(c, nd);
	if (c->failed)
		return;
	wal_reserve(w, w->len + (size_t) n);
	for (int k = 0; k < n; k++)
	{
		w->hash[w->len + 1] = rec_hash(w->hash[w->len], c->next_record++);
		w->len++;
	}
	w->written = w->len;
	c->stats.wal_writes += (uint64_t) n;
	TRACE(c, nd->slot, "wal write -> LSN %zu", w->len);
	wal_report(c, nd);
}

/* Whether nd's log holds a membership change that is not committed. */
static bool
change_pending(const sim_node *nd)
{
	for (raft_index i = raft_last_index(nd->raft);
		 i > raft_commit_index(nd->raft); i--)
	{
		raft_entry	e;

		if (raft_get_entry(nd->raft, i, &e) && e.type == RAFT_ENTRY_CHANGE)
			return true;
	}
	return false;
}

/*
 * Acknowledge a primary's writes that k other voters streaming from it
 * have flushed, while it holds the lease; without the lease its pending
 * writes are given up (the fence's "outcome uncertain" warning).  k and
 * the voters are those of its configuration, staged learners counted in k
 * (the membership they will join) but not named; with a change pending no
 * write is acknowledged (the extension then names the voters of both).
 */
static void
settle(sim_cluster *c, sim_node *p)
{
	sim_wal    *w = &p->wal;
	const raft_membership *m;
	uint64_t	have[RAFT_MAX_MEMBERS];
	int			n = 0;
	int			voters = 0;
	int			k;
	uint64_t	sync;

	if (w->written <= w->settled)
		return;
	if (!raft_has_lease(p->raft, sim_local_now(c, p)))
	{
		TRACE(c, p->slot, "writes up to LSN %llu not acknowledged: lease ran out",
			  (unsigned long long) w->written);
		w->settled = w->written;
		return;
	}
	if (change_pending(p))
		return;
	m = raft_get_membership(p->raft);
	for (int i = 0; i < m->count; i++)
	{
		int			s = (int) m->members[i].id - 1;
		const sim_node *o;

		/* a staged learner raises k ahead of its promotion, unnamed */
		if (m->members[i].staged)
			voters++;
		if (!m->members[i].voter)
			continue;
		voters++;
		if (s == p->slot || s < 0 || s >= c->cfg.n_slots)
			continue;
		o = &c->nodes[s];
		if (o->state == NODE_UP && !o->wal.primary && o->wal.upstream == p->slot &&
			linked(c, s, p->slot) && wal_is_prefix(&o->wal, w))
			have[n++] = o->wal.len;
	}
	k = voters - (voters / 2 + 1);
	if (n < k)
		return;
	sync = w->written;
	if (k > 0)
	{
		/* the k-th largest flushed LSN */
		for (int a = 0; a < k; a++)
			for (int b = a + 1; b < n; b++)
				if (have[b] > have[a])
				{
					uint64_t	t = have[a];

					have[a] = have[b];
					have[b] = t;
				}
		if (have[k - 1] < sync)
			sync = have[k - 1];
	}
	if (sync <= w->settled)
		return;
	c->stats.wal_acked += sync - w->settled;
	w->settled = sync;
	if (c->cfg.quorum && sync > c->ack_lsn)
	{
		c->ack_lsn = sync;
		c->ack_hash = w->hash[sync];
		c->ack_by = p->id;
		TRACE(c, p->slot, "ACK writes up to LSN %llu (k = %d of %d voters)",
			  (unsigned long long) sync, k, voters);
	}
}

/* An operator promotes a random running standby behind Raft's back. */
static void
operator_promotion(sim_cluster *c)
{
	int			cand[SIM_MAX_NODES];
	int			n = 0;

	for (int i = 0; i < c->cfg.n_slots; i++)
		if (c->nodes[i].state == NODE_UP && !c->nodes[i].wal.primary)
			cand[n++] = i;
	if (n == 0)
		return;
	c->stats.op_promotions++;
	promote(c, &c->nodes[cand[rng_below(&c->rng, (uint64_t) n)]],
			"by an operator, without Raft");
}

/*
 * In the tail, the faults of the WAL heal too, once every node runs again
 * (the longest log must be among them).  Late promotions still pending are
 * called off, and an operator makes every other server a standby of the
 * one that holds most of the timeline history (as the longest log has it),
 * rewound if it diverged, caught up at once: the node with the newest log
 * could otherwise be refused for good, for its fork or for a WAL behind a
 * peer's that it cannot stream from without a leader, while it refuses
 * the others for their log (seeds 377, 1043213).
 */
static void
wal_heal(sim_cluster *c)
{
	sim_node   *ref = NULL;
	sim_node   *src = NULL;
	uint64_t	best = 0;

	for (int i = 0; i < c->cfg.n_slots; i++)
		if (c->nodes[i].raft == NULL)
			return;
	c->wal_healed = true;
	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		sim_node   *nd = &c->nodes[i];

		if (nd->wal.promote_pending && !leads(nd))
		{
			nd->wal.promote_pending = false;
			nd->wal.promote_gen++;
		}
		if (
			(ref == NULL ||
			 raft_last_term(nd->raft) > raft_last_term(ref->raft) ||
			 (raft_last_term(nd->raft) == raft_last_term(ref->raft) &&
			  raft_last_index(nd->raft) > raft_last_index(ref->raft))))
			ref = nd;
	}
	if (ref == NULL)
		return;
	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		uint64_t	held = 0;

		if (raft_position_standing(ref->raft, wal_position(&c->nodes[i].wal),
								   &held) == RAFT_STANDING_ON_HISTORY &&
			(src == NULL || held > best))
		{
			src = &c->nodes[i];
			best = held;
		}
	}
	/*
	 * No history yet: the rule before it compares timelines first, and a
	 * standby an operator promoted refuses everyone (seed 1022870, where
	 * the first step could not commit without its vote).
	 */
	if (src == NULL)
		src = ref;
	for (int i = 0; i < c->cfg.n_slots && src != NULL; i++)
	{
		sim_node   *nd = &c->nodes[i];
		sim_wal    *w = &nd->wal;
		size_t		keep_seg = 0;
		size_t		keep;

		if (nd == src)
			continue;
		if (!wal_is_prefix(w, &src->wal))
		{
			keep = wal_common(w, &src->wal, &keep_seg);
			TRACE(c, nd->slot, "operator REWINDS it against n%u: LSN %zu back "
				  "to %zu", src->id, w->len, keep);
			c->stats.rewinds++;
			w->len = keep;
			w->nseg = keep_seg;
		}
		w->primary = false;
		w->upstream = src->slot;
		w->rejoin_at = 0;
		w->written = w->settled = 0;
		wal_copy(w, &src->wal);
		wal_report(c, nd);
	}
}

/*
 * Whether every majority of the voters voter[] (by slot) holds the newest
 * acknowledged write, in quorum seeds.  The client changes the voters only
 * then: synchronous_standby_names follows the membership ("raise before,
 * lower after") but does not wait for the writes acknowledged under the
 * old one, so a removal (4 -> 3 voters, seed 2642; the primary of 2,
 * seed 1656) or an addition could otherwise leave a majority without them.
 */
bool
wal_voters_hold_acks(sim_cluster *c, const bool *voter)
{
	int			n = 0;
	int			holders = 0;

	if (!c->cfg.quorum || c->ack_lsn == 0)
		return true;
	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		const sim_wal *w = &c->nodes[i].wal;

		if (!voter[i])
			continue;
		n++;
		if (w->len >= c->ack_lsn && w->hash[c->ack_lsn] == c->ack_hash)
			holders++;
	}
	return holders >= n - (n / 2 + 1) + 1;
}

/* Start the servers' loop (not for the election measurement). */
void
wal_start(sim_cluster *c)
{
	sim_schedule(c, 1 + rng_range(&c->rng, 0, c->cfg.hb), EV_WAL, -1, 0, NULL);
}

/* One round of every server's loop (EV_WAL). */
void
wal_event(sim_cluster *c)
{
	raft_time	period = 1 + rng_range(&c->rng, c->cfg.hb / 5, c->cfg.hb / 2);

	sim_schedule(c, c->now + period, EV_WAL, -1, 0, NULL);
	if (c->tail && !c->wal_healed)
		wal_heal(c);
	if (c->cfg.op_promote_interval > 0 && !c->tail &&
		rng_chance(&c->rng, (double) period / (double) c->cfg.op_promote_interval))
		operator_promotion(c);
	for (int i = 0; i < c->cfg.n_slots && !c->failed; i++)
	{
		sim_node   *nd = &c->nodes[i];

		if (nd->state != NODE_UP)
			continue;
		if (leads(nd) && !nd->wal.primary)
		{
			/* it still receives what its upstream has, then promotes */
			stream(c, nd);
			request_promotion(c, nd);
		}
		else if (leads(nd))
			propose_step(c, nd);
		else if (nd->wal.primary)
			rejoin(c, nd);
		else
			stream(c, nd);
	}
	for (int i = 0; i < c->cfg.n_slots && !c->failed; i++)
	{
		sim_node   *nd = &c->nodes[i];

		if (nd->state == NODE_UP && wal_writable(c, nd) &&
			rng_chance(&c->rng, 0.6))
			write_records(c, nd);
		if (nd->state == NODE_UP && nd->wal.primary && !c->failed)
			settle(c, nd);
		if (nd->raft != NULL && !c->failed)
			inv_wal(c, nd);
	}
}
