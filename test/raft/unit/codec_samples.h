/*
 * codec_samples.h
 *	  Sample messages and helpers shared by the codec tests (test_codec.c
 *	  and test_codec_reject.c).
 *
 * One valid message of every type, encoders and envelope builders that
 * assert success, and the field offsets of docs/wire-format.md that the
 * tests patch to make an input invalid.  Each test binary includes this
 * header exactly once.
 */
#ifndef CODEC_SAMPLES_H
#define CODEC_SAMPLES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "raft.h"

/* Offsets of fields in an encoded message (docs/wire-format.md). */
#define OFF_VERSION		0
#define OFF_TYPE		1
#define OFF_FROM		2
#define OFF_TO			6
#define OFF_BODY		18
#define OFF_ENTRIES		52		/* first entry of an APPEND */
#define ENTRY_HDR		21

/* Envelope header offsets for the cluster name "c1". */
#define ENV_OFF_VERSION	4
#define ENV_OFF_NAMELEN	5
#define ENV_OFF_NAME	6

#define BIG_BUF (1 << 20)

static const uint8_t payload_a[] = "hello, raft";
static const uint8_t payload_b[] = {0x00, 0xff, 0x10, 0x80};

/* Decoder storage shared by the tests (they run one at a time). */
static raft_entry decoded_entries[RAFT_MAX_ENTRIES_PER_MSG];
static uint8_t big_buf[BIG_BUF];
static uint8_t change_buf[3][1100];
static raft_entry sample_entries[4];

/* A zeroed message of 'type' from -> to in 'term'. */
static inline raft_message
header_message(uint8_t type, raft_id from, raft_id to, raft_term term)
{
	raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.from = from;
	m.to = to;
	m.term = term;
	return m;
}

/* A membership change (address copied; it must fit). */
static inline raft_change
make_change(uint8_t op, raft_id id, const char *address)
{
	raft_change c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.id = id;
	strcpy(c.address, address);
	return c;
}

/* Encode c into buf, asserting success; returns the length. */
static inline size_t
encode_change_ok(const raft_change *c, uint8_t *buf, size_t cap)
{
	size_t		len = 0;
	const char *why = NULL;

	assert_int_equal(raft_change_encode(c, buf, cap, &len, &why), RAFT_OK);
	return len;
}

/* Encode a change into storage slot 'slot' and describe it as an entry. */
static inline raft_entry
change_entry(int slot, raft_term term, raft_index index, uint8_t op,
			 raft_id id, const char *address)
{
	raft_change c = make_change(op, id, address);
	raft_entry	e;

	memset(&e, 0, sizeof(e));
	e.term = term;
	e.index = index;
	e.type = RAFT_ENTRY_CHANGE;
	e.len = (uint32_t) encode_change_ok(&c, change_buf[slot],
										sizeof(change_buf[slot]));
	e.data = change_buf[slot];
	return e;
}

/* One valid message of each type, 'which' selecting it (0 .. 8). */
static inline raft_message
sample_message(int which)
{
	raft_message m;

	memset(&m, 0, sizeof(m));
	m.from = 1;
	m.to = 2;
	m.term = 7;
	switch (which)
	{
		case 0:
		case 1:
			m.type = which == 0 ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
			m.term = UINT64_MAX - 3;
			m.last_log_index = 0x0102030405060708;
			m.last_log_term = 6;
			m.position.major = 3;
			m.position.minor = UINT64_C(0xfedcba9876543210);
			m.position.begin = UINT64_C(0x3000000);
			m.position.parent = 2;
			m.position.parent_begin = UINT64_C(0x2000000);
			m.transfer = which == 1;
			m.n_history = 2;
			m.history[0] = (raft_timeline) {2, 0x2000000, 1, 4, 0, 0};
			m.history[1] = (raft_timeline) {3, 0x3000000, 2, 5, 0, 0};
			break;
		case 2:
			m.type = RAFT_MSG_PREVOTE_RESPONSE;
			m.granted = true;
			break;
		case 3:
			m.type = RAFT_MSG_VOTE_RESPONSE;
			m.refusal = RAFT_VOTE_NOT_MEMBER;
			break;
		case 4:					/* heartbeat */
			m.type = RAFT_MSG_APPEND;
			m.prev_log_index = 41;
			m.prev_log_term = 6;
			m.commit = 40;
			m.echo = -5;
			m.rank = RAFT_RANK_UNKNOWN;
			break;
		case 5:					/* entries of every type */
			m.type = RAFT_MSG_APPEND;
			m.prev_log_index = 9;
			m.prev_log_term = 2;
			m.commit = 9;
			m.echo = 123456789;
			m.rank = RAFT_MAX_MEMBERS - 1;
			memset(sample_entries, 0, sizeof(sample_entries));
			sample_entries[0] = (raft_entry) {3, 10, RAFT_ENTRY_NOOP, 0, NULL};
			sample_entries[1] = (raft_entry) {
				3, 11, RAFT_ENTRY_NORMAL, sizeof(payload_a), payload_a
			};
			sample_entries[2] = change_entry(0, 7, 12, RAFT_CHANGE_ADD_VOTER,
											 4, "host=db4 port=5432");
			sample_entries[3] = (raft_entry) {
				7, 13, RAFT_ENTRY_NORMAL, sizeof(payload_b), payload_b
			};
			m.n_entries = 4;
			m.entries = sample_entries;
			break;
		case 6:
			m.type = RAFT_MSG_APPEND_RESPONSE;
			m.echo = INT64_MAX;
			m.success = true;
			m.match_index = 13;
			m.position.major = 2;
			m.position.minor = UINT64_C(0x0000000123456789);
			m.timeout = UINT32_MAX;
			m.priority = RAFT_MAX_PRIORITY;
			m.flags = 0xa5;
			break;
		case 7:					/* a refusal; position unknown */
			m.type = RAFT_MSG_APPEND_RESPONSE;
			m.echo = 77;
			m.reject_hint = 5;
			m.timeout = 200;
			break;
		default:
			m.type = RAFT_MSG_TIMEOUT_NOW;
			m.from = UINT32_MAX;
			break;
	}
	return m;
}

#define N_SAMPLES 9

/* Assert that two messages carry the same fields and entry contents. */
static inline void
assert_msg_equal(const raft_message *a, const raft_message *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_true(a->term == b->term);
	assert_true(a->last_log_index == b->last_log_index);
	assert_true(a->last_log_term == b->last_log_term);
	assert_true(a->position.major == b->position.major);
	assert_true(a->position.minor == b->position.minor);
	assert_true(a->position.begin == b->position.begin);
	assert_true(a->position.parent == b->position.parent);
	assert_true(a->position.parent_begin == b->position.parent_begin);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->transfer, b->transfer);
	assert_int_equal(a->granted, b->granted);
	assert_int_equal(a->refusal, b->refusal);
	assert_true(a->prev_log_index == b->prev_log_index);
	assert_true(a->prev_log_term == b->prev_log_term);
	assert_true(a->commit == b->commit);
	assert_true(a->echo == b->echo);
	assert_int_equal(a->success, b->success);
	assert_true(a->match_index == b->match_index);
	assert_true(a->reject_hint == b->reject_hint);
	assert_true(a->timeout == b->timeout);
	assert_int_equal(a->rank, b->rank);
	assert_int_equal(a->priority, b->priority);
	assert_int_equal(a->n_entries, b->n_entries);
	for (uint32_t i = 0; i < a->n_entries; i++)
	{
		assert_true(a->entries[i].term == b->entries[i].term);
		assert_true(a->entries[i].index == b->entries[i].index);
		assert_int_equal(a->entries[i].type, b->entries[i].type);
		assert_int_equal(a->entries[i].len, b->entries[i].len);
		if (a->entries[i].len > 0)
			assert_memory_equal(a->entries[i].data, b->entries[i].data,
								a->entries[i].len);
	}
}

/* Encode msg into big_buf, asserting success; returns the length. */
static inline size_t
encode_ok(const raft_message *msg)
{
	size_t		len = 0;
	const char *why = "unset";

	assert_int_equal(raft_message_encode(msg, big_buf, sizeof(big_buf), &len,
										 &why), RAFT_OK);
	assert_null(why);
	assert_int_equal(len, raft_message_encoded_size(msg));
	return len;
}

/* Build an envelope of the first n sample messages (from 1 to 2). */
static inline size_t
build_envelope(int n, uint8_t *buf, size_t cap)
{
	size_t		len = 0;
	const char *why;

	assert_int_equal(raft_envelope_encode_header("c1", 1, 2, (uint32_t) n,
												 buf, cap, &len, &why),
					 RAFT_OK);
	for (int i = 0; i < n; i++)
	{
		raft_message m = sample_message(i % N_SAMPLES);

		m.from = 1;
		m.to = 2;
		assert_int_equal(raft_envelope_append(&m, buf, cap, &len, &why),
						 RAFT_OK);
	}
	return len;
}

#endif							/* CODEC_SAMPLES_H */
