/*
 * raft_change_codec.c
 *	  Wire encoding of membership-change payloads: the bytes of a
 *	  RAFT_ENTRY_CHANGE entry, which travel inside AppendEntries and sit in
 *	  the durable log.  Same rules as raft_codec.c: hostile input, every
 *	  field checked, no allocation.  The message decoder (raft_codec.c)
 *	  calls raft_change_decode to check the changes an entry carries; this
 *	  file calls nothing but the primitives of raft_wire.h.
 */
#include "raft_wire.h"

/* Whether a change op carries an address. */
static bool
change_op_has_address(uint8_t op)
{
	return op == RAFT_CHANGE_ADD_VOTER || op == RAFT_CHANGE_ADD_LEARNER ||
		op == RAFT_CHANGE_ADD_STAGED;
}

/* Whether a change op is one of raft_change_op. */
static bool
change_op_valid(uint8_t op)
{
	return op >= RAFT_CHANGE_ADD_VOTER && op <= RAFT_CHANGE_ADD_STAGED;
}

/* Encode a membership change as the payload of a RAFT_ENTRY_CHANGE entry. */
int
raft_change_encode(const raft_change *change, uint8_t *buf, size_t cap,
				   size_t *len, const char **why)
{
	size_t		alen = 0;
	size_t		pos = 0;

	if (!change_op_valid(change->op))
		return fail(why, raft__why_change_op[change->op]);
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

	write_u8(buf, &pos, RAFT_CHANGE_VERSION);
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
	if (version != RAFT_CHANGE_VERSION)
		return fail(why, raft__why_change_version[version]);
	change->op = read_u8(&r);
	change->id = read_u32(&r);
	alen = read_u16(&r);
	if (r.truncated)
		return fail(why, "truncated membership change");
	if (!change_op_valid(change->op))
		return fail(why, raft__why_change_op[change->op]);
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
