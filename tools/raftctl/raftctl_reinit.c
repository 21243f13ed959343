/*
 * raftctl_reinit.c
 *	  raftctl reinit: rebuild a member's data directory from the leader,
 *	  keeping the member (its node id, configuration and Raft state).
 *
 *	  raftctl reinit -D DATADIR --from CONNINFO [--bindir DIR] [--force]
 *		  [--node-id N --address HOST:PORT [--user OSUSER] [--password-file FILE]]
 *
 * Run on the member's machine, for a member whose data directory is damaged
 * or whose rewind keeps failing.  raftctl finds the leader through the
 * member that CONNINFO names and hands the work to the rejoin helper,
 * raft_ext_rejoin --reinit (beside raftctl, or in --bindir), which checks
 * with the leader that this node is a member that does not lead, stops the
 * server, re-clones the directory with pg_basebackup (the old one kept
 * beside it until the clone is complete), puts this node's configuration
 * files and Raft state back and starts it as a standby.  Keeping the Raft
 * state is what makes it the same member: a node that lost its term and
 * vote could vote twice in one term.  So a member whose data directory is
 * gone, its Raft state with it, is not re-cloned as the same member: it
 * leaves the cluster through the log and joins again, as a new incarnation
 * of its id that starts with no term and no vote (raftctl remove, then
 * raftctl join, with --node-id and --address: the join's options).  Its
 * old incarnation's votes were cast in elections that ended before the
 * removal was committed, and the new one votes only once it has caught up
 * and been made a voter, in a later term.
 *
 * CONNINFO's options (user, password or passfile, TLS) are used for the
 * leader, at the address raft_peers gives; its role must be allowed to
 * replicate and to run CHECKPOINT (pg_checkpoint), as for the rejoin
 * helper.
 */
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raftctl.h"

typedef struct ReinitArgs
{
	const char *datadir;
	const char *from;
	const char *bindir;
	bool		force;
	/* for a member whose directory is gone: the join's */
	const char *node_id;
	const char *address;
	const char *user;
	const char *password_file;
} ReinitArgs;

/* Parse reinit's arguments; false (reason printed) when they are wrong. */
static bool
parse_reinit_args(int argc, char **argv, ReinitArgs *a)
{
	for (int i = 0; i < argc; i++)
	{
		const char *arg = argv[i];
		const char **value = NULL;

		if (strcmp(arg, "--force") == 0)
		{
			a->force = true;
			continue;
		}
		if (strcmp(arg, "-D") == 0 || strcmp(arg, "--pgdata") == 0)
			value = &a->datadir;
		else if (strcmp(arg, "--from") == 0)
			value = &a->from;
		else if (strcmp(arg, "--bindir") == 0)
			value = &a->bindir;
		else if (strcmp(arg, "--node-id") == 0)
			value = &a->node_id;
		else if (strcmp(arg, "--address") == 0)
			value = &a->address;
		else if (strcmp(arg, "--user") == 0)
			value = &a->user;
		else if (strcmp(arg, "--password-file") == 0)
			value = &a->password_file;
		if (value == NULL || i + 1 >= argc || argv[i + 1][0] == '\0')
		{
			fprintf(stderr, "%s: %s \"%s\" for reinit\n", progname,
					value ? "a value is missing after" : "unexpected argument", arg);
			return false;
		}
		*value = argv[++i];
	}
	if (a->datadir == NULL)
	{
		fprintf(stderr, "%s: reinit needs -D DATADIR, the member's data directory\n", progname);
		return false;
	}
	return true;
}

/*
 * The rejoin helper: in --bindir if given, else beside this raftctl (both
 * are installed into PostgreSQL's bindir).  False when it is not there.
 */
static bool
find_rejoin_helper(const char *bindir, char *path, size_t len)
{
	char		self[PATH_MAX];
	ssize_t		n;
	char	   *slash;

	if (bindir)
		snprintf(path, len, "%s/raft_ext_rejoin", bindir);
	else
	{
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return false;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(path, len, "%s/raft_ext_rejoin", self);
	}
	return access(path, X_OK) == 0;
}

/*
 * Run the rejoin helper with the leader's conninfo in its environment (so
 * that no command line shows a password); its exit status.
 */
static int
run_rejoin_helper(const char *helper, const ReinitArgs *a, const char *source)
{
	pid_t		pid;
	int			status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
	{
		fprintf(stderr, "%s: could not start %s: %s\n", progname, helper, strerror(errno));
		return -1;
	}
	if (pid == 0)
	{
		const char *args[10];
		int			k = 0;

		args[k++] = helper;
		args[k++] = "-D";
		args[k++] = a->datadir;
		args[k++] = "--source";
		args[k++] = "-";
		args[k++] = "--reinit";
		if (a->bindir)
		{
			args[k++] = "--bindir";
			args[k++] = a->bindir;
		}
		args[k] = NULL;
		setenv("RAFT_EXT_REJOIN_SOURCE", source, 1);
		execv(helper, (char *const *) args);
		fprintf(stderr, "%s: could not run %s: %s\n", progname, helper, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * A member whose data directory is gone: remove it through the log, then
 * join it again under the same id and address (see the file's header).
 */
static int
remove_and_join(const ReinitArgs *a)
{
	char		question[PATH_MAX + 256];
	char	   *remove_argv[2];
	char	   *join_argv[16];
	int			k = 0;
	int			rc;

	if (a->node_id == NULL || a->address == NULL)
	{
		fprintf(stderr, "%s: \"%s\" is not a data directory any more, so this member's Raft state "
				"(term, vote, log) is gone too: a node without it could vote twice in one term. "
				"Give --node-id and --address (and the join's --password-file) to remove the "
				"member and join it again under its id, as docs/operations.md shows\n",
				progname, a->datadir);
		return EXIT_FAILED;
	}
	/* the join needs an empty directory: say so before the removal */
	if (dir_is_empty(a->datadir) == 0)
	{
		fprintf(stderr, "%s: \"%s\" holds files but no data directory: move it away first\n",
				progname, a->datadir);
		return EXIT_FAILED;
	}
	snprintf(question, sizeof(question),
			 "%s is gone, with node %s's Raft state. Remove node %s from the cluster and "
			 "join it again from an empty directory?", a->datadir, a->node_id, a->node_id);
	if (!a->force && !confirmed(question))
		return EXIT_FAILED;
	printf("%s: %s is gone: node %s leaves the cluster and joins again "
		   "(a new incarnation, with no term and no vote)\n", progname, a->datadir, a->node_id);
	remove_argv[0] = (char *) a->node_id;
	remove_argv[1] = "--force";
	rc = cmd_remove(a->from, 2, remove_argv);
	if (rc != 0)
		return rc;
	join_argv[k++] = "-D";
	join_argv[k++] = (char *) a->datadir;
	join_argv[k++] = "--node-id";
	join_argv[k++] = (char *) a->node_id;
	join_argv[k++] = "--address";
	join_argv[k++] = (char *) a->address;
	join_argv[k++] = "--from";
	join_argv[k++] = (char *) a->from;
	if (a->user)
	{
		join_argv[k++] = "--user";
		join_argv[k++] = (char *) a->user;
	}
	if (a->bindir)
	{
		join_argv[k++] = "--bindir";
		join_argv[k++] = (char *) a->bindir;
	}
	if (a->password_file)
	{
		join_argv[k++] = "--password-file";
		join_argv[k++] = (char *) a->password_file;
	}
	join_argv[k] = NULL;
	return cmd_join(a->from, k, join_argv);
}

/* reinit: see the file's header. */
int
cmd_reinit(const char *conninfo, int argc, char **argv)
{
	ReinitArgs	a = {0};
	Member		members[MAX_MEMBERS];
	char		cluster[256];
	char		helper[PATH_MAX];
	char		question[PATH_MAX + 256];
	char		version[PATH_MAX];
	struct stat st;
	Member	   *leader;
	char	   *source;
	int			n;
	int			rc;

	if (!parse_reinit_args(argc, argv, &a))
		return EXIT_USAGE;
	if (a.from == NULL)
		a.from = conninfo;
	if (a.from == NULL || a.from[0] == '\0')
	{
		fprintf(stderr, "%s: reinit needs --from CONNINFO, any member of the cluster\n", progname);
		return EXIT_USAGE;
	}
	/* -d's options must not leak into the members' connections: --from's do. */
	{
		char	   *err = NULL;

		PQconninfoFree(d_options);
		d_options = PQconninfoParse(a.from, &err);
		if (d_options == NULL)
		{
			fprintf(stderr, "%s: invalid --from: %s\n", progname, trimmed(err ? err : "out of memory"));
			return EXIT_USAGE;
		}
	}
	snprintf(version, sizeof(version), "%s/PG_VERSION", a.datadir);
	if (stat(a.datadir, &st) != 0 || !S_ISDIR(st.st_mode) || stat(version, &st) != 0)
		return remove_and_join(&a);
	if (!find_rejoin_helper(a.bindir, helper, sizeof(helper)))
	{
		fprintf(stderr, "%s: %s not found or not executable (use --bindir)\n", progname, helper);
		return EXIT_FAILED;
	}
	n = read_members(a.from, members, cluster, sizeof(cluster));
	probe_all(members, n);
	leader = leader_of(members, n);
	if (leader == NULL || leader->in_recovery)
	{
		fprintf(stderr, "%s: no member of cluster %s leads as a primary now: "
				"a member is re-cloned from the primary (raftctl status)\n", progname, cluster);
		return EXIT_FAILED;
	}
	snprintf(question, sizeof(question),
			 "Re-clone the member in %s from node %d, the primary of cluster %s? "
			 "Its data directory is replaced; its configuration and Raft state are kept.",
			 a.datadir, leader->id, cluster);
	if (!a.force && !confirmed(question))
		return EXIT_FAILED;
	source = member_conninfo(leader->conninfo, a.from);
	printf("re-cloning %s from node %d with %s --reinit\n", a.datadir, leader->id, helper);
	rc = run_rejoin_helper(helper, &a, source);
	free(source);
	if (rc != 0)
	{
		fprintf(stderr, "%s: the rejoin helper failed (exit %d): its messages above say why; "
				"the data directory is as it was, or kept beside as %s.rejoin-old\n",
				progname, rc, a.datadir);
		return EXIT_FAILED;
	}
	printf("%s is a standby of node %d again (raftctl status shows when it streams)\n",
		   a.datadir, leader->id);
	return 0;
}
