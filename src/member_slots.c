/*
 * member_slots.c
 *	  raft_ext.member_slots: every member streams through a physical slot of
 *	  its own, "raft_node_<id>", on whichever node is the primary.
 *
 * Why: without a slot, a standby that falls behind (a network blip under a
 * write load, a long maintenance) needs WAL that the primary's next
 * checkpoint may remove, and then only a re-clone brings it back.  A slot
 * keeps that WAL, up to max_slot_wal_keep_size: raft_ext keeps member
 * slots only while that bound is set (a slot must never retain WAL without
 * bound; a member that stays away longer loses its slot, which is reported
 * as "lost", and its rejoin re-clones or rewinds it).
 *
 * The primary that leads (out of recovery, Raft leader) keeps, once a
 * second: a slot for every other member in the Raft membership (voters and
 * staged learners); no raft_node_* slot for a node that is not a member
 * (removed through the log; a minute's grace, for the slot raftctl join
 * clones through before the node is added) or for itself; a lost slot is
 * reported for a minute, then made again, so that the member, once
 * re-cloned, is protected again.  A standby that leads makes the slots
 * right before it asks to be promoted (raft_member_slots_before_promotion:
 * they exist when the first standby connects); a standby that does not
 * lead drops those it kept as a primary (a rewind leaves them).  Only slots named
 * raft_node_<digits> are touched: the namespace is raft_ext's.
 *
 * A standby that follows the leader, under the same rule (member_slots on,
 * WAL bounded: the setting is the cluster's), sets primary_slot_name to its
 * own slot (only when it is empty: a name the operator or the rejoin helper
 * set is never replaced).  If its WAL receiver has not streamed through the
 * slot SLOT_FALLBACK_MS after that (the primary does not keep member slots:
 * the members' settings differ), it streams without the slot again and
 * tries once more later (SLOT_RETRY_MS, doubled each time): a disagreement
 * between members' settings costs the protection, never the replication.
 *
 * Nothing here may throw into the worker's loop (an error stops Raft):
 * every PostgreSQL call that can fail runs under PG_TRY, logs, and is
 * retried at the next pass.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "replication/walreceiver.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "auto_conf.h"
#include "conninfo.h"
#include "member_slots.h"
#include "pg_compat.h"
#include "rejoin.h"
#include "settings.h"
#include "slot_calls.h"

bool		raft_member_slots = true;

/* The slots are looked at this often. */
#define SLOT_PASS_MS			1000
/* A lost member slot is reported this long before it is made again. */
#define LOST_REPORT_MS			60000
/* A slot that could not be made is tried again after this long. */
#define CREATE_RETRY_MS			30000
/* A slot of a node that is not a member is dropped after this long unused. */
#define STRANGER_GRACE_MS		60000
/* A standby that has not streamed through its slot this long goes without, */
#define SLOT_FALLBACK_MS		20000
/* ... and tries the slot again after this long, doubled each time, at most an hour. */
#define SLOT_RETRY_MS			60000
#define SLOT_RETRY_MAX_MS		3600000

/* What the last pass saw of each member's slot (worker process only). */
typedef struct SlotSeen
{
	raft_id		id;
	uint8		state;			/* RAFT_SLOT_* */
	int64		retained;		/* bytes of WAL it holds, -1 unknown */
} SlotSeen;

static SlotSeen seen[RAFT_MAX_MEMBERS];
static int	n_seen = 0;
static raft_time last_pass = 0;
static bool warned_unbounded = false;

/* The standby's side. */
static raft_time slot_set_at = 0;	/* when we set primary_slot_name (or the leader changed) */
static bool slot_streamed = false;	/* ... and streamed through it since */
static raft_id slot_leader = RAFT_NOBODY;	/* the leader it was set toward */
static raft_time fallback_at = 0;	/* when we last went without it */
static int	fallbacks = 0;		/* ... how many times in a row */

void
raft_member_slots_define_settings(void)
{
	DefineCustomBoolVariable("raft_ext.member_slots",
							 "Whether every member streams through a physical replication slot of its own on the primary.",
							 "The primary creates \"raft_node_<id>\" for every other member and drops those of removed "
							 "members; standbys stream through theirs.  Kept only while max_slot_wal_keep_size bounds "
							 "the WAL a slot retains.",
							 &raft_member_slots,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

/* See member_slots.h. */
void
raft_member_slot_name(raft_id id, char *buf, size_t len)
{
	snprintf(buf, len, RAFT_MEMBER_SLOT_PREFIX "%u", (unsigned) id);
}

/* See member_slots.h. */
const char *
raft_member_slot_state_name(uint8 state)
{
	switch (state)
	{
		case RAFT_SLOT_MISSING:
			return "missing";
		case RAFT_SLOT_ACTIVE:
			return "active";
		case RAFT_SLOT_INACTIVE:
			return "inactive";
		case RAFT_SLOT_LOST:
			return "lost";
	}
	return NULL;
}

/* The member id a slot name stands for, or RAFT_NOBODY if not ours. */
static raft_id
member_of_slot(const char *name)
{
	const char *digits = name + strlen(RAFT_MEMBER_SLOT_PREFIX);
	unsigned long id;
	char	   *end;

	if (strncmp(name, RAFT_MEMBER_SLOT_PREFIX, strlen(RAFT_MEMBER_SLOT_PREFIX)) != 0 ||
		*digits < '1' || *digits > '9')
		return RAFT_NOBODY;
	errno = 0;
	id = strtoul(digits, &end, 10);
	if (*end != '\0' || errno != 0 || id > PG_INT32_MAX)
		return RAFT_NOBODY;
	return (raft_id) id;
}

/* Whether the slots can be kept at all; says once why not. */
static bool
slots_possible(void)
{
	if (max_replication_slots <= 0 || wal_level < WAL_LEVEL_REPLICA)
		return false;
	if (max_slot_wal_keep_size_mb < 0)
	{
		if (!warned_unbounded)
			ereport(WARNING,
					(errmsg("raft_ext.member_slots is on, but max_slot_wal_keep_size is -1 (unlimited): no member slots are kept"),
					 errdetail("A slot of a member that is down would retain WAL until the disk is full."),
					 errhint("Set max_slot_wal_keep_size (for example '4GB'), or raft_ext.member_slots = off.")));
		warned_unbounded = true;
		return false;
	}
	warned_unbounded = false;
	return true;
}

/* See member_slots.h. */
bool
raft_member_slots_in_effect(void)
{
	return raft_member_slots && slots_possible();
}

/* One raft_node_* slot as the pass found it. */
typedef struct FoundSlot
{
	raft_id		id;
	bool		active;
	bool		lost;
	XLogRecPtr	restart_lsn;
} FoundSlot;

/* The raft_node_* physical slots that exist; returns how many. */
static int
find_member_slots(FoundSlot *found, int max)
{
	int			n = 0;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (int i = 0; i < max_replication_slots && n < max; i++)
	{
		ReplicationSlot *s = &ReplicationSlotCtl->replication_slots[i];
		NameData	name;
		bool		physical;

		if (!s->in_use)
			continue;
		/* copied under the spinlock, looked at after it */
		SpinLockAcquire(&s->mutex);
		name = s->data.name;
		physical = s->data.database == InvalidOid;
		found[n].active = s->active_pid != 0;
		found[n].lost = RAFT_SLOT_INVALIDATED(s);
		found[n].restart_lsn = s->data.restart_lsn;
		SpinLockRelease(&s->mutex);
		found[n].id = physical ? member_of_slot(NameStr(name)) : RAFT_NOBODY;
		if (found[n].id != RAFT_NOBODY)
			n++;
	}
	LWLockRelease(ReplicationSlotControlLock);
	return n;
}

/* Whether 'id' is another member of the membership 'status' shows. */
static bool
other_member(const RaftStatus *status, raft_id id)
{
	const RaftPeerStatus *peer = raft_status_member(status, id);

	return peer != NULL && !peer->is_self;
}

/* Remember what the pass saw of member 'id''s slot. */
static void
note_seen(raft_id id, uint8 state, XLogRecPtr restart_lsn, XLogRecPtr now_lsn)
{
	if (n_seen >= RAFT_MAX_MEMBERS)
		return;
	seen[n_seen].id = id;
	seen[n_seen].state = state;
	seen[n_seen].retained = state == RAFT_SLOT_ACTIVE || state == RAFT_SLOT_INACTIVE ?
		(restart_lsn != InvalidXLogRecPtr && now_lsn >= restart_lsn ?
		 (int64) (now_lsn - restart_lsn) : -1) : -1;
	n_seen++;
}

/* What the primary remembers of a raft_node_* slot's id between passes. */
typedef struct SlotMemory
{
	raft_id		id;
	bool		was_member;		/* a member while this process watched (for the log) */
	raft_time	lost_since;		/* first seen lost, 0 if not lost */
	raft_time	stranger_since; /* a non-member's and unused since, 0 if not */
	raft_time	create_failed_at;	/* its creation last failed then, 0 if not */
} SlotMemory;

static SlotMemory memory[RAFT_MAX_MEMBERS * 2];
static int	n_memory = 0;
static uint64 slots_lost = 0;

/* The memory of 'id', made if new (NULL if the table is full). */
static SlotMemory *
remember(raft_id id)
{
	for (int i = 0; i < n_memory; i++)
		if (memory[i].id == id)
			return &memory[i];
	if (n_memory >= (int) lengthof(memory))
	{
		/* forget one that is neither lost nor a stranger */
		for (int i = 0; i < n_memory; i++)
			if (memory[i].lost_since == 0 && memory[i].stranger_since == 0)
			{
				memory[i] = memory[--n_memory];
				break;
			}
		if (n_memory >= (int) lengthof(memory))
			return NULL;
	}
	memset(&memory[n_memory], 0, sizeof(SlotMemory));
	memory[n_memory].id = id;
	return &memory[n_memory++];
}

/*
 * Whether the primary drops the slot 'f' now, and why (a static string).
 * Never one in use.  A member's slot that was lost stays LOST_REPORT_MS,
 * reported as lost (raft_cluster, /metrics), then is made again.  This
 * node's own goes at once, and every one when member slots are not kept.
 * A slot of a node that is not a member (removed through the log, or not
 * added yet: raftctl join clones through the new member's slot before
 * add_node commits) goes once it has been a non-member's, unused, for
 * STRANGER_GRACE_MS: a join's standby starts streaming through it within
 * seconds of the clone's end, and a removed member's slot goes a minute
 * after its server stops streaming.
 */
static const char *
drop_reason(const RaftStatus *status, const FoundSlot *f, bool keep, raft_time now)
{
	SlotMemory *m = remember(f->id);
	bool		member = other_member(status, f->id);

	if (m != NULL && member)
		m->was_member = true;
	if (m != NULL)
		m->stranger_since = member || f->active ? 0 :
			(m->stranger_since ? m->stranger_since : now);
	if (f->active)
		return NULL;
	if (!keep)
		return "raft_ext.member_slots is off, or max_slot_wal_keep_size unlimited";
	if (member)
	{
		if (!f->lost)
		{
			if (m != NULL)
				m->lost_since = 0;
			return NULL;
		}
		if (m != NULL && m->lost_since == 0)
		{
			m->lost_since = now;
			slots_lost++;
			ereport(WARNING,
					(errmsg("the member slot of node %u was lost: it was away beyond max_slot_wal_keep_size (%d MB)",
							(unsigned) f->id, max_slot_wal_keep_size_mb),
					 errdetail("The WAL it needs next is gone: node %u streams again only after a rewind or a re-clone (raft_ext.auto_rejoin does either).",
							   (unsigned) f->id)));
		}
		if (m != NULL && now - m->lost_since < LOST_REPORT_MS)
			return NULL;
		return "it was lost (max_slot_wal_keep_size exceeded): made again for the member's return";
	}
	if (f->id == (raft_id) raft_node_id)
		return "it is this node's own";
	if (m != NULL && now - m->stranger_since < STRANGER_GRACE_MS)
		return NULL;
	return m != NULL && m->was_member ? "its node is no longer a member" :
		"its node is not a member";
}

/*
 * Make every other member's slot that is missing (a failure, such as
 * max_replication_slots used up, is retried after CREATE_RETRY_MS, not
 * every pass); note each one's state for the status snapshot.
 */
static void
make_member_slots(const RaftStatus *status, raft_time now)
{
	FoundSlot	found[RAFT_MAX_MEMBERS * 2];
	int			n = find_member_slots(found, lengthof(found));
	char		name[NAMEDATALEN];

	for (int p = 0; p < status->n_peers; p++)
	{
		const RaftPeerStatus *peer = &status->peers[p];
		const FoundSlot *f = NULL;
		SlotMemory *m;

		if (peer->is_self)
			continue;
		for (int i = 0; i < n && f == NULL; i++)
			if (found[i].id == peer->id)
				f = &found[i];
		if (f != NULL)
		{
			note_seen(peer->id, f->lost ? RAFT_SLOT_LOST : f->active ? RAFT_SLOT_ACTIVE : RAFT_SLOT_INACTIVE,
					  f->restart_lsn, RecoveryInProgress() ? InvalidXLogRecPtr : GetXLogInsertRecPtr());
			continue;
		}
		raft_member_slot_name(peer->id, name, sizeof(name));
		m = remember(peer->id);
		if (m != NULL && m->create_failed_at != 0 && now - m->create_failed_at < CREATE_RETRY_MS)
			note_seen(peer->id, RAFT_SLOT_MISSING, InvalidXLogRecPtr, InvalidXLogRecPtr);
		else if (raft_slot_create_physical(name, "member slot"))
		{
			ereport(LOG,
					(errmsg("created the member slot \"%s\" for node %u", name, (unsigned) peer->id)));
			note_seen(peer->id, RAFT_SLOT_INACTIVE, InvalidXLogRecPtr, InvalidXLogRecPtr);
			if (m != NULL)
				m->create_failed_at = 0;
		}
		else
		{
			note_seen(peer->id, RAFT_SLOT_MISSING, InvalidXLogRecPtr, InvalidXLogRecPtr);
			if (m != NULL)
				m->create_failed_at = now;
		}
	}
}

/* The primary's pass: see member_slots.h. */
static void
primary_pass(const RaftStatus *status, raft_time now)
{
	FoundSlot	found[RAFT_MAX_MEMBERS * 2];
	int			n;
	bool		keep = raft_member_slots_in_effect();
	char		name[NAMEDATALEN];

	n = find_member_slots(found, lengthof(found));

	/* slots that should not exist (or be made again) */
	for (int i = 0; i < n; i++)
	{
		const char *why = drop_reason(status, &found[i], keep, now);

		if (why == NULL)
			continue;
		raft_member_slot_name(found[i].id, name, sizeof(name));
		if (raft_slot_drop(name, "member slot"))
		{
			SlotMemory *m = remember(found[i].id);

			if (m != NULL)
				m->lost_since = 0;
			ereport(LOG, (errmsg("dropped the member slot \"%s\": %s", name, why)));
		}
	}
	if (keep)
		make_member_slots(status, now);
}

/* Set (or, with NULL, remove) primary_slot_name; logs why. */
static void
set_primary_slot(const char *value, const char *why)
{
	bool		changed = false;

	if (raft_auto_conf_set("primary_slot_name", value, &changed) && changed)
		ereport(LOG,
				(errmsg("node %u %s", (unsigned) raft_node_id, why),
				 errdetail("primary_slot_name was rewritten in %s and the configuration reloaded.",
						   PG_AUTOCONF_FILENAME)));
}

/* How long a standby goes without its slot after the n-th fallback in a row. */
static raft_time
retry_delay(int n)
{
	raft_time	delay = SLOT_RETRY_MS;

	for (int i = 1; i < n && delay < SLOT_RETRY_MAX_MS; i++)
		delay *= 2;
	return Min(delay, SLOT_RETRY_MAX_MS);
}

/*
 * The standby's pass: see member_slots.h.  A standby asks for its slot only
 * under the rule a primary keeps slots by (member_slots on, WAL bounded):
 * the setting is the cluster's, the same on every member (raftctl writes
 * both), so that a standby does not ask a primary for a slot the primary
 * would not keep.
 */
static void
standby_pass(const RaftStatus *status, raft_time now)
{
	char		mine[NAMEDATALEN];
	const RaftPeerStatus *leader = NULL;
	bool		ours;
	bool		streams = false;
	WalRcvData *walrcv = WalRcv;

	raft_member_slot_name((raft_id) raft_node_id, mine, sizeof(mine));
	ours = PrimarySlotName != NULL && strcmp(PrimarySlotName, mine) == 0;
	if (!raft_member_slots || max_slot_wal_keep_size_mb < 0)
	{
		if (ours)
			set_primary_slot(NULL, "streams without a member slot (raft_ext.member_slots is off, or max_slot_wal_keep_size unlimited)");
		slot_set_at = 0;
		return;
	}
	for (int i = 0; i < status->n_peers; i++)
		if (status->peers[i].id == status->leader_id && !status->peers[i].is_self)
			leader = &status->peers[i];
	/* only toward the leader, never while a rejoin helper works here */
	if (leader == NULL || !raft_conninfo_same_server(PrimaryConnInfo, leader->conninfo) ||
		raft_rejoin_in_progress())
		return;

	if (walrcv != NULL)
	{
		SpinLockAcquire(&walrcv->mutex);
		streams = walrcv->walRcvState == WALRCV_STREAMING &&
			strcmp(walrcv->slotname, mine) == 0;
		SpinLockRelease(&walrcv->mutex);
	}
	if (ours)
	{
		/* set before this process started, or toward another leader */
		if (slot_set_at == 0 || slot_leader != status->leader_id)
		{
			slot_set_at = now;
			slot_streamed = false;
			slot_leader = status->leader_id;
		}
		if (streams)
		{
			slot_streamed = true;
			fallbacks = 0;
		}
		if (!slot_streamed && now - slot_set_at >= SLOT_FALLBACK_MS)
		{
			fallback_at = now;
			fallbacks++;
			set_primary_slot(NULL, "streams without its member slot: the primary did not let it stream through it");
			ereport(WARNING,
					(errmsg("node %u could not stream through its member slot \"%s\" for %d s: streaming without it",
							(unsigned) raft_node_id, mine, SLOT_FALLBACK_MS / 1000),
					 errhint("Set raft_ext.member_slots and max_slot_wal_keep_size alike on every member (the primary is node %u); the slot is tried again in %d s.",
							 (unsigned) status->leader_id, (int) (retry_delay(fallbacks) / 1000))));
			slot_set_at = 0;
		}
		return;
	}
	if (PrimarySlotName != NULL && PrimarySlotName[0] != '\0')
		return;					/* the operator's or the rejoin helper's */
	if (fallbacks > 0 && now - fallback_at < retry_delay(fallbacks))
		return;
	set_primary_slot(mine, "streams through its member slot");
	slot_set_at = now;
	slot_streamed = false;
	slot_leader = status->leader_id;
}

/*
 * A standby keeps no member slot: one left from when this node was the
 * primary (pg_rewind leaves pg_replslot as it was) would hold the
 * standby's WAL until max_slot_wal_keep_size; nothing streams from it.
 */
static void
drop_standby_slots(void)
{
	FoundSlot	found[RAFT_MAX_MEMBERS * 2];
	int			n = find_member_slots(found, lengthof(found));
	char		name[NAMEDATALEN];

	for (int i = 0; i < n; i++)
	{
		if (found[i].active)
			continue;
		raft_member_slot_name(found[i].id, name, sizeof(name));
		if (raft_slot_drop(name, "member slot"))
			ereport(LOG,
					(errmsg("dropped the member slot \"%s\": a standby keeps none (it was left from when this node was the primary)",
							name)));
	}
}

/* See member_slots.h. */
void
raft_member_slots_step(const RaftStatus *status, raft_time now)
{
	if (!raft_status_running(status) || now - last_pass < SLOT_PASS_MS)
		return;
	last_pass = now;
	n_seen = 0;
	if (!RecoveryInProgress())
	{
		if (status->role == RAFT_LEADER)
			primary_pass(status, now);
	}
	else
	{
		/* a standby that leads keeps what it made to promote with */
		if (status->role != RAFT_LEADER)
			drop_standby_slots();
		standby_pass(status, now);
	}
}

/* See member_slots.h. */
void
raft_member_slots_before_promotion(const RaftStatus *status, raft_time now)
{
	n_seen = 0;
	if (raft_member_slots_in_effect())
		make_member_slots(status, now);
}

/* See member_slots.h. */
void
raft_member_slots_fill_status(RaftStatus *status)
{
	status->member_slots_lost = slots_lost;
	for (int p = 0; p < status->n_peers; p++)
	{
		RaftPeerStatus *peer = &status->peers[p];

		peer->slot_state = RAFT_SLOT_UNKNOWN;
		peer->slot_retained = -1;
		for (int i = 0; i < n_seen; i++)
		{
			if (seen[i].id == peer->id)
			{
				peer->slot_state = seen[i].state;
				peer->slot_retained = seen[i].retained;
			}
		}
	}
}
