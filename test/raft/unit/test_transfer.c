/*
 * test_transfer.c
 *	  Unit tests of leadership transfer (TimeoutNow, Raft thesis 3.10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* 3 nodes, PreVote and CheckQuorum on, node 1 leading, all caught up. */
static void
init_led(h_net *net, int n)
{
	h_setup(net, n);
	for (int i = 1; i <= n; i++)
	{
		net->opts[i].prevote = true;
		net->opts[i].check_quorum = true;
	}
	h_start(net);
	h_elect(net, 1);
	h_run(net, H_HB, 1);
}

/* A caught-up target gets TIMEOUT_NOW at once and wins. */
static void
test_transfer_to_caught_up_follower(void **state)
{
	h_net		net;
	raft_term	term;
	const raft_message *m;

	(void) state;
	init_led(&net, 3);
	term = raft_get_term(h_node(&net, 1));
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 2, net.now), RAFT_OK);
	assert_int_equal(raft_transfer_target(h_node(&net, 1)), 2);
	assert_int_equal(h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 1);
	h_deliver_once(&net);
	/* the target campaigns at once, without PreVote, flagged as transfer */
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_CANDIDATE);
	m = h_find(&net, RAFT_MSG_VOTE, 2, 3);
	assert_non_null(m);
	assert_true(m->transfer);
	assert_int_equal(h_count(&net, RAFT_MSG_PREVOTE, 2, 0), 0);
	h_deliver(&net);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_LEADER);
	assert_int_equal(raft_get_term(h_node(&net, 2)), term + 1);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_leader(h_node(&net, 1)), 2);
	assert_int_equal(raft_get_stats(h_node(&net, 1))->transfers_abandoned, 0);
	h_destroy(&net);
}

/* A lagging target is brought up to date first. */
static void
test_transfer_to_lagging_follower(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	init_led(&net, 3);
	h_isolate(&net, 2);
	for (int i = 0; i < 5; i++)
		h_propose(&net, 1, "catch me", &idx);
	h_deliver(&net);
	h_heal(&net);
	assert_true(raft_last_index(h_node(&net, 2)) < idx);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 2, net.now), RAFT_OK);
	assert_int_equal(h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 0);
	assert_int_equal(h_count(&net, RAFT_MSG_APPEND, 1, 2), 1);
	h_deliver(&net);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_LEADER);
	assert_true(raft_last_index(h_node(&net, 2)) > idx);
	assert_true(h_logs_match(&net, 1, 2, idx));
	h_destroy(&net);
}

/* A transfer that cannot even start (target unreachable) is abandoned. */
static void
test_transfer_abandoned_after_election_timeout(void **state)
{
	h_net		net;
	raft_node  *l;

	(void) state;
	init_led(&net, 3);
	l = h_node(&net, 1);
	h_isolate(&net, 2);
	h_propose(&net, 1, "x", NULL);
	h_run(&net, 1, 1);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	h_run(&net, H_ET - 1, 1);
	assert_int_equal(raft_transfer_target(l), 2);
	h_run(&net, 1, 1);
	assert_int_equal(raft_transfer_target(l), RAFT_NOBODY);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 1);
	/* TIMEOUT_NOW never left: carry on leading, lease and proposals back */
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	h_run(&net, H_HB, 1);
	assert_true(raft_has_lease(l, net.now));
	assert_int_equal(h_propose(&net, 1, "y", NULL), RAFT_OK);
	h_destroy(&net);
}

/*
 * TIMEOUT_NOW was sent but the target's election failed: the leader steps
 * down when abandoning, since it may never hold a lease again in its term.
 */
static void
test_transfer_abandoned_after_timeout_now_steps_down(void **state)
{
	h_net		net;
	raft_node  *l;

	(void) state;
	init_led(&net, 3);
	l = h_node(&net, 1);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	h_flush(&net);
	net.cut[2][1] = true;		/* the target's vote requests get lost */
	net.cut[2][3] = true;
	h_run(&net, H_ET + 1, 1);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 1);
	assert_int_not_equal(raft_get_role(l), RAFT_LEADER);
	assert_false(raft_has_lease(l, net.now));
	h_heal(&net);
	h_run(&net, 5 * H_ET, 1);
	assert_int_equal(h_leaders(&net, 0), 1);
	h_destroy(&net);
}

/*
 * A target that has not answered for an election timeout is refused up
 * front: nothing is sent, the leader keeps its lease and its term.
 */
static void
test_transfer_to_silent_target_refused(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_term	term;

	(void) state;
	init_led(&net, 3);
	l = h_node(&net, 1);
	term = raft_get_term(l);
	h_isolate(&net, 2);
	h_run(&net, H_ET, 1);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_EUNREACHABLE);
	assert_int_equal(raft_transfer_target(l), RAFT_NOBODY);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_true(raft_has_lease(l, net.now));
	h_run(&net, 2 * H_ET, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(raft_get_term(l), term);
	assert_int_equal(h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 0);
	h_destroy(&net);
}

/* While transferring, the leader refuses proposals. */
static void
test_transfer_refuses_proposals(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_change c;

	(void) state;
	init_led(&net, 3);
	l = h_node(&net, 1);
	h_isolate(&net, 3);
	assert_int_equal(raft_transfer_leadership(l, 3, net.now), RAFT_OK);
	assert_int_equal(h_propose(&net, 1, "no", NULL), RAFT_EBUSY);
	memset(&c, 0, sizeof(c));
	c.op = RAFT_CHANGE_REMOVE;
	c.id = 2;
	assert_int_equal(raft_propose_change(l, &c, NULL), RAFT_EBUSY);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_EBUSY);
	h_destroy(&net);
}

/* Bad transfer requests are refused with the right code. */
static void
test_transfer_errors(void **state)
{
	h_net		net;

	(void) state;
	init_led(&net, 3);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 2), 3, net.now),
					 RAFT_ENOTLEADER);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 1, net.now),
					 RAFT_EINVAL);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 9, net.now),
					 RAFT_EUNKNOWN);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 0, net.now),
					 RAFT_EINVAL);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_LEADER);
	assert_int_equal(raft_transfer_target(h_node(&net, 1)), RAFT_NOBODY);
	h_destroy(&net);
}

/* TIMEOUT_NOW makes a PreVote node campaign directly. */
static void
test_timeout_now_skips_prevote(void **state)
{
	h_net		net;
	raft_message m;
	raft_node  *f;

	(void) state;
	init_led(&net, 3);
	h_clear(&net);
	f = h_node(&net, 3);
	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 1, 3, raft_get_term(f));
	raft_receive(f, &m, net.now);
	assert_int_equal(raft_get_role(f), RAFT_CANDIDATE);
	assert_int_equal(raft_get_stats(f)->prevotes_started, 0);
	assert_true(h_find(&net, RAFT_MSG_VOTE, 3, 1)->transfer);
	h_destroy(&net);
}

/* A node that never campaigns ignores TIMEOUT_NOW. */
static void
test_timeout_now_ignored_by_never_campaign(void **state)
{
	h_net		net;
	raft_message m;
	raft_node  *f;

	(void) state;
	h_setup(&net, 3);
	net.opts[3].never_campaign = true;
	h_start(&net);
	h_elect(&net, 1);
	f = h_node(&net, 3);
	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 1, 3, raft_get_term(f));
	raft_receive(f, &m, net.now);
	assert_int_equal(raft_get_role(f), RAFT_FOLLOWER);
	h_destroy(&net);
}

/* TIMEOUT_NOW from someone other than our leader is refused. */
static void
test_timeout_now_from_non_leader_dropped(void **state)
{
	h_net		net;
	raft_message m;
	raft_node  *f;

	(void) state;
	init_led(&net, 3);
	f = h_node(&net, 3);
	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 2, 3, raft_get_term(f));
	raft_receive(f, &m, net.now);
	assert_int_equal(raft_get_role(f), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(f)->msgs_dropped_invalid, 1);
	h_destroy(&net);
}

/* Transfer in a 5-node cluster, twice in a row. */
static void
test_transfer_back_and_forth(void **state)
{
	h_net		net;

	(void) state;
	init_led(&net, 5);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 4, net.now), RAFT_OK);
	h_run(&net, H_HB, 1);
	assert_int_equal(h_leader(&net), 4);
	h_run(&net, H_HB, 1);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 4), 1, net.now), RAFT_OK);
	h_run(&net, H_HB, 1);
	assert_int_equal(h_leader(&net), 1);
	assert_int_equal(h_leaders(&net, 0), 1);
	h_run(&net, H_HB, 1);
	assert_true(raft_has_lease(h_node(&net, 1), net.now));
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer_to_caught_up_follower),
		cmocka_unit_test(test_transfer_to_lagging_follower),
		cmocka_unit_test(test_transfer_abandoned_after_election_timeout),
		cmocka_unit_test(test_transfer_abandoned_after_timeout_now_steps_down),
		cmocka_unit_test(test_transfer_to_silent_target_refused),
		cmocka_unit_test(test_transfer_refuses_proposals),
		cmocka_unit_test(test_transfer_errors),
		cmocka_unit_test(test_timeout_now_skips_prevote),
		cmocka_unit_test(test_timeout_now_ignored_by_never_campaign),
		cmocka_unit_test(test_timeout_now_from_non_leader_dropped),
		cmocka_unit_test(test_transfer_back_and_forth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
