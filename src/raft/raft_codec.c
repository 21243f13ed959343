/*
 * raft_codec.c
 *	  Wire encoding of Raft messages.
 *
 * These bytes cross the network between PostgreSQL instances, so the decoder
 * treats its input as hostile: every length is checked against the bytes
 * actually present before it is used, every enumerated field is checked
 * against its range, and anything the encoder would never produce is
 * refused.  Decoding never allocates; decoded entries point into the
 * caller's buffer.  The layout is canonical (one message has exactly one
 * encoding), which is what lets the fuzzer check that decode followed by
 * encode gives back the input bytes.  Envelopes (which call this file) are
 * in raft_envelope.c, membership-change payloads (which this file calls) in
 * raft_change_codec.c, the shared primitives in raft_wire.h.
 */
#include "raft_wire.h"

/* ----------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------- */

/*
 * Check the contents of a message against everything the format promises.
 * Both the encoder and the decoder use this one function, so whatever can be
 * encoded decodes again and the decoder refuses exactly what the encoder
 * would.  Field ranges that the wire itself bounds (one-byte booleans, the
 * entry count of a byte) are also checked while reading.
 */
static int
message_check(const raft_message *msg, const char **why)
{
	if (msg->type < RAFT_MSG_PREVOTE || msg->type > RAFT_MSG_TYPE_MAX)
		return fail(why, raft__why_msg_type[msg->type]);
	if (msg->from == RAFT_NOBODY)
		return fail(why, "message sender is node id 0");
	if (msg->to == RAFT_NOBODY)
		return fail(why, "message destination is node id 0");

	switch (msg->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			if (msg->n_history > RAFT_HISTORY_TAIL)
				return fail(why, "vote request carries more than "
							STRINGIFY(RAFT_HISTORY_TAIL) " timeline steps");
			for (int i = 0; i < msg->n_history; i++)
			{
				if (msg->history[i].tli == 0)
					return fail(why, "vote request's history names "
								"timeline 0");
				if (msg->history[i].time != 0 || msg->history[i].reason != 0)
					return fail(why, "vote request's history carries "
								"fields only the log keeps");
			}
			break;

		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			if (msg->refusal > RAFT_VOTE_NOT_MEMBER)
				return fail(why, raft__why_refusal[msg->refusal]);
			if (msg->granted && msg->refusal != RAFT_VOTE_GRANTED)
				return fail(why, "vote granted with a refusal reason");
			break;

		case RAFT_MSG_APPEND:
			{
				raft_index	expected = msg->prev_log_index;
				raft_term	prev_term = msg->prev_log_term;

				if (msg->n_entries > RAFT_MAX_ENTRIES_PER_MSG)
					return fail(why, msg->n_entries <= 255 ?
								raft__why_entry_count[msg->n_entries] :
								"entry count exceeds limit "
								STRINGIFY(RAFT_MAX_ENTRIES_PER_MSG));
				if (msg->rank >= RAFT_MAX_MEMBERS &&
					msg->rank != RAFT_RANK_UNKNOWN)
					return fail(why, "append rank is neither below "
								STRINGIFY(RAFT_MAX_MEMBERS) " nor unknown");
				if (msg->n_entries > 0 && msg->entries == NULL)
					return fail(why, "entry count is nonzero but entries "
								"is NULL");
				if (msg->n_entries > 0 && prev_term > msg->term)
					return fail(why, "prev_log_term is newer than the "
								"message term");
				for (uint32_t i = 0; i < msg->n_entries; i++)
				{
					const raft_entry *e = &msg->entries[i];

					if (expected == UINT64_MAX)
						return fail(why, "entry index overflows");
					expected++;
					if (e->index != expected)
						return fail(why, "entry indexes do not run "
									"consecutively from prev_log_index + 1");
					if (e->term < prev_term)
						return fail(why, "entry term goes backwards");
					if (e->term > msg->term)
						return fail(why, "entry term is newer than the "
									"message term");
					prev_term = e->term;
					if (e->type < RAFT_ENTRY_NOOP ||
						e->type > RAFT_ENTRY_TIMELINE)
						return fail(why, raft__why_entry_type[e->type]);
					if (e->len > RAFT_MAX_ENTRY_DATA)
						return fail(why, "entry data length exceeds limit "
									MAX_ENTRY_DATA_TEXT);
					if (e->len > 0 && e->data == NULL)
						return fail(why, "entry has a length but no data");
					if (e->type == RAFT_ENTRY_CHANGE)
					{
						raft_change change;

						if (raft_change_decode(e->data, e->len, &change,
											   why) != RAFT_OK)
							return RAFT_EINVAL;
					}
					if (e->type == RAFT_ENTRY_TIMELINE)
					{
						raft_timeline step;

						if (raft_timeline_decode(e->data, e->len, &step,
												 why) != RAFT_OK)
							return RAFT_EINVAL;
					}
				}
				break;
			}

		case RAFT_MSG_APPEND_RESPONSE:
			/* the leader sizes its lease with it: zero would mean no lease */
			if (msg->timeout <= 0)
				return fail(why, "append response carries no election "
							"timeout");
			if (msg->timeout > (raft_time) UINT32_MAX)
				return fail(why, "append response's election timeout "
							"exceeds 32 bits");
			if (msg->priority > RAFT_MAX_PRIORITY)
				return fail(why, "append response's priority exceeds "
							STRINGIFY(RAFT_MAX_PRIORITY));
			break;

		default:
			break;
	}
	return RAFT_OK;
}

/*
 * Write a position: timeline, LSN, where the timeline begins, its parent
 * and where the parent begins.
 */
static void
write_position(uint8_t *buf, size_t *pos, const raft_position *p)
{
	write_u64(buf, pos, p->major);
	write_u64(buf, pos, p->minor);
	write_u64(buf, pos, p->begin);
	write_u64(buf, pos, p->parent);
	write_u64(buf, pos, p->parent_begin);
}

/* Read what write_position wrote. */
static void
read_position(reader *r, raft_position *p)
{
	p->major = read_u64(r);
	p->minor = read_u64(r);
	p->begin = read_u64(r);
	p->parent = read_u64(r);
	p->parent_begin = read_u64(r);
}

/* Bytes the type-specific part of a message takes, before any entries. */
static size_t
message_body_size(uint8_t type)
{
	switch (type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			return VOTE_BODY_SIZE;
		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			return VOTE_RESPONSE_BODY_SIZE;
		case RAFT_MSG_APPEND:
			return APPEND_BODY_SIZE;
		case RAFT_MSG_APPEND_RESPONSE:
			return APPEND_RESPONSE_BODY_SIZE;
		default:
			return 0;
	}
}

/* Bytes needed to encode 'msg' (meaningful only for a valid message). */
size_t
raft_message_encoded_size(const raft_message *msg)
{
	size_t		size = MSG_HEADER_SIZE + message_body_size(msg->type);

	if ((msg->type == RAFT_MSG_PREVOTE || msg->type == RAFT_MSG_VOTE) &&
		msg->n_history <= RAFT_HISTORY_TAIL)
		size += (size_t) msg->n_history * HISTORY_STEP_SIZE;
	if (msg->type == RAFT_MSG_APPEND && msg->entries != NULL &&
		msg->n_entries <= RAFT_MAX_ENTRIES_PER_MSG)
	{
		for (uint32_t i = 0; i < msg->n_entries; i++)
			size += ENTRY_HEADER_SIZE + msg->entries[i].len;
	}
	return size;
}

/* Encode one message into buf; only the fields of its type are written. */
int
raft_message_encode(const raft_message *msg, uint8_t *buf, size_t cap,
					size_t *len, const char **why)
{
	size_t		pos = 0;

	if (message_check(msg, why) != RAFT_OK)
		return RAFT_EINVAL;
	if (cap < raft_message_encoded_size(msg))
		return fail(why, "buffer too small");

	write_u8(buf, &pos, RAFT_WIRE_VERSION);
	write_u8(buf, &pos, msg->type);
	write_u32(buf, &pos, msg->from);
	write_u32(buf, &pos, msg->to);
	write_u64(buf, &pos, msg->term);

	switch (msg->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			write_u64(buf, &pos, msg->last_log_index);
			write_u64(buf, &pos, msg->last_log_term);
			write_position(buf, &pos, &msg->position);
			write_u8(buf, &pos, msg->transfer ? 1 : 0);
			write_u8(buf, &pos, msg->n_history);
			for (int i = 0; i < msg->n_history; i++)
			{
				write_u64(buf, &pos, msg->history[i].tli);
				write_u64(buf, &pos, msg->history[i].begin);
				write_u64(buf, &pos, msg->history[i].parent);
				write_u32(buf, &pos, msg->history[i].node);
			}
			break;

		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			write_u8(buf, &pos, msg->granted ? 1 : 0);
			write_u8(buf, &pos, msg->refusal);
			break;

		case RAFT_MSG_APPEND:
			write_u64(buf, &pos, msg->prev_log_index);
			write_u64(buf, &pos, msg->prev_log_term);
			write_u64(buf, &pos, msg->commit);
			write_u64(buf, &pos, (uint64_t) msg->echo);
			write_u8(buf, &pos, msg->rank);
			write_u8(buf, &pos, (uint8_t) msg->n_entries);
			for (uint32_t i = 0; i < msg->n_entries; i++)
			{
				const raft_entry *e = &msg->entries[i];

				write_u64(buf, &pos, e->term);
				write_u64(buf, &pos, e->index);
				write_u8(buf, &pos, e->type);
				write_u32(buf, &pos, e->len);
				if (e->len > 0)
					memcpy(buf + pos, e->data, e->len);
				pos += e->len;
			}
			break;

		case RAFT_MSG_APPEND_RESPONSE:
			write_u64(buf, &pos, (uint64_t) msg->echo);
			write_u8(buf, &pos, msg->success ? 1 : 0);
			write_u64(buf, &pos, msg->match_index);
			write_u64(buf, &pos, msg->reject_hint);
			write_position(buf, &pos, &msg->position);
			write_u32(buf, &pos, (uint32_t) msg->timeout);
			write_u8(buf, &pos, msg->priority);
			write_u8(buf, &pos, msg->flags);
			break;

		default:				/* TIMEOUT_NOW: the header says it all */
			break;
	}
	*len = pos;
	return succeed(why);
}

/*
 * Read the entries of an APPEND into 'entries'.  Only lengths are checked
 * here (they decide where the next field starts); message_check() does the
 * rest.
 */
static int
read_entries(reader *r, raft_message *msg, raft_entry *entries,
			 const char **why)
{
	for (uint32_t i = 0; i < msg->n_entries; i++)
	{
		raft_entry *e = &entries[i];

		e->term = read_u64(r);
		e->index = read_u64(r);
		e->type = read_u8(r);
		e->len = read_u32(r);
		if (r->truncated)
			return fail(why, "truncated entry header");
		if (e->len > RAFT_MAX_ENTRY_DATA)
			return fail(why, "entry data length exceeds limit "
						MAX_ENTRY_DATA_TEXT);
		if (!reader_has(r, e->len))
			return fail(why, "truncated entry data");
		e->data = e->len > 0 ? r->buf + r->pos : NULL;
		r->pos += e->len;
	}
	msg->entries = msg->n_entries > 0 ? entries : NULL;
	return RAFT_OK;
}

/* Decode one message into a zeroed *msg; raft_message_decode's worker. */
static int
message_decode(const uint8_t *buf, size_t len, raft_message *msg,
			   raft_entry *entries, const char **why)
{
	reader		r;
	uint8_t		version;
	bool		ok = true;

	reader_init(&r, buf, buf != NULL ? len : 0);

	version = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated message header");
	if (version != RAFT_WIRE_VERSION)
		return fail(why, raft__why_version[version]);
	msg->type = read_u8(&r);
	msg->from = read_u32(&r);
	msg->to = read_u32(&r);
	msg->term = read_u64(&r);
	if (r.truncated)
		return fail(why, "truncated message header");
	if (msg->type < RAFT_MSG_PREVOTE || msg->type > RAFT_MSG_TYPE_MAX)
		return fail(why, raft__why_msg_type[msg->type]);

	switch (msg->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			msg->last_log_index = read_u64(&r);
			msg->last_log_term = read_u64(&r);
			read_position(&r, &msg->position);
			msg->transfer = read_bool(&r, &ok);
			if (!r.truncated && !ok)
				return fail(why, "transfer flag is neither 0 nor 1");
			msg->n_history = read_u8(&r);
			if (r.truncated)
				break;
			if (msg->n_history > RAFT_HISTORY_TAIL)
				return fail(why, "vote request carries more than "
							STRINGIFY(RAFT_HISTORY_TAIL) " timeline steps");
			for (int i = 0; i < msg->n_history; i++)
			{
				msg->history[i].tli = read_u64(&r);
				msg->history[i].begin = read_u64(&r);
				msg->history[i].parent = read_u64(&r);
				msg->history[i].node = read_u32(&r);
			}
			break;

		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			msg->granted = read_bool(&r, &ok);
			if (!r.truncated && !ok)
				return fail(why, "granted flag is neither 0 nor 1");
			msg->refusal = read_u8(&r);
			break;

		case RAFT_MSG_APPEND:
			msg->prev_log_index = read_u64(&r);
			msg->prev_log_term = read_u64(&r);
			msg->commit = read_u64(&r);
			msg->echo = (raft_time) read_u64(&r);
			msg->rank = read_u8(&r);
			msg->n_entries = read_u8(&r);
			if (r.truncated)
				break;
			if (msg->n_entries > RAFT_MAX_ENTRIES_PER_MSG)
				return fail(why, raft__why_entry_count[msg->n_entries]);
			if (msg->n_entries > 0 && entries == NULL)
				return fail(why, "no storage given for decoded entries");
			if (read_entries(&r, msg, entries, why) != RAFT_OK)
				return RAFT_EINVAL;
			break;

		case RAFT_MSG_APPEND_RESPONSE:
			msg->echo = (raft_time) read_u64(&r);
			msg->success = read_bool(&r, &ok);
			if (!r.truncated && !ok)
				return fail(why, "success flag is neither 0 nor 1");
			msg->match_index = read_u64(&r);
			msg->reject_hint = read_u64(&r);
			read_position(&r, &msg->position);
			msg->timeout = (raft_time) read_u32(&r);
			msg->priority = read_u8(&r);
			msg->flags = read_u8(&r);
			break;

		default:				/* TIMEOUT_NOW: nothing after the header */
			break;
	}
	if (r.truncated)
		return fail(why, "truncated message body");
	if (reader_left(&r) != 0)
		return fail(why, "trailing bytes after message");
	if (message_check(msg, why) != RAFT_OK)
		return RAFT_EINVAL;
	return succeed(why);
}

/*
 * Decode one message; fields its type does not carry are left zero, and on
 * failure the whole message is zero.
 */
int
raft_message_decode(const uint8_t *buf, size_t len, raft_message *msg,
					raft_entry *entries, const char **why)
{
	memset(msg, 0, sizeof(*msg));
	if (message_decode(buf, len, msg, entries, why) != RAFT_OK)
	{
		memset(msg, 0, sizeof(*msg));
		return RAFT_EINVAL;
	}
	return RAFT_OK;
}
