/*
 * test_codec_reject.c
 *	  Unit tests of the wire codec (src/raft/raft_codec.c): what it refuses.
 *
 * Every rejection path of the decoders and encoders, each checked for its
 * exact reason: input cut short at every byte, each field out of range,
 * wrong versions, trailing bytes, envelope counts that do not match their
 * bodies, and buffers too small for the encoder.
 */
#include "codec_samples.h"

/* Decode buf and assert that it fails with exactly 'reason'. */
static void
assert_decode_fails(const uint8_t *buf, size_t len, const char *reason)
{
	raft_message m;
	const char *why = NULL;

	assert_int_equal(raft_message_decode(buf, len, &m, decoded_entries, &why),
					 RAFT_EINVAL);
	assert_non_null(why);
	if (reason != NULL)
		assert_string_equal(why, reason);
	assert_int_equal(m.type, 0);
}

/* Encode msg and assert that the encoder refuses it with 'reason'. */
static void
assert_encode_fails(const raft_message *msg, const char *reason)
{
	size_t		len = 0;
	const char *why = NULL;

	assert_int_equal(raft_message_encode(msg, big_buf, sizeof(big_buf), &len,
										 &why), RAFT_EINVAL);
	assert_string_equal(why, reason);
}

/* A valid message cut short at any byte is refused. */
static void
test_message_truncated_everywhere(void **state)
{
	(void) state;
	for (int i = 0; i < N_SAMPLES; i++)
	{
		raft_message m = sample_message(i);
		size_t		len = encode_ok(&m);

		for (size_t cut = 0; cut < len; cut++)
			assert_decode_fails(big_buf, cut, NULL);
	}
	assert_decode_fails(NULL, 0, "truncated message header");
	assert_decode_fails(big_buf, 1, "truncated message header");
	assert_decode_fails(big_buf, 17, "truncated message header");
}

/* Envelopes cut short at any byte, or extended by any byte, are refused. */
static void
test_envelope_truncated_everywhere(void **state)
{
	static uint8_t buf[BIG_BUF];
	size_t		len = build_envelope(N_SAMPLES, buf, sizeof(buf) - 1);
	raft_envelope env;
	const char *why;

	(void) state;
	for (size_t cut = 0; cut < len; cut++)
	{
		why = NULL;
		assert_int_equal(raft_envelope_decode(buf, cut, &env, &why),
						 RAFT_EINVAL);
		assert_non_null(why);
		assert_int_equal(env.count, 0);
	}
	buf[len] = 0;
	assert_int_equal(raft_envelope_decode(buf, len + 1, &env, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "envelope holds more bytes than its count of "
						"messages");
	assert_int_equal(raft_envelope_decode(NULL, 0, &env, &why), RAFT_EINVAL);
	assert_string_equal(why, "truncated envelope header");
}

/* Copy sample message 'which' into big_buf and patch one byte. */
static size_t
patched(int which, size_t offset, uint8_t value)
{
	raft_message m = sample_message(which);
	size_t		len = encode_ok(&m);

	big_buf[offset] = value;
	return len;
}

/* Each bad header field is refused with a reason naming it. */
static void
test_reject_bad_header(void **state)
{
	/*
	 * version 1 lacked the election timeout, 2 the rank and priority, 3
	 * the timeline history and the positions' beginnings and parents
	 */
	static const uint8_t bad_versions[] = {1, 2, 3, 5, 0};
	static const uint8_t bad_types[] = {9, 0, 255};
	char		reason[80];
	size_t		len;

	(void) state;
	for (size_t i = 0; i < sizeof(bad_versions); i++)
	{
		snprintf(reason, sizeof(reason),
				 "unsupported wire version %u (this build speaks version 4)",
				 bad_versions[i]);
		len = patched(8, OFF_VERSION, bad_versions[i]);
		assert_decode_fails(big_buf, len, reason);
	}
	for (size_t i = 0; i < sizeof(bad_types); i++)
	{
		snprintf(reason, sizeof(reason), "unknown message type %u", bad_types[i]);
		len = patched(8, OFF_TYPE, bad_types[i]);
		assert_decode_fails(big_buf, len, reason);
	}
	len = patched(8, OFF_FROM, 0);
	memset(big_buf + OFF_FROM, 0, 4);
	assert_decode_fails(big_buf, len, "message sender is node id 0");
	len = patched(2, OFF_TO, 0);
	assert_decode_fails(big_buf, len, "message destination is node id 0");
	len = patched(2, 0, RAFT_WIRE_VERSION);
	big_buf[len] = 0;
	assert_decode_fails(big_buf, len + 1, "trailing bytes after message");
}

/* Bad booleans and refusal codes in vote messages are refused. */
static void
test_reject_bad_vote_fields(void **state)
{
	size_t		len;

	(void) state;
	len = patched(1, OFF_BODY + 56, 2);
	assert_decode_fails(big_buf, len, "transfer flag is neither 0 nor 1");
	len = patched(1, OFF_BODY + 57, RAFT_HISTORY_TAIL + 1);
	assert_decode_fails(big_buf, len, "vote request carries more than 8 "
						"timeline steps");
	len = patched(0, OFF_BODY + 58, 0);	/* first step's timeline: 2 -> 0 */
	assert_decode_fails(big_buf, len, "vote request's history names timeline 0");
	len = patched(2, OFF_BODY, 0xff);
	assert_decode_fails(big_buf, len, "granted flag is neither 0 nor 1");
	len = patched(3, OFF_BODY + 1, 7);
	assert_decode_fails(big_buf, len, "unknown vote refusal code 7");
	len = patched(3, OFF_BODY, 1);	/* granted, with NOT_MEMBER */
	assert_decode_fails(big_buf, len, "vote granted with a refusal reason");
	len = patched(6, OFF_BODY + 8, 3);
	assert_decode_fails(big_buf, len, "success flag is neither 0 nor 1");
}

/*
 * An APPEND_RESPONSE cut where older wire versions ended (without its
 * position, its election timeout, its priority, its flags, or its
 * position's beginning, parent and parent's beginning) is refused.
 */
static void
test_reject_append_response_without_position(void **state)
{
	raft_message m = sample_message(6);
	size_t		len = encode_ok(&m);

	(void) state;
	assert_int_equal(len, 89);
	assert_decode_fails(big_buf, 43, "truncated message body");
	assert_decode_fails(big_buf, 88, "truncated message body");
	assert_decode_fails(big_buf, 64, "truncated message body");
	assert_decode_fails(big_buf, 79, "truncated message body");
	assert_decode_fails(big_buf, 80, "truncated message body");
	assert_decode_fails(big_buf, 87, "truncated message body");
	assert_decode_fails(big_buf, 51, "truncated message body");
	assert_decode_fails(big_buf, 58, "truncated message body");
	assert_decode_fails(big_buf, 59, "truncated message body");
	assert_decode_fails(big_buf, 62, "truncated message body");
	assert_decode_fails(big_buf, 63, "truncated message body");
	big_buf[len] = 0;
	assert_decode_fails(big_buf, len + 1, "trailing bytes after message");
}

/*
 * An APPEND's rank is below RAFT_MAX_MEMBERS or RAFT_RANK_UNKNOWN, and an
 * APPEND_RESPONSE's priority at most RAFT_MAX_PRIORITY: on both sides.
 */
static void
test_reject_bad_rank_and_priority(void **state)
{
	raft_message m = sample_message(4);
	size_t		len;

	(void) state;
	m.rank = RAFT_MAX_MEMBERS;
	assert_encode_fails(&m, "append rank is neither below 16 nor unknown");
	m.rank = RAFT_RANK_UNKNOWN - 1;
	assert_encode_fails(&m, "append rank is neither below 16 nor unknown");
	m.rank = 0;
	len = encode_ok(&m);
	big_buf[OFF_BODY + 32] = RAFT_MAX_MEMBERS;	/* after echo */
	assert_decode_fails(big_buf, len, "append rank is neither below 16 nor "
						"unknown");
	m = sample_message(6);
	m.priority = RAFT_MAX_PRIORITY + 1;
	assert_encode_fails(&m, "append response's priority exceeds 100");
	m.priority = 0;
	len = encode_ok(&m);
	big_buf[len - 2] = 255;		/* the priority, before the flags */
	assert_decode_fails(big_buf, len, "append response's priority exceeds "
						"100");
}

/*
 * The leader sizes its lease with the election timeout a response carries:
 * zero is refused on both sides, as is a value the u32 field cannot hold.
 */
static void
test_reject_append_response_without_timeout(void **state)
{
	raft_message m = sample_message(7);
	size_t		len;

	(void) state;
	len = encode_ok(&m);
	memset(big_buf + len - 6, 0, 4);	/* the timeout, before priority, flags */
	assert_decode_fails(big_buf, len, "append response carries no election "
						"timeout");
	m.timeout = 0;
	assert_encode_fails(&m, "append response carries no election timeout");
	m.timeout = -1;
	assert_encode_fails(&m, "append response carries no election timeout");
	m.timeout = (raft_time) UINT32_MAX + 1;
	assert_encode_fails(&m, "append response's election timeout exceeds "
						"32 bits");
}

/* Bad entry counts, types, lengths, indexes and terms are refused. */
static void
test_reject_bad_entries(void **state)
{
	size_t		len;
	size_t		e1 = OFF_ENTRIES + ENTRY_HDR;	/* second entry (no data in
												 * the first) */

	(void) state;
	len = patched(5, OFF_BODY + 33, 65);
	assert_decode_fails(big_buf, len, "entry count 65 exceeds limit 64");
	len = patched(5, OFF_BODY + 33, 200);
	assert_decode_fails(big_buf, len, "entry count 200 exceeds limit 64");
	len = patched(5, OFF_BODY + 33, 5);
	assert_decode_fails(big_buf, len, "truncated entry header");
	len = patched(5, OFF_BODY + 33, 3);
	assert_decode_fails(big_buf, len, "trailing bytes after message");
	len = patched(5, OFF_ENTRIES + 16, 5);
	assert_decode_fails(big_buf, len, "unknown entry type 5");
	/* a timeline step whose payload is not one */
	len = patched(5, OFF_ENTRIES + 16, RAFT_ENTRY_TIMELINE);
	assert_decode_fails(big_buf, len, NULL);
	len = patched(5, OFF_ENTRIES + 16, 0);
	assert_decode_fails(big_buf, len, "unknown entry type 0");
	len = patched(5, OFF_ENTRIES + 8, 11);	/* index 11 instead of 10 */
	assert_decode_fails(big_buf, len, "entry indexes do not run "
						"consecutively from prev_log_index + 1");
	len = patched(5, e1 + 8, 10);	/* second entry repeats index 10 */
	assert_decode_fails(big_buf, len, "entry indexes do not run "
						"consecutively from prev_log_index + 1");
	len = patched(5, OFF_ENTRIES, 1);	/* term 1 < prev_log_term 2 */
	assert_decode_fails(big_buf, len, "entry term goes backwards");
	len = patched(5, e1, 8);	/* term 8 > message term 7 */
	assert_decode_fails(big_buf, len, "entry term is newer than the message "
						"term");
	len = patched(5, OFF_BODY + 8, 8);	/* prev_log_term 8 > term 7 */
	assert_decode_fails(big_buf, len, "prev_log_term is newer than the "
						"message term");
	/* entry data length: above the limit, and past the end of the buffer */
	len = patched(5, e1 + 17, 0x01);
	big_buf[e1 + 19] = 0x01;	/* 65537 */
	assert_decode_fails(big_buf, len, "entry data length exceeds limit "
						"65536");
	len = patched(5, e1 + 17, 0xff);
	assert_decode_fails(big_buf, len, "truncated entry data");
	/* a prev_log_index at the top of the range leaves no room for entries */
	len = patched(5, OFF_BODY, 0xff);
	memset(big_buf + OFF_BODY, 0xff, 8);
	assert_decode_fails(big_buf, len, "entry index overflows");
}

/* A CHANGE entry must carry a valid change payload. */
static void
test_reject_bad_change_entry(void **state)
{
	raft_message m = sample_message(5);
	size_t		len = encode_ok(&m);
	size_t		change_data = OFF_ENTRIES + 2 * ENTRY_HDR + sizeof(payload_a) +
		ENTRY_HDR;

	(void) state;
	big_buf[change_data + 1] = 9;	/* op */
	assert_decode_fails(big_buf, len, "unknown membership change op 9");
	big_buf[change_data + 1] = RAFT_CHANGE_ADD_VOTER;
	big_buf[change_data + 10] = '\0';	/* inside the address */
	assert_decode_fails(big_buf, len, "member address contains a NUL byte");
	/* the decoder storage must exist when there are entries */
	len = encode_ok(&m);
	{
		raft_message d;
		const char *why;

		assert_int_equal(raft_message_decode(big_buf, len, &d, NULL, &why),
						 RAFT_EINVAL);
		assert_string_equal(why, "no storage given for decoded entries");
	}
}

/* Bad change payloads are refused with a reason. */
static void
test_reject_bad_change(void **state)
{
	uint8_t		buf[1200];
	raft_change c = make_change(RAFT_CHANGE_ADD_VOTER, 3, "host=x");
	raft_change d;
	size_t		len = encode_change_ok(&c, buf, sizeof(buf));
	const char *why;

	(void) state;
	for (size_t cut = 0; cut < len; cut++)
	{
		why = NULL;
		assert_int_equal(raft_change_decode(buf, cut, &d, &why), RAFT_EINVAL);
		assert_non_null(why);
	}
	buf[len] = 'z';
	assert_int_equal(raft_change_decode(buf, len + 1, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "trailing bytes after membership change");

	buf[0] = 3;
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "unsupported membership change version 3 (this "
						"build reads version 1)");
	/* changes keep version 1 in a wire version 2 build: old logs read */
	buf[0] = 2;
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "unsupported membership change version 2 (this "
						"build reads version 1)");
	buf[0] = 1;
	buf[1] = 0;
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "unknown membership change op 0");
	buf[1] = RAFT_CHANGE_REMOVE;
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "membership change carries an address its op "
						"does not take");
	buf[1] = RAFT_CHANGE_ADD_VOTER;
	buf[2] = 0;
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "membership change names node id 0");
	buf[2] = 3;
	buf[6] = 0x00;
	buf[7] = 0x04;				/* address length 1024 */
	assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_EINVAL);
	assert_string_equal(why, "member address length exceeds limit 1023");

	/* encoder side */
	c.op = 6;
	assert_int_equal(raft_change_encode(&c, buf, sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "unknown membership change op 6");
	c.op = RAFT_CHANGE_ADD_VOTER;
	c.id = 0;
	assert_int_equal(raft_change_encode(&c, buf, sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "membership change names node id 0");
	c.id = 3;
	memset(c.address, 'a', sizeof(c.address));	/* no NUL */
	assert_int_equal(raft_change_encode(&c, buf, sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "member address is not NUL-terminated within "
						"1024 bytes");
	c.address[100] = '\0';
	assert_int_equal(raft_change_encode(&c, buf, 107, &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "buffer too small");
	assert_int_equal(raft_change_encode(&c, buf, 108, &len, &why), RAFT_OK);
	assert_int_equal(len, 108);
}

/* Every bad envelope header field and every framing error is refused. */
static void
test_reject_bad_envelope(void **state)
{
	static uint8_t buf[4096];
	raft_envelope env;
	const char *why;
	size_t		len = build_envelope(3, buf, sizeof(buf));
	size_t		count_off = ENV_OFF_NAME + 2 + 8;

	(void) state;
#define EXPECT_ENV_FAIL(l, reason) \
	do { \
		assert_int_equal(raft_envelope_decode(buf, (l), &env, &why), \
						 RAFT_EINVAL); \
		assert_string_equal(why, (reason)); \
	} while (0)

	buf[0] = 'X';
	EXPECT_ENV_FAIL(len, "bad magic: not a raft_ext message envelope");
	buf[0] = 'R';
	buf[ENV_OFF_VERSION] = 9;
	EXPECT_ENV_FAIL(len, "unsupported wire version 9 (this build speaks "
					"version 4)");
	buf[ENV_OFF_VERSION] = 1;
	EXPECT_ENV_FAIL(len, "unsupported wire version 1 (this build speaks "
					"version 4)");
	buf[ENV_OFF_VERSION] = RAFT_WIRE_VERSION;
	buf[ENV_OFF_NAMELEN] = 64;
	EXPECT_ENV_FAIL(len, "cluster name length 64 exceeds limit 63");
	buf[ENV_OFF_NAMELEN] = 2;
	buf[ENV_OFF_NAME + 1] = '\0';
	EXPECT_ENV_FAIL(len, "cluster name contains a NUL byte");
	buf[ENV_OFF_NAME + 1] = '\n';
	EXPECT_ENV_FAIL(len, "cluster name contains a byte that is not "
					"printable ASCII");
	buf[ENV_OFF_NAME + 1] = (uint8_t) 0xc3;
	EXPECT_ENV_FAIL(len, "cluster name contains a byte that is not "
					"printable ASCII");
	buf[ENV_OFF_NAME + 1] = '1';
	buf[ENV_OFF_NAME + 2] = 0;
	EXPECT_ENV_FAIL(len, "envelope sender is node id 0");
	buf[ENV_OFF_NAME + 2] = 1;
	buf[ENV_OFF_NAME + 6] = 0;
	EXPECT_ENV_FAIL(len, "envelope destination is node id 0");
	buf[ENV_OFF_NAME + 6] = 2;

	/* count mismatch, both ways */
	buf[count_off] = 4;
	EXPECT_ENV_FAIL(len, "envelope holds fewer messages than its count says");
	buf[count_off] = 0xff;
	buf[count_off + 3] = 0xff;
	EXPECT_ENV_FAIL(len, "envelope holds fewer messages than its count says");
	buf[count_off + 3] = 0;
	buf[count_off] = 2;
	EXPECT_ENV_FAIL(len, "envelope holds more bytes than its count of "
					"messages");
	buf[count_off] = 3;

	/* frame lengths: too short for a message, past the end */
	buf[count_off + 4] = 17;
	EXPECT_ENV_FAIL(len, "framed message is shorter than a message header");
	buf[count_off + 5] = 0x7f;
	EXPECT_ENV_FAIL(len, "framed message runs past the end of the envelope");
	buf[count_off + 5] = 0;
#undef EXPECT_ENV_FAIL
	buf[count_off + 4] = 55;	/* longer than the message inside it */
	why = NULL;
	assert_int_equal(raft_envelope_decode(buf, len, &env, &why), RAFT_EINVAL);
	assert_non_null(why);
}

/* raft_envelope_next refuses bad messages and always makes progress. */
static void
test_envelope_next_errors(void **state)
{
	static uint8_t buf[4096];
	raft_envelope env;
	raft_message d;
	const char *why;
	size_t		off = 0;
	size_t		len;
	size_t		first = ENV_OFF_NAME + 2 + 12 + 4;	/* first message */

	(void) state;
	/* a message from node 1 inside an envelope that claims node 3 */
	len = build_envelope(2, buf, sizeof(buf));
	buf[ENV_OFF_NAME + 2] = 3;
	assert_int_equal(raft_envelope_decode(buf, len, &env, &why), RAFT_OK);
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "message sender or destination differs from "
						"its envelope's");
	assert_int_equal(d.type, 0);
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 RAFT_EINVAL);
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 1);

	/* a bad message in the middle: skipped, the rest still decodes */
	len = build_envelope(3, buf, sizeof(buf));
	buf[first + 1] = 42;		/* type of the first message */
	assert_int_equal(raft_envelope_decode(buf, len, &env, &why), RAFT_OK);
	off = 0;
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "unknown message type 42");
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 RAFT_OK);
	assert_int_equal(d.type, RAFT_MSG_VOTE);

	/* a bogus offset from the caller */
	off = env.body_len + 7;
	assert_int_equal(raft_envelope_next(&env, &off, &d, decoded_entries, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "envelope offset does not start a message");
	assert_int_equal(off, env.body_len);
}

/* The encoder refuses what the decoder would refuse, and small buffers. */
static void
test_encode_rejects(void **state)
{
	raft_message m;
	raft_entry	many[RAFT_MAX_ENTRIES_PER_MSG + 1];
	size_t		len = 0;
	const char *why;

	(void) state;
	m = sample_message(8);
	m.type = 0;
	assert_encode_fails(&m, "unknown message type 0");
	m.type = RAFT_MSG_TYPE_MAX + 1;
	assert_encode_fails(&m, "unknown message type 8");
	m = sample_message(8);
	m.from = 0;
	assert_encode_fails(&m, "message sender is node id 0");
	m = sample_message(8);
	m.to = 0;
	assert_encode_fails(&m, "message destination is node id 0");
	m = sample_message(3);
	m.refusal = 200;
	assert_encode_fails(&m, "unknown vote refusal code 200");
	m.refusal = RAFT_VOTE_STALE_TERM;
	m.granted = true;
	assert_encode_fails(&m, "vote granted with a refusal reason");

	/* entry count above the limit, and below it but without entries */
	memset(many, 0, sizeof(many));
	for (int i = 0; i <= RAFT_MAX_ENTRIES_PER_MSG; i++)
	{
		many[i].term = 1;
		many[i].index = (raft_index) i + 1;
		many[i].type = RAFT_ENTRY_NOOP;
	}
	m = sample_message(4);
	m.prev_log_index = 0;
	m.prev_log_term = 0;
	m.entries = many;
	m.n_entries = RAFT_MAX_ENTRIES_PER_MSG;
	encode_ok(&m);
	m.n_entries = RAFT_MAX_ENTRIES_PER_MSG + 1;
	assert_encode_fails(&m, "entry count 65 exceeds limit 64");
	m.n_entries = 100000;
	assert_encode_fails(&m, "entry count exceeds limit 64");
	m.n_entries = 2;
	m.entries = NULL;
	assert_encode_fails(&m, "entry count is nonzero but entries is NULL");
	m.entries = many;
	many[1].index = 3;
	assert_encode_fails(&m, "entry indexes do not run consecutively from "
						"prev_log_index + 1");
	many[1].index = 2;
	many[1].type = 7;
	assert_encode_fails(&m, "unknown entry type 7");
	many[1].type = RAFT_ENTRY_NORMAL;
	many[1].len = RAFT_MAX_ENTRY_DATA + 1;
	assert_encode_fails(&m, "entry data length exceeds limit 65536");
	many[1].len = 3;
	assert_encode_fails(&m, "entry has a length but no data");
	many[1].len = 0;
	many[1].type = RAFT_ENTRY_CHANGE;
	assert_encode_fails(&m, "truncated membership change");

	/* buffer too small, at every capacity below the size */
	m = sample_message(5);
	len = raft_message_encoded_size(&m);
	for (size_t cap = 0; cap < len; cap++)
	{
		size_t		out = 99;

		assert_int_equal(raft_message_encode(&m, big_buf, cap, &out, &why),
						 RAFT_EINVAL);
		assert_string_equal(why, "buffer too small");
		assert_int_equal(out, 99);
	}
}

/* Envelope construction refuses bad names, ids and small buffers. */
static void
test_envelope_encode_rejects(void **state)
{
	uint8_t		buf[512];
	char		name[80];
	size_t		len = 0;
	size_t		before;
	const char *why;
	raft_message m = sample_message(8);

	(void) state;
	memset(name, 'n', sizeof(name));
	name[RAFT_MAX_CLUSTER_NAME] = '\0';
	assert_int_equal(raft_envelope_encode_header(name, 1, 2, 0, buf,
												 sizeof(buf), &len, &why),
					 RAFT_OK);
	assert_int_equal(len, 18 + RAFT_MAX_CLUSTER_NAME);
	name[RAFT_MAX_CLUSTER_NAME] = 'n';
	name[RAFT_MAX_CLUSTER_NAME + 1] = '\0';
	assert_int_equal(raft_envelope_encode_header(name, 1, 2, 0, buf,
												 sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "cluster name is longer than 63 bytes");
	assert_int_equal(raft_envelope_encode_header("a\tb", 1, 2, 0, buf,
												 sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "cluster name contains a byte that is not "
						"printable ASCII");
	assert_int_equal(raft_envelope_encode_header("c", 0, 2, 0, buf,
												 sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "envelope sender is node id 0");
	assert_int_equal(raft_envelope_encode_header("c", 1, 0, 0, buf,
												 sizeof(buf), &len, &why),
					 RAFT_EINVAL);
	assert_string_equal(why, "envelope destination is node id 0");
	assert_int_equal(raft_envelope_encode_header("c", 1, 2, 0, buf, 18, &len,
												 &why), RAFT_EINVAL);
	assert_string_equal(why, "buffer too small");
	/* an empty (or absent) cluster name is allowed */
	assert_int_equal(raft_envelope_encode_header(NULL, 1, 2, 1, buf,
												 sizeof(buf), &len, &why),
					 RAFT_OK);
	assert_int_equal(len, 18);

	/* append: too small by one byte leaves the envelope unchanged */
	before = len;
	assert_int_equal(raft_envelope_append(&m, buf, before + 4 + 17, &len,
										  &why), RAFT_EINVAL);
	assert_string_equal(why, "buffer too small");
	assert_int_equal(len, before);
	assert_int_equal(raft_envelope_append(&m, buf, before + 3, &len, &why),
					 RAFT_EINVAL);
	assert_int_equal(len, before);
	assert_int_equal(raft_envelope_append(&m, buf, before + 4 + 18, &len,
										  &why), RAFT_OK);
	assert_int_equal(len, before + 22);
	{
		raft_envelope env;

		assert_int_equal(raft_envelope_decode(buf, len, &env, &why), RAFT_OK);
		assert_string_equal(env.cluster_name, "");
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_truncated_everywhere),
		cmocka_unit_test(test_envelope_truncated_everywhere),
		cmocka_unit_test(test_reject_bad_header),
		cmocka_unit_test(test_reject_bad_vote_fields),
		cmocka_unit_test(test_reject_append_response_without_position),
		cmocka_unit_test(test_reject_append_response_without_timeout),
		cmocka_unit_test(test_reject_bad_rank_and_priority),
		cmocka_unit_test(test_reject_bad_entries),
		cmocka_unit_test(test_reject_bad_change_entry),
		cmocka_unit_test(test_reject_bad_change),
		cmocka_unit_test(test_reject_bad_envelope),
		cmocka_unit_test(test_envelope_next_errors),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_envelope_encode_rejects),
	};

	(void) argc;
	(void) argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
