/*
 * raft_wire.h
 *	  Internals of the wire codec shared by raft_envelope.c (envelopes),
 *	  raft_codec.c (messages), raft_change_codec.c and raft_timeline_codec.c (log-entry
 *	  payloads): the fixed sizes of the layout, a bounds-checked
 *	  little-endian reader and writer, and the tables of failure reasons.  Nothing outside the codec includes it.
 *
 * Integers are little-endian and are assembled byte by byte, so the format
 * does not depend on the host's endianness or alignment.  The layout is
 * documented in docs/wire-format.md; keep the two in step.
 */
#ifndef RAFT_WIRE_H
#define RAFT_WIRE_H

#include "raft.h"

#include <string.h>

/* Fixed sizes of the wire layout (see docs/wire-format.md). */
#define MSG_HEADER_SIZE			18	/* version, type, from, to, term */
#define VOTE_BODY_SIZE			58	/* PREVOTE, VOTE, before the history */
#define HISTORY_STEP_SIZE		28	/* tli, begin, parent, node */
#define VOTE_RESPONSE_BODY_SIZE	2	/* PREVOTE_RESPONSE, VOTE_RESPONSE */
#define APPEND_BODY_SIZE		34	/* APPEND, before its entries */
#define ENTRY_HEADER_SIZE		21	/* term, index, type, len */
#define APPEND_RESPONSE_BODY_SIZE 71	/* echo .. priority, flags */
#define ENVELOPE_FIXED_SIZE		18	/* all of the header but the name */
#define FRAME_PREFIX_SIZE		4	/* u32 length before each message */
#define CHANGE_FIXED_SIZE		8	/* version, op, id, address length */

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
 * Failure reasons that name a one-byte value, one string per possible value
 * (raft_wire.c): the engine keeps no mutable globals, so a reason cannot be
 * formatted at run time.
 */
extern const char *const raft__why_version[256];
extern const char *const raft__why_change_version[256];
extern const char *const raft__why_msg_type[256];
extern const char *const raft__why_entry_type[256];
extern const char *const raft__why_refusal[256];
extern const char *const raft__why_change_op[256];
extern const char *const raft__why_entry_count[256];
extern const char *const raft__why_name_length[256];

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
static inline void
reader_init(reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->truncated = false;
}

/* Bytes left to read. */
static inline size_t
reader_left(const reader *r)
{
	return r->len - r->pos;
}

/* Whether n more bytes are present; marks the reader truncated if not. */
static inline bool
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
static inline uint64_t
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
static inline bool
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
static inline void
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
static inline int
fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return RAFT_EINVAL;
}

/* Report success: clear *why so a stale reason is never shown. */
static inline int
succeed(const char **why)
{
	if (why != NULL)
		*why = NULL;
	return RAFT_OK;
}

/* Length of s, but looking at no more than max bytes. */
static inline size_t
bounded_strlen(const char *s, size_t max)
{
	const char *nul = memchr(s, '\0', max);

	return nul != NULL ? (size_t) (nul - s) : max;
}

#endif							/* RAFT_WIRE_H */
