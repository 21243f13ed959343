/*
 * raftctl_members.c
 *	  raftctl: reaching the members: -d's options, one connection per member
 *	  started together and driven without blocking, the probe query, health.
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

#include "pqexpbuffer.h"

/* The value of keyword in parsed options, NULL if unset or empty. */
static const char *
option(PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val && o->val[0])
			return o->val;
	return NULL;
}

/* Whether a keyword says where to connect (taken from raft_peers). */
static bool
is_target(const char *keyword)
{
	return strcmp(keyword, "host") == 0 || strcmp(keyword, "hostaddr") == 0 ||
		strcmp(keyword, "port") == 0;
}

/*
 * The connection parameters of a member: host, hostaddr and port from its
 * raft_peers address, everything else from 'options' (-d's, or another
 * conninfo's), the member's own dbname if 'options' names none.  keys and
 * vals hold 64 entries; the values point into options and *peer (freed by
 * the caller with PQconninfoFree).
 */
static void
member_params(const char *conninfo, PQconninfoOption *options,
			  PQconninfoOption **peer, const char **keys, const char **vals)
{
	int			k = 0;

	*peer = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = options; o && o->keyword && k < 56; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || is_target(o->keyword) ||
			strcmp(o->keyword, "application_name") == 0)
			continue;
		keys[k] = o->keyword;
		vals[k++] = o->val;
	}
	for (PQconninfoOption *o = *peer; o && o->keyword && k < 60; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (is_target(o->keyword) ||
			(strcmp(o->keyword, "dbname") == 0 && option(options, "dbname") == NULL))
		{
			keys[k] = o->keyword;
			vals[k++] = o->val;
		}
	}
	keys[k] = "application_name";
	vals[k++] = "raftctl";
	keys[k] = NULL;
	vals[k] = NULL;
}

/*
 * Start connecting to a member (member_params with -d's options).
 * Non-blocking (PQconnectStartParams); NULL only when out of memory.
 */
PGconn *
start_member_connection(const char *conninfo)
{
	const char *keys[64];
	const char *vals[64];
	PQconninfoOption *peer;
	PGconn	   *conn;

	member_params(conninfo, d_options, &peer, keys, vals);
	conn = PQconnectStartParams(keys, vals, 0);
	if (peer)
		PQconninfoFree(peer);
	return conn;
}

/*
 * A member's conninfo as a string, for a program raftctl starts:
 * member_params with the options of 'options_conninfo', without
 * application_name; values quoted as libpq reads them.  malloc'd.
 */
char *
member_conninfo(const char *conninfo, const char *options_conninfo)
{
	const char *keys[64];
	const char *vals[64];
	PQconninfoOption *peer;
	PQconninfoOption *options = PQconninfoParse(options_conninfo, NULL);
	PQExpBufferData buf;

	member_params(conninfo, options, &peer, keys, vals);
	initPQExpBuffer(&buf);
	for (int i = 0; keys[i]; i++)
	{
		if (strcmp(keys[i], "application_name") == 0)
			continue;
		appendPQExpBuffer(&buf, "%s%s='", buf.len ? " " : "", keys[i]);
		for (const char *c = vals[i]; *c; c++)
		{
			if (*c == '\'' || *c == '\\')
				appendPQExpBufferChar(&buf, '\\');
			appendPQExpBufferChar(&buf, *c);
		}
		appendPQExpBufferChar(&buf, '\'');
	}
	if (peer)
		PQconninfoFree(peer);
	if (options)
		PQconninfoFree(options);
	return buf.data;
}

/* Connect to the node -d names (blocking, with the connect timeout). */
PGconn *
connect_to(const char *conninfo, char *error, size_t errlen)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {conninfo, "5", "raftctl", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		snprintf(error, errlen, "%s", trimmed(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* "host:port" of a conninfo, for the table. */
void
host_of(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = option(opts, "host");
	const char *port = option(opts, "port");

	if (host == NULL)
		host = option(opts, "hostaddr");
	snprintf(out, outlen, "%s:%s", host ? host : "localhost", port ? port : "5432");
	if (opts)
		PQconninfoFree(opts);
}

/*
 * What a member is asked about itself.  A role without pg_read_all_stats
 * (a monitoring role, raft_transport) sees only the pid of
 * pg_stat_wal_receiver, whose row exists once the receiver has connected:
 * taken as streaming, or every standby would look "in recovery" and a
 * healthy cluster degraded.
 */
static const char *const probe_query =
"SELECT s.role, s.term, coalesce(s.leader_id, 0), s.has_lease, "
"s.in_recovery, s.timeline, s.wal_position, "
"s.wal_position - '0/0'::pg_lsn, "
"CASE WHEN NOT s.in_recovery THEN 'running' "
"ELSE coalesce((SELECT coalesce(status, 'streaming') FROM pg_stat_wal_receiver), "
"'in recovery') END, "
"coalesce(to_jsonb(s)->>'timeline_standing', ''), coalesce(s.error, ''), "
"coalesce(current_setting('raft_ext.auto_promote', true), ''), "
/*
 * the primary's member slots and the members' copies of the failover
 * slots, "id=state/logical,..." (raft_ext 1.3 and later)
 */
"coalesce((SELECT string_agg(c.member_id || '=' || coalesce(j->>'slot', '') || '/' "
"|| coalesce(j->>'logical_slots', ''), ',') "
"FROM raft_ext.raft_cluster c, to_jsonb(c) j "
"WHERE j->>'slot' IS NOT NULL OR j->>'logical_slots' IS NOT NULL), '') , "
/*
 * its failover slots, "name=confirmed_flush bytes,..." (17 and later: the
 * primary's originals, a standby's synced copies)
 */
"coalesce((SELECT string_agg(r.slot_name || '=' || (r.confirmed_flush_lsn - '0/0'), ',') "
"FROM pg_replication_slots r, to_jsonb(r) j WHERE r.confirmed_flush_lsn IS NOT NULL "
"AND CASE WHEN s.in_recovery THEN j->>'synced' = 'true' ELSE j->>'failover' = 'true' END), '') "
"FROM raft_ext.raft_status s";

/* Take a member's answer to probe_query. */
static void
take_answer(Member *m)
{
	PGresult   *res;
	bool		ok = false;

	while ((res = PQgetResult(m->conn)) != NULL)
	{
		if (!ok && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		{
			ok = true;
			strlcpy(m->raft_role, PQgetvalue(res, 0, 0), sizeof(m->raft_role));
			m->term = atoll(PQgetvalue(res, 0, 1));
			m->leader = atoi(PQgetvalue(res, 0, 2));
			m->has_lease = PQgetvalue(res, 0, 3)[0] == 't';
			m->in_recovery = PQgetvalue(res, 0, 4)[0] == 't';
			m->timeline = atoi(PQgetvalue(res, 0, 5));
			strlcpy(m->lsn, PQgetvalue(res, 0, 6), sizeof(m->lsn));
			m->lsn_bytes = strtoull(PQgetvalue(res, 0, 7), NULL, 10);
			strlcpy(m->state, PQgetvalue(res, 0, 8), sizeof(m->state));
			strlcpy(m->standing, PQgetvalue(res, 0, 9), sizeof(m->standing));
			strlcpy(m->raft_error, PQgetvalue(res, 0, 10), sizeof(m->raft_error));
			strlcpy(m->auto_promote, PQgetvalue(res, 0, 11), sizeof(m->auto_promote));
			strlcpy(m->slots, PQgetvalue(res, 0, 12), sizeof(m->slots));
			strlcpy(m->failover_slots, PQgetvalue(res, 0, 13), sizeof(m->failover_slots));
		}
		else if (!ok)
			snprintf(m->error, sizeof(m->error), "%s", trimmed(PQerrorMessage(m->conn)));
		PQclear(res);
	}
	m->reachable = ok;
	m->phase = PHASE_DONE;
}

/* See raftctl.h. */
bool
list_next_item(const char **p, const char **key, int *key_len, const char **value, int *value_len)
{
	const char *eq = strchr(*p, '=');
	const char *end = strchr(*p, ',');

	if (**p == '\0')
		return false;
	if (end == NULL)
		end = *p + strlen(*p);
	if (eq == NULL || eq > end)
		return false;
	*key = *p;
	*key_len = (int) (eq - *p);
	*value = eq + 1;
	*value_len = (int) (end - eq - 1);
	*p = *end ? end + 1 : end;
	return true;
}

/*
 * Each member's slot on the primary and its copies of the failover slots,
 * from the primary's answer ("id=state/logical,..."): "" where the primary
 * knows none (or there is no primary).
 */
static void
take_slots(Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	const char *p,
			   *key,
			   *value;
	int			key_len,
				value_len;

	for (int i = 0; i < n; i++)
		members[i].slot[0] = members[i].logical[0] = '\0';
	if (primary == NULL)
		return;
	p = primary->slots;
	while (list_next_item(&p, &key, &key_len, &value, &value_len))
	{
		Member	   *m = member_by_id(members, n, atoi(key));
		const char *slash = memchr(value, '/', value_len);
		int			slot_len = slash ? (int) (slash - value) : value_len;

		if (m == NULL)
			continue;
		snprintf(m->slot, sizeof(m->slot), "%.*s", slot_len, value);
		if (slash)
			snprintf(m->logical, sizeof(m->logical), "%.*s",
					 value_len - slot_len - 1, slash + 1);
	}
}

/* See raftctl.h. */
long long
list_position(const char *list, const char *name, int name_len)
{
	const char *p = list,
			   *key,
			   *value;
	int			key_len,
				value_len;

	while (list_next_item(&p, &key, &key_len, &value, &value_len))
		if (key_len == name_len && strncmp(key, name, name_len) == 0)
			return atoll(value);
	return -1;
}

/*
 * How far each standby's copies of the failover slots trail the primary's
 * slots: the most, in bytes, over the slots both have (-1: no primary, no
 * failover slot on it, or no copy here).  A slot the primary made a moment
 * ago may have no copy yet: logical_slots says whether all are ready.
 */
static void
take_logical_behind(Member *members, int n)
{
	const Member *primary = primary_of(members, n);

	for (int i = 0; i < n; i++)
	{
		Member	   *m = &members[i];
		const char *p,
				   *key,
				   *value;
		int			key_len,
					value_len;

		m->logical_behind = -1;
		if (primary == NULL || m == primary || !m->reachable)
			continue;
		p = primary->failover_slots;
		while (list_next_item(&p, &key, &key_len, &value, &value_len))
		{
			long long	copy = list_position(m->failover_slots, key, key_len);

			if (copy >= 0)
				m->logical_behind = Max(m->logical_behind, Max(atoll(value) - copy, 0));
		}
	}
}

/* A member's connection failed or ended: note why, close it. */
static void
member_failed(Member *m, const char *why)
{
	if (why)
		strlcpy(m->error, why, sizeof(m->error));
	else if (m->conn)
		snprintf(m->error, sizeof(m->error), "%s", trimmed(PQerrorMessage(m->conn)));
	m->reachable = false;
	m->phase = PHASE_DONE;
}

/* One step of a member's connection or query, after poll() said so. */
static void
advance(Member *m)
{
	if (m->phase == PHASE_CONNECTING)
	{
		m->poll_status = PQconnectPoll(m->conn);
		if (m->poll_status == PGRES_POLLING_FAILED)
			member_failed(m, NULL);
		else if (m->poll_status == PGRES_POLLING_OK)
		{
			if (!PQsendQuery(m->conn, probe_query))
				member_failed(m, NULL);
			else
				m->phase = PHASE_QUERYING;
		}
	}
	else if (m->phase == PHASE_QUERYING)
	{
		if (!PQconsumeInput(m->conn))
			member_failed(m, NULL);
		else if (!PQisBusy(m->conn))
			take_answer(m);
	}
}

/* Milliseconds on a monotonic clock. */
long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Ask every member about itself at once: non-blocking connections and
 * queries, one deadline (CONNECT_TIMEOUT) for them all.
 */
void
probe_all(Member *members, int n)
{
	struct pollfd fds[MAX_MEMBERS];
	int			which[MAX_MEMBERS];
	long long	deadline = now_ms() + CONNECT_TIMEOUT * 1000;

	for (int i = 0; i < n; i++)
	{
		Member	   *m = &members[i];

		m->reachable = false;
		m->error[0] = '\0';
		m->conn = start_member_connection(m->conninfo);
		m->phase = PHASE_CONNECTING;
		/* As if PQconnectPoll had returned PGRES_POLLING_WRITING. */
		m->poll_status = PGRES_POLLING_WRITING;
		if (m->conn == NULL)
			member_failed(m, "out of memory");
		else if (PQstatus(m->conn) == CONNECTION_BAD)
			member_failed(m, NULL);
	}
	for (;;)
	{
		int			k = 0;
		long long	left = deadline - now_ms();

		for (int i = 0; i < n; i++)
		{
			Member	   *m = &members[i];

			if (m->phase == PHASE_DONE)
				continue;
			fds[k].fd = PQsocket(m->conn);
			fds[k].events = (m->phase == PHASE_CONNECTING &&
							 m->poll_status == PGRES_POLLING_WRITING) ? POLLOUT : POLLIN;
			fds[k].revents = 0;
			which[k++] = i;
		}
		if (k == 0)
			break;
		if (left <= 0)
		{
			for (int j = 0; j < k; j++)
				member_failed(&members[which[j]], "no answer within the connect timeout");
			break;
		}
		if (poll(fds, k, (int) Min(left, 200)) < 0 && errno != EINTR)
			break;
		for (int j = 0; j < k; j++)
			if (fds[j].revents != 0)
				advance(&members[which[j]]);
	}
	for (int i = 0; i < n; i++)
	{
		if (members[i].conn)
			PQfinish(members[i].conn);
		members[i].conn = NULL;
	}
	take_slots(members, n);
	take_logical_behind(members, n);
}

/*
 * Read the members from the node given by -d.  Returns the count, or exits
 * with a clear message (69 unreachable or no raft_ext, 3 privileges).
 */
int
read_members(const char *conninfo, Member *members, char *cluster, size_t clen)
{
	char		error[1024];
	PGconn	   *conn = connect_to(conninfo, error, sizeof(error));
	PGresult   *res;
	int			n;

	if (conn == NULL)
	{
		fprintf(stderr, "%s: could not connect to the node: %s\n", progname, error);
		exit(EXIT_UNREACHABLE);
	}
	/* An empty cluster_name stands for "pg-" and the system identifier. */
	res = PQexec(conn, "SELECT peer_id, conninfo, "
				 "coalesce(nullif(current_setting('raft_ext.cluster_name'), ''), "
				 "'pg-' || (SELECT system_identifier FROM pg_control_system())) "
				 "FROM raft_ext.raft_peers ORDER BY peer_id");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		exit(report_failure(conn, res, EXIT_UNREACHABLE, "could not read the members",
							EXIT_UNREACHABLE,
							"is raft_ext installed on that node (CREATE EXTENSION raft_ext)?"));
	n = PQntuples(res);
	if (n > MAX_MEMBERS)
		n = MAX_MEMBERS;
	for (int i = 0; i < n; i++)
	{
		memset(&members[i], 0, sizeof(Member));
		members[i].id = atoi(PQgetvalue(res, i, 0));
		members[i].conninfo = strdup(PQgetvalue(res, i, 1));
		host_of(members[i].conninfo, members[i].host, sizeof(members[i].host));
	}
	strlcpy(cluster, n > 0 ? PQgetvalue(res, 0, 2) : "", clen);
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* The primary: reachable, out of recovery, holding the lease; or NULL. */
const Member *
primary_of(const Member *members, int n)
{
	for (int i = 0; i < n; i++)
		if (members[i].reachable && !members[i].in_recovery && members[i].has_lease)
			return &members[i];
	return NULL;
}

/* The member that leads among the probed ones, or NULL. */
Member *
leader_of(Member *members, int n)
{
	for (int i = 0; i < n; i++)
		if (members[i].reachable && strcmp(members[i].raft_role, "leader") == 0)
			return &members[i];
	return NULL;
}

/* The member with this id, or NULL. */
Member *
member_by_id(Member *members, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (members[i].id == id)
			return &members[i];
	return NULL;
}

/* The member's role for people: Primary, Replica, Fenced, or "-". */
const char *
pg_role(const Member *m, const Member *primary)
{
	if (!m->reachable)
		return "-";
	return m == primary ? "Primary" : m->in_recovery ? "Replica" : "Fenced";
}

/*
 * The cluster's health: no primary (2); degraded (1) when a member is
 * unreachable, fenced, on a forked timeline, or a replica that does not
 * stream; else healthy (0).
 */
int
health_of(const Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	int			code = EXIT_HEALTHY;

	if (primary == NULL)
		return EXIT_NO_PRIMARY;
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		if (!m->reachable || strcmp(m->standing, "forked") == 0 ||
			(m != primary && (!m->in_recovery || strcmp(m->state, "streaming") != 0)))
			code = EXIT_DEGRADED;
	}
	return code;
}
