/*
 * storage_log.c
 *	  The Raft log on disk: appending, truncating, syncing, and reading it
 *	  back at startup (segment format: storage_segment.c).
 *
 * Appends go to the end of the last segment; a new segment starts once the
 * last one has grown past RAFT_SEGMENT_TARGET.  Truncation (a follower
 * dropping a conflicting suffix) removes whole segments, newest first, and
 * cuts the segment holding the first dropped entry at its record boundary.
 * Only one segment file is open at a time (the last one).
 *
 * At startup the segments are read in index order, one at a time, and every
 * record is checked: CRC, index continuity, type.  Each entry goes to
 * raft_restore_entry() while its segment's buffer is still in memory (the
 * engine copies the payload).  The one damage a crash can cause is a torn
 * last record in the last segment: a batch that was being appended when the
 * machine stopped, never fsynced and therefore never acknowledged.  That
 * record is cut away with a LOG message.  Anything else is reported as
 * corruption and stops the node (raft_segment_is_torn_tail draws the line).
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "storage.h"
#include "storage_internal.h"

/* Index of the last entry on disk (0 for an empty log). */
static raft_index
log_last_index(const RaftStorage *storage)
{
	if (storage->n_segments == 0)
		return 0;
	return storage->segments[storage->n_segments - 1].last_index;
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
			raft_segment_create(storage, entries[i].index);
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
			used += raft_segment_encode_record(e, storage->wbuf + used);
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
	uint8	   *buf = raft_storage_read_file(path, &size);
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

/* Feed every persisted log entry, in order, to raft_restore_entry(). */
void
raft_storage_load_log(RaftStorage *storage, raft_node *node)
{
	raft_index	expected = 1;
	int			i;

	if (storage->loaded)
		elog(ERROR, "raft log loaded twice");

	for (i = 0; i < storage->n_segments; i++)
	{
		RaftSegment *seg = &storage->segments[i];
		bool		last = (i == storage->n_segments - 1);
		char	   *path = raft_segment_path(storage, seg->first_index);
		off_t		size;
		off_t		off;
		uint8	   *buf = raft_storage_read_file(path, &size);

		raft_segment_check_header(storage, path, buf, size, seg->first_index);
		if (seg->first_index != expected)
			raft_report_corrupt_segment(storage, path,
										psprintf("The segment starts at index %llu, but the log so far ends at index %llu.",
												 (unsigned long long) seg->first_index,
												 (unsigned long long) (expected - 1)));

		off = RAFT_SEGMENT_HEADER;
		while (off < size)
		{
			size_t		rec_len = 0;
			char	   *why = raft_segment_check_record(buf, off, size, expected, &rec_len);
			raft_entry	entry;
			int			rc;

			if (why != NULL)
			{
				if (!last || !raft_segment_is_torn_tail(buf, off, size, expected))
					raft_report_corrupt_segment(storage, path, why);
				ereport(LOG,
						(errmsg("removing torn record at the end of raft log segment \"%s\"", path),
						 errdetail("%s The last append before a crash did not complete; it was never acknowledged. "
								   "%lld bytes are removed.",
								   why, (long long) (size - off))));
				raft_segment_cut(path, off);
				size = off;
				break;
			}

			entry.len = raft_get_u32(buf + off);
			entry.index = raft_get_u64(buf + off + 4);
			entry.term = raft_get_u64(buf + off + 12);
			entry.type = buf[off + 20];
			entry.data = entry.len > 0 ? buf + off + RAFT_RECORD_HEAD : NULL;
			rc = raft_restore_entry(node, &entry);
			if (rc != RAFT_OK)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("raft log in \"%s\" is inconsistent", storage->log_dir),
						 errdetail("Restoring entry %llu (term %llu) from segment \"%s\" failed: %s.",
								   (unsigned long long) entry.index,
								   (unsigned long long) entry.term, path,
								   raft_strerror(rc))));
			expected++;
			off += rec_len;
		}

		seg->last_index = expected - 1;
		seg->size = size;
		if (!last && seg->last_index < seg->first_index)
			raft_report_corrupt_segment(storage, path,
										pstrdup("The segment holds no record but is not the last one."));
		pfree(buf);
		pfree(path);
	}
	storage->loaded = true;
}
