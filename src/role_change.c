/*
 * role_change.c
 *	  Runs raft_ext.on_role_change, the shell command an administrator
 *	  configures to hear about every Raft role change (like archive_command).
 *
 * The Raft loop must never wait for a command, so the command runs in a
 * child process (fork, then exec of /bin/sh -c) and the worker reaps it with
 * waitpid(WNOHANG) on each loop iteration.
 *
 * At most one command runs at a time, so that commands see the events in
 * order and a slow command cannot pile up processes.  Events that arrive
 * while one runs are coalesced: only the latest is kept and run when the
 * current command ends (a command is about the current state, and the
 * intermediate ones are stale by then; a log line counts the ones skipped).
 * A command that runs longer than ROLE_COMMAND_TIMEOUT_MS is killed with
 * its whole process group.  A failure (exit status other than 0, or a
 * signal) is logged with the command, and not retried.
 */
#include "postgres.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "clock.h"
#include "failover.h"
#include "shell_child.h"

/* Longest a command may run before it is killed. */
#define ROLE_COMMAND_TIMEOUT_MS		60000

/* One role change to report. */
typedef struct RoleEvent
{
	char		event[16];		/* %e */
	char		role[16];		/* %r */
	raft_term	term;
	raft_id		leader;
	raft_id		self;
} RoleEvent;

static pid_t running_pid = 0;
static raft_time running_since = 0;
static bool running_killed = false;
static char *running_command = NULL;	/* in TopMemoryContext */
/*
 * Events waiting while a command runs: the latest of each kind (Raft's,
 * PostgreSQL's), so that a Raft role change never hides a promotion from a
 * script that moves a virtual IP with it.
 */
typedef struct PendingEvents
{
	bool		pending;
	RoleEvent	event;
	int			coalesced;
} PendingEvents;

static PendingEvents pending_raft;
static PendingEvents pending_pg;

/* Expand the placeholders of 'command'; see failover.h. */
char *
raft_role_command_expand(const char *command, const char *event,
						 const char *role, raft_term term, raft_id leader,
						 raft_id self)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = command; *p; p++)
	{
		if (*p != '%')
		{
			appendStringInfoChar(&buf, *p);
			continue;
		}
		switch (p[1])
		{
			case 'e':
				appendStringInfoString(&buf, event);
				p++;
				break;
			case 'r':
				appendStringInfoString(&buf, role);
				p++;
				break;
			case 't':
				appendStringInfo(&buf, UINT64_FORMAT, (uint64) term);
				p++;
				break;
			case 'l':
				appendStringInfo(&buf, "%u", (unsigned) leader);
				p++;
				break;
			case 'n':
				appendStringInfo(&buf, "%u", (unsigned) self);
				p++;
				break;
			case '%':
				appendStringInfoChar(&buf, '%');
				p++;
				break;
			default:
				/* The check hook refuses these; keep the text as it is. */
				appendStringInfoChar(&buf, '%');
				break;
		}
	}
	return buf.data;
}

/*
 * The child: a process group of its own (so a timeout kills what it
 * started), then the shell (raft_shell_child_exec).  stdout and stderr stay:
 * they go where the server log goes.  Only async-signal-safe calls between
 * fork and exec.
 */
static void
child_exec(const char *command)
{
	setpgid(0, 0);
	raft_shell_child_exec(command, NULL);
}

/* Start the command for 'event'; the caller checked nothing runs. */
static void
start_command(const RoleEvent *event)
{
	char	   *command;
	pid_t		pid;

	if (raft_on_role_change == NULL || raft_on_role_change[0] == '\0')
		return;
	command = raft_role_command_expand(raft_on_role_change, event->event,
									   event->role, event->term,
									   event->leader, event->self);

	/* Buffered output would otherwise be written twice. */
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_exec(command);	/* does not return */
	if (pid < 0)
	{
		ereport(LOG,
				(errmsg("could not start the on_role_change command: %m"),
				 errdetail("The command was: %s", command)));
		pfree(command);
		return;
	}
	/* Also here: the child may not have run setpgid yet when we kill it. */
	(void) setpgid(pid, pid);

	running_pid = pid;
	running_since = raft_monotonic_now();
	running_killed = false;
	if (running_command != NULL)
		pfree(running_command);
	running_command = MemoryContextStrdup(TopMemoryContext, command);
	pfree(command);
	ereport(DEBUG1,
			(errmsg_internal("on_role_change command started (pid %d): %s",
							 (int) pid, running_command)));
}

/* Log how a finished command ended, if it failed. */
static void
report_exit(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status))
		ereport(LOG,
				(errmsg("on_role_change command failed with exit code %d",
						WEXITSTATUS(status)),
				 errdetail("The failed command was: %s", running_command)));
	else if (WIFSIGNALED(status))
		ereport(LOG,
				(errmsg("on_role_change command was terminated by signal %d: %s",
						WTERMSIG(status), pg_strsignal(WTERMSIG(status))),
				 errdetail("The failed command was: %s", running_command)));
	else
		ereport(LOG,
				(errmsg("on_role_change command exited with unrecognized status %d",
						status),
				 errdetail("The failed command was: %s", running_command)));
}

/* Reap, enforce the time limit, start a queued command; see failover.h. */
void
raft_role_command_poll(void)
{
	if (running_pid != 0)
	{
		int			status = 0;
		pid_t		rc = waitpid(running_pid, &status, WNOHANG);

		if (rc == running_pid)
		{
			report_exit(status);
			running_pid = 0;
		}
		else if (rc < 0 && errno != EINTR)
		{
			/* ECHILD: reaped elsewhere (SIGCHLD ignored); status unknown. */
			running_pid = 0;
		}
		else if (!running_killed &&
				 raft_monotonic_now() - running_since > ROLE_COMMAND_TIMEOUT_MS)
		{
			ereport(LOG,
					(errmsg("on_role_change command ran longer than %d s, killing it",
							ROLE_COMMAND_TIMEOUT_MS / 1000),
					 errdetail("The command was: %s", running_command)));
			(void) kill(-running_pid, SIGKILL);
			running_killed = true;
		}
	}

	if (running_pid == 0 && (pending_pg.pending || pending_raft.pending))
	{
		/* PostgreSQL's first: it is what a virtual IP follows */
		PendingEvents *slot = pending_pg.pending ? &pending_pg : &pending_raft;

		slot->pending = false;
		if (slot->coalesced > 0)
			ereport(LOG,
					(errmsg("on_role_change skipped %d role changes that happened while the command ran",
							slot->coalesced),
					 errdetail("The command runs for the latest: %s, %s in term " UINT64_FORMAT ".",
							   slot->event.event, slot->event.role,
							   (uint64) slot->event.term)));
		slot->coalesced = 0;
		start_command(&slot->event);
	}
}

/* Queue an event for the command. */
static void
queue_event(const char *event, const char *role, raft_term term,
			raft_id leader, raft_id self)
{
	PendingEvents *slot = strcmp(event, "raft") == 0 ? &pending_raft : &pending_pg;

	if (raft_on_role_change == NULL || raft_on_role_change[0] == '\0')
		return;

	if (slot->pending)
		slot->coalesced++;
	strlcpy(slot->event.event, event, sizeof(slot->event.event));
	strlcpy(slot->event.role, role, sizeof(slot->event.role));
	slot->event.term = term;
	slot->event.leader = leader;
	slot->event.self = self;
	slot->pending = true;
	raft_role_command_poll();
}

/* A Raft role change; see failover.h. */
void
raft_role_command_event(raft_role role, raft_term term, raft_id leader,
						raft_id self)
{
	queue_event("raft", raft_role_name(role), term, leader, self);
}

/* A PostgreSQL role change; see failover.h. */
void
raft_role_command_pg_event(const char *event, bool primary, raft_term term,
						   raft_id leader, raft_id self)
{
	queue_event(event, primary ? "primary" : "standby", term, leader, self);
}
