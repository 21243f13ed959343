/*
 * test_election_timer.c
 *	  Unit tests of the election timer, named after its rules: timeouts
 *	  drawn from the whole randomized range and rarely colliding, a
 *	  follower sleeping until its deadline, and what may (a candidate with
 *	  a log at least as new, in our own term) or may not (a stale
 *	  candidate) move the deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/*
 * Measure, many times, how long after being reset a node in 'role' takes to
 * start an election, and check every value of [ET, ET + spread) occurs.
 */
static void
timeout_randomized(raft_role role)
{
	h_net		net;
	raft_node  *n;
	bool		seen[20];
	raft_term	term = 1;

	memset(seen, 0, sizeof(seen));
	h_setup(&net, 3);
	net.opts[1].election_timeout = 10;
	net.opts[1].election_spread = 10;
	net.opts[1].heartbeat_interval = 2;
	net.opts[1].lease_drift_margin = 1;
	h_start(&net);
	n = h_node(&net, 1);
	for (int round = 0; round < 1000; round++)
	{
		raft_time	start;
		raft_time	elapsed;

		if (role == RAFT_FOLLOWER)
		{
			raft_message m = h_msg_make(RAFT_MSG_APPEND, 2, 1, ++term);

			raft_receive(n, &m, net.now);
		}
		h_clear(&net);
		start = net.now;
		for (;;)
		{
			raft_term	before = raft_get_term(n);

			h_tick(&net, 1, 1);
			if (raft_get_term(n) != before)
				break;
			assert_true(net.now - start < 20);
		}
		elapsed = net.now - start;
		assert_true(elapsed >= 10 && elapsed < 20);
		seen[elapsed] = true;
		term = raft_get_term(n);
	}
	for (int t = 10; t < 20; t++)
		assert_true(seen[t]);
	h_destroy(&net);
}

/* Rule: election timeouts are drawn from the whole [ET, ET + spread). */
static void
test_follower_election_timeout_randomized(void **state)
{
	(void) state;
	timeout_randomized(RAFT_FOLLOWER);
}

/* Candidates too redraw their timeout over the whole range. */
static void
test_candidate_election_timeout_randomized(void **state)
{
	(void) state;
	timeout_randomized(RAFT_CANDIDATE);
}

/*
 * Rule: randomized timeouts rarely collide.  Five nodes reset together,
 * 1000 times; at most 30% of rounds see two start an election in the same
 * millisecond.
 */
static void
test_election_timeouts_nonconflicting(void **state)
{
	h_net		net;
	int			conflicts = 0;
	raft_term	term = 1;

	(void) state;
	h_init(&net, 5);
	for (int round = 0; round < 1000; round++)
	{
		int			started = 0;

		for (int i = 1; i <= 5; i++)
		{
			raft_message m = h_msg_make(RAFT_MSG_APPEND, i == 1 ? 2 : 1,
										(raft_id) i, term + 1);

			raft_receive(h_node(&net, (raft_id) i), &m, net.now);
		}
		term++;
		h_clear(&net);
		while (started == 0)
		{
			h_tick(&net, 0, 1);
			for (int i = 1; i <= 5; i++)
				if (raft_get_term(h_node(&net, (raft_id) i)) > term)
					started++;
		}
		if (started > 1)
			conflicts++;
		for (int i = 1; i <= 5; i++)
			if (raft_get_term(h_node(&net, (raft_id) i)) > term)
				term = raft_get_term(h_node(&net, (raft_id) i));
		h_clear(&net);
	}
	assert_true(conflicts <= 300);
	h_destroy(&net);
}

/*
 * Rule (sleeping follower): a non-leader's ticks before
 * raft_election_deadline() change nothing, and the one at it stands; a
 * leader reports 0 (it ticks at the caller's rate).
 */
static void
test_follower_sleeps_until_election_deadline(void **state)
{
	h_net		net;
	raft_node  *f;
	raft_time	deadline;

	(void) state;
	h_init(&net, 3);
	f = h_node(&net, 2);
	deadline = raft_election_deadline(f);
	assert_true(deadline >= H_T0 + H_ET && deadline < H_T0 + H_ET + H_SPREAD);
	for (raft_time t = H_T0; t < deadline; t += 7)
		raft_tick(f, t);
	raft_tick(f, deadline - 1);
	assert_false(raft_has_ready(f));
	assert_int_equal(raft_get_term(f), 0);
	raft_tick(f, deadline);
	assert_int_equal(raft_get_term(f), 1);	/* PreVote off here: stood */
	h_destroy(&net);
	h_init(&net, 3);
	h_elect(&net, 1);
	assert_int_equal(raft_election_deadline(h_node(&net, 1)), 0);
	h_destroy(&net);
}

/*
 * Rule: only a leader's message or a granted vote resets the election
 * timer.  A refused candidate of a higher term must not, or a stale node
 * retrying again and again keeps the up-to-date one from ever standing.
 */
static void
test_refused_vote_does_not_reset_election_timer(void **state)
{
	h_net		net;
	raft_term	newer[] = {1, 1};
	raft_term	older[] = {1};
	raft_message m;
	raft_node  *n;

	(void) state;
	h_setup(&net, 2);
	h_preload(&net, 1, newer, 2, 1);
	h_preload(&net, 2, older, 1, 1);
	h_start(&net);
	n = h_node(&net, 1);
	net.now = H_T0 + H_ET + H_SPREAD - 2;
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 5);
	m.last_log_index = 1;
	m.last_log_term = 1;
	raft_receive(n, &m, net.now);
	assert_false(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2)->granted);
	assert_int_equal(raft_get_term(n), 5);
	h_clear(&net);
	h_tick(&net, 1, 1);			/* the original deadline has passed */
	assert_int_equal(raft_get_role(n), RAFT_CANDIDATE);
	assert_int_equal(raft_get_term(n), 6);
	h_deliver(&net);
	assert_int_equal(raft_get_role(n), RAFT_LEADER);
	h_destroy(&net);
}

/*
 * Rule: a candidate asked for its vote, in its own term, by a candidate
 * whose log is at least as new as its own, draws its next election deadline
 * from then: the other may win where it cannot, and must get the next turn
 * as often as it does.  A candidate with an older log changes nothing.
 * Without the rule a voter that is behind and whose timer runs ahead of the
 * up-to-date candidate's raises the term before each of its attempts and
 * refuses it every time (seed 3175476 of the simulator).
 */
static void
test_candidate_defers_to_newer_log_in_its_term(void **state)
{
	raft_term	older[] = {1};

	(void) state;
	for (int newer_asks = 0; newer_asks <= 1; newer_asks++)
	{
		h_net		net;
		raft_node  *n;
		raft_message m;
		raft_time	deadline;

		h_setup(&net, 3);
		h_preload(&net, 1, older, 1, 2);
		h_start(&net);
		n = h_node(&net, 1);
		h_tick(&net, 1, H_ET + H_SPREAD);	/* node 1 stands in term 3 */
		assert_int_equal(raft_get_role(n), RAFT_CANDIDATE);
		assert_int_equal(raft_get_term(n), 3);
		h_clear(&net);
		deadline = raft_election_deadline(n);

		net.now += H_ET / 2;
		m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 3);
		m.last_log_index = newer_asks ? 2 : 0;
		m.last_log_term = newer_asks ? 2 : 0;
		raft_receive(n, &m, net.now);
		assert_false(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2)->granted);
		assert_int_equal(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2)->refusal,
						 RAFT_VOTE_ALREADY_VOTED);
		if (newer_asks)
			assert_true(raft_election_deadline(n) >= net.now + H_ET);
		else
			assert_int_equal(raft_election_deadline(n), deadline);
		h_destroy(&net);
	}
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follower_election_timeout_randomized),
		cmocka_unit_test(test_candidate_election_timeout_randomized),
		cmocka_unit_test(test_election_timeouts_nonconflicting),
		cmocka_unit_test(test_follower_sleeps_until_election_deadline),
		cmocka_unit_test(test_refused_vote_does_not_reset_election_timer),
		cmocka_unit_test(test_candidate_defers_to_newer_log_in_its_term),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
