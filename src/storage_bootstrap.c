/*
 * storage_bootstrap.c
 *	  The bootstrap membership a node first started with, kept in the state
 *	  directory so that raft_ext.peers cannot change it behind the log's
 *	  back.
 *
 * Every membership change in the Raft log applies to the bootstrap
 * membership, so a node that restarts with another one computes another
 * configuration from the same log.  Two configurations can then have
 * disjoint majorities, and two leaders can be elected in one term.  So the
 * membership of the first start is written here once, durably, and every
 * later start hands it with the configured one to the engine's rule
 * (raft_bootstrap_check): only addresses may change.
 *
 * On-disk layout of "bootstrap", version 1, little-endian:
 *	  0   u32	  magic 'RAFB'
 *	  4   u32	  format version
 *	  8   u32	  total length, CRC included
 *	  12  u32	  node id
 *	  16  char[64] cluster name, NUL padded
 *	  80  u32	  member count
 *	  84  count times: u32 id, u8 voter, u16 address length, address bytes
 *	  ... u32	  CRC32C of everything before it
 * Written like the state file: "bootstrap.tmp", fsync, durable rename.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "storage/fd.h"

#include "storage.h"
#include "storage_internal.h"

#define RAFT_BOOTSTRAP_MAGIC	0x42464152	/* "RAFB" little-endian */
#define RAFT_BOOTSTRAP_VERSION	1
#define RAFT_BOOTSTRAP_HEADER	84
#define RAFT_BOOTSTRAP_MEMBER	7	/* id, voter, address length */
#define RAFT_BOOTSTRAP_MAX		(RAFT_BOOTSTRAP_HEADER + \
								 RAFT_MAX_MEMBERS * (RAFT_BOOTSTRAP_MEMBER + RAFT_MAX_ADDRESS) + 4)
#define RAFT_BOOTSTRAP_FILENAME	"bootstrap"

/* Path of the bootstrap file (palloc'd). */
static char *
bootstrap_path(const RaftStorage *storage)
{
	return psprintf("%s/%s", storage->dir, RAFT_BOOTSTRAP_FILENAME);
}

/* See storage.h. */
void
raft_storage_save_bootstrap(RaftStorage *storage, const raft_membership *m)
{
	uint8	   *buf = palloc0(RAFT_BOOTSTRAP_MAX);
	size_t		off = RAFT_BOOTSTRAP_HEADER;
	char	   *tmppath = psprintf("%s/%s", storage->dir, RAFT_BOOTSTRAP_TMPNAME);
	char	   *path = bootstrap_path(storage);

	if (m->count < 1 || m->count > RAFT_MAX_MEMBERS)
		elog(ERROR, "bootstrap membership with %d members", m->count);

	raft_put_u32(buf + 0, RAFT_BOOTSTRAP_MAGIC);
	raft_put_u32(buf + 4, RAFT_BOOTSTRAP_VERSION);
	raft_put_u32(buf + 12, storage->node_id);
	memcpy(buf + 16, storage->cluster_name, RAFT_STORAGE_NAME_LEN);
	raft_put_u32(buf + 80, (uint32) m->count);
	for (int i = 0; i < m->count; i++)
	{
		const raft_member *member = &m->members[i];
		size_t		len = strnlen(member->address, RAFT_MAX_ADDRESS - 1);

		raft_put_u32(buf + off, member->id);
		buf[off + 4] = member->voter ? 1 : 0;
		buf[off + 5] = (uint8) len;
		buf[off + 6] = (uint8) (len >> 8);
		memcpy(buf + off + RAFT_BOOTSTRAP_MEMBER, member->address, len);
		off += RAFT_BOOTSTRAP_MEMBER + len;
	}
	raft_put_u32(buf + 8, (uint32) (off + 4));
	raft_put_u32(buf + off, raft_storage_crc(buf, off));
	off += 4;

	(void) raft_write_file_durably(tmppath, path, buf, off, true, ERROR);
	pfree(buf);
	pfree(tmppath);
	pfree(path);
}

/* See storage.h. */
bool
raft_storage_load_bootstrap(RaftStorage *storage, raft_membership *m)
{
	char	   *path = bootstrap_path(storage);
	struct stat st;
	uint8	   *buf;
	off_t		size;
	size_t		off = RAFT_BOOTSTRAP_HEADER;
	uint32		length;
	uint32		count;
	char	   *why;

	if (stat(path, &st) != 0)
	{
		if (errno == ENOENT)
		{
			pfree(path);
			return false;
		}
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	}
	if (st.st_size > RAFT_BOOTSTRAP_MAX)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file is %lld bytes long; a bootstrap membership file is at most %d bytes.",
										   (long long) st.st_size, RAFT_BOOTSTRAP_MAX));

	buf = raft_storage_read_file(path, &size);
	why = raft_storage_check_start(buf, size, RAFT_BOOTSTRAP_HEADER + 4,
								   RAFT_BOOTSTRAP_MAGIC, RAFT_BOOTSTRAP_VERSION);
	if (why != NULL)
		raft_report_corrupt_state(storage, path, why);
	length = raft_get_u32(buf + 8);
	if (length != (uint32) size)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file is %lld bytes long; its header says %u.",
										   (long long) size, length));
	if (raft_storage_crc(buf, size - 4) != raft_get_u32(buf + size - 4))
		raft_report_corrupt_state(storage, path,
								  psprintf("The checksum does not match: computed %08X, stored %08X.",
										   raft_storage_crc(buf, size - 4),
										   raft_get_u32(buf + size - 4)));

	/* Sound bytes; now what they say must be ours and make sense. */
	why = raft_storage_check_stamp(storage, buf + 12, false);
	if (why != NULL)
		raft_report_corrupt_state(storage, path, why);
	count = raft_get_u32(buf + 80);
	if (count < 1 || count > RAFT_MAX_MEMBERS)
		raft_report_corrupt_state(storage, path,
								  psprintf("The file lists %u members; between 1 and %d are possible.",
										   count, RAFT_MAX_MEMBERS));

	memset(m, 0, sizeof(*m));
	for (uint32 i = 0; i < count; i++)
	{
		raft_member *member = &m->members[i];
		size_t		len;

		if (off + RAFT_BOOTSTRAP_MEMBER > (size_t) size - 4)
			raft_report_corrupt_state(storage, path,
									  psprintf("Member %u runs past the end of the file.", i + 1));
		member->id = raft_get_u32(buf + off);
		member->voter = buf[off + 4] != 0;
		len = (size_t) buf[off + 5] | ((size_t) buf[off + 6] << 8);
		off += RAFT_BOOTSTRAP_MEMBER;
		if (member->id == RAFT_NOBODY || len >= RAFT_MAX_ADDRESS ||
			off + len > (size_t) size - 4)
			raft_report_corrupt_state(storage, path,
									  psprintf("Member %u (node id %u, %zu-byte address) is impossible.",
											   i + 1, member->id, len));
		for (uint32 j = 0; j < i; j++)
		{
			if (m->members[j].id == member->id)
				raft_report_corrupt_state(storage, path,
										  psprintf("Node id %u is listed twice.", member->id));
		}
		memcpy(member->address, buf + off, len);
		member->address[len] = '\0';
		off += len;
	}
	if (off != (size_t) size - 4)
		raft_report_corrupt_state(storage, path,
								  psprintf("%lld bytes follow the last member.",
										   (long long) ((size_t) size - 4 - off)));
	m->count = (int) count;
	pfree(buf);
	pfree(path);
	return true;
}
