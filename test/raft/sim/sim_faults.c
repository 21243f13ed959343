/*
 * sim_faults.c
 *	  The fault schedule and the client workload of a run.
 *
 * Faults arrive as a random process during the fault phase: partitions
 * (isolated leader, isolated minority, split, a bridge node that sees both
 * halves, one-way link loss), bursts of bad network, crashes (some of them
 * armed to strike inside a ready, between its persisting and its sending),
 * pauses (a stopped process whose clock jumps when it resumes), rolling
 * changes of timing (a node restarts with the other profile), and restarts
 * with a wrongly configured bootstrap list (refused by the host, as the
 * worker refuses it).  At the end of the fault phase everything heals and
 * the fault-free tail checks liveness.  The client proposes entries,
 * changes the membership (also the moment a leader takes office, and then
 * sometimes cuts the leader off with one other node, so that the change
 * reaches a minority) and asks for leadership transfers.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum
{
	FAULT_PARTITION = 0,
	FAULT_WEATHER,
	FAULT_CRASH,
	FAULT_PAUSE,
	FAULT_LEADER_LINK,
	FAULT_RETIME,
	FAULT_KINDS
};

static const char *const partition_names[] = {
	"isolate leader", "isolate minority", "split", "bridge", "one-way link"
};

/* Start the schedule: faults, client, the tail. */
void
faults_start(sim_cluster *c)
{
	if (c->cfg.faults)
		sim_schedule(c, rng_range(&c->rng, 0, c->cfg.fault_interval), EV_FAULT,
					 -1, 0, NULL);
	sim_schedule(c, rng_range(&c->rng, 1, c->cfg.client_interval + 1), EV_CLIENT,
				 -1, 0, NULL);
	if (!c->keep_going)
	{
		sim_schedule(c, c->cfg.fault_phase, EV_TAIL, -1, 0, NULL);
		wal_start(c);
	}
}

/* A fault duration in [lo, hi) multiples of ET/10. */
static raft_time
fault_length(sim_cluster *c, int lo, int hi)
{
	return rng_range(&c->rng, lo * c->cfg.et / 10, hi * c->cfg.et / 10);
}

/* Pick a node: the leader with probability p_leader, else any in 'states'. */
static sim_node *
pick_node(sim_cluster *c, double p_leader, bool allow_paused)
{
	sim_node   *l = sim_find_leader(c);
	int			cand[SIM_MAX_NODES];
	int			n = 0;

	if (l && rng_chance(&c->rng, p_leader))
		return l;
	for (int i = 0; i < c->cfg.n_slots; i++)
		if (c->nodes[i].state == NODE_UP ||
			(allow_paused && c->nodes[i].state == NODE_PAUSED))
			cand[n++] = i;
	if (n == 0)
		return NULL;
	return &c->nodes[cand[rng_below(&c->rng, (uint64_t) n)]];
}

/* Cut the network into sides; side -1 is a bridge that sees everybody. */
static void
apply_sides(sim_cluster *c, const int *side)
{
	for (int i = 0; i < c->cfg.n_slots; i++)
		for (int j = 0; j < c->cfg.n_slots; j++)
			c->link[i][j] = side[i] == side[j] || side[i] < 0 || side[j] < 0;
}

/* Start a partition of a random shape. */
static void
start_partition(sim_cluster *c)
{
	int			n = c->cfg.n_slots;
	int			side[SIM_MAX_NODES];
	int			kind = (int) rng_below(&c->rng, 5);
	sim_node   *l = sim_find_leader(c);
	int			perm[SIM_MAX_NODES];

	if (n < 2)
		return;
	for (int i = 0; i < n; i++)
		perm[i] = i;
	for (int i = n - 1; i > 0; i--)
	{
		int			j = (int) rng_below(&c->rng, (uint64_t) i + 1);
		int			t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	memset(side, 0, sizeof(side));
	switch (kind)
	{
		case 0:
			side[l ? l->slot : perm[0]] = 1;
			break;
		case 1:
			/* 1 .. (n - 1) / 2 nodes: a strict minority */
			for (int k = 0, m = 1 + (int) rng_below(&c->rng, (uint64_t) (n - 1) / 2);
				 k < m && k < n - 1; k++)
				side[perm[k]] = 1;
			break;
		case 2:
			for (int k = 0; k < n / 2; k++)
				side[perm[k]] = 1;
			break;
		case 3:
			side[perm[0]] = -1;
			for (int k = 1; k < n; k++)
				side[perm[k]] = k % 2;
			break;
		default:
			break;
	}
	if (kind == 4)
	{
		int			a = perm[0];
		int			b = perm[1];

		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++)
				c->link[i][j] = true;
		c->link[a][b] = false;
		TRACE(c, -1, "PARTITION one-way n%d -/-> n%d", a + 1, b + 1);
	}
	else
	{
		apply_sides(c, side);
		if (c->trace != TRACE_OFF)
		{
			char		buf[128];
			int			off = 0;

			for (int i = 0; i < n; i++)
				off += snprintf(buf + off, sizeof(buf) - (size_t) off, " n%d:%s",
								i + 1, side[i] < 0 ? "bridge" : side[i] ? "B" : "A");
			sim_trace(c, -1, "PARTITION %s:%s", partition_names[kind], buf);
		}
	}
	c->stats.partitions++;
	sim_schedule(c, c->now + fault_length(c, 3, 50), EV_HEAL_LINKS, -1,
				 ++c->partition_gen, NULL);
}

/* Restore every link. */
static void
heal_links(sim_cluster *c)
{
	for (int i = 0; i < SIM_MAX_NODES; i++)
		for (int j = 0; j < SIM_MAX_NODES; j++)
			c->link[i][j] = true;
}

/*
 * One follower loses its link with the leader only (the others bridge), and
 * when it starts campaigning another follower crashes and restarts at once:
 * the restarted node must not help elect it inside the leader's lease.
 */
static void
leader_link(sim_cluster *c)
{
	sim_node   *l = sim_find_leader(c);
	int			b;
	int			a;

	if (l == NULL || c->cfg.n_slots < 3)
		return;
	b = (int) rng_below(&c->rng, (uint64_t) c->cfg.n_slots);
	a = (int) rng_below(&c->rng, (uint64_t) c->cfg.n_slots);
	if (b == l->slot || a == l->slot || a == b)
		return;
	heal_links(c);
	c->link[l->slot][b] = c->link[b][l->slot] = false;
	TRACE(c, -1, "PARTITION n%d loses its link with leader n%u; n%d will crash",
		  b + 1, l->id, a + 1);
	c->stats.partitions++;
	sim_schedule(c, c->now + c->cfg.et + rng_range(&c->rng, 0, c->cfg.spread + c->cfg.hb),
				 EV_CRASH, a, 0, NULL);
	sim_schedule(c, c->now + fault_length(c, 15, 40), EV_HEAL_LINKS, -1,
				 ++c->partition_gen, NULL);
}

/*
 * A rolling change of timing reaches one node: it stops and comes back with
 * the other profile, often at once and with no operator wait even when its
 * election timeout shrank: the acknowledgements it sent before stopping
 * promised stickiness for its old timeout, and a leader's lease was sized
 * by them, so the node must keep that promise from its persisted timeout
 * (options.startup_stickiness).  Half the time another follower loses its
 * link with the leader just then, so that it stands inside the lease and
 * only the retimed node's refusal keeps it from winning.
 */
static void
retime(sim_cluster *c)
{
	sim_node   *nd = pick_node(c, 0.4, false);
	sim_node   *l = sim_find_leader(c);
	raft_time	old_et;

	if (nd == NULL)
		return;
	old_et = nd->et;
	sim_node_profile(c, nd, !nd->aggressive);
	nd->down_until = rng_chance(&c->rng, 0.5) ? c->now + 1 :
		c->now + rng_range(&c->rng, 1, old_et);
	c->stats.retimes++;
	TRACE(c, nd->slot, "RETIME to hb %lld ET %lld (down until %lld)",
		  (long long) nd->hb, (long long) nd->et, (long long) nd->down_until);
	if (l != NULL && l != nd && nd->et < old_et && c->cfg.n_slots >= 3 &&
		rng_chance(&c->rng, 0.5))
	{
		for (int i = 0; i < c->cfg.n_slots; i++)
		{
			sim_node   *b = &c->nodes[i];

			if (b == nd || b == l || b->state != NODE_UP)
				continue;
			c->link[l->slot][b->slot] = c->link[b->slot][l->slot] = false;
			TRACE(c, -1, "PARTITION n%u loses its link with leader n%u "
				  "while n%u retimes", b->id, l->id, nd->id);
			c->stats.partitions++;
			sim_schedule(c, c->now + fault_length(c, 15, 40), EV_HEAL_LINKS,
						 -1, ++c->partition_gen, NULL);
			break;
		}
	}
	sim_node_crash(c, nd, "for a timing change");
	if (!c->tail && !c->keep_going)
	{
		/* the operator starts it again at once (replaces the crash's own) */
		nd->life_gen++;
		sim_schedule(c, nd->down_until, EV_RESTART, nd->slot, nd->life_gen,
					 NULL);
	}
}

/*
 * Cut a leader off with one other node only, just after it proposed a
 * change: the change reaches a minority, and the others elect a leader
 * that does not have it.
 */
static void
cut_with_one(sim_cluster *c, sim_node *l, int changed)
{
	int			side[SIM_MAX_NODES];
	int			buddy;

	if (c->cfg.n_slots < 3)
		return;
	/* often the very node the change is about: only it learns of it */
	buddy = rng_chance(&c->rng, 0.5) ? changed :
		(int) rng_below(&c->rng, (uint64_t) c->cfg.n_slots);
	if (buddy == l->slot)
		return;
	memset(side, 0, sizeof(side));
	side[l->slot] = side[buddy] = 1;
	apply_sides(c, side);
	TRACE(c, -1, "PARTITION leader n%u with n%d only, after its change", l->id,
		  buddy + 1);
	c->stats.partitions++;
	sim_schedule(c, c->now + fault_length(c, 3, 20), EV_HEAL_LINKS, -1,
				 ++c->partition_gen, NULL);
}

/* Calm network: the per-seed base weather. */
static void
base_weather(sim_cluster *c)
{
	c->loss = c->cfg.loss;
	c->dup = c->cfg.dup;
	c->corrupt = c->cfg.corrupt;
	c->delay_min = c->cfg.delay_min;
	c->delay_jitter = c->cfg.delay_jitter;
	c->long_delay = c->cfg.long_delay;
}

/* Draw and start one fault, and schedule the next. */
static void
start_fault(sim_cluster *c)
{
	sim_node   *nd;
	int			kind;

	if (c->tail)
		return;
	sim_schedule(c, c->now + 1 + rng_range(&c->rng, 0, 2 * c->cfg.fault_interval),
				 EV_FAULT, -1, 0, NULL);
	kind = (int) rng_below(&c->rng, FAULT_KINDS);
	switch (kind)
	{
		case FAULT_PARTITION:
			if (c->cfg.partitions)
				start_partition(c);
			break;
		case FAULT_WEATHER:
			if (!c->cfg.weather)
				break;
			c->loss = rng_unit(&c->rng) * 0.5;
			c->dup = rng_unit(&c->rng) * 0.2;
			c->delay_jitter = rng_range(&c->rng, 0, c->cfg.et / 2);
			c->long_delay = rng_unit(&c->rng) * 0.05;
			c->corrupt = rng_unit(&c->rng) * 0.05;
			TRACE(c, -1, "WEATHER loss=%.2f dup=%.2f jitter=%lld long=%.3f corrupt=%.3f",
				  c->loss, c->dup, (long long) c->delay_jitter, c->long_delay,
				  c->corrupt);
			sim_schedule(c, c->now + fault_length(c, 5, 40), EV_WEATHER_END, -1,
						 ++c->weather_gen, NULL);
			break;
		case FAULT_CRASH:
			if (!c->cfg.crashes || (nd = pick_node(c, 0.4, true)) == NULL)
				break;
			/* the node comes back with a wrong bootstrap list */
			if (c->cfg.bootstrap_faults && rng_chance(&c->rng, 0.3))
				nd->boot_wrong = true;
			if (nd->state == NODE_UP && rng_chance(&c->rng, 0.5))
			{
				TRACE(c, nd->slot, "crash armed for the next ready");
				nd->crash_armed = true;
			}
			else
				sim_node_crash(c, nd, "between steps");
			break;
		case FAULT_LEADER_LINK:
			if (c->cfg.partitions)
				leader_link(c);
			break;
		case FAULT_RETIME:
			if (c->cfg.retime)
				retime(c);
			break;
		case FAULT_PAUSE:
			if (!c->cfg.pauses || (nd = pick_node(c, 0.5, false)) == NULL)
				break;
			sim_node_pause(c, nd);
			sim_schedule(c, c->now + fault_length(c, 1, 40), EV_RESUME, nd->slot,
						 nd->life_gen, NULL);
			break;
	}
}

/*
 * Whether an event ending a fault still ends the current one (its
 * generation 'gen'; a newer fault of the kind supersedes it), traced as
 * 'what' if so.
 */
static bool
ends_current(sim_cluster *c, const sim_event *ev, uint32_t gen,
			 const char *what)
{
	if (ev->gen != gen)
		return false;
	TRACE(c, -1, "%s", what);
	return true;
}

/* Fault-related events. */
void
faults_event(sim_cluster *c, const sim_event *ev)
{
	switch (ev->kind)
	{
		case EV_FAULT:
			start_fault(c);
			break;
		case EV_HEAL_LINKS:
			if (ends_current(c, ev, c->partition_gen, "HEAL links"))
				heal_links(c);
			break;
		case EV_CRASH:
			if (!c->tail && c->nodes[ev->node].state != NODE_DOWN)
			{
				sim_node   *nd = &c->nodes[ev->node];

				sim_node_crash(c, nd, "and restarts at once");
				nd->life_gen++;
				sim_schedule(c, c->now, EV_RESTART, nd->slot, nd->life_gen, NULL);
			}
			break;
		case EV_WEATHER_END:
			if (ends_current(c, ev, c->weather_gen, "WEATHER calm"))
				base_weather(c);
			break;
		default:
			break;
	}
}

/* End of the fault phase: heal, resume, restart, calm; start the tail. */
void
faults_heal_all(sim_cluster *c)
{
	TRACE(c, -1, "TAIL: all faults healed, liveness bound %lld ms",
		  (long long) c->leader_bound);
	c->tail = true;
	c->tail_start = c->now;
	c->tail_first_id = c->next_prop_id;
	c->partition_gen++;
	c->weather_gen++;
	heal_links(c);
	base_weather(c);
	c->loss = 0;
	c->dup = 0;
	c->corrupt = 0;
	c->long_delay = 0;
	for (int i = 0; i < c->cfg.n_slots && !c->failed; i++)
	{
		sim_node   *nd = &c->nodes[i];

		nd->crash_armed = false;
		if (nd->state == NODE_PAUSED)
			sim_node_resume(c, nd);
		else if (nd->state == NODE_DOWN)
		{
			nd->life_gen++;
			if (nd->down_until > c->now)
				sim_schedule(c, nd->down_until, EV_RESTART, nd->slot,
							 nd->life_gen, NULL);
			else
				sim_node_start(c, nd);
		}
	}
	sim_schedule(c, c->now + c->cfg.hb, EV_CHECK, -1, 0, NULL);
}

/* Propose one NORMAL entry: 8-byte proposal id then random bytes. */
static void
propose_one(sim_cluster *c, sim_node *nd)
{
	uint8_t		buf[72];
	uint32_t	len = 8 + (uint32_t) rng_below(&c->rng, 57);
	uint64_t	id = c->next_prop_id;
	raft_index	index = 0;
	int			rc;

	memcpy(buf, &id, 8);
	for (uint32_t k = 8; k < len; k++)
		buf[k] = (uint8_t) rng_next(&c->rng);
	rc = raft_propose(nd->raft, RAFT_ENTRY_NORMAL, buf, len, &index);
	if ((rc == RAFT_OK) != (raft_get_role(nd->raft) == RAFT_LEADER &&
							raft_transfer_target(nd->raft) == RAFT_NOBODY))
		sim_fail(c, "api", "raft_propose on a %s%s returned %s",
				 raft_role_name(raft_get_role(nd->raft)),
				 raft_transfer_target(nd->raft) ? " (transferring)" : "",
				 raft_strerror(rc));
	if (rc == RAFT_OK)
	{
		c->next_prop_id++;
		c->stats.proposals++;
		TRACE(c, nd->slot, "propose #%llu -> index %llu", (unsigned long long) id,
			  (unsigned long long) index);
	}
	else
		TRACE(c, nd->slot, "propose refused: %s", raft_strerror(rc));
	c->stats.node_steps++;
}

/*
 * Propose one entry, or now and then a burst of them before the ready is
 * processed (the worker batches what arrives together): bursts put followers
 * more than one message of entries behind.
 */
static void
propose(sim_cluster *c, sim_node *nd)
{
	int			n = 1;

	if (c->cfg.bursts && !c->tail && rng_chance(&c->rng, 0.05))
		n = (int) rng_range(&c->rng, 20, 200);
	for (int k = 0; k < n && nd->raft; k++)
		propose_one(c, nd);
	sim_process_ready(c, nd);
}

/* Propose a membership change that keeps the cluster able to elect. */
static void
change(sim_cluster *c, sim_node *l)
{
	const raft_membership *m = raft_get_membership(l->raft);
	bool		member[SIM_MAX_NODES] = {false};
	bool		voter[SIM_MAX_NODES] = {false};
	bool		future[SIM_MAX_NODES] = {false};	/* voters and staged */
	int			voters = 0;
	int			campaigners = 0;
	raft_change ch;
	uint8_t		buf[sizeof(raft_change) + 64];
	size_t		len = 0;
	const char *why = NULL;
	raft_change back;
	raft_index	index = 0;
	int			rc;
	int			target = (int) rng_below(&c->rng, (uint64_t) c->cfg.n_slots);

	for (int k = 0; k < m->count; k++)
	{
		int			s = (int) m->members[k].id - 1;

		if (s < 0 || s >= c->cfg.n_slots)
			continue;
		member[s] = true;
		voter[s] = m->members[k].voter;
		future[s] = voter[s] || m->members[k].staged;
		if (voter[s])
		{
			voters++;
			if (!c->nodes[s].never_campaign)
				campaigners++;
		}
	}
	memset(&ch, 0, sizeof(ch));
	ch.id = (raft_id) (target + 1);
	if (!member[target])
	{
		double		r = rng_unit(&c->rng);

		ch.op = r < (c->cfg.eager_changes ? 0.5 : 0.2) ? RAFT_CHANGE_ADD_VOTER :
			r < 0.8 ? RAFT_CHANGE_ADD_LEARNER : RAFT_CHANGE_ADD_STAGED;
		snprintf(ch.address, sizeof(ch.address), "host=n%d", target + 1);
	}
	else if (!voter[target])
		ch.op = rng_chance(&c->rng, 0.8) ? RAFT_CHANGE_PROMOTE : RAFT_CHANGE_REMOVE;
	else
	{
		int			left = campaigners - (c->nodes[target].never_campaign ? 0 : 1);

		/*
		 * Keep enough voters and someone able to campaign.  With a
		 * never-campaign voter, keep two campaigners and the leader: a lone
		 * campaigner whose log is behind the never-campaign voter's could
		 * never be elected (a limit of never_campaign, not a bug).
		 */
		if (voters <= (c->cfg.n_voters > 1 ? c->cfg.n_voters - 1 : 1) || left < 1)
			return;
		if (c->cfg.never_campaign_slot >= 0 && (left < 2 || target == l->slot))
			return;
		if (target == l->slot && !rng_chance(&c->rng, 0.3))
			return;
		ch.op = RAFT_CHANGE_REMOVE;
	}
	/*
	 * In quorum mode, only once the new voters hold the acknowledged
	 * writes: both the voters right after the change (a staged learner
	 * does not vote yet: removing the leader beside one leaves a single
	 * voter, seed 2608131) and those after the leader has promoted the
	 * staged learners by itself.
	 */
	if (ch.op == RAFT_CHANGE_ADD_VOTER || ch.op == RAFT_CHANGE_PROMOTE ||
		ch.op == RAFT_CHANGE_ADD_STAGED ||
		(ch.op == RAFT_CHANGE_REMOVE && voter[target]))
	{
		future[target] = ch.op != RAFT_CHANGE_REMOVE;
		if (ch.op != RAFT_CHANGE_ADD_STAGED)
			voter[target] = future[target];
		if (!wal_voters_hold_acks(c, future) || !wal_voters_hold_acks(c, voter))
			return;
	}
	if (raft_change_encode(&ch, buf, sizeof(buf), &len, &why) != RAFT_OK ||
		raft_change_decode(buf, len, &back, &why) != RAFT_OK ||
		back.op != ch.op || back.id != ch.id || strcmp(back.address, ch.address) != 0)
	{
		sim_fail(c, "codec", "membership change does not round-trip: %s",
				 why ? why : "fields differ");
		return;
	}
	rc = raft_propose_change(l->raft, &back, &index);
	TRACE(c, l->slot, "change op=%d n%u -> %s (index %llu)", ch.op, ch.id,
		  raft_strerror(rc), (unsigned long long) index);
	if (rc == RAFT_OK)
		c->stats.changes++;
	c->stats.node_steps++;
	sim_process_ready(c, l);
	if (rc == RAFT_OK && c->cfg.partitions && !c->tail && l->raft != NULL &&
		rng_chance(&c->rng, c->cfg.eager_changes ? 0.7 : 0.3))
		cut_with_one(c, l, target);
}

/* Ask the leader to hand over to a random voter. */
static void
transfer(sim_cluster *c, sim_node *l)
{
	int			target = (int) rng_below(&c->rng, (uint64_t) c->cfg.n_slots);
	raft_time	local = sim_local_now(c, l);
	raft_time	lease;
	int			rc;

	if (target == l->slot || !raft_is_voter(l->raft, (raft_id) (target + 1)))
		return;
	lease = raft_lease_until(l->raft);
	rc = raft_transfer_leadership(l->raft, (raft_id) (target + 1), local);

	/*
	 * The fence's in-flight window: a commit that passed the fence under the
	 * dropped lease may take the fence's headroom (= transfer_hold) to
	 * complete, but no longer than the lease ran.
	 */
	if (rc == RAFT_OK && lease > local)
	{
		raft_time	until = local + c->cfg.transfer_hold < lease ?
			local + c->cfg.transfer_hold : lease;

		if (until > l->fence_until)
			l->fence_until = until;
	}
	TRACE(c, l->slot, "transfer to n%d -> %s", target + 1, raft_strerror(rc));
	if (rc == RAFT_OK)
		c->stats.transfers++;
	c->stats.node_steps++;
	sim_process_ready(c, l);
}

/* The client: act on the leader, then come back later. */
void
client_event(sim_cluster *c)
{
	sim_node   *l = sim_find_leader(c);
	raft_time	next = c->cfg.client_interval;
	uint64_t	dice = rng_below(&c->rng, 100);

	if (c->tail && next > c->cfg.et / 4)
		next = c->cfg.et / 4;
	sim_schedule(c, c->now + 1 + rng_range(&c->rng, 0, 2 * next), EV_CLIENT, -1, 0, NULL);
	if (l == NULL)
		return;
	if (dice < 3 && c->cfg.changes && !c->tail)
		change(c, l);
	else if (dice < 4 && c->cfg.transfers && !c->tail)
		transfer(c, l);
	else if (dice < 6)
	{
		/* a proposal to a follower must be refused, not crash anything */
		sim_node   *f = pick_node(c, 0.0, false);

		if (f && f != l)
			propose(c, f);
	}
	else
		propose(c, l);
}

/* A leader that has just taken office proposes a change at once. */
void
eager_change_event(sim_cluster *c, const sim_event *ev)
{
	sim_node   *nd = &c->nodes[(int) ev->node];

	if (c->tail || ev->gen != nd->life_gen || nd->state != NODE_UP ||
		raft_get_role(nd->raft) != RAFT_LEADER)
		return;
	change(c, nd);
}
