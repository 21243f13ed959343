/*
 * storage_internal.h
 *	  Private declarations shared by the storage files: storage.c (entry
 *	  point), storage_state.c, storage_bootstrap.c, storage_log.c,
 *	  storage_segment.c, storage_file.c.  Nothing outside storage*.c
 *	  includes this file; the public contract is storage.h.
 *
 * Every on-disk integer is little-endian, written byte by byte, so a state
 * directory means the same thing on every platform and no struct padding
 * ever reaches the disk.
 */
#ifndef RAFT_STORAGE_INTERNAL_H
#define RAFT_STORAGE_INTERNAL_H

#include "postgres.h"

#include "pg_compat.h"
#include "storage.h"

/* Fixed width of the cluster name field: RAFT_MAX_CLUSTER_NAME + NUL. */
#define RAFT_STORAGE_NAME_LEN	(RAFT_MAX_CLUSTER_NAME + 1)

/* Name of the log directory inside the state directory. */
#define RAFT_LOG_DIRNAME		"log"

/* Log segments (format: storage_segment.c). */
#define RAFT_SEGMENT_MAGIC		0x4C464152	/* "RAFL" little-endian */
#define RAFT_SEGMENT_VERSION	1
#define RAFT_SEGMENT_HEADER		88
#define RAFT_SEGMENT_TARGET		(1024 * 1024)
#define RAFT_SEGMENT_NAME_LEN	16

/* Record framing: length, index, term, type before; CRC after. */
#define RAFT_RECORD_HEAD		21
#define RAFT_RECORD_OVERHEAD	(RAFT_RECORD_HEAD + 4)

/* One log segment file, as known in memory. */
typedef struct RaftSegment
{
	raft_index	first_index;	/* from its name and header */
	raft_index	last_index;		/* first_index - 1 while empty */
	off_t		size;			/* bytes, header included */
} RaftSegment;

struct RaftStorage
{
	MemoryContext mcxt;			/* everything below lives here */
	char	   *dir;			/* state directory, canonicalized */
	char	   *log_dir;		/* dir + "/log" */
	raft_id		node_id;
	char		cluster_name[RAFT_STORAGE_NAME_LEN];

	/* Log segments in index order; the last one is the only one written. */
	RaftSegment *segments;
	int			n_segments;
	int			max_segments;
	bool		loaded;			/* raft_storage_load_log() has run */
	bool		created;		/* no state file was found: a new member */

	int			fd;				/* open fd of the last segment, or -1 */
	bool		fd_dirty;		/* written since its last fsync */
	bool		dir_dirty;		/* log directory changed since last fsync */

	/* Reusable buffer for encoding appended records. */
	uint8	   *wbuf;
	size_t		wbuf_size;
};

/* ---- little-endian field access ---- */

static inline void
raft_put_u32(uint8 *p, uint32 v)
{
	p[0] = (uint8) v;
	p[1] = (uint8) (v >> 8);
	p[2] = (uint8) (v >> 16);
	p[3] = (uint8) (v >> 24);
}

static inline void
raft_put_u64(uint8 *p, uint64 v)
{
	raft_put_u32(p, (uint32) v);
	raft_put_u32(p + 4, (uint32) (v >> 32));
}

static inline uint32
raft_get_u32(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) |
		((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

static inline uint64
raft_get_u64(const uint8 *p)
{
	return (uint64) raft_get_u32(p) | ((uint64) raft_get_u32(p + 4) << 32);
}

/* File names in the state directory. */
#define RAFT_STATE_FILENAME		"state"
#define RAFT_STATE_TMPNAME		"state.tmp"
#define RAFT_BOOTSTRAP_TMPNAME	"bootstrap.tmp"

/*
 * Calls go one way:
 *	  storage.c -> storage_state.c, storage_log.c, storage_segment.c
 *	  storage_bootstrap.c -> storage_state.c (its corruption report)
 *	  storage_log.c -> storage_segment.c
 *	  all of them -> storage_file.c
 */

/* ---- storage_file.c: durable file primitives ---- */

/* CRC32C of a byte range. */
extern uint32 raft_storage_crc(const uint8 *data, size_t len);

/* fsync a directory, ERROR on failure. */
extern void raft_storage_fsync_dir(const char *path);

/*
 * Every fsync of the Raft state goes through these: a failure is remembered
 * in shared memory, and Raft then stays stopped until the server restarts
 * (raft_storage_fsync_has_failed).  raft_storage_fsync_fd returns pg_fsync's
 * result; raft_storage_fsync_path ERRORs.
 */
extern int	raft_storage_fsync_fd(int fd);
extern void raft_storage_fsync_path(const char *path, bool isdir);
extern bool raft_storage_durable_rename(const char *from, const char *to,
										int elevel);

/* Read a whole file into a palloc'd buffer; *size receives its length. */
extern uint8 *raft_storage_read_file(const char *path, off_t *size);

/* Tests only: whether 'failpoint' is armed, disarming it if so. */
extern bool raft_storage_take_failpoint(uint32 failpoint);

/* Open 'path'; -1 if it does not exist, any other failure an ERROR. */
extern int	raft_storage_open_existing(const char *path, int flags);

/* CloseTransientFile(fd) without changing errno, for the report after it. */
extern void raft_storage_close_keep_errno(int fd);

/*
 * The start every raft_ext file shares: at least header_len bytes, then
 * magic and format version.  NULL if they are right, else why not (an
 * errdetail, palloc'd).
 */
extern char *raft_storage_check_start(const uint8 *buf, off_t size,
									  int header_len, uint32 magic,
									  uint32 version);

/*
 * The stamp of a log segment or bootstrap file: node id at 'field', the
 * cluster name (RAFT_STORAGE_NAME_LEN bytes) right after it.  NULL if it is
 * ours, else why not (palloc'd; 'segment' words it for a segment).
 */
extern char *raft_storage_check_stamp(const RaftStorage *storage,
									  const uint8 *field, bool segment);

/* ---- storage_state.c: the hard state file ---- */

/*
 * Read and check the state file at path: false if it does not exist, else
 * *hs, *file_node and file_cluster (RAFT_STORAGE_NAME_LEN bytes) are set.
 * A damaged file is an ERROR.
 */
extern bool raft_storage_read_state(RaftStorage *storage, const char *path,
									raft_hard_state *hs, raft_id *file_node,
									char *file_cluster);

/* ERROR: a damaged small file (state, bootstrap), with what to do. */
raft_noreturn extern void raft_report_corrupt_state(const RaftStorage *storage,
													const char *path, const char *detail);

/* ---- storage_segment.c: the segment format ---- */

/* Path of the segment whose first entry is 'first' (palloc'd). */
extern char *raft_segment_path(const RaftStorage *storage, raft_index first);

/* Add a segment at the end of storage->segments. */
extern RaftSegment *raft_segment_add(RaftStorage *storage, raft_index first);

/* Create the segment starting at 'first' durably, and add it. */
extern void raft_segment_create(RaftStorage *storage, raft_index first);

/* Encode one entry as a record at 'out'; returns its length. */
extern size_t raft_segment_encode_record(const raft_entry *e, uint8 *out);

/* ERROR: a damaged log segment, with what failed and what to do. */
raft_noreturn extern void raft_report_corrupt_segment(const RaftStorage *storage,
													  const char *path, const char *detail);

/* List log/ (no file is read yet): fills storage->segments. */
extern void raft_storage_scan_log_dir(RaftStorage *storage);

/* ERROR unless a segment header matches its name and our identity. */
extern void raft_segment_check_header(const RaftStorage *storage,
									  const char *path, const uint8 *buf,
									  off_t size, raft_index first);

/* NULL if the record at 'off' is sound (*rec_len set), else why not. */
extern char *raft_segment_check_record(const uint8 *buf, off_t off, off_t size,
									   raft_index expected, size_t *rec_len);

/* Whether the bad record at 'off' of the last segment is a torn append. */
extern bool raft_segment_is_torn_tail(const uint8 *buf, off_t off, off_t size,
									  raft_index expected);

/* Cut the file at 'path' to 'length' bytes and fsync it. */
extern void raft_segment_cut(const char *path, off_t length);

/* ---- storage_log.c: the log ---- */

/* Fsync the open segment if it changed. */
extern void raft_storage_sync_log(RaftStorage *storage);

/* Close the open segment, if any (no fsync). */
extern void raft_storage_close_log(RaftStorage *storage);

#endif							/* RAFT_STORAGE_INTERNAL_H */
