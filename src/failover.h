/*
 * failover.h
 *	  The failover policy: which node should be the PostgreSQL primary, and
 *	  what this node does about it (promote, follow, hand leadership over,
 *	  run the role-change command).
 *
 * The policy is "the Raft leader is the primary".  The worker calls into it
 * at four points; none of the calls blocks the Raft loop:
 *
 *	  _PG_init:				raft_failover_define_settings()
 *	  building engine options:	raft_failover_configure(&options)
 *	  every loop iteration:	raft_failover_step(node, &status, now)
 *	  every role change:		raft_failover_on_role_change(&status)
 *
 * failover_settings.c holds the settings and what follows from them alone
 * (engine options, the flags reported to the leader), failover.c the
 * decisions, failover_follow.c the rewrite of primary_conninfo in
 * postgresql.auto.conf, role_change.c the on_role_change command runner.
 */
#ifndef RAFT_FAILOVER_H
#define RAFT_FAILOVER_H

#include "status.h"

/* Settings (failover.c). */
extern int	raft_max_lag_on_failover;	/* kB; -1 = no position check */
extern int	raft_failover_priority;		/* 0 = never stands for election */
extern bool raft_auto_promote;
extern bool raft_auto_follow;
extern char *raft_on_role_change;

/* Define the failover settings; called from _PG_init. */
extern void raft_failover_define_settings(void);

/* Apply the failover settings to the engine options. */
extern void raft_failover_configure(raft_options *options);

/* One step of the policy, once per worker loop iteration; never blocks. */
extern void raft_failover_step(raft_node *node, const RaftStatus *status,
							   raft_time now);

/* The worker saw a role, term or leader change. */
extern void raft_failover_on_role_change(const RaftStatus *status);

/* Building the status snapshot: raft_status.primary_wait. */
extern void raft_failover_fill_status(RaftStatus *status);

/*
 * Whether auto_follow is in effect: on, and the members' WAL is one history
 * (max_lag_on_failover is not -1, the setting for independent instances,
 * whose WAL a standby could not follow).
 */
extern bool raft_follow_enabled(void);

/* raft_ext.replication_user: "" or the role primary_conninfo names */
extern char *raft_replication_user;

/* Check hook body of the role-name settings (GUC_check_errdetail on error). */
extern bool raft_check_role_name_setting(const char *value, const char *name);

/*
 * What each node reports to its leader in its Raft answers
 * (raft_set_flags): RAFT_EXT_FLAG_PROMOTES when it promotes its server
 * when it leads (auto_promote on, failover_priority above 0).  The leader
 * refuses to hand leadership to a standby that would not.  The other bits
 * of the byte: RAFT_EXT_FLAG_LOGICAL_READY (logical_slots.h).
 */
#define RAFT_EXT_FLAG_PROMOTES 0x01
extern uint8 raft_failover_flags(void);

/* ---- failover_follow.c ---- */

/*
 * Point primary_conninfo at 'leader_conninfo' (a member address) by
 * rewriting postgresql.auto.conf and signalling the postmaster to reload.
 * Does nothing when the value would not change.  Returns true if it
 * rewrote the file; on failure logs and returns false.  Never throws.
 */
extern bool raft_follow_write_conninfo(const char *leader_conninfo);

/* The primary_conninfo value raft_follow_write_conninfo would write. */
extern char *raft_follow_build_conninfo(const char *leader_conninfo);
/*
 * Whether auto_follow must rewrite a primary_conninfo even for the same
 * leader: it names another password file than raft_ext.passfile (when that
 * is set), or it lacks the dbname that slot synchronization needs
 * (raft_ext.sync_logical_slots in effect).
 */
extern bool raft_follow_conninfo_stale(const char *conninfo);

/* ---- role_change.c ---- */

/*
 * Queue the on_role_change command for this event (runs it if idle): a
 * Raft role change (%e "raft", %r the Raft role) ...
 */
extern void raft_role_command_event(raft_role role, raft_term term,
									raft_id leader, raft_id self);

/*
 * ... or a PostgreSQL one (%r "primary" or "standby"): %e "promoted",
 * "demoted", "rejoined" (the rejoin helper made it a standby of the
 * leader), or "started" (the worker started, with no change since the last
 * run); what this node was is kept in the Raft state directory.
 */
extern void raft_role_command_pg_event(const char *event, bool primary,
									   raft_term term, raft_id leader,
									   raft_id self);

/* Reap a finished command, enforce the time limit, start a queued one. */
extern void raft_role_command_poll(void);

/* Expand %e %r %t %l %n %% in 'command' (palloc'd result). */
extern char *raft_role_command_expand(const char *command, const char *event,
									  const char *role, raft_term term,
									  raft_id leader, raft_id self);

#endif							/* RAFT_FAILOVER_H */
