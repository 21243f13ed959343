/*
 * test_membership.c
 *	  Unit tests of single-server membership changes and learners (Raft
 *	  thesis 4.1 and 4.2.1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/*
 * 'total' nodes of which the first 'members' are the bootstrap voters,
 * started (no leader yet).
 */
static void
start_members(h_net *net, int total, int members)
{
	h_setup(net, total);
	net->boot.count = members;
	h_start(net);
}

/* start_members, node 1 elected and its first entry committed. */
static void
init_members(h_net *net, int total, int members)
{
	start_members(net, total, members);
	h_elect(net, 1);
	h_run(net, H_HB, 1);
}

/* Build a change. */
static raft_change
change(raft_change_op op, raft_id id)
{
	raft_change c;

	memset(&c, 0, sizeof(c));
	c.op = (uint8_t) op;
	c.id = id;
	if (op == RAFT_CHANGE_ADD_VOTER || op == RAFT_CHANGE_ADD_LEARNER ||
		op == RAFT_CHANGE_ADD_STAGED)
		snprintf(c.address, sizeof(c.address), "host=node%u", id);
	return c;
}

/* Propose a change on node 1. */
static int
propose(h_net *net, raft_change_op op, raft_id id, raft_index *index)
{
	raft_change c = change(op, id);

	return raft_propose_change(h_node(net, 1), &c, index);
}

/* Adding a voter: effective on append, counted for quorum, replicated. */
static void
test_add_voter(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;
	const raft_membership *m;

	(void) state;
	init_members(&net, 4, 3);
	l = h_node(&net, 1);
	assert_false(raft_is_voter(l, 4));
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 4, &idx), RAFT_OK);
	/* in force as soon as it is in the log, before commit */
	assert_true(raft_is_voter(l, 4));
	m = raft_get_membership(l);
	assert_int_equal(m->count, 4);
	assert_string_equal(m->members[3].address, "host=node4");
	net.membership_changed[1] = false;
	h_flush(&net);
	assert_true(net.membership_changed[1]);
	assert_int_equal(net.disk[1].log[idx - 1].type, RAFT_ENTRY_CHANGE);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	/* the new node, unknown to itself at first, caught up from the leader */
	assert_true(raft_is_voter(h_node(&net, 4), 4));
	assert_int_equal(raft_last_index(h_node(&net, 4)), raft_last_index(l));
	/* 4 voters: a quorum is 3, so two lost followers block commits */
	h_isolate(&net, 2);
	h_isolate(&net, 3);
	h_propose(&net, 1, "blocked", &idx);
	h_run(&net, 3 * H_HB, 1);
	assert_true(raft_commit_index(l) < idx);
	h_destroy(&net);
}

/* A learner receives the log but never votes, campaigns or counts. */
static void
test_add_learner(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;
	raft_node  *learner;
	raft_message m;

	(void) state;
	init_members(&net, 4, 3);
	l = h_node(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_LEARNER, 4, &idx), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	learner = h_node(&net, 4);
	assert_int_equal(raft_commit_index(l), idx);
	assert_false(raft_is_voter(l, 4));
	assert_int_equal(raft_last_index(learner), raft_last_index(l));
	assert_int_equal(raft_get_membership(learner)->count, 4);

	/* does not count for quorum: 1 + learner is not a majority of 3 */
	h_isolate(&net, 2);
	h_isolate(&net, 3);
	h_propose(&net, 1, "needs a voter", &idx);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_last_index(learner), idx);
	assert_true(raft_commit_index(l) < idx);
	h_heal(&net);

	/* never campaigns */
	h_isolate(&net, 4);
	for (int i = 0; i < 10; i++)
		h_tick(&net, 4, H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(learner), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(learner)->elections_started, 0);
	h_heal(&net);

	/* its vote requests are dropped by voters */
	m = h_msg_make(RAFT_MSG_VOTE, 4, 2, raft_get_term(h_node(&net, 2)) + 1);
	raft_receive(h_node(&net, 2), &m, net.now);
	assert_int_equal(h_count(&net, RAFT_MSG_VOTE_RESPONSE, 2, 4), 0);
	assert_int_equal(raft_get_stats(h_node(&net, 2))->msgs_dropped_unknown, 1);
	h_destroy(&net);
}

/* A learner's vote is never counted by a candidate. */
static void
test_learner_vote_not_counted(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *c;
	raft_message m;

	(void) state;
	init_members(&net, 4, 3);
	propose(&net, RAFT_CHANGE_ADD_LEARNER, 4, &idx);
	h_run(&net, 3 * H_HB, 1);
	h_isolate(&net, 1);
	h_isolate(&net, 3);
	h_tick(&net, 2, H_ET + H_SPREAD);
	c = h_node(&net, 2);
	assert_int_equal(raft_get_role(c), RAFT_CANDIDATE);
	h_clear(&net);
	m = h_msg_make(RAFT_MSG_VOTE_RESPONSE, 4, 2, raft_get_term(c));
	m.granted = true;
	raft_receive(c, &m, net.now);
	/* self + learner would be 2 of 3: must not win */
	assert_int_equal(raft_get_role(c), RAFT_CANDIDATE);
	assert_int_equal(raft_get_stats(c)->msgs_dropped_unknown, 1);
	h_destroy(&net);
}

/* A node that does not know it was added still answers vote requests. */
static void
test_new_voter_unaware_of_itself_still_votes(void **state)
{
	h_net		net;
	raft_message m;

	(void) state;
	start_members(&net, 2, 1);	/* node 2 boots knowing only node 1 */
	assert_false(raft_is_voter(h_node(&net, 2), 2));
	net.now += H_ET;
	m = h_msg_make(RAFT_MSG_VOTE, 1, 2, 5);
	m.last_log_index = 30;
	m.last_log_term = 4;
	raft_receive(h_node(&net, 2), &m, net.now);
	assert_true(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 2, 1)->granted);
	h_destroy(&net);
}

/* Promote: a learner becomes a voter. */
static void
test_promote_learner(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;

	(void) state;
	init_members(&net, 4, 3);
	l = h_node(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_LEARNER, 4, &idx), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_PROMOTE, 4, &idx), RAFT_OK);
	assert_true(raft_is_voter(l, 4));
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	assert_true(raft_is_voter(h_node(&net, 4), 4));
	/* and it can now lead */
	h_elect(&net, 4);
	assert_int_equal(h_leader(&net), 4);
	h_destroy(&net);
}

/* Removing a follower shrinks the quorum. */
static void
test_remove_follower(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;

	(void) state;
	init_members(&net, 3, 3);
	l = h_node(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 3, &idx), RAFT_OK);
	assert_false(raft_is_voter(l, 3));
	assert_int_equal(raft_get_membership(l)->count, 2);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	h_isolate(&net, 3);
	h_propose(&net, 1, "two of two", &idx);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	assert_false(raft_get_progress(l, 3, NULL));
	h_destroy(&net);
}

/* A leader whose own removal commits steps down; the rest elect anew. */
static void
test_removed_leader_steps_down(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;

	(void) state;
	init_members(&net, 3, 3);
	l = h_node(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 1, &idx), RAFT_OK);
	/* still leading (without counting itself) until the removal commits */
	assert_int_equal(raft_get_role(l), RAFT_LEADER);
	h_deliver(&net);
	h_run(&net, H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	assert_int_not_equal(raft_get_role(l), RAFT_LEADER);
	assert_int_equal(raft_get_stats(l)->leader_stepdowns, 1);
	h_run(&net, 5 * H_ET, 1);
	assert_int_equal(h_leaders(&net, 0), 1);
	assert_true(h_leader(&net) == 2 || h_leader(&net) == 3);
	/* the removed node never campaigns */
	assert_int_equal(raft_get_role(l), RAFT_FOLLOWER);
	assert_int_equal(raft_get_stats(l)->elections_started, 1);
	h_destroy(&net);
}

/*
 * A leader removes itself but the change reaches nobody before it loses
 * its quorum: its log is the longest, so no remaining voter can win.  It
 * may still campaign (counting only the new configuration), commits its
 * removal, and steps down; the remaining voter then leads.
 */
static void
test_unreplicated_self_removal_recovers(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	h_setup(&net, 2);
	for (int i = 1; i <= 2; i++)
	{
		net.opts[i].check_quorum = true;
		net.opts[i].prevote = true;
	}
	h_start(&net);
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	h_isolate(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 1, &idx), RAFT_OK);
	h_run(&net, 2 * H_ET, 1);
	assert_int_equal(h_leaders(&net, 0), 0);
	h_heal(&net);
	h_run(&net, 10 * H_ET, 1);
	assert_int_equal(h_leader(&net), 2);
	assert_true(raft_commit_index(h_node(&net, 2)) >= idx);
	assert_int_equal(raft_get_membership(h_node(&net, 2))->count, 1);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_FOLLOWER);
	h_destroy(&net);
}

/*
 * A voter is added and the change commits with the new node's help before
 * the old follower sees it; the leader then dies.  The old follower does
 * not know the new node, yet must vote for it, or no leader can ever be
 * elected (Raft thesis 4.1).
 */
static void
test_vote_for_voter_unknown_to_us(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	h_setup(&net, 3);
	net.boot.count = 2;
	for (int i = 1; i <= 3; i++)
	{
		net.opts[i].check_quorum = true;
		net.opts[i].prevote = true;
	}
	h_start(&net);
	h_elect(&net, 1);
	h_run(&net, H_HB, 1);
	net.cut[1][2] = true;
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 3, &idx), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), idx);
	assert_false(raft_is_voter(h_node(&net, 2), 3));
	h_crash(&net, 1);
	h_heal(&net);
	h_run(&net, 10 * H_ET, 1);
	assert_int_equal(h_leader(&net), 3);
	assert_true(raft_is_voter(h_node(&net, 2), 3));
	h_destroy(&net);
}

/* Only one uncommitted change at a time. */
static void
test_one_change_at_a_time(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	init_members(&net, 5, 3);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 4, &idx), RAFT_OK);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 5, NULL), RAFT_EBUSY);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), idx);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 5, NULL), RAFT_OK);
	h_destroy(&net);
}

/* Bad changes are refused with the right code. */
static void
test_change_validation(void **state)
{
	h_net		net;
	raft_change c;

	(void) state;
	init_members(&net, 3, 3);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 2, NULL), RAFT_EINVAL);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_LEARNER, 3, NULL), RAFT_EINVAL);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 7, NULL), RAFT_EUNKNOWN);
	assert_int_equal(propose(&net, RAFT_CHANGE_PROMOTE, 7, NULL), RAFT_EUNKNOWN);
	assert_int_equal(propose(&net, RAFT_CHANGE_PROMOTE, 2, NULL), RAFT_EINVAL);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_VOTER, 0, NULL), RAFT_EINVAL);
	c = change(RAFT_CHANGE_ADD_VOTER, 4);
	c.op = 99;
	assert_int_equal(raft_propose_change(h_node(&net, 1), &c, NULL), RAFT_EINVAL);
	c = change(RAFT_CHANGE_ADD_VOTER, 4);
	assert_int_equal(raft_propose_change(h_node(&net, 2), &c, NULL), RAFT_ENOTLEADER);
	assert_int_equal(raft_propose(h_node(&net, 1), RAFT_ENTRY_CHANGE,
								  (const uint8_t *) "x", 1, NULL), RAFT_EINVAL);
	assert_int_equal(raft_get_membership(h_node(&net, 1))->count, 3);
	h_destroy(&net);
}

/* The last voter cannot be removed. */
static void
test_cannot_remove_last_voter(void **state)
{
	h_net		net;

	(void) state;
	h_init(&net, 1);
	h_tick(&net, 1, H_ET + H_SPREAD);
	h_flush(&net);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 1, NULL), RAFT_EINVAL);
	h_destroy(&net);
}

/* A change whose entry is truncated away is undone. */
static void
test_change_undone_on_truncation(void **state)
{
	h_net		net;
	raft_node  *f;

	(void) state;
	init_members(&net, 3, 3);
	f = h_node(&net, 1);
	h_isolate(&net, 1);
	assert_int_equal(propose(&net, RAFT_CHANGE_REMOVE, 3, NULL), RAFT_OK);
	h_deliver(&net);			/* reaches nobody */
	assert_int_equal(raft_get_membership(f)->count, 2);
	assert_false(raft_is_voter(f, 3));
	/* node 2 wins with node 3's vote and overwrites that index */
	h_elect(&net, 2);
	h_heal(&net);
	net.membership_changed[1] = false;
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_get_leader(f), 2);
	assert_int_equal(raft_get_membership(f)->count, 3);
	assert_true(raft_is_voter(f, 3));
	assert_true(net.membership_changed[1]);
	h_destroy(&net);
}

/* Membership is recomputed from the log when a node restarts. */
static void
test_membership_restored_from_log(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	init_members(&net, 5, 3);
	propose(&net, RAFT_CHANGE_ADD_VOTER, 4, &idx);
	h_run(&net, 3 * H_HB, 1);
	propose(&net, RAFT_CHANGE_ADD_LEARNER, 5, &idx);
	h_run(&net, 3 * H_HB, 1);
	propose(&net, RAFT_CHANGE_REMOVE, 2, &idx);
	h_run(&net, 3 * H_HB, 1);
	h_restart(&net, 3);
	assert_int_equal(raft_get_membership(h_node(&net, 3))->count, 4);
	assert_true(raft_is_voter(h_node(&net, 3), 4));
	assert_false(raft_is_voter(h_node(&net, 3), 5));
	assert_false(raft_is_voter(h_node(&net, 3), 2));
	assert_true(raft_is_voter(h_node(&net, 3), 3));
	h_destroy(&net);
}

/* A new leader waits for an older term's change to commit first. */
static void
test_uncommitted_change_from_previous_term_blocks(void **state)
{
	h_net		net;
	raft_change c;
	raft_node  *l2;

	(void) state;
	init_members(&net, 4, 3);
	/* the change reaches node 2 only, and node 1 never hears the ack */
	net.cut[1][3] = true;
	net.cut[2][1] = true;
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_OK);
	h_deliver(&net);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), 1);
	assert_int_equal(raft_last_index(h_node(&net, 2)), 2);
	h_heal(&net);
	h_isolate(&net, 1);
	l2 = h_win(&net, 2);
	c = change(RAFT_CHANGE_PROMOTE, 4);
	assert_int_equal(raft_propose_change(l2, &c, NULL), RAFT_EBUSY);
	h_deliver(&net);
	/* its NOOP committed, and the older change with it */
	assert_int_equal(raft_commit_index(l2), 3);
	assert_int_equal(raft_propose_change(l2, &c, NULL), RAFT_OK);
	h_destroy(&net);
}

/* A leader refuses a change while an older one is not committed. */
static void
test_change_busy_until_committed(void **state)
{
	h_net		net;
	raft_change c;

	(void) state;
	init_members(&net, 4, 3);
	h_isolate(&net, 2);
	h_isolate(&net, 3);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_LEARNER, 4, NULL), RAFT_OK);
	h_run(&net, 2 * H_HB, 1);
	c = change(RAFT_CHANGE_PROMOTE, 4);
	assert_int_equal(raft_propose_change(h_node(&net, 1), &c, NULL), RAFT_EBUSY);
	h_heal(&net);
	h_run(&net, 2 * H_HB, 1);
	assert_int_equal(raft_propose_change(h_node(&net, 1), &c, NULL), RAFT_OK);
	h_destroy(&net);
}

/*
 * Rule: a leader accepts a membership change only once an entry of its own
 * term (its opening NOOP) has committed; RAFT_EBUSY until then.
 */
static void
test_change_refused_until_own_term_entry_committed(void **state)
{
	h_net		net;
	raft_change c = change(RAFT_CHANGE_ADD_LEARNER, 4);
	raft_node  *l;

	(void) state;
	start_members(&net, 4, 3);
	l = h_win(&net, 1);			/* its NOOP sent, not delivered */
	assert_int_equal(raft_commit_index(l), 0);
	/* no change is in the log, so only the new rule can refuse it */
	assert_int_equal(raft_propose_change(l, &c, NULL), RAFT_EBUSY);
	assert_int_equal(raft_last_index(l), 1);
	h_deliver(&net);
	assert_int_equal(raft_commit_index(l), 1);
	assert_int_equal(raft_propose_change(l, &c, NULL), RAFT_OK);
	h_destroy(&net);
}

/*
 * The single-server flaw (Ongaro, raft-dev 2015) that the rule above
 * closes.  Members {1,2,3,4}.  Leader 1 (term 1) appends "add 5", which only
 * node 5 receives; node 1 goes down.  Node 2 wins term 2 with 2, 3, 4 and
 * at once appends "remove 1"; node 3 receives it, so it commits under
 * {2,3,4}.  Node 2 goes down; node 1 returns and wins term 3 with 1, 4, 5,
 * a majority of {1..5}, and commits its own entry at the same index.
 * Without the rule index 3 is committed as term 2 by node 2 and as term 3
 * by node 1.  With it, node 2's change is refused (EBUSY) until its NOOP is
 * committed, which node 4 would have to hold, and then 4 would refuse 1.
 */
static void
test_change_after_leader_change_keeps_commits(void **state)
{
	h_net		net;
	raft_change add5 = change(RAFT_CHANGE_ADD_VOTER, 5);
	raft_change rm1 = change(RAFT_CHANGE_REMOVE, 1);
	raft_node  *n2;

	(void) state;
	init_members(&net, 5, 4);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), 1);

	/* term 1: "add 5" reaches node 5 only */
	net.cut[1][2] = net.cut[1][3] = net.cut[1][4] = true;
	assert_int_equal(raft_propose_change(h_node(&net, 1), &add5, NULL), RAFT_OK);
	h_tick(&net, 1, H_HB);
	h_deliver(&net);
	assert_int_equal(raft_last_index(h_node(&net, 5)), 2);
	assert_int_equal(raft_last_index(h_node(&net, 4)), 1);
	h_crash(&net, 1);
	h_heal(&net);

	/* term 2: node 2 leads with 2, 3, 4 and proposes "remove 1" at once */
	n2 = h_win(&net, 2);
	(void) raft_propose_change(n2, &rm1, NULL);
	net.cut[2][4] = net.cut[2][5] = true;	/* only node 3 hears node 2 */
	h_deliver(&net);
	h_crash(&net, 2);
	h_heal(&net);

	/* term 3 (or later): node 1 returns and leads with 1, 4, 5 */
	h_isolate(&net, 3);
	h_restart(&net, 1);
	h_elect(&net, 1);
	h_run(&net, 3 * H_HB, 1);

	/* nobody ever committed two different entries at one index */
	for (raft_index i = 1; i < 16; i++)
	{
		raft_term	seen = 0;

		for (raft_id id = 1; id <= 5; id++)
		{
			if (net.applied[id] < i || net.applied_term[id][i] == 0)
				continue;
			if (seen == 0)
				seen = net.applied_term[id][i];
			assert_int_equal(net.applied_term[id][i], seen);
		}
	}
	h_destroy(&net);
}

/* Count the voters of a node's configuration. */
static int
voters_of(raft_node *n)
{
	const raft_membership *m = raft_get_membership(n);
	int			v = 0;

	for (int i = 0; i < m->count; i++)
		if (m->members[i].voter)
			v++;
	return v;
}

/*
 * Rule (staged addition): RAFT_CHANGE_ADD_STAGED adds a learner, marked in
 * the log; the leader promotes it by itself once its match index reached
 * the commit index and it answered recently.  Added while it is down, to a
 * cluster with one voter already down, it never costs the quorum.
 */
static void
test_staged_member_promoted_once_caught_up(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l;
	int			slot;

	(void) state;
	init_members(&net, 4, 3);
	l = h_node(&net, 1);
	h_crash(&net, 4);			/* the new member is down */
	h_crash(&net, 3);			/* and so is one voter */
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_STAGED, 4, &idx), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	slot = raft_get_membership(l)->count - 1;
	assert_int_equal(raft_get_membership(l)->members[slot].id, 4);
	assert_true(raft_get_membership(l)->members[slot].staged);
	assert_false(raft_is_voter(l, 4));
	assert_int_equal(voters_of(l), 3);
	/* still writable: 1 and 2 are a majority of the three voters */
	assert_int_equal(h_propose(&net, 1, "still writable", &idx), RAFT_OK);
	h_run(&net, 5 * H_HB, 1);
	assert_int_equal(raft_commit_index(l), idx);
	assert_int_equal(raft_get_stats(l)->promotions, 0);

	/* it comes up, catches up, and the leader promotes it */
	h_restart(&net, 4);
	h_run(&net, 10 * H_HB, 1);
	assert_true(raft_is_voter(l, 4));
	assert_false(raft_get_membership(l)->members[slot].staged);
	assert_int_equal(raft_get_stats(l)->promotions, 1);
	assert_true(raft_is_voter(h_node(&net, 4), 4));
	assert_int_equal(raft_commit_index(l), raft_last_index(l));
	h_destroy(&net);
}

/* The staged mark is in the log: a later leader promotes the member. */
static void
test_staged_mark_survives_leader_change(void **state)
{
	h_net		net;
	raft_index	idx;
	raft_node  *l2;

	(void) state;
	init_members(&net, 4, 3);
	h_crash(&net, 4);
	assert_int_equal(propose(&net, RAFT_CHANGE_ADD_STAGED, 4, &idx), RAFT_OK);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_commit_index(h_node(&net, 2)), idx);
	h_crash(&net, 1);
	h_elect(&net, 2);
	l2 = h_node(&net, 2);
	assert_false(raft_is_voter(l2, 4));
	h_restart(&net, 4);
	h_run(&net, 10 * H_HB, 1);
	assert_true(raft_is_voter(l2, 4));
	assert_int_equal(raft_get_stats(l2)->promotions, 1);
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_voter),
		cmocka_unit_test(test_add_learner),
		cmocka_unit_test(test_learner_vote_not_counted),
		cmocka_unit_test(test_new_voter_unaware_of_itself_still_votes),
		cmocka_unit_test(test_promote_learner),
		cmocka_unit_test(test_remove_follower),
		cmocka_unit_test(test_removed_leader_steps_down),
		cmocka_unit_test(test_unreplicated_self_removal_recovers),
		cmocka_unit_test(test_vote_for_voter_unknown_to_us),
		cmocka_unit_test(test_one_change_at_a_time),
		cmocka_unit_test(test_change_validation),
		cmocka_unit_test(test_cannot_remove_last_voter),
		cmocka_unit_test(test_change_undone_on_truncation),
		cmocka_unit_test(test_membership_restored_from_log),
		cmocka_unit_test(test_uncommitted_change_from_previous_term_blocks),
		cmocka_unit_test(test_change_busy_until_committed),
		cmocka_unit_test(test_change_refused_until_own_term_entry_committed),
		cmocka_unit_test(test_change_after_leader_change_keeps_commits),
		cmocka_unit_test(test_staged_member_promoted_once_caught_up),
		cmocka_unit_test(test_staged_mark_survives_leader_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
