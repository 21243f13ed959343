/*
 * lincheck_client.c
 *	  A register workload client for the linearizability check: reads,
 *	  writes and compare-and-sets on a few keys of the table lin_reg, every
 *	  operation recorded in lincheck's history format.
 *
 *	  lincheck_client NAME ID KIND CONNINFO OUTFILE SEED KEYS SECONDS [PAUSE_MS]
 *
 * KIND is how the client holds its connection:
 *	 session  one connection, made again after any error or timeout
 *	 sticky   one connection kept across errors the server reports (such as
 *	          25006 on a fenced node), made again only once it is broken
 *	 reader   reads only; keeps its connection until it breaks (a pooler's)
 *	 short    a new connection for every operation
 *
 * The register of key K is the row (K, value) of lin_reg (absent: nil).  A
 * write is an upsert of a value unique to this client (ID * 10^9 + n), a
 * compare-and-set an UPDATE ... WHERE value = expected (swapped iff one
 * row), a read a SELECT.  A write or swap also inserts (key, value) into
 * lin_log in the same transaction, so that the final primary tells which
 * writes survived.  Every statement returns raft_ext.node_id: the node
 * that served it.
 *
 * Outcomes: ok (the server answered); fail when the op certainly did not
 * take effect (the server reported an ERROR, which aborts the transaction,
 * such as 25006 from the fence; or no connection); info when it may have
 * committed (the connection broke, a FATAL error, no answer within 3 s: the
 * connection is then dropped, never cancelled, because a cancelled wait for
 * synchronous replication reports success).  Times are CLOCK_MONOTONIC
 * nanoseconds, comparable across the processes of one machine.  A comment
 * line at the start gives CLOCK_REALTIME and CLOCK_MONOTONIC read together.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#define ATTEMPT_TIMEOUT_NS (3LL * 1000 * 1000 * 1000)
#define MAX_KEYS 16

static volatile sig_atomic_t stop_requested = 0;

static const char *READ_SQL =
"SELECT (SELECT value FROM lin_reg WHERE key = $1), "
"current_setting('raft_ext.node_id')";
static const char *WRITE_SQL =
"WITH u AS (INSERT INTO lin_reg (key, value) VALUES ($1, $2::bigint) "
"  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value RETURNING key), "
"l AS (INSERT INTO lin_log (key, value) SELECT key, $2::bigint FROM u RETURNING 1) "
"SELECT (SELECT count(*) FROM l), current_setting('raft_ext.node_id')";
static const char *CAS_SQL =
"WITH u AS (UPDATE lin_reg SET value = $3::bigint "
"  WHERE key = $1 AND value = $2::bigint RETURNING key), "
"l AS (INSERT INTO lin_log (key, value) SELECT key, $3::bigint FROM u RETURNING 1) "
"SELECT (SELECT count(*) FROM l), current_setting('raft_ext.node_id')";

/* Signal handler: finish the current operation, then exit. */
static void
handle_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

/* Notice processor: notices are not part of the history. */
static void
ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* Nanoseconds on the given clock. */
static long long
now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleep for ms milliseconds. */
static void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* What one operation returned. */
typedef struct Answer
{
	const char *outcome;		/* "ok", "fail", "info" */
	char		value[32];		/* first column ("nil" for NULL) */
	char		node[16];		/* second column, or "-" */
	char		sqlstate[8];	/* or "-" */
} Answer;

/*
 * Run one statement, waiting at most ATTEMPT_TIMEOUT_NS.  On anything but
 * an answer the connection is to be dropped (*broken).
 */
static void
run_op(PGconn *conn, const char *sql, int nparams, const char *const *params,
	   Answer *a, bool *broken)
{
	long long	deadline = now_ns(CLOCK_MONOTONIC) + ATTEMPT_TIMEOUT_NS;
	PGresult   *res;
	bool		got = false;

	strcpy(a->value, "-");
	strcpy(a->node, "-");
	strcpy(a->sqlstate, "-");
	*broken = false;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		/* Nothing reached the server. */
		a->outcome = "fail";
		*broken = true;
		return;
	}
	for (;;)
	{
		struct pollfd pfd;
		long long	left;

		if (!PQconsumeInput(conn))
		{
			a->outcome = "info";
			*broken = true;
			return;
		}
		if (!PQisBusy(conn))
			break;
		left = deadline - now_ns(CLOCK_MONOTONIC);
		if (left <= 0)
		{
			a->outcome = "info";
			strcpy(a->sqlstate, "timeout");
			*broken = true;
			return;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		poll(&pfd, 1, (int) (left / 1000000 + 1));
	}
	a->outcome = "info";
	while ((res = PQgetResult(conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (!got && st == PGRES_TUPLES_OK && PQntuples(res) == 1)
		{
			a->outcome = "ok";
			snprintf(a->value, sizeof(a->value), "%s",
					 PQgetisnull(res, 0, 0) ? "nil" : PQgetvalue(res, 0, 0));
			snprintf(a->node, sizeof(a->node), "%s", PQgetvalue(res, 0, 1));
			got = true;
		}
		else if (!got && st == PGRES_FATAL_ERROR)
		{
			const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			snprintf(a->sqlstate, sizeof(a->sqlstate), "%s", state ? state : "-");

			/*
			 * An ERROR aborts the transaction: it did not commit.  A FATAL
			 * error, an operator intervention (57) or a connection
			 * exception (08), or an error libpq made up because the
			 * connection broke (no severity from a server), may come after
			 * the commit record.
			 */
			if (sev && strcmp(sev, "ERROR") == 0 && state &&
				strncmp(state, "08", 2) != 0 && strncmp(state, "57", 2) != 0)
				a->outcome = "fail";
			else
				*broken = true;
			got = true;
		}
		PQclear(res);
	}
	/*
	 * An answer is only an answer with the end of the transaction: rows and
	 * the command's completion come before the commit (autocommit), and a
	 * server that ends the session in the commit's synchronous wait (the
	 * fence, when another node took the lease) flushes them with its
	 * warning and then closes the connection without ReadyForQuery.  The
	 * commit is then not acknowledged: indeterminate, whatever the rows
	 * said.  (This client once counted such a write as acknowledged, and
	 * the check reported stale reads that were not: netns 218.)
	 */
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		*broken = true;
		a->outcome = "info";
	}
}

/* Connect, or return NULL (and log why as a comment). */
static PGconn *
open_conn(const char *conninfo, FILE *out)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = PQerrorMessage(conn);

		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		fprintf(out, "# %lld connect failed: %s\n", now_ns(CLOCK_MONOTONIC), msg);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	return conn;
}

int
main(int argc, char **argv)
{
	const char *name,
			   *kind,
			   *conninfo;
	int			id,
				nkeys,
				pause_ms = 3;
	long long	end_ns;
	FILE	   *out;
	PGconn	   *conn = NULL;
	long long	seq = 0;
	long long	last_seen[MAX_KEYS];
	bool		have_seen[MAX_KEYS] = {false};
	bool		reads_only;
	bool		per_op;
	bool		keep_on_error;
	struct sigaction sa;

	if (argc < 9 || argc > 10)
	{
		fprintf(stderr, "usage: lincheck_client NAME ID session|sticky|reader|short "
				"CONNINFO OUTFILE SEED KEYS SECONDS [PAUSE_MS]\n");
		return 2;
	}
	name = argv[1];
	id = atoi(argv[2]);
	kind = argv[3];
	conninfo = argv[4];
	srandom((unsigned) atol(argv[6]));
	nkeys = atoi(argv[7]);
	end_ns = now_ns(CLOCK_MONOTONIC) + atoll(argv[8]) * 1000000000LL;
	if (argc == 10)
		pause_ms = atoi(argv[9]);
	if (nkeys < 1 || nkeys > MAX_KEYS || id < 1 || id > 9000 || pause_ms < 0)
	{
		fprintf(stderr, "lincheck_client: KEYS must be 1..%d, ID 1..9000\n", MAX_KEYS);
		return 2;
	}
	reads_only = strcmp(kind, "reader") == 0;
	per_op = strcmp(kind, "short") == 0;
	keep_on_error = strcmp(kind, "sticky") == 0 || reads_only;
	if (!reads_only && !per_op && !keep_on_error && strcmp(kind, "session") != 0)
	{
		fprintf(stderr, "lincheck_client: unknown kind \"%s\"\n", kind);
		return 2;
	}
	out = fopen(argv[5], "a");
	if (out == NULL)
	{
		fprintf(stderr, "lincheck_client: cannot open %s: %s\n", argv[5], strerror(errno));
		return 2;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(out, "# client %s kind %s clock realtime_ns %lld monotonic_ns %lld\n",
			name, kind, now_ns(CLOCK_REALTIME), now_ns(CLOCK_MONOTONIC));

	while (!stop_requested && now_ns(CLOCK_MONOTONIC) < end_ns)
	{
		int			k = (int) (random() % nkeys);
		int			dice = (int) (random() % 4);
		char		key[16],
					v1[24],
					v2[24];
		const char *params[3] = {key, v1, v2};
		const char *op;
		const char *sql;
		int			nparams;
		long long	invoke,
					complete;
		Answer		a;
		bool		broken;
		const char *host;

		if (!conn)
		{
			conn = open_conn(conninfo, out);
			if (!conn)
			{
				sleep_ms(100);
				continue;
			}
		}
		snprintf(key, sizeof(key), "k%d", k);
		strcpy(v1, "-");
		strcpy(v2, "-");
		if (reads_only || dice < 2)
		{
			op = "r";
			sql = READ_SQL;
			nparams = 1;
		}
		else if (dice == 2 || !have_seen[k])
		{
			op = "w";
			sql = WRITE_SQL;
			nparams = 2;
			snprintf(v1, sizeof(v1), "%lld", (long long) id * 1000000000LL + ++seq);
		}
		else
		{
			op = "c";
			sql = CAS_SQL;
			nparams = 3;
			snprintf(v1, sizeof(v1), "%lld", last_seen[k]);
			snprintf(v2, sizeof(v2), "%lld", (long long) id * 1000000000LL + ++seq);
		}

		host = PQhost(conn);
		invoke = now_ns(CLOCK_MONOTONIC);
		run_op(conn, sql, nparams, params, &a, &broken);
		complete = now_ns(CLOCK_MONOTONIC);

		if (strcmp(a.outcome, "ok") == 0)
		{
			if (op[0] == 'r' && strcmp(a.value, "nil") != 0)
			{
				last_seen[k] = atoll(a.value);
				have_seen[k] = true;
			}
			else if (op[0] == 'w')
			{
				last_seen[k] = atoll(v1);
				have_seen[k] = true;
			}
			else if (op[0] == 'c' && strcmp(a.value, "1") == 0)
				last_seen[k] = atoll(v2);
		}
		fprintf(out, "%s %s %s %s %s %lld %lld %s %s node=%s host=%s sqlstate=%s\n",
				name, op, key,
				op[0] == 'c' ? v1 : op[0] == 'w' ? v1 : "-",
				op[0] == 'c' ? v2 : "-",
				invoke, complete, a.outcome,
				strcmp(a.outcome, "ok") == 0 ? a.value : "-",
				a.node, host ? host : "-", a.sqlstate);

		if (per_op || broken || (!keep_on_error && strcmp(a.outcome, "ok") != 0))
		{
			PQfinish(conn);
			conn = NULL;
		}
		if (pause_ms > 0)
			sleep_ms(pause_ms);
	}
	if (conn)
		PQfinish(conn);
	fclose(out);
	return 0;
}
