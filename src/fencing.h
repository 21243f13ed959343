/*
 * fencing.h
 *	  The commit-time fence: a node without the leader's lease cannot commit
 *	  a write.  See fencing.c and docs/fencing.md.
 */
#ifndef RAFT_FENCING_H
#define RAFT_FENCING_H

#include "status.h"

/* raft_ext.fencing: refuse writes while this node holds no lease. */
extern bool raft_fencing;
/* raft_ext.fencing_headroom: lease (ms) that must remain for a commit. */
extern int	raft_fencing_headroom;

/*
 * Define the fencing settings and install the hooks.  Called from _PG_init
 * while shared_preload_libraries is processed, before the raft_ext prefix is
 * reserved (MarkGUCPrefixReserved drops placeholders for names not yet
 * defined, which would lose raft_ext.fencing from postgresql.conf).
 */
extern void raft_fencing_init(void);

/* Worker: end WAL senders and refuse new ones while fenced (fence_wal.c). */
extern void raft_fence_wal_step(const RaftStatus *status, raft_time now);

/* Backend: whether replication connections are refused now (fence_wal.c). */
extern bool raft_fence_wal_refused(void);

#endif							/* RAFT_FENCING_H */
