/*
 * raftctl_remove.c
 *	  raftctl remove: take a member out of the cluster through the Raft log,
 *	  in a safe order.
 *
 *	  raftctl [-d CONNINFO] remove ID [--force] [--timeout SECONDS]
 *
 * The removal is one raft_ext.remove_node() on the leader, which commits it
 * through the log (in quorum mode only once the voters that remain hold
 * every commit the primary acknowledged; the worker lowers
 * synchronous_standby_names after the change).  What raftctl adds is the
 * order: the leader is never removed under itself (a switchover first), the
 * last voter never, and the command waits until the leader's membership no
 * longer names the node.  Removing a member that is gone already succeeds,
 * so that a script can run it again.
 */
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

/*
 * On the leader: how many voters there are, whether 'id' is one and
 * whether it is a member at all.  False (with the reason printed) when the
 * leader cannot say.
 */
static bool
read_voters(PGconn *conn, int id, int *voters, bool *is_voter, bool *is_member)
{
	PGresult   *res = PQexec(conn, "SELECT peer_id, voter FROM raft_ext.raft_peers");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		report_failure(conn, res, EXIT_FAILED, "could not read the leader's members", 0, NULL);
		PQclear(res);
		return false;
	}
	*voters = 0;
	*is_voter = false;
	*is_member = false;
	for (int i = 0; i < PQntuples(res); i++)
	{
		bool		voter = strcmp(PQgetvalue(res, i, 1), "t") == 0;

		*voters += voter ? 1 : 0;
		if (atoi(PQgetvalue(res, i, 0)) == id)
		{
			*is_member = true;
			*is_voter = voter;
		}
	}
	PQclear(res);
	return true;
}

/* Parse remove's arguments; false (usage printed) if they are wrong. */
static bool
parse_remove_args(int argc, char **argv, int *id, bool *force, int *timeout)
{
	for (int i = 0; i < argc; i++)
	{
		char	   *end;
		long		v;

		if (strcmp(argv[i], "--force") == 0)
		{
			*force = true;
			continue;
		}
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
		{
			v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v <= 0 || v > 86400)
			{
				fprintf(stderr, "%s: --timeout must be between 1 and 86400 seconds\n", progname);
				return false;
			}
			*timeout = (int) v;
			continue;
		}
		v = strtol(argv[i], &end, 10);
		if (*id != 0 || argv[i][0] == '\0' || *end != '\0' || v <= 0 || v > 0x7fffffff)
		{
			fprintf(stderr, "%s: unexpected argument \"%s\" for remove\n", progname, argv[i]);
			return false;
		}
		*id = (int) v;
	}
	if (*id == 0)
	{
		fprintf(stderr, "%s: remove needs the id of the member to remove\n", progname);
		return false;
	}
	return true;
}

/* After remove_node() returned: wait until the leader no longer names id. */
static int
wait_removed(PGconn *conn, int id, int timeout)
{
	time_t		deadline = time(NULL) + timeout;

	while (time(NULL) < deadline)
	{
		int			voters;
		bool		is_voter;
		bool		is_member;

		if (!read_voters(conn, id, &voters, &is_voter, &is_member))
			return EXIT_FAILED;
		if (!is_member)
		{
			PGresult   *res = PQexec(conn, "SHOW synchronous_standby_names");

			printf("node %d is no longer a member: %d voter%s remain\n",
				   id, voters, voters == 1 ? "" : "s");
			if (PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] != '\0')
				printf("synchronous_standby_names on the primary: %s\n", PQgetvalue(res, 0, 0));
			PQclear(res);
			printf("node %d's server, if it still runs, is fenced: stop it "
				   "(pg_ctl stop -D DATADIR) and keep or delete its data directory\n", id);
			return 0;
		}
		usleep(200 * 1000);
	}
	fprintf(stderr, "%s: the leader still names node %d after %d s\n", progname, id, timeout);
	return EXIT_FAILED;
}

/* remove: see the file's header. */
int
cmd_remove(const char *conninfo, int argc, char **argv)
{
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	char		question[512];
	char		error[1024];
	char		sql[64];
	int			id = 0;
	int			timeout = 60;
	int			voters;
	bool		force = false;
	bool		is_voter;
	bool		is_member;
	int			n;
	Member	   *leader;
	PGconn	   *conn;
	PGresult   *res;
	int			code;

	if (!parse_remove_args(argc, argv, &id, &force, &timeout))
		return EXIT_USAGE;
	n = read_members(conninfo, members, cluster, sizeof(cluster));
	probe_all(members, n);
	leader = leader_of(members, n);
	if (leader == NULL)
	{
		fprintf(stderr, "%s: no member of cluster %s leads, and only the leader can change the "
				"membership: bring a majority of the voters back first (raftctl status)\n",
				progname, cluster);
		return EXIT_FAILED;
	}
	if (leader->id == id)
	{
		const Member *other = NULL;

		for (int i = 0; i < n && other == NULL; i++)
			if (members[i].id != id && members[i].reachable)
				other = &members[i];
		fprintf(stderr, "%s: node %d leads cluster %s: hand leadership to another member first "
				"(raftctl switchover --to %d), then remove it\n",
				progname, id, cluster, other ? other->id : 0);
		return EXIT_FAILED;
	}
	/* the leader's address, with -d's user, password and options */
	{
		char	   *ci = member_conninfo(leader->conninfo, conninfo);

		conn = connect_to(ci, error, sizeof(error));
		free(ci);
	}
	if (conn == NULL)
	{
		fprintf(stderr, "%s: could not connect to the leader (node %d): %s\n",
				progname, leader->id, error);
		return EXIT_UNREACHABLE;
	}
	if (!read_voters(conn, id, &voters, &is_voter, &is_member))
	{
		PQfinish(conn);
		return EXIT_FAILED;
	}
	if (!is_member)
	{
		printf("node %d is not a member of cluster %s: nothing to remove\n", id, cluster);
		PQfinish(conn);
		return 0;
	}
	snprintf(question, sizeof(question),
			 "Remove node %d (%s) from cluster %s? %d voter%s will remain.",
			 id, is_voter ? "a voter" : "not a voter", cluster,
			 voters - (is_voter ? 1 : 0), voters - (is_voter ? 1 : 0) == 1 ? "" : "s");
	if (!force && !confirmed(question))
	{
		PQfinish(conn);
		return EXIT_FAILED;
	}
	if (is_voter && (voters - 1) % 2 == 0)
		printf("note: %d voters tolerate no more failures than %d do; "
			   "join a member to make the count odd again\n", voters - 1, voters - 2);
	printf("asking node %d (the leader) to remove node %d through the Raft log\n",
		   leader->id, id);
	fflush(stdout);
	snprintf(sql, sizeof(sql), "SELECT raft_ext.remove_node(%d)", id);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		code = report_failure(conn, res, EXIT_FAILED, "the leader refused", EXIT_PRIVILEGE,
							  "a superuser must grant EXECUTE on raft_ext.remove_node(int)");
		PQclear(res);
		PQfinish(conn);
		return code;
	}
	PQclear(res);
	code = wait_removed(conn, id, timeout);
	PQfinish(conn);
	return code;
}
