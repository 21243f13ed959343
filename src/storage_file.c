/*
 * storage_file.c
 *	  Durable file primitives under the Raft state: fsync, durable rename,
 *	  the durable write of a small file, reading a whole file, CRC32C.
 *
 * Every fsync of the Raft state goes through raft_storage_fsync_fd: a
 * failure is remembered in shared memory, and Raft then stays stopped on
 * this node until the server restarts (raft_storage_fsync_has_failed).
 * This file calls no other storage file; they all call it.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "utils/memutils.h"

#include "faults.h"
#include "settings.h"
#include "shmem.h"
#include "storage.h"
#include "storage_internal.h"

/* CRC32C of a byte range. */
uint32
raft_storage_crc(const uint8 *data, size_t len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len);
	FIN_CRC32C(crc);
	return (uint32) crc;
}

/*
 * Remember that an fsync of the Raft state failed.  After a failed fsync
 * the kernel may already have dropped the pages it could not write and
 * marked them clean, so a retry can "succeed" with data lost: the files
 * can no longer be trusted, and Raft must not run on them again until the
 * server restarts (PostgreSQL's own rule since 2018: PANIC, or stay down).
 * The mark is in shared memory, so a restarted worker sees it too.
 */
static void
storage_fsync_failed(void)
{
	if (raft_shared == NULL)
		return;
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->storage_fsync_failed = true;
	LWLockRelease(raft_shared->lock);
}

/* See storage.h. */
bool
raft_storage_fsync_has_failed(void)
{
	bool		failed;

	if (raft_shared == NULL)
		return false;
	LWLockAcquire(raft_shared->lock, LW_SHARED);
	failed = raft_shared->storage_fsync_failed;
	LWLockRelease(raft_shared->lock);
	return failed;
}

/*
 * FAULT INJECTION (tests only): whether 'failpoint' is armed; if so, disarm
 * it, so that it fires once (shared memory outlives the worker).
 */
bool
raft_storage_take_failpoint(uint32 failpoint)
{
	bool		armed;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	armed = raft_shared->fault_failpoint == failpoint;
	if (armed)
		raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
	LWLockRelease(raft_shared->lock);
	return armed;
}

/*
 * FAULT INJECTION (tests only): the failpoint fsync-fail makes the next
 * fsync of the Raft state fail with EIO, once.
 */
static bool
failpoint_fsync_fail(void)
{
	bool		armed;

	if (!raft_fault_injection ||
		raft_shared->fault_failpoint != RAFT_FAILPOINT_FSYNC_FAIL)
		return false;
	armed = raft_storage_take_failpoint(RAFT_FAILPOINT_FSYNC_FAIL);
	if (armed)
		ereport(LOG,
				(errmsg("failpoint %s: failing the next fsync with EIO",
						raft_failpoint_names[RAFT_FAILPOINT_FSYNC_FAIL])));
	return armed;
}

/* pg_fsync for the Raft state: a failure is remembered (see above). */
int
raft_storage_fsync_fd(int fd)
{
	int			rc;

	if (failpoint_fsync_fail())
	{
		errno = EIO;
		rc = -1;
	}
	else
		rc = pg_fsync(fd);
	if (rc != 0)
	{
		int			save_errno = errno;

		storage_fsync_failed();
		errno = save_errno;
	}
	return rc;
}

/* fsync a file or directory by name; failure is an ERROR, remembered. */
void
raft_storage_fsync_path(const char *path, bool isdir)
{
	int			fd;

	fd = OpenTransientFile(path, (isdir ? O_RDONLY : O_RDWR) | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open %s \"%s\" to fsync it: %m",
						isdir ? "directory" : "file", path)));
	if (raft_storage_fsync_fd(fd) != 0 &&
		!(isdir && (errno == EBADF || errno == EINVAL)))
	{
		raft_storage_close_keep_errno(fd);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync %s \"%s\": %m",
						isdir ? "directory" : "file", path)));
	}
	CloseTransientFile(fd);
}

/* fsync a directory; failure is an ERROR (Raft stops, nothing is sent). */
void
raft_storage_fsync_dir(const char *path)
{
	raft_storage_fsync_path(path, true);
}

/*
 * durable_rename for the Raft state.  durable_rename cannot say whether
 * the rename or one of its fsyncs failed (it logs which); either way the
 * files cannot be trusted any more, so the failure is remembered as an
 * fsync failure.  Reported at elevel; false if it failed.
 */
bool
raft_storage_durable_rename(const char *from, const char *to, int elevel)
{
	if (durable_rename(from, to, LOG) != 0)
	{
		storage_fsync_failed();
		ereport(elevel,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not durably rename file \"%s\" to \"%s\"", from, to),
				 errdetail("The log line before this one says why.")));
		return false;
	}
	return true;
}

/*
 * Report a failed step of writing a temporary file at elevel: close it
 * (fd >= 0) and, below ERROR, remove it (at ERROR storage.c removes the
 * temporary files at the next open).  errno is the step's.  Returns false.
 */
static bool
write_failed(int fd, const char *tmppath, int elevel, const char *message)
{
	int			save_errno = errno;

	if (fd >= 0)
		CloseTransientFile(fd);
	if (elevel < ERROR)
		unlink(tmppath);
	errno = save_errno;
	ereport(elevel,
			(errcode_for_file_access(),
			 errmsg(message, tmppath)));
	return false;
}

/*
 * Write len bytes of buf to 'path' durably, as PostgreSQL's SaveSlotToPath
 * does: into 'tmppath' (created or truncated), fsync, close, then
 * durable_rename over 'path' (which fsyncs the file and its directory).  A
 * failure is reported at elevel; below ERROR the temporary file is removed
 * (unless the rename failed) and the function returns false.  raft_state:
 * the file is part of the Raft state, so a failed fsync or rename is
 * remembered and Raft stays stopped until the server restarts.
 */
bool
raft_write_file_durably(const char *tmppath, const char *path,
						const void *buf, size_t len, bool raft_state,
						int elevel)
{
	int			fd;

	fd = OpenTransientFile(tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fd < 0)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
		return false;
	}

	errno = 0;
	if (pg_pwrite(fd, buf, len, 0) != (ssize_t) len)
	{
		if (errno == 0)
			errno = ENOSPC;
		return write_failed(fd, tmppath, elevel,
							gettext_noop("could not write file \"%s\": %m"));
	}
	if ((raft_state ? raft_storage_fsync_fd(fd) : pg_fsync(fd)) != 0)
		return write_failed(fd, tmppath, elevel,
							gettext_noop("could not fsync file \"%s\": %m"));
	if (CloseTransientFile(fd) != 0)
		return write_failed(-1, tmppath, elevel,
							gettext_noop("could not close file \"%s\": %m"));

	/* Atomic replacement; also fsyncs the directory. */
	if (raft_state)
		return raft_storage_durable_rename(tmppath, path, elevel);
	return durable_rename(tmppath, path, elevel) == 0;
}

/* Open 'path'; -1 if it does not exist, any other failure an ERROR. */
int
raft_storage_open_existing(const char *path, int flags)
{
	int			fd = OpenTransientFile(path, flags);

	if (fd < 0 && errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	return fd;
}

/* CloseTransientFile(fd) without changing errno, for the report after it. */
void
raft_storage_close_keep_errno(int fd)
{
	int			save_errno = errno;

	CloseTransientFile(fd);
	errno = save_errno;
}

/* Check length, magic and version at the start of a file (see the header). */
char *
raft_storage_check_start(const uint8 *buf, off_t size, int header_len,
						 uint32 magic, uint32 version)
{
	if (size < header_len)
		return psprintf("The file is %lld bytes long, shorter than its %d-byte header.",
						(long long) size, header_len);
	if (raft_get_u32(buf) != magic)
		return psprintf("The file starts with magic number %08X, expected %08X.",
						raft_get_u32(buf), magic);
	if (raft_get_u32(buf + 4) != version)
		return psprintf("The file has format version %u; this build of raft_ext reads version %u.",
						raft_get_u32(buf + 4), version);
	return NULL;
}

/* Check a file's node id and cluster name against ours (see the header). */
char *
raft_storage_check_stamp(const RaftStorage *storage, const uint8 *field,
						 bool segment)
{
	char		name[RAFT_STORAGE_NAME_LEN];

	if (raft_get_u32(field) != storage->node_id)
		return psprintf(segment
						? "The segment was written by node %u, but the state file belongs to node %u."
						: "The file was written by node %u, but the state file belongs to node %u.",
						raft_get_u32(field), storage->node_id);
	memcpy(name, field + 4, RAFT_STORAGE_NAME_LEN);
	name[RAFT_STORAGE_NAME_LEN - 1] = '\0';
	if (strcmp(name, storage->cluster_name) != 0)
		return psprintf(segment
						? "The segment belongs to cluster \"%s\", not \"%s\"."
						: "The file belongs to cluster \"%s\", not \"%s\".",
						name, storage->cluster_name);
	return NULL;
}

/* Read all of 'path' into a palloc'd buffer; *size receives its length. */
uint8 *
raft_storage_read_file(const char *path, off_t *size)
{
	int			fd;
	struct stat st;
	uint8	   *buf;
	off_t		done = 0;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	if (fstat(fd, &st) != 0)
	{
		raft_storage_close_keep_errno(fd);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	}
	buf = palloc_extended(Max(st.st_size, 1), MCXT_ALLOC_HUGE);
	while (done < st.st_size)
	{
		ssize_t		r = pg_pread(fd, buf + done, st.st_size - done, done);

		if (r <= 0)
		{
			if (r == 0)
				errno = EIO;
			raft_storage_close_keep_errno(fd);
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		}
		done += r;
	}
	CloseTransientFile(fd);
	*size = st.st_size;
	return buf;
}
