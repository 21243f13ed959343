/*
 * raftctl_transfer.c
 *	  raftctl: switchover and failover, with a confirmation (--force for scripts).
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

/* Ask "question [y/N]" on the terminal; whether the answer was yes. */
bool
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
		leader = leader_of(members, n);
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
int
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
int
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
