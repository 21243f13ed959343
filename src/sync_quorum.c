/*
 * sync_quorum.c
 *	  raft_ext.synchronous = quorum: every member keeps
 *	  synchronous_standby_names = 'ANY k ("node<a>", "node<b>", ...)', naming
 *	  the other voting members, with k = voters - majority.
 *
 * Why that k: a commit is acknowledged once the primary and k of the other
 * voters have flushed it, k + 1 voters in all; a majority has
 * voters - k members, so every majority that can elect a leader contains
 * one of them, and that one votes only for a candidate whose WAL is at
 * least as far along as its own (raft_ext.max_lag_on_failover = 0).  The
 * new primary therefore holds every acknowledged commit.  With one or two
 * voters k is 0 and the setting is empty: one voter has nobody to wait for,
 * and two voters elect only with both votes, so the survivor of a lost
 * primary never leads and the WAL-aware vote covers a planned switchover.
 *
 * Every member keeps the setting, standbys included, so that a standby
 * that is promoted waits for its quorum from its first commit: nothing has
 * to be written between the election and the promotion.
 *
 * A membership change takes effect on each node as soon as the entry is in
 * its log, but until it is committed a leader may still be elected under
 * the membership before it.  So while a change is in the log but not
 * committed, the setting must be safe under both memberships: it names
 * only the voters of both (the intersection), and k is the larger of the
 * two.  For a removal that is not enough: commits acknowledged before the
 * removal reaches the log must already count only the voters that stay, so
 * the leader writes that setting before it proposes the removal
 * (raft_sync_before_change).  A staged learner is never named (its
 * acknowledgements never count), but it raises k ahead of its promotion,
 * which the leader proposes by itself at any time.
 *
 * How the setting is applied: as ALTER SYSTEM does, in
 * postgresql.auto.conf, written through a temporary file, fsynced and
 * renamed durably (failover_follow.c), then SIGHUP to the postmaster.  The
 * worker has no database connection, so it cannot run ALTER SYSTEM, and it
 * must not wait for anything: the file write is local and short, and the
 * reload is asynchronous.
 *
 * In quorum mode the WAL receiver of every member must report the name the
 * others list, so the standby's application_name is "node<id>", whatever
 * primary_conninfo said before (raft_follow_build_conninfo).
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "replication/syncrep.h"
#include "utils/guc.h"

#include "libpq-fe.h"

#include "auto_conf.h"
#include "conninfo.h"
#include "failover.h"
#include "settings.h"
#include "sync_quorum.h"


static const struct config_enum_entry synchronous_options[] = {
	{"off", RAFT_SYNC_OFF, false},
	{"quorum", RAFT_SYNC_QUORUM, false},
	{NULL, 0, false}
};

/* A quorum setting: ANY k of the listed members. */
typedef struct SyncTarget
{
	int			k;
	int			n;
	raft_id		ids[RAFT_MAX_MEMBERS];
	int			voters;			/* voting members it was computed for */
} SyncTarget;

/* The value this worker last wrote (or found in place); "" before any. */
static char last_value[RAFT_MAX_MEMBERS * 16 + 32];
static bool have_last_value = false;

/* When the standby's application_name was last corrected. */
static raft_time last_name_fix_at = 0;

/* Switched off: whether what quorum mode wrote was looked for already. */
static bool off_reset_done = false;

/* Define raft_ext.synchronous and install the commit guard. */
void
raft_sync_define_settings(void)
{
	DefineCustomEnumVariable("raft_ext.synchronous",
							 "Keeps synchronous_standby_names in step with the Raft membership.",
							 "quorum: every member keeps synchronous_standby_names = 'ANY k (the other voters)' "
							 "with k = voters - majority, so no acknowledged commit is lost in a failover, "
							 "and a commit whose wait for it was cancelled is not acknowledged. "
							 "off: synchronous_standby_names is left to the administrator.",
							 &raft_synchronous,
							 RAFT_SYNC_OFF,
							 synchronous_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	raft_sync_guard_init();
}

/* See sync_quorum.h. */
int
raft_sync_quorum_k(int voters)
{
	if (voters <= 0)
		return 0;
	return voters - (voters / 2 + 1);
}

/*
 * The membership change in the log past the commit index, if any (a
 * leader accepts a change only once the previous one is committed, so
 * there is at most one).
 */
static bool
pending_change(raft_node *node, raft_change *change)
{
	raft_index	last = raft_last_index(node);
	bool		found = false;

	for (raft_index i = raft_commit_index(node) + 1; i <= last; i++)
	{
		raft_entry	entry;
		raft_change decoded;
		const char *why;

		if (!raft_get_entry(node, i, &entry) ||
			entry.type != RAFT_ENTRY_CHANGE)
			continue;
		if (raft_change_decode(entry.data, entry.len, &decoded, &why) != RAFT_OK)
			continue;
		*change = decoded;
		found = true;
	}
	return found;
}

/*
 * The setting for 'membership', where 'change' (or NULL) has taken effect
 * in it but may not be committed: safe under the membership before the
 * change and the one after.
 */
static void
compute_target(const raft_membership *membership, const raft_change *change,
			   SyncTarget *target)
{
	int			voters = 0;
	int			staged = 0;
	int			k;

	target->n = 0;
	for (int i = 0; i < membership->count; i++)
	{
		const raft_member *m = &membership->members[i];

		if (m->staged)
			staged++;
		if (!m->voter)
			continue;
		voters++;
		if (m->id != (raft_id) raft_node_id)
			target->ids[target->n++] = m->id;
	}

	/* A staged learner may be promoted at any time: be ready for it. */
	k = Max(raft_sync_quorum_k(voters), raft_sync_quorum_k(voters + staged));

	if (change != NULL)
	{
		switch (change->op)
		{
			case RAFT_CHANGE_ADD_VOTER:
			case RAFT_CHANGE_PROMOTE:
				/* Not named until the old membership can no longer elect. */
				for (int i = 0; i < target->n; i++)
				{
					if (target->ids[i] == change->id)
					{
						target->ids[i] = target->ids[--target->n];
						break;
					}
				}
				break;
			case RAFT_CHANGE_REMOVE:
				/* It may have been a voter: keep the k of one more. */
				k = Max(k, raft_sync_quorum_k(voters + 1));
				break;
			default:
				break;
		}
	}

	/* Never more than can answer: a wait nobody can end is an outage. */
	target->k = Min(k, target->n);
	target->voters = voters;
}

/* The value of synchronous_standby_names for 'target' (palloc'd). */
static char *
target_value(const SyncTarget *target)
{
	StringInfoData buf;
	raft_id		sorted[RAFT_MAX_MEMBERS];
	int			n = target->n;

	initStringInfo(&buf);
	if (target->k == 0)
		return buf.data;

	/* In id order, so that every member writes the same value. */
	memcpy(sorted, target->ids, sizeof(raft_id) * n);
	for (int i = 1; i < n; i++)
	{
		raft_id		v = sorted[i];
		int			j = i - 1;

		while (j >= 0 && sorted[j] > v)
		{
			sorted[j + 1] = sorted[j];
			j--;
		}
		sorted[j + 1] = v;
	}

	appendStringInfo(&buf, "ANY %d (", target->k);
	for (int i = 0; i < n; i++)
	{
		char		name[NAMEDATALEN];

		raft_sync_standby_name(sorted[i], name, sizeof(name));
		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? ", " : "", name);
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* Write 'target' unless it is what this worker last wrote. */
static void
apply_target(const SyncTarget *target, const char *why)
{
	char	   *value = target_value(target);
	bool		changed = false;

	if (have_last_value && strcmp(value, last_value) == 0)
	{
		pfree(value);
		return;
	}
	if (!raft_auto_conf_set("synchronous_standby_names", value, &changed))
	{
		/* Logged; the next iteration tries again. */
		pfree(value);
		return;
	}
	strlcpy(last_value, value, sizeof(last_value));
	have_last_value = true;
	if (changed)
		ereport(LOG,
				(errmsg("node %u sets %s to \"%s\"",
						(unsigned) raft_node_id, "synchronous_standby_names", value),
				 errdetail("%d voting member(s): a commit waits for %d of the %d other voter(s) named (%s).",
						   target->voters, target->k, target->n, why)));
	pfree(value);
}

/* On a standby: make the WAL receiver use the name the others list. */
static void
fix_standby_name(raft_time now)
{
	PQconninfoOption *options;
	char		want[NAMEDATALEN];
	bool		right = false;

	if (!RecoveryInProgress() || PrimaryConnInfo == NULL ||
		PrimaryConnInfo[0] == '\0')
		return;
	if (last_name_fix_at != 0 && now - last_name_fix_at < raft_election_timeout)
		return;

	options = raft_conninfo_parse(PrimaryConnInfo);
	if (options == NULL)
		return;
	raft_sync_standby_name((raft_id) raft_node_id, want, sizeof(want));
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (strcmp(o->keyword, "application_name") == 0)
			right = (o->val != NULL && strcmp(o->val, want) == 0);
	}
	PQconninfoFree(options);
	if (right)
		return;

	last_name_fix_at = now;
	if (raft_follow_write_conninfo(PrimaryConnInfo))
		ereport(LOG,
				(errmsg("node %u streams WAL as %s \"%s\"",
						(unsigned) raft_node_id, "application_name", want),
				 errdetail("%s is %s: the other members name this standby so in synchronous_standby_names.",
						   "raft_ext.synchronous", "quorum")));
}

/*
 * Whether value has the form target_value writes: ANY k ("node<id>", ...),
 * nothing else.  Only such a value is taken for quorum mode's own.
 */
static bool
is_quorum_value(const char *value)
{
	const char *p = value;

	if (strncmp(p, "ANY ", 4) != 0)
		return false;
	p += 4;
	if (!isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (strncmp(p, " (", 2) != 0)
		return false;
	p += 2;
	for (;;)
	{
		if (strncmp(p, "\"node", 5) != 0)
			return false;
		p += 5;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
		if (*p++ != '"')
			return false;
		if (strcmp(p, ")") == 0)
			return true;
		if (strncmp(p, ", ", 2) != 0)
			return false;
		p += 2;
	}
}

/*
 * raft_ext.synchronous is off: remove the synchronous_standby_names that
 * quorum mode wrote into postgresql.auto.conf, so that the setting is the
 * administrator's again (postgresql.conf's, or empty) and commits waiting
 * for a quorum that cannot answer (an incident with the standbys down) are
 * released.  Once per switch to off (or worker start); a value of another
 * form is the administrator's and stays.
 */
static void
reset_quorum_names(void)
{
	bool		changed = false;

	if (off_reset_done)
		return;
	off_reset_done = true;
	if (SyncRepStandbyNames == NULL || !is_quorum_value(SyncRepStandbyNames))
		return;
	if (!raft_auto_conf_set("synchronous_standby_names", NULL, &changed))
	{
		off_reset_done = false; /* logged; retried next iteration */
		return;
	}
	if (changed)
		ereport(LOG,
				(errmsg("node %u removes the %s that %s wrote",
						(unsigned) raft_node_id, "synchronous_standby_names",
						"raft_ext.synchronous = quorum"),
				 errdetail("%s is off: %s is the administrator's again, and commits waiting for \"%s\" are released.",
						   "raft_ext.synchronous", "synchronous_standby_names",
						   SyncRepStandbyNames)));
}

/* See sync_quorum.h. */
void
raft_sync_step(raft_node *node, const RaftStatus *status, raft_time now)
{
	SyncTarget	target;
	raft_change change;
	bool		pending;

	if (raft_synchronous != RAFT_SYNC_QUORUM)
	{
		/* Switched off: forget, so that switching on writes again. */
		have_last_value = false;
		reset_quorum_names();
		return;
	}
	off_reset_done = false;
	if (node == NULL || !raft_status_running(status))
		return;
	/* Refused by validation; a reload to it leaves the last value. */
	if (raft_max_lag_on_failover != 0)
		return;

	pending = pending_change(node, &change);
	compute_target(raft_get_membership(node), pending ? &change : NULL,
				   &target);
	apply_target(&target, pending ?
				 "a membership change is not committed yet" :
				 "the membership is committed");
	fix_standby_name(now);
}

/* See sync_quorum.h. */
void
raft_sync_before_change(raft_node *node, const raft_change *change)
{
	raft_membership *after;
	SyncTarget	target;
	int			j = 0;

	if (raft_synchronous != RAFT_SYNC_QUORUM || node == NULL ||
		change->op != RAFT_CHANGE_REMOVE || raft_get_role(node) != RAFT_LEADER)
		return;

	/* The membership as it will be once the removal is in the log. */
	after = palloc(sizeof(raft_membership));
	memcpy(after, raft_get_membership(node), sizeof(raft_membership));
	for (int i = 0; i < after->count; i++)
	{
		if (after->members[i].id != change->id)
			after->members[j++] = after->members[i];
	}
	if (j == after->count)
	{
		pfree(after);
		return;
	}
	after->count = j;
	compute_target(after, change, &target);
	apply_target(&target, "a member is about to be removed");
	pfree(after);
}
