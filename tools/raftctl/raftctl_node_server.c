/*
 * raftctl_node_server.c
 *	  raftctl: the node's local server, for init and join: is it running,
 *	  start it, connect to it, ask it, wait for a condition with a timeout.
 */
#include <signal.h>
#include <unistd.h>

#include "raftctl.h"

/*
 * The running postmaster of 'datadir', from postmaster.pid: its PID, port
 * and first socket directory.  0 if none runs there.
 */
pid_t
running_postmaster(const char *datadir, int *port, char *sockdir, size_t socklen)
{
	char		path[MAXPGPATH];
	char	   *text;
	char	   *lines[8] = {0};
	int			n = 0;
	pid_t		pid;

	snprintf(path, sizeof(path), "%s/postmaster.pid", datadir);
	text = read_text_file(path);
	if (text == NULL)
		return 0;
	for (char *l = text; l && n < 8; n++)
	{
		lines[n] = l;
		l = strchr(l, '\n');
		if (l)
			*l++ = '\0';
	}
	pid = lines[0] ? (pid_t) atol(lines[0]) : 0;
	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
		pid = 0;
	if (port)
		*port = lines[3] ? atoi(lines[3]) : 0;
	if (sockdir)
		strlcpy(sockdir, lines[4] ? lines[4] : "", socklen);
	free(text);
	return pid;
}

/* pg_ctl start, waiting until the server accepts connections. */
bool
start_server(const char *bindir, const NodePaths *p)
{
	char		pg_ctl[MAXPGPATH];
	char		optbuf[MAXPGPATH + 32];
	const char *opts = server_start_options(p, optbuf, sizeof(optbuf));
	char	   *argv[] = {pg_ctl, "-D", (char *) p->datadir, "-l", (char *) p->logfile,
		"-w", "-t", "120", NULL, NULL, NULL, NULL};
	int			n = 8;

	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", bindir);
	if (opts)
	{
		argv[n++] = "-o";
		argv[n++] = (char *) opts;
	}
	argv[n] = "start";
	printf("%s: starting the server: pg_ctl -D %s -l %s%s%s%s start\n", progname, p->datadir,
		   p->logfile, opts ? " -o \"" : "", opts ? opts : "", opts ? "\"" : "");
	if (run_program(argv, NULL, 0) != 0)
	{
		fprintf(stderr, "%s: the server did not start: see %s\n", progname, p->logfile);
		return false;
	}
	return true;
}

static void
ignore_notice(void *arg, const char *message)
{
}

/*
 * Connect to the server of 'datadir' as the server's user through its Unix
 * socket (peer authentication), or TCP on 'host' if it has no socket.
 */
PGconn *
connect_local(const char *datadir, const char *host, char *error, size_t errlen)
{
	char		sockdir[MAXPGPATH];
	char		portstr[16];
	int			port = 0;
	const char *keys[] = {"host", "port", "dbname", "user", "connect_timeout",
	"application_name", NULL};
	const char *vals[7];
	PGconn	   *conn;

	if (running_postmaster(datadir, &port, sockdir, sizeof(sockdir)) == 0)
	{
		snprintf(error, errlen, "no server runs in %s", datadir);
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	vals[0] = sockdir[0] ? sockdir : host;
	vals[1] = portstr;
	vals[2] = "postgres";
	vals[3] = server_user;
	vals[4] = "5";
	vals[5] = "raftctl";
	vals[6] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		snprintf(error, errlen, "%s", trimmed(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	/* "already exists, skipping" of a re-run is no news for the operator */
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	return conn;
}

/* The single value of a query, or NULL (malloc'd). */
char *
query_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Whether a query's single value is "t". */
bool
query_true(PGconn *conn, const char *sql)
{
	char	   *v = query_value(conn, sql);
	bool		t = v && strcmp(v, "t") == 0;

	free(v);
	return t;
}

/*
 * Wait up to timeout_s seconds, polling every 200 ms, until cond(arg) is
 * true.  Says what it waits for first; false if the time ran out.
 */
bool
wait_until(bool (*cond) (void *arg), void *arg, int timeout_s, const char *what)
{
	long long	deadline = now_ms() + (long long) timeout_s * 1000;

	printf("%s: waiting (at most %d s) until %s\n", progname, timeout_s, what);
	fflush(stdout);
	for (;;)
	{
		if (cond(arg))
			return true;
		if (now_ms() >= deadline)
		{
			fprintf(stderr, "%s: timed out after %d s waiting until %s\n", progname, timeout_s, what);
			return false;
		}
		usleep(200 * 1000);
	}
}
