/*
 * failover_follow.c
 *	  raft_ext.auto_follow: point this standby's primary_conninfo at the Raft
 *	  leader, without a restart.
 *
 * ALTER SYSTEM needs a transaction (it checks superuser()), and the worker
 * has no database connection, so this file does what ALTER SYSTEM does for
 * one line: under AutoFileLock it rewrites postgresql.auto.conf through a
 * temporary file (written, fsynced, renamed durably), then signals the
 * postmaster to reload.  PostgreSQL 13 and later apply a changed
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
 * these names), the standby is named "node<id>".
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "libpq-fe.h"

#include "conninfo.h"
#include "failover.h"
#include "settings.h"
#include "storage.h"
#include "sync_quorum.h"

#define AUTOCONF_TEMP	PG_AUTOCONF_FILENAME ".tmp"

/* See failover.h. */
char *
raft_follow_build_conninfo(const char *leader_conninfo)
{
	PQconninfoOption *current = raft_conninfo_parse(PrimaryConnInfo);
	PQconninfoOption *leader = raft_conninfo_parse(leader_conninfo);
	PQconninfoOption *base = current ? current : leader;
	const char *appname = NULL;
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
		/* Meaningless for physical replication. */
		if (strcmp(o->keyword, "dbname") == 0 ||
			strcmp(o->keyword, "replication") == 0)
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

/* Whether a postgresql.auto.conf line sets the setting 'key'. */
static bool
is_setting_line(const char *key, const char *line, int len)
{
	int			keylen = strlen(key);
	int			i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i < keylen || pg_strncasecmp(line + i, key, keylen) != 0)
		return false;
	i += keylen;
	return i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '=');
}

/* Read the whole of 'path' into buf; false (logged) on failure. */
static bool
read_whole_file(const char *path, StringInfo buf)
{
	int			fd;
	char		chunk[8192];
	int			n;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return true;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
		return false;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		appendBinaryStringInfo(buf, chunk, n);
	if (n < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
		CloseTransientFile(fd);
		return false;
	}
	CloseTransientFile(fd);
	return true;
}

/*
 * Build the new file: every line but those setting 'key', then ours (none
 * if line is empty: the setting is removed, as ALTER SYSTEM RESET does).
 * *changed says whether that differs from what the file holds.
 */
static void
replace_setting_line(const StringInfo old, const char *key, const char *line,
					 StringInfo out, bool *changed)
{
	int			start = 0;
	int			found = 0;
	bool		same = false;

	if (old->len == 0)
		appendStringInfoString(out,
							   "# Do not edit this file manually!\n"
							   "# It will be overwritten by the ALTER SYSTEM command.\n");
	while (start < old->len)
	{
		int			end = start;

		while (end < old->len && old->data[end] != '\n')
			end++;
		if (is_setting_line(key, old->data + start, end - start))
		{
			found++;
			same = (end - start == (int) strlen(line) - 1 &&
					memcmp(old->data + start, line, end - start) == 0);
		}
		else
		{
			appendBinaryStringInfo(out, old->data + start, end - start);
			appendStringInfoChar(out, '\n');
		}
		start = end + 1;
	}
	if (line[0] == '\0')
	{
		*changed = found > 0;
		return;
	}
	appendStringInfoString(out, line);
	*changed = !(found == 1 && same);
}

/* Rewrite postgresql.auto.conf under AutoFileLock; false if it failed. */
static bool
rewrite_auto_conf(const char *key, const char *line, bool *changed)
{
	StringInfoData old;
	StringInfoData out;
	bool		ok;

	initStringInfo(&old);
	initStringInfo(&out);
	*changed = false;

	LWLockAcquire(AutoFileLock, LW_EXCLUSIVE);
	ok = read_whole_file(PG_AUTOCONF_FILENAME, &old);
	if (ok)
	{
		replace_setting_line(&old, key, line, &out, changed);
		if (*changed)
			ok = raft_write_file_durably(AUTOCONF_TEMP, PG_AUTOCONF_FILENAME,
										 out.data, out.len, false, LOG);
	}
	LWLockRelease(AutoFileLock);

	pfree(old.data);
	pfree(out.data);
	return ok;
}

/* See failover.h. */
bool
raft_follow_passfile_stale(const char *conninfo)
{
	PQconninfoOption *options;
	bool		stale = true;

	if (raft_passfile == NULL || raft_passfile[0] == '\0')
		return false;
	options = raft_conninfo_parse(conninfo);
	if (options == NULL)
		return false;
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (strcmp(o->keyword, "passfile") == 0)
			stale = (o->val == NULL || strcmp(o->val, raft_passfile) != 0);
	}
	PQconninfoFree(options);
	return stale;
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

/* See failover.h. */
bool
raft_auto_conf_set(const char *name, const char *value, bool *changed)
{
	MemoryContext context = CurrentMemoryContext;
	StringInfoData line;
	char	   *escaped;
	bool		ok = false;

	/*
	 * The configuration file's quoting (quotes and backslashes doubled),
	 * with the function ALTER SYSTEM uses for the same file.
	 */
	initStringInfo(&line);
	if (value != NULL)
	{
		escaped = escape_single_quotes_ascii(value);
		if (escaped == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		appendStringInfo(&line, "%s = '%s'\n", name, escaped);
		free(escaped);
	}

	/* A failure here must not stop Raft: log it and let the caller retry. */
	PG_TRY();
	{
		ok = rewrite_auto_conf(name, line.data, changed);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (LWLockHeldByMe(AutoFileLock))
			LWLockRelease(AutoFileLock);
		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(LOG,
				(errmsg("could not rewrite %s: %s",
						PG_AUTOCONF_FILENAME, edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	pfree(line.data);

	if (ok && *changed && kill(PostmasterPid, SIGHUP) != 0)
		ereport(LOG,
				(errmsg("could not signal the postmaster to reload: %m")));
	return ok;
}
