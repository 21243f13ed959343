/*
 * fuzz_decode.c
 *	  libFuzzer target for the wire decoders of src/raft/ (raft_envelope.c,
 *	  raft_codec.c, raft_change_codec.c, raft_timeline_codec.c).
 *
 * Every input goes to all three decoders: as an envelope (then message by
 * message through raft_envelope_next), as a bare message and as a
 * membership change.  Whatever a decoder accepts is encoded again and must
 *   - encode without error (the encoder accepts all the decoder accepts),
 *   - give back exactly the input bytes (the format is canonical), and
 *   - decode once more to the same fields.
 * Any breach calls abort(), which libFuzzer reports as a crash; ASan and
 * UBSan catch reads out of bounds and undefined arithmetic.
 *
 * Run: make -C test/raft fuzz FUZZ_SECONDS=60 (seeds in fuzz/seeds/, written
 * by "test/raft/build/normal/test_codec --write-seeds test/raft/fuzz/seeds").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless cond holds: the fuzzer's only way to report a finding. */
#define CHECK(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

static raft_entry entries_a[RAFT_MAX_ENTRIES_PER_MSG];
static raft_entry entries_b[RAFT_MAX_ENTRIES_PER_MSG];

/* Whether two decoded messages carry the same fields and entry contents. */
static int
messages_equal(const raft_message *a, const raft_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to ||
		a->term != b->term || a->last_log_index != b->last_log_index ||
		a->last_log_term != b->last_log_term ||
		a->position.major != b->position.major ||
		a->position.minor != b->position.minor ||
		a->transfer != b->transfer || a->granted != b->granted ||
		a->refusal != b->refusal || a->prev_log_index != b->prev_log_index ||
		a->prev_log_term != b->prev_log_term || a->commit != b->commit ||
		a->echo != b->echo || a->success != b->success ||
		a->match_index != b->match_index ||
		a->reject_hint != b->reject_hint || a->timeout != b->timeout ||
		a->rank != b->rank || a->priority != b->priority ||
		a->n_entries != b->n_entries)
		return 0;
	for (uint32_t i = 0; i < a->n_entries; i++)
	{
		const raft_entry *x = &a->entries[i];
		const raft_entry *y = &b->entries[i];

		if (x->term != y->term || x->index != y->index ||
			x->type != y->type || x->len != y->len)
			return 0;
		if (x->len > 0 && memcmp(x->data, y->data, x->len) != 0)
			return 0;
	}
	return 1;
}

/*
 * Re-encode a decoded message into out (capacity cap) and check the round
 * trip; 'original' is the exact bytes it was decoded from.
 */
static void
check_message(const raft_message *msg, const uint8_t *original,
			  size_t original_len, uint8_t *out, size_t cap)
{
	raft_message again;
	size_t		len = 0;
	const char *why = NULL;

	CHECK(raft_message_encoded_size(msg) == original_len);
	CHECK(raft_message_encode(msg, out, cap, &len, &why) == 0);
	CHECK(why == NULL);
	CHECK(len == original_len);
	CHECK(memcmp(out, original, len) == 0);
	CHECK(raft_message_decode(out, len, &again, entries_b, &why) == 0);
	CHECK(messages_equal(msg, &again));
}

/* The input as one bare message. */
static void
fuzz_message(const uint8_t *data, size_t size, uint8_t *out)
{
	raft_message msg;
	const char *why = NULL;

	if (raft_message_decode(data, size, &msg, entries_a, &why) != 0)
	{
		CHECK(why != NULL && msg.type == 0);
		return;
	}
	check_message(&msg, data, size, out, size);
}

/* The input as a membership change payload. */
static void
fuzz_change(const uint8_t *data, size_t size, uint8_t *out)
{
	raft_change change;
	raft_change again;
	size_t		len = 0;
	const char *why = NULL;

	if (raft_change_decode(data, size, &change, &why) != 0)
	{
		CHECK(why != NULL);
		return;
	}
	CHECK(memchr(change.address, '\0', sizeof(change.address)) != NULL);
	CHECK(raft_change_encode(&change, out, size, &len, &why) == 0);
	CHECK(len == size && memcmp(out, data, size) == 0);
	CHECK(raft_change_decode(out, len, &again, &why) == 0);
	CHECK(again.op == change.op && again.id == change.id &&
		  strcmp(again.address, change.address) == 0);
}

/* The input as a timeline step payload. */
static void
fuzz_timeline(const uint8_t *data, size_t size, uint8_t *out)
{
	raft_timeline step;
	raft_timeline again;
	size_t		len = 0;
	const char *why = NULL;

	if (raft_timeline_decode(data, size, &step, &why) != 0)
	{
		CHECK(why != NULL);
		return;
	}
	CHECK(step.tli != 0);
	CHECK(raft_timeline_encode(&step, out, size, &len, &why) == 0);
	CHECK(len == size && memcmp(out, data, size) == 0);
	CHECK(raft_timeline_decode(out, len, &again, &why) == 0);
	CHECK(again.tli == step.tli && again.begin == step.begin &&
		  again.parent == step.parent && again.node == step.node &&
		  again.time == step.time && again.reason == step.reason);
}

/* The input as an envelope, decoded message by message and rebuilt. */
static void
fuzz_envelope(const uint8_t *data, size_t size, uint8_t *out)
{
	raft_envelope env;
	raft_message msg;
	const char *why = NULL;
	size_t		len = 0;
	size_t		offset = 0;
	size_t		prev;
	int			rc;
	int			intact = 1;
	uint32_t	seen = 0;

	if (raft_envelope_decode(data, size, &env, &why) != 0)
	{
		CHECK(why != NULL);
		return;
	}
	CHECK(env.body >= data && env.body + env.body_len == data + size);
	CHECK(strlen(env.cluster_name) <= RAFT_MAX_CLUSTER_NAME);
	CHECK(raft_envelope_header_size(env.cluster_name) ==
		  size - env.body_len);
	CHECK(raft_envelope_encode_header(env.cluster_name, env.from, env.to,
									  env.count, out, size, &len,
									  &why) == 0);
	CHECK(len == size - env.body_len && memcmp(out, data, len) == 0);

	for (;;)
	{
		prev = offset;
		rc = raft_envelope_next(&env, &offset, &msg, entries_a, &why);
		if (rc == 1)
			break;
		CHECK(offset > prev && offset <= env.body_len);	/* progress */
		seen++;
		if (rc != 0)
		{
			CHECK(why != NULL);
			intact = 0;
			continue;
		}
		CHECK(msg.from == env.from && msg.to == env.to);
		/* the frame is 4 bytes of length, then the message */
		check_message(&msg, env.body + prev + 4, offset - prev - 4,
					  out + len + 4, size - len - 4);
		if (intact)
			CHECK(raft_envelope_append(&msg, out, size, &len, &why) == 0);
	}
	CHECK(seen == env.count);
	if (intact)
		CHECK(len == size && memcmp(out, data, size) == 0);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *out = malloc(size + 1);

	CHECK(out != NULL);
	fuzz_envelope(data, size, out);
	fuzz_message(data, size, out);
	fuzz_change(data, size, out);
	fuzz_timeline(data, size, out);
	free(out);
	return 0;
}
