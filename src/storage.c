/*
 * storage.c
 *	  The entry point of the Raft state directory: open (directory
 *	  creation, the fsync of what a crash left, a clone's directory moved
 *	  aside), persist, sync and close.
 *
 * The state directory is stamped with the node id and the cluster name (in
 * its state file).  A directory stamped with another node id was copied
 * from another member (pg_basebackup copies it along with the data
 * directory); it is moved aside whole, and this node starts as a member
 * that has never voted.
 *
 * Calls go one way: this file calls storage_state.c (the hard state file),
 * storage_log.c (the log) and storage_segment.c (listing log/), which call
 * storage_file.c; storage_bootstrap.c is called by the worker directly.
 * The formats are in docs/storage.md.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/memutils.h"

#include "settings.h"
#include "storage.h"
#include "storage_internal.h"

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
	static const char *const names[] = {RAFT_STATE_TMPNAME, RAFT_BOOTSTRAP_TMPNAME};

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
				  const char *default_name, raft_hard_state *hard_state)
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
	if (raft_storage_read_state(storage, path, &hs, &file_node, file_cluster))
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
		/*
		 * A cluster's name is its identity in every message: members with
		 * another name are another cluster's.  So it cannot change after
		 * the first start, and a name set after a start under the default
		 * one is a rename, not a stranger's directory.
		 */
		if (strcmp(file_cluster, storage->cluster_name) != 0 &&
			default_name != NULL && strcmp(file_cluster, default_name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s cannot change after the cluster's first start: this cluster is \"%s\", not \"%s\"",
							"raft_ext.cluster_name", file_cluster, storage->cluster_name),
					 errdetail("The cluster took the default name \"%s\" (from the database system identifier) "
							   "when it first started without %s. Every member checks the name in every message, "
							   "so a member under another name would be a member of another cluster.",
							   file_cluster, "raft_ext.cluster_name"),
					 errhint("Set %s = '%s' on this node, or remove the setting, and restart the server.",
							 "raft_ext.cluster_name", file_cluster)));
		if (strcmp(file_cluster, storage->cluster_name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("raft state directory \"%s\" belongs to cluster \"%s\", not \"%s\"",
							storage->dir, file_cluster, storage->cluster_name),
					 errdetail("The directory was written by node %u of another cluster.",
							   file_node),
					 errhint("A cluster's name cannot change after its first start: set %s = '%s' and restart the server. "
							 "Only if this server's data was copied from another cluster and it really is a new member of cluster \"%s\", "
							 "move the directory away.",
							 "raft_ext.cluster_name", file_cluster, storage->cluster_name)));

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

/* See storage.h. */
bool
raft_storage_is_new(const RaftStorage *storage)
{
	return storage->created;
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
