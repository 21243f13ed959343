/*
 * raft_timeline_codec.c
 *	  Wire encoding of timeline history steps: the bytes of a
 *	  RAFT_ENTRY_TIMELINE entry, which travel inside AppendEntries and sit in
 *	  the durable log.  Same rules as raft_codec.c: hostile input, every
 *	  field checked, no allocation.  The message decoder (raft_codec.c)
 *	  calls raft_timeline_decode to check the steps an entry carries.
 *
 *	  Layout: version (u8), tli (u64), begin (u64), parent (u64), node (u32),
 *	  time (i64, as u64), reason (u8).
 */
#include "raft_wire.h"

_Static_assert(RAFT_TIMELINE_ENCODED_SIZE == 1 + 8 + 8 + 8 + 4 + 8 + 1,
			   "RAFT_TIMELINE_ENCODED_SIZE must match the layout");

/* Encode a timeline step as the payload of a RAFT_ENTRY_TIMELINE entry. */
int
raft_timeline_encode(const raft_timeline *step, uint8_t *buf, size_t cap,
					 size_t *len, const char **why)
{
	size_t		pos = 0;

	if (step->tli == 0)
		return fail(why, "timeline step names timeline 0");
	if (cap < RAFT_TIMELINE_ENCODED_SIZE)
		return fail(why, "buffer too small");
	write_u8(buf, &pos, RAFT_TIMELINE_VERSION);
	write_u64(buf, &pos, step->tli);
	write_u64(buf, &pos, step->begin);
	write_u64(buf, &pos, step->parent);
	write_u32(buf, &pos, step->node);
	write_u64(buf, &pos, (uint64_t) step->time);
	write_u8(buf, &pos, step->reason);
	*len = pos;
	return succeed(why);
}

/* Decode and check a timeline step payload. */
int
raft_timeline_decode(const uint8_t *buf, size_t len, raft_timeline *step,
					 const char **why)
{
	reader		r;
	uint8_t		version;

	memset(step, 0, sizeof(*step));
	reader_init(&r, buf, buf != NULL ? len : 0);
	version = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated timeline step");
	if (version != RAFT_TIMELINE_VERSION)
		return fail(why, "unsupported timeline step version (this build reads "
					"version " STRINGIFY(RAFT_TIMELINE_VERSION) ")");
	step->tli = read_u64(&r);
	step->begin = read_u64(&r);
	step->parent = read_u64(&r);
	step->node = read_u32(&r);
	step->time = (int64_t) read_u64(&r);
	step->reason = read_u8(&r);
	if (r.truncated)
		return fail(why, "truncated timeline step");
	if (step->tli == 0)
		return fail(why, "timeline step names timeline 0");
	if (reader_left(&r) != 0)
		return fail(why, "trailing bytes after timeline step");
	return succeed(why);
}
