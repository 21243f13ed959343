/*
 * pg_compat.h
 *	  The differences between the PostgreSQL major versions raft_ext builds
 *	  against (15, 17 and 18), in one place, each named after what changed,
 *	  so that the rest of the code is written once.
 *
 * Include it after postgres.h.  What the release notes of 16, 17 and 18
 * change for raft_ext and that needs no code here is listed in
 * docs/architecture.md ("PostgreSQL versions").  The Makefile refuses any
 * other version with one line before compiling; the #error below is the
 * same check for a build that bypasses it.
 */
#ifndef RAFT_PG_COMPAT_H
#define RAFT_PG_COMPAT_H

#if PG_VERSION_NUM < 150000 || (PG_VERSION_NUM >= 160000 && PG_VERSION_NUM < 170000) || \
	PG_VERSION_NUM >= 190000
#error "raft_ext supports PostgreSQL 15, 17 and 18"
#endif

/*
 * 18 removed pg_attribute_noreturn(), which followed the declarator, for
 * pg_noreturn, which precedes the declaration.  raft_noreturn precedes it
 * on every version (gcc and clang accept the attribute there).
 */
#if PG_VERSION_NUM >= 180000
#define raft_noreturn pg_noreturn
#else
#define raft_noreturn pg_attribute_noreturn()
#endif

/*
 * 16 moved the varlena macros (VARSIZE, VARDATA, ...) out of postgres.h
 * into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * 16 renamed pgstat_fetch_stat_local_beentry() to
 * pgstat_get_local_beentry_by_index(); both take the same 1-based index,
 * up to pgstat_fetch_stat_numbackends().
 */
#if PG_VERSION_NUM >= 160000
#define raft_local_beentry_by_index(idx) pgstat_get_local_beentry_by_index(idx)
#else
#define raft_local_beentry_by_index(idx) pgstat_fetch_stat_local_beentry(idx)
#endif

/*
 * 17 made a WaitEventSet belong to a resource owner instead of a memory
 * context.  raft_ext's sets live as long as their process: no owner on 17
 * (allocated in TopMemoryContext, never released by a resource owner), and
 * TopMemoryContext before.
 */
#if PG_VERSION_NUM >= 170000
#define raft_create_wait_event_set(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define raft_create_wait_event_set(nevents) \
	CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

/*
 * 17 replaced BackendId (1-based, storage/backendid.h, MyBackendId) by
 * ProcNumber (0-based, storage/procnumber.h, MyProcNumber); regular
 * backends still come first.  raft_my_backend_number() is this backend's
 * 1-based number on every version: 1 .. MaxBackends for a regular backend,
 * less than 1 before it has one.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define raft_my_backend_number() (MyProcNumber + 1)
#else
#include "storage/backendid.h"
#define raft_my_backend_number() (MyBackendId)
#endif

/*
 * 17 gave replication slots a failover flag and synchronized copies on
 * standbys (ReplicationSlotCreate's last two arguments), and 16 recorded
 * why a slot was invalidated instead of where (data.invalidated replaced
 * data.invalidated_at, whose restart_lsn 15 clears).  A member slot
 * (member_slots.c) is persistent, physical, never a failover or synced
 * slot.
 */
#if PG_VERSION_NUM >= 170000
#define raft_replication_slot_create(name) \
	ReplicationSlotCreate((name), false, RS_PERSISTENT, false, false, false)
#else
#define raft_replication_slot_create(name) \
	ReplicationSlotCreate((name), false, RS_PERSISTENT, false)
#endif
#if PG_VERSION_NUM >= 160000
#define RAFT_SLOT_INVALIDATED(s) ((s)->data.invalidated != RS_INVAL_NONE)
#else
#define RAFT_SLOT_INVALIDATED(s) \
	((s)->data.invalidated_at != InvalidXLogRecPtr && (s)->data.restart_lsn == InvalidXLogRecPtr)
#endif

/*
 * 17 added logical slot synchronization: a slot's failover flag (created
 * with failover = true, synced to standbys), its synced flag (on a
 * standby, made by the slot-sync worker), sync_replication_slots and
 * synchronized_standby_slots.  Before 17 no slot is either.
 */
#if PG_VERSION_NUM >= 170000
#define RAFT_HAS_SLOT_SYNC 1
#define RAFT_SLOT_FAILOVER(s) ((s)->data.failover)
#define RAFT_SLOT_SYNCED(s) ((s)->data.synced)
#else
#define RAFT_HAS_SLOT_SYNC 0
#define RAFT_SLOT_FAILOVER(s) false
#define RAFT_SLOT_SYNCED(s) false
#endif

#endif							/* RAFT_PG_COMPAT_H */
