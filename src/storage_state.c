/*
 * storage_state.c
 *	  The hard state file (term, vote, commit): save, restore, and the
 *	  ERROR that reports a damaged small file of the state directory.
 *
 * The hard state is one fixed-size record, CRC32C last, replaced atomically:
 * written to "state.tmp", fsynced, then durable_rename'd over "state" (which
 * also fsyncs the directory).  A crash leaves either the old or the new file,
 * never a mixture, so a state file that fails its checks was damaged by
 * something other than us; it stops the node with an ERROR.  Resetting the
 * term and vote silently could let this node vote twice in one term.
 *
 * The file is stamped with the node id and the cluster name; storage.c
 * decides what a directory stamped with another identity means.
 *
 * On-disk layout of "state", version 1, little-endian (104 bytes):
 *	  0   u32	  magic 'RAFS'
 *	  4   u32	  format version
 *	  8   u32	  total length, CRC included
 *	  12  u32	  node id
 *	  16  char[64] cluster name, NUL padded
 *	  80  u64	  term
 *	  88  u32	  voted_for
 *	  92  u64	  commit
 *	  100 u32	  CRC32C of bytes 0..99
 *
 * Like PostgreSQL's slot.c, the on-disk record, its save and its restore sit
 * side by side.  This file calls only storage_file.c.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/memutils.h"

#include "faults.h"
#include "settings.h"
#include "shmem.h"
#include "storage.h"
#include "storage_internal.h"

#define RAFT_STATE_MAGIC		0x53464152	/* "RAFS" little-endian */
#define RAFT_STATE_VERSION		1
#define RAFT_STATE_SIZE			104

/* Report a damaged state file: what failed, and what an operator can do. */
void
raft_report_corrupt_state(const RaftStorage *storage, const char *path, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("raft state file \"%s\" is corrupt", path),
			 errdetail("%s", detail),
			 errhint("Restore the file from a copy taken while this node was stopped, or "
					 "remove node %u from the cluster, delete the directory \"%s\" and "
					 "add this server back under a new node id (%s).",
					 storage->node_id, storage->dir, "raft_ext.node_id")));
}

/* Serialize the hard state into the fixed-size file image. */
static void
encode_state(const RaftStorage *storage, const raft_hard_state *hs,
			 uint8 *buf)
{
	memset(buf, 0, RAFT_STATE_SIZE);
	raft_put_u32(buf + 0, RAFT_STATE_MAGIC);
	raft_put_u32(buf + 4, RAFT_STATE_VERSION);
	raft_put_u32(buf + 8, RAFT_STATE_SIZE);
	raft_put_u32(buf + 12, storage->node_id);
	memcpy(buf + 16, storage->cluster_name, RAFT_STORAGE_NAME_LEN);
	raft_put_u64(buf + 80, hs->term);
	raft_put_u32(buf + 88, hs->voted_for);
	raft_put_u64(buf + 92, hs->commit);
	raft_put_u32(buf + 100, raft_storage_crc(buf, 100));
}

/*
 * Read and check the state file.  Returns false if it does not exist.  On
 * success fills *hs, *file_node and file_cluster (RAFT_STORAGE_NAME_LEN).
 * Every check failure is an ERROR: never a silent reset.
 */
bool
raft_storage_read_state(RaftStorage *storage, const char *path, raft_hard_state *hs,
				raft_id *file_node, char *file_cluster)
{
	uint8		buf[RAFT_STATE_SIZE + 1];
	ssize_t		nread = 0;
	int			fd;
	char	   *why;
	uint32		version,
				length,
				stored_crc,
				crc;

	fd = raft_storage_open_existing(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return false;

	/* One byte more than expected, to notice a file that is too long. */
	while (nread < (ssize_t) sizeof(buf))
	{
		ssize_t		r = pg_pread(fd, buf + nread, sizeof(buf) - nread, nread);

		if (r < 0)
		{
			raft_storage_close_keep_errno(fd);
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		}
		if (r == 0)
			break;
		nread += r;
	}
	CloseTransientFile(fd);

	why = raft_storage_check_start(buf, nread, 16, RAFT_STATE_MAGIC,
								   RAFT_STATE_VERSION);
	if (why != NULL)
		raft_report_corrupt_state(storage, path, why);
	version = raft_get_u32(buf + 4);
	length = raft_get_u32(buf + 8);
	if (length != RAFT_STATE_SIZE || nread != RAFT_STATE_SIZE)
		raft_report_corrupt_state(storage, path,
							 psprintf("The file is %d bytes long; its header says %u and version %u files are %d bytes.",
									  (int) nread, length, version, RAFT_STATE_SIZE));
	stored_crc = raft_get_u32(buf + 100);
	crc = raft_storage_crc(buf, 100);
	if (crc != stored_crc)
		raft_report_corrupt_state(storage, path,
							 psprintf("The checksum does not match: computed %08X, stored %08X.",
									  crc, stored_crc));
	if (buf[16 + RAFT_STORAGE_NAME_LEN - 1] != '\0')
		raft_report_corrupt_state(storage, path,
							 pstrdup("The cluster name field is not terminated."));

	*file_node = raft_get_u32(buf + 12);
	memcpy(file_cluster, buf + 16, RAFT_STORAGE_NAME_LEN);
	hs->term = raft_get_u64(buf + 80);
	hs->voted_for = raft_get_u32(buf + 88);
	hs->commit = raft_get_u64(buf + 92);
	return true;
}

/*
 * FAULT INJECTION (tests only; raft_ext.fault_injection): the failpoint
 * crash-mid-state-write.  If it is armed, disarm it (shared memory outlives
 * the worker, which would otherwise die again at every restart), write the
 * first half of the record to the temporary file, make that half durable,
 * and exit the worker: the second half and the rename never happen, as in
 * a crash in the middle of a write.  proc_exit(1) makes the postmaster
 * restart the worker alone (see test/t/111_crash_mid_state_write.pl).
 */
static void
failpoint_crash_mid_write(const uint8 *buf, const char *tmppath,
						  const raft_hard_state *hs)
{
	ssize_t		written;
	int			fd;

	if (!raft_storage_take_failpoint(RAFT_FAILPOINT_CRASH_MID_STATE_WRITE))
		return;

	fd = OpenTransientFile(tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
	written = pg_pwrite(fd, buf, RAFT_STATE_SIZE / 2, 0);
	(void) pg_fsync(fd);
	ereport(LOG,
			(errmsg("failpoint crash-mid-state-write: wrote %d of %d bytes of \"%s\" (term %llu, vote %u); exiting before the rename",
					(int) written, RAFT_STATE_SIZE, tmppath,
					(unsigned long long) hs->term, (unsigned) hs->voted_for)));
	proc_exit(1);
}

/* Write the hard state durably: temp file, fsync, durable_rename. */
void
raft_storage_save_hard_state(RaftStorage *storage,
							 const raft_hard_state *hard_state)
{
	uint8		buf[RAFT_STATE_SIZE];
	char	   *tmppath = psprintf("%s/%s", storage->dir, RAFT_STATE_TMPNAME);
	char	   *path = psprintf("%s/%s", storage->dir, RAFT_STATE_FILENAME);

	encode_state(storage, hard_state, buf);
	/* Tests only, one bool test otherwise. */
	if (raft_fault_injection &&
		raft_shared->fault_failpoint == RAFT_FAILPOINT_CRASH_MID_STATE_WRITE)
		failpoint_crash_mid_write(buf, tmppath, hard_state);
	(void) raft_write_file_durably(tmppath, path, buf, RAFT_STATE_SIZE,
								   true, ERROR);
	pfree(tmppath);
	pfree(path);
}
