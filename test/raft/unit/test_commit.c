/*
 * test_commit.c
 *	  Unit tests of commitment (Raft paper sections 5.3 and 5.4.2): when an
 *	  entry commits on the leader and on followers, and that only entries of
 *	  the current term commit by counting (Figure 8).  Named after the
 *	  rules they check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Rule: an entry is committed once a majority holds it; it is applied. */
static void
test_leader_commit_entry(void **state)
{
	h_net	   *net = *state;
	raft_index	idx;

	assert_int_equal(h_propose(net, 1, "x", &idx), RAFT_OK);
	h_deliver(net);
	assert_int_equal(raft_commit_index(h_node(net, 1)), idx);
	assert_int_equal(net->applied[1], idx);
	/* followers learn the commit index from the leader */
	h_run(net, H_HB, 1);
	for (int i = 2; i <= 3; i++)
	{
		assert_int_equal(raft_commit_index(h_node(net, (raft_id) i)), idx);
		assert_int_equal(net->applied[i], idx);
	}
}

/* Rule: commit needs acknowledgements from a majority (5 nodes). */
static void
test_leader_acknowledge_commit(void **state)
{
	struct
	{
		int			acks;		/* acknowledgements from nodes 2.. */
		bool		committed;
	}			cases[] = {{0, false}, {1, false}, {2, true}, {3, true}, {4, true}};

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		h_net		net;
		raft_index	idx;

		h_init(&net, 5);
		h_elect(&net, 1);
		h_propose(&net, 1, "y", &idx);
		h_clear(&net);
		for (int i = 0; i < cases[c].acks; i++)
		{
			raft_message m = h_ack_make((raft_id) (2 + i), 1,
										raft_get_term(h_node(&net, 1)),
										idx, 0);

			raft_receive(h_node(&net, 1), &m, net.now);
		}
		assert_int_equal(raft_commit_index(h_node(&net, 1)) == idx,
						 cases[c].committed);
		h_destroy(&net);
	}
}

/* The leader's own log counts towards commit only once it is durable. */
static void
test_leader_own_log_counts_after_advance(void **state)
{
	h_net	   *net = *state;
	raft_index	idx;
	raft_message m;
	raft_node  *l = h_node(net, 1);

	assert_int_equal(h_propose(net, 1, "z", &idx), RAFT_OK);
	/* no ready processed: the entry is not durable on the leader yet */
	m = h_ack_make(2, 1, raft_get_term(l), idx, 0);
	raft_receive(l, &m, net->now);
	assert_int_equal(raft_commit_index(l), idx - 1);
	h_ready(net, 1);
	assert_int_equal(raft_commit_index(l), idx);
}

/* A single-node cluster commits its own entries after advance. */
static void
test_single_node_commits(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	h_init(&net, 1);
	h_tick(&net, 1, H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_LEADER);
	h_flush(&net);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), 1);
	h_propose(&net, 1, "solo", &idx);
	h_flush(&net);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), idx);
	assert_int_equal(net.applied[1], idx);
	h_destroy(&net);
}

/* Rule: committing an entry commits all preceding ones, of any term. */
static void
test_leader_commit_preceding_entries(void **state)
{
	raft_term	logs[][3] = {{1, 0, 0}, {1, 2, 0}, {1, 1, 2}};
	int			lens[] = {1, 2, 3};

	(void) state;
	for (int c = 0; c < 3; c++)
	{
		h_net		net;
		raft_node  *l;

		h_setup(&net, 3);
		for (int i = 1; i <= 3; i++)
			h_preload(&net, (raft_id) i, logs[c], lens[c], 2);
		h_start(&net);
		h_elect(&net, 1);
		l = h_node(&net, 1);
		assert_int_equal(raft_commit_index(l), (raft_index) lens[c] + 1);
		assert_int_equal(net.applied[1], (raft_index) lens[c] + 1);
		for (int i = 1; i <= lens[c]; i++)
			assert_int_equal(net.applied_term[1][i], logs[c][i - 1]);
		assert_int_equal(net.applied_term[1][lens[c] + 1], raft_get_term(l));
		h_destroy(&net);
	}
}

/* Rule: a follower commits min(leader commit, index of last new entry). */
static void
test_follower_commit_entry(void **state)
{
	struct
	{
		int			n_entries;
		raft_index	commit;
		raft_index	want;
	}			cases[] = {{1, 1, 1}, {2, 2, 2}, {2, 1, 1}, {2, 10, 2}, {0, 5, 0}};

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		h_net		net;
		raft_message m;
		raft_entry	ents[2];

		h_init(&net, 3);
		h_entries(ents, 2, 1, 1);
		m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);
		m.n_entries = (uint32_t) cases[c].n_entries;
		m.entries = ents;
		m.commit = cases[c].commit;
		raft_receive(h_node(&net, 1), &m, net.now);
		assert_int_equal(raft_commit_index(h_node(&net, 1)), cases[c].want);
		h_flush(&net);
		assert_int_equal(net.applied[1], cases[c].want);
		h_destroy(&net);
	}
}

/* Rule (5.4.2): only entries of the current term commit by counting. */
static void
test_leader_only_commits_log_from_current_term(void **state)
{
	raft_term	terms[] = {1, 2};
	struct
	{
		raft_index	ack;
		raft_index	commit;
	}			cases[] = {{1, 0}, {2, 0}, {3, 3}};

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		h_net		net;
		raft_message m;

		h_setup(&net, 3);
		for (int i = 1; i <= 3; i++)
			h_preload(&net, (raft_id) i, terms, 2, 2);
		h_start(&net);
		h_elect_quietly(&net);
		assert_int_equal(raft_get_term(h_node(&net, 1)), 3);
		m = h_ack_make(2, 1, 3, cases[c].ack, 0);
		raft_receive(h_node(&net, 1), &m, net.now);
		assert_int_equal(raft_commit_index(h_node(&net, 1)), cases[c].commit);
		h_destroy(&net);
	}
}

/* The paper's Figure 8: an old-term entry on a majority is not committed. */
static void
test_figure8_old_term_entry_not_committed(void **state)
{
	h_net		net;
	raft_term	s1[] = {1, 2};
	raft_term	s2[] = {1, 2};
	raft_term	s5[] = {1, 3};
	/* node i's log: the first lens[i] entries of logs[i] */
	const raft_term *logs[] = {NULL, s1, s2, s1, s1, s5};
	const int	lens[] = {0, 2, 2, 1, 1, 2};
	raft_message m;
	raft_node  *l;

	(void) state;
	h_setup(&net, 5);
	for (raft_id id = 1; id <= 5; id++)
		h_preload(&net, id, logs[id], lens[id], 3);
	h_start(&net);
	h_elect_quietly(&net);
	l = h_node(&net, 1);
	assert_int_equal(raft_get_term(l), 4);
	/* index 2 (term 2) reaches node 3: a majority, but not of this term */
	for (raft_id id = 2; id <= 3; id++)
	{
		m = h_ack_make(id, 1, 4, 2, 0);
		raft_receive(l, &m, net.now);
	}
	assert_int_equal(raft_commit_index(l), 0);
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_leader_commit_entry, h_three_led),
		cmocka_unit_test(test_leader_acknowledge_commit),
		H_TEST(test_leader_own_log_counts_after_advance, h_three_led),
		cmocka_unit_test(test_single_node_commits),
		cmocka_unit_test(test_leader_commit_preceding_entries),
		cmocka_unit_test(test_follower_commit_entry),
		cmocka_unit_test(test_leader_only_commits_log_from_current_term),
		cmocka_unit_test(test_figure8_old_term_entry_not_committed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
