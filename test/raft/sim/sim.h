/*
 * sim.h
 *	  Shared declarations of the deterministic Raft simulator.
 *
 * The simulator runs several raft_node instances in one process under a
 * simulated clock (milliseconds) and a simulated network, drives each node
 * exactly like the PostgreSQL worker does (tick, deliver, get_ready ->
 * persist -> send -> apply -> advance), injects faults from a schedule drawn
 * from the seed, and checks the invariants of DESIGN.md after every step.
 * Everything derives from one seed, so any run replays exactly.
 *
 * Files: sim_rng.c (generator), sim_heap.c (event queue), sim_cluster.c
 * (nodes, disks, driving), sim_net.c (network and codec), sim_faults.c
 * (fault schedule and client workload), sim_invariants.c, sim_trace.c,
 * sim_run.c (one seed), sim_elect.c (split-vote measurement), sim_main.c,
 * sim_wal.c (each node's PostgreSQL: WAL, timelines, primary or standby)
 * and sim_wal_check.c (invariant 7: no acknowledged write lost).
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft.h"

/* Node slots: up to 7 bootstrap voters plus one spare for membership tests. */
#define SIM_MAX_NODES 8

/* ---- pseudo-random generator (xoshiro256**) ---- */
typedef struct sim_rng
{
	uint64_t	s[4];
} sim_rng;

extern void rng_seed(sim_rng *rng, uint64_t seed);
extern uint64_t rng_next(sim_rng *rng);
extern uint64_t rng_below(sim_rng *rng, uint64_t n);
extern int64_t rng_range(sim_rng *rng, int64_t lo, int64_t hi);
extern double rng_unit(sim_rng *rng);
extern bool rng_chance(sim_rng *rng, double p);
extern uint64_t sim_mix64(uint64_t x);

/* ---- event queue ---- */
typedef enum sim_ev_kind
{
	EV_TICK = 1,				/* node ticks (re-arms itself) */
	EV_DELIVER,					/* a packet reaches its destination */
	EV_FAULT,					/* draw and start the next fault */
	EV_HEAL_LINKS,				/* a partition ends */
	EV_WEATHER_END,				/* a burst of bad network ends */
	EV_RESTART,					/* a crashed node comes back */
	EV_RESUME,					/* a paused node continues */
	EV_CLIENT,					/* the client proposes / changes / transfers */
	EV_TAIL,					/* faults end: heal everything */
	EV_CHECK,					/* periodic liveness check in the tail */
	EV_CRASH,					/* crash a node and restart it at once */
	EV_CHANGE,					/* a new leader proposes a change at once */
	EV_WAL,						/* PostgreSQL: roles, streaming, writes */
	EV_PROMOTE					/* a requested promotion completes */
} sim_ev_kind;

typedef struct sim_event
{
	raft_time	at;
	uint64_t	seq;			/* FIFO among equal times: determinism */
	uint8_t		kind;
	int8_t		node;
	uint32_t	gen;
	void	   *ptr;
} sim_event;

typedef struct sim_heap
{
	sim_event  *ev;
	size_t		len;
	size_t		cap;
	uint64_t	next_seq;
} sim_heap;

extern void heap_push(sim_heap *h, sim_event ev);
extern bool heap_pop(sim_heap *h, sim_event *out);
extern void heap_free(sim_heap *h);

/* ---- network packets (one encoded envelope) ---- */
typedef enum sim_corrupt
{
	CORRUPT_NONE = 0,
	CORRUPT_TRUNCATE,			/* must be rejected by the decoder */
	CORRUPT_MAGIC,				/* must be rejected by the decoder */
	CORRUPT_RANDOM				/* anything may happen; must not crash */
} sim_corrupt;

typedef struct sim_packet
{
	struct sim_packet *next;	/* queue of a paused node */
	int			from;			/* slot indexes */
	int			to;
	uint8_t		corrupt;		/* sim_corrupt */
	size_t		len;
	uint8_t		bytes[];
} sim_packet;

/* ---- per-node durable state ("disk") ---- */
typedef struct sim_disk_entry
{
	raft_term	term;
	uint8_t		type;
	uint32_t	len;
	uint8_t    *data;
	uint64_t	digest;			/* hash of (index, term, type, data) */
	uint64_t	prefix;			/* hash of the log up to and with this one */
} sim_disk_entry;

typedef struct sim_disk
{
	raft_hard_state hs;
	/*
	 * The election timeout this node's acknowledgements promised (the
	 * extension's raft_promised_timeout file); 0 before the first start.
	 */
	raft_time	promised_et;
	sim_disk_entry *log;		/* log[i] holds index i + 1 */
	size_t		len;
	size_t		cap;
} sim_disk;

/*
 * ---- the PostgreSQL server beside each node (sim_wal.c) ----
 * A WAL is a sequence of records, held as the hash of each prefix (so that
 * two WALs hold the same records up to x iff hash[x] is equal), and the
 * timelines it runs through, oldest first: timeline 'tli' holds the WAL
 * from 'begin' to the next timeline's begin (or the end).  A timeline is
 * identified by (tli, begin), as the engine identifies it.
 */
typedef struct sim_seg
{
	uint64_t	tli;
	uint64_t	begin;
} sim_seg;

typedef struct sim_wal
{
	uint64_t   *hash;			/* hash[x]: the first x records, x <= len */
	size_t		len;			/* the LSN reached: records held (flushed) */
	size_t		cap;
	sim_seg    *seg;			/* its timelines, oldest first */
	size_t		nseg;
	size_t		seg_cap;
	uint64_t	max_tli;		/* largest timeline id this server knows of */
	bool		primary;		/* else a standby */
	bool		promote_pending;	/* promote signal sent, not yet done */
	uint32_t	promote_gen;	/* invalidates stale EV_PROMOTE events */
	int			upstream;		/* slot it streams from; -1 none */
	raft_time	rejoin_at;		/* auto_rejoin (demote, rewind) due; 0 none */
	uint64_t	written;		/* primary: newest LSN a client wrote */
	uint64_t	settled;		/* primary: newest write acknowledged or
								 * given up (lease ran out before the ack) */
} sim_wal;

typedef enum sim_node_state
{
	NODE_UP = 0,
	NODE_PAUSED,
	NODE_DOWN
} sim_node_state;

typedef struct sim_node
{
	int			slot;
	raft_id		id;				/* slot + 1 */
	raft_node  *raft;			/* NULL while down */
	sim_node_state state;
	raft_time	clock_offset;	/* node's monotonic clock = sim time + this */
	sim_disk	disk;
	uint32_t	tick_gen;		/* invalidates stale tick events */
	uint32_t	life_gen;		/* invalidates stale restart/resume events */
	raft_time	tick_period;
	bool		crash_armed;	/* crash somewhere inside the next ready */
	bool		never_campaign;

	/* timing of this node's next incarnation (nodes may differ) */
	bool		aggressive;
	raft_time	hb;
	raft_time	et;
	raft_time	spread;
	raft_time	margin;
	raft_time	down_until;		/* stay down until then (restart rules) */
	raft_time	promise_until;	/* local time the old promise ends */

	/*
	 * The bootstrap membership the host persisted at the first start, and
	 * whether the configured one is wrong for the next restart (the host
	 * then refuses to start, as the worker does with raft_bootstrap_check).
	 */
	raft_membership boot_persisted;
	bool		boot_known;
	bool		boot_wrong;

	/*
	 * The fence's in-flight commit window: a lease dropped for a
	 * leadership transfer still counts as held until this local time.
	 */
	raft_time	fence_until;

	/* its PostgreSQL server: durable, kept across crashes */
	sim_wal		wal;

	/* paused: packets that arrived meanwhile, delivered on resume */
	sim_packet *pending_head;
	sim_packet *pending_tail;
	int			pending_count;

	/* what the harness last observed */
	raft_role	obs_role;
	raft_term	obs_term;
	raft_index	applied;		/* last applied index of this incarnation */
	bool		apply_resync;	/* after a restart: first batch sets applied */

	/* record of persisted votes, kept across crashes */
	raft_term	vote_term;
	raft_id		vote_for;
	uint64_t	incarnations;
} sim_node;

/* ---- per-seed configuration ---- */
typedef struct sim_config
{
	int			n_voters;		/* bootstrap voters: 1, 2, 3, 5, 7 */
	int			n_slots;		/* voters + spare */
	raft_time	hb;
	raft_time	et;
	raft_time	spread;
	raft_time	margin;
	raft_time	tick;
	bool		aggressive;
	bool		prevote;
	bool		check_quorum;
	int			never_campaign_slot;	/* -1: none */
	double		spread_ratio;	/* spread = ratio x ET, for every node */
	int			tick_div;		/* tick = hb / tick_div, for every node */
	bool		mixed_timing;	/* each node draws its own profile */
	bool		retime;			/* rolling changes of timing (restarts) */
	bool		bootstrap_faults;	/* restarts with a wrong bootstrap list */
	bool		eager_changes;	/* a new leader proposes a change at once */
	raft_time	transfer_hold;	/* = the fence's headroom */
	bool		no_rank;		/* rank_step 0: spread timeouts only */

	/* network */
	double		loss;
	double		dup;
	double		corrupt;
	double		impossible;		/* chance of an impossible message per message */
	raft_time	delay_min;
	raft_time	delay_jitter;
	double		long_delay;		/* chance of a delay of up to 3 ET */

	/* faults */
	bool		faults;
	raft_time	fault_phase;	/* faults happen in [0, fault_phase) */
	raft_time	fault_interval; /* mean time between faults */
	bool		crashes;
	bool		pauses;
	bool		partitions;
	bool		weather;

	/* client */
	raft_time	client_interval;
	bool		changes;
	bool		transfers;
	bool		bursts;			/* sometimes propose 20-200 entries at once */

	/* vote position: the node's WAL; tolerance RAFT_POSITION_ANY or this */
	uint64_t	position_lag;

	/* the WAL model (sim_wal.c) */
	bool		quorum;			/* synchronous = quorum: lag 0, acks checked */
	raft_time	op_promote_interval;	/* mean time between operators'
										 * promotions; 0: none */
	double		late_promote;	/* chance that a leader's promotion is late */
} sim_config;

/* Command-line overrides applied on top of the per-seed draw. */
typedef struct sim_overrides
{
	int			nodes;			/* 0: drawn */
	double		spread_ratio;	/* < 0: drawn */
	int			profile;		/* -1 drawn, 0 default, 1 aggressive */
	int			tick_div;		/* 0: drawn */
	bool		no_faults;
	bool		no_changes;
	double		length_scale;	/* multiplies the fault phase */
	int			latency;		/* --elections: one-way delay, ms */
	bool		no_liveness;	/* check safety only */
	bool		no_rank;		/* rank-ordered elections off */
	double		loss;			/* --elections: message loss, 0..1 */
	raft_time	trace_from;		/* --trace: only lines from this sim time */
} sim_overrides;

/* ---- invariant bookkeeping ---- */
typedef struct sim_canon
{
	raft_term	term;
	raft_term	commit_term;	/* term of the first node that reported it */
	uint64_t	digest;
	uint64_t	prefix;
} sim_canon;

typedef struct sim_ltab_slot
{
	raft_index	index;			/* 0: empty */
	raft_term	term;
	uint64_t	prefix;
} sim_ltab_slot;

typedef struct sim_inv
{
	raft_id    *leader_of_term; /* indexed by term */
	size_t		n_terms;
	sim_canon  *canon;			/* committed entries, canon[i] = index i+1 */
	size_t		canon_len;
	size_t		canon_cap;
	sim_ltab_slot *ltab;		/* (index, term) -> prefix hash */
	size_t		ltab_cap;
	size_t		ltab_used;
	uint8_t    *committed_ids;	/* proposal id -> committed already */
	size_t		ids_cap;
} sim_inv;

/* ---- trace ---- */
typedef enum sim_trace_mode
{
	TRACE_OFF = 0,
	TRACE_STDOUT,
	TRACE_RING
} sim_trace_mode;

#define SIM_RING_LINES 120
#define SIM_LINE 400

/* ---- statistics of one or many runs ---- */
typedef struct sim_stats
{
	uint64_t	node_steps;
	uint64_t	packets;
	uint64_t	dropped;
	uint64_t	duplicated;
	uint64_t	corrupt_rejected;
	uint64_t	corrupt_undetected;
	uint64_t	impossible;
	uint64_t	crashes;
	uint64_t	pauses;
	uint64_t	partitions;
	uint64_t	leaders;
	uint64_t	proposals;
	uint64_t	committed;
	uint64_t	changes;
	uint64_t	transfers;
	uint64_t	retimes;
	uint64_t	boot_refused;
	uint64_t	wal_writes;		/* records written by primaries */
	uint64_t	wal_acked;		/* of which acknowledged (quorum) */
	uint64_t	promotions;		/* requested by a leader */
	uint64_t	late_promotions;	/* of which completed after leading */
	uint64_t	op_promotions;	/* operators' pg_promote() */
	uint64_t	rewinds;		/* standbys and old primaries rewound */
	uint64_t	collisions;		/* rewinds between WALs of identical
								 * timelines (invisible to PostgreSQL) */
	raft_time	sim_ms;
} sim_stats;

/* ---- the cluster ---- */
typedef struct sim_cluster
{
	uint64_t	seed;
	sim_config	cfg;
	sim_rng		rng;
	raft_time	now;			/* global simulated time */
	raft_time	end;			/* hard stop */
	sim_heap	heap;
	sim_node	nodes[SIM_MAX_NODES];
	raft_membership bootstrap;
	bool		link[SIM_MAX_NODES][SIM_MAX_NODES];
	uint32_t	partition_gen;
	uint32_t	weather_gen;
	double		loss;			/* current network weather */
	double		dup;
	double		corrupt;
	raft_time	delay_min;
	raft_time	delay_jitter;
	double		long_delay;

	/* client */
	uint64_t	next_prop_id;

	/* WAL model: record ids, and the newest acknowledged write */
	uint64_t	next_record;
	uint64_t	ack_lsn;
	uint64_t	ack_hash;		/* hash of the WAL up to ack_lsn */
	raft_id		ack_by;
	bool		wal_healed;		/* the tail's repair of forks is done */

	/* tail (liveness) */
	bool		tail;
	raft_time	tail_start;
	raft_time	leader_bound;	/* 10 x (ET + spread) */
	raft_time	leader_found_at;
	uint64_t	tail_first_id;
	raft_index	tail_commit_index;
	bool		done;

	/* measurement hooks (sim_elect.c) */
	bool		keep_going;		/* no tail logic, caller drives */
	bool		no_liveness;	/* liveness failures end the run quietly */

	sim_inv		inv;
	sim_stats	stats;

	/* failure */
	bool		failed;
	char		failure[1024];

	/* trace */
	sim_trace_mode trace;
	raft_time	trace_from;
	char		(*ring)[SIM_LINE];
	int			ring_next;
	int			ring_count;
} sim_cluster;

/* sim_cluster.c */
extern void sim_cluster_init(sim_cluster *c, uint64_t seed, const sim_config *cfg,
							 sim_trace_mode trace, raft_time trace_from);
extern void sim_cluster_destroy(sim_cluster *c);
extern raft_time sim_local_now(const sim_cluster *c, const sim_node *nd);
extern void sim_node_start(sim_cluster *c, sim_node *nd);
extern void sim_node_crash(sim_cluster *c, sim_node *nd, const char *when);
extern void sim_node_pause(sim_cluster *c, sim_node *nd);
extern void sim_node_resume(sim_cluster *c, sim_node *nd);
extern void sim_node_tick(sim_cluster *c, sim_node *nd);
extern void sim_process_ready(sim_cluster *c, sim_node *nd);
extern void sim_schedule(sim_cluster *c, raft_time at, int kind, int node,
						 uint32_t gen, void *ptr);
extern void sim_dispatch(sim_cluster *c, const sim_event *ev);
extern sim_node *sim_find_leader(sim_cluster *c);
extern sim_node *sim_stable_leader(sim_cluster *c);

/* sim_net.c */
extern void net_send_ready(sim_cluster *c, sim_node *nd, const raft_ready *r,
						   size_t max_dest);
extern void net_deliver(sim_cluster *c, sim_packet *p);
extern void net_deliver_now(sim_cluster *c, sim_node *nd, sim_packet *p);

/* sim_faults.c */
extern void faults_start(sim_cluster *c);
extern void faults_event(sim_cluster *c, const sim_event *ev);
extern void faults_heal_all(sim_cluster *c);
extern void client_event(sim_cluster *c);
extern void eager_change_event(sim_cluster *c, const sim_event *ev);
extern void sim_node_profile(sim_cluster *c, sim_node *nd, bool aggressive);

/* sim_invariants.c */
extern void inv_init(sim_inv *inv);
extern void inv_free(sim_inv *inv);
extern void inv_hard_state(sim_cluster *c, sim_node *nd, const raft_hard_state *hs);
extern void inv_truncate(sim_cluster *c, sim_node *nd, raft_index from);
extern void inv_appended(sim_cluster *c, sim_node *nd, raft_index index);
extern void inv_committed(sim_cluster *c, sim_node *nd, const raft_entry *e, size_t n);
extern void inv_applied(sim_cluster *c, sim_node *nd, const raft_entry *e, size_t n);
extern void inv_sent(sim_cluster *c, sim_node *nd, const raft_message *m);
extern void inv_leader_seen(sim_cluster *c, sim_node *nd, raft_term term);
extern void inv_after_step(sim_cluster *c, sim_node *nd);
extern void inv_tail_check(sim_cluster *c);
extern uint64_t inv_entry_digest(raft_index index, raft_term term, uint8_t type,
								 const uint8_t *data, uint32_t len);
extern uint64_t inv_prefix(uint64_t prev, uint64_t digest);

/* sim_wal.c */
extern void wal_init(sim_cluster *c, sim_node *nd);
extern void wal_free(sim_node *nd);
extern void wal_start(sim_cluster *c);
extern bool wal_voters_hold_acks(sim_cluster *c, const bool *voter);
extern void wal_report(sim_cluster *c, sim_node *nd);
extern void wal_event(sim_cluster *c);
extern void wal_promote_event(sim_cluster *c, const sim_event *ev);
extern bool wal_writable(sim_cluster *c, sim_node *nd);
extern raft_position wal_position(const sim_wal *w);
extern bool wal_is_prefix(const sim_wal *a, const sim_wal *b);

/* sim_wal_check.c */
extern void inv_wal(sim_cluster *c, sim_node *nd);

/* sim_trace.c */
extern void sim_trace(sim_cluster *c, int node, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void sim_fail(sim_cluster *c, const char *invariant, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern const char *sim_msg_summary(const raft_message *m, char *buf, size_t cap);
extern void sim_trace_dump_ring(sim_cluster *c, FILE *out);

#define TRACE(c, ...) \
	do { if ((c)->trace != TRACE_OFF) sim_trace((c), __VA_ARGS__); } while (0)

/* sim_heap.c: room for 'need' elements of 'size' bytes in p (capacity *cap,
 * 'first' at first, then doubling); aborts when memory runs out. */
extern void *sim_grow(void *p, size_t *cap, size_t need, size_t size,
					  size_t first);

/* sim_run.c */
extern void sim_config_draw(uint64_t seed, const sim_overrides *ov, sim_config *cfg);
extern bool sim_run_seed(uint64_t seed, const sim_overrides *ov, sim_trace_mode trace,
						 sim_stats *stats, char *failure, size_t failure_cap);
extern void sim_run_loop(sim_cluster *c, raft_time until);
extern void sim_describe_config(const sim_config *cfg, char *buf, size_t cap);

/* sim_elect.c */
extern int	sim_elections(int rounds, int nodes, double only_ratio, int tick_div,
						  bool aggressive, raft_time latency, uint64_t seed,
						  bool rank, double loss);

#endif							/* SIM_H */
