/*
 * test_replication.c
 *	  Unit tests of log replication (Raft paper section 5.3): heartbeats,
 *	  the consistency check, conflict truncation, bringing a follower's log
 *	  in line (Figure 7), message size limits, resends and duplicates.
 *	  Commitment is in test_commit.c.  Named after the rules they check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Rule: a leader sends heartbeats to every follower each interval. */
static void
test_leader_bcast_beat(void **state)
{
	h_net		net;
	const raft_message *m;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	h_clear(&net);
	h_tick(&net, 1, H_HB - 1);
	assert_int_equal(h_count(&net, RAFT_MSG_APPEND, 1, 0), 0);
	h_tick(&net, 1, 1);
	assert_int_equal(h_count(&net, RAFT_MSG_APPEND, 1, 0), 2);
	m = h_find(&net, RAFT_MSG_APPEND, 1, 3);
	assert_int_equal(m->n_entries, 0);
	assert_int_equal(m->echo, net.now);
	assert_int_equal(m->commit, raft_commit_index(h_node(&net, 1)));
	assert_int_equal(m->prev_log_index, raft_last_index(h_node(&net, 1)));
	h_destroy(&net);
}

/* Ticks may come at any rate: heartbeats still follow the interval. */
static void
test_heartbeat_with_coarse_and_fine_ticks(void **state)
{
	h_net		net;
	int			beats = 0;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	h_clear(&net);
	for (int i = 0; i < 100; i++)
	{
		h_tick(&net, 1, 1);
		beats += (int) h_count(&net, RAFT_MSG_APPEND, 1, 2);
		h_clear(&net);
	}
	assert_int_equal(beats, 100 / H_HB);
	h_destroy(&net);
}

/* Rule: a leader appends a proposal and sends it to every follower. */
static void
test_leader_start_replication(void **state)
{
	h_net		net;
	raft_index	idx;
	const raft_message *m;
	raft_node  *l;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	h_clear(&net);
	l = h_node(&net, 1);
	assert_int_equal(h_propose(&net, 1, "some data", &idx), RAFT_OK);
	assert_int_equal(idx, 2);
	assert_int_equal(raft_last_index(l), 2);
	m = h_find(&net, RAFT_MSG_APPEND, 1, 2);
	assert_non_null(m);
	assert_int_equal(m->prev_log_index, 1);
	assert_int_equal(m->prev_log_term, raft_get_term(l));
	assert_int_equal(m->n_entries, 1);
	assert_int_equal(m->entries[0].index, 2);
	assert_int_equal(m->entries[0].len, 9);
	assert_memory_equal(m->entries[0].data, "some data", 9);
	assert_int_equal(m->commit, 1);
	/* and it is on the leader's disk */
	assert_int_equal(net.disk[1].len, 2);
	h_destroy(&net);
}

/* Rule: the consistency check refuses entries whose predecessor differs. */
static void
test_follower_check_append(void **state)
{
	struct
	{
		raft_index	prev_index;
		raft_term	prev_term;
		bool		success;
		raft_index	hint;
	}			cases[] = {
		/* follower's log: terms {1, 2} */
		{0, 0, true, 0}, {1, 1, true, 0}, {2, 2, true, 0},
		{2, 1, false, 1}, {1, 2, false, 0}, {3, 2, false, 2}, {5, 3, false, 2},
	};
	raft_term	terms[] = {1, 2};

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		h_net		net;
		raft_message m;
		const raft_message *r;

		h_setup(&net, 3);
		h_preload(&net, 1, terms, 2, 2);
		h_start(&net);
		m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 3);
		m.prev_log_index = cases[c].prev_index;
		m.prev_log_term = cases[c].prev_term;
		m.echo = 4242;
		raft_receive(h_node(&net, 1), &m, net.now);
		r = h_find(&net, RAFT_MSG_APPEND_RESPONSE, 1, 2);
		assert_non_null(r);
		assert_int_equal(r->success, cases[c].success);
		assert_int_equal(r->echo, 4242);
		if (cases[c].success)
			assert_int_equal(r->match_index, cases[c].prev_index);
		else
			assert_int_equal(r->reject_hint, cases[c].hint);
		assert_int_equal(raft_last_index(h_node(&net, 1)), 2);
		h_destroy(&net);
	}
}

/* Rule: conflicting entries are deleted and new ones appended. */
static void
test_follower_append_entries(void **state)
{
	struct
	{
		raft_index	prev_index;
		raft_term	prev_term;
		int			n;
		raft_term	ents[2];
		int			want_len;
		raft_term	want[3];
		raft_index	truncate_from;
	}			cases[] = {
		{2, 2, 1, {3}, 3, {1, 2, 3}, 0},
		{1, 1, 2, {3, 4}, 3, {1, 3, 4}, 2},
		{0, 0, 1, {1}, 2, {1, 2}, 0},
		{0, 0, 1, {3}, 1, {3}, 1},
		{1, 1, 1, {2}, 2, {1, 2}, 0},
	};
	raft_term	terms[] = {1, 2};

	(void) state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		h_net		net;
		raft_message m;
		raft_entry	ents[2];
		raft_ready	r;
		raft_node  *n;

		h_setup(&net, 3);
		h_preload(&net, 1, terms, 2, 2);
		h_start(&net);
		n = h_node(&net, 1);
		memset(ents, 0, sizeof(ents));
		for (int i = 0; i < cases[c].n; i++)
		{
			ents[i].term = cases[c].ents[i];
			ents[i].index = cases[c].prev_index + 1 + (raft_index) i;
			ents[i].type = RAFT_ENTRY_NORMAL;
		}
		m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 4);
		m.prev_log_index = cases[c].prev_index;
		m.prev_log_term = cases[c].prev_term;
		m.n_entries = (uint32_t) cases[c].n;
		m.entries = ents;
		raft_receive(n, &m, net.now);
		assert_int_equal(raft_last_index(n), cases[c].want_len);
		for (int i = 0; i < cases[c].want_len; i++)
		{
			raft_entry	e;

			assert_true(raft_get_entry(n, (raft_index) i + 1, &e));
			assert_int_equal(e.term, cases[c].want[i]);
		}
		raft_get_ready(n, &r);
		assert_int_equal(r.truncate_from, cases[c].truncate_from);
		raft_advance(n, net.now);
		h_destroy(&net);
	}
}

/* Build the paper's Figure 7 and check one follower is brought in line. */
static void
figure7_case(const raft_term *f, int f_len)
{
	raft_term	leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
	h_net		net;
	raft_node  *l;

	h_setup(&net, 3);
	h_preload(&net, 1, leader, 10, 7);
	h_preload(&net, 2, f, f_len, 7);
	h_preload(&net, 3, leader, 10, 7);
	h_start(&net);
	h_elect(&net, 1);
	l = h_node(&net, 1);
	assert_int_equal(raft_get_term(l), 8);
	h_run(&net, 3 * H_HB, 1);
	assert_int_equal(raft_last_index(h_node(&net, 2)), raft_last_index(l));
	assert_true(h_logs_match(&net, 1, 2, raft_last_index(l)));
	assert_int_equal(raft_commit_index(h_node(&net, 2)), 11);
	/* and on its disk too */
	assert_int_equal(net.disk[2].len, 11);
	for (int i = 0; i < 11; i++)
		assert_int_equal(net.disk[2].log[i].term, net.disk[1].log[i].term);
	h_destroy(&net);
}

/* Rule: the leader brings every follower log of Figure 7 in line. */
static void
test_leader_sync_follower_log_a(void **state)
{
	raft_term	f[] = {1, 1, 1, 4, 4, 5, 5, 6, 6};

	(void) state;
	figure7_case(f, 9);
}

/* Figure 7 (b): follower missing entries. */
static void
test_leader_sync_follower_log_b(void **state)
{
	raft_term	f[] = {1, 1, 1, 4};

	(void) state;
	figure7_case(f, 4);
}

/* Figure 7 (c): follower with an extra entry of the last term. */
static void
test_leader_sync_follower_log_c(void **state)
{
	raft_term	f[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6};

	(void) state;
	figure7_case(f, 11);
}

/* Figure 7 (d): follower with extra entries of a newer term. */
static void
test_leader_sync_follower_log_d(void **state)
{
	raft_term	f[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};

	(void) state;
	figure7_case(f, 12);
}

/* Figure 7 (e): follower missing entries, extra of an old term. */
static void
test_leader_sync_follower_log_e(void **state)
{
	raft_term	f[] = {1, 1, 1, 4, 4, 4, 4};

	(void) state;
	figure7_case(f, 7);
}

/* Figure 7 (f): follower with many entries of old terms. */
static void
test_leader_sync_follower_log_f(void **state)
{
	raft_term	f[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};

	(void) state;
	figure7_case(f, 11);
}

/* At most RAFT_MAX_ENTRIES_PER_MSG entries per APPEND; all get there. */
static void
test_max_entries_per_message(void **state)
{
	h_net		net;
	raft_index	idx = 0;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	h_isolate(&net, 3);
	for (int i = 0; i < 150; i++)
		assert_int_equal(h_propose(&net, 1, "bulk", &idx), RAFT_OK);
	h_deliver(&net);
	h_heal(&net);
	h_tick(&net, 0, H_HB);
	h_flush(&net);
	for (size_t i = 0; i < net.nq; i++)
		assert_true(net.q[i].m.n_entries <= RAFT_MAX_ENTRIES_PER_MSG);
	assert_int_equal(h_find(&net, RAFT_MSG_APPEND, 1, 3)->n_entries,
					 RAFT_MAX_ENTRIES_PER_MSG);
	h_run(&net, 5 * H_HB, 1);
	assert_int_equal(raft_last_index(h_node(&net, 3)), idx);
	assert_int_equal(raft_commit_index(h_node(&net, 3)), idx);
	assert_true(h_logs_match(&net, 1, 3, idx));
	h_destroy(&net);
}

/*
 * At most RAFT_MAX_APPEND_BYTES of payload per APPEND (so a batch always
 * fits a receiver's queue), but never zero entries; all get there.
 */
static void
test_max_bytes_per_message(void **state)
{
	h_net		net;
	raft_index	idx = 0;
	static uint8_t big[RAFT_MAX_ENTRY_DATA];

	(void) state;
	memset(big, 'x', sizeof(big));
	h_init(&net, 3);
	h_elect(&net, 1);
	h_isolate(&net, 3);
	for (int i = 0; i < 20; i++)
		assert_int_equal(raft_propose(h_node(&net, 1), RAFT_ENTRY_NORMAL, big,
									  sizeof(big), &idx), RAFT_OK);
	h_deliver(&net);
	h_heal(&net);
	h_tick(&net, 0, H_HB);
	h_flush(&net);
	for (size_t i = 0; i < net.nq; i++)
	{
		size_t		bytes = 0;

		for (uint32_t e = 0; e < net.q[i].m.n_entries; e++)
			bytes += net.q[i].m.entries[e].len;
		assert_true(bytes <= RAFT_MAX_APPEND_BYTES);
	}
	assert_int_equal(h_find(&net, RAFT_MSG_APPEND, 1, 3)->n_entries,
					 RAFT_MAX_APPEND_BYTES / RAFT_MAX_ENTRY_DATA);
	h_run(&net, 20 * H_HB, 1);
	assert_int_equal(raft_last_index(h_node(&net, 3)), idx);
	assert_true(h_logs_match(&net, 1, 3, idx));
	h_destroy(&net);
}

/* A lost APPEND is resent at the next heartbeat. */
static void
test_heartbeat_resends_lost_entries(void **state)
{
	h_net		net;
	raft_index	idx;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 1);
	h_propose(&net, 1, "lost", &idx);
	h_clear(&net);				/* the APPENDs are lost */
	assert_int_equal(raft_last_index(h_node(&net, 2)), idx - 1);
	h_tick(&net, 1, H_HB);
	h_deliver(&net);
	assert_int_equal(raft_last_index(h_node(&net, 2)), idx);
	assert_int_equal(raft_commit_index(h_node(&net, 1)), idx);
	h_destroy(&net);
}

/* The reject hint backs up over a divergent log quickly. */
static void
test_reject_hint_fast_backtracking(void **state)
{
	h_net		net;
	raft_term	leader[60];
	raft_term	f[50];
	size_t		appends = 0;

	(void) state;
	for (int i = 0; i < 60; i++)
		leader[i] = i < 10 ? 1 : 3;
	for (int i = 0; i < 50; i++)
		f[i] = i < 10 ? 1 : 2;
	h_setup(&net, 3);
	h_preload(&net, 1, leader, 60, 3);
	h_preload(&net, 2, f, 50, 3);
	h_preload(&net, 3, leader, 60, 3);
	h_start(&net);
	h_elect_quietly(&net);
	h_isolate(&net, 3);
	h_tick(&net, 1, H_HB);
	for (int round = 0; round < 10 && net.nq > 0; round++)
	{
		appends += h_count(&net, RAFT_MSG_APPEND, 1, 2);
		h_deliver_once(&net);
	}
	h_deliver(&net);
	assert_true(h_logs_match(&net, 1, 2, raft_last_index(h_node(&net, 1))));
	/* a one-by-one walk back would need about 40 round trips */
	assert_true(appends < 8);
	h_destroy(&net);
}

/* A conflicting rewrite of a committed entry is refused and counted. */
static void
test_append_conflicting_with_commit_dropped(void **state)
{
	h_net		net;
	raft_message m;
	raft_entry	e;
	raft_node  *n;

	(void) state;
	h_init(&net, 3);
	h_elect(&net, 2);
	h_run(&net, H_HB, 1);
	n = h_node(&net, 1);
	assert_int_equal(raft_commit_index(n), 1);
	memset(&e, 0, sizeof(e));
	e.term = 5;
	e.index = 1;
	e.type = RAFT_ENTRY_NORMAL;
	m = h_msg_make(RAFT_MSG_APPEND, 3, 1, 5);
	m.n_entries = 1;
	m.entries = &e;
	raft_receive(n, &m, net.now);
	assert_int_equal(raft_get_stats(n)->msgs_dropped_invalid, 1);
	assert_true(raft_get_entry(n, 1, &e));
	assert_int_not_equal(e.term, 5);
	h_destroy(&net);
}

/* An acknowledgement travels in the same batch as the entries it covers. */
static void
test_ack_in_same_batch_as_entries(void **state)
{
	h_net		net;
	raft_message m;
	raft_entry	e;
	raft_ready	r;
	raft_node  *n;

	(void) state;
	h_init(&net, 3);
	n = h_node(&net, 1);
	memset(&e, 0, sizeof(e));
	e.term = 1;
	e.index = 1;
	e.type = RAFT_ENTRY_NORMAL;
	e.len = 3;
	e.data = (const uint8_t *) "abc";
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);
	m.n_entries = 1;
	m.entries = &e;
	raft_receive(n, &m, net.now);
	raft_get_ready(n, &r);
	assert_true(r.hard_state_changed);
	assert_int_equal(r.n_entries, 1);
	assert_memory_equal(r.entries[0].data, "abc", 3);
	assert_int_equal(r.n_messages, 1);
	assert_true(r.messages[0].success);
	assert_int_equal(r.messages[0].match_index, 1);
	raft_advance(n, net.now);
	h_destroy(&net);
}

/* Duplicated and reordered APPENDs leave the log intact. */
static void
test_stale_append_does_not_truncate(void **state)
{
	h_net		net;
	raft_message m;
	raft_entry	ents[3];
	raft_node  *n;

	(void) state;
	h_init(&net, 3);
	n = h_node(&net, 1);
	memset(ents, 0, sizeof(ents));
	for (int i = 0; i < 3; i++)
	{
		ents[i].term = 1;
		ents[i].index = (raft_index) i + 1;
		ents[i].type = RAFT_ENTRY_NORMAL;
	}
	m = h_msg_make(RAFT_MSG_APPEND, 2, 1, 1);
	m.n_entries = 3;
	m.entries = ents;
	raft_receive(n, &m, net.now);
	m.n_entries = 1;			/* an older, shorter message arrives late */
	raft_receive(n, &m, net.now);
	assert_int_equal(raft_last_index(n), 3);
	h_flush(&net);
	assert_int_equal(net.disk[1].len, 3);
	h_destroy(&net);
}

/* Followers apply the same entries in the same order as the leader. */
static void
test_followers_apply_same_prefix(void **state)
{
	h_net		net;

	(void) state;
	h_init(&net, 5);
	h_elect(&net, 1);
	for (int i = 0; i < 20; i++)
	{
		h_propose(&net, 1, "e", NULL);
		if (i % 3 == 0)
			h_run(&net, H_HB, 2);
	}
	h_run(&net, 3 * H_HB, 2);
	for (int i = 2; i <= 5; i++)
	{
		assert_int_equal(net.applied[i], net.applied[1]);
		for (raft_index x = 1; x <= net.applied[1]; x++)
			assert_int_equal(net.applied_term[i][x], net.applied_term[1][x]);
	}
	h_destroy(&net);
}

/*
 * Rule progress_flags_known_once_heard: a new leader knows nothing of a
 * follower until it answers in this term of office.  Its progress starts
 * with the contact time set (so that CheckQuorum does not depose the new
 * leader at once), but "heard" stays false and the flags 0 until an answer
 * comes; the extension must not read those 0 flags as "it would not
 * promote" (a switchover right after an election was refused for that).
 */
static void
test_progress_flags_known_once_heard(void **state)
{
	h_net		net;
	raft_node  *l;
	raft_peer_progress p;

	(void) state;
	h_init(&net, 3);
	raft_set_flags(h_node(&net, 2), 0x01);
	l = h_win(&net, 1);
	assert_true(raft_get_progress(l, 2, &p));
	assert_false(p.heard);
	assert_int_equal(p.flags, 0);
	assert_true(p.last_contact != 0);

	h_deliver(&net);			/* the first APPENDs and their answers */
	assert_true(raft_get_progress(l, 2, &p));
	assert_true(p.heard);
	assert_int_equal(p.flags, 0x01);
	assert_true(raft_get_progress(l, 1, &p));
	assert_true(p.heard);
	h_destroy(&net);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leader_bcast_beat),
		cmocka_unit_test(test_heartbeat_with_coarse_and_fine_ticks),
		cmocka_unit_test(test_leader_start_replication),
		cmocka_unit_test(test_follower_check_append),
		cmocka_unit_test(test_follower_append_entries),
		cmocka_unit_test(test_leader_sync_follower_log_a),
		cmocka_unit_test(test_leader_sync_follower_log_b),
		cmocka_unit_test(test_leader_sync_follower_log_c),
		cmocka_unit_test(test_leader_sync_follower_log_d),
		cmocka_unit_test(test_leader_sync_follower_log_e),
		cmocka_unit_test(test_leader_sync_follower_log_f),
		cmocka_unit_test(test_max_entries_per_message),
		cmocka_unit_test(test_max_bytes_per_message),
		cmocka_unit_test(test_heartbeat_resends_lost_entries),
		cmocka_unit_test(test_reject_hint_fast_backtracking),
		cmocka_unit_test(test_append_conflicting_with_commit_dropped),
		cmocka_unit_test(test_ack_in_same_batch_as_entries),
		cmocka_unit_test(test_stale_append_does_not_truncate),
		cmocka_unit_test(test_followers_apply_same_prefix),
		cmocka_unit_test(test_progress_flags_known_once_heard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
