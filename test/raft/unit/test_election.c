/*
 * test_election.c
 *	  Unit tests of leader election, named after the rules of the Raft paper
 *	  (section 5.2, 5.4.1) in the manner of etcd's raft_paper_test.go, plus
 *	  the election-related options (never_campaign, position refusal).  The
 *	  election timer's rules are in test_election_timer.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Put node 1 of a 3-node cluster into 'role'. */
static void
make_role(h_net *net, raft_role role)
{
	if (role == RAFT_PRECANDIDATE)
		net->opts[1].prevote = true;
	h_start(net);
	switch (role)
	{
		case RAFT_FOLLOWER:
			break;
		case RAFT_PRECANDIDATE:
		case RAFT_CANDIDATE:
			h_tick(net, 1, H_ET + H_SPREAD);
			break;
		case RAFT_LEADER:
			h_elect(net, 1);
			break;
	}
	h_clear(net);
	assert_int_equal(raft_get_role(h_node(net, 1)), role);
}

/* Rule: any message of a higher term makes a node follower in that term. */
static void
update_term_from_message(raft_role role, int type)
{
	h_net		net;
	raft_node  *n;
	raft_term	t;
	raft_message m;

	h_setup(&net, 3);
	make_role(&net, role);
	n = h_node(&net, 1);
	t = raft_get_term(n);
	m = h_msg_make(type, 2, 1, t + 5);
	if (type == RAFT_MSG_APPEND)
	{
		m.prev_log_index = 0;
		m.commit = 0;
	}
	raft_receive(n, &m, net.now);
	assert_int_equal(raft_get_role(n), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(n), t + 5);
	if (type == RAFT_MSG_APPEND)
		assert_int_equal(raft_get_leader(n), 2);
	else
		assert_int_equal(raft_get_leader(n), RAFT_NOBODY);
	h_destroy(&net);
}

/* Follower: term update from APPEND and responses. */
static void
test_follower_update_term_from_message(void **state)
{
	(void) state;
	update_term_from_message(RAFT_FOLLOWER, RAFT_MSG_APPEND);
	update_term_from_message(RAFT_FOLLOWER, RAFT_MSG_APPEND_RESPONSE);
	update_term_from_message(RAFT_FOLLOWER, RAFT_MSG_VOTE_RESPONSE);
}

/* Precandidate: term update from APPEND and responses. */
static void
test_precandidate_update_term_from_message(void **state)
{
	(void) state;
	update_term_from_message(RAFT_PRECANDIDATE, RAFT_MSG_APPEND);
	update_term_from_message(RAFT_PRECANDIDATE, RAFT_MSG_VOTE_RESPONSE);
}

/* Candidate: term update from APPEND and responses. */
static void
test_candidate_update_term_from_message(void **state)
{
	(void) state;
	update_term_from_message(RAFT_CANDIDATE, RAFT_MSG_APPEND);
	update_term_from_message(RAFT_CANDIDATE, RAFT_MSG_APPEND_RESPONSE);
}

/* Leader: term update from APPEND and responses. */
static void
test_leader_update_term_from_message(void **state)
{
	(void) state;
	update_term_from_message(RAFT_LEADER, RAFT_MSG_APPEND);
	update_term_from_message(RAFT_LEADER, RAFT_MSG_APPEND_RESPONSE);
	update_term_from_message(RAFT_LEADER, RAFT_MSG_VOTE_RESPONSE);
}

/* Without stickiness, a higher-term VOTE also updates the term. */
static void
test_leader_update_term_from_vote_request(void **state)
{
	h_net		net;
	raft_message m;

	(void) state;
	h_setup(&net, 3);
	make_role(&net, RAFT_LEADER);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 7);
	m.last_log_index = 1;
	m.last_log_term = 2;
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(h_node(&net, 1)), 7);
	assert_int_equal(raft_get_stats(h_node(&net, 1))->leader_stepdowns, 1);
	h_destroy(&net);
}

/* Rule: a request with a stale term is rejected, and the sender told. */
static void
test_reject_stale_term_message(void **state)
{
	h_net		net;
	raft_node  *n;
	raft_message m;
	const raft_message *r;

	(void) state;
	h_setup(&net, 3);
	net.disk[1].hs.term = 5;
	h_start(&net);
	n = h_node(&net, 1);
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 4);
	raft_receive(n, &m, net.now);
	assert_int_equal(raft_get_term(n), 5);
	assert_int_equal(raft_get_leader(n), RAFT_NOBODY);
	assert_int_equal(raft_get_stats(n)->msgs_dropped_stale, 1);
	r = h_find(&net, RAFT_MSG_APPEND_RESPONSE, 1, 2);
	assert_non_null(r);
	assert_false(r->success);
	assert_int_equal(r->term, 5);

	m = h_msg_make(RAFT_MSG_VOTE, 3, 1, 4);
	raft_receive(n, &m, net.now);
	r = h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 3);
	assert_non_null(r);
	assert_false(r->granted);
	assert_int_equal(r->refusal, RAFT_VOTE_STALE_TERM);
	assert_int_equal(raft_get_vote(n), RAFT_NOBODY);
	h_destroy(&net);
}

/* Rule: servers start as followers. */
static void
test_start_as_follower(void **state)
{
	h_net		net;

	(void) state;
	h_setup(&net, 3);
	net.disk[2].hs.term = 3;
	net.disk[2].hs.voted_for = 1;
	h_start(&net);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(h_node(&net, 1)), 0);
	assert_int_equal(raft_get_role(h_node(&net, 2)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(h_node(&net, 2)), 3);
	assert_int_equal(raft_get_vote(h_node(&net, 2)), 1);
	assert_int_equal(raft_get_leader(h_node(&net, 2)), RAFT_NOBODY);
	h_destroy(&net);
}

/* Rule: a follower that hears nothing for an election timeout campaigns. */
static void
test_follower_start_election(void **state)
{
	h_net		net;
	raft_node  *n;
	const raft_message *m;

	(void) state;
	h_init(&net, 3);
	n = h_node(&net, 1);
	h_tick(&net, 1, H_ET - 1);
	assert_int_equal(raft_get_role(n), RAFT_FOLLOWER);
	h_tick(&net, 1, H_SPREAD + 1);
	assert_int_equal(raft_get_role(n), RAFT_CANDIDATE);
	assert_int_equal(raft_get_term(n), 1);
	assert_int_equal(raft_get_vote(n), 1);
	assert_int_equal(h_count(&net, RAFT_MSG_VOTE, 1, 0), 2);
	m = h_find(&net, RAFT_MSG_VOTE, 1, 2);
	assert_non_null(m);
	assert_int_equal(m->term, 1);
	assert_int_equal(m->last_log_index, 0);
	assert_false(m->transfer);
	/* the vote for itself is persisted in the same batch */
	assert_int_equal(net.disk[1].hs.term, 1);
	assert_int_equal(net.disk[1].hs.voted_for, 1);
	assert_int_equal(raft_get_stats(n)->elections_started, 1);
	h_destroy(&net);
}

/* Rule: a candidate whose election times out starts a new one. */
static void
test_candidate_start_new_election(void **state)
{
	h_net		net;
	raft_node  *n;

	(void) state;
	h_setup(&net, 3);
	make_role(&net, RAFT_CANDIDATE);
	n = h_node(&net, 1);
	assert_int_equal(raft_get_term(n), 1);
	h_tick(&net, 1, H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(n), RAFT_CANDIDATE);
	assert_int_equal(raft_get_term(n), 2);
	assert_int_equal(h_count(&net, RAFT_MSG_VOTE, 1, 0), 2);
	assert_int_equal(h_find(&net, RAFT_MSG_VOTE, 1, 3)->term, 2);
	h_destroy(&net);
}

/* Feed node 1 (candidate in an n-node cluster) the given answers. */
static raft_role
election_round(int size, const bool *answers, const bool *granted)
{
	h_net		net;
	raft_role	role;

	h_setup(&net, size);
	make_role(&net, RAFT_CANDIDATE);
	for (int i = 2; i <= size; i++)
	{
		raft_message m;

		if (!answers[i])
			continue;
		m = h_msg_make(RAFT_MSG_VOTE_RESPONSE, (raft_id) i, 1, 1);
		m.granted = granted[i];
		m.refusal = granted[i] ? RAFT_VOTE_GRANTED : RAFT_VOTE_ALREADY_VOTED;
		raft_receive(h_node(&net, 1), &m, net.now);
	}
	role = raft_get_role(h_node(&net, 1));
	h_destroy(&net);
	return role;
}

/* Rule: win with a majority, lose to a majority, else wait (split vote). */
static void
test_leader_election_in_one_round(void **state)
{
	bool		all[H_MAX + 1] = {false, true, true, true, true, true};
	bool		yes[H_MAX + 1] = {false, true, true, true, true, true};
	bool		no[H_MAX + 1] = {false};
	bool		two[H_MAX + 1] = {false, false, true, false, false, false};
	bool		one_yes[H_MAX + 1] = {false, false, true, false, false, false};

	(void) state;
	assert_int_equal(election_round(3, all, yes), RAFT_LEADER);
	assert_int_equal(election_round(3, two, one_yes), RAFT_LEADER);
	assert_int_equal(election_round(5, all, yes), RAFT_LEADER);
	/* lose: a majority refused */
	assert_int_equal(election_round(3, all, no), RAFT_FOLLOWER);
	assert_int_equal(election_round(5, all, no), RAFT_FOLLOWER);
	/* split: no majority either way */
	assert_int_equal(election_round(5, two, one_yes), RAFT_CANDIDATE);
	assert_int_equal(election_round(3, no, no), RAFT_CANDIDATE);
}

/* A candidate that wins becomes leader and opens the term with a NOOP. */
static void
test_leader_appends_noop_on_election(void **state)
{
	h_net		net;
	raft_entry	e;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_LEADER);
	assert_true(raft_get_entry(h_node(&net, 1), 1, &e));
	assert_int_equal(e.type, RAFT_ENTRY_NOOP);
	assert_int_equal(e.term, raft_get_term(h_node(&net, 1)));
	/* a majority holds it: committed */
	assert_int_equal(raft_commit_index(h_node(&net, 1)), 1);
	assert_int_equal(raft_get_leader(h_node(&net, 2)), 1);
	h_destroy(&net);
}

/* Rule: each server votes for at most one candidate per term, FCFS. */
static void
test_follower_vote(void **state)
{
	struct
	{
		raft_id		vote;
		raft_id		from;
		bool		granted;
	}			cases[] = {
		{RAFT_NOBODY, 2, true}, {RAFT_NOBODY, 3, true},
		{2, 2, true}, {3, 3, true}, {2, 3, false}, {3, 2, false},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		h_net		net;
		raft_message m;
		const raft_message *r;

		h_setup(&net, 3);
		net.disk[1].hs.term = 1;
		net.disk[1].hs.voted_for = cases[i].vote;
		h_start(&net);
		m = h_msg_make(RAFT_MSG_VOTE, cases[i].from, 1, 1);
		raft_receive(h_node(&net, 1), &m, net.now);
		r = h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, cases[i].from);
		assert_non_null(r);
		assert_int_equal(r->granted, cases[i].granted);
		if (!cases[i].granted)
			assert_int_equal(r->refusal, RAFT_VOTE_ALREADY_VOTED);
		assert_int_equal(raft_get_vote(h_node(&net, 1)),
						 cases[i].vote ? cases[i].vote : cases[i].from);
		/* the vote was persisted before the answer could leave */
		assert_int_equal(net.disk[1].hs.voted_for, raft_get_vote(h_node(&net, 1)));
		h_destroy(&net);
	}
}

/* The vote survives a crash: a restarted node does not vote twice. */
static void
test_vote_survives_restart(void **state)
{
	h_net		net;
	raft_message m;
	const raft_message *r;

	(void) state;
	h_init(&net, 3);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 4);
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_true(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2)->granted);
	h_clear(&net);
	h_restart(&net, 1);
	assert_int_equal(raft_get_term(h_node(&net, 1)), 4);
	assert_int_equal(raft_get_vote(h_node(&net, 1)), 2);
	m = h_msg_make(RAFT_MSG_VOTE, 3, 1, 4);
	raft_receive(h_node(&net, 1), &m, net.now);
	r = h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 3);
	assert_false(r->granted);
	h_destroy(&net);
}

/* Rule: a candidate that hears AppendEntries from a current leader yields. */
static void
test_candidate_fallback(void **state)
{
	for (int bump = 0; bump <= 1; bump++)
	{
		h_net		net;
		raft_node  *n;
		raft_message m;

		h_setup(&net, 3);
		make_role(&net, RAFT_CANDIDATE);
		n = h_node(&net, 1);
		m = h_msg_make(RAFT_MSG_APPEND, 2, 1, raft_get_term(n) + (raft_term) bump);
		raft_receive(n, &m, net.now);
		assert_int_equal(raft_get_role(n), RAFT_FOLLOWER);
		assert_int_equal(raft_get_term(n), 1 + (raft_term) bump);
		assert_int_equal(raft_get_leader(n), 2);
		h_destroy(&net);
	}
	(void) state;
}

/* Rule (5.4.1): a voter refuses a candidate whose log is less up to date. */
static void
test_voter_log_restriction(void **state)
{
	struct
	{
		raft_term	last_term;
		raft_index	last_index;
		bool		granted;
	}			cases[] = {
		/* voter's log: terms {1, 1} */
		{1, 2, true}, {1, 3, true}, {1, 1, false},
		{2, 1, true}, {2, 3, true}, {0, 0, false},
	};
	raft_term	terms[] = {1, 1};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		h_net		net;
		raft_message m;
		const raft_message *r;

		h_setup(&net, 3);
		h_preload(&net, 1, terms, 2, 2);
		h_start(&net);
		m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 3);
		m.last_log_term = cases[i].last_term;
		m.last_log_index = cases[i].last_index;
		raft_receive(h_node(&net, 1), &m, net.now);
		r = h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2);
		assert_non_null(r);
		assert_int_equal(r->granted, cases[i].granted);
		if (!cases[i].granted)
			assert_int_equal(r->refusal, RAFT_VOTE_LOG_BEHIND);
		h_destroy(&net);
	}
}

/* The log restriction in a whole cluster: the stale node cannot win. */
static void
test_stale_log_candidate_cannot_win(void **state)
{
	h_net		net;
	raft_term	newer[] = {1, 2};
	raft_term	older[] = {1};

	(void) state;
	h_setup(&net, 3);
	h_preload(&net, 1, older, 1, 2);
	h_preload(&net, 2, newer, 2, 2);
	h_preload(&net, 3, newer, 2, 2);
	h_start(&net);
	h_tick(&net, 1, H_ET + H_SPREAD);
	h_deliver(&net);
	assert_int_not_equal(raft_get_role(h_node(&net, 1)), RAFT_LEADER);
	h_elect(&net, 2);
	assert_int_equal(raft_last_index(h_node(&net, 1)), 3);
	h_destroy(&net);
}

/* never_campaign: votes, never stands. */
static void
test_never_campaign(void **state)
{
	h_net		net;
	raft_message m;

	(void) state;
	h_setup(&net, 3);
	net.opts[1].never_campaign = true;
	h_start(&net);
	for (int i = 0; i < 20; i++)
		h_tick(&net, 1, H_ET + H_SPREAD);
	assert_int_equal(raft_get_role(h_node(&net, 1)), RAFT_FOLLOWER);
	assert_int_equal(raft_get_term(h_node(&net, 1)), 0);
	assert_int_equal(h_count(&net, 0, 1, 0), 0);
	m = h_msg_make(RAFT_MSG_VOTE, 2, 1, 1);
	raft_receive(h_node(&net, 1), &m, net.now);
	assert_true(h_find(&net, RAFT_MSG_VOTE_RESPONSE, 1, 2)->granted);
	h_destroy(&net);
}

/* Vote requests carry the candidate's position. */
static void
test_vote_request_carries_position(void **state)
{
	h_net		net;
	raft_position p = H_POS(3, 12345);
	const raft_message *m;

	(void) state;
	h_init(&net, 3);
	raft_set_position(h_node(&net, 1), p);
	h_tick(&net, 1, H_ET + H_SPREAD);
	m = h_find(&net, RAFT_MSG_VOTE, 1, 2);
	assert_non_null(m);
	assert_int_equal(m->position.major, 3);
	assert_int_equal(m->position.minor, 12345);
	assert_true(raft_position_compare(p, H_POS(3, 12346)) < 0);
	assert_true(raft_position_compare(p, H_POS(2, 99999)) > 0);
	assert_int_equal(raft_position_compare(p, p), 0);
	h_destroy(&net);
}

/* A whole 5-node cluster elects exactly one leader by itself. */
static void
test_cluster_elects_one_leader(void **state)
{
	h_net		net;

	(void) state;
	h_init(&net, 5);
	h_run(&net, 10 * H_ET, 5);
	assert_int_equal(h_leaders(&net, 0), 1);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(raft_get_leader(h_node(&net, (raft_id) i)), h_leader(&net));
	h_destroy(&net);
}

/* ready.role_changed whenever role, term or leader changes. */
static void
test_ready_reports_role_changes(void **state)
{
	h_net		net;
	raft_ready	r;
	raft_node  *n;

	(void) state;
	h_init(&net, 3);
	n = h_node(&net, 1);
	h_tick(&net, 1, H_ET + H_SPREAD);
	assert_true(raft_has_ready(n));
	raft_get_ready(n, &r);
	assert_true(r.role_changed);
	assert_int_equal(r.role, RAFT_CANDIDATE);
	assert_int_equal(r.term, 1);
	assert_true(r.hard_state_changed);
	assert_int_equal(r.hard_state.voted_for, 1);
	assert_int_equal(r.n_messages, 2);
	raft_advance(n, net.now);
	assert_false(raft_has_ready(n));
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follower_update_term_from_message),
		cmocka_unit_test(test_precandidate_update_term_from_message),
		cmocka_unit_test(test_candidate_update_term_from_message),
		cmocka_unit_test(test_leader_update_term_from_message),
		cmocka_unit_test(test_leader_update_term_from_vote_request),
		cmocka_unit_test(test_reject_stale_term_message),
		cmocka_unit_test(test_start_as_follower),
		cmocka_unit_test(test_follower_start_election),
		cmocka_unit_test(test_candidate_start_new_election),
		cmocka_unit_test(test_leader_election_in_one_round),
		cmocka_unit_test(test_leader_appends_noop_on_election),
		cmocka_unit_test(test_follower_vote),
		cmocka_unit_test(test_vote_survives_restart),
		cmocka_unit_test(test_candidate_fallback),
		cmocka_unit_test(test_voter_log_restriction),
		cmocka_unit_test(test_stale_log_candidate_cannot_win),
		cmocka_unit_test(test_never_campaign),
		cmocka_unit_test(test_vote_request_carries_position),
		cmocka_unit_test(test_cluster_elects_one_leader),
		cmocka_unit_test(test_ready_reports_role_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
