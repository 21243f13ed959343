/*
 * storage_segment.c
 *	  The log segment format: file names, the header, the record framing,
 *	  and every check made on them (the torn tail a crash can leave versus
 *	  corruption), with the ERROR that reports a damaged segment.
 *
 * log/ holds segment files named by the index of their first entry
 * (%016llX).  Each starts with a header stamped with the node id and the
 * cluster name, followed by records:
 *
 *	  u32 payload length | u64 index | u64 term | u8 type | payload |
 *	  u32 CRC32C of everything before it in the record
 *
 * Header layout, version 1, little-endian (88 bytes):
 *	  0 u32 magic 'RAFL', 4 u32 version, 8 u32 node id,
 *	  12 char[64] cluster name, 76 u64 first index, 84 u32 CRC32C of 0..83
 *
 * A segment is created under a temporary name with its header, fsynced and
 * durably renamed, so a segment with a damaged header was never written by
 * a crash: it is an ERROR.  Writing, truncating and reading the log back
 * is storage_log.c, which calls this file; this file calls only
 * storage_file.c.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "storage.h"
#include "storage_internal.h"

/* Granularity at which a torn write leaves unwritten (zero) bytes. */
#define RAFT_SECTOR_SIZE		512

/* Path of the segment whose first entry is 'first'. */
char *
raft_segment_path(const RaftStorage *storage, raft_index first)
{
	return psprintf("%s/%016llX", storage->log_dir, (unsigned long long) first);
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

/* Encode one entry as a record at 'out'; returns its length. */
size_t
raft_segment_encode_record(const raft_entry *e, uint8 *out)
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

/* Create the segment starting at 'first': header under a temp name, rename. */
void
raft_segment_create(RaftStorage *storage, raft_index first)
{
	uint8		header[RAFT_SEGMENT_HEADER];
	char	   *path = raft_segment_path(storage, first);
	char	   *tmppath = psprintf("%s.tmp", path);

	memset(header, 0, sizeof(header));
	raft_put_u32(header, RAFT_SEGMENT_MAGIC);
	raft_put_u32(header + 4, RAFT_SEGMENT_VERSION);
	raft_put_u32(header + 8, storage->node_id);
	memcpy(header + 12, storage->cluster_name, RAFT_STORAGE_NAME_LEN);
	raft_put_u64(header + 76, first);
	raft_put_u32(header + 84, raft_storage_crc(header, 84));

	(void) raft_write_file_durably(tmppath, path, header, sizeof(header),
								   true, ERROR);

	raft_segment_add(storage, first);
	pfree(tmppath);
	pfree(path);
}

/* qsort comparator: segments by first index. */
static int
segment_cmp(const void *a, const void *b)
{
	raft_index	x = ((const RaftSegment *) a)->first_index;
	raft_index	y = ((const RaftSegment *) b)->first_index;

	return (x > y) - (x < y);
}

/* Whether 'name' is exactly 16 upper-case hex digits. */
static bool
is_segment_name(const char *name)
{
	int			i;

	for (i = 0; i < RAFT_SEGMENT_NAME_LEN; i++)
	{
		char		c = name[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return name[RAFT_SEGMENT_NAME_LEN] == '\0';
}

/*
 * List log/ into storage->segments (names only; load reads them).  Removes
 * "<segment>.tmp" files: a segment whose creation a crash interrupted held
 * nothing that was ever acknowledged.
 */
void
raft_storage_scan_log_dir(RaftStorage *storage)
{
	DIR		   *dir;
	struct dirent *de;
	bool		removed = false;

	storage->n_segments = 0;
	dir = AllocateDir(storage->log_dir);
	while ((de = ReadDir(dir, storage->log_dir)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (is_segment_name(de->d_name))
		{
			raft_segment_add(storage, strtoull(de->d_name, NULL, 16));
			continue;
		}
		if (len == RAFT_SEGMENT_NAME_LEN + 4 &&
			strcmp(de->d_name + RAFT_SEGMENT_NAME_LEN, ".tmp") == 0)
		{
			char	   *path = psprintf("%s/%s", storage->log_dir, de->d_name);

			if (unlink(path) != 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not remove file \"%s\": %m", path)));
			ereport(LOG,
					(errmsg("removed unfinished raft log segment \"%s\"", path)));
			pfree(path);
			removed = true;
			continue;
		}
		ereport(WARNING,
				(errmsg("ignoring unexpected file \"%s\" in raft log directory \"%s\"",
						de->d_name, storage->log_dir)));
	}
	FreeDir(dir);

	if (removed)
		raft_storage_fsync_dir(storage->log_dir);
	if (storage->n_segments > 1)
		qsort(storage->segments, storage->n_segments, sizeof(RaftSegment),
			  segment_cmp);
}

/*
 * Check the record at 'off' (of 'size' bytes of buf), expected to carry
 * index 'expected'.  Returns NULL if it is sound (*rec_len set), else a
 * palloc'd sentence saying what is wrong.
 */
char *
raft_segment_check_record(const uint8 *buf, off_t off, off_t size, raft_index expected,
						  size_t *rec_len)
{
	const uint8 *p = buf + off;
	uint32		len;
	raft_index	index;
	uint32		crc,
				stored;
	size_t		total;

	if (size - off < RAFT_RECORD_OVERHEAD)
		return psprintf("The last %lld bytes, at offset %lld, are too short for a record.",
						(long long) (size - off), (long long) off);
	len = raft_get_u32(p);
	if (len > RAFT_MAX_ENTRY_DATA)
		return psprintf("The record at offset %lld claims a %u-byte payload; the limit is %d.",
						(long long) off, len, RAFT_MAX_ENTRY_DATA);
	total = RAFT_RECORD_OVERHEAD + (size_t) len;
	if ((off_t) total > size - off)
		return psprintf("The record at offset %lld (%zu bytes) runs past the end of the file.",
						(long long) off, total);
	crc = raft_storage_crc(p, total - 4);
	stored = raft_get_u32(p + total - 4);
	if (crc != stored)
		return psprintf("The record at offset %lld has checksum %08X, computed %08X.",
						(long long) off, stored, crc);
	index = raft_get_u64(p + 4);
	if (index != expected)
		return psprintf("The record at offset %lld holds index %llu where index %llu was expected.",
						(long long) off, (unsigned long long) index,
						(unsigned long long) expected);
	if (p[20] < RAFT_ENTRY_NOOP || p[20] > RAFT_ENTRY_TIMELINE)
		return psprintf("The record at offset %lld has unknown entry type %u.",
						(long long) off, p[20]);
	*rec_len = total;
	return NULL;
}

/* Whether buf[from, to) is all zero bytes. */
static bool
all_zero(const uint8 *buf, off_t from, off_t to)
{
	for (; from < to; from++)
		if (buf[from] != 0)
			return false;
	return true;
}

/*
 * Whether a sector-aligned piece of [from, to) is all zeros: the trace a
 * torn write leaves when the file grew but some of its pages never reached
 * the disk.
 */
static bool
has_zero_sector(const uint8 *buf, off_t from, off_t to)
{
	off_t		start = from;

	while (start < to)
	{
		off_t		end = Min(to, (start / RAFT_SECTOR_SIZE + 1) * RAFT_SECTOR_SIZE);

		if (all_zero(buf, start, end))
			return true;
		start = end;
	}
	return false;
}

/*
 * Decide whether the bad record at 'off' in the LAST segment is a torn tail
 * (an append the crash interrupted) rather than damage to written data.  If
 * a sound record with the next index follows it, the bad record was once
 * complete: that is corruption, whatever it looks like.
 */
bool
raft_segment_is_torn_tail(const uint8 *buf, off_t off, off_t size, raft_index expected)
{
	uint32		len;
	off_t		end;
	off_t		p;
	size_t		dummy;

	if (size - off < RAFT_RECORD_OVERHEAD || all_zero(buf, off, size))
		return true;

	for (p = off + 1; p + RAFT_RECORD_OVERHEAD <= size; p++)
	{
		char	   *why;

		if (raft_get_u64(buf + p + 4) != expected + 1)
			continue;
		why = raft_segment_check_record(buf, p, size, expected + 1, &dummy);
		if (why == NULL)
			return false;
		pfree(why);
	}

	len = raft_get_u32(buf + off);
	if (len > RAFT_MAX_ENTRY_DATA)
		return false;
	end = off + RAFT_RECORD_OVERHEAD + (off_t) len;
	if (end > size)
		return true;			/* the file stops inside the record */

	/* Complete length but wrong checksum: torn only if pages are missing. */
	if (raft_storage_crc(buf + off, end - off - 4) != raft_get_u32(buf + end - 4))
		return has_zero_sector(buf, off, end);
	return false;
}

/* Cut the segment at 'path' to 'length' bytes and fsync it. */
void
raft_segment_cut(const char *path, off_t length)
{
	int			fd = OpenTransientFile(path, O_RDWR | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	if (ftruncate(fd, length) != 0 || raft_storage_fsync_fd(fd) != 0)
	{
		raft_storage_close_keep_errno(fd);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not truncate file \"%s\" to %lld bytes: %m",
						path, (long long) length)));
	}
	CloseTransientFile(fd);
}

/* Check a segment header against its name and our identity. */
void
raft_segment_check_header(const RaftStorage *storage, const char *path,
					 const uint8 *buf, off_t size, raft_index first)
{
	uint32		crc;
	char	   *why;

	why = raft_storage_check_start(buf, size, RAFT_SEGMENT_HEADER,
								   RAFT_SEGMENT_MAGIC, RAFT_SEGMENT_VERSION);
	if (why != NULL)
		raft_report_corrupt_segment(storage, path, why);
	crc = raft_storage_crc(buf, 84);
	if (crc != raft_get_u32(buf + 84))
		raft_report_corrupt_segment(storage, path,
									psprintf("The header checksum does not match: computed %08X, stored %08X.",
											 crc, raft_get_u32(buf + 84)));
	why = raft_storage_check_stamp(storage, buf + 8, true);
	if (why != NULL)
		raft_report_corrupt_segment(storage, path, why);
	if (raft_get_u64(buf + 76) != first)
		raft_report_corrupt_segment(storage, path,
									psprintf("The header says the segment starts at index %llu, its name says %llu.",
											 (unsigned long long) raft_get_u64(buf + 76),
											 (unsigned long long) first));
}
