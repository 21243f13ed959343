/*
 * rejoin.h
 *	  raft_ext.auto_rejoin: a primary that does not lead, or a standby whose
 *	  WAL diverged from the leader's timeline, becomes a standby of the
 *	  leader by itself (rejoin.c decides, rejoin_helper.c starts the helper
 *	  that outlives the postmaster).
 */
#ifndef RAFT_REJOIN_H
#define RAFT_REJOIN_H

#include "status.h"

/* Where the helper records its progress, relative to the data directory. */
#define REJOIN_STATUS_FILE	"raft_ext_rejoin.status"

/* Settings (rejoin.c). */
extern int	raft_auto_rejoin;	/* REJOIN_AUTO, REJOIN_ON, REJOIN_OFF */
extern char *raft_rejoin_command;
extern char *raft_rewind_user;	/* "" or the role the helper rewinds as */
extern bool raft_rejoin_reclone;	/* re-clone when pg_rewind cannot */

#define REJOIN_AUTO		0
#define REJOIN_ON		1
#define REJOIN_OFF		2

/* Define the rejoin settings; called from _PG_init. */
extern void raft_rejoin_define_settings(void);

/* Whether auto_rejoin is in effect (on, or auto with auto_follow on). */
extern bool raft_rejoin_enabled(void);

/* Whether a rejoin helper is at work on this node (its status file says so). */
extern bool raft_rejoin_in_progress(void);

/* One step, once per worker loop iteration from the failover policy. */
extern void raft_rejoin_step(const RaftStatus *status, raft_time now);

/*
 * Whether this node is demoting after a switchover it started: its WAL
 * senders must deliver the shutdown checkpoint (fence_wal.c leaves them).
 */
extern bool raft_rejoin_demoting(raft_time now);

/* Copy the rejoin state and error into a status snapshot being built. */
extern void raft_rejoin_fill_status(RaftStatus *status);

/* ---- rejoin_helper.c ---- */

/*
 * Start 'command' with /bin/sh, detached: in a session of its own, not a
 * child of the postmaster (it stops and starts the server), output
 * appended to 'logpath'.  'source' (or NULL) is put in its environment as
 * RAFT_EXT_REJOIN_SOURCE: the leader's conninfo, which may hold a password,
 * stays out of every command line (ps shows those to every local user).
 * Returns false (logged) if it could not start.
 */
#define REJOIN_SOURCE_ENV	"RAFT_EXT_REJOIN_SOURCE"
/* ... and 'primary' (or NULL), the primary_conninfo to write, likewise */
#define REJOIN_PRIMARY_ENV	"RAFT_EXT_REJOIN_PRIMARY_CONNINFO"
extern bool raft_rejoin_spawn(const char *command, const char *logpath,
							  const char *source, const char *primary);

/* The file the server's stderr goes to, if it is a regular file, or NULL. */
extern char *raft_rejoin_server_log(void);

#endif							/* RAFT_REJOIN_H */
