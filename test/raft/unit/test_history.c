/*
 * test_history.c
 *	  The timeline history in the log, and WAL positions judged against it
 *	  (src/raft/raft_history.c): the vote rule, the succession order, the
 *	  steps a leader proposes and the truncation that undoes them.
 *
 * Positions in these tests: P(tli, lsn, begin, parent).  The history used
 * by most of them is timeline 1 from the start, then timeline 2 from LSN
 * 100 (node 3 promoted there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/*
 * A position whose parent is the tests' timeline of that id: timeline 2
 * begins at 100 (TL2), the others at 0.  P5 names the parent's beginning.
 */
#define P5(tli, lsn, begin, parent, parent_begin) \
	((raft_position) {(tli), (lsn), (begin), (parent), (parent_begin)})
#define P(tli, lsn, begin, parent) \
	P5((tli), (lsn), (begin), (parent), (parent) == 2 ? 100 : 0)

static const raft_timeline TL1 = {1, 0, 0, 1, 0, 0};
static const raft_timeline TL2 = {2, 100, 1, 3, 0, 0};

/*
 * Node 1 (tolerance 'lag') answers a VOTE from node 2 at 'cand' whose
 * history is the nh steps of h, while node 1 stands at 'mine'.
 */
static raft_vote_refusal
judge(raft_position mine, raft_position cand, const raft_timeline *h, int nh,
	  uint64_t lag)
{
	h_net		net;
	raft_message m;
	const raft_message *r;
	raft_vote_refusal why;

	h_setup(&net, 3);
	net.opts[1].max_position_lag = lag;
	h_start(&net);
	raft_set_position(h_node(&net, 1), mine);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 1);
	m.position = cand;
	m.n_history = (uint8_t) nh;
	if (nh > 0)
		memcpy(m.history, h, (size_t) nh * sizeof(*h));
	raft_receive(h_node(&net, 1), &m, net.now);
	r = h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2);
	assert_non_null(r);
	why = (raft_vote_refusal) r->refusal;
	assert_int_equal(r->granted, why == RAFT_VOTE_GRANTED);
	if (why != RAFT_VOTE_GRANTED)
		assert_int_equal(raft_get_vote(h_node(&net, 1)), RAFT_NOBODY);
	h_destroy(&net);
	return why;
}

/*
 * Rule (fork refused by a member holding the history): the review's
 * scenario.  Node 3 was promoted behind Raft's back at LSN 100 (timeline 2,
 * which no step records) while timeline 1 went on to 200 with an
 * acknowledged commit: the voter at (1, 200) refuses it, however high its
 * timeline number and its LSN.  (The engine once granted this vote: a
 * higher timeline won outright.)
 */
static void
test_vote_fork_refused_by_member_holding_history(void **state)
{
	raft_timeline h[] = {TL1};

	(void) state;
	assert_int_equal(judge(P(1, 200, 0, 0), P(2, 10000, 100, 1), h, 1, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	/* tolerance does not let a fork in */
	assert_int_equal(judge(P(1, 200, 0, 0), P(2, 10000, 100, 1), h, 1, 1000),
					 RAFT_VOTE_POSITION_BEHIND);
	/* the same candidate on the history (its step committed) is granted */
	{
		raft_timeline h2[] = {TL1, TL2};

		assert_int_equal(judge(P(1, 90, 0, 0), P(2, 150, 100, 1), h2, 2, 0),
						 RAFT_VOTE_GRANTED);
	}
}

/*
 * Rule (a forked voter never blocks the candidate holding the history):
 * the fork protects only what it holds of the history (up to where it
 * left), so it grants the member on the history that holds that much.
 */
static void
test_vote_forked_voter_grants_history_holder(void **state)
{
	raft_timeline h[] = {TL1};

	(void) state;
	assert_int_equal(judge(P(2, 10000, 100, 1), P(1, 200, 0, 0), h, 1, 0),
					 RAFT_VOTE_GRANTED);
	/* but not one that lacks history it holds */
	assert_int_equal(judge(P(2, 10000, 100, 1), P(1, 60, 0, 0), h, 1, 0),
					 RAFT_VOTE_POSITION_BEHIND);
}

/*
 * Rule (a timeline contains its parent up to its beginning): a voter on
 * timeline 1 up to the switch point is behind a candidate on timeline 2;
 * a voter that went past the switch point on timeline 1 (the old primary)
 * is a fork holding up to 100, and grants it too.
 */
static void
test_vote_timeline_contains_parent_prefix(void **state)
{
	raft_timeline h[] = {TL1, TL2};

	(void) state;
	assert_int_equal(judge(P(1, 100, 0, 0), P(2, 150, 100, 1), h, 2, 0),
					 RAFT_VOTE_GRANTED);
	assert_int_equal(judge(P(1, 500, 0, 0), P(2, 150, 100, 1), h, 2, 0),
					 RAFT_VOTE_GRANTED);
	/* the old primary past the switch point never wins over timeline 2 */
	assert_int_equal(judge(P(2, 150, 100, 1), P(1, 500, 0, 0), h, 2, 1000000),
					 RAFT_VOTE_POSITION_BEHIND);
	/* on the same timeline, LSNs compare with the tolerance */
	assert_int_equal(judge(P(2, 300, 100, 1), P(2, 150, 100, 1), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(P(2, 300, 100, 1), P(2, 150, 100, 1), h, 2, 150),
					 RAFT_VOTE_GRANTED);
}

/*
 * Rule (both positions judged against the candidate's history): a voter
 * whose own log lacks the committed step of the timeline it holds WAL on
 * still protects that WAL, because the candidate's history has the step.
 * Against the voter's own (older) history it would look like a fork
 * holding only up to 100 and grant a candidate that stopped there.
 */
static void
test_vote_judged_against_candidate_history(void **state)
{
	raft_timeline h[] = {TL1, TL2};

	(void) state;
	assert_int_equal(judge(P(2, 500, 100, 1), P(1, 100, 0, 0), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
}

/*
 * Rule (timelines are told apart by where they begin): a server that missed
 * a promotion picks the same timeline number for its own; a position on
 * that other timeline 2 is a fork, not timeline 2 of the history.
 */
static void
test_vote_same_timeline_number_other_beginning_is_fork(void **state)
{
	raft_timeline h[] = {TL1, TL2};

	(void) state;
	assert_int_equal(judge(P(2, 300, 100, 1), P(2, 9000, 90, 1), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(P(2, 9000, 90, 1), P(2, 300, 100, 1), h, 2, 0),
					 RAFT_VOTE_GRANTED);
}

/*
 * Rule (what cannot be placed is protected): a voter whose timeline and
 * parent the history does not know protects all its WAL; a candidate in
 * that state offers none.
 */
static void
test_vote_unplaced_position_protected(void **state)
{
	raft_timeline h[] = {TL1, TL2};

	(void) state;
	assert_int_equal(judge(P(7, 500, 400, 6), P(2, 450, 100, 1), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(P(7, 500, 400, 6), P(2, 600, 100, 1), h, 2, 0),
					 RAFT_VOTE_GRANTED);
	assert_int_equal(judge(P(2, 50, 0, 0), P(7, 500, 400, 6), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
}

/*
 * Rule (no history yet: the rule of the versions before it): until the
 * first step is in the log, positions compare timeline first, and an
 * unknown position or RAFT_POSITION_ANY turns the check off.
 */
static void
test_vote_without_history_compares_timeline_first(void **state)
{
	(void) state;
	assert_int_equal(judge(H_POS(1, 100), H_POS(1, 50), NULL, 0, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(H_POS(1, 100), H_POS(1, 50), NULL, 0, 49),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(H_POS(1, 100), H_POS(1, 50), NULL, 0, 50),
					 RAFT_VOTE_GRANTED);
	assert_int_equal(judge(H_POS(1, 100), H_POS(1, 200), NULL, 0, 0),
					 RAFT_VOTE_GRANTED);
	assert_int_equal(judge(H_POS(2, 10), H_POS(1, 200), NULL, 0,
						   RAFT_POSITION_ANY), RAFT_VOTE_GRANTED);
	assert_int_equal(judge(H_POS(2, 10), H_POS(1, 200), NULL, 0, 1000),
					 RAFT_VOTE_POSITION_BEHIND);
	assert_int_equal(judge(H_POS(0, 0), H_POS(1, 50), NULL, 0, 0),
					 RAFT_VOTE_GRANTED);
	assert_int_equal(judge(H_POS(1, 100), H_POS(0, 0), NULL, 0, 0),
					 RAFT_VOTE_GRANTED);
	{
		raft_timeline h[] = {TL1};

		assert_int_equal(judge(P(1, 200, 0, 0), P(2, 10000, 100, 1), h, 1,
							   RAFT_POSITION_ANY), RAFT_VOTE_GRANTED);
	}
}

/* Three sticky voters, node 1 elected with history steps 'steps' committed. */
static void
led_with_history(h_net *net, const raft_timeline *steps, int n)
{
	h_setup(net, 3);
	for (int i = 1; i <= 3; i++)
	{
		net->opts[i].prevote = true;
		net->opts[i].check_quorum = true;
		net->opts[i].max_position_lag = 0;
	}
	h_start(net);
	h_elect(net, 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(raft_propose_timeline(h_node(net, 1), &steps[i], NULL),
						 RAFT_OK);
	h_run(net, 3 * H_HB, 1);
}

/*
 * Rule (a leader's step is in every log and committed before its primary
 * writes): the step travels with AppendEntries, every node's history has
 * it, raft_timeline_committed says so once the commit index covers it,
 * and proposing the newest step again appends nothing.
 */
static void
test_timeline_step_replicated_and_committed(void **state)
{
	h_net		net;
	raft_index	idx = 99;
	int			count;
	const raft_timeline *h;
	const raft_index *at;

	(void) state;
	led_with_history(&net, &TL1, 1);
	assert_true(raft_timeline_committed(h_node(&net, 1), 1, 0));
	assert_false(raft_timeline_committed(h_node(&net, 1), 2, 100));
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &TL2, &idx), RAFT_OK);
	assert_true(idx > 0);
	/* in the leader's log, not yet committed */
	assert_false(raft_timeline_committed(h_node(&net, 1), 2, 100));
	h_run(&net, 3 * H_HB, 1);
	for (raft_id id = 1; id <= 3; id++)
	{
		h = raft_get_history(h_node(&net, id), &count, &at);
		assert_int_equal(count, 2);
		assert_int_equal(h[1].tli, 2);
		assert_int_equal(h[1].begin, 100);
		assert_int_equal(at[1], idx);
	}
	/* TL2 is node 3's: committed, but node 1's primary may not write on it */
	assert_false(raft_timeline_committed(h_node(&net, 1), 2, 100));
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &TL2, &idx), RAFT_OK);
	assert_int_equal(idx, 0);
	/* only a leader proposes; timeline 0 is no timeline */
	assert_int_equal(raft_propose_timeline(h_node(&net, 2), &TL2, NULL),
					 RAFT_ENOTLEADER);
	{
		raft_timeline zero = {0, 5, 1, 1, 0, 0};

		assert_int_equal(raft_propose_timeline(h_node(&net, 1), &zero, NULL),
						 RAFT_EINVAL);
	}
	h_destroy(&net);
}

/*
 * Rule (a step cuts its parent): a step branching from an earlier timeline
 * of the history replaces everything after it, so WAL the old branch
 * wrote is a fork from then on.
 */
static void
test_timeline_step_cuts_history_at_parent(void **state)
{
	h_net		net;
	raft_timeline steps[] = {TL1, TL2, {3, 300, 2, 2, 0, 0}};
	raft_timeline back = {4, 250, 2, 1, 0, 0};
	int			count;
	const raft_timeline *h;
	uint64_t	held;

	(void) state;
	led_with_history(&net, steps, 3);
	h = raft_get_history(h_node(&net, 2), &count, NULL);
	assert_int_equal(count, 3);
	assert_int_equal(raft_position_standing(h_node(&net, 2), P(3, 400, 300, 2), &held),
					 RAFT_STANDING_ON_HISTORY);
	assert_int_equal(held, 400);
	/* timeline 4 branches from timeline 2 at 250: timeline 3 is cut off */
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &back, NULL), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	h = raft_get_history(h_node(&net, 2), &count, NULL);
	assert_int_equal(count, 3);
	assert_int_equal(h[2].tli, 4);
	assert_int_equal(raft_position_standing(h_node(&net, 2), P(3, 400, 300, 2), &held),
					 RAFT_STANDING_FORKED);
	assert_int_equal(held, 250);
	assert_int_equal(raft_position_standing(h_node(&net, 2), P(2, 260, 100, 1), &held),
					 RAFT_STANDING_FORKED);
	assert_int_equal(held, 250);
	assert_int_equal(raft_position_standing(h_node(&net, 2), P(2, 240, 100, 1), &held),
					 RAFT_STANDING_ON_HISTORY);
	assert_int_equal(held, 240);
	h_destroy(&net);
}

/*
 * Rule (a parent of the same number but another beginning is not the
 * history's): seed 2504679 of the simulator.  Timeline 2 of the history
 * begins at 100; an operator's promotion elsewhere made another timeline 2
 * at 90, and a server on it promoted again to timeline 67 at 176.  That
 * candidate holds none of the history's timeline 2, so a voter holding 150
 * of it refuses it, however far its LSN.  (Matching the parent by number
 * alone, RAFT_MUTANT_PARENT_BY_NUMBER, credited it with 176.)
 */
static void
test_vote_parent_same_number_other_beginning_not_held(void **state)
{
	raft_timeline h[] = {TL1, TL2};
	uint64_t	held;
	h_net		net;

	(void) state;
	assert_int_equal(judge(P(2, 150, 100, 1), P5(67, 500, 176, 2, 90), h, 2, 0),
					 RAFT_VOTE_POSITION_BEHIND);
	/* its true parent is on the history: a fork holding up to 176 */
	assert_int_equal(judge(P(2, 150, 100, 1), P5(67, 500, 176, 2, 100), h, 2, 0),
					 RAFT_VOTE_GRANTED);
	led_with_history(&net, h, 2);
	assert_int_equal(raft_position_standing(h_node(&net, 2),
											P5(67, 500, 176, 2, 90), &held),
					 RAFT_STANDING_UNKNOWN);
	assert_int_equal(raft_position_standing(h_node(&net, 2),
											P5(67, 500, 176, 2, 100), &held),
					 RAFT_STANDING_FORKED);
	assert_int_equal(held, 176);
	h_destroy(&net);
}

/*
 * Rule (an elected fork records its ancestry): a leader whose parent is
 * not the history's timeline of that id proposes its parent's step first
 * (the extension and the simulator do), and the history then runs through
 * its WAL: timeline 2 at 90 cuts the history's timeline 2 at 100, and
 * timeline 67 chains onto it, not onto the other timeline 2 (seeds 2504679
 * and 2846749 of the simulator, where it chained onto the other one).
 */
static void
test_timeline_step_ancestor_rechains_history(void **state)
{
	h_net		net;
	raft_timeline steps[] = {TL1, TL2};
	raft_timeline parent = {2, 90, 1, 1, 0, 0};
	raft_timeline own = {67, 176, 2, 1, 0, 0};
	int			count;
	const raft_timeline *h;
	uint64_t	held;

	(void) state;
	led_with_history(&net, steps, 2);
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &parent, NULL), RAFT_OK);
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &own, NULL), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	h = raft_get_history(h_node(&net, 2), &count, NULL);
	assert_int_equal(count, 3);
	assert_true(h[1].tli == 2 && h[1].begin == 90);
	assert_true(h[2].tli == 67 && h[2].begin == 176);
	assert_int_equal(raft_position_standing(h_node(&net, 2),
											P5(67, 500, 176, 2, 90), &held),
					 RAFT_STANDING_ON_HISTORY);
	assert_int_equal(held, 500);
	/* the other timeline 2 is a fork from 90 on */
	assert_int_equal(raft_position_standing(h_node(&net, 2), P(2, 150, 100, 1), &held),
					 RAFT_STANDING_FORKED);
	assert_int_equal(held, 90);
	h_destroy(&net);
}

/*
 * Rule (a truncated step is undone): a step that a deposed leader appended
 * but never committed disappears from the history when the next leader's
 * log overwrites it.
 */
static void
test_uncommitted_step_undone_by_truncation(void **state)
{
	h_net		net;
	int			count;
	raft_timeline orphan = {2, 100, 1, 1, 0, 0};

	(void) state;
	led_with_history(&net, &TL1, 1);
	h_isolate(&net, 1);
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &orphan, NULL), RAFT_OK);
	h_flush(&net);
	raft_get_history(h_node(&net, 1), &count, NULL);
	assert_int_equal(count, 2);
	/* node 2 takes over (its own step) while 1 is cut off, then 1 returns */
	h_run(&net, 4 * (H_ET + H_SPREAD), 1);
	assert_true(h_leader(&net) == 2 || h_leader(&net) == 3);
	h_heal(&net);
	assert_int_equal(h_propose(&net, h_leader(&net), "x", NULL), RAFT_OK);
	h_run(&net, 4 * (H_ET + H_SPREAD), 1);
	raft_get_history(h_node(&net, 1), &count, NULL);
	assert_int_equal(count, 1);
	h_destroy(&net);
}

/* The APPEND from 1 to 'to' queued after one answered heartbeat round. */
static int
rank_after_heartbeats(h_net *net, raft_id to)
{
	const raft_message *m;

	h_clear(net);
	h_tick(net, 1, H_HB);
	h_deliver(net);
	h_tick(net, 1, H_HB);
	m = h_find(net, RAFT_MSG_APPEND, 1, to);
	assert_non_null(m);
	return m->rank;
}

/*
 * Rule (a fork is never ranked first): the leader ranks a follower on the
 * history before one that left it, however far the fork's LSN runs.
 */
static void
test_rank_fork_never_first(void **state)
{
	h_net		net;

	(void) state;
	led_with_history(&net, &TL1, 1);
	raft_set_position(h_node(&net, 1), P(1, 200, 0, 0));
	raft_set_position(h_node(&net, 2), P(1, 150, 0, 0));
	raft_set_position(h_node(&net, 3), P(2, 99999, 100, 1));
	assert_int_equal(rank_after_heartbeats(&net, 2), 0);
	assert_int_equal(rank_after_heartbeats(&net, 3), 1);
	h_destroy(&net);
}

/*
 * Rule (a transfer never goes to a fork): the leader does not send
 * TIMEOUT_NOW to a target whose position left the history, since the
 * voters holding the history would refuse it.
 */
static void
test_transfer_to_fork_waits(void **state)
{
	h_net		net;

	(void) state;
	led_with_history(&net, &TL1, 1);
	raft_set_position(h_node(&net, 1), P(1, 200, 0, 0));
	raft_set_position(h_node(&net, 3), P(2, 99999, 100, 1));
	h_run(&net, 2 * H_HB, 1);
	assert_int_equal(raft_transfer_leadership(h_node(&net, 1), 3, net.now), RAFT_OK);
	h_run(&net, H_ET / 2, 1);
	assert_int_equal(h_count(&net, RAFT_MSG_TIMEOUT_NOW, 1, 3), 0);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_LEADER);
	h_destroy(&net);
}

/*
 * Rule (a timeline is its promoter's): a server that promoted from the same
 * point as the node whose step is committed picks the same timeline id and
 * beginning; the leader's own step is committed for it, the same
 * (tli, begin) recorded by another node is not, so a primary that collided
 * with a committed step never takes writes.
 */
static void
test_timeline_committed_only_for_its_promoter(void **state)
{
	h_net		net;
	raft_timeline mine = {2, 100, 1, 1, 0, 0};

	(void) state;
	led_with_history(&net, &TL1, 1);
	assert_true(raft_timeline_committed(h_node(&net, 1), 1, 0));
	assert_false(raft_timeline_committed(h_node(&net, 2), 1, 0));
	assert_int_equal(raft_propose_timeline(h_node(&net, 1), &mine, NULL), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	assert_true(raft_timeline_committed(h_node(&net, 1), 2, 100));
	/* node 2 collided: same id and beginning, not its step */
	assert_false(raft_timeline_committed(h_node(&net, 2), 2, 100));
	h_destroy(&net);
}

/* The payload of a step: round trip and refusals. */
static void
test_timeline_payload_round_trip_and_refusals(void **state)
{
	uint8_t		buf[RAFT_TIMELINE_ENCODED_SIZE + 1];
	size_t		len = 0;
	raft_timeline in = {7, UINT64_MAX, 6, 3, INT64_C(1796000000000), 2};
	raft_timeline out;
	const char *why;

	(void) state;
	assert_int_equal(raft_timeline_encode(&in, buf, sizeof(buf), &len, &why), RAFT_OK);
	assert_int_equal(len, RAFT_TIMELINE_ENCODED_SIZE);
	assert_int_equal(raft_timeline_decode(buf, len, &out, &why), RAFT_OK);
	assert_true(in.tli == out.tli && in.begin == out.begin &&
				in.parent == out.parent && in.node == out.node &&
				in.time == out.time && in.reason == out.reason);
	assert_int_equal(raft_timeline_decode(buf, len - 1, &out, &why), RAFT_EINVAL);
	assert_string_equal(why, "truncated timeline step");
	buf[len] = 0;
	assert_int_equal(raft_timeline_decode(buf, len + 1, &out, &why), RAFT_EINVAL);
	assert_string_equal(why, "trailing bytes after timeline step");
	buf[0] = 2;
	assert_int_equal(raft_timeline_decode(buf, len, &out, &why), RAFT_EINVAL);
	buf[0] = RAFT_TIMELINE_VERSION;
	memset(buf + 1, 0, 8);
	assert_int_equal(raft_timeline_decode(buf, len, &out, &why), RAFT_EINVAL);
	assert_string_equal(why, "timeline step names timeline 0");
	assert_int_equal(raft_timeline_encode(&in, buf, 10, &len, &why), RAFT_EINVAL);
	assert_string_equal(raft_standing_name(RAFT_STANDING_FORKED), "forked");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vote_fork_refused_by_member_holding_history),
		cmocka_unit_test(test_vote_forked_voter_grants_history_holder),
		cmocka_unit_test(test_vote_timeline_contains_parent_prefix),
		cmocka_unit_test(test_vote_judged_against_candidate_history),
		cmocka_unit_test(test_vote_same_timeline_number_other_beginning_is_fork),
		cmocka_unit_test(test_vote_unplaced_position_protected),
		cmocka_unit_test(test_vote_without_history_compares_timeline_first),
		cmocka_unit_test(test_timeline_step_replicated_and_committed),
		cmocka_unit_test(test_timeline_step_cuts_history_at_parent),
		cmocka_unit_test(test_vote_parent_same_number_other_beginning_not_held),
		cmocka_unit_test(test_timeline_step_ancestor_rechains_history),
		cmocka_unit_test(test_uncommitted_step_undone_by_truncation),
		cmocka_unit_test(test_timeline_committed_only_for_its_promoter),
		cmocka_unit_test(test_rank_fork_never_first),
		cmocka_unit_test(test_transfer_to_fork_waits),
		cmocka_unit_test(test_timeline_payload_round_trip_and_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
