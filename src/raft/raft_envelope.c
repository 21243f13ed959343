/*
 * raft_envelope.c
 *	  Wire encoding of envelopes: a batch of messages from one node to
 *	  another, with the cluster name.  Same rules as raft_codec.c: hostile
 *	  input, every field checked, no allocation.  Calls go one way:
 *	  envelope (this file) -> message (raft_codec.c) -> membership change
 *	  (raft_change_codec.c), all on the primitives of raft_wire.h.
 */
#include "raft_wire.h"

static const uint8_t envelope_magic[4] = {'R', 'A', 'F', 'T'};

/*
 * Check a cluster name: at most RAFT_MAX_CLUSTER_NAME bytes of printable
 * ASCII.  It appears in log messages and errors on the receiving side, so
 * control characters and bytes that are not valid text are refused.
 */
static int
cluster_name_check(const char *name, size_t len, const char **why)
{
	for (size_t i = 0; i < len; i++)
	{
		if (name[i] == '\0')
			return fail(why, "cluster name contains a NUL byte");
		if (name[i] < 0x20 || name[i] > 0x7e)
			return fail(why, "cluster name contains a byte that is not "
						"printable ASCII");
	}
	return RAFT_OK;
}

/* Bytes of envelope header before the messages. */
size_t
raft_envelope_header_size(const char *cluster_name)
{
	size_t		name_len = 0;

	if (cluster_name != NULL)
		name_len = bounded_strlen(cluster_name, RAFT_MAX_CLUSTER_NAME + 1);
	return ENVELOPE_FIXED_SIZE + name_len;
}

/* Write the envelope header for 'count' messages. */
int
raft_envelope_encode_header(const char *cluster_name, raft_id from,
							raft_id to, uint32_t count, uint8_t *buf,
							size_t cap, size_t *len, const char **why)
{
	size_t		name_len = 0;
	size_t		pos = 0;

	if (cluster_name != NULL)
		name_len = bounded_strlen(cluster_name, RAFT_MAX_CLUSTER_NAME + 1);
	if (name_len > RAFT_MAX_CLUSTER_NAME)
		return fail(why, "cluster name is longer than "
					STRINGIFY(RAFT_MAX_CLUSTER_NAME) " bytes");
	if (cluster_name_check(cluster_name, name_len, why) != RAFT_OK)
		return RAFT_EINVAL;
	if (from == RAFT_NOBODY)
		return fail(why, "envelope sender is node id 0");
	if (to == RAFT_NOBODY)
		return fail(why, "envelope destination is node id 0");
	if (cap < ENVELOPE_FIXED_SIZE + name_len)
		return fail(why, "buffer too small");

	memcpy(buf, envelope_magic, sizeof(envelope_magic));
	pos += sizeof(envelope_magic);
	write_u8(buf, &pos, RAFT_WIRE_VERSION);
	write_u8(buf, &pos, (uint8_t) name_len);
	if (name_len > 0)
		memcpy(buf + pos, cluster_name, name_len);
	pos += name_len;
	write_u32(buf, &pos, from);
	write_u32(buf, &pos, to);
	write_u32(buf, &pos, count);
	*len = pos;
	return succeed(why);
}

/*
 * Append one message, framed by its u32 length, at buf + *len; *len grows by
 * the bytes written.  On failure nothing is written and *len is unchanged.
 */
int
raft_envelope_append(const raft_message *msg, uint8_t *buf, size_t cap,
					 size_t *len, const char **why)
{
	size_t		start = *len;
	size_t		msg_len = 0;
	size_t		pos = start;

	if (start > cap || cap - start < FRAME_PREFIX_SIZE)
		return fail(why, "buffer too small");
	if (raft_message_encode(msg, buf + start + FRAME_PREFIX_SIZE,
							cap - start - FRAME_PREFIX_SIZE, &msg_len,
							why) != RAFT_OK)
		return RAFT_EINVAL;
	/* a message is at most a few MB (64 entries of 64 kB): fits a u32 */
	write_u32(buf, &pos, (uint32_t) msg_len);
	*len = start + FRAME_PREFIX_SIZE + msg_len;
	return succeed(why);
}

/*
 * Check an envelope's header and framing: the body must hold exactly 'count'
 * framed messages and nothing after them.  The messages themselves are
 * decoded one by one by raft_envelope_next().
 */
static int
envelope_decode(const uint8_t *buf, size_t len, raft_envelope *env,
				const char **why)
{
	reader		r;
	uint8_t		name_len;
	size_t		pos;

	reader_init(&r, buf, buf != NULL ? len : 0);
	if (!reader_has(&r, sizeof(envelope_magic)))
		return fail(why, "truncated envelope header");
	if (memcmp(buf, envelope_magic, sizeof(envelope_magic)) != 0)
		return fail(why, "bad magic: not a raft_ext message envelope");
	r.pos += sizeof(envelope_magic);

	env->version = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated envelope header");
	if (env->version != RAFT_WIRE_VERSION)
		return fail(why, raft__why_version[env->version]);
	name_len = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated envelope header");
	if (name_len > RAFT_MAX_CLUSTER_NAME)
		return fail(why, raft__why_name_length[name_len]);
	if (!reader_has(&r, name_len))
		return fail(why, "truncated envelope header");
	if (cluster_name_check((const char *) buf + r.pos, name_len,
						   why) != RAFT_OK)
		return RAFT_EINVAL;
	memcpy(env->cluster_name, buf + r.pos, name_len);
	env->cluster_name[name_len] = '\0';
	r.pos += name_len;

	env->from = read_u32(&r);
	env->to = read_u32(&r);
	env->count = read_u32(&r);
	if (r.truncated)
		return fail(why, "truncated envelope header");
	if (env->from == RAFT_NOBODY)
		return fail(why, "envelope sender is node id 0");
	if (env->to == RAFT_NOBODY)
		return fail(why, "envelope destination is node id 0");

	env->body = buf + r.pos;
	env->body_len = reader_left(&r);

	/* Walk the frames; each takes at least 4 bytes, so this ends quickly. */
	pos = 0;
	for (uint32_t i = 0; i < env->count; i++)
	{
		size_t		frame_len;
		reader		fr;

		if (env->body_len - pos < FRAME_PREFIX_SIZE)
			return fail(why, "envelope holds fewer messages than its "
						"count says");
		reader_init(&fr, env->body + pos, FRAME_PREFIX_SIZE);
		frame_len = read_u32(&fr);
		pos += FRAME_PREFIX_SIZE;
		if (frame_len < MSG_HEADER_SIZE)
			return fail(why, "framed message is shorter than a message "
						"header");
		if (frame_len > env->body_len - pos)
			return fail(why, "framed message runs past the end of the "
						"envelope");
		pos += frame_len;
	}
	if (pos != env->body_len)
		return fail(why, "envelope holds more bytes than its count of "
					"messages");
	return succeed(why);
}

/* Check the header and that the body holds exactly 'count' framed messages. */
int
raft_envelope_decode(const uint8_t *buf, size_t len, raft_envelope *env,
					 const char **why)
{
	memset(env, 0, sizeof(*env));
	if (envelope_decode(buf, len, env, why) != RAFT_OK)
	{
		memset(env, 0, sizeof(*env));
		return RAFT_EINVAL;
	}
	return RAFT_OK;
}

/*
 * Decode the next message of a checked envelope.  On failure *offset still
 * moves forward (past the bad message, or to the end if the framing itself
 * is broken), so a caller that skips bad messages always finishes.
 */
int
raft_envelope_next(const raft_envelope *env, size_t *offset,
				   raft_message *msg, raft_entry *entries, const char **why)
{
	size_t		off = *offset;
	size_t		frame_len;
	reader		r;

	memset(msg, 0, sizeof(*msg));
	if (off == env->body_len)
	{
		succeed(why);
		return 1;
	}
	if (env->body == NULL || off > env->body_len ||
		env->body_len - off < FRAME_PREFIX_SIZE)
	{
		*offset = env->body_len;
		return fail(why, "envelope offset does not start a message");
	}
	reader_init(&r, env->body + off, FRAME_PREFIX_SIZE);
	frame_len = read_u32(&r);
	if (frame_len > env->body_len - off - FRAME_PREFIX_SIZE)
	{
		*offset = env->body_len;
		return fail(why, "framed message runs past the end of the "
					"envelope");
	}
	*offset = off + FRAME_PREFIX_SIZE + frame_len;

	if (raft_message_decode(env->body + off + FRAME_PREFIX_SIZE, frame_len,
							msg, entries, why) != RAFT_OK)
		return RAFT_EINVAL;
	if (msg->from != env->from || msg->to != env->to)
	{
		memset(msg, 0, sizeof(*msg));
		return fail(why, "message sender or destination differs from its "
					"envelope's");
	}
	return RAFT_OK;
}
