/*
 * raftctl.c
 *	  raftctl: list a raft_ext cluster's members, watch it, show its failover
 *	  history, and perform a planned switchover or a failover to a chosen
 *	  candidate, from any machine that can reach the nodes.
 *
 *	  raftctl [-d CONNINFO] [-f table|json] list
 *	  raftctl [-d CONNINFO] [-f table|json] status [--watch [SECONDS]] [--count N]
 *	  raftctl [-d CONNINFO] [-f table|json] history
 *	  raftctl [-d CONNINFO] switchover --to ID [--timeout SECONDS] [--force]
 *	  raftctl [-d CONNINFO] failover --candidate ID [--timeout SECONDS] [--force]
 *	  raftctl --version
 *
 * CONNINFO names any one member; raftctl reads the members' addresses from
 * its raft_ext.raft_peers and connects to all of them at once (one connect
 * timeout for all), with the host and port raft_peers gives and everything
 * else (user, password, dbname, TLS options) from CONNINFO; a member's own
 * dbname is used when CONNINFO names none.  Exit codes: see usage().
 */
#include "postgres_fe.h"

#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define RAFTCTL_VERSION	"1.2"

/* list and status: the cluster's health */
#define EXIT_HEALTHY	0
#define EXIT_DEGRADED	1
#define EXIT_NO_PRIMARY 2
/* every command */
#define EXIT_PRIVILEGE	3
#define EXIT_FAILED		4		/* switchover or failover failed or refused */
#define EXIT_USAGE		64		/* sysexits.h's EX_USAGE */
#define EXIT_UNREACHABLE 69		/* sysexits.h's EX_UNAVAILABLE */

#define MAX_MEMBERS		64
#define CONNECT_TIMEOUT 5		/* seconds, for all members together */

typedef enum Phase
{
	PHASE_CONNECTING,
	PHASE_QUERYING,
	PHASE_DONE
} Phase;

/* What one member says of itself (or why it said nothing). */
typedef struct Member
{
	int			id;
	char	   *conninfo;		/* as raft_peers shows it to us */
	char		host[256];
	PGconn	   *conn;
	Phase		phase;
	PostgresPollingStatusType poll_status;
	bool		reachable;
	char		error[256];
	char		raft_role[32];
	long long	term;
	int			leader;			/* 0: none known */
	bool		has_lease;
	bool		in_recovery;
	int			timeline;
	char		lsn[32];
	unsigned long long lsn_bytes;
	char		state[32];
	char		standing[32];	/* timeline_standing, "" if unknown */
	char		raft_error[256];	/* raft_status.error */
	char		auto_promote[16];
} Member;

typedef enum Format
{
	FORMAT_TABLE,
	FORMAT_JSON
} Format;

static const char *progname = "raftctl";

/* The options of -d, parsed: used for every member but host and port. */
static PQconninfoOption *d_options = NULL;

/* Print usage on stream. */
static void
usage(FILE *stream)
{
	fprintf(stream,
			"%s lists a raft_ext cluster, shows its failover history and performs\n"
			"switchovers and failovers.\n\n"
			"Usage:\n"
			"  %s [-d CONNINFO] [-f table|json] list\n"
			"  %s [-d CONNINFO] [-f table|json] status [--watch [SECONDS]] [--count N]\n"
			"  %s [-d CONNINFO] [-f table|json] history\n"
			"  %s [-d CONNINFO] switchover --to ID [--timeout SECONDS] [--force]\n"
			"  %s [-d CONNINFO] failover --candidate ID [--timeout SECONDS] [--force]\n"
			"  %s --version\n\n"
			"CONNINFO names any member (libpq defaults if omitted); its user, password,\n"
			"dbname and other options are used for every member, at the host and port\n"
			"raft_peers gives.  Members are asked in parallel (%d s connect timeout).\n"
			"switchover and failover ask for confirmation unless --force is given.\n\n"
			"Exit codes:\n"
			"  0   done; list/status: healthy (a primary, every member up and streaming)\n"
			"  1   list/status: degraded (a member unreachable, fenced, forked or\n"
			"      not streaming)\n"
			"  2   list/status: no primary\n"
			"  3   missing privileges\n"
			"  4   switchover or failover refused, failed or timed out\n"
			"  64  bad usage\n"
			"  69  the node given by -d cannot be reached or has no raft_ext\n",
			progname, progname, progname, progname, progname, progname, progname,
			CONNECT_TIMEOUT);
}

/* Exit code for a failed query: 3 for insufficient privilege. */
static int
exit_code_of(const PGresult *res, int otherwise)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return (state && strcmp(state, "42501") == 0) ? EXIT_PRIVILEGE : otherwise;
}

/* A libpq message without its trailing newline. */
static const char *
trimmed(const char *message)
{
	static char buf[1024];
	size_t		len;

	strlcpy(buf, message ? message : "", sizeof(buf));
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return buf;
}

/*
 * Report the failed query 'res' as "what: the server's message", then
 * "hint: ..." when its exit code (exit_code_of, 'otherwise' as there) is
 * hint_code.  Returns that exit code.
 */
static int
report_failure(PGconn *conn, const PGresult *res, int otherwise,
			   const char *what, int hint_code, const char *hint)
{
	int			code = exit_code_of(res, otherwise);

	fprintf(stderr, "%s: %s: %s\n", progname, what, trimmed(PQerrorMessage(conn)));
	if (code == hint_code)
		fprintf(stderr, "%s: hint: %s\n", progname, hint);
	return code;
}

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
 * Start connecting to a member: host, hostaddr and port from its raft_peers
 * address, everything else from -d, its own dbname if -d names none.
 * Non-blocking (PQconnectStartParams); NULL only when out of memory.
 */
static PGconn *
start_member_connection(const char *conninfo)
{
	PQconninfoOption *peer = PQconninfoParse(conninfo, NULL);
	const char *keys[64];
	const char *vals[64];
	int			k = 0;
	PGconn	   *conn;

	for (PQconninfoOption *o = d_options; o && o->keyword && k < 56; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || is_target(o->keyword) ||
			strcmp(o->keyword, "application_name") == 0)
			continue;
		keys[k] = o->keyword;
		vals[k++] = o->val;
	}
	for (PQconninfoOption *o = peer; o && o->keyword && k < 60; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (is_target(o->keyword) ||
			(strcmp(o->keyword, "dbname") == 0 && option(d_options, "dbname") == NULL))
		{
			keys[k] = o->keyword;
			vals[k++] = o->val;
		}
	}
	keys[k] = "application_name";
	vals[k++] = "raftctl";
	keys[k] = NULL;
	vals[k] = NULL;
	conn = PQconnectStartParams(keys, vals, 0);
	if (peer)
		PQconninfoFree(peer);
	return conn;
}

/* Connect to the node -d names (blocking, with the connect timeout). */
static PGconn *
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
static void
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

/* What a member is asked about itself. */
static const char *const probe_query =
"SELECT s.role, s.term, coalesce(s.leader_id, 0), s.has_lease, "
"s.in_recovery, s.timeline, s.wal_position, "
"s.wal_position - '0/0'::pg_lsn, "
"CASE WHEN NOT s.in_recovery THEN 'running' "
"ELSE coalesce((SELECT status FROM pg_stat_wal_receiver), 'in recovery') END, "
"coalesce(to_jsonb(s)->>'timeline_standing', ''), coalesce(s.error, ''), "
"coalesce(current_setting('raft_ext.auto_promote', true), '') "
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
		}
		else if (!ok)
			snprintf(m->error, sizeof(m->error), "%s", trimmed(PQerrorMessage(m->conn)));
		PQclear(res);
	}
	m->reachable = ok;
	m->phase = PHASE_DONE;
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
static long long
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
static void
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
}

/*
 * Read the members from the node given by -d.  Returns the count, or exits
 * with a clear message (69 unreachable or no raft_ext, 3 privileges).
 */
static int
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
static const Member *
primary_of(const Member *members, int n)
{
	for (int i = 0; i < n; i++)
		if (members[i].reachable && !members[i].in_recovery && members[i].has_lease)
			return &members[i];
	return NULL;
}

/* The member by id, or NULL. */
static Member *
member_by_id(Member *members, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (members[i].id == id)
			return &members[i];
	return NULL;
}

/* The member's role for people: Primary, Replica, Fenced, or "-". */
static const char *
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
static int
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

static const char *const health_names[] = {"healthy", "degraded", "no primary"};

/* Print s as a JSON string (quoted, escaped); null if s is NULL. */
static void
json_string(const char *s)
{
	if (s == NULL)
	{
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", stdout);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

/* The highest term reachable members report, and the leader they name. */
static void
term_and_leader(const Member *members, int n, long long *term, int *leader)
{
	*term = 0;
	*leader = 0;
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		if (m->reachable && m->term >= *term)
		{
			*term = m->term;
			if (m->leader)
				*leader = m->leader;
		}
	}
}

/* Print the members as JSON: one object, the members in an array. */
static void
print_json(const char *cluster, const Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	long long	term;
	int			leader;

	term_and_leader(members, n, &term, &leader);
	printf("{\"cluster\": ");
	json_string(cluster);
	printf(", \"term\": %lld, \"leader\": ", term);
	if (leader)
		printf("%d", leader);
	else
		fputs("null", stdout);
	fputs(", \"primary\": ", stdout);
	if (primary)
		printf("%d", primary->id);
	else
		fputs("null", stdout);
	printf(", \"health\": \"%s\", \"members\": [", health_names[health_of(members, n)]);
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		printf("%s\n  {\"id\": %d, \"host\": ", i ? "," : "", m->id);
		json_string(m->host);
		printf(", \"reachable\": %s", m->reachable ? "true" : "false");
		if (!m->reachable)
		{
			fputs(", \"error\": ", stdout);
			json_string(m->error);
			putchar('}');
			continue;
		}
		fputs(", \"role\": ", stdout);
		json_string(m == primary ? "primary" : m->in_recovery ? "replica" : "fenced");
		fputs(", \"raft_role\": ", stdout);
		json_string(m->raft_role);
		fputs(", \"state\": ", stdout);
		json_string(m->state);
		printf(", \"term\": %lld, \"timeline\": %d, \"lsn\": ", m->term, m->timeline);
		json_string(m->lsn);
		fputs(", \"lag_bytes\": ", stdout);
		if (primary && m != primary && primary->lsn_bytes >= m->lsn_bytes)
			printf("%llu", primary->lsn_bytes - m->lsn_bytes);
		else
			fputs("null", stdout);
		fputs(", \"timeline_standing\": ", stdout);
		json_string(m->standing[0] ? m->standing : NULL);
		fputs(", \"error\": ", stdout);
		json_string(m->raft_error[0] ? m->raft_error : NULL);
		putchar('}');
	}
	printf("\n]}\n");
}

/* Print the members as a table, like patronictl list. */
static void
print_table(const char *cluster, const Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	long long	term;
	int			leader;
	char		leader_text[16] = "none";

	term_and_leader(members, n, &term, &leader);
	if (leader)
		snprintf(leader_text, sizeof(leader_text), "%d", leader);
	printf("Cluster: %s (term %lld, leader %s, %s)\n",
		   cluster[0] ? cluster : "(default)", term, leader_text,
		   health_names[health_of(members, n)]);
	printf("%-6s | %-24s | %-7s | %-12s | %-11s | %3s | %-12s | %s\n",
		   "Member", "Host", "Role", "Raft", "State", "TL", "LSN", "Lag in MB");
	printf("-------+--------------------------+---------+--------------+-------------+-----+--------------+----------\n");
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];
		char		lag[32] = "";

		if (!m->reachable)
		{
			printf("%-6d | %-24s | %-7s | %-12s | %-11s | %3s | %-12s | %s\n",
				   m->id, m->host, "-", "-", "unreachable", "", "", "");
			continue;
		}
		if (primary && m != primary && primary->lsn_bytes >= m->lsn_bytes)
			snprintf(lag, sizeof(lag), "%.1f",
					 (double) (primary->lsn_bytes - m->lsn_bytes) / (1024.0 * 1024.0));
		printf("%-6d | %-24s | %-7s | %-12s | %-11s | %3d | %-12s | %s%s\n",
			   m->id, m->host, pg_role(m, primary),
			   m->raft_role, m->state, m->timeline, m->lsn, lag,
			   strcmp(m->standing, "forked") == 0 ? " (forked)" : "");
	}
	for (int i = 0; i < n; i++)
		if (!members[i].reachable)
			fprintf(stderr, "%s: member %d: %s\n", progname, members[i].id, members[i].error);
}

/* list and status: one table, or one every interval seconds; the health. */
static int
cmd_list(const char *conninfo, Format format, int watch, int count)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	int			done = 0;

	for (;;)
	{
		int			n = read_members(conninfo, members, cluster, sizeof(cluster));
		int			code;

		probe_all(members, n);
		if (watch > 0 && format == FORMAT_TABLE && isatty(fileno(stdout)))
			printf("\033[H\033[2J");
		if (format == FORMAT_JSON)
			print_json(cluster, members, n);
		else
			print_table(cluster, members, n);
		fflush(stdout);
		code = health_of(members, n);
		for (int i = 0; i < n; i++)
			free(members[i].conninfo);
		done++;
		if (watch <= 0 || (count > 0 && done >= count))
			return code;
		if (format == FORMAT_TABLE)
			printf("\n");
		sleep((unsigned) watch);
	}
}

/* history: the timeline history in the Raft log, oldest first. */
static int
cmd_history(const char *conninfo, Format format)
{
	char		error[1024];
	PGconn	   *conn = connect_to(conninfo, error, sizeof(error));
	PGresult   *res;
	int			n;

	if (conn == NULL)
	{
		fprintf(stderr, "%s: could not connect to the node: %s\n", progname, error);
		return EXIT_UNREACHABLE;
	}
	/* The old primary: the node of the step before (none for the first). */
	res = PQexec(conn,
				 "SELECT step, term, coalesce((lag(node_id) OVER w)::text, ''), node_id, "
				 "timeline, coalesce(parent_timeline::text, ''), coalesce(begins_at::text, ''), "
				 "coalesce(to_char(promoted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', ''), "
				 "coalesce(reason, ''), committed "
				 "FROM raft_ext.raft_timeline_history WINDOW w AS (ORDER BY step) ORDER BY step");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		int			code = report_failure(conn, res, EXIT_UNREACHABLE,
										  "could not read the history", EXIT_UNREACHABLE,
										  "the history needs raft_ext 1.2 (ALTER EXTENSION raft_ext UPDATE)");

		PQclear(res);
		PQfinish(conn);
		return code;
	}
	n = PQntuples(res);
	if (format == FORMAT_JSON)
	{
		printf("[");
		for (int i = 0; i < n; i++)
		{
			printf("%s\n  {\"step\": %s, \"term\": %s, \"old_primary\": %s, "
				   "\"new_primary\": %s, \"timeline\": %s, \"parent_timeline\": %s, \"lsn\": ",
				   i ? "," : "", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				   PQgetvalue(res, i, 2)[0] ? PQgetvalue(res, i, 2) : "null",
				   PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
				   PQgetvalue(res, i, 5)[0] ? PQgetvalue(res, i, 5) : "null");
			json_string(PQgetvalue(res, i, 6)[0] ? PQgetvalue(res, i, 6) : NULL);
			fputs(", \"time\": ", stdout);
			json_string(PQgetvalue(res, i, 7)[0] ? PQgetvalue(res, i, 7) : NULL);
			fputs(", \"reason\": ", stdout);
			json_string(PQgetvalue(res, i, 8));
			printf(", \"committed\": %s}", PQgetvalue(res, i, 9)[0] == 't' ? "true" : "false");
		}
		printf("\n]\n");
	}
	else
	{
		printf("%-4s | %-6s | %-11s | %-11s | %3s | %-12s | %-23s | %s\n",
			   "Step", "Term", "Old primary", "New primary", "TL", "LSN", "Time", "Reason");
		printf("-----+--------+-------------+-------------+-----+--------------+-------------------------+--------\n");
		for (int i = 0; i < n; i++)
			printf("%-4s | %-6s | %-11s | %-11s | %3s | %-12s | %-23s | %s%s\n",
				   PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				   PQgetvalue(res, i, 2)[0] ? PQgetvalue(res, i, 2) : "-",
				   PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 6),
				   PQgetvalue(res, i, 7), PQgetvalue(res, i, 8),
				   PQgetvalue(res, i, 9)[0] == 't' ? "" : " (not committed yet)");
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/* Ask "question [y/N]" on the terminal; whether the answer was yes. */
static bool
confirmed(const char *question)
{
	char		answer[64];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin) == NULL)
	{
		fprintf(stderr, "\n%s: no answer (use --force in scripts)\n", progname);
		return false;
	}
	return answer[0] == 'y' || answer[0] == 'Y';
}

/*
 * Hand leadership to target through the leader, repeating every 3 s, until
 * target is the primary (0) or timeout passes (4); 3 without privileges.
 */
static int
hand_over(Member *members, int n, Member *target_m, int timeout)
{
	time_t		deadline = time(NULL) + timeout;
	time_t		next_request = 0;
	int			target = target_m->id;

	while (time(NULL) < deadline)
	{
		Member	   *leader = NULL;

		probe_all(members, n);
		if (target_m->reachable && target_m->has_lease && !target_m->in_recovery)
		{
			printf("node %d is the primary (term %lld)\n", target, target_m->term);
			return 0;
		}
		for (int i = 0; i < n; i++)
			if (members[i].reachable && strcmp(members[i].raft_role, "leader") == 0)
				leader = &members[i];
		if (leader && leader != target_m && time(NULL) >= next_request)
		{
			PGconn	   *conn = start_member_connection(leader->conninfo);
			char		sql[128];

			/* A blocking connection now: wait for the non-blocking start. */
			while (conn && PQstatus(conn) != CONNECTION_BAD)
			{
				PostgresPollingStatusType st = PQconnectPoll(conn);
				struct pollfd pfd = {PQsocket(conn), 0, 0};

				if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
					break;
				pfd.events = st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN;
				if (poll(&pfd, 1, CONNECT_TIMEOUT * 1000) <= 0)
					break;
			}
			if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
				fprintf(stderr, "%s: could not connect to the leader (node %d): %s\n",
						progname, leader->id, conn ? trimmed(PQerrorMessage(conn)) : "out of memory");
			else
			{
				PGresult   *res;

				snprintf(sql, sizeof(sql), "SELECT raft_ext.transfer_leadership(%d)", target);
				printf("asking node %d (the leader) to hand leadership to node %d\n",
					   leader->id, target);
				fflush(stdout);
				res = PQexec(conn, sql);
				if (PQresultStatus(res) != PGRES_TUPLES_OK)
				{
					int			code = report_failure(conn, res, 0, "the leader refused",
													  EXIT_PRIVILEGE,
													  "a superuser must grant EXECUTE on raft_ext.transfer_leadership(int)");

					if (code == EXIT_PRIVILEGE)
					{
						PQclear(res);
						PQfinish(conn);
						return code;
					}
				}
				PQclear(res);
			}
			if (conn)
				PQfinish(conn);
			next_request = time(NULL) + 3;
		}
		usleep(200 * 1000);
	}
	fprintf(stderr, "%s: node %d did not become the primary within %d s\n",
			progname, target, timeout);
	return EXIT_FAILED;
}

/* switchover: confirm, then hand leadership to target and wait. */
static int
cmd_switchover(const char *conninfo, int target, int timeout, bool force)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	char		question[256];
	int			n = read_members(conninfo, members, cluster, sizeof(cluster));
	Member	   *target_m = member_by_id(members, n, target);
	const Member *primary;

	if (target_m == NULL)
	{
		fprintf(stderr, "%s: node %d is not a member of the cluster\n", progname, target);
		return EXIT_USAGE;
	}
	probe_all(members, n);
	primary = primary_of(members, n);
	if (primary == target_m)
	{
		printf("node %d is the primary already (term %lld)\n", target, target_m->term);
		return 0;
	}
	snprintf(question, sizeof(question),
			 "Switch over from %s%d to node %d in cluster %s?",
			 primary ? "node " : "", primary ? primary->id : 0, target, cluster);
	if (primary == NULL)
		snprintf(question, sizeof(question),
				 "No primary now. Hand leadership to node %d in cluster %s?", target, cluster);
	if (!force && !confirmed(question))
		return EXIT_FAILED;
	return hand_over(members, n, target_m, timeout);
}

/*
 * failover: for a cluster without a primary.  Refused while a primary
 * exists (switchover is the planned way); when nobody leads, says why.
 */
static int
cmd_failover(const char *conninfo, int candidate, int timeout, bool force)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	char		question[256];
	int			n = read_members(conninfo, members, cluster, sizeof(cluster));
	Member	   *cand = member_by_id(members, n, candidate);
	const Member *primary;
	const Member *leader = NULL;
	int			reachable = 0;

	if (cand == NULL)
	{
		fprintf(stderr, "%s: node %d is not a member of the cluster\n", progname, candidate);
		return EXIT_USAGE;
	}
	probe_all(members, n);
	primary = primary_of(members, n);
	if (primary == cand)
	{
		printf("node %d is the primary already (term %lld)\n", candidate, cand->term);
		return 0;
	}
	if (primary != NULL)
	{
		fprintf(stderr, "%s: node %d is the primary: use \"switchover --to %d\" for a planned change\n",
				progname, primary->id, candidate);
		return EXIT_FAILED;
	}
	if (!cand->reachable)
	{
		fprintf(stderr, "%s: the candidate, node %d, cannot be reached: %s\n",
				progname, candidate, cand->error);
		return EXIT_FAILED;
	}
	for (int i = 0; i < n; i++)
	{
		if (!members[i].reachable)
			continue;
		reachable++;
		if (strcmp(members[i].raft_role, "leader") == 0)
			leader = &members[i];
	}
	if (leader == NULL)
	{
		fprintf(stderr, "%s: no member leads, so none can hand leadership to node %d: "
				"%d of %d members answer (a leader needs a majority of the voters)\n",
				progname, candidate, reachable, n);
		for (int i = 0; i < n; i++)
		{
			const Member *m = &members[i];

			if (!m->reachable)
				fprintf(stderr, "%s: member %d: unreachable: %s\n", progname, m->id, m->error);
			else
				fprintf(stderr, "%s: member %d: Raft %s in term %lld%s%s\n", progname, m->id,
						m->raft_role, m->term, m->raft_error[0] ? ": " : "", m->raft_error);
		}
		return EXIT_FAILED;
	}
	if (leader == cand)
	{
		fprintf(stderr, "%s: node %d leads but is not a primary with the lease%s%s%s\n",
				progname, candidate,
				cand->raft_error[0] ? ": " : "", cand->raft_error,
				strcmp(cand->auto_promote, "off") == 0 ?
				" (raft_ext.auto_promote is off on it: promote it with pg_ctl promote)" : "");
		return EXIT_FAILED;
	}
	snprintf(question, sizeof(question),
			 "No primary in cluster %s. Fail over to node %d (node %d leads now)?",
			 cluster, candidate, leader->id);
	if (!force && !confirmed(question))
		return EXIT_FAILED;
	return hand_over(members, n, cand, timeout);
}

/* A positive integer argument, or exit with usage. */
static int
int_arg(const char *what, const char *value)
{
	char	   *end;
	long		v = value ? strtol(value, &end, 10) : 0;

	if (value == NULL || *end != '\0' || v <= 0 || v > 1000000000)
	{
		fprintf(stderr, "%s: %s must be a positive integer\n", progname, what);
		exit(EXIT_USAGE);
	}
	return (int) v;
}

int
main(int argc, char **argv)
{
	const char *conninfo = "";
	const char *command = NULL;
	int			target = 0;
	int			candidate = 0;
	int			timeout = 60;
	int			watch = 0;
	int			count = 0;
	bool		force = false;
	Format		format = FORMAT_TABLE;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		{
			usage(stdout);
			return 0;
		}
		else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
		{
			printf("raftctl (raft_ext) %s\n", RAFTCTL_VERSION);
			return 0;
		}
		else if (strcmp(a, "-d") == 0 || strcmp(a, "--dbname") == 0)
		{
			if (++i >= argc)
			{
				fprintf(stderr, "%s: %s needs a connection string\n", progname, a);
				return EXIT_USAGE;
			}
			conninfo = argv[i];
		}
		else if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0)
		{
			const char *f = ++i < argc ? argv[i] : "";

			if (strcmp(f, "json") == 0)
				format = FORMAT_JSON;
			else if (strcmp(f, "table") == 0)
				format = FORMAT_TABLE;
			else
			{
				fprintf(stderr, "%s: %s must be table or json\n", progname, a);
				return EXIT_USAGE;
			}
		}
		else if (strcmp(a, "--to") == 0)
			target = int_arg("--to", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--candidate") == 0)
			candidate = int_arg("--candidate", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--timeout") == 0)
			timeout = int_arg("--timeout", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--count") == 0)
			count = int_arg("--count", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--force") == 0)
			force = true;
		else if (strcmp(a, "--watch") == 0)
		{
			watch = 2;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				watch = int_arg("--watch", argv[++i]);
		}
		else if (command == NULL && a[0] != '-')
			command = a;
		else
		{
			fprintf(stderr, "%s: unexpected argument \"%s\"\n", progname, a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}

	/* -d's options (user, password, dbname ...) serve every member. */
	{
		char	   *err = NULL;

		d_options = PQconninfoParse(conninfo, &err);
		if (d_options == NULL)
		{
			fprintf(stderr, "%s: invalid -d: %s\n", progname, trimmed(err ? err : "out of memory"));
			return EXIT_USAGE;
		}
	}

	if (command == NULL)
	{
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(command, "list") == 0)
		return cmd_list(conninfo, format, 0, 0);
	if (strcmp(command, "status") == 0)
		return cmd_list(conninfo, format, watch, count);
	if (strcmp(command, "history") == 0)
		return cmd_history(conninfo, format);
	if (strcmp(command, "switchover") == 0)
	{
		if (target == 0)
		{
			fprintf(stderr, "%s: switchover needs --to ID\n", progname);
			return EXIT_USAGE;
		}
		return cmd_switchover(conninfo, target, timeout, force);
	}
	if (strcmp(command, "failover") == 0)
	{
		if (candidate == 0)
		{
			fprintf(stderr, "%s: failover needs --candidate ID\n", progname);
			return EXIT_USAGE;
		}
		return cmd_failover(conninfo, candidate, timeout, force);
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n", progname, command);
	usage(stderr);
	return EXIT_USAGE;
}
