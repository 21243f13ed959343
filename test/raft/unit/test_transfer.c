/*
 * test_transfer.c
 *	  Unit tests of leadership transfer (TimeoutNow, Raft thesis 3.10),
 *	  including the wait for the target's position (max_position_lag).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* n nodes, PreVote and CheckQuorum on, node 1 leading, all caught up. */
static void
init_led(h_net *net, int n)
{
	h_init_sticky(net, n, true);
	h_elect(net, 1);
	h_run(net, H_HB, 1);
}

/* A caught-up target gets TIMEOUT_NOW at once and wins. */
static void
test_transfer_to_caught_up_follower(void **state)
{
	h_net	   *net = *state;
	raft_term	term;
	const raft_message *m;

	term = raft_get_term(h_node(net, 1));
	assert_int_equal(raft_transfer_leadership(h_node(net, 1), 2, net->now), RAFT_OK);
	assert_int_equal(raft_transfer_target(h_node(net, 1)), 2);
	assert_int_equal(h_count(net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 1);
	h_deliver_once(net);
	/* the target campaigns at once, without PreVote, flagged as transfer */
	assert_int_equal(raft_get_role(h_node(net, 2)), RAFT_CANDIDATE);
	m = h_find(net, RAFT_MSG_VOTE, 2, 3);
	assert_non_null(m);
	assert_true(m->transfer);
	assert_int_equal(h_count(net, RAFT_MSG_PREVOTE, 2, 0), 0);
	h_deliver(net);
	assert_int_equal(raft_get_role(h_node(net, 2)), RAFT_LEADER);
	assert_int_equal(raft_get_term(h_node(net, 2)), term + 1);
	assert_int_equal(raft_get_role(h_node(net, 1)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_leader(h_node(net, 1)), 2);
	assert_int_equal(raft_get_stats(h_node(net, 1))->transfers_abandoned, 0);
}

/* A lagging target is brought up to date first. */
static void
test_transfer_to_lagging_follower(void **state)
{
	h_net	   *net = *state;
	raft_index	idx;

	h_isolate(net, 2);
	for (int i = 0; i < 5; i++)
		h_propose(net, 1, "catch me", &idx);
	h_deliver(net);
	h_heal(net);
	assert_true(raft_last_index(h_node(net, 2)) < idx);
	assert_int_equal(raft_transfer_leadership(h_node(net, 1), 2, net->now), RAFT_OK);
	assert_int_equal(h_count(net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 0);
	assert_int_equal(h_count(net, RAFT_MSG_APPEND, 1, 2), 1);
	h_deliver(net);
	assert_int_equal(raft_get_role(h_node(net, 2)), RAFT_LEADER);
	assert_true(raft_last_index(h_node(net, 2)) > idx);
	assert_true(h_logs_match(net, 1, 2, idx));
}

/* A transfer that cannot even start (target unreachable) is abandoned. */
static void
test_transfer_abandoned_after_election_timeout(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);

	h_isolate(net, 2);
	h_propose(net, 1, "x", NULL);
	h_run(net, 1, 1);
	assert_int_equal(raft_transfer_leadership(l, 2, net->now), RAFT_OK);
	h_run(net, H_ET - 1, 1);
	assert_int_equal(raft_transfer_target(l), 2);
	h_run(net, 1, 1);
	assert_int_equal(raft_transfer_target(l), RAFT_NOBODY);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 1);
	/* TIMEOUT_NOW never left: carry on leading, lease and proposals back */
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	h_run(net, H_HB, 1);
	assert_true(raft_has_lease(l, net->now));
	assert_int_equal(h_propose(net, 1, "y", NULL), RAFT_OK);
}

/*
 * TIMEOUT_NOW was sent but the target's election failed: the leader steps
 * down when abandoning, since it may never hold a lease again in its term.
 */
static void
test_transfer_abandoned_after_timeout_now_steps_down(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);

	assert_int_equal(raft_transfer_leadership(l, 2, net->now), RAFT_OK);
	h_flush(net);
	net->cut[2][1] = true;		/* the target's vote requests get lost */
	net->cut[2][3] = true;
	h_run(net, H_ET + 1, 1);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 1);
	assert_int_not_equal(raft_get_role(l), RAFT_LEADER);
	assert_false(raft_has_lease(l, net->now));
	h_heal(net);
	h_run(net, 5 * H_ET, 1);
	assert_int_equal(h_leaders(net, 0), 1);
}

/*
 * A target that has not answered for an election timeout is refused up
 * front: nothing is sent, the leader keeps its lease and its term.
 */
static void
test_transfer_to_silent_target_refused(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_term	term;

	term = raft_get_term(l);
	h_isolate(net, 2);
	h_run(net, H_ET, 1);
	assert_int_equal(raft_transfer_leadership(l, 2, net->now), RAFT_EUNREACHABLE);
	assert_int_equal(raft_transfer_target(l), RAFT_NOBODY);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_true(raft_has_lease(l, net->now));
	h_run(net, 2 * H_ET, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(raft_get_term(l), term);
	assert_int_equal(h_count(net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 0);
}

/* While transferring, the leader refuses proposals. */
static void
test_transfer_refuses_proposals(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_change c;

	h_isolate(net, 3);
	assert_int_equal(raft_transfer_leadership(l, 3, net->now), RAFT_OK);
	assert_int_equal(h_propose(net, 1, "no", NULL), RAFT_EBUSY);
	memset(&c, 0, sizeof(c));
	c.op = RAFT_CHANGE_REMOVE;
	c.id = 2;
	assert_int_equal(raft_propose_change(l, &c, NULL), RAFT_EBUSY);
	assert_int_equal(raft_transfer_leadership(l, 2, net->now), RAFT_EBUSY);
}

/* Bad transfer requests are refused with the right code. */
static void
test_transfer_errors(void **state)
{
	h_net	   *net = *state;

	assert_int_equal(raft_transfer_leadership(h_node(net, 2), 3, net->now),
					 RAFT_ENOTLEADER);
	assert_int_equal(raft_transfer_leadership(h_node(net, 1), 1, net->now),
					 RAFT_EINVAL);
	assert_int_equal(raft_transfer_leadership(h_node(net, 1), 9, net->now),
					 RAFT_EUNKNOWN);
	assert_int_equal(raft_transfer_leadership(h_node(net, 1), 0, net->now),
					 RAFT_EINVAL);
	assert_int_equal(raft_get_role(h_node(net, 1)), RAFT_LEADER);
	assert_int_equal(raft_transfer_target(h_node(net, 1)), RAFT_NOBODY);
}

/* TIMEOUT_NOW makes a PreVote node campaign directly. */
static void
test_timeout_now_skips_prevote(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *f;

	h_clear(net);
	f = h_node(net, 3);
	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 1, 3, raft_get_term(f));
	raft_receive(f, &m, net->now);
	assert_int_equal(raft_get_role(f), RAFT_CANDIDATE);
	assert_int_equal(raft_get_stats(f)->prevotes_started, 0);
	assert_true(h_find(net, RAFT_MSG_VOTE, 3, 1)->transfer);
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
	h_net	   *net = *state;
	raft_message m;
	raft_node  *f = h_node(net, 3);

	m = h_msg_make(RAFT_MSG_TIMEOUT_NOW, 2, 3, raft_get_term(f));
	raft_receive(f, &m, net->now);
	assert_int_equal(raft_get_role(f), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(f)->msgs_dropped_invalid, 1);
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

/*
 * Positions in the tests below: timeline 1, LSN in "minor", a tolerance of
 * POS_LAG; the leader (a primary) is a little ahead of its standbys.
 */
#define POS_LAG 100

/* Set node id's position to (major, minor). */
static void
set_pos(h_net *net, raft_id id, uint64_t major, uint64_t minor)
{
	raft_set_position(h_node(net, id), H_POS(major, minor));
}

/*
 * 3 nodes with a finite position tolerance, node 1 leading at LSN 10000,
 * node 2 at 'target_lsn', node 3 level with the leader (so without the
 * target's catching up, both other voters would refuse it).  One heartbeat
 * round later the leader knows everyone's position.
 */
static void
init_positions(h_net *net, uint64_t target_lsn)
{
	h_setup_sticky(net, 3, true);
	for (int i = 1; i <= 3; i++)
		net->opts[i].max_position_lag = POS_LAG;
	h_start(net);
	set_pos(net, 1, 1, 10000);
	set_pos(net, 2, 1, target_lsn);
	set_pos(net, 3, 1, 10000);
	h_elect(net, 1);
	h_run(net, H_HB, 1);
}

/* The leader records the position each follower reports. */
static void
test_progress_records_follower_position(void **state)
{
	h_net		net;
	raft_peer_progress p;
	raft_message m;

	(void) state;
	init_positions(&net, 9000);
	assert_true(raft_get_progress(h_node(&net, 1), 2, &p));
	assert_true(p.position.major == 1 && p.position.minor == 9000);
	assert_true(raft_get_progress(h_node(&net, 1), 1, &p));
	assert_true(p.position.major == 1 && p.position.minor == 10000);
	/* each heartbeat's answer brings the newest */
	set_pos(&net, 2, 1, 9500);
	h_run(&net, H_HB, 1);
	assert_true(raft_get_progress(h_node(&net, 1), 2, &p));
	assert_true(p.position.minor == 9500);
	/* so does a refusal */
	m = h_msg_make(RAFT_MSG_APPEND_RESPONSE, 3, 1,
				   raft_get_term(h_node(&net, 1)));
	m.reject_hint = raft_last_index(h_node(&net, 1));
	m.position = H_POS(1, 10001);
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_true(raft_get_progress(h_node(&net, 1), 3, &p));
	assert_true(p.position.major == 1 && p.position.minor == 10001);
	h_destroy(&net);
}

/*
 * A target whose log is complete but whose position trails by more than
 * the tolerance is not sent TIMEOUT_NOW (it would lose: the leader and
 * node 3 would refuse it).  It gets a heartbeat at once, and TIMEOUT_NOW
 * at its first response once its position is within the tolerance.
 */
static void
test_transfer_waits_for_target_position(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_term	term;
	raft_time	start;

	(void) state;
	init_positions(&net, 9000);
	l = h_node(&net, 1);
	term = raft_get_term(l);
	assert_int_equal(raft_last_index(h_node(&net, 2)), raft_last_index(l));
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	assert_int_equal(h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 0);
	assert_int_equal(h_count(&net, RAFT_MSG_APPEND, 1, 2), 1);
	assert_false(raft_has_lease(l, net.now));

	/* its answers, heartbeat after heartbeat, report it still behind */
	h_run(&net, 5 * H_HB, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(raft_transfer_target(l), 2);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(h_node(&net, 2))->elections_started, 0);
	assert_false(raft_has_lease(l, net.now));

	/* its WAL catches up to within the tolerance (not all the way) */
	set_pos(&net, 2, 1, 10000 - POS_LAG);
	start = net.now;
	while (h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2) == 0)
	{
		assert_true(net.now - start <= H_HB + 1);
		h_tick(&net, 0, 1);
		h_deliver_once(&net);
	}
	h_deliver(&net);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_LEADER);
	assert_int_equal(raft_get_term(h_node(&net, 2)), term + 1);
	assert_int_equal(raft_get_leader(h_node(&net, 1)), 2);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 0);
	h_destroy(&net);
}

/*
 * The target never catches up: the transfer is abandoned after ET without
 * TIMEOUT_NOW, and the leader keeps leading, its term and then its lease.
 */
static void
test_transfer_abandoned_when_position_stays_behind(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_term	term;

	(void) state;
	init_positions(&net, 9000);
	l = h_node(&net, 1);
	term = raft_get_term(l);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	h_run(&net, H_ET - 1, 1);
	assert_int_equal(raft_transfer_target(l), 2);
	assert_false(raft_has_lease(l, net.now));
	h_run(&net, 1, 1);
	assert_int_equal(raft_transfer_target(l), RAFT_NOBODY);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(raft_get_term(l), term);
	assert_int_equal(raft_get_stats(h_node(&net, 2))->elections_started, 0);
	h_run(&net, H_HB, 1);
	assert_true(raft_has_lease(l, net.now));
	assert_int_equal(h_propose(&net, 1, "still here", NULL), RAFT_OK);
	h_destroy(&net);
}

/*
 * Whether TIMEOUT_NOW goes out at once (the target's log being complete),
 * given the leader's and the target's positions and the tolerance.
 */
static bool
timeout_now_at_once(raft_position leader, raft_position target, uint64_t lag)
{
	h_net		net;
	bool		sent;

	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
		net.opts[i].max_position_lag = lag;
	h_start(&net);
	h_elect(&net, 1);
	raft_set_position(h_node(&net, 1), leader);
	raft_set_position(h_node(&net, 2), target);
	h_run(&net, H_HB, 1);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 2, net.now),
					 RAFT_OK);
	sent = h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2) == 1;
	/* not ready: a heartbeat instead, for a fresh report */
	if (!sent)
		assert_int_equal(h_count(&net, RAFT_MSG_APPEND, 1, 2), 1);
	h_destroy(&net);
	return sent;
}

/* Unknown positions ({0, 0}) and positions within the tolerance: no wait. */
static void
test_transfer_position_rule(void **state)
{
	(void) state;
	/* unknown on either side, or both: only the log counts */
	assert_true(timeout_now_at_once(H_POS(0, 0),
									H_POS(1, 5), POS_LAG));
	assert_true(timeout_now_at_once(H_POS(1, 10000),
									H_POS(0, 0), POS_LAG));
	assert_true(timeout_now_at_once(H_POS(0, 0),
									H_POS(0, 0), 0));
	/* within the tolerance, level, or ahead */
	assert_true(timeout_now_at_once(H_POS(1, 10000),
									H_POS(1, 10000 - POS_LAG),
									POS_LAG));
	assert_true(timeout_now_at_once(H_POS(1, 10000),
									H_POS(1, 10000), 0));
	assert_true(timeout_now_at_once(H_POS(1, 10000),
									H_POS(2, 1), 0));
	/* no tolerance set (the default): anything goes */
	assert_true(timeout_now_at_once(H_POS(2, 10000),
									H_POS(1, 1),
									RAFT_POSITION_ANY));
	/* too far behind, or on an older timeline: wait */
	assert_false(timeout_now_at_once(H_POS(1, 10000),
									 H_POS(1, 10000 - POS_LAG - 1),
									 POS_LAG));
	assert_false(timeout_now_at_once(H_POS(1, 10000),
									 H_POS(1, 9999), 0));
	assert_false(timeout_now_at_once(H_POS(2, 10),
									 H_POS(1, 20000), POS_LAG));
}

/*
 * Rule (transfer hold): TIMEOUT_NOW waits transfer_hold after the lease was
 * dropped, since a commit the fence let through under that lease may still
 * be completing, and the target's campaign skips stickiness.
 */
static void
test_timeout_now_held_after_lease_drop(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_time	dropped;
	raft_time	sent_at;

	(void) state;
	h_setup_sticky(&net, 3, true);
	net.opts[1].transfer_hold = 25;
	h_start(&net);
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	l = h_node(&net, 1);
	assert_true(raft_lease_until(l) > net.now + 25);
	dropped = net.now;
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	assert_int_equal(raft_lease_until(l), 0);
	sent_at = h_run_until_queued(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2, 2 * H_ET);
	assert_int_equal(sent_at, dropped + 25);
	h_deliver(&net);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_LEADER);
	assert_int_equal(raft_get_stats(l)->transfers_abandoned, 0);
	h_destroy(&net);
}

/* The hold never outlasts the dropped lease: no commit can outlast it. */
static void
test_timeout_now_hold_capped_by_lease(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_time	lease;
	raft_time	sent_at;

	(void) state;
	h_setup_sticky(&net, 3, true);
	net.opts[1].transfer_hold = 10 * H_ET;
	h_start(&net);
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	l = h_node(&net, 1);
	lease = raft_lease_until(l);
	assert_true(lease > net.now);
	assert_int_equal(raft_transfer_leadership(l, 2, net.now), RAFT_OK);
	sent_at = h_run_until_queued(&net, RAFT_MSG_TIMEOUT_NOW, 1, 2, 2 * H_ET);
	assert_int_equal(sent_at, lease);
	h_deliver(&net);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_LEADER);
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_transfer_to_caught_up_follower, h_sticky_led),
		H_TEST(test_transfer_to_lagging_follower, h_sticky_led),
		H_TEST(test_transfer_abandoned_after_election_timeout, h_sticky_led),
		H_TEST(test_transfer_abandoned_after_timeout_now_steps_down, h_sticky_led),
		H_TEST(test_transfer_to_silent_target_refused, h_sticky_led),
		H_TEST(test_transfer_refuses_proposals, h_sticky_led),
		H_TEST(test_transfer_errors, h_sticky_led),
		H_TEST(test_timeout_now_skips_prevote, h_sticky_led),
		cmocka_unit_test(test_timeout_now_ignored_by_never_campaign),
		H_TEST(test_timeout_now_from_non_leader_dropped, h_sticky_led),
		cmocka_unit_test(test_transfer_back_and_forth),
		cmocka_unit_test(test_progress_records_follower_position),
		cmocka_unit_test(test_transfer_waits_for_target_position),
		cmocka_unit_test(test_transfer_abandoned_when_position_stays_behind),
		cmocka_unit_test(test_transfer_position_rule),
		cmocka_unit_test(test_timeout_now_held_after_lease_drop),
		cmocka_unit_test(test_timeout_now_hold_capped_by_lease),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
