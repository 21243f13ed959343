/*
 * logical_slots.c
 *	  raft_ext.sync_logical_slots: a logical replication slot created with
 *	  failover = true survives a failover, and its consumer never receives a
 *	  change that the next primary lacks (PostgreSQL 17 and later).
 *
 * PostgreSQL 17's slot-sync worker copies failover slots from the primary
 * to a standby and advances them; a promoted standby's synced slots are
 * usable at once.  It needs, on the standby, sync_replication_slots and
 * hot_standby_feedback on, primary_slot_name (the member slot,
 * member_slots.c) and a dbname in primary_conninfo (failover_follow.c
 * writes it), and wal_level = logical.  On the primary,
 * synchronized_standby_slots names the physical slots whose standbys must
 * have a change before a logical WAL sender sends it.  raft_ext keeps all
 * of that in step with the Raft membership, once a second:
 *
 * - The primary that leads lists the member slot of every voter that
 *   streams (its slot active, or active within LIST_GRACE_MS).  Why that
 *   is enough: a change the consumer received is then on the primary and
 *   on every listed standby, and those are at least a majority of the
 *   voters (else every voter's slot is listed).  The next leader needs the
 *   votes of a majority, so one of its voters has the change, and a voter
 *   refuses a candidate whose WAL is behind its own (the WAL-aware vote,
 *   raft_election.c: a standby's position is the greater of what it has
 *   flushed and replayed, and a slot confirms what the standby flushed).
 *   So the next primary has every change the consumer saw.  A voter that
 *   is down is left out once the others still make that majority: a down
 *   member must not stall logical replication, and it cannot win without a
 *   vote from one that has the change.  PostgreSQL waits for a listed slot
 *   that does not exist, so only slots that exist and are not lost are
 *   listed.
 * - A standby that follows keeps sync_replication_slots and
 *   hot_standby_feedback on, and drops every failover slot it has with
 *   synced = false: one left from when this node was the primary (a
 *   switchover or a rewind keeps pg_replslot), which the slot-sync worker
 *   refuses to overwrite, stopping the synchronization of every slot.
 *   A standby cannot create a failover slot itself, so nothing else has
 *   that shape.  It clears synchronized_standby_slots, which names slots
 *   only a primary has.
 *
 * Before 17 there is no slot synchronization: the setting cannot be
 * switched on (a clear error), and the primary reports every logical slot
 * as unprotected (/metrics, a WARNING): a failover loses it.
 *
 * Nothing here throws into the worker's loop: the slot and configuration
 * calls log and report failure (slot_calls.c, auto_conf.c).
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "auto_conf.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "pg_compat.h"
#include "slot_calls.h"

#if RAFT_HAS_SLOT_SYNC
#include "replication/slotsync.h"
#endif

/*
 * Off by default: it switches hot_standby_feedback on (a standby's queries
 * then hold back the primary's vacuum) and makes logical consumers wait for
 * the standbys; the operator who has failover slots opts in (README).
 */
bool		raft_sync_logical_slots = false;

/* The slots are looked at this often. */
#define LOGICAL_PASS_MS			1000
/* A voter whose slot has not been active this long leaves the list. */
#define LIST_GRACE_MS			5000
/* The dbname the slot-sync worker connects to when nothing names one. */
#define DEFAULT_SYNC_DBNAME		"postgres"

static raft_time last_pass = 0;
/* when each member's slot was last seen active (the primary's list) */
static raft_id active_id[RAFT_MAX_MEMBERS];
static raft_time active_at[RAFT_MAX_MEMBERS];
/* what the last pass counted, for /metrics */
static int	n_failover = 0;
static int	n_unprotected = 0;
static int	n_syncing = 0;
static int	n_listed = -1;
static uint64 n_dropped = 0;
/* the last pass was a standby's with synchronization in effect */
static bool standby_syncs = false;
static bool warned_unprotected = false;

static bool
check_sync_logical_slots(bool *newval, void **extra, GucSource source)
{
#if !RAFT_HAS_SLOT_SYNC
	if (*newval)
	{
		GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
		GUC_check_errmsg("raft_ext.sync_logical_slots needs PostgreSQL 17 or later");
		GUC_check_errdetail("PostgreSQL %s has no slot synchronization: a logical replication slot "
							"exists only on the primary, and a failover loses it.",
							PG_MAJORVERSION);
		return false;
	}
#endif
	return true;
}

/* See logical_slots.h. */
void
raft_logical_slots_define_settings(void)
{
	DefineCustomBoolVariable("raft_ext.sync_logical_slots",
							 "Whether logical slots created with failover = true follow the primary (PostgreSQL 17 and later).",
							 "raft_ext keeps sync_replication_slots, hot_standby_feedback and a dbname in primary_conninfo "
							 "on standbys, and synchronized_standby_slots on the primary in step with the Raft membership. "
							 "Needs wal_level = logical and raft_ext.member_slots.",
							 &raft_sync_logical_slots,
							 false,
							 PGC_SIGHUP,
							 0,
							 check_sync_logical_slots, NULL, NULL);
}

/* See logical_slots.h. */
bool
raft_logical_slots_in_effect(void)
{
	return RAFT_HAS_SLOT_SYNC && raft_sync_logical_slots &&
		wal_level >= WAL_LEVEL_LOGICAL && raft_member_slots_in_effect();
}

/* See logical_slots.h. */
const char *
raft_logical_slots_dbname(const char *current_dbname, const char *leader_dbname)
{
	if (!raft_logical_slots_in_effect())
		return NULL;
	if (current_dbname != NULL && current_dbname[0] != '\0')
		return current_dbname;
	if (leader_dbname != NULL && leader_dbname[0] != '\0')
		return leader_dbname;
	return DEFAULT_SYNC_DBNAME;
}

#if RAFT_HAS_SLOT_SYNC
/* Set a boolean setting on in postgresql.auto.conf unless it is on. */
static void
ensure_on(const char *name, bool current)
{
	bool		changed = false;

	if (current)
		return;
	if (raft_auto_conf_set(name, "on", &changed) && changed)
		ereport(LOG,
				(errmsg("set %s = on: PostgreSQL's slot synchronization needs it (raft_ext.sync_logical_slots)",
						name)));
}
#endif

/*
 * Count the logical slots (and, on a standby that follows, drop failover
 * slots left from when this node was the primary).
 */
static void
scan_logical(bool primary, bool drop_leftovers)
{
	NameData	leftover[RAFT_MAX_MEMBERS];
	int			n_leftover = 0;
	bool		protect = primary && raft_logical_slots_in_effect();

	n_failover = n_unprotected = n_syncing = 0;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];
		bool		logical,
					failover,
					synced,
					temporary,
					active;
		NameData	name;

		if (!s->in_use)
			continue;
		SpinLockAcquire(&s->mutex);
		logical = s->data.database != InvalidOid;
		failover = RAFT_SLOT_FAILOVER(s);
		synced = RAFT_SLOT_SYNCED(s);
		temporary = s->data.persistency == RS_TEMPORARY;
		active = s->active_pid != 0;
		name = s->data.name;
		SpinLockRelease(&s->mutex);
		if (!logical)
			continue;
		if (primary)
		{
			if (failover && protect)
				n_failover++;
			else if (!temporary)
				n_unprotected++;
		}
		else if (synced)
		{
			if (temporary)
				n_syncing++;	/* not yet sync-ready: a promotion drops it */
			else
				n_failover++;
		}
		else if (failover && !active && drop_leftovers && n_leftover < (int) lengthof(leftover))
			leftover[n_leftover++] = name;
	}
	LWLockRelease(ReplicationSlotControlLock);

	for (int i = 0; i < n_leftover; i++)
	{
		if (raft_slot_drop(NameStr(leftover[i]), "logical slot"))
		{
			n_dropped++;
			ereport(LOG,
					(errmsg("dropped the logical slot \"%s\" left from when this node was the primary",
							NameStr(leftover[i])),
					 errdetail("On a standby a failover slot with synced = false stops the slot-sync worker "
							   "from synchronizing any slot; the primary's copy is synchronized here instead.")));
		}
	}

	if (primary && n_unprotected > 0 && !warned_unprotected)
		ereport(WARNING,
				(errmsg("%d logical replication slot(s) on this primary will not survive a failover", n_unprotected),
				 RAFT_HAS_SLOT_SYNC ?
				 errdetail("Only a slot created with failover = true is synchronized to the standbys, "
						   "and only while raft_ext.sync_logical_slots is in effect "
						   "(wal_level = logical, raft_ext.member_slots on, max_slot_wal_keep_size set).") :
				 errdetail("PostgreSQL %s has no slot synchronization: a logical slot exists only on the primary.",
						   PG_MAJORVERSION),
				 errhint("The number is raft_ext_logical_slots_unprotected in /metrics.")));
	warned_unprotected = primary && n_unprotected > 0;
}

/* When member 'id''s slot was last seen active (0 never); 'now' if it is. */
static raft_time
note_active(raft_id id, bool active, raft_time now)
{
	int			free_at = -1;

	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (active_id[i] == id)
		{
			if (active)
				active_at[i] = now;
			return active_at[i];
		}
		if (active_id[i] == RAFT_NOBODY && free_at < 0)
			free_at = i;
	}
	if (free_at >= 0 && active)
	{
		active_id[free_at] = id;
		active_at[free_at] = now;
		return now;
	}
	return 0;
}

/* Whether physical slot 'name' exists and is not lost; *active if in use. */
static bool
usable_slot(const char *name, bool *active)
{
	ReplicationSlot *s;
	bool		usable = false;

	*active = false;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	s = SearchNamedReplicationSlot(name, false);
	if (s != NULL)
	{
		SpinLockAcquire(&s->mutex);
		usable = s->data.database == InvalidOid && !RAFT_SLOT_INVALIDATED(s);
		*active = s->active_pid != 0;
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return usable;
}

/*
 * Write synchronized_standby_slots (NULL: remove raft_ext's value, 'why'
 * saying why).
 */
static void
write_list(const char *value, const char *why)
{
	bool		changed = false;

#if RAFT_HAS_SLOT_SYNC
	/* in effect already: no file read each second */
	if (strcmp(value != NULL ? value : "",
			   synchronized_standby_slots != NULL ? synchronized_standby_slots : "") == 0)
		return;
#endif
	if (raft_auto_conf_set("synchronized_standby_slots", value, &changed) && changed)
		ereport(LOG,
				(value != NULL ?
				 errmsg("synchronized_standby_slots is now \"%s\"", value) :
				 errmsg("synchronized_standby_slots removed: %s", why),
				 value != NULL ?
				 errdetail("A logical WAL sender sends a change once these members' standbys have it: "
						   "with this primary they are a majority of the voters, so the next primary has it.") : 0));
}

#if RAFT_HAS_SLOT_SYNC
/*
 * Whether a synchronized_standby_slots value names member slots only (so
 * raft_ext wrote it): "raft_node_<digits>" items, comma-separated.
 */
static bool
list_is_ours(const char *value)
{
	const char *p = value;

	if (value == NULL || value[0] == '\0')
		return false;
	while (*p)
	{
		size_t		prefix = strlen(RAFT_MEMBER_SLOT_PREFIX);

		while (*p == ' ')
			p++;
		if (strncmp(p, RAFT_MEMBER_SLOT_PREFIX, prefix) != 0 || !isdigit((unsigned char) p[prefix]))
			return false;
		p += prefix;
		while (isdigit((unsigned char) *p))
			p++;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return false;
	}
	return true;
}
#endif

/* The primary's list: see the header comment. */
static void
primary_list(const RaftStatus *status, raft_time now)
{
	StringInfoData live,
				all;
	int			voters = 0,
				n_live = 0,
				n_all = 0;
	bool		self_voter = false;

	initStringInfo(&live);
	initStringInfo(&all);
	for (int p = 0; p < status->n_peers; p++)
	{
		const RaftPeerStatus *peer = &status->peers[p];
		char		name[NAMEDATALEN];
		bool		active;
		raft_time	seen;

		if (!peer->voter)
			continue;
		voters++;
		if (peer->is_self)
		{
			self_voter = true;
			continue;
		}
		raft_member_slot_name(peer->id, name, sizeof(name));
		if (!usable_slot(name, &active))
			continue;
		appendStringInfo(&all, "%s%s", n_all++ > 0 ? "," : "", name);
		seen = note_active(peer->id, active, now);
		if (seen != 0 && now - seen < LIST_GRACE_MS)
			appendStringInfo(&live, "%s%s", n_live++ > 0 ? "," : "", name);
	}
	/* the listed standbys and this primary must make a majority */
	if (n_live + (self_voter ? 1 : 0) >= voters / 2 + 1)
	{
		n_listed = n_live;
		write_list(live.data, NULL);
	}
	else
	{
		n_listed = n_all;
		write_list(all.data, NULL);
	}
	pfree(live.data);
	pfree(all.data);
}

/* See logical_slots.h. */
void
raft_logical_slots_step(const RaftStatus *status, raft_time now)
{
	bool		primary;

	if (!raft_status_running(status) || now - last_pass < LOGICAL_PASS_MS)
		return;
	last_pass = now;
	primary = !RecoveryInProgress();
	n_listed = -1;
	standby_syncs = false;

	if (!raft_logical_slots_in_effect())
	{
		scan_logical(primary, false);
#if RAFT_HAS_SLOT_SYNC
		/*
		 * Switched off (or blocked): a list raft_ext wrote no longer follows
		 * the membership, and a removed member's slot left in it would
		 * stall every logical consumer (PostgreSQL waits for a named slot
		 * that is gone).  Remove it.
		 */
		if (list_is_ours(synchronized_standby_slots))
			write_list(NULL, "raft_ext.sync_logical_slots is not in effect");
#endif
		return;
	}
	if (primary)
	{
		scan_logical(true, false);
		if (status->role == RAFT_LEADER)
			primary_list(status, now);
		return;
	}
	/* a standby; one that leads is about to promote: leave it be */
	scan_logical(false, status->role != RAFT_LEADER);
	standby_syncs = true;
	if (status->role == RAFT_LEADER)
		return;
#if RAFT_HAS_SLOT_SYNC
	ensure_on("hot_standby_feedback", hot_standby_feedback);
	ensure_on("sync_replication_slots", sync_replication_slots);
	if (list_is_ours(synchronized_standby_slots))
		write_list(NULL, "this node is not the primary");
#endif
}

/* See logical_slots.h. */
uint8
raft_logical_slots_flags(void)
{
	return standby_syncs && n_syncing == 0 && n_failover > 0 ?
		RAFT_EXT_FLAG_LOGICAL_READY : 0;
}

/* See logical_slots.h. */
void
raft_logical_slots_fill_status(RaftStatus *status)
{
	status->logical_sync = !RAFT_HAS_SLOT_SYNC || !raft_sync_logical_slots ? RAFT_LOGICAL_SYNC_OFF :
		raft_logical_slots_in_effect() ? RAFT_LOGICAL_SYNC_ON : RAFT_LOGICAL_SYNC_BLOCKED;
	status->logical_failover = n_failover;
	status->logical_unprotected = n_unprotected;
	status->logical_syncing = n_syncing;
	status->logical_listed = n_listed;
	status->logical_dropped = n_dropped;
}
