/*
 * test_rank.c
 *	  Rank-ordered elections: the leader's APPENDs tell each follower its
 *	  place in the succession, and a follower's election timeout grows with
 *	  its rank (raft_options.rank_step), so that the most caught-up eligible
 *	  follower stands first and alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#define STEP (H_HB / 2)

/* n voters with PreVote and CheckQuorum on; node 1 leads. */
static void
init_ranked(h_net *net, int n)
{
	h_setup(net, n);
	for (int i = 1; i <= n; i++)
	{
		net->opts[i].prevote = true;
		net->opts[i].check_quorum = true;
	}
	h_start(net);
	h_elect(net, 1);
}

/* One heartbeat round from node 1, answered; then the next one, queued. */
static void
heartbeat_rounds(h_net *net)
{
	h_clear(net);
	h_tick(net, 1, H_HB);
	h_deliver(net);
	h_tick(net, 1, H_HB);
}

/* The rank carried by the queued APPEND from 1 to 'to'. */
static int
rank_sent(h_net *net, raft_id to)
{
	const raft_message *m = h_find(net, RAFT_MSG_APPEND, 1, to);

	assert_non_null(m);
	return m->rank;
}

/*
 * Node 2 hears an APPEND from leader 1 that ranks it 2, once the spread
 * has passed (its queued answer dropped).  Returns when it heard it.
 */
static raft_time
hear_rank_two(h_net *net)
{
	raft_message m = h_msg_make(RAFT_MSG_APPEND, 1, 2, 1);

	m.rank = 2;
	net->now += H_ET + H_SPREAD;
	raft_receive(h_node(net, 2), &m, net->now);
	h_clear(net);
	return net->now;
}

/*
 * Rule (rank order): the leader ranks its followers by the WAL position
 * they reported, most advanced first, then by node id.
 */
static void
test_leader_ranks_most_caught_up_follower_first(void **state)
{
	h_net		net;

	(void) state;
	init_ranked(&net, 4);
	raft_set_position(h_node(&net, 2), H_POS(1, 100));
	raft_set_position(h_node(&net, 3), H_POS(1, 300));
	raft_set_position(h_node(&net, 4), H_POS(1, 100));
	heartbeat_rounds(&net);
	assert_int_equal(rank_sent(&net, 3), 0);
	assert_int_equal(rank_sent(&net, 2), 1);	/* tie with 4: lower id */
	assert_int_equal(rank_sent(&net, 4), 2);
	h_destroy(&net);
}

/* Rule (rank order): with equal positions, a higher priority goes first. */
static void
test_leader_ranks_higher_priority_first_on_equal_positions(void **state)
{
	h_net		net;

	(void) state;
	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
		net.opts[i].check_quorum = true;
	net.opts[3].priority = 50;
	h_start(&net);
	h_elect(&net, 1);
	heartbeat_rounds(&net);
	assert_int_equal(rank_sent(&net, 3), 0);
	assert_int_equal(rank_sent(&net, 2), 1);
	h_destroy(&net);
}

/*
 * Rule (rank order): a follower that never campaigns is ranked after every
 * follower that may stand, however far along it is.
 */
static void
test_never_campaign_follower_ranked_last(void **state)
{
	h_net		net;

	(void) state;
	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
		net.opts[i].check_quorum = true;
	net.opts[2].never_campaign = true;
	h_start(&net);
	h_elect(&net, 1);
	raft_set_position(h_node(&net, 2), H_POS(1, 900));
	raft_set_position(h_node(&net, 3), H_POS(1, 100));
	heartbeat_rounds(&net);
	assert_int_equal(rank_sent(&net, 3), 0);
	assert_int_equal(rank_sent(&net, 2), 1);
	h_destroy(&net);
}

/*
 * Rule (rank order): a follower silent for an election timeout loses its
 * place, so a dead first-ranked node delays the next one by one step only
 * for as long as the leader itself lives.
 */
static void
test_silent_follower_ranked_after_answering_ones(void **state)
{
	h_net		net;

	(void) state;
	init_ranked(&net, 3);
	raft_set_position(h_node(&net, 2), H_POS(1, 900));
	raft_set_position(h_node(&net, 3), H_POS(1, 100));
	heartbeat_rounds(&net);
	assert_int_equal(rank_sent(&net, 2), 0);
	h_isolate(&net, 2);
	for (int i = 0; i < H_ET / H_HB + 1; i++)
	{
		h_tick(&net, 1, H_HB);
		h_deliver(&net);
	}
	h_heal(&net);
	h_clear(&net);
	h_tick(&net, 1, H_HB);
	assert_int_equal(rank_sent(&net, 3), 0);
	assert_int_equal(rank_sent(&net, 2), 1);
	h_destroy(&net);
}

/*
 * Rule (ranked timeout): a follower of rank r stands ET + r * rank_step
 * plus a jitter in [rank_jitter / 2, rank_jitter) after its leader's last
 * APPEND, not at a random point of the spread.
 */
static void
test_ranked_follower_times_out_after_rank_steps(void **state)
{
	h_net		net;
	raft_node  *f;
	raft_time	heard;

	(void) state;
	h_setup(&net, 3);
	net.opts[2].prevote = true;		/* ranks need PreVote */
	h_start(&net);
	f = h_node(&net, 2);
	heard = hear_rank_two(&net);
	raft_tick(f, heard + H_ET + 2 * STEP + 1 - 1);	/* jitter floor is 1 */
	assert_int_equal(raft_get_role(f), RAFT_FOLLOWER);
	raft_tick(f, heard + H_ET + 2 * STEP + 2);	/* jitter below 2 */
	assert_int_equal(raft_get_role(f), RAFT_PRECANDIDATE);
	assert_int_equal(raft_get_term(f), 1);	/* a PreVote keeps the term */
	h_destroy(&net);
}

/*
 * Rule (rank forgotten after standing): once a ranked follower has stood
 * and its round failed, its next timeout is drawn from the random spread,
 * not from its rank again: two nodes that believed in one rank otherwise
 * stood in lockstep round after round and split every vote (the
 * simulator's seed 6116447; mutant RAFT_MUTANT_RANK_KEPT_AFTER_STANDING).
 */
static void
test_rank_forgotten_after_standing(void **state)
{
	h_net		net;
	raft_node  *f;
	raft_time	heard;
	raft_time	stood;

	(void) state;
	h_setup(&net, 3);
	net.opts[2].prevote = true;
	net.opts[2].rank_step = H_SPREAD;	/* rank 2: far past the spread */
	h_start(&net);
	f = h_node(&net, 2);
	heard = hear_rank_two(&net);
	stood = heard + H_ET + 2 * H_SPREAD + 2;
	raft_tick(f, stood);
	assert_int_equal(raft_get_role(f), RAFT_PRECANDIDATE);
	/* if nobody answers, the next round comes within the spread, not 2 steps on */
	assert_true(raft_election_deadline(f) >= stood + H_ET);
	assert_true(raft_election_deadline(f) < stood + H_ET + H_SPREAD);
	h_destroy(&net);
}

/*
 * Rule (ranks need PreVote): without PreVote a follower ignores its rank and
 * keeps the random spread.  A node that cannot win would otherwise raise the
 * term at each of its timeouts while ranked followers wait their turn.
 */
static void
test_rank_ignored_without_prevote(void **state)
{
	h_net		net;
	raft_node  *f;
	raft_time	heard;

	(void) state;
	h_setup(&net, 3);
	net.opts[2].rank_step = H_SPREAD / 2;	/* rank 2: past the spread */
	h_start(&net);
	f = h_node(&net, 2);
	heard = hear_rank_two(&net);
	raft_tick(f, heard + H_ET + H_SPREAD);
	assert_int_equal(raft_get_term(f), 2);	/* stood within the spread */
	h_destroy(&net);
}

/*
 * Rule (rank never bypasses PreVote or stickiness): the first-ranked
 * follower still runs PreVote, and a voter that heard the leader within ET
 * refuses it.
 */
static void
test_first_ranked_follower_still_runs_prevote_and_meets_stickiness(void **state)
{
	h_net		net;
	raft_node  *f;

	(void) state;
	init_ranked(&net, 3);
	raft_set_position(h_node(&net, 2), H_POS(1, 900));
	heartbeat_rounds(&net);
	h_deliver(&net);
	/* node 2 alone loses the leader; node 3 keeps hearing it */
	net.cut[1][2] = net.cut[2][1] = true;
	f = h_node(&net, 2);
	for (int i = 0; i < H_ET / H_HB + 2; i++)
	{
		h_tick(&net, 0, H_HB);
		h_deliver(&net);
	}
	assert_true(raft_get_stats(f)->prevotes_started >= 1);
	assert_int_equal(raft_get_stats(f)->elections_started, 0);
	assert_int_equal(h_leader(&net), 1);
	h_destroy(&net);
}

/*
 * Rule (rank never bypasses the position refusal): a ranked candidate whose
 * WAL position trails a voter's is refused, whatever its rank said.
 */
static void
test_first_ranked_candidate_behind_is_refused(void **state)
{
	h_net		net;
	raft_node  *v;
	raft_message m;

	(void) state;
	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
		net.opts[i].max_position_lag = 0;
	h_start(&net);
	v = h_node(&net, 3);
	raft_set_position(v, H_POS(1, 500));
	m = h_msg_make(RAFT_MSG_VOTE, 2, 3, 1);
	m.position = H_POS(1, 400);
	net.now += H_ET + H_SPREAD;
	raft_receive(v, &m, net.now);
	assert_int_equal(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 3, 2)->refusal,
					 RAFT_VOTE_POSITION_BEHIND);
	h_destroy(&net);
}

/* Rule (no rank known): a fresh node keeps the randomized spread. */
static void
test_fresh_node_without_rank_keeps_spread(void **state)
{
	h_net		net;
	bool		late = false;

	(void) state;
	for (raft_id id = 1; id <= 8; id++)
	{
		h_setup(&net, 2);
		net.opts[1].seed = id * 7919;
		h_start(&net);
		for (raft_time t = 0; t < H_ET + H_SPREAD; t++)
		{
			raft_tick(h_node(&net, 1), H_T0 + t);
			if (raft_get_term(h_node(&net, 1)) > 0)
			{
				/* any point of the spread, not ET + a small jitter */
				if (t >= H_ET + 2 * STEP)
					late = true;
				break;
			}
		}
		h_destroy(&net);
	}
	assert_true(late);
}

/* rank_step 0 turns ranking off: APPENDs carry RAFT_RANK_UNKNOWN. */
static void
test_rank_step_zero_sends_unknown_rank(void **state)
{
	h_net		net;

	(void) state;
	h_setup(&net, 3);
	for (int i = 1; i <= 3; i++)
		net.opts[i].rank_step = 0;
	h_start(&net);
	h_elect(&net, 1);
	heartbeat_rounds(&net);
	assert_int_equal(rank_sent(&net, 2), RAFT_RANK_UNKNOWN);
	h_destroy(&net);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leader_ranks_most_caught_up_follower_first),
		cmocka_unit_test(test_leader_ranks_higher_priority_first_on_equal_positions),
		cmocka_unit_test(test_never_campaign_follower_ranked_last),
		cmocka_unit_test(test_silent_follower_ranked_after_answering_ones),
		cmocka_unit_test(test_ranked_follower_times_out_after_rank_steps),
		cmocka_unit_test(test_rank_forgotten_after_standing),
		cmocka_unit_test(test_rank_ignored_without_prevote),
		cmocka_unit_test(test_first_ranked_follower_still_runs_prevote_and_meets_stickiness),
		cmocka_unit_test(test_first_ranked_candidate_behind_is_refused),
		cmocka_unit_test(test_fresh_node_without_rank_keeps_spread),
		cmocka_unit_test(test_rank_step_zero_sends_unknown_rank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
