/*
 * writer.c
 *	  The benchmarks' client: commits one row at a time on whichever node
 *	  accepts writes, and logs every acknowledged commit with its time.
 *
 *	  writer CONNINFO OUTFILE [INTERVAL_MS]
 *
 * CONNINFO is normally a multi-host conninfo with
 * target_session_attrs=read-write, so libpq itself finds the node that
 * accepts writes.  Every attempt that fails (no connection, an error from
 * the server) drops the connection; the next attempt, INTERVAL_MS (default
 * 5) later, connects again.  For every acknowledged commit one line
 * "<unix time in microseconds> <port> <row id>" goes to OUTFILE, flushed at
 * once, so that the benchmark reads it while the writer runs (the id lets it
 * count acknowledged commits the new primary lost).  Failed attempts are
 * logged as "<time> - <SQLSTATE or 'connect'>".  Stops on SIGTERM or SIGINT.
 *
 * A compiled client rather than psql in a loop: one process, a persistent
 * connection, and timestamps taken right where the server answered.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

static volatile sig_atomic_t stop_requested = 0;

/* Signal handler: finish the current attempt, then exit. */
static void
handle_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

/* Notice processor: the server's "terminating connection" notices are noise here. */
static void
ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* Wall-clock microseconds: comparable with the servers' log timestamps. */
static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleep for ms milliseconds (interrupted early by a stop signal). */
static void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Log one line and flush it: the benchmark tails the file. */
static void
log_line(FILE *out, long long at, const char *what)
{
	fprintf(out, "%lld %s\n", at, what);
	fflush(out);
}

int
main(int argc, char **argv)
{
	const char *conninfo;
	FILE	   *out;
	int			interval = 5;
	PGconn	   *conn = NULL;
	struct sigaction sa;

	if (argc < 3 || argc > 4)
	{
		fprintf(stderr, "usage: %s CONNINFO OUTFILE [INTERVAL_MS]\n", argv[0]);
		return 2;
	}
	conninfo = argv[1];
	out = fopen(argv[2], "a");
	if (out == NULL)
	{
		fprintf(stderr, "writer: could not open \"%s\": %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (argc == 4)
		interval = atoi(argv[3]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	while (!stop_requested)
	{
		PGresult   *res;
		char		id[32];
		const char *params[1];

		if (conn == NULL)
		{
			conn = PQconnectdb(conninfo);
			if (PQstatus(conn) != CONNECTION_OK)
			{
				log_line(out, now_us(), "- connect");
				PQfinish(conn);
				conn = NULL;
				sleep_ms(interval);
				continue;
			}
			PQsetNoticeProcessor(conn, ignore_notice, NULL);
		}

		/*
		 * The row's id is the attempt's start time: unique, and unlike a
		 * sequence never handed out again by a new primary that lost the
		 * old one's last values.
		 */
		snprintf(id, sizeof(id), "%lld", now_us());
		params[0] = id;
		res = PQexecParams(conn, "INSERT INTO bench_writes (id, at) VALUES ($1, clock_timestamp())",
						   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
		{
			char		what[128];

			snprintf(what, sizeof(what), "%s %s", PQport(conn), id);
			log_line(out, now_us(), what);
		}
		else
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			char		what[64];

			snprintf(what, sizeof(what), "- %s", state ? state : "lost");
			log_line(out, now_us(), what);
			PQfinish(conn);
			conn = NULL;
		}
		PQclear(res);
		sleep_ms(interval);
	}
	PQfinish(conn);
	fclose(out);
	return 0;
}
