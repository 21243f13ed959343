/*
 * failover_settings.c
 *	  The failover policy's settings (raft_ext.auto_promote, auto_follow,
 *	  failover_priority, max_lag_on_failover, replication_user,
 *	  on_role_change), their checks, and what follows from them alone: the
 *	  engine options they set and the flags this node reports to its leader.
 *	  The decisions that read them are in failover.c.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "failover.h"
#include "settings.h"

int			raft_max_lag_on_failover = 0;
int			raft_failover_priority = 1;
bool		raft_auto_promote = true;
bool		raft_auto_follow = true;
char	   *raft_on_role_change = NULL;
char	   *raft_replication_user = NULL;

static bool check_on_role_change(char **newval, void **extra, GucSource source);
static bool check_role_name(char **newval, void **extra, GucSource source);

/*
 * raft_ext.replication_user and raft_ext.rewind_user: empty, or a role name
 * that goes into a conninfo as it is (no space, quote, backslash, control
 * character; shorter than NAMEDATALEN).
 */
bool
raft_check_role_name_setting(const char *value, const char *name)
{
	if (value == NULL || value[0] == '\0')
		return true;
	if (strlen(value) >= NAMEDATALEN)
	{
		GUC_check_errdetail("%s is longer than %d bytes.", name, NAMEDATALEN - 1);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if (*p <= ' ' || *p == '\'' || *p == '"' || *p == '\\' || *p == 0x7f)
		{
			GUC_check_errdetail("%s must be a plain role name: no space, quote, backslash or control character.",
								name);
			return false;
		}
	}
	return true;
}

static bool
check_role_name(char **newval, void **extra, GucSource source)
{
	return raft_check_role_name_setting(*newval, "raft_ext.replication_user");
}

/* Define the failover settings; called from _PG_init. */
void
raft_failover_define_settings(void)
{
	DefineCustomIntVariable("raft_ext.max_lag_on_failover",
							"How far a candidate's WAL may trail a voter's before the voter refuses it.",
							"0: the candidate must be at least as far along as the voter, so the new leader is "
							"the most caught-up node of its majority. -1: WAL positions are not compared. "
							"Takes effect when the raft_ext worker restarts.",
							&raft_max_lag_on_failover,
							0, -1, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("raft_ext.failover_priority",
							"Whether this node may become the leader (and so the primary).",
							"0: the node votes but never stands for election, and hands leadership on if it "
							"gets it. Any other value: it may stand. The engine reads it when the raft_ext "
							"worker starts.",
							&raft_failover_priority,
							1, 0, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("raft_ext.auto_promote",
							 "Promotes this standby when it is the Raft leader, holds the lease, and no healthy "
							 "primary is reachable.",
							 NULL,
							 &raft_auto_promote,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("raft_ext.auto_follow",
							 "Points this standby's primary_conninfo at the Raft leader.",
							 "The worker rewrites primary_conninfo in postgresql.auto.conf and reloads the "
							 "configuration; the WAL receiver then reconnects and follows the new timeline.",
							 &raft_auto_follow,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("raft_ext.replication_user",
							   "Role a standby streams as, in the primary_conninfo raft_ext writes.",
							   "Empty: the current primary_conninfo's user, else the member address's. "
							   "Its password comes from a password file, never from here.",
							   &raft_replication_user,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_role_name, NULL, NULL);

	DefineCustomStringVariable("raft_ext.on_role_change",
							   "Shell command run on every Raft role change.",
							   "%r is replaced by the role, %t the term, %l the leader's id, %n this node's id, "
							   "%% a percent sign. Runs in the background; killed after 60 s.",
							   &raft_on_role_change,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_on_role_change, NULL, NULL);
}

/* Check hook for raft_ext.on_role_change: only known placeholders. */
static bool
check_on_role_change(char **newval, void **extra, GucSource source)
{
	return raft_check_placeholders(*newval, "ertln%", "raft_ext.on_role_change",
								   "%e, %r, %t, %l, %n and %%");
}

/* Apply the failover settings to the engine options. */
void
raft_failover_configure(raft_options *options)
{
	options->never_campaign = (raft_failover_priority == 0);
	/* ranks successors; priority 0 is never_campaign, reported as 0 */
	options->priority = (uint8_t) Max(raft_failover_priority, 1);
	if (raft_max_lag_on_failover < 0)
		options->max_position_lag = RAFT_POSITION_ANY;
	else
		options->max_position_lag = (uint64) raft_max_lag_on_failover * 1024;
}

/* See failover.h. */
uint8
raft_failover_flags(void)
{
	return raft_auto_promote && raft_failover_priority > 0 ?
		RAFT_EXT_FLAG_PROMOTES : 0;
}

/* See failover.h. */
bool
raft_follow_enabled(void)
{
	return raft_auto_follow && raft_max_lag_on_failover >= 0;
}
