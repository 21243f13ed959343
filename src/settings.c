/*
 * settings.c
 *	  The raft_ext.* settings: definitions, per-setting checks, the parser of
 *	  raft_ext.peers, and the cross-setting validation the worker runs.
 *
 * A check hook sees one setting at a time, in whatever order the
 * configuration file lists them, so it can only check what a value means on
 * its own.  Relations between settings (the election timeout against the
 * heartbeat, the drift margin against the election timeout) are checked by
 * raft_settings_validate(), which the worker calls when it starts and on
 * every reload, and which raft_ext.validate_settings() exposes to SQL.
 *
 * raft_ext.peers can be reloaded, but it only describes the bootstrap
 * membership, and that is fixed at the node's first start (persisted in the
 * state directory, storage_bootstrap.c): later values may name it or the
 * current membership (worker.c), and change members' addresses only.  Membership of a running cluster changes with
 * raft_ext.add_node() and raft_ext.remove_node().
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xlog.h"
#include "lib/stringinfo.h"
#include "storage/lwlock.h"
#include "utils/guc.h"

#include "fencing.h"
#include "conninfo.h"
#include "failover.h"
#include "settings.h"
#include "shmem.h"

int			raft_node_id = 0;
char	   *raft_peers = NULL;
char	   *raft_cluster_name = NULL;
int			raft_heartbeat_interval = 100;
int			raft_election_timeout = 1000;
int			raft_election_spread = 500;
int			raft_lease_drift_margin = 100;
char	   *raft_state_directory = NULL;
char	   *raft_passfile = NULL;
bool		raft_fault_injection = false;

static bool check_peers(char **newval, void **extra, GucSource source);
static bool check_cluster_name(char **newval, void **extra, GucSource source);
static bool check_passfile(char **newval, void **extra, GucSource source);
static bool check_state_directory(char **newval, void **extra,
								  GucSource source);
static bool check_lease_drift_margin(int *newval, void **extra, GucSource source);

/* Whether s holds nothing but white space (or is NULL). */
static bool
is_blank(const char *s)
{
	if (s == NULL)
		return true;
	for (; *s; s++)
	{
		if (!isspace((unsigned char) *s))
			return false;
	}
	return true;
}

/* Whether the membership lists node id. */
static bool
membership_has(const raft_membership *m, raft_id id)
{
	for (int i = 0; i < m->count; i++)
	{
		if (m->members[i].id == id)
			return true;
	}
	return false;
}

/* Strip trailing white space from buf in place. */
static void
trim_trailing_space(StringInfo buf)
{
	while (buf->len > 0 && isspace((unsigned char) buf->data[buf->len - 1]))
		buf->data[--buf->len] = '\0';
}

/*
 * Parse "id:conninfo;id:conninfo;...".  White space around entries is
 * ignored and so are empty entries (a trailing ';').  Messages are full
 * sentences because they become errdetail and raft_status.error.
 */
bool
raft_parse_peers(const char *value, raft_membership *out, char **error)
{
	const char *p = value;
	StringInfoData conninfo;

	memset(out, 0, sizeof(*out));
	*error = NULL;

	if (is_blank(value))
	{
		*error = psprintf("%s lists no peers.", "raft_ext.peers");
		return false;
	}

	initStringInfo(&conninfo);
	while (*p)
	{
		const char *id_start;
		uint64		id = 0;
		char	   *problem;
		raft_member *member;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == ';')
		{
			p++;
			continue;
		}
		if (*p == '\0')
			break;

		/* the node id */
		id_start = p;
		while (isdigit((unsigned char) *p))
		{
			if (id <= PG_INT32_MAX)
				id = id * 10 + (*p - '0');
			p++;
		}
		if (p == id_start)
		{
			*error = psprintf("Entry %d of %s does not start with a node id: each entry is id:conninfo.",
							  out->count + 1, "raft_ext.peers");
			return false;
		}
		if (id < 1 || id > PG_INT32_MAX)
		{
			*error = psprintf("Node id %.*s in %s is out of range (1 to %d).",
							  (int) Min(p - id_start, 20), id_start,
							  "raft_ext.peers", PG_INT32_MAX);
			return false;
		}
		while (isspace((unsigned char) *p))
			p++;
		if (*p != ':')
		{
			*error = psprintf("Node id %u in %s is not followed by \":\": each entry is id:conninfo.",
							  (unsigned) id, "raft_ext.peers");
			return false;
		}
		p++;
		while (isspace((unsigned char) *p))
			p++;

		/* its conninfo */
		resetStringInfo(&conninfo);
		p = raft_conninfo_scan(p, &conninfo);
		trim_trailing_space(&conninfo);
		if (conninfo.len == 0)
		{
			*error = psprintf("Node %u in %s has an empty conninfo.",
							  (unsigned) id, "raft_ext.peers");
			return false;
		}
		if (conninfo.len >= RAFT_MAX_ADDRESS)
		{
			*error = psprintf("The conninfo of node %u in %s is too long (%d bytes, at most %d).",
							  (unsigned) id, "raft_ext.peers", conninfo.len,
							  RAFT_MAX_ADDRESS - 1);
			return false;
		}
		problem = raft_conninfo_problem(conninfo.data);
		if (problem != NULL)
		{
			*error = psprintf("The conninfo of node %u in %s is invalid. %s",
							  (unsigned) id, "raft_ext.peers", problem);
			return false;
		}

		if (membership_has(out, (raft_id) id))
		{
			*error = psprintf("Node id %u is listed more than once in %s.",
							  (unsigned) id, "raft_ext.peers");
			return false;
		}
		if (out->count >= RAFT_MAX_MEMBERS)
		{
			*error = psprintf("%s lists more than %d nodes.",
							  "raft_ext.peers", RAFT_MAX_MEMBERS);
			return false;
		}
		member = &out->members[out->count++];
		member->id = (raft_id) id;
		member->voter = true;
		memcpy(member->address, conninfo.data, conninfo.len + 1);
	}
	pfree(conninfo.data);

	if (out->count == 0)
	{
		*error = psprintf("%s lists no peers.", "raft_ext.peers");
		return false;
	}
	return true;
}

/*
 * Check hook for raft_ext.peers.  Empty means "not configured" (the boot
 * value must pass); the worker reports that through raft_settings_validate.
 * The message does not repeat the value: it may hold a password.
 */
static bool
check_peers(char **newval, void **extra, GucSource source)
{
	raft_membership *m;
	char	   *error;
	bool		ok;

	if (is_blank(*newval))
		return true;

	m = palloc(sizeof(raft_membership));
	ok = raft_parse_peers(*newval, m, &error);
	if (ok && raft_node_id != 0 && !membership_has(m, (raft_id) raft_node_id))
	{
		error = psprintf("%s does not list this node (%s = %d).",
						 "raft_ext.peers", "raft_ext.node_id", raft_node_id);
		ok = false;
	}
	pfree(m);
	if (!ok)
	{
		GUC_check_errmsg("invalid value for parameter \"%s\"", "raft_ext.peers");
		GUC_check_errdetail("%s", error);
	}
	return ok;
}

/*
 * Check hook for raft_ext.cluster_name: empty (unset: derived from the
 * database system identifier) or up to 63 printable ASCII characters.
 */
static bool
check_cluster_name(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	size_t		len = s ? strlen(s) : 0;

	if (len > RAFT_MAX_CLUSTER_NAME)
	{
		GUC_check_errdetail("%s must be at most %d characters long.",
							"raft_ext.cluster_name", RAFT_MAX_CLUSTER_NAME);
		return false;
	}
	for (; *s; s++)
	{
		if (*s < 0x20 || *s > 0x7e)
		{
			GUC_check_errdetail("%s may only contain printable ASCII characters.",
								"raft_ext.cluster_name");
			return false;
		}
	}
	return true;
}

/*
 * Check hook for raft_ext.passfile: empty, or an absolute path without
 * control characters (it goes into conninfo strings and
 * postgresql.auto.conf).  Whether the file exists is libpq's business at
 * connection time: its complaint then names the connection.
 */
static bool
check_passfile(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;

	if (s == NULL || s[0] == '\0')
		return true;
	if (s[0] != '/')
	{
		GUC_check_errdetail("%s must be an absolute path.", "raft_ext.passfile");
		return false;
	}
	for (; *s; s++)
	{
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
		{
			GUC_check_errdetail("%s must not contain control characters.",
								"raft_ext.passfile");
			return false;
		}
	}
	return true;
}

/*
 * Check hook for raft_ext.lease_drift_margin: never 0.  The fence lets a
 * leader commit only while its lease, shortened by this margin, runs; with
 * no margin a leader whose clock runs slower than a follower's could still
 * believe in its lease after that follower timed out and voted for a new
 * leader: two nodes would accept writes.
 */
static bool
check_lease_drift_margin(int *newval, void **extra, GucSource source)
{
	if (*newval <= 0)
	{
		GUC_check_errdetail("The fence's guarantee (no writes on two nodes at once) depends on "
							"a margin for clock-rate drift between nodes: a leader's lease must end "
							"before any follower's election timeout can.");
		GUC_check_errhint("Keep the default (100 ms) or another positive value.");
		return false;
	}
	return true;
}

/* Check hook for raft_ext.state_directory: must name something. */
static bool
check_state_directory(char **newval, void **extra, GucSource source)
{
	if (is_blank(*newval))
	{
		GUC_check_errdetail("%s must not be empty.", "raft_ext.state_directory");
		return false;
	}
	return true;
}


int			raft_synchronous = RAFT_SYNC_OFF;

/* See settings.h. */
bool
raft_sync_owns_names(void)
{
	return raft_synchronous == RAFT_SYNC_QUORUM;
}

/* See settings.h. */
void
raft_sync_standby_name(raft_id id, char *buf, size_t len)
{
	snprintf(buf, len, "node%u", (unsigned) id);
}

/* Define every raft_ext.* setting; called once from _PG_init. */
void
raft_define_settings(void)
{
	/* node_id first: the peers check hook looks at it. */
	DefineCustomIntVariable("raft_ext.node_id",
							"This node's Raft id, unique in the cluster.",
							"0 means unset: the worker then reports an error and does not run Raft.",
							&raft_node_id,
							0, 0, PG_INT32_MAX,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("raft_ext.peers",
							   "Bootstrap membership: id:conninfo entries separated by semicolons, this node included.",
							   "Fixed at the node's first start: later values may only change members' addresses. "
							   "Membership changes go through raft_ext.add_node() and raft_ext.remove_node().",
							   &raft_peers,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_peers, NULL, NULL);

	DefineCustomStringVariable("raft_ext.cluster_name",
							   "Name of the Raft cluster; messages for another cluster are refused.",
							   "Empty (the default): \"pg-\" followed by the database system identifier, which a "
							   "primary and its streaming standbys share. Members made by separate initdb runs "
							   "must all set the same name.",
							   &raft_cluster_name,
							   "",
							   PGC_POSTMASTER,
							   0,
							   check_cluster_name, NULL, NULL);

	DefineCustomStringVariable("raft_ext.passfile",
							   "Password file of this node's connections to other members.",
							   "Used by the Raft transport, the primary_conninfo that auto_follow writes "
							   "and the rejoin helper's source, in place of any passfile a member's address "
							   "names (a member's address is the cluster's, its password file is this "
							   "machine's). Empty: the address's own, or libpq's default.",
							   &raft_passfile,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_passfile, NULL, NULL);

	DefineCustomIntVariable("raft_ext.heartbeat_interval",
							"Time between the leader's heartbeats.",
							NULL,
							&raft_heartbeat_interval,
							100, 5, 10000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("raft_ext.election_timeout",
							"Time without a leader after which a follower stands for election.",
							"Must be at least three heartbeat intervals. The leader's lease lasts this long "
							"minus raft_ext.lease_drift_margin.",
							&raft_election_timeout,
							1000, 50, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("raft_ext.election_spread",
							"Width of the random range added to the election timeout.",
							"Election timeouts are drawn from [election_timeout, election_timeout + spread).",
							&raft_election_spread,
							500, 0, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("raft_ext.lease_drift_margin",
							"Safety margin subtracted from the leader's lease for clock-rate drift.",
							"Must be less than raft_ext.election_timeout.",
							&raft_lease_drift_margin,
							100, 0, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							check_lease_drift_margin, NULL, NULL);

	DefineCustomStringVariable("raft_ext.state_directory",
							   "Directory of the durable Raft state, relative to the data directory.",
							   NULL,
							   &raft_state_directory,
							   "pg_raft",
							   PGC_POSTMASTER,
							   0,
							   check_state_directory, NULL, NULL);

	DefineCustomBoolVariable("raft_ext.fault_injection",
							 "Enables fault injection (a test facility).",
							 "Never enable this in production.",
							 &raft_fault_injection,
							 false,
							 /* never switched on at run time on a live node */
							 PGC_POSTMASTER,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

}

/* See settings.h. */
void
raft_default_cluster_name(char *out)
{
	snprintf(out, RAFT_MAX_CLUSTER_NAME + 1, "pg-" UINT64_FORMAT,
			 GetSystemIdentifier());
}

/* See settings.h. */
void
raft_effective_cluster_name(char *out)
{
	if (raft_cluster_name != NULL && raft_cluster_name[0] != '\0')
	{
		strlcpy(out, raft_cluster_name, RAFT_MAX_CLUSTER_NAME + 1);
		return;
	}
	out[0] = '\0';
	if (raft_shared != NULL)
	{
		LWLockAcquire(raft_shared->lock, LW_SHARED);
		strlcpy(out, raft_shared->cluster_name, RAFT_MAX_CLUSTER_NAME + 1);
		LWLockRelease(raft_shared->lock);
	}
	if (out[0] == '\0')
		raft_default_cluster_name(out);
}

/* Fill engine options: the engine's defaults, then the settings. */
void
raft_options_from_settings(raft_options *options)
{
	raft_options_init(options, (raft_id) raft_node_id);
	options->heartbeat_interval = raft_heartbeat_interval;
	options->election_timeout = raft_election_timeout;
	options->election_spread = raft_election_spread;
	options->lease_drift_margin = raft_lease_drift_margin;
	/* rank-ordered elections: see bench/engine/README.md */
	options->rank_step = raft_heartbeat_interval / 2;
	options->rank_jitter = raft_heartbeat_interval / 10;
	/* a commit past the fence may take this long: transfers wait for it */
	options->transfer_hold = raft_fencing_headroom;
}

/* See settings.h: the checks that involve more than one setting. */
bool
raft_settings_validate(char **error)
{
	raft_membership *m;
	raft_options options;
	const char *why = NULL;

	*error = NULL;
	if (raft_node_id == 0)
	{
		*error = psprintf("%s is not set.", "raft_ext.node_id");
		return false;
	}
	if (is_blank(raft_peers))
	{
		*error = psprintf("%s is not set.", "raft_ext.peers");
		return false;
	}

	m = palloc(sizeof(raft_membership));
	if (!raft_parse_peers(raft_peers, m, error))
	{
		pfree(m);
		return false;
	}
	if (!membership_has(m, (raft_id) raft_node_id))
	{
		pfree(m);
		*error = psprintf("%s does not list this node (%s = %d).",
						  "raft_ext.peers", "raft_ext.node_id", raft_node_id);
		return false;
	}
	pfree(m);

	if (raft_election_timeout < 3 * raft_heartbeat_interval)
	{
		*error = psprintf("%s (%d ms) must be at least 3 times %s (%d ms).",
						  "raft_ext.election_timeout", raft_election_timeout,
						  "raft_ext.heartbeat_interval", raft_heartbeat_interval);
		return false;
	}
	if (raft_lease_drift_margin >= raft_election_timeout)
	{
		*error = psprintf("%s (%d ms) must be less than %s (%d ms).",
						  "raft_ext.lease_drift_margin", raft_lease_drift_margin,
						  "raft_ext.election_timeout", raft_election_timeout);
		return false;
	}

	/* The quorum's guarantee rests on the WAL-aware vote. */
	if (raft_synchronous == RAFT_SYNC_QUORUM && raft_max_lag_on_failover != 0)
	{
		*error = psprintf("%s = %s needs %s = 0 (it is %d kB): voters must refuse a candidate "
						  "that lacks commits they hold, or a failover may lose acknowledged commits.",
						  "raft_ext.synchronous", "quorum",
						  "raft_ext.max_lag_on_failover", raft_max_lag_on_failover);
		return false;
	}

	raft_options_from_settings(&options);
	if (raft_options_validate(&options, &why) != RAFT_OK)
	{
		*error = psprintf("The Raft engine rejects these settings: %s.",
						  why ? why : "no reason given");
		return false;
	}
	return true;
}

/* See settings.h. */
bool
raft_check_placeholders(const char *value, const char *allowed,
						const char *setting, const char *listed)
{
	if (value == NULL)
		return true;
	for (const char *p = value; *p; p++)
	{
		if (*p != '%')
			continue;
		p++;
		if (*p && strchr(allowed, *p) != NULL)
			continue;
		GUC_check_errdetail("%s may only use the placeholders %s; \"%%%c\" is not one.",
							setting, listed, *p ? *p : ' ');
		return false;
	}
	return true;
}
