/*
 * rejoin_helper.c
 *	  Starts the rejoin helper: a process that outlives the postmaster.
 *
 * The helper stops this server, maybe rewinds it, and starts it again as a
 * standby, so it cannot be a child of the postmaster (which waits for its
 * children and whose death ends them) nor of the worker.  The worker forks
 * a child that starts a session of its own (setsid), forks again and exits
 * at once; the worker reaps it.  The grandchild, reparented to init (or to
 * the nearest subreaper), closes every inherited descriptor (the
 * postmaster-death pipe, sockets, the shared memory's files), takes stdin
 * from /dev/null, appends stdout and stderr to the log and runs the command
 * with /bin/sh -c.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "miscadmin.h"

#include "rejoin.h"
#include "shell_child.h"

/* See rejoin.h. */
bool
raft_rejoin_spawn(const char *command, const char *logpath, const char *source,
				  const char *primary)
{
	pid_t		pid;
	int			status = 0;

	/* Buffered output would otherwise be written twice. */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		/* Not the command: it holds the leader's conninfo, maybe a password. */
		ereport(LOG,
				(errmsg("could not start the rejoin helper: %m")));
		return false;
	}
	if (pid == 0)
	{
		pid_t		grandchild;

		/* Out of the postmaster's process group and session. */
		(void) setsid();
		grandchild = fork();
		if (grandchild == 0)
		{
			if (source != NULL)
				(void) setenv(REJOIN_SOURCE_ENV, source, 1);
			if (primary != NULL)
				(void) setenv(REJOIN_PRIMARY_ENV, primary, 1);
			raft_shell_child_exec(command, logpath);	/* no return */
		}
		_exit(grandchild < 0 ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			/* SIGCHLD ignored: reaped elsewhere, status unknown. */
			return true;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		ereport(LOG,
				(errmsg("could not start the rejoin helper: the second fork failed")));
		return false;
	}
	return true;
}

/* See rejoin.h. */
char *
raft_rejoin_server_log(void)
{
	char		path[MAXPGPATH];
	ssize_t		len;
	struct stat st;

	if (fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	len = readlink("/proc/self/fd/2", path, sizeof(path) - 1);
	if (len <= 0)
		return NULL;
	path[len] = '\0';
	if (path[0] != '/')
		return NULL;
	return pstrdup(path);
}
