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

/*
 * Client sessions that may write, in shared memory (fence_sessions.c): the
 * slots' size and attachment (shmem.c calls these), a backend's updates of
 * its own slot (fencing.c), and the worker's step that ends them once this
 * node lost the lease to another leader (from fence_wal.c's step).
 */
extern Size raft_fence_sessions_size(void);
extern void raft_fence_sessions_startup(void);
/* Backend, at session start: take a slot; may_write as the session starts. */
extern void raft_fence_session_begin(bool may_write);
/* Backend, at a statement: whether the session may write now. */
extern void raft_fence_session_note(bool may_write);
/* Backend, at a transaction's end: the session may write (never lowers). */
extern void raft_fence_session_may_write(void);
/* Worker: end the sessions that may write if the lease went to another leader. */
extern void raft_fence_sessions_step(const RaftStatus *status, raft_time now);

/* Worker: end WAL senders and refuse new ones while fenced (fence_wal.c). */
extern void raft_fence_wal_step(const RaftStatus *status, raft_time now);

/* Backend: whether replication connections are refused now (fence_wal.c). */
extern bool raft_fence_wal_refused(void);

#endif							/* RAFT_FENCING_H */
