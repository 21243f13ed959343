/*
 * sim_elect.c
 *	  Split-vote measurement: how the election spread affects elections.
 *
 * For each spread ratio (spread = ratio x ET), a fault-free cluster elects a
 * leader; then, round after round, the leader is crashed at a random phase
 * of its heartbeat, the time until another node becomes leader is measured,
 * and the round counts as a split vote when a term went by without a leader
 * (the new leader's term is more than one above the old one), and as
 * contested when more than one node stood as candidate (PreVote excluded).
 * The crashed node then restarts and catches up before the next round.  All
 * invariants stay checked.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Ascending order of election times. */
static int
cmp_time(const void *a, const void *b)
{
	raft_time	x = *(const raft_time *) a;
	raft_time	y = *(const raft_time *) b;

	return (x > y) - (x < y);
}

/* Sum of elections started by every running node except 'skip'. */
static uint64_t
elections_started(sim_cluster *c, const sim_node *skip, uint64_t *per_node)
{
	uint64_t	sum = 0;

	for (int i = 0; i < c->cfg.n_slots; i++)
	{
		sim_node   *nd = &c->nodes[i];
		uint64_t	e;

		if (nd == skip || nd->raft == NULL)
			continue;
		e = raft_get_stats(nd->raft)->elections_started;
		if (per_node)
			sum += e - per_node[i];
		else
			sum += e;
	}
	return sum;
}

/* Run the cluster until a stable leader exists or 'limit' ms pass. */
static sim_node *
wait_stable(sim_cluster *c, raft_time limit)
{
	raft_time	until = c->now + limit;
	sim_node   *l;

	while ((l = sim_stable_leader(c)) == NULL && c->now < until && !c->failed)
		sim_run_loop(c, c->now + 5);
	return l;
}

/* One table row: 'rounds' crashed-leader elections at one spread ratio. */
static bool
measure(int rounds, int nodes, double ratio, int tick_div, bool aggressive,
		raft_time latency, uint64_t seed, bool rank, double loss)
{
	sim_config	cfg;
	sim_cluster *c = malloc(sizeof(sim_cluster));
	raft_time  *times = malloc(sizeof(raft_time) * (size_t) rounds);
	int			done = 0;
	int			contested = 0;
	int			splits = 0;
	int			timeouts = 0;
	uint64_t	extra_terms = 0;
	double		sum = 0;
	bool		ok;

	if (c == NULL || times == NULL)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_voters = cfg.n_slots = nodes;
	cfg.aggressive = aggressive;
	cfg.hb = aggressive ? 20 : 100;
	cfg.et = aggressive ? 200 : 1000;
	cfg.spread = (raft_time) (ratio * (double) cfg.et);
	if (cfg.spread < 1)
		cfg.spread = 1;
	cfg.margin = cfg.et / 10;
	cfg.tick = cfg.hb / tick_div > 0 ? cfg.hb / tick_div : 1;
	cfg.prevote = true;
	cfg.check_quorum = true;
	cfg.never_campaign_slot = -1;
	cfg.delay_min = latency;
	cfg.delay_jitter = latency / 2 + 1;
	cfg.no_rank = !rank;
	cfg.loss = loss;
	cfg.fault_phase = INT64_MAX / 4;
	/* no client: the log would grow and each restart replays it */
	cfg.client_interval = INT64_MAX / 8;

	sim_cluster_init(c, seed, &cfg, TRACE_OFF, 0);
	c->keep_going = true;
	faults_start(c);
	for (int r = 0; r < rounds && !c->failed; r++)
	{
		sim_node   *old = wait_stable(c, 30 * cfg.et);
		uint64_t	base[SIM_MAX_NODES];
		raft_term	old_term;
		raft_time	t0;
		raft_time	deadline;
		sim_node   *l = NULL;

		if (old == NULL)
		{
			timeouts++;
			continue;
		}
		/* crash at a random phase of the heartbeat */
		sim_run_loop(c, c->now + (raft_time) rng_below(&c->rng, (uint64_t) cfg.hb * 2));
		old = sim_find_leader(c);
		if (old == NULL)
			continue;
		old_term = raft_get_term(old->raft);
		for (int i = 0; i < cfg.n_slots; i++)
			base[i] = c->nodes[i].raft ?
				raft_get_stats(c->nodes[i].raft)->elections_started : 0;
		sim_node_crash(c, old, "(measurement)");
		t0 = c->now;
		deadline = t0 + 30 * (cfg.et + cfg.spread);
		while (!c->failed && c->now < deadline)
		{
			sim_run_loop(c, c->now + 1);
			l = sim_find_leader(c);
			if (l && raft_get_term(l->raft) > old_term)
				break;
			l = NULL;
		}
		if (l == NULL)
			timeouts++;
		else
		{
			uint64_t	e = elections_started(c, old, base);

			times[done++] = c->now - t0;
			sum += (double) (c->now - t0);
			if (e > 1)
				contested++;
			if (raft_get_term(l->raft) > old_term + 1)
				splits++;
			extra_terms += raft_get_term(l->raft) - old_term - 1;
		}
		/* bring the old leader back and let it catch up */
		old->life_gen++;
		sim_node_start(c, old);
		sim_run_loop(c, c->now + 2 * (cfg.et + cfg.spread));
	}
	ok = !c->failed;
	if (!ok)
		printf("  invariant failure during measurement: %s\n", c->failure);
	qsort(times, (size_t) done, sizeof(raft_time), cmp_time);
	if (done > 0)
		printf("  %5.2f  %6lld  %6d  %6.1f%%  %6.1f%%  %7.0f  %6lld  %6lld  %6lld  %6lld  %6.3f  %d\n",
			   ratio, (long long) cfg.spread, done, 100.0 * splits / done,
			   100.0 * contested / done,
			   sum / done, (long long) times[done / 2],
			   (long long) times[(done * 9) / 10],
			   (long long) times[(done * 99) / 100], (long long) times[done - 1],
			   (double) extra_terms / done, timeouts);
	sim_cluster_destroy(c);
	free(c);
	free(times);
	return ok;
}

/* --elections: print the table for each spread ratio. */
int
sim_elections(int rounds, int nodes, double only_ratio, int tick_div,
			  bool aggressive, raft_time latency, uint64_t seed, bool rank,
			  double loss)
{
	static const double ratios[] = {0.1, 0.25, 0.5, 1.0};
	bool		ok = true;

	printf("split votes after a leader crash: %d voters, %s profile (hb %d, ET %d), "
		   "tick hb/%d, latency %lld-%lld ms, loss %.1f%%, %s, %d rounds per row\n",
		   nodes, aggressive ? "aggressive" : "default", aggressive ? 20 : 100,
		   aggressive ? 200 : 1000, tick_div, (long long) latency,
		   (long long) (latency + latency / 2 + 1), 100.0 * loss,
		   rank ? "rank-ordered" : "spread only", rounds);
	printf("  ratio  spread  rounds    split  contest  mean_ms  p50_ms  p90_ms  p99_ms  max_ms  "
		   "xterms  no_leader\n");
	if (only_ratio >= 0)
		ok = measure(rounds, nodes, only_ratio, tick_div, aggressive, latency, seed,
					 rank, loss);
	else
		for (size_t k = 0; k < sizeof(ratios) / sizeof(ratios[0]); k++)
			ok &= measure(rounds, nodes, ratios[k], tick_div, aggressive, latency,
						  seed + k, rank, loss);
	return ok ? 0 : 1;
}
