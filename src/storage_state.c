/*
 * storage_state.c
 *	  The Raft state directory and its hard state file (term, vote, commit).
 *
 * The hard state is one fixed-size record, CRC32C last, replaced atomically:
 * written to "state.tmp", fsynced, then durable_rename'd over "state" (which
 * also fsyncs the directory).  A crash leaves either the old or the new file,
 * never a mixture, so a state file that fails its checks was damaged by
 * something other than us; it stops the node with an ERROR.  Resetting the
 * term and vote silently could let this node vote twice in one term.
 *
 * The file is stamped with the node id and the cluster name.  A directory
 * stamped with another node id was copied from another member (pg_basebackup
 * copies it along with the data directory); it is moved aside whole, and
 * this node starts as a member that has never voted.
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
 * The log segments are handled by storage_log.c.
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
#define RAFT_STATE_FILENAME		"state"
#define RAFT_STATE_TMPNAME		"state.tmp"

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
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	armed = raft_shared->fault_failpoint == RAFT_FAILPOINT_FSYNC_FAIL;
	if (armed)
		raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
	LWLockRelease(raft_shared->lock);
	if (armed)
		ereport(LOG,
				(errmsg("raft_ext: failpoint %s: failing the next fsync with EIO",
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
		int			save_errno = errno;

		CloseTransientFile(fd);
		errno = save_errno;
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
 * fsync failure.
 */
void
raft_storage_durable_rename(const char *from, const char *to)
{
	if (durable_rename(from, to, LOG) != 0)
	{
		storage_fsync_failed();
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("could not durably rename file \"%s\" to \"%s\"", from, to),
				 errdetail("The log line before this one says why.")));
	}
}

/* The directory that holds 'path' ("." for a bare relative name). */
static char *
parent_directory(const char *path)
{
	char	   *parent = pstrdup(path);

	get_parent_directory(parent);
	if (parent[0] == '\0')
	{
		pfree(parent);
		parent = pstrdup(".");
	}
	return parent;
}

/*
 * Create 'path' (mode from the data directory's, 0700 by default) unless it
 * exists; returns true if it was created.  The parent is fsynced so the new
 * entry survives a crash.
 */
static bool
ensure_directory(const char *path)
{
	struct stat st;
	char	   *parent;

	if (stat(path, &st) == 0)
	{
		if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("raft state path \"%s\" is not a directory", path),
					 errhint("Check the setting %s.", "raft_ext.state_directory")));
		return false;
	}
	if (errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat directory \"%s\": %m", path)));

	if (MakePGDirectory(path) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));

	parent = parent_directory(path);
	raft_storage_fsync_dir(path);
	raft_storage_fsync_dir(parent);
	pfree(parent);
	return true;
}

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
static bool
read_state_file(RaftStorage *storage, const char *path, raft_hard_state *hs,
				raft_id *file_node, char *file_cluster)
{
	uint8		buf[RAFT_STATE_SIZE + 1];
	ssize_t		nread = 0;
	int			fd;
	uint32		magic,
				version,
				length,
				stored_crc,
				crc;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	}

	/* One byte more than expected, to notice a file that is too long. */
	while (nread < (ssize_t) sizeof(buf))
	{
		ssize_t		r = pg_pread(fd, buf + nread, sizeof(buf) - nread, nread);

		if (r < 0)
		{
			int			save_errno = errno;

			CloseTransientFile(fd);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		}
		if (r == 0)
			break;
		nread += r;
	}
	CloseTransientFile(fd);

	if (nread < 16)
		raft_report_corrupt_state(storage, path,
							 psprintf("The file is %d bytes long, shorter than its %d-byte header.",
									  (int) nread, 16));
	magic = raft_get_u32(buf + 0);
	version = raft_get_u32(buf + 4);
	length = raft_get_u32(buf + 8);
	if (magic != RAFT_STATE_MAGIC)
		raft_report_corrupt_state(storage, path,
							 psprintf("The file starts with magic number %08X, expected %08X.",
									  magic, RAFT_STATE_MAGIC));
	if (version != RAFT_STATE_VERSION)
		raft_report_corrupt_state(storage, path,
							 psprintf("The file has format version %u; this build of raft_ext reads version %u.",
									  version, RAFT_STATE_VERSION));
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
failpoint_crash_mid_write(int fd, const uint8 *buf, const char *tmppath,
						  const raft_hard_state *hs)
{
	bool		armed;
	ssize_t		written;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	armed = raft_shared->fault_failpoint == RAFT_FAILPOINT_CRASH_MID_STATE_WRITE;
	if (armed)
		raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
	LWLockRelease(raft_shared->lock);
	if (!armed)
		return;

	written = pg_pwrite(fd, buf, RAFT_STATE_SIZE / 2, 0);
	(void) pg_fsync(fd);
	ereport(LOG,
			(errmsg("raft_ext: failpoint crash-mid-state-write: wrote %d of %d bytes of \"%s\" (term %llu, vote %u); exiting before the rename",
					(int) written, RAFT_STATE_SIZE, tmppath,
					(unsigned long long) hs->term, (unsigned) hs->voted_for)));
	proc_exit(1);
}

/*
 * Write len bytes of buf to 'path' durably: to 'tmppath' first, fsynced,
 * then durable_rename'd over 'path' (which fsyncs the file and the
 * directory).  before_write, if not NULL, runs on the open temporary file
 * first (a failpoint).
 */
void
raft_storage_write_file(const char *tmppath, const char *path,
						const uint8 *buf, size_t len,
						void (*before_write) (int fd, const void *arg),
						const void *arg)
{
	int			fd;
	ssize_t		written;

	fd = OpenTransientFile(tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));

	if (before_write != NULL)
		before_write(fd, arg);

	errno = 0;
	written = pg_pwrite(fd, buf, len, 0);
	if (written != (ssize_t) len)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmppath)));
	}
	if (raft_storage_fsync_fd(fd) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync file \"%s\": %m", tmppath)));
	}
	if (CloseTransientFile(fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", tmppath)));

	/* Atomic replacement; also fsyncs the directory. */
	raft_storage_durable_rename(tmppath, path);
}

/* What the failpoint needs to know about the write it interrupts. */
typedef struct StateWrite
{
	const uint8 *buf;
	const char *tmppath;
	const raft_hard_state *hs;
} StateWrite;

/* Tests only, one bool test otherwise: see failpoint_crash_mid_write. */
static void
state_before_write(int fd, const void *arg)
{
	const StateWrite *w = arg;

	if (raft_fault_injection &&
		raft_shared->fault_failpoint == RAFT_FAILPOINT_CRASH_MID_STATE_WRITE)
		failpoint_crash_mid_write(fd, w->buf, w->tmppath, w->hs);
}

/* Write the hard state durably: temp file, fsync, durable_rename. */
void
raft_storage_save_hard_state(RaftStorage *storage,
							 const raft_hard_state *hard_state)
{
	uint8		buf[RAFT_STATE_SIZE];
	char	   *tmppath = psprintf("%s/%s", storage->dir, RAFT_STATE_TMPNAME);
	char	   *path = psprintf("%s/%s", storage->dir, RAFT_STATE_FILENAME);
	StateWrite	w;

	encode_state(storage, hard_state, buf);
	w.buf = buf;
	w.tmppath = tmppath;
	w.hs = hard_state;
	raft_storage_write_file(tmppath, path, buf, RAFT_STATE_SIZE,
							state_before_write, &w);
	pfree(tmppath);
	pfree(path);
}

/*
 * The directory belongs to another node id: it was cloned from another
 * member.  Rename it to <dir>.from-node-<id>.<unix time> (never delete an
 * operator's data) and make the rename durable.  Returns the new name.
 */
static char *
move_directory_aside(RaftStorage *storage, raft_id other_id)
{
	char	   *base = psprintf("%s.from-node-%u.%lld", storage->dir, other_id,
								(long long) time(NULL));
	char	   *target = pstrdup(base);
	char	   *parent;
	struct stat st;
	int			n = 0;

	/* rename() would silently replace an empty directory: pick a free name. */
	while (stat(target, &st) == 0)
	{
		pfree(target);
		target = psprintf("%s.%d", base, ++n);
	}

	raft_storage_fsync_dir(storage->log_dir);
	raft_storage_fsync_dir(storage->dir);
	if (rename(storage->dir, target) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename directory \"%s\" to \"%s\": %m",
						storage->dir, target)));
	raft_storage_fsync_dir(target);
	parent = parent_directory(storage->dir);
	raft_storage_fsync_dir(parent);
	pfree(parent);
	pfree(base);
	return target;
}

/*
 * Remove the temporary files a crash before their rename left behind
 * (state.tmp, bootstrap.tmp): they were never acknowledged.
 */
static void
remove_stale_temp(RaftStorage *storage)
{
	static const char *const names[] = {RAFT_STATE_TMPNAME, "bootstrap.tmp"};

	for (size_t i = 0; i < lengthof(names); i++)
	{
		char	   *tmppath = psprintf("%s/%s", storage->dir, names[i]);

		if (unlink(tmppath) != 0 && errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", tmppath)));
		pfree(tmppath);
	}
}

/*
 * fsync everything the directory already holds, before any of it is used.
 * A worker that crashed after a write() but before its fsync left data in
 * the page cache only; reading it back now would make this node act on
 * state (a vote, an entry) that a power failure could still take away.
 * Every regular file of the state directory and of log/ is fsynced, then
 * both directories and the parent, so their entries are durable too.
 */
static void
sync_existing_state(RaftStorage *storage)
{
	const char *const dirs[] = {storage->log_dir, storage->dir};
	char	   *parent;

	for (size_t i = 0; i < lengthof(dirs); i++)
	{
		DIR		   *dir = AllocateDir(dirs[i]);
		struct dirent *de;

		while ((de = ReadDir(dir, dirs[i])) != NULL)
		{
			char	   *path;
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			path = psprintf("%s/%s", dirs[i], de->d_name);
			if (lstat(path, &st) != 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not stat file \"%s\": %m", path)));
			if (S_ISREG(st.st_mode))
				raft_storage_fsync_path(path, false);
			pfree(path);
		}
		FreeDir(dir);
		raft_storage_fsync_dir(dirs[i]);
	}
	parent = parent_directory(storage->dir);
	raft_storage_fsync_dir(parent);
	pfree(parent);
}

/*
 * Open (creating if needed) the state directory for node_id in cluster
 * cluster_name and read the hard state.
 */
RaftStorage *
raft_storage_open(const char *directory, raft_id node_id,
				  const char *cluster_name, bool name_is_default,
				  raft_hard_state *hard_state)
{
	MemoryContext mcxt;
	MemoryContext oldcxt;
	RaftStorage *storage;
	char	   *path;
	raft_hard_state hs;
	raft_id		file_node;
	char		file_cluster[RAFT_STORAGE_NAME_LEN];

	if (node_id == RAFT_NOBODY)
		elog(ERROR, "raft storage opened without a node id");
	if (directory == NULL || directory[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", "raft_ext.state_directory")));
	if (cluster_name == NULL)
		cluster_name = "";
	if (strlen(cluster_name) > RAFT_MAX_CLUSTER_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cluster name \"%s\" is too long", cluster_name),
				 errdetail("The maximum length is %d bytes.", RAFT_MAX_CLUSTER_NAME)));

	mcxt = AllocSetContextCreate(CurrentMemoryContext, "raft storage",
								 ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(mcxt);

	storage = palloc0(sizeof(RaftStorage));
	storage->mcxt = mcxt;
	storage->dir = pstrdup(directory);
	canonicalize_path(storage->dir);
	storage->log_dir = psprintf("%s/%s", storage->dir, RAFT_LOG_DIRNAME);
	storage->node_id = node_id;
	strlcpy(storage->cluster_name, cluster_name, RAFT_STORAGE_NAME_LEN);
	storage->fd = -1;
	path = psprintf("%s/%s", storage->dir, RAFT_STATE_FILENAME);

	(void) ensure_directory(storage->dir);
	(void) ensure_directory(storage->log_dir);
	remove_stale_temp(storage);
	sync_existing_state(storage);

	memset(&hs, 0, sizeof(hs));
	if (read_state_file(storage, path, &hs, &file_node, file_cluster))
	{
		if (name_is_default &&
			strcmp(file_cluster, RAFT_LEGACY_CLUSTER_NAME) == 0 &&
			strcmp(storage->cluster_name, RAFT_LEGACY_CLUSTER_NAME) != 0)
		{
			ereport(LOG,
					(errmsg("raft state directory \"%s\" belongs to cluster \"%s\", the default name of raft_ext 1.0; keeping that name",
							storage->dir, file_cluster),
					 errdetail("%s is not set; a new node would use \"%s\".",
							   "raft_ext.cluster_name", storage->cluster_name),
					 errhint("Set %s = '%s' on every member to keep this name explicitly.",
							 "raft_ext.cluster_name", file_cluster)));
			strlcpy(storage->cluster_name, file_cluster, RAFT_STORAGE_NAME_LEN);
		}
		if (strcmp(file_cluster, storage->cluster_name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("raft state directory \"%s\" belongs to cluster \"%s\", not \"%s\"",
							storage->dir, file_cluster, storage->cluster_name),
					 errdetail("The directory was written by node %u of another cluster.",
							   file_node),
					 errhint("If this server really is a new member of cluster \"%s\", move the directory away; otherwise check %s.",
							 storage->cluster_name, "raft_ext.cluster_name")));

		if (file_node != node_id)
		{
			char	   *moved = move_directory_aside(storage, file_node);

			ereport(LOG,
					(errmsg("raft state directory \"%s\" belongs to node %u, not to this node (%u); moved it to \"%s\"",
							storage->dir, file_node, node_id, moved),
					 errdetail("The data directory was copied from another member (for example by pg_basebackup). "
							   "Its term, vote and log are not this node's and are never reused; "
							   "node %u starts with term 0, no vote and an empty log.",
							   node_id),
					 errhint("The moved directory can be deleted.")));
			(void) ensure_directory(storage->dir);
			(void) ensure_directory(storage->log_dir);
			memset(&hs, 0, sizeof(hs));
			raft_storage_save_hard_state(storage, &hs);
			storage->created = true;
		}
		raft_storage_scan_log_dir(storage);
	}
	else
	{
		raft_storage_scan_log_dir(storage);
		if (storage->n_segments > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("raft state file \"%s\" is missing", path),
					 errdetail_plural("The log directory \"%s\" holds %d segment file, so this node has run before; "
									  "starting again with no term and no vote could let it vote twice in one term.",
									  "The log directory \"%s\" holds %d segment files, so this node has run before; "
									  "starting again with no term and no vote could let it vote twice in one term.",
									  storage->n_segments,
									  storage->log_dir, storage->n_segments),
					 errhint("Restore the file from a copy taken while this node was stopped, or "
							 "remove node %u from the cluster, delete the directory \"%s\" and "
							 "add this server back under a new node id (%s).",
							 node_id, storage->dir, "raft_ext.node_id")));
		/* A new node: stamp the directory with our id right away. */
		raft_storage_save_hard_state(storage, &hs);
		storage->created = true;
	}

	pfree(path);
	MemoryContextSwitchTo(oldcxt);
	*hard_state = hs;
	return storage;
}

/* See storage.h. */
const char *
raft_storage_cluster_name(const RaftStorage *storage)
{
	return storage->cluster_name;
}

/* Make one ready batch durable; nothing returns before it is on disk. */
void
raft_storage_persist(RaftStorage *storage, const raft_ready *ready)
{
	if (ready->hard_state_changed)
		raft_storage_save_hard_state(storage, &ready->hard_state);
	if (ready->truncate_from != 0)
		raft_storage_truncate(storage, ready->truncate_from);
	if (ready->n_entries > 0)
		raft_storage_append(storage, ready->entries, ready->n_entries);
	raft_storage_sync(storage);
}

/* Fsync what append/truncate left pending (the hard state never is). */
void
raft_storage_sync(RaftStorage *storage)
{
	raft_storage_sync_log(storage);
}

/*
 * Release the open segment and all memory.  Does not fsync: call
 * raft_storage_sync first (persist does).  Safe after an ERROR.
 */
void
raft_storage_close(RaftStorage *storage)
{
	if (storage == NULL)
		return;
	raft_storage_close_log(storage);
	MemoryContextDelete(storage->mcxt);
}
