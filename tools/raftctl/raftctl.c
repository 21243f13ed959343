/*
 * raftctl.c
 *	  raftctl: list a raft_ext cluster's members, watch it, and perform a
 *	  planned switchover, from any machine that can reach the nodes.
 *
 *	  raftctl [-d CONNINFO] list
 *	  raftctl [-d CONNINFO] status [--watch [SECONDS]] [--count N]
 *	  raftctl [-d CONNINFO] switchover --to ID [--timeout SECONDS]
 *
 * CONNINFO names any one member; raftctl reads the members' addresses from
 * its raft_ext.raft_peers and connects to each of them.  Exit codes: 0 done;
 * 1 bad usage; 2 the node given by -d cannot be reached (or has no
 * raft_ext); 3 missing privileges; 4 the switchover failed or timed out.
 * Members are reached with the address raft_peers shows (without a masked
 * password: PGPASSWORD or ~/.pgpass supply it) as the user -d names, if
 * the address names none.
 */
#include "postgres_fe.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define EXIT_USAGE		1
#define EXIT_UNREACHABLE 2
#define EXIT_PRIVILEGE	3
#define EXIT_SWITCHOVER 4

#define MAX_MEMBERS		64

/* What one member says of itself (or why it said nothing). */
typedef struct Member
{
	int			id;
	char	   *conninfo;		/* as raft_peers shows it to us */
	char		host[256];
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
} Member;

static const char *progname = "raftctl";

/* The user named by -d, used for members whose address names none. */
static char *default_user = NULL;

/* Print usage on stream. */
static void
usage(FILE *stream)
{
	fprintf(stream,
			"%s lists a raft_ext cluster and performs planned switchovers.\n\n"
			"Usage:\n"
			"  %s [-d CONNINFO] list\n"
			"  %s [-d CONNINFO] status [--watch [SECONDS]] [--count N]\n"
			"  %s [-d CONNINFO] switchover --to ID [--timeout SECONDS]\n\n"
			"CONNINFO names any member (libpq defaults if omitted).\n"
			"Exit codes: 0 done, 1 bad usage, 2 node unreachable or without raft_ext,\n"
			"3 missing privileges, 4 switchover failed or timed out.\n",
			progname, progname, progname, progname);
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

/* Connect with a short timeout; NULL (message in error) if it fails. */
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

/*
 * A member's conninfo as given by raft_peers, to connect with.  A masked
 * password (non-superusers see "********") is left out: libpq then takes
 * the password from PGPASSWORD or ~/.pgpass.
 */
static char *
usable_conninfo(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char	   *out;
	size_t		cap = strlen(conninfo) * 2 + 16 +
		(default_user ? strlen(default_user) * 2 + 16 : 0);
	size_t		len = 0;
	bool		has_user = false;

	if (opts == NULL)
		return strdup(conninfo);
	out = malloc(cap);
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0 && strcmp(o->val, "********") == 0)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			has_user = true;
		len += snprintf(out + len, cap - len, "%s%s='", len ? " " : "", o->keyword);
		for (const char *c = o->val; *c && len + 3 < cap; c++)
		{
			if (*c == '\'' || *c == '\\')
				out[len++] = '\\';
			out[len++] = *c;
		}
		len += snprintf(out + len, cap - len, "'");
	}
	PQconninfoFree(opts);
	if (!has_user && default_user)
	{
		len += snprintf(out + len, cap - len, "%suser='", len ? " " : "");
		for (const char *c = default_user; *c && len + 3 < cap; c++)
		{
			if (*c == '\'' || *c == '\\')
				out[len++] = '\\';
			out[len++] = *c;
		}
		snprintf(out + len, cap - len, "'");
	}
	return out;
}

/* "host:port" of a conninfo, for the table. */
static void
host_of(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = "localhost";
	const char *port = "5432";

	if (opts)
	{
		for (PQconninfoOption *o = opts; o->keyword; o++)
		{
			if (o->val == NULL || o->val[0] == '\0')
				continue;
			if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0 && strcmp(host, "localhost") == 0))
				host = o->val;
			else if (strcmp(o->keyword, "port") == 0)
				port = o->val;
		}
	}
	snprintf(out, outlen, "%s:%s", host, port);
	if (opts)
		PQconninfoFree(opts);
}

/* Ask one member about itself. */
static void
probe(Member *m)
{
	char	   *conninfo = usable_conninfo(m->conninfo);
	PGconn	   *conn = connect_to(conninfo, m->error, sizeof(m->error));
	PGresult   *res;

	free(conninfo);
	m->reachable = false;
	if (conn == NULL)
		return;
	res = PQexec(conn,
				 "SELECT s.role, s.term, coalesce(s.leader_id, 0), s.has_lease, "
				 "s.in_recovery, s.timeline, s.wal_position, "
				 "s.wal_position - '0/0'::pg_lsn, "
				 "CASE WHEN NOT s.in_recovery THEN 'running' "
				 "ELSE coalesce((SELECT status FROM pg_stat_wal_receiver), 'in recovery') END "
				 "FROM raft_ext.raft_status s");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		snprintf(m->error, sizeof(m->error), "%s", trimmed(PQerrorMessage(conn)));
	else
	{
		m->reachable = true;
		strlcpy(m->raft_role, PQgetvalue(res, 0, 0), sizeof(m->raft_role));
		m->term = atoll(PQgetvalue(res, 0, 1));
		m->leader = atoi(PQgetvalue(res, 0, 2));
		m->has_lease = PQgetvalue(res, 0, 3)[0] == 't';
		m->in_recovery = PQgetvalue(res, 0, 4)[0] == 't';
		m->timeline = atoi(PQgetvalue(res, 0, 5));
		strlcpy(m->lsn, PQgetvalue(res, 0, 6), sizeof(m->lsn));
		m->lsn_bytes = strtoull(PQgetvalue(res, 0, 7), NULL, 10);
		strlcpy(m->state, PQgetvalue(res, 0, 8), sizeof(m->state));
	}
	PQclear(res);
	PQfinish(conn);
}

/*
 * Read the members from the node given by -d.  Returns the count, or exits
 * with a clear message (2 unreachable or no raft_ext, 3 privileges).
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

/* Print the members as a table, like patronictl list. */
static void
print_table(const char *cluster, Member *members, int n)
{
	const Member *primary = NULL;
	long long	term = 0;
	int			leader = 0;
	char		leader_text[16] = "none";

	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		if (m->reachable && m->term >= term)
		{
			term = m->term;
			if (m->leader)
				leader = m->leader;
		}
		if (m->reachable && !m->in_recovery && m->has_lease)
			primary = m;
	}
	if (leader)
		snprintf(leader_text, sizeof(leader_text), "%d", leader);
	printf("Cluster: %s (term %lld, leader %s)\n",
		   cluster[0] ? cluster : "(default)", term, leader_text);
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
		else if (m == primary)
			strlcpy(lag, "", sizeof(lag));
		printf("%-6d | %-24s | %-7s | %-12s | %-11s | %3d | %-12s | %s\n",
			   m->id, m->host,
			   m == primary ? "Primary" : m->in_recovery ? "Replica" : "Fenced",
			   m->raft_role, m->state, m->timeline, m->lsn, lag);
	}
	for (int i = 0; i < n; i++)
		if (!members[i].reachable)
			fprintf(stderr, "%s: member %d: %s\n", progname, members[i].id, members[i].error);
}

/* list and status: one table, or one every interval seconds. */
static int
cmd_list(const char *conninfo, int watch, int count)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	int			done = 0;

	for (;;)
	{
		int			n = read_members(conninfo, members, cluster, sizeof(cluster));

		for (int i = 0; i < n; i++)
			probe(&members[i]);
		if (watch > 0 && isatty(fileno(stdout)))
			printf("\033[H\033[2J");
		print_table(cluster, members, n);
		fflush(stdout);
		for (int i = 0; i < n; i++)
			free(members[i].conninfo);
		done++;
		if (watch <= 0 || (count > 0 && done >= count))
			return 0;
		printf("\n");
		sleep((unsigned) watch);
	}
}

/* switchover: ask the leader to hand over to target, wait for it to be primary. */
static int
cmd_switchover(const char *conninfo, int target, int timeout)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	int			n = read_members(conninfo, members, cluster, sizeof(cluster));
	Member	   *target_m = NULL;
	time_t		deadline = time(NULL) + timeout;
	time_t		next_request = 0;

	for (int i = 0; i < n; i++)
		if (members[i].id == target)
			target_m = &members[i];
	if (target_m == NULL)
	{
		fprintf(stderr, "%s: node %d is not a member of the cluster\n", progname, target);
		return EXIT_USAGE;
	}

	while (time(NULL) < deadline)
	{
		Member	   *leader = NULL;

		for (int i = 0; i < n; i++)
			probe(&members[i]);
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
			char		error[1024];
			char	   *ci = usable_conninfo(leader->conninfo);
			PGconn	   *conn = connect_to(ci, error, sizeof(error));
			char		sql[128];

			free(ci);
			if (conn == NULL)
				fprintf(stderr, "%s: could not connect to the leader (node %d): %s\n",
						progname, leader->id, error);
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
				PQfinish(conn);
			}
			next_request = time(NULL) + 3;
		}
		usleep(200 * 1000);
	}
	fprintf(stderr, "%s: node %d did not become the primary within %d s\n",
			progname, target, timeout);
	return EXIT_SWITCHOVER;
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
	int			timeout = 60;
	int			watch = 0;
	int			count = 0;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		{
			usage(stdout);
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
		else if (strcmp(a, "--to") == 0)
			target = int_arg("--to", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--timeout") == 0)
			timeout = int_arg("--timeout", ++i < argc ? argv[i] : NULL);
		else if (strcmp(a, "--count") == 0)
			count = int_arg("--count", ++i < argc ? argv[i] : NULL);
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

	/* The user of -d also connects to the members (if they name none). */
	{
		PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);

		for (PQconninfoOption *o = opts; o && o->keyword; o++)
			if (strcmp(o->keyword, "user") == 0 && o->val && o->val[0])
				default_user = strdup(o->val);
		if (opts)
			PQconninfoFree(opts);
	}

	if (command == NULL)
	{
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(command, "list") == 0)
		return cmd_list(conninfo, 0, 0);
	if (strcmp(command, "status") == 0)
		return cmd_list(conninfo, watch, count);
	if (strcmp(command, "switchover") == 0)
	{
		if (target == 0)
		{
			fprintf(stderr, "%s: switchover needs --to ID\n", progname);
			return EXIT_USAGE;
		}
		return cmd_switchover(conninfo, target, timeout);
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n", progname, command);
	usage(stderr);
	return EXIT_USAGE;
}
