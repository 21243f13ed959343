/*
 * harness.h
 *	  A tiny in-memory cluster for the engine's unit tests.
 *
 * Nodes have ids 1..n.  Each node has a "disk" (hard state and log) filled
 * from its ready batches, so a test can restart it from persisted state.
 * Outgoing messages are deep-copied into one network queue, which a test
 * can inspect, filter (cut links), or deliver.  Time is the harness clock
 * (milliseconds), starting at H_T0.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define H_MAX 9
#define H_T0 1000

/* Test defaults, small numbers so that scenarios read easily. */
#define H_HB 10
#define H_ET 100
#define H_SPREAD 100
#define H_MARGIN 10

/* A position on timeline 'tli' (a first timeline: no beginning, no parent). */
#define H_POS(tli, lsn) ((raft_position) {(tli), (lsn), 0, 0, 0})

/* A message owned by the harness (entries and payloads copied). */
typedef struct h_msg
{
	raft_message m;
	raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG];
} h_msg;

/* What a node has made durable. */
typedef struct h_disk
{
	raft_hard_state hs;
	raft_entry *log;
	size_t		len;
	size_t		cap;
} h_disk;

typedef struct h_net
{
	int			n;
	raft_time	now;
	raft_options opts[H_MAX + 1];
	raft_membership boot;
	raft_node  *nodes[H_MAX + 1];
	h_disk		disk[H_MAX + 1];
	bool		cut[H_MAX + 1][H_MAX + 1];	/* drop messages from -> to */
	bool		down[H_MAX + 1];	/* crashed: no ticks, no messages */

	h_msg	   *q;
	size_t		nq;
	size_t		capq;

	/* committed entries seen per node, in order (index and term) */
	raft_index	applied[H_MAX + 1];
	raft_term	applied_term[H_MAX + 1][512];
	int			role_changes[H_MAX + 1];
	raft_time	lease[H_MAX + 1];
	bool		membership_changed[H_MAX + 1];	/* seen in any ready */
} h_net;

/* Options as the harness sets them for node 'id' (before h_start). */
extern void h_default_options(raft_options *o, raft_id id);

/* Prepare n nodes, all voters, default options (not yet created). */
extern void h_setup(h_net *net, int n);
/* Create the nodes from their (empty or prepared) disks. */
extern void h_start(h_net *net);
/* h_setup + h_start. */
extern void h_init(h_net *net, int n);
/* h_setup with CheckQuorum (and so stickiness) on, PreVote as given. */
extern void h_setup_sticky(h_net *net, int n, bool prevote);
/* h_setup_sticky + h_start. */
extern void h_init_sticky(h_net *net, int n, bool prevote);
extern void h_destroy(h_net *net);

/* Give node 'id' a persisted log of the given terms (before h_start). */
extern void h_preload(h_net *net, raft_id id, const raft_term *terms, int count,
					  raft_term term);

extern raft_node *h_node(h_net *net, raft_id id);

/*
 * cmocka fixtures: a test set up by one finds its cluster in *state;
 * h_teardown destroys and frees it.  h_fixture allocates the (zeroed)
 * cluster for a fixture of a test file's own.
 */
extern h_net *h_fixture(void **state);
extern int	h_teardown(void **state);
/* A test entry whose cluster the fixture 'setup' makes. */
#define H_TEST(test, setup) \
	cmocka_unit_test_setup_teardown(test, setup, h_teardown)
/* Three voters, started. */
extern int	h_three(void **state);
/* Three voters, node 1 elected leader (h_elect). */
extern int	h_three_led(void **state);
/* Three sticky voters (h_init_sticky, PreVote on). */
extern int	h_sticky(void **state);
/* h_sticky, node 1 elected. */
extern int	h_sticky_elected(void **state);
/* h_sticky_elected, and one heartbeat round later: all caught up. */
extern int	h_sticky_led(void **state);

/* Process node id's ready: persist, queue messages, count commits, advance. */
extern bool h_ready(h_net *net, raft_id id);
/* Process every node's ready (until none has one). */
extern void h_flush(h_net *net);

/* Deliver queued messages (and the replies they cause) until quiet. */
extern void h_deliver(h_net *net);
/* Deliver only the messages currently queued (one hop). */
extern void h_deliver_once(h_net *net);
/* Drop every queued message. */
extern void h_clear(h_net *net);
/* Deliver one queued message by position, removing it from the queue. */
extern void h_deliver_at(h_net *net, size_t i);

/* Advance the clock by dt and tick node id (0: every live node). */
extern void h_tick(h_net *net, raft_id id, raft_time dt);
/* Run for 'ms': tick everyone every 'step' ms and deliver everything. */
extern void h_run(h_net *net, raft_time ms, raft_time step);

/* Make node id leader through an ordinary election. */
extern void h_elect(h_net *net, raft_id id);
/*
 * Node id times out and wins in one round trip (vote requests, then the
 * answers, one hop each); its first APPENDs stay queued.  Returns it,
 * checked to be leader.
 */
extern raft_node *h_win(h_net *net, raft_id id);
/* Make node 1 leader, its first APPENDs left undelivered (cleared). */
extern void h_elect_quietly(h_net *net);

/* Isolate a node (cut both ways with everyone) or heal all cuts. */
extern void h_isolate(h_net *net, raft_id id);
extern void h_heal(h_net *net);

/* Crash node id (drops its undelivered output) and restart it from disk. */
extern void h_crash(h_net *net, raft_id id);
extern void h_restart(h_net *net, raft_id id);

/* Queued message counts and lookup. */
extern size_t h_count(h_net *net, int type, raft_id from, raft_id to);
extern const raft_message *h_find(h_net *net, int type, raft_id from, raft_id to);

/* Number of nodes that are leader in 'term' (0: any term). */
extern int	h_leaders(h_net *net, raft_term term);
/* The single leader among live nodes, or 0. */
extern raft_id h_leader(h_net *net);

/* A zeroed message of 'type' from -> to in 'term'. */
extern raft_message h_msg_make(int type, raft_id from, raft_id to, raft_term term);
/* A successful APPEND_RESPONSE from -> to: match index, echoed send time. */
extern raft_message h_ack_make(raft_id from, raft_id to, raft_term term,
							   raft_index match, raft_time echo);
/* Fill ents[0..n-1] with NORMAL entries of 'term', indexes first.. (no data). */
extern void h_entries(raft_entry *ents, int n, raft_term term, raft_index first);
/* A VOTE or PREVOTE request from -> to with the given last log entry. */
extern raft_message h_vote_make(int type, raft_id from, raft_id to,
								raft_term term, raft_index last_index,
								raft_term last_term);

/*
 * Tick every live node by 1 ms and deliver, until a message of 'type'
 * from -> to is queued (not delivered) or max_ms have passed.  Returns the
 * time it was queued, 0 if it never was.
 */
extern raft_time h_run_until_queued(h_net *net, int type, raft_id from,
									raft_id to, raft_time max_ms);

/* Propose a NORMAL entry with a short payload on node id. */
extern int	h_propose(h_net *net, raft_id id, const char *text, raft_index *index);

/* Whether two nodes' logs agree entry by entry up to 'upto'. */
extern bool h_logs_match(h_net *net, raft_id a, raft_id b, raft_index upto);

#endif							/* HARNESS_H */
