/*
 * shell_child.c
 *	  Runs a shell command in a child the worker forked (see shell_child.h).
 *
 * The child inherits the worker's signal handlers and mask, which are
 * PostgreSQL's, and every descriptor the postmaster and the worker hold
 * (the postmaster-death pipe, sockets, the shared memory's files): the
 * command must see none of them.
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shell_child.h"

/* See shell_child.h. */
void
raft_shell_child_exec(const char *command, const char *logpath)
{
	sigset_t	none;
	int			fd;

	for (int sig = 1; sig < NSIG; sig++)
	{
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO)
	{
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (logpath != NULL)
	{
		fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, S_IRUSR | S_IWUSR);
		if (fd >= 0)
		{
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
	}
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(3);
#else
	for (int i = 3; i < 1024; i++)
		close(i);
#endif
	execl("/bin/sh", "sh", "-c", command, (char *) NULL);
	_exit(127);
}
