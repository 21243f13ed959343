/*
 * test_codec.c
 *	  Unit tests of the wire codec (src/raft/raft_codec.c): what it accepts.
 *
 * Round trips of every message type, of envelopes and of membership changes;
 * golden byte vectors that pin the layout documented in docs/wire-format.md;
 * and a deterministic mutation loop that feeds damaged encodings to every
 * decoder.  Whatever the decoders accept must re-encode to the very same
 * bytes (the format is canonical).  The refusals are in test_codec_reject.c.
 *
 * "test_codec --write-seeds DIR" writes the fuzzer's seed inputs instead of
 * running the tests (see test/raft/fuzz/).
 */
#include "codec_samples.h"

/* xorshift64*: a small deterministic generator for the mutation loop. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

/* A uniformly-ish random number below n (n > 0). */
static uint64_t
rng_below(uint64_t *state, uint64_t n)
{
	return rng_next(state) % n;
}

/* Every message type survives encode/decode, and re-encodes identically. */
static void
test_message_round_trip(void **state)
{
	(void) state;
	for (int i = 0; i < N_SAMPLES; i++)
	{
		raft_message m = sample_message(i);
		raft_message d;
		size_t		len = encode_ok(&m);
		static uint8_t copy[BIG_BUF];
		const char *why = "unset";

		memcpy(copy, big_buf, len);
		assert_int_equal(raft_message_decode(copy, len, &d, decoded_entries,
											 &why), RAFT_OK);
		assert_null(why);
		assert_msg_equal(&m, &d);
		if (d.n_entries > 0)
		{
			assert_ptr_equal(d.entries, decoded_entries);
			/* entries point into the input buffer, not into a copy */
			assert_true(d.entries[1].data >= copy &&
						d.entries[1].data < copy + len);
		}
		else
			assert_null(d.entries);
		assert_int_equal(encode_ok(&d), len);
		assert_memory_equal(big_buf, copy, len);
	}
}

/* Fields that a type does not carry are neither sent nor decoded. */
static void
test_message_foreign_fields_zero(void **state)
{
	raft_message m = sample_message(8);	/* TIMEOUT_NOW */
	raft_message d;
	size_t		len;
	const char *why;

	(void) state;
	m.last_log_index = 5;
	m.granted = true;
	m.refusal = 3;
	m.commit = 9;
	m.echo = 4;
	m.success = true;
	m.match_index = 8;
	len = encode_ok(&m);
	assert_int_equal(len, 18);
	assert_int_equal(raft_message_decode(big_buf, len, &d, decoded_entries,
										 &why), RAFT_OK);
	assert_int_equal(d.type, RAFT_MSG_TIMEOUT_NOW);
	assert_true(d.last_log_index == 0 && d.commit == 0 && d.echo == 0);
	assert_true(!d.granted && d.refusal == 0 && !d.success);
	assert_true(d.match_index == 0 && d.entries == NULL);
}

/* The bytes of a VOTE are exactly those of docs/wire-format.md. */
static void
test_golden_vote(void **state)
{
	static const uint8_t expected[] = {
		0x04, 0x03,				/* version, type */
		0x01, 0x00, 0x00, 0x00,	/* from */
		0x02, 0x00, 0x00, 0x00,	/* to */
		0x05, 0, 0, 0, 0, 0, 0, 0,	/* term */
		0x07, 0, 0, 0, 0, 0, 0, 0,	/* last_log_index */
		0x04, 0, 0, 0, 0, 0, 0, 0,	/* last_log_term */
		0x02, 0, 0, 0, 0, 0, 0, 0,	/* position.major */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* position.minor */
		0x00, 0x10, 0, 0, 0, 0, 0, 0,	/* position.begin */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* position.parent */
		0x20, 0, 0, 0, 0, 0, 0, 0,	/* position.parent_begin */
		0x01,					/* transfer */
		0x01,					/* history steps */
		0x02, 0, 0, 0, 0, 0, 0, 0,	/* step: tli */
		0x00, 0x10, 0, 0, 0, 0, 0, 0,	/* step: begin */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* step: parent */
		0x03, 0, 0, 0,			/* step: node */
	};
	raft_message m = header_message(RAFT_MSG_VOTE, 1, 2, 5);

	(void) state;
	m.last_log_index = 7;
	m.last_log_term = 4;
	m.position.major = 2;
	m.position.minor = 0x0102030405060708;
	m.position.begin = 0x1000;
	m.position.parent = 1;
	m.position.parent_begin = 0x20;
	m.transfer = true;
	m.n_history = 1;
	m.history[0] = (raft_timeline) {2, 0x1000, 1, 3, 0, 0};
	assert_int_equal(encode_ok(&m), sizeof(expected));
	assert_memory_equal(big_buf, expected, sizeof(expected));
}

/*
 * The bytes of an APPEND_RESPONSE, the sender's election timeout and
 * priority last (docs/wire-format.md).
 */
static void
test_golden_append_response(void **state)
{
	static const uint8_t expected[] = {
		0x04, 0x06,				/* version, type */
		0x02, 0, 0, 0, 0x01, 0, 0, 0,	/* from, to */
		0x05, 0, 0, 0, 0, 0, 0, 0,	/* term */
		0xe8, 0x03, 0, 0, 0, 0, 0, 0,	/* echo = 1000 */
		0x01,					/* success */
		0x07, 0, 0, 0, 0, 0, 0, 0,	/* match_index */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* reject_hint */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* position.major */
		0x60, 0x00, 0x00, 0x03, 0, 0, 0, 0, /* position.minor */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* position.begin */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* position.parent */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* position.parent_begin */
		0xc8, 0x00, 0x00, 0x00,	/* timeout = 200 ms */
		0x07,					/* priority */
		0x01,					/* flags */
	};
	raft_message m = header_message(RAFT_MSG_APPEND_RESPONSE, 2, 1, 5);
	raft_message d;
	size_t		len;
	const char *why;

	(void) state;
	m.echo = 1000;
	m.success = true;
	m.match_index = 7;
	m.position.major = 1;
	m.position.minor = 0x03000060;
	m.timeout = 200;
	m.priority = 7;
	m.flags = 1;
	len = encode_ok(&m);
	assert_int_equal(len, 89);
	assert_int_equal(len, sizeof(expected));
	assert_memory_equal(big_buf, expected, sizeof(expected));
	assert_int_equal(raft_message_decode(expected, sizeof(expected), &d,
										 decoded_entries, &why), RAFT_OK);
	assert_msg_equal(&m, &d);
}

/* Positions at the edges of their range survive an APPEND_RESPONSE. */
static void
test_append_response_position_round_trip(void **state)
{
	static const raft_position positions[] = {
		{0, 0, 0, 0, 0}, {0, 1, 0, 0, 0}, {1, 0, 0, 0, 0},
		{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX},
		{1, UINT64_C(0x8000000000000000), 7, 3, 2}, {UINT64_C(0x0102030405060708), 9, 5, 1, 4}
	};

	(void) state;
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++)
	{
		for (int ok = 0; ok <= 1; ok++)
		{
			raft_message m = sample_message(ok ? 6 : 7);
			raft_message d;
			size_t		len;
			const char *why;

			m.position = positions[i];
			len = encode_ok(&m);
			assert_int_equal(len, 89);
			assert_int_equal(raft_message_decode(big_buf, len, &d,
												 decoded_entries, &why),
							 RAFT_OK);
			assert_true(d.position.major == positions[i].major);
			assert_true(d.position.minor == positions[i].minor);
			assert_true(d.position.begin == positions[i].begin);
			assert_true(d.position.parent == positions[i].parent);
			assert_true(d.position.parent_begin == positions[i].parent_begin);
			assert_msg_equal(&m, &d);
		}
	}
}

/* The bytes of an envelope holding one APPEND with one entry. */
static void
test_golden_envelope(void **state)
{
	static const uint8_t expected[] = {
		'R', 'A', 'F', 'T', 0x04,	/* magic, version */
		0x02, 'c', '1',			/* cluster name */
		0x01, 0, 0, 0, 0x02, 0, 0, 0,	/* from, to */
		0x01, 0, 0, 0,			/* count */
		77, 0, 0, 0,			/* frame length: 52 + 21 + 4 */
		0x04, 0x05, 0x01, 0, 0, 0, 0x02, 0, 0, 0,
		0x02, 0, 0, 0, 0, 0, 0, 0,	/* term */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* prev_log_index */
		0x00, 0, 0, 0, 0, 0, 0, 0,	/* prev_log_term */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* commit */
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* echo = -2 */
		0x02,					/* rank */
		0x01,					/* n_entries */
		0x02, 0, 0, 0, 0, 0, 0, 0,	/* entry term */
		0x01, 0, 0, 0, 0, 0, 0, 0,	/* entry index */
		0x02, 0x04, 0, 0, 0,	/* entry type, len */
		'a', 'b', 'c', 'd'
	};
	raft_entry	e = {2, 1, RAFT_ENTRY_NORMAL, 4, (const uint8_t *) "abcd"};
	raft_message m = header_message(RAFT_MSG_APPEND, 1, 2, 2);
	size_t		len = 0;
	const char *why;

	(void) state;
	m.commit = 1;
	m.echo = -2;
	m.rank = 2;
	m.n_entries = 1;
	m.entries = &e;
	assert_int_equal(raft_envelope_header_size("c1"), 20);
	assert_int_equal(raft_envelope_encode_header("c1", 1, 2, 1, big_buf,
												 sizeof(big_buf), &len, &why),
					 RAFT_OK);
	assert_int_equal(len, 20);
	assert_int_equal(raft_envelope_append(&m, big_buf, sizeof(big_buf), &len,
										  &why), RAFT_OK);
	assert_int_equal(len, sizeof(expected));
	assert_memory_equal(big_buf, expected, sizeof(expected));
}

/* The bytes of a membership change payload. */
static void
test_golden_change(void **state)
{
	static const uint8_t expected[] = {
		0x01, 0x02, 0x09, 0x01, 0, 0, 0x03, 0x00, 'a', '=', 'b'
	};
	raft_change c = make_change(RAFT_CHANGE_ADD_LEARNER, 0x109, "a=b");
	uint8_t		buf[64];

	(void) state;
	assert_int_equal(encode_change_ok(&c, buf, sizeof(buf)), sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));
}

/* Envelopes of 0 .. 2 * N_SAMPLES messages decode back to their messages. */
static void
test_envelope_round_trip(void **state)
{
	static uint8_t buf[BIG_BUF];

	(void) state;
	for (int n = 0; n <= 2 * N_SAMPLES; n++)
	{
		size_t		len = build_envelope(n, buf, sizeof(buf));
		raft_envelope env;
		size_t		off = 0;
		const char *why = "unset";
		int			got = 0;
		int			rc;
		raft_message d;

		assert_int_equal(raft_envelope_decode(buf, len, &env, &why), RAFT_OK);
		assert_null(why);
		assert_int_equal(env.version, RAFT_WIRE_VERSION);
		assert_string_equal(env.cluster_name, "c1");
		assert_int_equal(env.from, 1);
		assert_int_equal(env.to, 2);
		assert_int_equal(env.count, n);
		assert_ptr_equal(env.body, buf + 20);
		assert_int_equal(env.body_len, len - 20);
		while ((rc = raft_envelope_next(&env, &off, &d, decoded_entries,
										&why)) == RAFT_OK)
		{
			raft_message m = sample_message(got % N_SAMPLES);

			m.from = 1;
			m.to = 2;
			assert_msg_equal(&m, &d);
			got++;
		}
		assert_int_equal(rc, 1);
		assert_int_equal(got, n);
		assert_int_equal(off, env.body_len);
	}
}

/* Membership changes of every op round-trip; addresses only for ADD ops. */
static void
test_change_round_trip(void **state)
{
	static const char *const addresses[] = {
		"", "x", "host=db1 port=5432 dbname=postgres", NULL
	};
	char		longest[RAFT_MAX_ADDRESS];

	(void) state;
	memset(longest, 'h', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	for (uint8_t op = RAFT_CHANGE_ADD_VOTER; op <= RAFT_CHANGE_ADD_STAGED; op++)
	{
		for (int a = 0; a < 4; a++)
		{
			const char *addr = addresses[a] ? addresses[a] : longest;
			raft_change c = make_change(op, 1000 + op, addr);
			raft_change d;
			uint8_t		buf[1100];
			size_t		len = encode_change_ok(&c, buf, sizeof(buf));
			const char *why;
			bool		has_addr = op <= RAFT_CHANGE_ADD_LEARNER ||
				op == RAFT_CHANGE_ADD_STAGED;

			assert_int_equal(len, 8 + (has_addr ? strlen(addr) : 0));
			assert_int_equal(raft_change_decode(buf, len, &d, &why), RAFT_OK);
			assert_int_equal(d.op, op);
			assert_int_equal(d.id, c.id);
			assert_string_equal(d.address, has_addr ? addr : "");
		}
	}
}

/*
 * Feed one input to every decoder; whatever decodes must re-encode to the
 * same bytes.  Returns how many decoders accepted it.
 */
static int
decode_everything(const uint8_t *in, size_t len)
{
	static uint8_t out[BIG_BUF];
	raft_message m;
	raft_envelope env;
	raft_change c;
	const char *why;
	size_t		out_len;
	int			accepted = 0;

	if (raft_message_decode(in, len, &m, decoded_entries, &why) == RAFT_OK)
	{
		assert_int_equal(raft_message_encode(&m, out, sizeof(out), &out_len,
											 &why), RAFT_OK);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
		accepted++;
	}
	else
		assert_non_null(why);
	if (raft_change_decode(in, len, &c, &why) == RAFT_OK)
	{
		assert_int_equal(raft_change_encode(&c, out, sizeof(out), &out_len,
											&why), RAFT_OK);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
		accepted++;
	}
	if (raft_envelope_decode(in, len, &env, &why) == RAFT_OK)
	{
		size_t		off = 0;
		int			rc;
		bool		comparable = true;

		assert_int_equal(raft_envelope_encode_header(env.cluster_name,
													 env.from, env.to,
													 env.count, out,
													 sizeof(out), &out_len,
													 &why), RAFT_OK);
		assert_int_equal(out_len, len - env.body_len);
		while ((rc = raft_envelope_next(&env, &off, &m, decoded_entries,
										&why)) != 1)
		{
			if (rc == RAFT_OK)
				assert_int_equal(raft_envelope_append(&m, out, sizeof(out),
													  &out_len, &why),
								 RAFT_OK);
			else
				comparable = false;
		}
		if (comparable)
		{
			assert_int_equal(out_len, len);
			assert_memory_equal(out, in, len);
		}
		accepted++;
	}
	return accepted;
}

/* 200,000 deterministic mutations of valid inputs never crash a decoder. */
static void
test_mutation_loop(void **state)
{
	static uint8_t base[4][4096];
	static uint8_t in[8192];
	static const uint8_t edges[5] = {0, 1, 0x7f, 0x80, 0xff};
	size_t		base_len[4];
	uint64_t	rng = 0x9e3779b97f4a7c15;
	int			accepted = 0;
	raft_message m = sample_message(5);
	const char *why;

	(void) state;
	base_len[0] = build_envelope(2 * N_SAMPLES, base[0], sizeof(base[0]));
	base_len[1] = build_envelope(1, base[1], sizeof(base[1]));
	assert_int_equal(raft_message_encode(&m, base[2], sizeof(base[2]),
										 &base_len[2], &why), RAFT_OK);
	memcpy(base[3], change_buf[0], sample_entries[2].len);
	base_len[3] = sample_entries[2].len;

	for (int iter = 0; iter < 200000; iter++)
	{
		int			b = (int) rng_below(&rng, 4);
		size_t		len = base_len[b];
		int			edits = 1 + (int) rng_below(&rng, 4);

		memcpy(in, base[b], len);
		for (int e = 0; e < edits; e++)
		{
			switch (rng_below(&rng, 6))
			{
				case 0:			/* flip a bit */
					in[rng_below(&rng, len)] ^=
						(uint8_t) (1u << rng_below(&rng, 8));
					break;
				case 1:			/* set a byte to a random value */
					in[rng_below(&rng, len)] = (uint8_t) rng_next(&rng);
					break;
				case 2:			/* set a byte to an edge value */
					in[rng_below(&rng, len)] = edges[rng_below(&rng, 5)];
					break;
				case 3:			/* truncate */
					len = rng_below(&rng, len + 1);
					break;
				case 4:			/* append garbage */
					if (len < sizeof(in) - 16)
						for (int k = (int) rng_below(&rng, 16); k >= 0; k--)
							in[len++] = (uint8_t) rng_next(&rng);
					break;
				default:		/* leave this one intact */
					break;
			}
			if (len == 0)
				break;
		}
		accepted += decode_everything(in, len);
	}
	/* some mutations (in payload bytes, say) must still be valid */
	assert_true(accepted > 1000);
	print_message("mutation loop: %d of 200000 inputs still decoded\n",
				  accepted);
}

/* Write one seed file; returns 0 on success. */
static int
write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		return 1;
	}
	return 0;
}

/* Write the fuzzer's seed inputs into dir: envelopes, messages, a change. */
static int
write_seeds(const char *dir)
{
	static uint8_t buf[BIG_BUF];
	const char *why;
	size_t		len;
	int			rc = 0;
	char		name[64];

	len = build_envelope(0, buf, sizeof(buf));
	rc |= write_seed(dir, "envelope-empty", buf, len);
	len = build_envelope(N_SAMPLES, buf, sizeof(buf));
	rc |= write_seed(dir, "envelope-all-types", buf, len);
	for (int i = 0; i < N_SAMPLES; i++)
	{
		raft_message m = sample_message(i);

		if (raft_message_encode(&m, buf, sizeof(buf), &len, &why) != RAFT_OK)
			return 1;
		snprintf(name, sizeof(name), "message-%d-type-%d", i, m.type);
		rc |= write_seed(dir, name, buf, len);
	}
	(void) sample_message(5);	/* fills change_buf[0] */
	rc |= write_seed(dir, "change-add-voter", change_buf[0],
					 sample_entries[2].len);
	{
		raft_entry	e = change_entry(1, 1, 1, RAFT_CHANGE_ADD_STAGED, 5,
									 "host=db5 port=5432");

		rc |= write_seed(dir, "change-add-staged", e.data, e.len);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_message_foreign_fields_zero),
		cmocka_unit_test(test_golden_vote),
		cmocka_unit_test(test_golden_append_response),
		cmocka_unit_test(test_append_response_position_round_trip),
		cmocka_unit_test(test_golden_envelope),
		cmocka_unit_test(test_golden_change),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_change_round_trip),
		cmocka_unit_test(test_mutation_loop),
	};

	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
