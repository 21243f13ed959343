/*
 * storage_promise.c
 *	  The election timeout this node's acknowledgements promised, kept in
 *	  the state directory so that a restart with a shorter timeout still
 *	  keeps the promise.
 *
 * Every APPEND_RESPONSE carries the sender's election timeout, and the
 * leader sizes its lease on the promise that the sender refuses votes for
 * that long.  A node restarted with a shorter raft_ext.election_timeout
 * knows only its new value; without this file it would start refusing votes
 * for too short a time, and an operator had to keep it down for the
 * difference.  The worker reads the file at start, refuses votes for the
 * longer of the two (the engine's startup_stickiness), raises the file at
 * once when the new timeout is longer, and lowers it only once the old
 * promise has run out (a second restart inside the window must still keep
 * it).
 *
 * On-disk layout of "promise", version 1, little-endian:
 *	  0   u32	  magic 'RAFP'
 *	  4   u32	  format version
 *	  8   u32	  node id
 *	  12  u64	  promised election timeout, ms
 *	  20  u32	  CRC32C of everything before it
 * Written like the state file: "promise.tmp", fsync, durable rename.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "storage.h"
#include "storage_internal.h"

#define RAFT_PROMISE_MAGIC		0x50464152	/* "RAFP" little-endian */
#define RAFT_PROMISE_VERSION	1
#define RAFT_PROMISE_SIZE		24
#define RAFT_PROMISE_FILENAME	"promise"
#define RAFT_PROMISE_TMPNAME	"promise.tmp"

/* See storage.h. */
void
raft_storage_save_promise(RaftStorage *storage, int64 timeout_ms)
{
	uint8		buf[RAFT_PROMISE_SIZE];
	char	   *tmppath = psprintf("%s/%s", storage->dir, RAFT_PROMISE_TMPNAME);
	char	   *path = psprintf("%s/%s", storage->dir, RAFT_PROMISE_FILENAME);

	raft_put_u32(buf + 0, RAFT_PROMISE_MAGIC);
	raft_put_u32(buf + 4, RAFT_PROMISE_VERSION);
	raft_put_u32(buf + 8, storage->node_id);
	raft_put_u64(buf + 12, (uint64) timeout_ms);
	raft_put_u32(buf + 20, raft_storage_crc(buf, 20));
	(void) raft_write_file_durably(tmppath, path, buf, sizeof(buf), true, ERROR);
	pfree(tmppath);
	pfree(path);
}

/* See storage.h. */
int64
raft_storage_load_promise(RaftStorage *storage)
{
	char	   *path = psprintf("%s/%s", storage->dir, RAFT_PROMISE_FILENAME);
	struct stat st;
	uint8	   *buf;
	off_t		size;
	int64		timeout_ms;

	if (stat(path, &st) != 0)
	{
		if (errno == ENOENT)
		{
			pfree(path);
			return 0;
		}
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	}
	buf = raft_storage_read_file(path, &size);
	if (size != RAFT_PROMISE_SIZE)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file is %lld bytes long; a promise file is %d bytes.",
										   (long long) size, RAFT_PROMISE_SIZE));
	if (raft_get_u32(buf) != RAFT_PROMISE_MAGIC)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file starts with magic number %08X, expected %08X.",
										   raft_get_u32(buf), RAFT_PROMISE_MAGIC));
	if (raft_get_u32(buf + 4) != RAFT_PROMISE_VERSION)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file has format version %u; this build of raft_ext reads version %u.",
										   raft_get_u32(buf + 4), RAFT_PROMISE_VERSION));
	if (raft_storage_crc(buf, 20) != raft_get_u32(buf + 20))
		raft_report_corrupt_state(storage, path,
								  psprintf("The checksum does not match: computed %08X, stored %08X.",
										   raft_storage_crc(buf, 20), raft_get_u32(buf + 20)));
	if (raft_get_u32(buf + 8) != storage->node_id)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file was written by node %u, but the state file belongs to node %u.",
										   raft_get_u32(buf + 8), storage->node_id));
	timeout_ms = (int64) raft_get_u64(buf + 12);
	if (timeout_ms < 0 || timeout_ms > INT64CONST(86400000))
		raft_report_corrupt_state(storage, path,
								  psprintf("The promised election timeout, %lld ms, is impossible.",
										   (long long) timeout_ms));
	pfree(buf);
	pfree(path);
	return timeout_ms;
}
