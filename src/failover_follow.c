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
 * none the standby is named "node<id>".
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

#define AUTOCONF_TEMP	PG_AUTOCONF_FILENAME ".tmp"

/* Whether a conninfo keyword says where to connect. */
static bool
is_target_keyword(const char *keyword)
{
	return strcmp(keyword, "host") == 0 || strcmp(keyword, "hostaddr") == 0 ||
		strcmp(keyword, "port") == 0;
}

/* Append keyword='value' to a conninfo, quoting as libpq expects. */
static void
append_conninfo_pair(StringInfo buf, const char *keyword, const char *value)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, ' ');
	appendStringInfo(buf, "%s='", keyword);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/* Parse a conninfo, or NULL (an empty or unparsable one). */
static PQconninfoOption *
parse_conninfo(const char *conninfo)
{
	PQconninfoOption *options;
	char	   *error = NULL;

	if (conninfo == NULL || conninfo[0] == '\0')
		return NULL;
	options = PQconninfoParse(conninfo, &error);
	if (error != NULL)
		PQfreemem(error);
	return options;
}

/* See failover.h. */
char *
raft_follow_build_conninfo(const char *leader_conninfo)
{
	PQconninfoOption *current = parse_conninfo(PrimaryConnInfo);
	PQconninfoOption *leader = parse_conninfo(leader_conninfo);
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
		if (o->val != NULL && o->val[0] != '\0' && is_target_keyword(o->keyword))
			append_conninfo_pair(&buf, o->keyword, o->val);
	}

	/* How to connect: the current setting (or the leader's address). */
	for (PQconninfoOption *o = base; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || is_target_keyword(o->keyword))
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
		append_conninfo_pair(&buf, o->keyword, o->val);
	}

	if (appname != NULL)
		append_conninfo_pair(&buf, "application_name", appname);
	else
	{
		char		name[32];

		snprintf(name, sizeof(name), "node%d", raft_node_id);
		append_conninfo_pair(&buf, "application_name", name);
	}

	if (current)
		PQconninfoFree(current);
	PQconninfoFree(leader);
	return buf.data;
}

/* Whether a postgresql.auto.conf line sets primary_conninfo. */
static bool
is_conninfo_line(const char *line, int len)
{
	static const char key[] = "primary_conninfo";
	int			i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i < (int) sizeof(key) - 1 ||
		pg_strncasecmp(line + i, key, sizeof(key) - 1) != 0)
		return false;
	i += sizeof(key) - 1;
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
				 errmsg("raft_ext: could not open file \"%s\": %m", path)));
		return false;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		appendBinaryStringInfo(buf, chunk, n);
	if (n < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("raft_ext: could not read file \"%s\": %m", path)));
		CloseTransientFile(fd);
		return false;
	}
	CloseTransientFile(fd);
	return true;
}

/*
 * Build the new file: every line but those setting primary_conninfo, then
 * ours.  *changed says whether that differs from what the file holds.
 */
static void
replace_conninfo_line(const StringInfo old, const char *line,
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
		if (is_conninfo_line(old->data + start, end - start))
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
	appendStringInfoString(out, line);
	*changed = !(found == 1 && same);
}

/* Rewrite postgresql.auto.conf under AutoFileLock; false if it failed. */
static bool
rewrite_auto_conf(const char *line, bool *changed)
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
		replace_conninfo_line(&old, line, &out, changed);
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
raft_follow_write_conninfo(const char *leader_conninfo)
{
	MemoryContext context = CurrentMemoryContext;
	char	   *conninfo;
	char	   *problem;
	StringInfoData line;
	bool		changed = false;
	bool		ok = false;

	conninfo = raft_follow_build_conninfo(leader_conninfo);
	if (conninfo[0] == '\0')
	{
		ereport(LOG,
				(errmsg("raft_ext: cannot follow the leader: its member address \"%s\" is not a valid conninfo",
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
				(errmsg("raft_ext: cannot follow the leader: its member address \"%s\" cannot be written to %s",
						raft_conninfo_masked(leader_conninfo), PG_AUTOCONF_FILENAME),
				 errdetail("%s", problem)));
		return false;
	}

	/* The configuration file's quoting: double quotes and backslashes. */
	initStringInfo(&line);
	appendStringInfoString(&line, "primary_conninfo = '");
	for (const char *p = conninfo; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(&line, *p);
		appendStringInfoChar(&line, *p);
	}
	appendStringInfoString(&line, "'\n");

	/* A failure here must not stop Raft: log it and let the caller retry. */
	PG_TRY();
	{
		ok = rewrite_auto_conf(line.data, &changed);
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
				(errmsg("raft_ext: could not rewrite %s: %s",
						PG_AUTOCONF_FILENAME, edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	if (ok && changed && kill(PostmasterPid, SIGHUP) != 0)
		ereport(LOG,
				(errmsg("raft_ext: could not signal the postmaster to reload: %m")));
	return ok && changed;
}
