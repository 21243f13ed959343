/*
 * storage.h
 *	  Durable Raft state on disk: the hard state file and the log segments.
 *
 * Layout of raft_ext.state_directory (default "pg_raft" in the data dir):
 *	  state			term, vote, commit: one small CRC32C-protected record,
 *					replaced atomically (temp file, fsync, durable_rename)
 *	  bootstrap		the membership of the first start (raft_ext.peers then)
 *	  log/			CRC32C-framed log segment files
 * Every file is stamped with the node id and the cluster name.  A file that
 * belongs to another node id (a data directory cloned by pg_basebackup from
 * another member) is moved aside, never reused: a node must not inherit
 * someone else's vote.  A torn or corrupt file is reported as an ERROR and
 * never silently reset.
 *
 * All functions report problems with ereport(ERROR) carrying a clear errmsg
 * and errdetail; the worker catches them, publishes the message in
 * raft_status.error and stops running Raft.
 */
#ifndef RAFT_STORAGE_H
#define RAFT_STORAGE_H

#include "raft/raft.h"

typedef struct RaftStorage RaftStorage;

/*
 * Open (creating if needed) the state directory for node_id in cluster
 * cluster_name, read the hard state into *hard_state (all zero for a new
 * node).  Allocates in CurrentMemoryContext.  name_is_default: cluster_name
 * is the default derived from the system identifier, so a directory that
 * raft_ext 1.0 stamped with its default name (RAFT_LEGACY_CLUSTER_NAME) is
 * kept under that name (raft_storage_cluster_name says which).
 * default_name: the name this database system gets when
 * raft_ext.cluster_name is empty; a directory stamped with it while
 * cluster_name is another is a rename, refused with that said.
 */
extern RaftStorage *raft_storage_open(const char *directory, raft_id node_id,
									  const char *cluster_name,
									  bool name_is_default,
									  const char *default_name,
									  raft_hard_state *hard_state);

/* The cluster name the directory is stamped with. */
extern const char *raft_storage_cluster_name(const RaftStorage *storage);

/*
 * The bootstrap membership this node first started with
 * (storage_bootstrap.c): false if the directory holds none (a new node, or
 * one written by raft_ext 1.0).  A damaged file is an ERROR.
 */
extern bool raft_storage_load_bootstrap(RaftStorage *storage,
										raft_membership *membership);
/* Persist the bootstrap membership, durably. */
extern void raft_storage_save_bootstrap(RaftStorage *storage,
										const raft_membership *membership);
/*
 * The election timeout this node's acknowledgements promised
 * (storage_promise.c): 0 if the directory holds none.  A damaged file is an
 * ERROR.
 */
extern int64 raft_storage_load_promise(RaftStorage *storage);
/* Persist the promised election timeout, durably. */
extern void raft_storage_save_promise(RaftStorage *storage, int64 timeout_ms);
/* Whether raft_storage_open found no state: a node that never ran. */
extern bool raft_storage_is_new(const RaftStorage *storage);

/*
 * Whether an fsync of the Raft state has failed since the server started.
 * The files may then have lost writes that the kernel reported done, so Raft
 * must stay stopped on this node until the server restarts.
 */
extern bool raft_storage_fsync_has_failed(void);

/* Feed every persisted log entry, in order, to raft_restore_entry(). */
extern void raft_storage_load_log(RaftStorage *storage, raft_node *node);

/*
 * Make one ready batch durable: hard state (if changed), truncation, new
 * entries; everything fsynced before returning.
 */
extern void raft_storage_persist(RaftStorage *storage, const raft_ready *ready);

/* Individual steps, for tests and tools. */
extern void raft_storage_save_hard_state(RaftStorage *storage,
										 const raft_hard_state *hard_state);
extern void raft_storage_truncate(RaftStorage *storage, raft_index from);
extern void raft_storage_append(RaftStorage *storage, const raft_entry *entries,
								size_t n_entries);
extern void raft_storage_sync(RaftStorage *storage);

extern void raft_storage_close(RaftStorage *storage);

/*
 * Write a small file durably (storage_file.c): temporary file, write,
 * fsync, durable_rename, directory fsync.  Failures are reported at elevel;
 * below ERROR the function returns false.  raft_state: the file belongs to
 * the Raft state, so a failed fsync keeps Raft stopped until the server
 * restarts (raft_storage_fsync_has_failed).  Also used for
 * postgresql.auto.conf (failover_follow.c), with raft_state false.
 */
extern bool raft_write_file_durably(const char *tmppath, const char *path,
									const void *buf, size_t len,
									bool raft_state, int elevel);

#endif							/* RAFT_STORAGE_H */
