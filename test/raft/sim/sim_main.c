/*
 * sim_main.c
 *	  Command line of the deterministic simulator.
 *
 *	  sim --seeds N --first-seed S [ARGS]   run N seeds, summary, exit 1 on failure
 *	  sim --replay SEED --trace [ARGS]       one seed with a readable trace
 *	  sim --soak SECONDS [ARGS]              fresh seeds until time runs out
 *	  sim --bench [SECONDS] [ARGS]           simulated node-steps per second
 *	  sim --elections N [--spread-ratio r]   split votes and time to elect
 *	  sim --hunt N [--max-seconds T]         seeds until the first failure
 *
 * Wall-clock time is read here only, by the harness, to report speed and to
 * bound a soak; simulated runs never see it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define MAX_REPORTED_FAILURES 10

static const char *usage =
"usage: sim MODE [OPTIONS]\n"
"modes:\n"
"  --seeds N [--first-seed S]  run N seeds from S (default 1); exit 1 on any failure\n"
"  --replay SEED [--trace]     run one seed; --trace prints every event\n"
"                              (--trace-from MS: only from that sim time on)\n"
"  --soak SECONDS              run fresh seeds (from the clock) until time is up\n"
"  --bench [SECONDS]           report simulated node-steps per second (default 5 s)\n"
"  --hunt N                    run seeds from S until the first failure, at most N\n"
"                              seeds (and --max-seconds T); exit 0 when one fails,\n"
"                              1 when all pass (for mutants of the engine)\n"
"  --elections N               measure split votes / time to elect over N rounds\n"
"                              with a crashed leader, per spread ratio (all four\n"
"                              of 0.1 0.25 0.5 1.0 unless --spread-ratio; 3 voters\n"
"                              unless --nodes; tick hb/10 unless --tick-div)\n"
"options (override what each seed draws):\n"
"  --nodes N                   bootstrap voters (1..7)\n"
"  --spread-ratio R            election spread = R x ET\n"
"  --profile default|aggressive  hb 100/ET 1000 or hb 20/ET 200\n"
"  --tick-div D                tick every heartbeat/D ms\n"
"  --no-faults                 no crashes, pauses, partitions, loss\n"
"  --no-changes                no membership changes\n"
"  --no-liveness               check the safety invariants only\n"
"  --length X                  scale the fault phase by X\n"
"  --latency MS                --elections: one-way network delay (default 1)\n"
"  --loss PCT                  --elections: message loss in percent (default 0)\n"
"  --no-rank                   rank-ordered elections off (spread timeouts only)\n"
"  --quiet                     only the summary and failures\n"
"  --help\n"
"A failure prints its seed, the invariant, the last trace lines and the\n"
"command that replays it.\n";

/* Seconds on the harness's monotonic clock. */
static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* CPU seconds of this process (a fair speed measure on a shared machine). */
static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Print a failure with everything needed to reproduce it. */
static void
report_failure(uint64_t seed, const char *failure, const sim_overrides *ov,
			   const char *extra_args)
{
	char		dummy[8];

	printf("FAIL seed %llu\n  %s\n", (unsigned long long) seed, failure);
	/* replay into the ring to show how it came about */
	sim_run_seed(seed, ov, TRACE_RING, NULL, dummy, sizeof(dummy));
	printf("  replay: make -C test/raft replay SEED=%llu%s%s%s\n",
		   (unsigned long long) seed, extra_args[0] ? " SIM_ARGS='" : "",
		   extra_args, extra_args[0] ? "'" : "");
	fflush(stdout);
}

/* Print the totals of many runs. */
static void
print_summary(const char *what, uint64_t runs, uint64_t failures,
			  const sim_stats *s, double secs, double cpu)
{
	printf("%s: %llu seeds, %llu failed, %.1f s (%.1f s CPU, %.0f seeds/s), "
		   "%llu node-steps (%.2fM/s), %.0f simulated s\n",
		   what, (unsigned long long) runs, (unsigned long long) failures, secs, cpu,
		   secs > 0 ? (double) runs / secs : 0.0, (unsigned long long) s->node_steps,
		   secs > 0 ? (double) s->node_steps / secs / 1e6 : 0.0,
		   (double) s->sim_ms / 1000.0);
	printf("  leaders %llu, proposals %llu, committed %llu, changes %llu, "
		   "transfers %llu\n",
		   (unsigned long long) s->leaders, (unsigned long long) s->proposals,
		   (unsigned long long) s->committed, (unsigned long long) s->changes,
		   (unsigned long long) s->transfers);
	printf("  packets %llu (dropped %llu, duplicated %llu), corrupt rejected %llu / "
		   "undetected %llu, impossible %llu, crashes %llu, pauses %llu, "
		   "partitions %llu\n",
		   (unsigned long long) s->packets, (unsigned long long) s->dropped,
		   (unsigned long long) s->duplicated,
		   (unsigned long long) s->corrupt_rejected,
		   (unsigned long long) s->corrupt_undetected,
		   (unsigned long long) s->impossible, (unsigned long long) s->crashes,
		   (unsigned long long) s->pauses,
		   (unsigned long long) s->partitions);
	printf("  WAL: %llu writes (%llu acknowledged), %llu promotions (%llu late), "
		   "%llu by operators, %llu rewinds (%llu between identical timelines)\n",
		   (unsigned long long) s->wal_writes, (unsigned long long) s->wal_acked,
		   (unsigned long long) s->promotions,
		   (unsigned long long) s->late_promotions,
		   (unsigned long long) s->op_promotions, (unsigned long long) s->rewinds,
		   (unsigned long long) s->collisions);
}

/* Run seeds [first, first + n), or until the deadline when n == 0. */
static int
run_many(uint64_t first, uint64_t n, double deadline, const sim_overrides *ov,
		 const char *extra_args, bool quiet, const char *what)
{
	sim_stats	s;
	uint64_t	runs = 0;
	uint64_t	failures = 0;
	double		t0 = wall_seconds();
	double		c0 = cpu_seconds();

	memset(&s, 0, sizeof(s));
	for (uint64_t seed = first;; seed++)
	{
		char		failure[1024];

		if (n > 0 && runs >= n)
			break;
		if (n == 0 && wall_seconds() >= deadline)
			break;
		runs++;
		if (!sim_run_seed(seed, ov, TRACE_OFF, &s, failure, sizeof(failure)))
		{
			failures++;
			if (failures <= MAX_REPORTED_FAILURES)
				report_failure(seed, failure, ov, extra_args);
			else
				printf("FAIL seed %llu: %s\n", (unsigned long long) seed, failure);
		}
		if (!quiet && runs % 1000 == 0)
		{
			printf("  ... %llu seeds, %llu failed, %.1f s\n",
				   (unsigned long long) runs, (unsigned long long) failures,
				   wall_seconds() - t0);
			fflush(stdout);
		}
	}
	print_summary(what, runs, failures, &s, wall_seconds() - t0,
				  cpu_seconds() - c0);
	if (n == 0)
		printf("  seeds %llu..%llu\n", (unsigned long long) first,
			   (unsigned long long) (first + runs - 1));
	return failures ? 1 : 0;
}

/*
 * --hunt: run seeds until one fails, for an engine built with a fix
 * reverted (make mutants).  Success means the checker caught the mutant.
 */
static int
hunt(uint64_t first, uint64_t n, double max_seconds, const sim_overrides *ov)
{
	double		t0 = wall_seconds();

	for (uint64_t k = 0; k < n; k++)
	{
		char		failure[1024];
		uint64_t	seed = first + k;

		if (max_seconds > 0 && wall_seconds() - t0 >= max_seconds)
			break;
		if (!sim_run_seed(seed, ov, TRACE_OFF, NULL, failure, sizeof(failure)))
		{
			char	   *nl = strchr(failure, '\n');

			if (nl)
				*nl = '\0';
			printf("caught: seed %llu after %llu seeds, %.2f s: %s\n",
				   (unsigned long long) seed, (unsigned long long) k + 1,
				   wall_seconds() - t0, failure);
			return 0;
		}
	}
	printf("SURVIVED: no failure in %.2f s from seed %llu\n", wall_seconds() - t0,
		   (unsigned long long) first);
	return 1;
}

/* --bench: node-steps per second over the usual random seeds. */
static int
bench(double seconds, const sim_overrides *ov)
{
	sim_stats	s;
	uint64_t	runs = 0;
	double		t0 = wall_seconds();
	double		c0 = cpu_seconds();
	double		t;
	double		cpu;

	memset(&s, 0, sizeof(s));
	do
	{
		char		failure[1024];

		sim_run_seed(1000000 + runs, ov, TRACE_OFF, &s, failure, sizeof(failure));
		runs++;
		t = wall_seconds() - t0;
	} while (t < seconds);
	cpu = cpu_seconds() - c0;
	printf("bench: %llu seeds in %.2f s wall, %.2f s CPU: %.2fM node-steps/s per CPU "
		   "second (%.2fM/s wall), %llu steps, %.0f seeds/CPU s, %.0fx real time\n",
		   (unsigned long long) runs, t, cpu, (double) s.node_steps / cpu / 1e6,
		   (double) s.node_steps / t / 1e6, (unsigned long long) s.node_steps,
		   (double) runs / cpu, (double) s.sim_ms / 1000.0 / cpu);
	return 0;
}

/* How an option of the table in main() reads its value. */
typedef enum opt_kind
{
	OPT_FLAG,					/* no value: sets a bool */
	OPT_U64,
	OPT_LL,
	OPT_TIME,
	OPT_INT,
	OPT_DOUBLE
} opt_kind;

/* An option read by the table (the others are parsed one by one). */
typedef struct sim_option
{
	const char *name;
	opt_kind	kind;
	void	   *target;
	bool		is_override;	/* repeated in a failure's replay command */
} sim_option;

/* The option called 'name' among n, or NULL. */
static const sim_option *
find_option(const sim_option *options, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* Store option o's value v (unused for a flag) in its target. */
static void
set_option(const sim_option *o, const char *v)
{
	switch (o->kind)
	{
		case OPT_FLAG:
			*(bool *) o->target = true;
			break;
		case OPT_U64:
			*(uint64_t *) o->target = strtoull(v, NULL, 10);
			break;
		case OPT_LL:
			*(long long *) o->target = strtoll(v, NULL, 10);
			break;
		case OPT_TIME:
			*(raft_time *) o->target = (raft_time) atoll(v);
			break;
		case OPT_INT:
			*(int *) o->target = atoi(v);
			break;
		case OPT_DOUBLE:
			*(double *) o->target = atof(v);
			break;
	}
}

/* Parse arguments and run the chosen mode. */
int
main(int argc, char **argv)
{
	sim_overrides ov;
	uint64_t	seeds = 0;
	uint64_t	first = 1;
	long long	replay = -1;
	double		soak = 0;
	double		bench_secs = -1;
	int			elections = 0;
	uint64_t	hunt_seeds = 0;
	double		max_seconds = 0;
	bool		trace = false;
	bool		quiet = false;
	double		loss_pct = 0;	/* --loss is given in percent */
	char		extra[512] = "";
	size_t		extra_len = 0;
	/* the options read the same way; is_override: part of what a seed draws */
	const sim_option options[] = {
		{"--quiet", OPT_FLAG, &quiet, false},
		{"--seeds", OPT_U64, &seeds, false},
		{"--first-seed", OPT_U64, &first, false},
		{"--replay", OPT_LL, &replay, false},
		{"--soak", OPT_DOUBLE, &soak, false},
		{"--elections", OPT_INT, &elections, false},
		{"--hunt", OPT_U64, &hunt_seeds, false},
		{"--max-seconds", OPT_DOUBLE, &max_seconds, false},
		{"--trace", OPT_FLAG, &trace, false},
		{"--trace-from", OPT_TIME, &ov.trace_from, false},
		{"--spread-ratio", OPT_DOUBLE, &ov.spread_ratio, true},
		{"--tick-div", OPT_INT, &ov.tick_div, true},
		{"--latency", OPT_INT, &ov.latency, true},
		{"--no-liveness", OPT_FLAG, &ov.no_liveness, true},
		{"--no-faults", OPT_FLAG, &ov.no_faults, true},
		{"--no-changes", OPT_FLAG, &ov.no_changes, true},
		{"--length", OPT_DOUBLE, &ov.length_scale, true},
		{"--no-rank", OPT_FLAG, &ov.no_rank, true},
		{"--loss", OPT_DOUBLE, &loss_pct, true},
	};

	memset(&ov, 0, sizeof(ov));
	ov.spread_ratio = -1;
	ov.profile = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool		is_override = true;
		const sim_option *o;

#define NEED_VALUE() \
		do { \
			if (v == NULL) \
			{ \
				fprintf(stderr, "sim: %s needs a value\n", a); \
				return 2; \
			} \
			i++; \
		} while (0)
		o = find_option(options, sizeof(options) / sizeof(options[0]), a);
		if (o != NULL)
		{
			if (o->kind != OPT_FLAG)
				NEED_VALUE();
			set_option(o, v);
			is_override = o->is_override;
		}
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			fputs(usage, stdout);
			return 0;
		}
		else if (strcmp(a, "--bench") == 0)
		{
			bench_secs = 5;
			if (v && v[0] != '-')
			{
				bench_secs = atof(v);
				i++;
			}
			is_override = false;
		}
		else if (strcmp(a, "--nodes") == 0)
		{
			NEED_VALUE();
			ov.nodes = atoi(v);
			if (ov.nodes < 1 || ov.nodes > 7)
			{
				fprintf(stderr, "sim: --nodes must be 1..7\n");
				return 2;
			}
		}
		else if (strcmp(a, "--profile") == 0)
		{
			NEED_VALUE();
			ov.profile = strcmp(v, "aggressive") == 0 ? 1 : 0;
		}
		else
		{
			fprintf(stderr, "sim: unknown argument \"%s\"\n%s", a, usage);
			return 2;
		}
		if (is_override && extra_len < sizeof(extra) - 64)
		{
			extra_len += (size_t) snprintf(extra + extra_len, sizeof(extra) - extra_len,
										   "%s%s", extra_len ? " " : "", a);
			if (i > 0 && argv[i] != a)
				extra_len += (size_t) snprintf(extra + extra_len,
											   sizeof(extra) - extra_len, " %s", argv[i]);
		}
	}
	ov.loss = loss_pct / 100.0;

	if (elections > 0)
		return sim_elections(elections, ov.nodes ? ov.nodes : 3, ov.spread_ratio,
							 ov.tick_div ? ov.tick_div : 10, ov.profile == 1,
							 ov.latency > 0 ? ov.latency : 1, first,
							 !ov.no_rank, ov.loss);
	if (replay >= 0)
	{
		char		failure[1024];
		bool		ok = sim_run_seed((uint64_t) replay, &ov,
									  trace ? TRACE_STDOUT : TRACE_OFF, NULL,
									  failure, sizeof(failure));

		if (ok)
			printf("seed %lld: ok\n", replay);
		else
			printf("seed %lld: FAILED\n  %s\n", replay, failure);
		return ok ? 0 : 1;
	}
	if (soak > 0)
	{
		uint64_t	start = (uint64_t) time(NULL) * 1000003ULL;

		return run_many(start, 0, wall_seconds() + soak, &ov, extra, quiet, "soak");
	}
	if (bench_secs >= 0)
		return bench(bench_secs, &ov);
	if (hunt_seeds > 0)
		return hunt(first, hunt_seeds, max_seconds, &ov);
	if (seeds > 0)
		return run_many(first, seeds, 0, &ov, extra, quiet, "sim");
	fputs(usage, stderr);
	return 2;
}
