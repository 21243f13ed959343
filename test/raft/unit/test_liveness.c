/*
 * test_liveness.c
 *	  Unit tests of PreVote, CheckQuorum, leader stickiness and the leader's
 *	  lease: the mechanisms that keep a rejoining or partitioned node from
 *	  disrupting a healthy leader, and that let a leader know that nobody
 *	  else can be elected for a while.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Fixture: three sticky voters without PreVote, node 1 elected. */
static int
sticky_no_prevote_elected(void **state)
{
	h_net	   *net = h_fixture(state);

	h_init_sticky(net, 3, false);
	h_elect(net, 1);
	return 0;
}

/* Fixture: five sticky voters with PreVote. */
static int
sticky_five(void **state)
{
	h_init_sticky(h_fixture(state), 5, true);
	return 0;
}

/*
 * One heartbeat round of leader 1, its acknowledgements back 'delay' ms
 * later; returns when the round was sent.
 */
static raft_time
lease_round(h_net *net, raft_time delay)
{
	raft_time	sent;

	h_clear(net);
	h_tick(net, 1, H_HB);
	sent = net->now;
	net->now += delay;
	h_deliver(net);
	return sent;
}

/*
 * The answer of type 'reply' that m's addressee sends back when m reaches
 * it at time 'at' (the harness clock is set to 'at', the queue emptied).
 */
static const raft_message *
answer_at(h_net *net, const raft_message *m, int reply, raft_time at)
{
	h_clear(net);
	net->now = at;
	raft_receive(h_node(net, m->to), m, at);
	return h_find(net, reply, m->to, m->from);
}

/* Rule (PreVote): a precandidate asks with term + 1 but keeps its term. */
static void
test_prevote_does_not_change_term(void **state)
{
	h_net	   *net = *state;
	raft_node  *n = h_node(net, 1);
	const raft_message *m;

	h_tick(net, 1, H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(n), RAFT_PRECANDIDATE);
	assert_int_equal(raft_get_term(n), 0);
	assert_int_equal(raft_get_vote(n), RAFT_NOBODY);
	assert_int_equal(h_count(net, RAFT_MSG_PREVOTE, 1, 0), 2);
	m = h_find(net, RAFT_MSG_PREVOTE, 1, 2);
	assert_int_equal(m->term, 1);
	assert_int_equal(net->disk[1].hs.term, 0);
	assert_int_equal(raft_get_stats(n)->prevotes_started, 1);
	assert_int_equal(raft_get_stats(n)->elections_started, 0);
}

/* Rule (PreVote): a voter answers without changing its term or vote. */
static void
test_prevote_voter_keeps_term_and_vote(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	const raft_message *r;
	raft_node  *v = h_node(net, 2);

	h_tick(net, 0, H_ET);		/* stickiness of a fresh node has expired */
	m = h_msg_make(RAFT_MSG_PREVOTE, 1, 2, 1);
	r = answer_at(net, &m, RAFT_MSG_PREVOTE_RESPONSE, net->now);
	assert_non_null(r);
	assert_true(r->granted);
	assert_int_equal(r->term, 1);
	assert_int_equal(raft_get_term(v), 0);
	assert_int_equal(raft_get_vote(v), RAFT_NOBODY);
	/* a second precandidate gets the same answer: nothing was promised */
	m = h_msg_make(RAFT_MSG_PREVOTE, 3, 2, 1);
	assert_true(answer_at(net, &m, RAFT_MSG_PREVOTE_RESPONSE, net->now)->granted);
}

/* A PreVote round won by a majority turns into a real election. */
static void
test_prevote_win_starts_election(void **state)
{
	h_net	   *net = *state;

	assert_int_equal(raft_get_term(h_node(net, 1)), 1);
	assert_int_equal(raft_get_stats(h_node(net, 1))->prevotes_started, 1);
	assert_int_equal(raft_get_stats(h_node(net, 1))->elections_started, 1);
}

/* PreVote applies the log restriction too. */
static void
test_prevote_refused_log_behind(void **state)
{
	h_net		net;
	raft_term	terms[] = {1, 1};
	raft_message m;
	const raft_message *r;

	(void) state;
	h_setup(&net, 3);
	net.opts[2].prevote = true;
	h_preload(&net, 2, terms, 2, 1);
	h_start(&net);
	m = h_vote_make(RAFT_MSG_PREVOTE, 1, 2, 2, 1, 1);
	raft_receive(h_node(&net, 2), &m, net.now);
	r = h_find(&net, RAFT_MSG_PREVOTE_RESPONSE, 2, 1);
	assert_false(r->granted);
	assert_int_equal(r->refusal, RAFT_VOTE_LOG_BEHIND);
	assert_int_equal(r->term, 1);
	assert_int_equal(raft_get_term(h_node(&net, 2)), 1);
	h_destroy(&net);
}

/* A precandidate refused by a majority goes back to follower. */
static void
test_prevote_lost(void **state)
{
	h_net		net;
	raft_node  *n;

	(void) state;
	h_setup(&net, 3);
	net.opts[1].prevote = true;
	h_start(&net);
	n = h_node(&net, 1);
	h_tick(&net, 1, H_ET + H_SPREAD);
	h_clear(&net);
	for (raft_id id = 2; id <= 3; id++)
	{
		raft_message m = h_msg_make(RAFT_MSG_PREVOTE_RESPONSE, id, 1, 0);

		/* refusals carry the voter's own term (here 0, like ours) */
		m.granted = false;
		m.refusal = RAFT_VOTE_LOG_BEHIND;
		raft_receive(n, &m, net.now);
	}
	assert_int_equal(raft_get_role(n), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(n), 0);
	h_destroy(&net);
}

/* Cut node 3 off for 'ms' (5 ms steps); returns node 1's term before. */
static raft_term
isolate_node3(h_net *net, raft_time ms)
{
	raft_term	term = raft_get_term(h_node(net, 1));

	h_isolate(net, 3);
	h_run(net, ms, 5);
	return term;
}

/* A node rejoining after a partition neither inflates terms nor deposes. */
static void
test_prevote_rejoining_node_does_not_disrupt(void **state)
{
	h_net	   *net = *state;
	raft_term	term;

	term = isolate_node3(net, 20 * H_ET);
	assert_int_equal(raft_get_term(h_node(net, 3)), term);
	assert_int_equal(raft_get_role(h_node(net, 1)), RAFT_LEADER);
	h_heal(net);
	h_run(net, 5 * H_ET, 5);
	assert_int_equal(raft_get_role(h_node(net, 1)), RAFT_LEADER);
	assert_int_equal(raft_get_term(h_node(net, 1)), term);
	assert_int_equal(raft_get_leader(h_node(net, 3)), 1);
}

/* Without PreVote, the same isolated node does inflate its term. */
static void
test_without_prevote_isolated_node_inflates_term(void **state)
{
	h_net	   *net = *state;
	raft_term	term;

	term = isolate_node3(net, 10 * H_ET);
	assert_true(raft_get_term(h_node(net, 3)) > term + 2);
}

/* Rule (CheckQuorum): a leader cut off from a majority steps down. */
static void
test_check_quorum_leader_steps_down(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);

	h_isolate(net, 1);
	h_run(net, H_ET - H_HB - 1, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	h_run(net, H_HB + 2, 1);
	assert_int_equal(raft_get_role(l), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(l)->leader_stepdowns, 1);
	assert_false(raft_has_lease(l, net->now));
}

/* CheckQuorum: one lost follower of three does not matter. */
static void
test_check_quorum_leader_stays_with_majority(void **state)
{
	h_net	   *net = *state;

	(void) isolate_node3(net, 10 * H_ET);
	assert_int_equal(raft_get_role(h_node(net, 1)), RAFT_LEADER);
}

/* Rule (stickiness): a follower of a live leader refuses votes. */
static void
sticky_refusal(int type)
{
	h_net		net;
	raft_message m;
	const raft_message *r;
	raft_node  *f;
	raft_term	term;

	h_init_sticky(&net, 3, true);
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	f = h_node(&net, 2);
	term = raft_get_term(f);
	m = h_vote_make(type, 3, 2, term + 1, 10, term);
	raft_receive(f, &m, net.now);
	r = h_find(&net, type + 1, 2, 3);
	assert_non_null(r);
	assert_false(r->granted);
	assert_int_equal(r->refusal, RAFT_VOTE_LEADER_ALIVE);
	/* and the higher term is not adopted */
	assert_int_equal(raft_get_term(f), term);
	assert_int_equal(raft_get_leader(f), 1);
	h_destroy(&net);
}

/* Stickiness applies to VOTE. */
static void
test_stickiness_refuses_vote(void **state)
{
	(void) state;
	sticky_refusal(RAFT_MSG_VOTE);
}

/* Stickiness applies to PREVOTE. */
static void
test_stickiness_refuses_prevote(void **state)
{
	(void) state;
	sticky_refusal(RAFT_MSG_PREVOTE);
}

/* The leader itself refuses (sticky) and stays leader. */
static void
test_leader_refuses_vote_with_check_quorum(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *l = h_node(net, 1);

	m = h_vote_make(RAFT_MSG_VOTE, 3, 1, raft_get_term(l) + 1, 5,
					raft_get_term(l));
	raft_receive(l, &m, net->now);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(h_find(net, RAFT_MSG_VOTE_RESPONSE, 1, 3)->refusal,
					 RAFT_VOTE_LEADER_ALIVE);
}

/* Stickiness ends ET after the leader was last heard. */
static void
test_stickiness_expires_after_election_timeout(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *f = h_node(net, 2);
	raft_time	heard;

	heard = raft_last_leader_contact(f);
	assert_int_equal(heard, net->now);
	h_crash(net, 1);
	m = h_vote_make(RAFT_MSG_PREVOTE, 3, 2, raft_get_term(f) + 1, 10,
					raft_get_term(f));
	assert_false(answer_at(net, &m, RAFT_MSG_PREVOTE_RESPONSE,
						   heard + H_ET - 1)->granted);
	assert_true(answer_at(net, &m, RAFT_MSG_PREVOTE_RESPONSE,
						  heard + H_ET)->granted);
}

/* A vote request from a leadership transfer overrides stickiness. */
static void
test_transfer_vote_overrides_stickiness(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	const raft_message *r;
	raft_node  *f = h_node(net, 2);
	raft_term	term;

	term = raft_get_term(f);
	m = h_vote_make(RAFT_MSG_VOTE, 3, 2, term + 1, raft_last_index(f),
					raft_last_term(f));
	m.transfer = true;
	r = answer_at(net, &m, RAFT_MSG_VOTE_RESPONSE, net->now);
	assert_true(r->granted);
	assert_int_equal(raft_get_term(f), term + 1);
	assert_int_equal(raft_get_vote(f), 3);
}

/* A freshly started node behaves as if it had just heard a leader. */
static void
test_new_node_is_sticky(void **state)
{
	h_net	   *net = *state;
	raft_message m;
	raft_node  *f = h_node(net, 2);

	assert_int_equal(raft_last_leader_contact(f), H_T0);
	m = h_msg_make(RAFT_MSG_VOTE, 3, 2, 1);
	assert_int_equal(answer_at(net, &m, RAFT_MSG_VOTE_RESPONSE,
							   H_T0 + H_ET - 1)->refusal,
					 RAFT_VOTE_LEADER_ALIVE);
	assert_int_equal(raft_get_term(f), 0);
	assert_true(answer_at(net, &m, RAFT_MSG_VOTE_RESPONSE,
						  H_T0 + H_ET)->granted);
}

/*
 * Node 2 of three sticky voters restarts having promised 'promise' ms;
 * returns it, with node 3's vote request for term 1 in *m.
 */
static raft_node *
restart_with_promise(h_net *net, raft_time promise, raft_message *m)
{
	h_setup(net, 3);
	for (int i = 1; i <= 3; i++)
		net->opts[i].check_quorum = true;
	net->opts[2].startup_stickiness = promise;
	h_start(net);
	*m = h_msg_make(RAFT_MSG_VOTE, 3, 2, 1);
	return h_node(net, 2);
}

/*
 * Rule (startup stickiness): a node whose election timeout shrank across a
 * restart refuses votes, and does not campaign, for the timeout it promised
 * before (options.startup_stickiness), not only for its new one.
 */
static void
test_new_node_sticky_for_promised_timeout(void **state)
{
	h_net		net;
	raft_message m;
	raft_node  *f;

	(void) state;
	f = restart_with_promise(&net, 3 * H_ET, &m);
	net.now = H_T0 + 3 * H_ET - 1;
	raft_receive(f, &m, net.now);
	assert_int_equal(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 2, 3)->refusal,
					 RAFT_VOTE_LEADER_ALIVE);
	assert_int_equal(raft_get_term(f), 0);
	/* nor does it stand while the promise runs */
	raft_tick(f, net.now);
	assert_int_equal(raft_get_role(f), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(f)->prevotes_started, 0);
	h_clear(&net);
	net.now = H_T0 + 3 * H_ET;
	raft_receive(f, &m, net.now);
	assert_true(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 2, 3)->granted);
	h_destroy(&net);
}

/* A promise shorter than the election timeout changes nothing. */
static void
test_startup_stickiness_below_timeout_is_timeout(void **state)
{
	h_net		net;
	raft_message m;
	raft_node  *f;

	(void) state;
	f = restart_with_promise(&net, H_ET / 2, &m);
	net.now = H_T0 + H_ET - 1;
	raft_receive(f, &m, net.now);
	assert_false(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 2, 3)->granted);
	h_clear(&net);
	net.now = H_T0 + H_ET;
	raft_receive(f, &m, net.now);
	assert_true(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 2, 3)->granted);
	h_destroy(&net);
}

/* Lease: newest majority-acked send time + ET - drift margin. */
static void
test_lease_horizon_value(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_time	sent;

	sent = lease_round(net, 3);	/* the acks take 3 ms to come back */
	assert_int_equal(raft_lease_until(l), sent + H_ET - H_MARGIN);
	assert_true(raft_has_lease(l, sent + H_ET - H_MARGIN - 1));
	assert_false(raft_has_lease(l, sent + H_ET - H_MARGIN));
	assert_int_equal(net->lease[1], sent + H_ET - H_MARGIN);
	/* followers never hold one */
	assert_int_equal(raft_lease_until(h_node(net, 2)), 0);
	assert_false(raft_has_lease(h_node(net, 2), net->now));
}

/* Lease: none until a majority has acknowledged a round of this term. */
static void
test_no_lease_without_majority_ack(void **state)
{
	h_net	   *net = *state;
	raft_node  *l;
	raft_message m;

	h_tick(net, 1, H_ET + H_SPREAD);
	h_deliver_once(net);		/* prevotes */
	h_deliver_once(net);		/* answers -> votes */
	h_deliver_once(net);
	h_deliver_once(net);		/* answers -> leader */
	l = h_node(net, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	h_clear(net);
	assert_int_equal(raft_lease_until(l), 0);
	m = h_ack_make(2, 1, raft_get_term(l), 1, net->now);
	raft_receive(l, &m, net->now);
	assert_int_equal(raft_lease_until(l), 0);	/* 2 of 5 */
	m.from = 3;
	raft_receive(l, &m, net->now + 1);
	assert_int_equal(raft_lease_until(l), net->now + H_ET - H_MARGIN);
}

/* Lease: echoes from the future or from before the term are not trusted. */
static void
test_lease_echo_clamped(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_message m;

	(void) state;
	h_init_sticky(&net, 3, true);
	h_elect(&net, 1);
	l = h_node(&net, 1);
	h_clear(&net);
	m = h_ack_make(2, 1, raft_get_term(l), 1, net.now + 100000);
	raft_receive(l, &m, net.now + 5);
	assert_true(raft_lease_until(l) <= net.now + 5 + H_ET - H_MARGIN);
	h_destroy(&net);
	h_init_sticky(&net, 3, false);
	l = h_win(&net, 1);			/* its APPENDs queued */
	h_clear(&net);
	m = h_ack_make(2, 1, raft_get_term(l), 1, 1);	/* before the leader took office */
	raft_receive(l, &m, net.now);
	m.from = 3;
	raft_receive(l, &m, net.now);
	assert_int_equal(raft_lease_until(l), 0);
	h_destroy(&net);
}

/* Lease: given up as soon as a leadership transfer starts. */
static void
test_no_lease_while_transferring(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_ready	r;

	assert_true(raft_has_lease(l, net->now));
	h_isolate(net, 2);
	assert_int_equal(raft_transfer_leadership(l, 2, net->now), RAFT_OK);
	assert_int_equal(raft_lease_until(l), 0);
	assert_false(raft_has_lease(l, net->now));
	raft_get_ready(l, &r);
	assert_int_equal(r.lease_until, 0);
	raft_advance(l, net->now);
	h_run(net, H_ET / 2, 1);
	assert_int_equal(raft_lease_until(l), 0);
}

/* Lease: an isolated leader's lease runs out, before CheckQuorum acts. */
static void
test_lease_expires_when_isolated(void **state)
{
	h_net	   *net = *state;
	raft_node  *l = h_node(net, 1);
	raft_time	until;

	until = raft_lease_until(l);
	h_isolate(net, 1);
	h_run(net, until - net->now, 1);
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	assert_false(raft_has_lease(l, net->now));
}

/*
 * Lease safety: the leader is cut off; the majority elects a new leader;
 * at no millisecond do two nodes hold an unexpired lease.
 */
static void
test_at_most_one_lease_across_partition(void **state)
{
	h_net	   *net = *state;
	raft_id		old;

	h_elect(net, 1);
	h_run(net, 3 * H_HB, 1);
	old = 1;
	h_isolate(net, old);
	for (int ms = 0; ms < 6 * H_ET; ms++)
	{
		int			holders = 0;

		h_tick(net, 0, 1);
		h_deliver(net);
		for (int i = 1; i <= 5; i++)
			if (raft_has_lease(h_node(net, (raft_id) i), net->now))
				holders++;
		assert_true(holders <= 1);
	}
	assert_int_not_equal(h_leader(net), old);
	assert_true(raft_has_lease(h_node(net, h_leader(net)), net->now));
	h_heal(net);
	h_run(net, 3 * H_ET, 1);
	assert_int_equal(h_leaders(net, 0), 1);
}

/*
 * Rule (lease): the lease ends before any voter of the acknowledging
 * quorum can stop refusing votes -- each voter's stickiness lasts ITS OWN
 * election timeout, which it reports in its APPEND_RESPONSEs.  Leader ET
 * 100 ms, followers 30 ms: sized with the leader's ET the lease ran 90 ms
 * past the last ack while the followers elected a rival after about 35.
 */
static void
test_lease_sized_by_acknowledging_quorum_timeouts(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_time	sent;
	bool		rival = false;

	(void) state;
	h_setup_sticky(&net, 3, true);
	for (int i = 2; i <= 3; i++)
	{
		net.opts[i].election_timeout = 30;
		net.opts[i].election_spread = 5;
	}
	h_start(&net);
	h_elect(&net, 1);
	l = h_node(&net, 1);
	sent = lease_round(&net, 3);
	/* the followers' 30 ms, not the leader's 100 */
	assert_int_equal(raft_lease_until(l), sent + 30 - H_MARGIN);

	h_isolate(&net, 1);
	for (int ms = 0; ms < 3 * H_ET && !rival; ms++)
	{
		h_tick(&net, 0, 1);
		h_deliver(&net);
		for (raft_id id = 2; id <= 3; id++)
			if (raft_get_role(h_node(&net, id)) == RAFT_LEADER)
				rival = true;
		if (rival)
			assert_false(raft_has_lease(l, net.now));
	}
	assert_true(rival);
	h_destroy(&net);
}

/* Lease: the leader's own ET counts too, when it is the smallest. */
static void
test_lease_counts_leader_own_timeout(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_time	sent;

	(void) state;
	h_setup_sticky(&net, 3, true);
	for (int i = 1; i <= 3; i++)
		net.opts[i].election_timeout = i == 2 ? 100 : 30;
	h_start(&net);
	h_elect(&net, 1);
	l = h_node(&net, 1);
	sent = lease_round(&net, 0);
	/*
	 * Sticky until: 1 at now + 30, 2 at sent + 100, 3 at sent + 30.  The
	 * best majority is {1, 2}, bound by the leader's own 30 (counting the
	 * leader with 100 would give {1, 2} until sent + 100).
	 */
	assert_int_equal(raft_lease_until(l), sent + 30 - H_MARGIN);
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST(test_prevote_does_not_change_term, h_sticky),
		H_TEST(test_prevote_voter_keeps_term_and_vote, h_sticky),
		H_TEST(test_prevote_win_starts_election, h_sticky_elected),
		cmocka_unit_test(test_prevote_refused_log_behind),
		cmocka_unit_test(test_prevote_lost),
		H_TEST(test_prevote_rejoining_node_does_not_disrupt, h_sticky_elected),
		H_TEST(test_without_prevote_isolated_node_inflates_term, sticky_no_prevote_elected),
		H_TEST(test_check_quorum_leader_steps_down, h_sticky_led),
		H_TEST(test_check_quorum_leader_stays_with_majority, h_sticky_elected),
		cmocka_unit_test(test_stickiness_refuses_vote),
		cmocka_unit_test(test_stickiness_refuses_prevote),
		H_TEST(test_leader_refuses_vote_with_check_quorum, sticky_no_prevote_elected),
		H_TEST(test_stickiness_expires_after_election_timeout, h_sticky_led),
		H_TEST(test_transfer_vote_overrides_stickiness, h_sticky_led),
		H_TEST(test_new_node_is_sticky, h_sticky),
		H_TEST(test_lease_horizon_value, h_sticky_elected),
		H_TEST(test_no_lease_without_majority_ack, sticky_five),
		cmocka_unit_test(test_lease_echo_clamped),
		H_TEST(test_no_lease_while_transferring, h_sticky_led),
		H_TEST(test_lease_expires_when_isolated, h_sticky_led),
		H_TEST(test_at_most_one_lease_across_partition, sticky_five),
		cmocka_unit_test(test_lease_sized_by_acknowledging_quorum_timeouts),
		cmocka_unit_test(test_lease_counts_leader_own_timeout),
		cmocka_unit_test(test_new_node_sticky_for_promised_timeout),
		cmocka_unit_test(test_startup_stickiness_below_timeout_is_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
