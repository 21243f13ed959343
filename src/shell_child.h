/*
 * shell_child.h
 *	  The last step of a child the worker forks to run a shell command: the
 *	  on_role_change command (role_change.c) and the rejoin helper
 *	  (rejoin_helper.c).  See shell_child.c.
 */
#ifndef RAFT_SHELL_CHILD_H
#define RAFT_SHELL_CHILD_H

#include "pg_compat.h"

/*
 * In a freshly forked child: default signal handling and nothing blocked,
 * stdin from /dev/null, stdout and stderr appended to 'logpath' (NULL: left
 * where they are), no other inherited descriptor; then /bin/sh -c command.
 * Only async-signal-safe calls.  Does not return (exit status 127 if the
 * shell could not be run).
 */
raft_noreturn extern void raft_shell_child_exec(const char *command, const char *logpath);

#endif							/* RAFT_SHELL_CHILD_H */
