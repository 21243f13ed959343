/*
 * test_node.c
 *	  Unit tests of the node's plumbing: options, creation, restoring the
 *	  persisted log, the ready/advance contract, the allocator, observers,
 *	  and the rule that bad input is counted and dropped, never asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Counting allocator. */
typedef struct counting
{
	int			allocs;
	int			frees;
	int			fail_after;		/* <0: never fail */
} counting;

/* Counting allocator: alloc (fails once fail_after reaches 0). */
static void *
c_alloc(void *ctx, size_t size)
{
	counting   *c = ctx;

	if (c->fail_after == 0)
		return NULL;
	if (c->fail_after > 0)
		c->fail_after--;
	c->allocs++;
	return malloc(size);
}

/* Counting allocator: realloc. */
static void *
c_realloc(void *ctx, void *ptr, size_t size)
{
	counting   *c = ctx;

	if (c->fail_after == 0)
		return NULL;
	if (c->fail_after > 0)
		c->fail_after--;
	return realloc(ptr, size);
}

/* Counting allocator: free. */
static void
c_free(void *ctx, void *ptr)
{
	counting   *c = ctx;

	c->frees++;
	free(ptr);
}

/* Options defaults and validation. */
static void
test_options_defaults_and_validation(void **state)
{
	raft_options o;
	const char *why = NULL;

	(void) state;
	raft_options_init(&o, 7);
	assert_int_equal(o.id, 7);
	assert_int_equal(o.heartbeat_interval, 100);
	assert_int_equal(o.election_timeout, 1000);
	assert_int_equal(o.election_spread, 500);
	assert_int_equal(o.lease_drift_margin, 100);
	assert_int_equal(raft_options_validate(&o, &why), RAFT_OK);

	o.id = 0;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	assert_non_null(why);
	raft_options_init(&o, 1);
	o.election_timeout = 2 * o.heartbeat_interval;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	raft_options_init(&o, 1);
	o.lease_drift_margin = o.election_timeout;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	raft_options_init(&o, 1);
	o.heartbeat_interval = 0;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	raft_options_init(&o, 1);
	o.election_spread = -1;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	raft_options_init(&o, 1);
	o.free = c_free;
	assert_int_equal(raft_options_validate(&o, &why), RAFT_EINVAL);
	assert_int_equal(raft_options_validate(NULL, &why), RAFT_EINVAL);
}

/* raft_new refuses bad options and bad bootstrap memberships. */
static void
test_new_refuses_bad_input(void **state)
{
	raft_options o;
	raft_membership m;
	raft_hard_state hs = {0, 0, 0};
	raft_node  *n;

	(void) state;
	memset(&m, 0, sizeof(m));
	raft_options_init(&o, 0);
	assert_null(raft_new(&o, &hs, &m, 0));
	raft_options_init(&o, 1);
	m.count = 2;
	m.members[0].id = 1;
	m.members[1].id = 1;
	assert_null(raft_new(&o, &hs, &m, 0));
	m.members[1].id = 0;
	assert_null(raft_new(&o, &hs, &m, 0));
	m.count = RAFT_MAX_MEMBERS + 1;
	assert_null(raft_new(&o, &hs, &m, 0));
	hs.voted_for = 2;			/* a vote in term 0 cannot exist */
	m.count = 1;
	m.members[0].id = 1;
	m.members[0].voter = true;
	assert_null(raft_new(&o, &hs, &m, 0));
	hs.voted_for = 0;
	n = raft_new(&o, &hs, &m, 0);
	assert_non_null(n);
	assert_int_equal(raft_self(n), 1);
	assert_true(raft_is_voter(n, 1));
	raft_free(n);
	raft_free(NULL);
}

/* A simple entry for restore tests. */
static raft_entry
entry(raft_index index, raft_term term)
{
	raft_entry	e;

	memset(&e, 0, sizeof(e));
	e.index = index;
	e.term = term;
	e.type = RAFT_ENTRY_NORMAL;
	return e;
}

/* Create a lone node 1 (in a 3-voter configuration) with hard state hs. */
static raft_node *
lone_node(raft_hard_state hs)
{
	h_net		net;
	raft_node  *n;

	h_setup(&net, 3);
	n = raft_new(&net.opts[1], &hs, &net.boot, H_T0);
	assert_non_null(n);
	return n;
}

/* Restore: entries in index order from 1, terms never going backwards. */
static void
test_restore_entry_ordering(void **state)
{
	raft_hard_state hs = {5, 2, 2};
	raft_node  *n;
	raft_entry	e;

	(void) state;
	n = lone_node(hs);
	e = entry(2, 1);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);	/* gap */
	e = entry(1, 2);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_OK);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);	/* again */
	e = entry(2, 1);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);	/* backwards */
	e = entry(2, 0);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);
	e = entry(2, 3);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_OK);
	e = entry(3, 3);
	e.type = 42;
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);	/* bad type */
	e = entry(3, 3);
	e.len = 5;					/* data missing */
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);
	e.len = RAFT_MAX_ENTRY_DATA + 1;
	e.data = (const uint8_t *) "x";
	assert_int_equal(raft_restore_entry(n, &e), RAFT_ECORRUPT);
	assert_int_equal(raft_last_index(n), 2);
	assert_int_equal(raft_last_term(n), 3);
	assert_int_equal(raft_commit_index(n), 2);
	assert_int_equal(raft_get_term(n), 5);
	assert_int_equal(raft_get_vote(n), 2);
	/* after the first input, restoring is over */
	raft_tick(n, H_T0 + 1);
	e = entry(3, 3);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_EINVAL);
	raft_free(n);
}

/* Restore: the lazily persisted commit never exceeds the restored log. */
static void
test_restore_commit_clamped(void **state)
{
	raft_hard_state hs = {3, 0, 10};
	raft_node  *n;
	raft_entry	e;

	(void) state;
	n = lone_node(hs);
	e = entry(1, 1);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_OK);
	e = entry(2, 1);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_OK);
	assert_int_equal(raft_commit_index(n), 2);
	/* already applied before the restart: not handed out again */
	assert_false(raft_has_ready(n));
	raft_free(n);
}

/* Restore: an entry newer than the persisted term raises the term. */
static void
test_restore_entry_newer_than_term(void **state)
{
	raft_hard_state hs = {2, 3, 0};
	raft_node  *n;
	raft_entry	e;
	raft_ready	r;

	(void) state;
	n = lone_node(hs);
	e = entry(1, 4);
	assert_int_equal(raft_restore_entry(n, &e), RAFT_OK);
	assert_int_equal(raft_get_term(n), 4);
	assert_int_equal(raft_get_vote(n), RAFT_NOBODY);
	assert_true(raft_has_ready(n));
	raft_get_ready(n, &r);
	assert_true(r.hard_state_changed);
	assert_int_equal(r.hard_state.term, 4);
	assert_int_equal(r.n_entries, 0);
	raft_advance(n, H_T0);
	raft_free(n);
}

/* Receive a message on node 1 of a fresh 3-node net; return the stats. */
static raft_stats
receive_one(const raft_message *m)
{
	h_net		net;
	raft_stats	s;

	h_init(&net, 3);
	raft_receive(h_node(&net, 1), m, net.now);
	s = *raft_get_stats(h_node(&net, 1));
	assert_int_equal(raft_get_term(h_node(&net, 1)), 0);
	assert_int_equal(raft_last_index(h_node(&net, 1)), 0);
	h_destroy(&net);
	return s;
}

/* Impossible messages are counted as invalid and dropped. */
static void
test_invalid_messages_dropped(void **state)
{
	raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG + 1];
	raft_message m;

	(void) state;
	h_entries(ents, RAFT_MAX_ENTRIES_PER_MSG + 1, 1, 1);

	m = h_msg_make(RAFT_MSG_APPEND, 2, 3, 1);	/* not for us */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 1, 1, 1);	/* from ourselves */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 0, 1, 1);	/* from nobody */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(0, 2, 1, 1);	/* unknown types */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_TYPE_MAX + 1, 2, 1, 1);
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);	/* too many entries */
	m.n_entries = RAFT_MAX_ENTRIES_PER_MSG + 1;
	m.entries = ents;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m.n_entries = 2;			/* entries missing */
	m.entries = NULL;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m.entries = ents + 1;		/* not following prev_log_index */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	ents[1].index = 5;			/* not consecutive */
	m.entries = ents;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	ents[1].index = 2;
	ents[1].term = 2;			/* entry newer than the message */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	ents[1].term = 1;
	ents[1].type = 0;			/* bad entry type */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	ents[1].type = RAFT_ENTRY_NORMAL;
	ents[1].len = RAFT_MAX_ENTRY_DATA + 1;	/* too big */
	ents[1].data = (const uint8_t *) "x";
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	ents[1].len = 0;
	ents[1].data = NULL;
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);	/* prev term without index */
	m.prev_log_term = 1;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);	/* prev term newer than msg */
	m.prev_log_index = 3;
	m.prev_log_term = 4;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);	/* index overflow */
	m.prev_log_index = UINT64_MAX - 1;
	m.prev_log_term = 1;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 0);	/* request of term 0 */
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 1);	/* log term beyond its term */
	m.last_log_index = 1;
	m.last_log_term = 2;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_PREVOTE, 2, 1, 1);	/* term without index */
	m.last_log_term = 1;
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 2, 1, 0);
	assert_int_equal(receive_one(&m).msgs_dropped_invalid, 1);
	assert_int_equal(receive_one(NULL).msgs_dropped_invalid, 1);
}

/* A leader drops acknowledgements of entries it never had. */
static void
test_match_index_beyond_log_dropped(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *l = h_node(net, 1);

	m = h_ack_make(2, 1, raft_get_term(l), raft_last_index(l) + 1, 0);
	raft_receive(l, &m, net->now);
	assert_int_equal(raft_get_stats(l)->msgs_dropped_invalid, 1);
}

/* Messages from non-members: dropped and counted (APPEND accepted). */
static void
test_messages_from_non_members(void **state)
{
	raft_message m;
	raft_entry	e = entry(1, 1);
	h_net		net;

	(void) state;
	m = h_msg_make(RAFT_MSG_VOTE, 9, 1, 1);
	assert_int_equal(receive_one(&m).msgs_dropped_unknown, 1);
	m = h_msg_make(RAFT_MSG_PREVOTE, 9, 1, 1);
	assert_int_equal(receive_one(&m).msgs_dropped_unknown, 1);
	m = h_msg_make(RAFT_MSG_APPEND_RESPONSE, 9, 1, 0);
	assert_int_equal(receive_one(&m).msgs_dropped_unknown, 1);
	m = h_msg_make(RAFT_MSG_VOTE_RESPONSE, 9, 1, 0);
	assert_int_equal(receive_one(&m).msgs_dropped_unknown, 1);

	/* an APPEND from a leader we do not know yet is accepted */
	h_init(&net, 3);
	m = h_msg_make(RAFT_MSG_APPEND, 9, 1, 1);
	m.n_entries = 1;
	m.entries = &e;
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_int_equal(raft_last_index(h_node(&net, 1)), 1);
	assert_int_equal(raft_get_leader(h_node(&net, 1)), 9);
	assert_true(h_find(&net, RAFT_MSG_APPEND_RESPONSE, 1, 9)->success);
	/* and a stale one from a stranger is answered with our term */
	h_clear(&net);
	raft_receive(h_node(&net, 1), &(raft_message) {
		.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 7}, net.now);
	m.term = 6;
	m.n_entries = 0;
	m.from = 8;
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_int_equal(h_find(&net, RAFT_MSG_APPEND_RESPONSE, 1, 8)->term, 7);
	assert_false(h_find(&net, RAFT_MSG_APPEND_RESPONSE, 1, 8)->success);
	h_destroy(&net);
}

/* A second leader claiming the same term is refused. */
static void
test_second_leader_same_term_dropped(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *f = h_node(net, 2);

	m = h_msg_make(RAFT_MSG_APPEND, 3, 2, raft_get_term(f));
	m.prev_log_index = 1;
	m.prev_log_term = 1;
	raft_receive(f, &m, net->now);
	assert_int_equal(raft_get_leader(f), 1);
	assert_int_equal(raft_get_stats(f)->msgs_dropped_invalid, 1);
}

/* Every allocation goes through the allocator and is given back. */
static void
test_allocator_used_and_balanced(void **state)
{
	h_net		net;
	counting	c[4];

	(void) state;
	memset(c, 0, sizeof(c));
	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
	{
		c[i].fail_after = -1;
		net.opts[i].alloc = c_alloc;
		net.opts[i].realloc = c_realloc;
		net.opts[i].free = c_free;
		net.opts[i].alloc_ctx = &c[i];
	}
	h_start(&net);
	h_elect(&net, 1);
	for (int i = 0; i < 100; i++)
		h_propose(&net, 1, "payload payload", NULL);
	h_run(&net, 5 * H_HB, 1);
	h_destroy(&net);
	for (int i = 1; i <= 3; i++)
	{
		assert_true(c[i].allocs > 1);
		assert_int_equal(c[i].allocs, c[i].frees);
	}
}

/* Allocation failure: NULL node, RAFT_ENOMEM proposals, no crash. */
static void
test_allocation_failure(void **state)
{
	h_net		net;
	counting	c = {0, 0, 0};
	raft_node  *n;
	raft_message m;
	raft_entry	e = entry(1, 1);

	(void) state;
	h_setup(&net, 1);
	net.opts[1].alloc = c_alloc;
	net.opts[1].realloc = c_realloc;
	net.opts[1].free = c_free;
	net.opts[1].alloc_ctx = &c;
	assert_null(raft_new(&net.opts[1], NULL, &net.boot, 0));

	c.fail_after = -1;
	n = raft_new(&net.opts[1], NULL, &net.boot, 0);
	assert_non_null(n);
	raft_tick(n, H_ET + H_SPREAD);
	c.fail_after = 0;
	assert_int_equal(raft_get_role(n), RAFT_LEADER);
	assert_int_equal(raft_propose(n, RAFT_ENTRY_NORMAL, (const uint8_t *) "x", 1,
								  NULL), RAFT_ENOMEM);
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 9);
	m.n_entries = 1;
	m.entries = &e;
	raft_receive(n, &m, 3 * H_ET);
	raft_tick(n, 4 * H_ET);
	c.fail_after = -1;
	while (raft_has_ready(n))
	{
		raft_ready	r;

		raft_get_ready(n, &r);
		raft_advance(n, 4 * H_ET);
	}
	raft_free(n);
	assert_int_equal(c.allocs, c.frees);
}

/* Ready pointers stay valid until advance, whatever happens meanwhile. */
static void
test_ready_pointers_valid_until_advance(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_ready	r;
	raft_message m;
	raft_entry	e = entry(2, 9);
	char		copy[16];

	h_propose(net, 1, "keep me", NULL);
	raft_get_ready(l, &r);
	assert_true(r.n_messages >= 1);
	assert_int_equal(r.messages[0].n_entries, 1);
	/* against the contract: a new leader truncates our entry meanwhile */
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 9);
	m.prev_log_index = 1;
	m.prev_log_term = 1;
	m.n_entries = 1;
	m.entries = &e;
	raft_receive(l, &m, net->now);
	assert_int_equal(raft_get_role(l), RAFT_FOLLOWER);
	for (int i = 0; i < 100; i++)
		raft_propose(l, RAFT_ENTRY_NORMAL, (const uint8_t *) "z", 1, NULL);
	memcpy(copy, r.messages[0].entries[0].data, 7);
	assert_memory_equal(copy, "keep me", 7);
	assert_memory_equal(r.entries[0].data, "keep me", 7);
	raft_advance(l, net->now);
	/* the truncation is handed out next */
	raft_get_ready(l, &r);
	assert_int_equal(r.truncate_from, 2);
	assert_int_equal(r.n_entries, 1);
	assert_int_equal(r.entries[0].term, 9);
	raft_advance(l, net->now);
}

/* A second get_ready before advance hands out only what is new. */
static void
test_get_ready_twice_hands_out_only_new(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_ready	r1;
	raft_ready	r2;
	raft_index	i1;
	raft_index	i2;

	h_propose(net, 1, "a", &i1);
	raft_get_ready(l, &r1);
	assert_int_equal(r1.n_entries, 1);
	assert_int_equal(r1.entries[0].index, i1);
	assert_int_equal(r1.n_messages, 2);
	assert_false(raft_has_ready(l));
	h_propose(net, 1, "b", &i2);
	assert_true(raft_has_ready(l));
	raft_get_ready(l, &r2);
	assert_int_equal(r2.n_entries, 1);
	assert_int_equal(r2.entries[0].index, i2);
	assert_int_equal(r2.n_messages, 2);
	assert_int_equal(r2.messages[0].entries[0].index, i2);
	assert_int_equal(r2.n_committed, 0);
	raft_advance(l, net->now);
	assert_false(raft_has_ready(l));
	assert_int_equal(raft_last_index(l), i2);
}

/* A small deterministic generator for the garbage test. */
static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random, mostly nonsensical messages and ticks: the engine must neither
 * crash nor let its commit index go backwards (run under ASan/UBSan too).
 */
static void
test_random_garbage_never_crashes(void **state)
{
	h_net		net;
	uint64_t	seed = 88172645463325252ULL;
	raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG + 2];
	uint8_t		payload[32];
	raft_index	commit[4] = {0};

	(void) state;
	memset(payload, 0xAB, sizeof(payload));
	h_init(&net, 3);
	for (int i = 0; i < 200000; i++)
	{
		raft_message m;
		raft_id		to = (raft_id) (1 + xorshift(&seed) % 3);
		raft_node  *n = h_node(&net, to);

		memset(&m, 0, sizeof(m));
		m.type = (uint8_t) (xorshift(&seed) % 9);
		m.from = (raft_id) (xorshift(&seed) % 5);
		m.to = xorshift(&seed) % 8 == 0 ? (raft_id) 7 : to;
		/* near the receiver's own term and log, to get past the checks */
		m.term = raft_get_term(n) + xorshift(&seed) % 3;
		if (m.term > 0 && xorshift(&seed) % 4 == 0)
			m.term--;
		m.last_log_index = raft_last_index(n) + xorshift(&seed) % 3;
		m.last_log_term = m.term - (m.term > 0 ? xorshift(&seed) % 2 : 0);
		m.transfer = xorshift(&seed) % 4 == 0;
		m.granted = xorshift(&seed) % 2;
		m.prev_log_index = xorshift(&seed) % (raft_last_index(n) + 2);
		m.prev_log_term = raft_last_term(n) + xorshift(&seed) % 2;
		if (m.prev_log_term > m.term)
			m.prev_log_term = m.term;
		m.commit = raft_last_index(n) + xorshift(&seed) % 4;
		m.success = xorshift(&seed) % 2;
		m.match_index = xorshift(&seed) % (raft_last_index(n) + 2);
		m.reject_hint = xorshift(&seed) % 10;
		m.echo = (raft_time) (xorshift(&seed) % 100000);
		m.n_entries = (uint32_t) (xorshift(&seed) % 4);
		if (xorshift(&seed) % 50 == 0)
			m.n_entries = RAFT_MAX_ENTRIES_PER_MSG + 1;
		for (uint32_t e = 0; e < m.n_entries && e < RAFT_MAX_ENTRIES_PER_MSG + 1; e++)
		{
			ents[e].index = m.prev_log_index + 1 + e +
				(xorshift(&seed) % 20 == 0 ? 1 : 0);
			ents[e].term = m.term - (m.term > 0 ? xorshift(&seed) % 2 : 0);
			ents[e].type = (uint8_t) (xorshift(&seed) % 4);
			ents[e].len = (uint32_t) (xorshift(&seed) % 3 == 0 ? 8 : 0);
			ents[e].data = ents[e].len > 0 ? payload : NULL;
		}
		m.entries = m.n_entries > 0 ? ents : NULL;
		raft_receive(n, &m, net.now);
		if (i % 7 == 0)
			h_tick(&net, 0, (raft_time) (xorshift(&seed) % 50));
		if (i % 3 == 0)
			h_clear(&net);
		if (i % 1000 == 0)
			h_deliver(&net);
		for (int k = 1; k <= 3; k++)
		{
			raft_index	c = raft_commit_index(h_node(&net, (raft_id) k));

			assert_true(c >= commit[k]);
			assert_true(c <= raft_last_index(h_node(&net, (raft_id) k)));
			commit[k] = c;
		}
	}
	for (int k = 1; k <= 3; k++)
	{
		const raft_stats *st = raft_get_stats(h_node(&net, (raft_id) k));

		/* the generator reaches past validation into every handler */
		assert_true(st->msgs_received > st->msgs_dropped_invalid +
					st->msgs_dropped_unknown + st->msgs_dropped_stale);
		if (getenv("RAFT_TEST_VERBOSE"))
			printf("node %d: recv %lu invalid %lu unknown %lu stale %lu term %lu last %lu commit %lu\n",
				   k, (unsigned long) st->msgs_received,
				   (unsigned long) st->msgs_dropped_invalid,
				   (unsigned long) st->msgs_dropped_unknown,
				   (unsigned long) st->msgs_dropped_stale,
				   (unsigned long) raft_get_term(h_node(&net, (raft_id) k)),
				   (unsigned long) raft_last_index(h_node(&net, (raft_id) k)),
				   (unsigned long) commit[k]);
	}
	h_destroy(&net);
}

/* Observers: names, strerror, progress. */
static void
test_names_and_observers(void **state)
{
	h_net		net;
	raft_peer_progress p;

	(void) state;
	assert_string_equal(raft_role_name(RAFT_FOLLOWER), "follower");
	assert_string_equal(raft_role_name(RAFT_PRECANDIDATE), "precandidate");
	assert_string_equal(raft_role_name(RAFT_CANDIDATE), "candidate");
	assert_string_equal(raft_role_name(RAFT_LEADER), "leader");
	assert_string_equal(raft_msg_type_name(RAFT_MSG_PREVOTE), "prevote");
	assert_string_equal(raft_msg_type_name(RAFT_MSG_VOTE), "vote");
	assert_string_equal(raft_msg_type_name(RAFT_MSG_APPEND), "append");
	assert_string_equal(raft_msg_type_name(RAFT_MSG_TIMEOUT_NOW), "timeout_now");
	assert_string_equal(raft_msg_type_name(99), "unknown");
	for (int rc = RAFT_ECORRUPT; rc <= RAFT_OK; rc++)
		assert_non_null(raft_strerror(rc));
	assert_string_equal(raft_strerror(RAFT_OK), "success");
	assert_string_equal(raft_strerror(12345), "unknown error");

	h_init(&net, 3);
	assert_false(raft_get_progress(h_node(&net, 1), 2, &p));
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	assert_true(raft_get_progress(h_node(&net, 1), 2, &p));
	assert_int_equal(p.match_index, 1);
	assert_int_equal(p.next_index, 2);
	assert_true(p.last_contact > 0 && p.last_contact <= net.now);
	assert_false(raft_get_progress(h_node(&net, 1), 9, &p));
	assert_false(raft_get_progress(h_node(&net, 2), 3, &p));
	assert_int_equal(raft_get_leader(h_node(&net, 2)), 1);
	assert_true(raft_last_leader_contact(h_node(&net, 2)) > 0);
	h_destroy(&net);
}

/* Time going backwards is ignored rather than trusted. */
static void
test_time_never_goes_backwards(void **state)
{
	h_net	   *net = *state;
	raft_node  *n = h_node(net, 1);

	raft_tick(n, 0);
	raft_tick(n, -5);
	assert_int_equal(raft_get_role(n), RAFT_FOLLOWER);
	raft_tick(n, H_T0 + H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(n), RAFT_CANDIDATE);
}

/* A node restarted mid-run rejoins without disturbing the cluster. */
static void
test_restart_rejoins(void **state)
{
	h_net	   *net = *state;
	raft_index	idx;

	h_propose(net, 1, "before", &idx);
	h_run(net, 2 * H_HB, 1);
	h_crash(net, 3);
	h_propose(net, 1, "while down", &idx);
	h_run(net, 2 * H_HB, 1);
	h_restart(net, 3);
	h_run(net, 3 * H_HB, 1);
	assert_int_equal(raft_last_index(h_node(net, 3)), idx);
	assert_true(h_logs_match(net, 1, 3, idx));
	assert_int_equal(h_leader(net), 1);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_defaults_and_validation),
		cmocka_unit_test(test_new_refuses_bad_input),
		cmocka_unit_test(test_restore_entry_ordering),
		cmocka_unit_test(test_restore_commit_clamped),
		cmocka_unit_test(test_restore_entry_newer_than_term),
		cmocka_unit_test(test_invalid_messages_dropped),
		H_TEST(test_match_index_beyond_log_dropped, h_three_led),
		cmocka_unit_test(test_messages_from_non_members),
		H_TEST(test_second_leader_same_term_dropped, h_three_led),
		cmocka_unit_test(test_allocator_used_and_balanced),
		cmocka_unit_test(test_allocation_failure),
		H_TEST(test_ready_pointers_valid_until_advance, h_three_led),
		H_TEST(test_get_ready_twice_hands_out_only_new, h_three_led),
		cmocka_unit_test(test_random_garbage_never_crashes),
		cmocka_unit_test(test_names_and_observers),
		H_TEST(test_time_never_goes_backwards, h_three),
		H_TEST(test_restart_rejoins, h_three_led),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
