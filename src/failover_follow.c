/*
 * failover_follow.c
 *	  raft_ext.auto_follow: point this standby's primary_conninfo at the Raft
 *	  leader, without a restart.
 *
 * primary_conninfo is written into postgresql.auto.conf as ALTER SYSTEM
 * would (auto_conf.c), and the configuration reloaded.  PostgreSQL 13 and
 * later apply a changed
 * primary_conninfo on reload by restarting the WAL receiver, and
 * recovery_target_timeline = 'latest' (the default) lets it follow the new
 * primary's timeline.
 *
 * The new value keeps what the current primary_conninfo says about how to
 * connect (user, password, sslmode, ...) and replaces only where to: host,
 * hostaddr and port come from the leader's member address.  It keeps the
 * current application_name (synchronous_standby_names names standbys by it);
 * one that raft_ext's transport uses (raft_ext_*) is never copied, and with
 * none, or with raft_ext.synchronous = quorum (which lists the members by
 * these names), the standby is named "node<id>".  A dbname is written only
 * while raft_ext.sync_logical_slots is in effect: PostgreSQL 17's slot-sync
 * worker connects with primary_conninfo and needs one (logical_slots.c).
 */
#include "postgres.h"

#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "libpq-fe.h"

#include "auto_conf.h"
#include "conninfo.h"
#include "failover.h"
#include "logical_slots.h"
#include "settings.h"

/* See failover.h. */
char *
raft_follow_build_conninfo(const char *leader_conninfo)
{
	PQconninfoOption *current = raft_conninfo_parse(PrimaryConnInfo);
	PQconninfoOption *leader = raft_conninfo_parse(leader_conninfo);
	PQconninfoOption *base = current ? current : leader;
	const char *appname = NULL;
	const char *current_dbname = NULL;
	const char *leader_dbname = NULL;
	const char *dbname;
	StringInfoData buf;

	initStringInfo(&buf);
	if (leader == NULL)
	{
		if (current)
			PQconninfoFree(current);
		return buf.data;
	}

	/* Where to connect: the leader's address. */
	for (PQconninfoOption *o = leader; o->keyword; o++)
	{
		if (o->val != NULL && o->val[0] != '\0' && raft_conninfo_is_target(o->keyword))
			raft_conninfo_append(&buf, o->keyword, o->val, true);
		if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "dbname") == 0)
			leader_dbname = o->val;
	}

	/* How to connect: the current setting (or the leader's address). */
	for (PQconninfoOption *o = base; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || raft_conninfo_is_target(o->keyword))
			continue;
		if (strcmp(o->keyword, "application_name") == 0)
		{
			if (base == current && strncmp(o->val, "raft_ext", 8) != 0)
				appname = o->val;
			continue;
		}
		/* Meaningless for physical replication (the slot-sync worker's below). */
		if (strcmp(o->keyword, "dbname") == 0)
		{
			if (base == current)
				current_dbname = o->val;
			continue;
		}
		if (strcmp(o->keyword, "replication") == 0)
			continue;
		/* The replication role and this node's password file, when set. */
		if (strcmp(o->keyword, "user") == 0 &&
			raft_replication_user != NULL && raft_replication_user[0] != '\0')
			continue;
		if (strcmp(o->keyword, "passfile") == 0 &&
			raft_passfile != NULL && raft_passfile[0] != '\0')
			continue;
		raft_conninfo_append(&buf, o->keyword, o->val, true);
	}
	if (raft_replication_user != NULL && raft_replication_user[0] != '\0')
		raft_conninfo_append(&buf, "user", raft_replication_user, true);
	if (raft_passfile != NULL && raft_passfile[0] != '\0')
		raft_conninfo_append(&buf, "passfile", raft_passfile, true);
	dbname = raft_logical_slots_dbname(current_dbname, leader_dbname);
	if (dbname != NULL)
		raft_conninfo_append(&buf, "dbname", dbname, true);

	/* In quorum mode synchronous_standby_names names standbys by id. */
	if (appname != NULL && !raft_sync_owns_names())
		raft_conninfo_append(&buf, "application_name", appname, true);
	else
	{
		char		name[NAMEDATALEN];

		raft_sync_standby_name((raft_id) raft_node_id, name, sizeof(name));
		raft_conninfo_append(&buf, "application_name", name, true);
	}

	if (current)
		PQconninfoFree(current);
	PQconninfoFree(leader);
	return buf.data;
}

/* See failover.h. */
bool
raft_follow_conninfo_stale(const char *conninfo)
{
	PQconninfoOption *options = raft_conninfo_parse(conninfo);
	bool		want_passfile = raft_passfile != NULL && raft_passfile[0] != '\0';
	bool		passfile_stale = want_passfile;
	bool		has_dbname = false;

	if (options == NULL)
		return false;
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (strcmp(o->keyword, "passfile") == 0 && want_passfile)
			passfile_stale = (o->val == NULL || strcmp(o->val, raft_passfile) != 0);
		if (strcmp(o->keyword, "dbname") == 0)
			has_dbname = o->val != NULL && o->val[0] != '\0';
	}
	PQconninfoFree(options);
	return passfile_stale ||
		(!has_dbname && raft_logical_slots_dbname(NULL, NULL) != NULL);
}

/* See failover.h. */
bool
raft_follow_write_conninfo(const char *leader_conninfo)
{
	char	   *conninfo;
	char	   *problem;
	bool		changed = false;

	conninfo = raft_follow_build_conninfo(leader_conninfo);
	if (conninfo[0] == '\0')
	{
		ereport(LOG,
				(errmsg("cannot follow the leader: its member address \"%s\" is not a valid conninfo",
						raft_conninfo_masked(leader_conninfo))));
		return false;
	}

	/*
	 * A newline would end the line in postgresql.auto.conf and leave a file
	 * the server cannot start with.  Addresses are checked when they come in
	 * (raft_ext.peers, add_node), but a log written before that check may
	 * still carry one.
	 */
	problem = raft_conninfo_problem(conninfo);
	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("cannot follow the leader: its member address \"%s\" cannot be written to %s",
						raft_conninfo_masked(leader_conninfo), PG_AUTOCONF_FILENAME),
				 errdetail("%s", problem)));
		return false;
	}

	return raft_auto_conf_set("primary_conninfo", conninfo, &changed) &&
		changed;
}
