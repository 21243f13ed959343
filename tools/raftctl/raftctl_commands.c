/*
 * raftctl_commands.c
 *	  raftctl: list (status, --watch) and history.
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

/* list and status: one table, or one every interval seconds; the health. */
int
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
int
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
