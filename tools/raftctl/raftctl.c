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
 *	  raftctl init ... / join ... / [-d CONNINFO] remove ID / reinit ...
 *	  raftctl --version
 *
 * CONNINFO names any one member; raftctl reads the members' addresses from
 * its raft_ext.raft_peers and connects to all of them at once (one connect
 * timeout for all), with the host and port raft_peers gives and everything
 * else (user, password, dbname, TLS options) from CONNINFO; a member's own
 * dbname is used when CONNINFO names none.  Exit codes: see usage().
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

const char *progname = "raftctl";
PQconninfoOption *d_options = NULL;

/* Print usage on stream. */
static void
usage(FILE *stream)
{
	fprintf(stream,
			"%s makes, grows, shrinks and rebuilds a raft_ext cluster, lists it, shows\n"
			"its failover history and performs switchovers and failovers.\n\n"
			"Usage:\n"
			"  %s [-d CONNINFO] [-f table|json] list\n"
			"  %s [-d CONNINFO] [-f table|json] status [--watch [SECONDS]] [--count N]\n"
			"  %s [-d CONNINFO] [-f table|json] history\n"
			"  %s [-d CONNINFO] switchover --to ID [--timeout SECONDS] [--force]\n"
			"  %s [-d CONNINFO] failover --candidate ID [--timeout SECONDS] [--force]\n"
			"  %s init -D DATADIR --node-id ID --address HOST:PORT [--cluster-name NAME]\n"
			"         [--data-checksums] [--user OSUSER] [--bindir DIR] [--password-file FILE]\n"
			"         [--socket-dir DIR]\n"
			"  %s join -D DATADIR --node-id ID --address HOST:PORT --from CONNINFO\n"
			"         [--user OSUSER] [--bindir DIR] [--password-file FILE] [--socket-dir DIR]\n"
			"         [--adopt]\n"
			"  %s [-d CONNINFO] remove ID [--timeout SECONDS] [--force]\n"
			"  %s reinit -D DATADIR --from CONNINFO [--bindir DIR] [--force]\n"
			"         [--node-id ID --address HOST:PORT [--user OSUSER] [--password-file FILE]]\n"
			"  %s --version\n\n"
			"CONNINFO names any member (libpq defaults if omitted); its user, password,\n"
			"dbname and other options are used for every member, at the host and port\n"
			"raft_peers gives.  Members are asked in parallel (%d s connect timeout).\n"
			"switchover and failover ask for confirmation unless --force is given.\n"
			"init makes a cluster's first node (initdb, settings, roles, start, lead);\n"
			"join clones the leader found through --from into a new member and adds it\n"
			"(--adopt: makes a stopped standby of the leader a member, without a clone).\n"
			"Both run on the node's machine, as root or as the server's OS user;\n"
			"--socket-dir puts the server's Unix socket there (for a user who cannot\n"
			"write the default directory).\n"
			"remove takes a member out through the Raft log (never the leader: switch\n"
			"over first).  reinit, on the member's machine, re-clones its data directory\n"
			"from the primary keeping its node id, configuration and Raft state; a member\n"
			"whose directory is gone (its Raft state with it) leaves and joins again\n"
			"under its id (--node-id and --address, and join's options).\n\n"
			"Exit codes:\n"
			"  0   done; list/status: healthy (a primary, every member up and streaming)\n"
			"  1   list/status: degraded (a member unreachable, fenced, forked or\n"
			"      not streaming)\n"
			"  2   list/status: no primary\n"
			"  3   missing privileges\n"
			"  4   switchover or failover refused, failed or timed out; init, join,\n"
			"      remove or reinit refused or failed\n"
			"  64  bad usage\n"
			"  69  the node given by -d cannot be reached or has no raft_ext\n",
			progname, progname, progname, progname, progname, progname, progname,
			progname, progname, progname, progname, CONNECT_TIMEOUT);
}

/* Exit code for a failed query: 3 for insufficient privilege. */
int
exit_code_of(const PGresult *res, int otherwise)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return (state && strcmp(state, "42501") == 0) ? EXIT_PRIVILEGE : otherwise;
}

/* A libpq message without its trailing newline. */
const char *
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
int
report_failure(PGconn *conn, const PGresult *res, int otherwise,
			   const char *what, int hint_code, const char *hint)
{
	int			code = exit_code_of(res, otherwise);

	fprintf(stderr, "%s: %s: %s\n", progname, what, trimmed(PQerrorMessage(conn)));
	if (code == hint_code)
		fprintf(stderr, "%s: hint: %s\n", progname, hint);
	return code;
}

/*
 * The commands that make, grow, shrink and rebuild a cluster (init, join,
 * remove, reinit): each parses the arguments after its name itself.
 */
static LifecycleCommand
lifecycle_command(const char *name)
{
	if (strcmp(name, "init") == 0)
		return cmd_init;
	if (strcmp(name, "join") == 0)
		return cmd_join;
	if (strcmp(name, "remove") == 0)
		return cmd_remove;
	if (strcmp(name, "reinit") == 0)
		return cmd_reinit;
	return NULL;
}

/* -d's options (user, password, dbname ...) serve every member. */
static bool
parse_d_options(const char *conninfo)
{
	char	   *err = NULL;

	d_options = PQconninfoParse(conninfo, &err);
	if (d_options == NULL)
	{
		fprintf(stderr, "%s: invalid -d: %s\n", progname, trimmed(err ? err : "out of memory"));
		return false;
	}
	return true;
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
		else if (command == NULL && a[0] != '-' && lifecycle_command(a))
		{
			/* these parse the arguments that follow them themselves */
			if (!parse_d_options(conninfo))
				return EXIT_USAGE;
			return lifecycle_command(a) (conninfo, argc - i - 1, argv + i + 1);
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

	if (!parse_d_options(conninfo))
		return EXIT_USAGE;

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
