/*
 * sim_cluster.c
 *	  Simulated nodes: their disks, their clocks, and driving each engine the
 *	  way the PostgreSQL worker does.
 *
 * A step of a node is one input (a tick, a batch of messages, a proposal)
 * followed by the ready loop: get_ready -> persist to the node's sim disk ->
 * send -> apply committed -> advance.  A crash may be armed to strike inside
 * that loop (before persisting, after persisting but before sending, after
 * sending part of the messages, or before advancing); whatever the disk holds
 * at that point is exactly what the node restarts from.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Crash points inside one ready. */
enum
{
	CRASH_BEFORE_PERSIST = 0,
	CRASH_BEFORE_SEND,
	CRASH_MID_SEND,
	CRASH_BEFORE_ADVANCE,
	CRASH_POINTS
};

/* The node's own monotonic clock: same rate as sim time, its own origin. */
raft_time
sim_local_now(const sim_cluster *c, const sim_node *nd)
{
	return c->now + nd->clock_offset;
}

/* Queue an event. */
void
sim_schedule(sim_cluster *c, raft_time at, int kind, int node, uint32_t gen,
			 void *ptr)
{
	sim_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.at = at;
	ev.kind = (uint8_t) kind;
	ev.node = (int8_t) node;
	ev.gen = gen;
	ev.ptr = ptr;
	heap_push(&c->heap, ev);
}

/* Build the cluster of a seed: nodes, disks, links, bootstrap membership. */
void
sim_cluster_init(sim_cluster *c, uint64_t seed, const sim_config *cfg,
				 sim_trace_mode trace, raft_time trace_from)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	c->cfg = *cfg;
	rng_seed(&c->rng, seed ^ 0x5eed5eed5eedULL);
	c->trace = trace;
	c->trace_from = trace_from;
	if (trace == TRACE_RING)
		c->ring = calloc(SIM_RING_LINES, SIM_LINE);
	inv_init(&c->inv);
	c->loss = cfg->loss;
	c->dup = cfg->dup;
	c->corrupt = cfg->corrupt;
	c->delay_min = cfg->delay_min;
	c->delay_jitter = cfg->delay_jitter;
	c->long_delay = cfg->long_delay;
	c->next_prop_id = 1;
	c->next_record = 2;			/* 1: initdb's, on every server */
	c->leader_bound = 10 * (cfg->et + cfg->spread);
	/*
	 * Without PreVote a node with a stale log keeps forcing new terms, and
	 * each one resets the up-to-date nodes' timers: whether one of those
	 * times out first is a coin toss per round (seen: 2 voters, spread
	 * 0.2 ET, eleven lost tosses in a row).  Liveness is then only
	 * probabilistic with a longer tail, so the bound is tripled.
	 */
	if (!cfg->prevote)
		c->leader_bound *= 3;

	c->bootstrap.count = cfg->n_voters;
	for (int i = 0; i < cfg->n_voters; i++)
	{
		raft_member *m = &c->bootstrap.members[i];

		m->id = (raft_id) (i + 1);
		m->voter = true;
		snprintf(m->address, sizeof(m->address), "host=n%d", i + 1);
	}
	for (int i = 0; i < SIM_MAX_NODES; i++)
		for (int j = 0; j < SIM_MAX_NODES; j++)
			c->link[i][j] = true;

	if (trace != TRACE_OFF)
	{
		char		desc[768];

		sim_describe_config(cfg, desc, sizeof(desc));
		sim_trace(c, -1, "seed %llu: %s", (unsigned long long) seed, desc);
	}
	for (int i = 0; i < cfg->n_slots; i++)
	{
		sim_node   *nd = &c->nodes[i];

		nd->slot = i;
		nd->id = (raft_id) (i + 1);
		nd->state = NODE_DOWN;
		/* machines do not share a monotonic origin */
		nd->clock_offset = rng_range(&c->rng, 1000, 1000000000);
		nd->never_campaign = (i == cfg->never_campaign_slot);
		sim_node_profile(c, nd, cfg->mixed_timing ? rng_chance(&c->rng, 0.5) :
						 cfg->aggressive);
		wal_init(c, nd);
		sim_node_start(c, nd);
	}
}

/* Drop a node's queue of packets held while it was paused. */
static void
drop_pending(sim_node *nd)
{
	sim_packet *p = nd->pending_head;

	while (p)
	{
		sim_packet *next = p->next;

		free(p);
		p = next;
	}
	nd->pending_head = nd->pending_tail = NULL;
	nd->pending_count = 0;
}

/* Free everything the cluster owns, including packets still in flight. */
void
sim_cluster_destroy(sim_cluster *c)
{
	sim_event	ev;

	while (heap_pop(&c->heap, &ev))
		if (ev.kind == EV_DELIVER)
			free(ev.ptr);
	heap_free(&c->heap);
	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		sim_node   *nd = &c->nodes[i];

		if (nd->raft)
			raft_free(nd->raft);
		nd->raft = NULL;
		drop_pending(nd);
		for (size_t k = 0; k < nd->disk.len; k++)
			free(nd->disk.log[k].data);
		free(nd->disk.log);
		wal_free(nd);
	}
	inv_free(&c->inv);
	free(c->ring);
	c->ring = NULL;
}

/*
 * Give a node the default or the aggressive profile for its next
 * incarnation (the spread ratio and tick divisor are the seed's).  Without
 * mixed timing or retimes every node gets exactly the seed's timing.
 */
void
sim_node_profile(sim_cluster *c, sim_node *nd, bool aggressive)
{
	const sim_config *cfg = &c->cfg;

	nd->aggressive = aggressive;
	if (!cfg->mixed_timing && !cfg->retime)
	{
		nd->hb = cfg->hb;
		nd->et = cfg->et;
		nd->spread = cfg->spread;
		nd->margin = cfg->margin;
		nd->tick_period = cfg->tick;
		return;
	}
	nd->hb = aggressive ? 20 : 100;
	nd->et = aggressive ? 200 : 1000;
	nd->spread = (raft_time) (cfg->spread_ratio * (double) nd->et);
	if (nd->spread < 1)
		nd->spread = 1;
	nd->margin = nd->et / 10;
	nd->tick_period = nd->hb / cfg->tick_div > 0 ? nd->hb / cfg->tick_div : 1;
}

/* Engine options of a node for one incarnation. */
static void
node_options(sim_cluster *c, sim_node *nd, raft_options *o)
{
	raft_options_init(o, nd->id);
	o->heartbeat_interval = nd->hb;
	o->election_timeout = nd->et;
	o->election_spread = nd->spread;
	o->lease_drift_margin = nd->margin;
	o->transfer_hold = c->cfg.transfer_hold;
	o->seed = rng_next(&c->rng);
	o->prevote = c->cfg.prevote;
	o->check_quorum = c->cfg.check_quorum;
	o->never_campaign = nd->never_campaign;
	o->max_position_lag = c->cfg.position_lag;
	/* as the worker sets them (settings.c) */
	o->rank_step = c->cfg.no_rank ? 0 : nd->hb / 2;
	o->rank_jitter = nd->hb / 10;
	o->priority = (uint8_t) (1 + nd->slot % 3);
	/* what the worker does with raft_promised_timeout (worker.c) */
	o->startup_stickiness = nd->disk.promised_et;
}

/*
 * The promised timeout on disk, as the worker keeps it: raised at once at
 * start (before any message goes out), lowered to the node's own timeout
 * only once the old promise has run out on this incarnation's clock.
 */
static void
keep_promise(sim_cluster *c, sim_node *nd)
{
	raft_time	local = sim_local_now(c, nd);

	if (nd->disk.promised_et <= nd->et)
		nd->disk.promised_et = nd->et;
	else if (local >= nd->promise_until)
		nd->disk.promised_et = nd->et;
}

/*
 * The bootstrap list an operator configured wrongly for this restart: a
 * member left out, one that is not a member, a voting right flipped.  The
 * addresses also change now and then, which is allowed.
 */
static void
wrong_bootstrap(sim_cluster *c, sim_node *nd, raft_membership *m)
{
	int			kind = (int) rng_below(&c->rng, 3);

	*m = nd->boot_persisted;
	if (kind == 0 && m->count > 1)
	{
		/* keep ourselves and maybe one more: a majority of our own */
		int			keep = (int) rng_below(&c->rng, (uint64_t) m->count);
		raft_membership out;

		out.count = 0;
		for (int i = 0; i < m->count; i++)
			if (m->members[i].id == nd->id || i == keep)
				out.members[out.count++] = m->members[i];
		*m = out;
	}
	else if (kind == 1 && m->count < c->cfg.n_slots)
	{
		/* add the node of the first slot that is not a member */
		bool		member[SIM_MAX_NODES + 1] = {false};
		int			s = 0;

		for (int i = 0; i < m->count; i++)
			if (m->members[i].id <= SIM_MAX_NODES)
				member[m->members[i].id] = true;
		while (s < c->cfg.n_slots && member[s + 1])
			s++;
		if (s < c->cfg.n_slots)
		{
			raft_member *x = &m->members[m->count++];

			memset(x, 0, sizeof(*x));
			x->id = (raft_id) (s + 1);
			x->voter = true;
			snprintf(x->address, sizeof(x->address), "host=n%d", s + 1);
		}
	}
	else if (m->count > 0)
	{
		int			k = (int) rng_below(&c->rng, (uint64_t) m->count);

		m->members[k].voter = !m->members[k].voter;
	}
}

/*
 * The bootstrap membership of this incarnation, as the worker decides it:
 * the configured list checked against the persisted one.  False when the
 * host refuses to start the node (it stays down until the list is fixed).
 */
static bool
start_bootstrap(sim_cluster *c, sim_node *nd, raft_membership *eff)
{
	raft_membership configured = c->bootstrap;
	raft_id		culprit = RAFT_NOBODY;
	const char *why = NULL;

	if (!nd->boot_known)
	{
		nd->boot_persisted = c->bootstrap;
		nd->boot_known = true;
	}
	if (nd->boot_wrong)
		wrong_bootstrap(c, nd, &configured);
	else if (c->cfg.bootstrap_faults && rng_chance(&c->rng, 0.1))
	{
		/* a host moved: only addresses change, which must be accepted */
		for (int i = 0; i < configured.count; i++)
			snprintf(configured.members[i].address, RAFT_MAX_ADDRESS,
					 "host=n%u-moved-%llu", configured.members[i].id,
					 (unsigned long long) nd->incarnations);
	}
	if (raft_bootstrap_check(&nd->boot_persisted, &configured, eff, &culprit,
							 &why) != RAFT_OK)
	{
		TRACE(c, nd->slot, "bootstrap list refused (n%u: %s); stays down",
			  culprit, why ? why : "?");
		c->stats.boot_refused++;
		return false;
	}
	if (eff->count != nd->boot_persisted.count && !nd->boot_wrong)
	{
		sim_fail(c, "bootstrap", "n%u: an address change altered the membership",
				 nd->id);
		return false;
	}
	if (nd->boot_wrong)
		TRACE(c, nd->slot, "bootstrap list changed (%d members) and ACCEPTED",
			  eff->count);
	return true;
}

/* Start (or restart) a node from exactly what its disk holds. */
void
sim_node_start(sim_cluster *c, sim_node *nd)
{
	raft_options o;
	raft_membership boot;
	const char *why = NULL;

	if (!start_bootstrap(c, nd, &boot))
	{
		/* the operator fixes the list and starts it again later */
		raft_time	at = c->now + (c->tail ? 1 : rng_range(&c->rng, 1, 2 * c->cfg.et));

		nd->boot_wrong = false;
		nd->life_gen++;
		if (at < nd->down_until)
			at = nd->down_until;
		sim_schedule(c, at, EV_RESTART, nd->slot, nd->life_gen, NULL);
		return;
	}
	nd->boot_wrong = false;
	node_options(c, nd, &o);
	if (raft_options_validate(&o, &why) != RAFT_OK)
	{
		sim_fail(c, "setup", "options rejected for n%u: %s", nd->id,
				 why ? why : "?");
		return;
	}
	nd->raft = raft_new(&o, &nd->disk.hs, &boot, sim_local_now(c, nd));
	if (nd->raft == NULL)
	{
		sim_fail(c, "restart", "raft_new failed for n%u (term %llu, %zu entries)",
				 nd->id, (unsigned long long) nd->disk.hs.term, nd->disk.len);
		return;
	}
	nd->promise_until = sim_local_now(c, nd) + nd->disk.promised_et;
	keep_promise(c, nd);
	for (size_t k = 0; k < nd->disk.len; k++)
	{
		raft_entry	e;
		int			rc;

		e.term = nd->disk.log[k].term;
		e.index = (raft_index) (k + 1);
		e.type = nd->disk.log[k].type;
		e.len = nd->disk.log[k].len;
		e.data = nd->disk.log[k].data;
		rc = raft_restore_entry(nd->raft, &e);
		if (rc != RAFT_OK)
		{
			sim_fail(c, "restart", "n%u: raft_restore_entry(%zu) = %s", nd->id,
					 k + 1, raft_strerror(rc));
			return;
		}
	}
	/* what the worker reports as its WAL position, from its first step */
	wal_report(c, nd);
	nd->state = NODE_UP;
	nd->obs_role = RAFT_FOLLOWER;
	nd->obs_term = nd->disk.hs.term;
	nd->applied = 0;
	nd->apply_resync = true;
	nd->crash_armed = false;
	nd->incarnations++;
	nd->tick_gen++;
	nd->fence_until = 0;
	TRACE(c, nd->slot, "start (incarnation %llu, hb %lld ET %lld) term=%llu vote=%u "
		  "commit=%llu log=%zu",
		  (unsigned long long) nd->incarnations, (long long) nd->hb,
		  (long long) nd->et,
		  (unsigned long long) nd->disk.hs.term, nd->disk.hs.voted_for,
		  (unsigned long long) nd->disk.hs.commit, nd->disk.len);
	/* first tick at a random phase of the tick period */
	sim_schedule(c, c->now + 1 + rng_below(&c->rng, (uint64_t) nd->tick_period),
				 EV_TICK, nd->slot, nd->tick_gen, NULL);
	sim_process_ready(c, nd);
}

/* Kill a node: the engine's memory is gone, the disk stays. */
void
sim_node_crash(sim_cluster *c, sim_node *nd, const char *when)
{
	if (nd->state == NODE_DOWN)
		return;
	TRACE(c, nd->slot, "CRASH %s", when);
	raft_free(nd->raft);
	nd->raft = NULL;
	nd->state = NODE_DOWN;
	nd->crash_armed = false;
	nd->life_gen++;
	nd->tick_gen++;
	drop_pending(nd);
	c->stats.crashes++;
	if (!c->tail && !c->keep_going)
	{
		raft_time	down;

		/* sometimes restart at once: the vote refusal after restart matters */
		if (rng_chance(&c->rng, 0.25))
			down = 0;
		else
			down = rng_range(&c->rng, 1, 3 * c->cfg.et);
		if (c->now + down < nd->down_until)
			down = nd->down_until - c->now;
		sim_schedule(c, c->now + down, EV_RESTART, nd->slot, nd->life_gen, NULL);
	}
}

/* Stop a node's process: no ticks, packets queue up. */
void
sim_node_pause(sim_cluster *c, sim_node *nd)
{
	if (nd->state != NODE_UP)
		return;
	TRACE(c, nd->slot, "PAUSE");
	nd->state = NODE_PAUSED;
	nd->life_gen++;
	c->stats.pauses++;
}

/* Continue a paused node: it sees time jump, then its queued packets. */
void
sim_node_resume(sim_cluster *c, sim_node *nd)
{
	sim_packet *p;

	if (nd->state != NODE_PAUSED)
		return;
	TRACE(c, nd->slot, "RESUME (%d packets queued)", nd->pending_count);
	nd->state = NODE_UP;
	nd->life_gen++;
	nd->tick_gen++;
	sim_node_tick(c, nd);
	p = nd->pending_head;
	nd->pending_head = nd->pending_tail = NULL;
	nd->pending_count = 0;
	while (p)
	{
		sim_packet *next = p->next;

		if (nd->state == NODE_UP && !c->failed)
			net_deliver_now(c, nd, p);
		else
			free(p);
		p = next;
	}
	if (nd->state == NODE_UP)
		sim_schedule(c, c->now + nd->tick_period, EV_TICK, nd->slot,
					 nd->tick_gen, NULL);
}

/* One tick of a running node. */
void
sim_node_tick(sim_cluster *c, sim_node *nd)
{
	raft_tick(nd->raft, sim_local_now(c, nd));
	c->stats.node_steps++;
	keep_promise(c, nd);
	sim_process_ready(c, nd);
}

/* Truncate the disk log so that it holds 'keep' entries. */
static void
disk_truncate(sim_disk *d, size_t keep)
{
	while (d->len > keep)
	{
		d->len--;
		free(d->log[d->len].data);
		d->log[d->len].data = NULL;
	}
}

/* Persist the hard state and entries of a ready (the fsync of the worker). */
static bool
persist(sim_cluster *c, sim_node *nd, const raft_ready *r)
{
	sim_disk   *d = &nd->disk;

	if (r->hard_state_changed)
	{
		inv_hard_state(c, nd, &r->hard_state);
		d->hs = r->hard_state;
		TRACE(c, nd->slot, "persist term=%llu vote=%u commit=%llu",
			  (unsigned long long) d->hs.term, d->hs.voted_for,
			  (unsigned long long) d->hs.commit);
	}
	if (r->truncate_from != 0)
	{
		inv_truncate(c, nd, r->truncate_from);
		TRACE(c, nd->slot, "truncate from %llu (had %zu)",
			  (unsigned long long) r->truncate_from, d->len);
		if (r->truncate_from - 1 < d->len)
			disk_truncate(d, (size_t) (r->truncate_from - 1));
	}
	for (size_t k = 0; k < r->n_entries; k++)
	{
		const raft_entry *e = &r->entries[k];
		sim_disk_entry *de;
		uint64_t	prev;

		if (e->index != d->len + 1)
		{
			sim_fail(c, "ready", "n%u: ready appends index %llu but the log ends at %zu",
					 nd->id, (unsigned long long) e->index, d->len);
			return false;
		}
		if (d->len > 0 && e->term < d->log[d->len - 1].term)
		{
			sim_fail(c, "ready", "n%u: entry %llu has term %llu below previous term %llu",
					 nd->id, (unsigned long long) e->index,
					 (unsigned long long) e->term,
					 (unsigned long long) d->log[d->len - 1].term);
			return false;
		}
		d->log = sim_grow(d->log, &d->cap, d->len + 1, sizeof(sim_disk_entry), 64);
		de = &d->log[d->len];
		de->term = e->term;
		de->type = e->type;
		de->len = e->len;
		de->data = NULL;
		if (e->len > 0)
		{
			de->data = malloc(e->len);
			if (de->data == NULL)
				abort();
			memcpy(de->data, e->data, e->len);
		}
		de->digest = inv_entry_digest(e->index, e->term, e->type, e->data, e->len);
		prev = d->len > 0 ? d->log[d->len - 1].prefix : 0;
		de->prefix = inv_prefix(prev, de->digest);
		d->len++;
		inv_appended(c, nd, e->index);
		if (c->failed)
			return false;
	}
	if (r->n_entries > 0)
		TRACE(c, nd->slot, "append %llu..%llu (term %llu)",
			  (unsigned long long) r->entries[0].index,
			  (unsigned long long) r->entries[r->n_entries - 1].index,
			  (unsigned long long) r->entries[r->n_entries - 1].term);
	return true;
}

/* Carry out the node's readies until it has nothing more to say. */
void
sim_process_ready(sim_cluster *c, sim_node *nd)
{
	int			rounds = 0;

	while (!c->failed && nd->raft && raft_has_ready(nd->raft))
	{
		raft_ready	r;
		int			crash_at = -1;

		if (++rounds > 64)
		{
			sim_fail(c, "ready", "n%u still has a ready after 64 rounds", nd->id);
			return;
		}
		raft_get_ready(nd->raft, &r);
		if (nd->crash_armed)
			crash_at = (int) rng_below(&c->rng, CRASH_POINTS);
		if (r.role_changed)
		{
			TRACE(c, nd->slot, "ROLE %s term=%llu leader=%u",
				  raft_role_name(r.role), (unsigned long long) r.term, r.leader);
			if (r.role == RAFT_LEADER)
			{
				inv_leader_seen(c, nd, r.term);
				/* a change proposed the moment a leader takes office */
				if (c->cfg.eager_changes && !c->tail && rng_chance(&c->rng, 0.9))
					sim_schedule(c, c->now, EV_CHANGE, nd->slot, nd->life_gen, NULL);
			}
		}
		/* commitment is a fact of the cluster, whatever happens to us next */
		if (r.n_committed > 0)
			inv_committed(c, nd, r.committed, r.n_committed);
		if (c->failed)
			return;
		if (crash_at == CRASH_BEFORE_PERSIST)
		{
			sim_node_crash(c, nd, "after get_ready, before persisting");
			return;
		}
		if (!persist(c, nd, &r))
			return;
		if (crash_at == CRASH_BEFORE_SEND)
		{
			sim_node_crash(c, nd, "after persisting, before sending");
			return;
		}
		if (crash_at == CRASH_MID_SEND)
		{
			net_send_ready(c, nd, &r, (size_t) rng_below(&c->rng, SIM_MAX_NODES));
			sim_node_crash(c, nd, "while sending");
			return;
		}
		net_send_ready(c, nd, &r, SIM_MAX_NODES);
		if (c->failed)
			return;
		if (r.n_committed > 0)
		{
			TRACE(c, nd->slot, "commit+apply %llu..%llu",
				  (unsigned long long) r.committed[0].index,
				  (unsigned long long) r.committed[r.n_committed - 1].index);
			inv_applied(c, nd, r.committed, r.n_committed);
			if (c->failed)
				return;
		}
		if (crash_at == CRASH_BEFORE_ADVANCE)
		{
			sim_node_crash(c, nd, "after sending, before advance");
			return;
		}
		raft_advance(nd->raft, sim_local_now(c, nd));
	}
	if (!c->failed && nd->raft)
		inv_after_step(c, nd);
}

/* The running leader with the highest term, or NULL. */
sim_node *
sim_find_leader(sim_cluster *c)
{
	sim_node   *best = NULL;

	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		sim_node   *nd = &c->nodes[i];

		if (nd->state != NODE_UP || raft_get_role(nd->raft) != RAFT_LEADER)
			continue;
		if (best == NULL || raft_get_term(nd->raft) > raft_get_term(best->raft))
			best = nd;
	}
	return best;
}

/*
 * A leader that a majority of the voters of its own configuration follow
 * (same term, same leader), or NULL.
 */
sim_node *
sim_stable_leader(sim_cluster *c)
{
	sim_node   *l = sim_find_leader(c);
	const raft_membership *m;
	int			voters = 0;
	int			follow = 0;
	raft_term	term;

	if (l == NULL)
		return NULL;
	term = raft_get_term(l->raft);
	m = raft_get_membership(l->raft);
	for (int k = 0; k < m->count; k++)
	{
		int			slot = (int) m->members[k].id - 1;
		sim_node   *nd;

		if (!m->members[k].voter)
			continue;
		voters++;
		if (slot < 0 || slot >= c->cfg.n_slots)
			continue;
		nd = &c->nodes[slot];
		if (nd->state == NODE_UP && raft_get_term(nd->raft) == term &&
			raft_get_leader(nd->raft) == l->id)
			follow++;
	}
	return (follow * 2 > voters) ? l : NULL;
}

/* Run one event. */
void
sim_dispatch(sim_cluster *c, const sim_event *ev)
{
	sim_node   *nd = ev->node >= 0 ? &c->nodes[(int) ev->node] : NULL;

	switch (ev->kind)
	{
		case EV_TICK:
			if (ev->gen != nd->tick_gen || nd->state != NODE_UP)
				break;
			sim_node_tick(c, nd);
			if (nd->state == NODE_UP)
				sim_schedule(c, c->now + nd->tick_period, EV_TICK, nd->slot,
							 nd->tick_gen, NULL);
			break;
		case EV_DELIVER:
			net_deliver(c, (sim_packet *) ev->ptr);
			break;
		case EV_RESTART:
			if (ev->gen == nd->life_gen && nd->state == NODE_DOWN)
				sim_node_start(c, nd);
			break;
		case EV_RESUME:
			if (ev->gen == nd->life_gen && nd->state == NODE_PAUSED)
				sim_node_resume(c, nd);
			break;
		case EV_CLIENT:
			client_event(c);
			break;
		case EV_TAIL:
			faults_heal_all(c);
			break;
		case EV_CHECK:
			inv_tail_check(c);
			break;
		case EV_CHANGE:
			eager_change_event(c, ev);
			break;
		case EV_WAL:
			wal_event(c);
			break;
		case EV_PROMOTE:
			wal_promote_event(c, ev);
			break;
		default:
			faults_event(c, ev);
			break;
	}
}
