/*
 * settings.h
 *	  The raft_ext.* settings (settings.c): their values, raft_ext.peers
 *	  parsing, the engine options they make, cross-setting validation.
 */
#ifndef RAFT_SETTINGS_H
#define RAFT_SETTINGS_H

#include "raft/raft.h"

extern int	raft_node_id;
extern char *raft_peers;
extern char *raft_cluster_name;
extern int	raft_heartbeat_interval;
extern int	raft_election_timeout;
extern int	raft_election_spread;
extern int	raft_lease_drift_margin;
extern char *raft_state_directory;
extern char *raft_passfile;
extern bool raft_fault_injection;

extern void raft_define_settings(void);

/*
 * raft_ext.synchronous (defined with its behaviour in sync_quorum.c; the
 * value here, for the files that only read it: auto_follow names the
 * standby by it, without calling into sync_quorum.c).
 */
typedef enum RaftSyncMode
{
	RAFT_SYNC_OFF = 0,			/* synchronous_standby_names is the user's */
	RAFT_SYNC_QUORUM = 1		/* ANY k (the other voters), kept by raft_ext */
} RaftSyncMode;

extern int	raft_synchronous;

/* Whether raft_ext owns synchronous_standby_names and application_name. */
extern bool raft_sync_owns_names(void);

/* The application_name member 'id' streams WAL with ("node<id>"). */
extern void raft_sync_standby_name(raft_id id, char *buf, size_t len);

/*
 * Parse a raft_ext.peers value ("id:conninfo;id:conninfo;...") into a
 * membership (every entry a voter, address = conninfo).  On failure returns
 * false with a palloc'd message in *error.  Checks: ids in 1..INT32_MAX,
 * no duplicates, conninfo passes raft_conninfo_problem (no control
 * character, parses with PQconninfoParse), at most
 * RAFT_MAX_MEMBERS entries, conninfo shorter than RAFT_MAX_ADDRESS.
 */
extern bool raft_parse_peers(const char *value, raft_membership *out,
							 char **error);

/*
 * The cluster name raft_ext.cluster_name stands for when it is empty: "pg-"
 * and the database system identifier (pg_control), which a primary and its
 * streaming standbys share.  out holds RAFT_MAX_CLUSTER_NAME + 1 bytes.
 */
extern void raft_default_cluster_name(char *out);

/*
 * The cluster name this node uses: raft_ext.cluster_name if set, else the
 * one the worker chose at start (raft_shared->cluster_name: the default, or
 * the 1.0 default its state directory carries), else the default.
 */
extern void raft_effective_cluster_name(char *out);

/* The default of raft_ext 1.0, still honoured in its state directories. */
#define RAFT_LEGACY_CLUSTER_NAME	"raft_ext"

/* Fill engine options from the settings. */
extern void raft_options_from_settings(raft_options *options);

/*
 * Cross-setting checks that check hooks cannot make reliably (a hook sees one
 * setting at a time, in file order): node_id set, peers nonempty and naming
 * this node, election_timeout >= 3 x heartbeat_interval, lease_drift_margin <
 * election_timeout, and the engine's own option checks.  Returns false with
 * a palloc'd message in *error.  The worker calls it at start and on every
 * reload; raft_ext.validate_settings() shows its verdict.
 */
extern bool raft_settings_validate(char **error);

/*
 * For the check hook of a shell-command setting (raft_ext.on_role_change,
 * raft_ext.rejoin_command): whether 'value' uses only the placeholders
 * whose letters 'allowed' holds ('%' among them for "%%").  If not, sets
 * the check's detail, naming 'setting' and the placeholders ('listed',
 * e.g. "%r, %t and %%"), and returns false.  NULL passes.
 */
extern bool raft_check_placeholders(const char *value, const char *allowed,
									const char *setting, const char *listed);

#endif							/* RAFT_SETTINGS_H */
