/*
 * storage_log.c
 *	  The Raft log on disk: CRC32C-framed records in segment files.
 *
 * log/ holds segment files named by the index of their first entry
 * (%016llX).  Each starts with a header stamped with the node id and the
 * cluster name, followed by records:
 *
 *	  u32 payload length | u64 index | u64 term | u8 type | payload |
 *	  u32 CRC32C of everything before it in the record
 *
 * Appends go to the end of the last segment; a new segment starts once the
 * last one has grown past RAFT_SEGMENT_TARGET.  A segment is created under a
 * temporary name with its header, fsynced and durably renamed, so a segment
 * with a damaged header was never written by a crash: it is an ERROR.
 * Truncation (a follower dropping a conflicting suffix) removes whole
 * segments, newest first, and cuts the segment holding the first dropped
 * entry at its record boundary.
 *
 * Only one segment file is open at a time (the last one).
 *
 * Reading the log back at startup is storage_load.c.
 *
 * Header layout, version 1, little-endian (88 bytes):
 *	  0 u32 magic 'RAFL', 4 u32 version, 8 u32 node id,
 *	  12 char[64] cluster name, 76 u64 first index, 84 u32 CRC32C of 0..83
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "storage.h"
#include "storage_internal.h"

/* Path of the segment whose first entry is 'first'. */
char *
raft_segment_path(const RaftStorage *storage, raft_index first)
{
	return psprintf("%s/%016llX", storage->log_dir, (unsigned long long) first);
}

/* Index of the last entry on disk (0 for an empty log). */
static raft_index
log_last_index(const RaftStorage *storage)
{
	if (storage->n_segments == 0)
		return 0;
	return storage->segments[storage->n_segments - 1].last_index;
}

/* Report a damaged log segment, with the same hint as the state file. */
void
raft_report_corrupt_segment(const RaftStorage *storage, const char *path,
							const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("raft log segment \"%s\" is corrupt", path),
			 errdetail("%s", detail),
			 errhint("Restore the state directory \"%s\" from a copy taken while this node was stopped, or "
					 "remove node %u from the cluster, delete the directory and "
					 "add this server back under a new node id (%s).",
					 storage->dir, storage->node_id, "raft_ext.node_id")));
}

/* Add one segment at the end of the in-memory list. */
RaftSegment *
raft_segment_add(RaftStorage *storage, raft_index first)
{
	RaftSegment *seg;

	if (storage->n_segments == storage->max_segments)
	{
		int			newmax = Max(16, storage->max_segments * 2);

		if (storage->segments == NULL)
			storage->segments = MemoryContextAlloc(storage->mcxt,
												   newmax * sizeof(RaftSegment));
		else
			storage->segments = repalloc(storage->segments,
										 newmax * sizeof(RaftSegment));
		storage->max_segments = newmax;
	}
	seg = &storage->segments[storage->n_segments++];
	seg->first_index = first;
	seg->last_index = first - 1;
	seg->size = RAFT_SEGMENT_HEADER;
	return seg;
}

/* Write len bytes at offset; on failure cut the partial write and ERROR. */
static void
write_segment(RaftStorage *storage, const char *path, const uint8 *data,
			  size_t len, off_t offset)
{
	size_t		done = 0;

	while (done < len)
	{
		ssize_t		w;

		errno = 0;
		w = pg_pwrite(storage->fd, data + done, len - done, offset + done);
		if (w <= 0)
		{
			int			save_errno = errno ? errno : ENOSPC;

			/*
			 * Best effort: leave no half record behind us.  If this fails
			 * too, the torn-tail check at the next start copes.
			 */
			if (ftruncate(storage->fd, offset) != 0)
				elog(LOG, "could not cut raft log segment \"%s\" back to %lld bytes: %m",
					 path, (long long) offset);
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to raft log segment \"%s\": %m", path)));
		}
		done += w;
	}
}

/* Fsync and close the open segment (before moving on to a new one). */
static void
finish_open_segment(RaftStorage *storage)
{
	if (storage->fd < 0)
		return;
	if (storage->fd_dirty && raft_storage_fsync_fd(storage->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync raft log segment: %m")));
	storage->fd_dirty = false;
	CloseTransientFile(storage->fd);
	storage->fd = -1;
}

/* Create the segment starting at 'first': header under a temp name, rename. */
static void
create_segment(RaftStorage *storage, raft_index first)
{
	uint8		header[RAFT_SEGMENT_HEADER];
	char	   *path = raft_segment_path(storage, first);
	char	   *tmppath = psprintf("%s.tmp", path);
	int			fd;

	memset(header, 0, sizeof(header));
	raft_put_u32(header, RAFT_SEGMENT_MAGIC);
	raft_put_u32(header + 4, RAFT_SEGMENT_VERSION);
	raft_put_u32(header + 8, storage->node_id);
	memcpy(header + 12, storage->cluster_name, RAFT_STORAGE_NAME_LEN);
	raft_put_u64(header + 76, first);
	raft_put_u32(header + 84, raft_storage_crc(header, 84));

	fd = OpenTransientFile(tmppath, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
	errno = 0;
	if (pg_pwrite(fd, header, sizeof(header), 0) != sizeof(header) ||
		raft_storage_fsync_fd(fd) != 0)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmppath)));
	}
	CloseTransientFile(fd);
	raft_storage_durable_rename(tmppath, path);

	raft_segment_add(storage, first);
	pfree(tmppath);
	pfree(path);
}

/* Open the last segment for writing if it is not open yet. */
static void
open_last_segment(RaftStorage *storage)
{
	RaftSegment *seg = &storage->segments[storage->n_segments - 1];
	char	   *path;

	if (storage->fd >= 0)
		return;
	path = raft_segment_path(storage, seg->first_index);
	storage->fd = OpenTransientFile(path, O_RDWR | PG_BINARY);
	if (storage->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	storage->fd_dirty = false;
	pfree(path);
}

/* Encode one entry as a record at 'out'; returns its length. */
static size_t
encode_record(const raft_entry *e, uint8 *out)
{
	size_t		total = RAFT_RECORD_OVERHEAD + e->len;

	raft_put_u32(out, e->len);
	raft_put_u64(out + 4, e->index);
	raft_put_u64(out + 12, e->term);
	out[20] = e->type;
	if (e->len > 0)
		memcpy(out + RAFT_RECORD_HEAD, e->data, e->len);
	raft_put_u32(out + total - 4, raft_storage_crc(out, total - 4));
	return total;
}

/* Make sure the write buffer holds at least 'need' bytes. */
static void
reserve_wbuf(RaftStorage *storage, size_t need)
{
	if (storage->wbuf_size >= need)
		return;
	need = Max(need, Max(storage->wbuf_size * 2, 64 * 1024));
	if (storage->wbuf == NULL)
		storage->wbuf = MemoryContextAlloc(storage->mcxt, need);
	else
		storage->wbuf = repalloc(storage->wbuf, need);
	storage->wbuf_size = need;
}

/*
 * Append entries at the end of the log (not durable until
 * raft_storage_sync).  One write per segment touched.
 */
void
raft_storage_append(RaftStorage *storage, const raft_entry *entries,
					size_t n_entries)
{
	size_t		i = 0;

	if (!storage->loaded)
		elog(ERROR, "raft log appended to before it was loaded");
	for (i = 0; i < n_entries; i++)
	{
		raft_index	want = log_last_index(storage) + 1 + i;

		if (entries[i].index != want)
			elog(ERROR, "raft log append out of sequence: entry %llu where %llu was expected",
				 (unsigned long long) entries[i].index, (unsigned long long) want);
		if (entries[i].len > RAFT_MAX_ENTRY_DATA ||
			(entries[i].len > 0 && entries[i].data == NULL))
			elog(ERROR, "raft log entry %llu has an invalid payload",
				 (unsigned long long) entries[i].index);
	}
	i = 0;

	while (i < n_entries)
	{
		RaftSegment *seg;
		char	   *path;
		size_t		used = 0;
		off_t		start;

		if (storage->n_segments == 0 ||
			storage->segments[storage->n_segments - 1].size >= RAFT_SEGMENT_TARGET)
		{
			finish_open_segment(storage);
			create_segment(storage, entries[i].index);
		}
		open_last_segment(storage);
		seg = &storage->segments[storage->n_segments - 1];
		start = seg->size;

		/* At least one record per segment, then fill up to the target. */
		while (i < n_entries &&
			   (used == 0 || start + (off_t) used < RAFT_SEGMENT_TARGET))
		{
			const raft_entry *e = &entries[i];

			reserve_wbuf(storage, used + RAFT_RECORD_OVERHEAD + e->len);
			used += encode_record(e, storage->wbuf + used);
			seg->last_index = e->index;
			i++;
		}

		path = raft_segment_path(storage, seg->first_index);
		write_segment(storage, path, storage->wbuf, used, start);
		pfree(path);
		seg->size = start + used;
		storage->fd_dirty = true;
	}
}

/* Offset of the record holding 'index' in the segment at 'path'. */
static off_t
find_record(const RaftStorage *storage, const RaftSegment *seg,
			const char *path, raft_index index)
{
	off_t		size;
	uint8	   *buf = raft_segment_read(path, &size);
	off_t		off = RAFT_SEGMENT_HEADER;
	raft_index	at = seg->first_index;

	while (at < index)
	{
		size_t		rec_len;
		char	   *why = raft_segment_check_record(buf, off, size, at, &rec_len);

		if (why != NULL)
			raft_report_corrupt_segment(storage, path, why);
		off += rec_len;
		at++;
	}
	pfree(buf);
	return off;
}

/*
 * Drop every entry with index >= from: remove whole segments newest first
 * (a crash in between leaves a consistent prefix), then cut the segment
 * holding 'from'.  Durable when it returns.
 */
void
raft_storage_truncate(RaftStorage *storage, raft_index from)
{
	RaftSegment *seg;
	char	   *path;
	off_t		off;

	if (!storage->loaded)
		elog(ERROR, "raft log truncated before it was loaded");
	if (from == 0)
		elog(ERROR, "raft log truncated from index 0");
	if (from > log_last_index(storage))
		return;

	/* The open segment is either removed or cut and fsynced below. */
	if (storage->fd >= 0)
	{
		CloseTransientFile(storage->fd);
		storage->fd = -1;
		storage->fd_dirty = false;
	}

	while (storage->n_segments > 0 &&
		   storage->segments[storage->n_segments - 1].first_index >= from)
	{
		path = raft_segment_path(storage, storage->segments[storage->n_segments - 1].first_index);
		if (unlink(path) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove raft log segment \"%s\": %m", path)));
		storage->n_segments--;
		raft_storage_fsync_dir(storage->log_dir);
		pfree(path);
	}

	if (storage->n_segments == 0)
		return;
	seg = &storage->segments[storage->n_segments - 1];
	if (seg->last_index < from)
		return;

	path = raft_segment_path(storage, seg->first_index);
	off = find_record(storage, seg, path, from);
	raft_segment_cut(path, off);
	seg->size = off;
	seg->last_index = from - 1;
	pfree(path);
}

/* Fsync the open segment if it was written since its last fsync. */
void
raft_storage_sync_log(RaftStorage *storage)
{
	if (storage->fd >= 0 && storage->fd_dirty)
	{
		if (raft_storage_fsync_fd(storage->fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync raft log segment in \"%s\": %m",
							storage->log_dir)));
		storage->fd_dirty = false;
	}
}

/* Close the open segment, if any (no fsync). */
void
raft_storage_close_log(RaftStorage *storage)
{
	if (storage->fd >= 0)
	{
		CloseTransientFile(storage->fd);
		storage->fd = -1;
	}
}
