/*
 * raft_codec.c
 *	  Wire encoding of Raft messages, message envelopes and membership
 *	  changes.
 *
 * These bytes cross the network between PostgreSQL instances and, for
 * membership changes, sit in the durable log, so the decoder treats its input
 * as hostile: every length is checked against the bytes actually present
 * before it is used, every enumerated field is checked against its range,
 * and anything the encoder would never produce is refused.  Decoding never
 * allocates; decoded entries point into the caller's buffer.
 *
 * Integers are little-endian and are assembled byte by byte, so the format
 * does not depend on the host's endianness or alignment.  The layout is
 * canonical (one message has exactly one encoding), which is what lets the
 * fuzzer check that decode followed by encode gives back the input bytes.
 * The byte-by-byte layout is documented in docs/wire-format.md; keep the two
 * in step.
 *
 * Failure reasons are static strings.  The engine keeps no mutable globals,
 * so a reason cannot be formatted at run time; reasons that name a one-byte
 * value come from constant tables with one string per possible value.
 */
#include "raft.h"

#include <string.h>

/* Fixed sizes of the wire layout (see docs/wire-format.md). */
#define MSG_HEADER_SIZE			18	/* version, type, from, to, term */
#define VOTE_BODY_SIZE			33	/* PREVOTE, VOTE */
#define VOTE_RESPONSE_BODY_SIZE	2	/* PREVOTE_RESPONSE, VOTE_RESPONSE */
#define APPEND_BODY_SIZE		33	/* APPEND, before its entries */
#define ENTRY_HEADER_SIZE		21	/* term, index, type, len */
#define APPEND_RESPONSE_BODY_SIZE 41	/* echo .. reject_hint, position */
#define ENVELOPE_FIXED_SIZE		18	/* all of the header but the name */
#define FRAME_PREFIX_SIZE		4	/* u32 length before each message */
#define CHANGE_FIXED_SIZE		8	/* version, op, id, address length */

static const uint8_t envelope_magic[4] = {'R', 'A', 'F', 'T'};

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* raft.h spells this limit as an expression; the reasons spell it out. */
#define MAX_ENTRY_DATA_TEXT "65536"
_Static_assert(RAFT_MAX_ENTRY_DATA == 65536,
			   "update MAX_ENTRY_DATA_TEXT to match RAFT_MAX_ENTRY_DATA");
/* the longest address, leaving room for its NUL in raft_change.address */
#define MAX_ADDRESS_LEN_TEXT "1023"
_Static_assert(RAFT_MAX_ADDRESS == 1024,
			   "update MAX_ADDRESS_LEN_TEXT to match RAFT_MAX_ADDRESS");

/*
 * X(0) ... X(255): expands a reason template once per byte value.  TENS
 * pastes a last digit onto a prefix (an empty prefix gives 0 .. 9).
 */
#define TENS(X, p) \
	X(p##0) X(p##1) X(p##2) X(p##3) X(p##4) \
	X(p##5) X(p##6) X(p##7) X(p##8) X(p##9)
#define BYTE_VALUES(X) \
	TENS(X, ) TENS(X, 1) TENS(X, 2) TENS(X, 3) TENS(X, 4) TENS(X, 5) \
	TENS(X, 6) TENS(X, 7) TENS(X, 8) TENS(X, 9) TENS(X, 10) TENS(X, 11) \
	TENS(X, 12) TENS(X, 13) TENS(X, 14) TENS(X, 15) TENS(X, 16) \
	TENS(X, 17) TENS(X, 18) TENS(X, 19) TENS(X, 20) TENS(X, 21) \
	TENS(X, 22) TENS(X, 23) TENS(X, 24) \
	X(250) X(251) X(252) X(253) X(254) X(255)

#define WHY_VERSION(n) \
	"unsupported wire version " #n " (this build speaks version " \
	STRINGIFY(RAFT_WIRE_VERSION) ")",
#define WHY_MSG_TYPE(n) "unknown message type " #n,
#define WHY_ENTRY_TYPE(n) "unknown entry type " #n,
#define WHY_REFUSAL(n) "unknown vote refusal code " #n,
#define WHY_CHANGE_OP(n) "unknown membership change op " #n,
#define WHY_ENTRY_COUNT(n) \
	"entry count " #n " exceeds limit " STRINGIFY(RAFT_MAX_ENTRIES_PER_MSG),
#define WHY_NAME_LENGTH(n) \
	"cluster name length " #n " exceeds limit " \
	STRINGIFY(RAFT_MAX_CLUSTER_NAME),

static const char *const why_version[] = {BYTE_VALUES(WHY_VERSION)};
static const char *const why_msg_type[] = {BYTE_VALUES(WHY_MSG_TYPE)};
static const char *const why_entry_type[] = {BYTE_VALUES(WHY_ENTRY_TYPE)};
static const char *const why_refusal[] = {BYTE_VALUES(WHY_REFUSAL)};
static const char *const why_change_op[] = {BYTE_VALUES(WHY_CHANGE_OP)};
static const char *const why_entry_count[] = {BYTE_VALUES(WHY_ENTRY_COUNT)};
static const char *const why_name_length[] = {BYTE_VALUES(WHY_NAME_LENGTH)};

_Static_assert(sizeof(why_version) / sizeof(why_version[0]) == 256,
			   "BYTE_VALUES must expand to exactly one entry per byte value");

/*
 * A cursor over input bytes.  A read past the end yields zero and sets
 * 'truncated' instead of touching memory, so a decoder can read a group of
 * fixed fields and check once afterwards.
 */
typedef struct reader
{
	const uint8_t *buf;
	size_t		len;
	size_t		pos;
	bool		truncated;
} reader;

/* Start reading buf[0 .. len). */
static void
reader_init(reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->truncated = false;
}

/* Bytes left to read. */
static size_t
reader_left(const reader *r)
{
	return r->len - r->pos;
}

/* Whether n more bytes are present; marks the reader truncated if not. */
static bool
reader_has(reader *r, size_t n)
{
	if (r->truncated || reader_left(r) < n)
	{
		r->truncated = true;
		return false;
	}
	return true;
}

/* Read an n-byte little-endian unsigned integer (n <= 8). */
static uint64_t
read_le(reader *r, size_t n)
{
	uint64_t	v = 0;

	if (!reader_has(r, n))
		return 0;
	for (size_t i = n; i-- > 0;)
		v = (v << 8) | r->buf[r->pos + i];
	r->pos += n;
	return v;
}

#define read_u8(r)	((uint8_t) read_le((r), 1))
#define read_u16(r) ((uint16_t) read_le((r), 2))
#define read_u32(r) ((uint32_t) read_le((r), 4))
#define read_u64(r) read_le((r), 8)

/*
 * Read a boolean, which must be 0 or 1: anything else means the sender is not
 * speaking this format, and accepting it would break canonical encoding.
 */
static bool
read_bool(reader *r, bool *ok)
{
	uint8_t		v = read_u8(r);

	if (v > 1)
		*ok = false;
	return v == 1;
}

/*
 * Write v as an n-byte little-endian integer at buf + *pos and advance *pos.
 * The caller has already checked the capacity.
 */
static void
write_le(uint8_t *buf, size_t *pos, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[(*pos)++] = (uint8_t) (v >> (8 * i));
}

#define write_u8(b, p, v)	write_le((b), (p), (v), 1)
#define write_u16(b, p, v)	write_le((b), (p), (v), 2)
#define write_u32(b, p, v)	write_le((b), (p), (v), 4)
#define write_u64(b, p, v)	write_le((b), (p), (v), 8)

/* Report a failure: point *why (if given) at the reason. */
static int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return RAFT_EINVAL;
}

/* Report success: clear *why so a stale reason is never shown. */
static int
succeed(const char **why)
{
	if (why != NULL)
		*why = NULL;
	return RAFT_OK;
}

/* Length of s, but looking at no more than max bytes. */
static size_t
bounded_strlen(const char *s, size_t max)
{
	const char *nul = memchr(s, '\0', max);

	return nul != NULL ? (size_t) (nul - s) : max;
}

/* ----------------------------------------------------------------------
 * Membership changes
 * ---------------------------------------------------------------------- */

/* Whether a change op carries an address. */
static bool
change_op_has_address(uint8_t op)
{
	return op == RAFT_CHANGE_ADD_VOTER || op == RAFT_CHANGE_ADD_LEARNER;
}

/* Whether a change op is one of raft_change_op. */
static bool
change_op_valid(uint8_t op)
{
	return op >= RAFT_CHANGE_ADD_VOTER && op <= RAFT_CHANGE_REMOVE;
}

/* Encode a membership change as the payload of a RAFT_ENTRY_CHANGE entry. */
int
raft_change_encode(const raft_change *change, uint8_t *buf, size_t cap,
				   size_t *len, const char **why)
{
	size_t		alen = 0;
	size_t		pos = 0;

	if (!change_op_valid(change->op))
		return fail(why, why_change_op[change->op]);
	if (change->id == RAFT_NOBODY)
		return fail(why, "membership change names node id 0");
	if (change_op_has_address(change->op))
	{
		alen = bounded_strlen(change->address, RAFT_MAX_ADDRESS);
		if (alen >= RAFT_MAX_ADDRESS)
			return fail(why, "member address is not NUL-terminated within "
						STRINGIFY(RAFT_MAX_ADDRESS) " bytes");
	}
	if (cap < CHANGE_FIXED_SIZE + alen)
		return fail(why, "buffer too small");

	write_u8(buf, &pos, RAFT_WIRE_VERSION);
	write_u8(buf, &pos, change->op);
	write_u32(buf, &pos, change->id);
	write_u16(buf, &pos, (uint16_t) alen);
	memcpy(buf + pos, change->address, alen);
	pos += alen;
	*len = pos;
	return succeed(why);
}

/* Decode and check a membership change payload. */
int
raft_change_decode(const uint8_t *buf, size_t len, raft_change *change,
				   const char **why)
{
	reader		r;
	uint8_t		version;
	uint16_t	alen;

	memset(change, 0, sizeof(*change));
	reader_init(&r, buf, buf != NULL ? len : 0);

	version = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated membership change");
	if (version != RAFT_WIRE_VERSION)
		return fail(why, why_version[version]);
	change->op = read_u8(&r);
	change->id = read_u32(&r);
	alen = read_u16(&r);
	if (r.truncated)
		return fail(why, "truncated membership change");
	if (!change_op_valid(change->op))
		return fail(why, why_change_op[change->op]);
	if (change->id == RAFT_NOBODY)
		return fail(why, "membership change names node id 0");
	if (alen >= RAFT_MAX_ADDRESS)
		return fail(why, "member address length exceeds limit "
					MAX_ADDRESS_LEN_TEXT);
	if (alen > 0 && !change_op_has_address(change->op))
		return fail(why, "membership change carries an address its op "
					"does not take");
	if (!reader_has(&r, alen))
		return fail(why, "truncated member address");
	if (memchr(buf + r.pos, '\0', alen) != NULL)
		return fail(why, "member address contains a NUL byte");
	memcpy(change->address, buf + r.pos, alen);
	r.pos += alen;
	if (reader_left(&r) != 0)
		return fail(why, "trailing bytes after membership change");
	return succeed(why);
}

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
		return fail(why, why_msg_type[msg->type]);
	if (msg->from == RAFT_NOBODY)
		return fail(why, "message sender is node id 0");
	if (msg->to == RAFT_NOBODY)
		return fail(why, "message destination is node id 0");

	switch (msg->type)
	{
		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			if (msg->refusal > RAFT_VOTE_NOT_MEMBER)
				return fail(why, why_refusal[msg->refusal]);
			if (msg->granted && msg->refusal != RAFT_VOTE_GRANTED)
				return fail(why, "vote granted with a refusal reason");
			break;

		case RAFT_MSG_APPEND:
			{
				raft_index	expected = msg->prev_log_index;
				raft_term	prev_term = msg->prev_log_term;

				if (msg->n_entries > RAFT_MAX_ENTRIES_PER_MSG)
					return fail(why, msg->n_entries <= 255 ?
								why_entry_count[msg->n_entries] :
								"entry count exceeds limit "
								STRINGIFY(RAFT_MAX_ENTRIES_PER_MSG));
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
						e->type > RAFT_ENTRY_CHANGE)
						return fail(why, why_entry_type[e->type]);
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
				}
				break;
			}

		default:
			break;
	}
	return RAFT_OK;
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
			write_u64(buf, &pos, msg->position.major);
			write_u64(buf, &pos, msg->position.minor);
			write_u8(buf, &pos, msg->transfer ? 1 : 0);
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
			write_u64(buf, &pos, msg->position.major);
			write_u64(buf, &pos, msg->position.minor);
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
		return fail(why, why_version[version]);
	msg->type = read_u8(&r);
	msg->from = read_u32(&r);
	msg->to = read_u32(&r);
	msg->term = read_u64(&r);
	if (r.truncated)
		return fail(why, "truncated message header");
	if (msg->type < RAFT_MSG_PREVOTE || msg->type > RAFT_MSG_TYPE_MAX)
		return fail(why, why_msg_type[msg->type]);

	switch (msg->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			msg->last_log_index = read_u64(&r);
			msg->last_log_term = read_u64(&r);
			msg->position.major = read_u64(&r);
			msg->position.minor = read_u64(&r);
			msg->transfer = read_bool(&r, &ok);
			if (!r.truncated && !ok)
				return fail(why, "transfer flag is neither 0 nor 1");
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
			msg->n_entries = read_u8(&r);
			if (r.truncated)
				break;
			if (msg->n_entries > RAFT_MAX_ENTRIES_PER_MSG)
				return fail(why, why_entry_count[msg->n_entries]);
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
			msg->position.major = read_u64(&r);
			msg->position.minor = read_u64(&r);
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

/* ----------------------------------------------------------------------
 * Envelopes
 * ---------------------------------------------------------------------- */

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
		return fail(why, why_version[env->version]);
	name_len = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated envelope header");
	if (name_len > RAFT_MAX_CLUSTER_NAME)
		return fail(why, why_name_length[name_len]);
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
