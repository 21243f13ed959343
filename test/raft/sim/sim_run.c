/*
 * sim_run.c
 *	  One simulated run: draw the configuration from the seed, run the event
 *	  loop through the fault phase and the fault-free tail, report.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Draw the configuration of a seed (then apply command-line overrides). */
void
sim_config_draw(uint64_t seed, const sim_overrides *ov, sim_config *cfg)
{
	static const int sizes[] = {1, 2, 3, 5, 7};
	static const int tick_divs[] = {2, 4, 4, 5, 10};
	sim_rng		r;
	double		ratio;

	rng_seed(&r, seed);
	memset(cfg, 0, sizeof(*cfg));
	/* every size is covered by every 5 consecutive seeds */
	cfg->n_voters = sizes[seed % 5];
	if (ov->nodes > 0)
		cfg->n_voters = ov->nodes;
	cfg->aggressive = rng_chance(&r, 0.25);
	if (ov->profile >= 0)
		cfg->aggressive = ov->profile == 1;
	cfg->hb = cfg->aggressive ? 20 : 100;
	cfg->et = cfg->aggressive ? 200 : 1000;
	ratio = 0.1 + 0.9 * rng_unit(&r);
	if (ov->spread_ratio >= 0)
		ratio = ov->spread_ratio;
	cfg->spread = (raft_time) (ratio * (double) cfg->et);
	if (cfg->spread < 1)
		cfg->spread = 1;
	cfg->spread_ratio = ratio;
	cfg->margin = cfg->et / 10;
	cfg->tick_div = tick_divs[rng_below(&r, 5)];
	if (ov->tick_div > 0)
		cfg->tick_div = ov->tick_div;
	cfg->tick = cfg->hb / cfg->tick_div;
	if (cfg->tick < 1)
		cfg->tick = 1;
	cfg->prevote = rng_chance(&r, 0.9);
	cfg->check_quorum = rng_chance(&r, 0.9);
	cfg->never_campaign_slot = -1;
	if (cfg->n_voters >= 3 && rng_chance(&r, 0.15))
		cfg->never_campaign_slot = (int) rng_below(&r, (uint64_t) cfg->n_voters);

	cfg->changes = !ov->no_changes && rng_chance(&r, 0.4);
	cfg->n_slots = cfg->n_voters + ((cfg->changes && cfg->n_voters < 7) ? 1 : 0);
	cfg->transfers = rng_chance(&r, 0.5);

	cfg->faults = !ov->no_faults;
	cfg->loss = cfg->faults ? (double) rng_below(&r, 4) * 0.03 : 0;
	cfg->dup = cfg->faults ? (double) rng_below(&r, 3) * 0.02 : 0;
	cfg->corrupt = cfg->faults ? (rng_chance(&r, 0.5) ? 0.01 : 0) : 0;
	cfg->delay_min = 1 + (raft_time) rng_below(&r, 3);
	cfg->delay_jitter = (raft_time) rng_below(&r, (uint64_t) cfg->hb / 5 + 1);
	cfg->long_delay = cfg->faults ? (rng_chance(&r, 0.3) ? 0.005 : 0) : 0;
	cfg->crashes = cfg->faults && rng_chance(&r, 0.8);
	cfg->pauses = cfg->faults && rng_chance(&r, 0.7);
	cfg->partitions = cfg->faults && rng_chance(&r, 0.8);
	cfg->weather = cfg->faults && rng_chance(&r, 0.6);
	cfg->fault_phase = (raft_time) rng_range(&r, 15, 40) * cfg->et;
	if (ov->length_scale > 0)
		cfg->fault_phase = (raft_time) ((double) cfg->fault_phase * ov->length_scale);
	cfg->fault_interval = (raft_time) rng_range(&r, 5, 30) * cfg->et / 10;
	cfg->client_interval = cfg->hb * (raft_time) rng_range(&r, 1, 10);
	/* an idle cluster keeps followers' logs equal: elections are easier */
	if (rng_chance(&r, 0.3))
		cfg->client_interval = 5 * cfg->et;
	/*
	 * Positions are always reported; a finite tolerance in some seeds, a
	 * tight one in some of those (transfers then wait for the target's
	 * position, as they do behind a primary's WAL).
	 */
	cfg->position_lag = RAFT_POSITION_ANY;
	if (rng_chance(&r, 0.3))
		cfg->position_lag = rng_chance(&r, 0.5) ? 1000000 : 3;
	cfg->bursts = rng_chance(&r, 0.4);
	cfg->impossible = cfg->faults && rng_chance(&r, 0.3) ? 0.005 : 0;

	/*
	 * Drawn last, so that the draws above stay what they were.  Mixed
	 * timing: nodes run different profiles (as during a rolling change of
	 * settings), and with retime the fault schedule rolls changes of
	 * profile through restarts.  The cluster-wide timing above then is the
	 * slower profile, which sizes every bound.
	 */
	cfg->mixed_timing = ov->profile < 0 && cfg->n_voters >= 2 &&
		rng_chance(&r, 0.35);
	cfg->retime = cfg->faults && ov->profile < 0 && cfg->n_voters >= 2 &&
		rng_chance(&r, 0.3);

	/*
	 * Only as the extension runs: with PreVote and CheckQuorum.  Without
	 * PreVote a node on the short timeout whose log is stale forces a new
	 * term every 200 ms and the nodes on 1000 ms never get to stand (seen
	 * in soaks): a liveness limit of running without PreVote, not a bug.
	 */
	if (!cfg->prevote || !cfg->check_quorum)
		cfg->mixed_timing = cfg->retime = false;
	if (cfg->mixed_timing || cfg->retime)
	{
		cfg->aggressive = false;
		cfg->hb = 100;
		cfg->et = 1000;
		cfg->spread = (raft_time) (ratio * (double) cfg->et);
		if (cfg->spread < 1)
			cfg->spread = 1;
		cfg->margin = cfg->et / 10;
		cfg->tick = cfg->hb / cfg->tick_div;
	}
	cfg->bootstrap_faults = cfg->faults && cfg->crashes && rng_chance(&r, 0.25);
	cfg->eager_changes = cfg->changes && rng_chance(&r, 0.7);
	/*
	 * As the extension runs, too: without PreVote, two candidates of which
	 * one never hears the other (its configuration lags behind a burst of
	 * changes) can race for ever, one term apart (seen in a soak).
	 */
	if (!cfg->prevote || !cfg->check_quorum)
		cfg->eager_changes = false;

	/*
	 * Single-server changes can only break after a leader change when the
	 * configuration they start from has an even number of voters (then
	 * "add one" and "remove one" have disjoint majorities).  So seeds with
	 * eager changes often start with 4 or 6 voters and keep two spare
	 * slots, room for the additions.
	 */
	if (cfg->eager_changes && ov->nodes == 0 &&
		(cfg->n_voters == 3 || cfg->n_voters == 5) && rng_chance(&r, 0.8))
		cfg->n_voters++;
	if (cfg->eager_changes)
		cfg->n_slots = cfg->n_voters + 2 <= SIM_MAX_NODES ? cfg->n_voters + 2 :
			SIM_MAX_NODES;
	/* the fence's headroom: a fraction of the smaller election timeout */
	cfg->transfer_hold = cfg->transfers && rng_chance(&r, 0.8) ?
		(raft_time) rng_range(&r, 10, 40) * (cfg->aggressive ? 200 : 1000) / 200 : 0;
	/* rank-ordered elections, off in one seed in seven (no draw: seeds
	 * replay as before) */
	cfg->no_rank = ov->no_rank || seed % 7 == 3;

	/*
	 * The WAL model (sim_wal.c), drawn after everything else.  Quorum mode
	 * (synchronous = quorum, which requires max_lag_on_failover 0) in most
	 * seeds: acknowledged writes are checked there.  Operators' promotions
	 * and late promotions, the two ways a server leaves Raft's timeline
	 * history, in some seeds with faults.
	 */
	cfg->quorum = rng_chance(&r, 0.6);
	if (cfg->quorum)
		cfg->position_lag = 0;
	cfg->op_promote_interval = cfg->faults && rng_chance(&r, 0.5) ?
		(raft_time) rng_range(&r, 3, 20) * cfg->et : 0;
	cfg->late_promote = cfg->faults && rng_chance(&r, 0.6) ?
		0.05 + 0.4 * rng_unit(&r) : 0;
}

/* A one-line description of a configuration (for traces and failures). */
void
sim_describe_config(const sim_config *cfg, char *buf, size_t cap)
{
	char		lag[24] = "any";

	if (cfg->position_lag != RAFT_POSITION_ANY)
		snprintf(lag, sizeof(lag), "%llu", (unsigned long long) cfg->position_lag);
	snprintf(buf, cap,
			 "%d voters (+%d spare), hb %lld ET %lld spread %lld margin %lld tick %lld, "
			 "prevote %d check_quorum %d, loss %.2f dup %.2f corrupt %.2f delay %lld+%lld, "
			 "faults %lld ms every ~%lld ms [%s%s%s%s], client every ~%lld ms, "
			 "changes %d (eager %d) transfers %d (hold %lld) bursts %d position lag %s, "
			 "WAL: quorum %d, operator promotions every ~%lld ms, late promotions %.2f"
			 "%s%s%s%s",
			 cfg->n_voters, cfg->n_slots - cfg->n_voters, (long long) cfg->hb,
			 (long long) cfg->et, (long long) cfg->spread, (long long) cfg->margin,
			 (long long) cfg->tick, cfg->prevote, cfg->check_quorum, cfg->loss,
			 cfg->dup, cfg->corrupt,
			 (long long) cfg->delay_min, (long long) cfg->delay_jitter,
			 (long long) cfg->fault_phase, (long long) cfg->fault_interval,
			 cfg->crashes ? "crash " : "", cfg->pauses ? "pause " : "",
			 cfg->partitions ? "partition " : "", cfg->weather ? "weather" : "",
			 (long long) cfg->client_interval, cfg->changes, cfg->eager_changes,
			 cfg->transfers, (long long) cfg->transfer_hold, cfg->bursts,
			 lag, cfg->quorum, (long long) cfg->op_promote_interval,
			 cfg->late_promote,
			 cfg->never_campaign_slot >= 0 ? ", one never-campaign node" : "",
			 cfg->mixed_timing ? ", mixed timing" : "",
			 cfg->retime ? ", rolling timing changes" : "",
			 cfg->bootstrap_faults ? ", wrong bootstrap lists" : "");
}

/* Run events until 'until', the run fails, or the tail is satisfied. */
void
sim_run_loop(sim_cluster *c, raft_time until)
{
	sim_event	ev;

	while (!c->failed && !c->done && heap_pop(&c->heap, &ev))
	{
		if (ev.at > until)
		{
			heap_push(&c->heap, ev);
			break;
		}
		c->now = ev.at;
		sim_dispatch(c, &ev);
	}
	if (c->now < until && !c->failed && !c->done)
		c->now = until;
}

/* Run one seed; true when every invariant held.  Adds to *stats. */
bool
sim_run_seed(uint64_t seed, const sim_overrides *ov, sim_trace_mode trace,
			 sim_stats *stats, char *failure, size_t failure_cap)
{
	sim_config	cfg;
	sim_cluster *c = malloc(sizeof(sim_cluster));
	bool		ok;

	if (c == NULL)
		abort();
	sim_config_draw(seed, ov, &cfg);
	sim_cluster_init(c, seed, &cfg, trace, ov->trace_from);
	c->no_liveness = ov->no_liveness;
	faults_start(c);
	/* the tail's own checks end the run; this is only a backstop */
	sim_run_loop(c, cfg.fault_phase + c->leader_bound + 40 * cfg.et);
	if (!c->failed && !c->done)
		sim_fail(c, "liveness", "the run ended without the tail's checks completing");
	ok = !c->failed;
	c->stats.sim_ms = c->now;
	if (stats)
	{
		uint64_t   *dst = (uint64_t *) stats;
		const uint64_t *src = (const uint64_t *) &c->stats;

		for (size_t k = 0; k < sizeof(sim_stats) / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
	if (!ok && failure)
	{
		char		desc[768];

		sim_describe_config(&cfg, desc, failure_cap > 600 ? sizeof(desc) : 64);
		snprintf(failure, failure_cap, "%s\n  config: %s", c->failure, desc);
	}
	if (!ok && trace == TRACE_RING)
	{
		printf("  last trace lines of seed %llu:\n", (unsigned long long) seed);
		sim_trace_dump_ring(c, stdout);
	}
	sim_cluster_destroy(c);
	free(c);
	return ok;
}
