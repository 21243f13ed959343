/*
 * rejoin.c
 *	  raft_ext.auto_rejoin: the cluster returns to full redundancy by
 *	  itself.  A primary that does not lead, while another member leads,
 *	  becomes a standby of the leader; a standby whose WAL went past the
 *	  point where the leader's timeline forked is rewound onto it.
 *
 * The worker only decides and starts the helper (rejoin_helper.c), which
 * outlives the postmaster: raft_ext_rejoin, installed beside pg_ctl, or
 * raft_ext.rejoin_command.  The helper stops the server, runs crash
 * recovery if it was not shut down cleanly, runs pg_rewind only when
 * pg_rewind --dry-run says the WAL diverged, keeps this node's configuration
 * files and Raft state directory, writes primary_conninfo and
 * standby.signal, and starts the server as a standby.  It records each step
 * in raft_ext_rejoin.status in the data directory; the worker shows that
 * file in raft_status.rejoin_state and rejoin_error.
 *
 * When, for a primary: auto_rejoin is in effect, another member is the
 * leader, this node heard from it within the election timeout (so the
 * leader holds the lease: no other node could have been elected meanwhile),
 * and that has lasted two election timeouts (a standby that wins while a
 * healthy primary lives hands leadership back within a few heartbeats).
 * The helper also checks that the leader is out of recovery before it
 * stops anything.  Until the server stops, the fence refuses its writes
 * (fencing.c) and its WAL senders are ended (fence_wal.c).
 *
 * When, for a standby: it follows the leader (primary_conninfo names the
 * leader's server) and for STANDBY_STUCK_MS its WAL receiver has not
 * streamed or it has known a newer timeline than the one it replays
 * (standby_stuck); the helper then compares its position with the
 * leader's timeline history and changes nothing unless it diverged.
 *
 * A planned switchover (raft_ext.transfer_leadership on the primary): the
 * leader gives up its lease when the transfer starts, so the fence refuses
 * every write and its insert position stops moving; once the target leads,
 * this node demotes at once (--demote: CHECKPOINT, fast shutdown, whose
 * shutdown checkpoint the WAL senders deliver to every standby before they
 * exit), without the two election timeouts' wait.  The target promotes
 * only once its WAL receiver has stopped (failover.c), that is after it
 * received that final record, so the old primary's WAL ends where the new
 * timeline forks: it rejoins without pg_rewind, and every standby follows.
 *
 * A failed attempt leaves the node as it was (a former primary: running,
 * fenced) and is retried after 5 s, doubled for each further failure, at
 * most 5 minutes; the attempt number travels in the status file, so it
 * survives the restart of the worker.  The helper never touches the Raft
 * state: pg_rewind would replace it with the source's, so the helper saves
 * it and puts it back.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/timeline.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/walreceiver.h"
#include "storage/fd.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "conninfo.h"
#include "failover.h"
#include "rejoin.h"
#include "settings.h"

int			raft_auto_rejoin = REJOIN_AUTO;
char	   *raft_rejoin_command = NULL;

/* A standby whose WAL receiver has not streamed this long is checked. */
#define STANDBY_STUCK_MS		5000
/* A switchover's target leading this soon after the transfer: demote. */
#define SWITCHOVER_WINDOW_MS	10000
/* A check that found a standby not diverged is repeated after this. */
#define STANDBY_RECHECK_S		30
/* Retry after a failure: 5 s doubled per failure, at most 5 min. */
#define RETRY_BASE_S			5
#define RETRY_MAX_S				300
/* A helper that has not finished after this long is taken for dead. */
#define HELPER_TIMEOUT_S		600
/* The status file is read at most this often. */
#define STATUS_READ_MS			1000

static const struct config_enum_entry auto_rejoin_options[] = {
	{"auto", REJOIN_AUTO, false},
	{"on", REJOIN_ON, false},
	{"off", REJOIN_OFF, false},
	{"true", REJOIN_ON, true},
	{"false", REJOIN_OFF, true},
	{"yes", REJOIN_ON, true},
	{"no", REJOIN_OFF, true},
	{"1", REJOIN_ON, true},
	{"0", REJOIN_OFF, true},
	{NULL, 0, false}
};

/* What the helper last wrote to the status file. */
typedef struct RejoinFile
{
	char		state[32];
	char		error[RAFT_ERROR_LEN];
	int			attempt;
	int64		time;			/* epoch seconds, 0 = no file */
} RejoinFile;

/* What the decision remembers between iterations (worker process only). */
typedef struct RejoinState
{
	raft_id		leader;			/* leader seen alive, RAFT_NOBODY if none */
	raft_time	leader_since;	/* ... since when */
	raft_time	not_streaming_since;	/* standby: 0 while it streams */
	pid_t		receiver_pid;	/* the WAL receiver seen streaming last */
	XLogRecPtr	received;		/* ... and what it had flushed then */
	bool		waiting;		/* conditions met, waiting for the leader to last */
	raft_id		transfer_to;	/* this primary was handing leadership to it */
	raft_time	transfer_at;	/* ... last seen then */
	raft_time	demote_started_at;	/* a --demote helper started then */
	raft_time	file_read_at;
	RejoinFile	file;
} RejoinState;

static RejoinState rj;

static bool check_rejoin_command(char **newval, void **extra, GucSource source);
static bool check_rewind_user(char **newval, void **extra, GucSource source);

char	   *raft_rewind_user = NULL;
bool		raft_rejoin_reclone = true;

/* Define the rejoin settings; called from _PG_init. */
void
raft_rejoin_define_settings(void)
{
	DefineCustomEnumVariable("raft_ext.auto_rejoin",
							 "Rejoins this node as a standby of the Raft leader when it is a primary that does "
							 "not lead, or a standby whose WAL diverged from the leader's timeline.",
							 "auto: on when raft_ext.auto_follow is on. The worker starts a helper that stops "
							 "the server, runs pg_rewind only if the WAL diverged, and starts it as a standby.",
							 &raft_auto_rejoin,
							 REJOIN_AUTO,
							 auto_rejoin_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("raft_ext.rejoin_command",
							   "Shell command that rejoins this node as a standby of the leader.",
							   "Empty: raft_ext_rejoin from PostgreSQL's bindir. %d is replaced by the data "
							   "directory, %s the leader's address, %f the status file, %a the attempt number, "
							   "%m the mode's options (--if-diverged for a standby, --demote after a switchover), %% a percent sign; "
							   "each replaced value is quoted for the shell.",
							   &raft_rejoin_command,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_rejoin_command, NULL, NULL);

	DefineCustomBoolVariable("raft_ext.rejoin_reclone",
							 "Re-clones this node from the leader with pg_basebackup when pg_rewind cannot rejoin it.",
							 "pg_rewind fails when the WAL it needs was recycled, or the timelines have no common "
							 "ancestor; the node then stays fenced until rebuilt. The node keeps its configuration "
							 "files and Raft state.",
							 &raft_rejoin_reclone,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("raft_ext.rewind_user",
							   "Role the rejoin helper connects to the leader as, for pg_rewind and its checks.",
							   "Empty: the member address's user. It needs pg_checkpoint and EXECUTE on "
							   "pg_ls_dir, pg_stat_file, pg_read_file and pg_read_binary_file; its password comes "
							   "from a password file, never from here.",
							   &raft_rewind_user,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_rewind_user, NULL, NULL);
}

/* Check hook for raft_ext.rewind_user. */
static bool
check_rewind_user(char **newval, void **extra, GucSource source)
{
	return raft_check_role_name_setting(*newval, "raft_ext.rewind_user");
}

/*
 * The conninfo the helper rewinds from: the leader's address, as
 * raft_ext.rewind_user and with raft_ext.passfile if set (palloc'd).
 */
static char *
rewind_source(const char *address)
{
	return raft_conninfo_with(address, raft_rewind_user, raft_passfile);
}

/* Check hook for raft_ext.rejoin_command: only known placeholders. */
static bool
check_rejoin_command(char **newval, void **extra, GucSource source)
{
	return raft_check_placeholders(*newval, "dsfam%", "raft_ext.rejoin_command",
								   "%d, %s, %f, %a, %m and %%");
}

/* See rejoin.h. */
bool
raft_rejoin_enabled(void)
{
	if (raft_auto_rejoin == REJOIN_AUTO)
		return raft_follow_enabled();
	return raft_auto_rejoin == REJOIN_ON;
}

/* Append 'value' to buf quoted for /bin/sh. */
static void
append_shell_quoted(StringInfo buf, const char *value)
{
	appendStringInfoChar(buf, '\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'')
			appendStringInfoString(buf, "'\\''");
		else
			appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/* Read the helper's status file into rj.file (at most once a second). */
static void
read_status_file(raft_time now, bool force)
{
	FILE	   *file;
	char		line[RAFT_ERROR_LEN + 32];

	if (!force && rj.file_read_at != 0 && now - rj.file_read_at < STATUS_READ_MS)
		return;
	rj.file_read_at = now;
	memset(&rj.file, 0, sizeof(rj.file));
	file = AllocateFile(REJOIN_STATUS_FILE, "r");
	if (file == NULL)
		return;
	while (fgets(line, sizeof(line), file) != NULL)
	{
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "state=", 6) == 0)
			strlcpy(rj.file.state, line + 6, sizeof(rj.file.state));
		else if (strncmp(line, "error=", 6) == 0)
		{
			/* Shown to PUBLIC (raft_status, raft_cluster, HTTP): masked. */
			char	   *masked = raft_conninfo_mask_text(line + 6);

			strlcpy(rj.file.error, masked, sizeof(rj.file.error));
			pfree(masked);
		}
		else if (strncmp(line, "attempt=", 8) == 0)
			rj.file.attempt = atoi(line + 8);
		else if (strncmp(line, "time=", 5) == 0)
			rj.file.time = strtoll(line + 5, NULL, 10);
	}
	FreeFile(file);
}

/* Write the status file as the helper does (the worker's own states). */
static void
write_status_file(const char *state, int attempt)
{
	FILE	   *file = AllocateFile(REJOIN_STATUS_FILE ".tmp", "w");

	if (file == NULL)
		return;
	fprintf(file, "state=%s\nerror=\nattempt=%d\ntime=%lld\n",
			state, attempt, (long long) time(NULL));
	if (FreeFile(file) == 0)
		(void) rename(REJOIN_STATUS_FILE ".tmp", REJOIN_STATUS_FILE);
}

/* Whether the status file shows a helper at work (not finished, recent). */
static bool
helper_running(void)
{
	static const char *const finished[] = {"done", "failed", "not-diverged"};

	if (rj.file.state[0] == '\0')
		return false;
	for (size_t i = 0; i < lengthof(finished); i++)
	{
		if (strcmp(rj.file.state, finished[i]) == 0)
			return false;
	}
	return time(NULL) - rj.file.time < HELPER_TIMEOUT_S;
}

/* See rejoin.h. */
bool
raft_rejoin_in_progress(void)
{
	return helper_running();
}

/* Seconds to wait after the status file's last result before trying again. */
static int64
retry_delay(void)
{
	int64		delay = RETRY_BASE_S;

	if (strcmp(rj.file.state, "not-diverged") == 0)
		return STANDBY_RECHECK_S;
	if (strcmp(rj.file.state, "failed") != 0)
		return 0;
	for (int i = 1; i < rj.file.attempt && delay < RETRY_MAX_S; i++)
		delay *= 2;
	return Min(delay, RETRY_MAX_S);
}

/* Build the helper's command line (palloc'd). */
static char *
build_command(const char *source, bool standby, bool demote, int attempt)
{
	StringInfoData buf;
	char		bindir[MAXPGPATH];
	char	   *serverlog;

	initStringInfo(&buf);
	if (raft_rejoin_command != NULL && raft_rejoin_command[0] != '\0')
	{
		for (const char *p = raft_rejoin_command; *p; p++)
		{
			if (*p != '%' || p[1] == '\0')
			{
				appendStringInfoChar(&buf, *p);
				continue;
			}
			p++;
			switch (*p)
			{
				case 'd':
					append_shell_quoted(&buf, DataDir);
					break;
				case 's':
					append_shell_quoted(&buf, source);
					break;
				case 'f':
					appendStringInfo(&buf, "'%s/%s'", DataDir, REJOIN_STATUS_FILE);
					break;
				case 'a':
					appendStringInfo(&buf, "%d", attempt);
					break;
				case 'm':
					if (standby)
						appendStringInfoString(&buf, "--if-diverged");
					else if (demote)
						appendStringInfoString(&buf, "--demote");
					if (raft_rejoin_reclone)
						appendStringInfoString(&buf, standby || demote ?
											   " --reclone" : "--reclone");
					break;
				default:
					appendStringInfoChar(&buf, *p);
					break;
			}
		}
		return buf.data;
	}

	/* The built-in helper, from the bindir of the running postgres. */
	strlcpy(bindir, my_exec_path, sizeof(bindir));
	get_parent_directory(bindir);
	appendStringInfoString(&buf, "exec ");
	append_shell_quoted(&buf, psprintf("%s/raft_ext_rejoin", bindir));
	appendStringInfoString(&buf, " -D ");
	append_shell_quoted(&buf, DataDir);
	/* "-": from the environment (raft_rejoin_spawn), not the command line */
	appendStringInfoString(&buf, " --source - --bindir ");
	append_shell_quoted(&buf, bindir);
	serverlog = raft_rejoin_server_log();
	if (serverlog != NULL)
	{
		appendStringInfoString(&buf, " --log ");
		append_shell_quoted(&buf, serverlog);
	}
	appendStringInfo(&buf, " --status-file ");
	append_shell_quoted(&buf, psprintf("%s/%s", DataDir, REJOIN_STATUS_FILE));
	appendStringInfo(&buf, " --attempt %d --restart-on-failure%s%s",
					 attempt, standby ? " --if-diverged" : demote ? " --demote" : "",
					 raft_rejoin_reclone ? " --reclone" : "");
	return buf.data;
}

/* Start the helper towards 'leader'; logs what it does. */
static void
start_rejoin(const RaftPeerStatus *leader, bool standby, bool demote)
{
	int			attempt = strcmp(rj.file.state, "failed") == 0 ?
		rj.file.attempt + 1 : 1;
	char	   *source = rewind_source(leader->conninfo);
	char	   *primary = raft_follow_build_conninfo(leader->conninfo);
	char	   *command = build_command(source, standby, demote, attempt);
	char	   *serverlog = raft_rejoin_server_log();
	char	   *logpath = serverlog ? serverlog :
		psprintf("%s/raft_ext_rejoin.log", DataDir);
	char	   *masked = raft_conninfo_masked(leader->conninfo);

	ereport(LOG,
			(standby ?
			 errmsg("node %u checks whether its WAL diverged from the timeline of the Raft leader, node %u",
					(unsigned) raft_node_id, (unsigned) leader->id) :
			 demote ?
			 errmsg("node %u handed leadership to node %u: demoting to its standby",
					(unsigned) raft_node_id, (unsigned) leader->id) :
			 errmsg("node %u is a primary but node %u is the Raft leader: rejoining as its standby",
					(unsigned) raft_node_id, (unsigned) leader->id),
			 errdetail("Attempt %d; the helper logs to \"%s\"; the leader's address is \"%s\".",
					   attempt, logpath, masked),
			 errhint("Set %s to off to rejoin by hand.", "raft_ext.auto_rejoin")));
	write_status_file("started", attempt);
	if (!raft_rejoin_spawn(command, logpath, source,
						   primary[0] != '\0' ? primary : NULL))
	{
		write_status_file("failed", attempt);
		return;
	}
	read_status_file(0, true);
}

/* The leader this node hears from now, as a member entry, or NULL. */
static const RaftPeerStatus *
live_leader(const RaftStatus *status, raft_time now)
{
	if (status->role == RAFT_LEADER || status->leader_id == RAFT_NOBODY ||
		status->leader_id == (raft_id) raft_node_id ||
		status->last_leader_contact == 0 ||
		now - status->last_leader_contact >= raft_election_timeout)
		return NULL;
	for (int i = 0; i < status->n_peers; i++)
	{
		if (status->peers[i].id == status->leader_id &&
			status->peers[i].conninfo[0] != '\0')
			return &status->peers[i];
	}
	return NULL;
}

/*
 * Whether this standby cannot follow: its WAL receiver has not streamed
 * for a while, or it knows a newer timeline (its history file arrived)
 * than the one it replays and stays behind.  A standby that received WAL
 * past the point where the leader's timeline forked does the latter: its
 * WAL receiver streams the old timeline up to the fork and the startup
 * process refuses the new one ("new timeline N forked off current database
 * system timeline M before current recovery point"), forever.  Looked at
 * once a second (the history check opens files).
 *
 * "Streams" means more than the receiver's state: a standby whose next WAL
 * segment the primary has removed starts a new WAL receiver every few
 * hundred milliseconds, each one "streaming" for a moment until the WAL
 * sender fails with "requested WAL segment ... has already been removed".
 * A sample that sees a receiver stream counts only when it is the same
 * receiver as at the last sample or the flushed position has moved since;
 * otherwise such a standby would look healthy at random samples and be
 * checked only by chance.
 */
static bool
standby_stuck(raft_time now)
{
	static raft_time checked_at = 0;
	WalRcvData *walrcv = WalRcv;
	bool		streaming;
	pid_t		pid;
	XLogRecPtr	flushed;
	TimeLineID	replay_tli;

	if (walrcv == NULL)
		return false;
	if (checked_at != 0 && now - checked_at < STATUS_READ_MS)
		return rj.not_streaming_since != 0 &&
			now - rj.not_streaming_since >= STANDBY_STUCK_MS;
	checked_at = now;
	SpinLockAcquire(&walrcv->mutex);
	streaming = (walrcv->walRcvState == WALRCV_STREAMING);
	pid = walrcv->pid;
	flushed = walrcv->flushedUpto;
	SpinLockRelease(&walrcv->mutex);
	if (streaming && pid != rj.receiver_pid && flushed <= rj.received)
		streaming = false;		/* a new receiver that has not moved yet */
	rj.receiver_pid = pid;
	rj.received = Max(flushed, rj.received);
	(void) GetXLogReplayRecPtr(&replay_tli);
	if (streaming && replay_tli != 0 &&
		findNewestTimeLine(replay_tli) > replay_tli)
		streaming = false;		/* a newer timeline it does not switch to */
	if (streaming)
	{
		rj.not_streaming_since = 0;
		return false;
	}
	if (rj.not_streaming_since == 0)
		rj.not_streaming_since = now;
	return now - rj.not_streaming_since >= STANDBY_STUCK_MS;
}

/* See rejoin.h. */
void
raft_rejoin_step(const RaftStatus *status, raft_time now)
{
	const RaftPeerStatus *leader;
	bool		standby = RecoveryInProgress();

	bool		demote = false;

	rj.waiting = false;
	read_status_file(now, false);
	if (!raft_rejoin_enabled())
		return;

	/* Remember a switchover this primary started. */
	if (!standby && status->role == RAFT_LEADER &&
		status->transfer_target != RAFT_NOBODY)
	{
		rj.transfer_to = status->transfer_target;
		rj.transfer_at = now;
	}

	leader = live_leader(status, now);
	if (leader == NULL)
	{
		rj.leader = RAFT_NOBODY;
		return;
	}
	if (leader->id != rj.leader)
	{
		rj.leader = leader->id;
		rj.leader_since = now;
	}
	if (standby)
	{
		if (!raft_conninfo_same_server(PrimaryConnInfo, leader->conninfo) ||
			!standby_stuck(now))
			return;
	}
	else
	{
		rj.waiting = true;
		demote = rj.transfer_to == leader->id &&
			now - rj.transfer_at < SWITCHOVER_WINDOW_MS;
	}
	if (!demote && now - rj.leader_since < 2 * raft_election_timeout)
		return;
	if (helper_running())
		return;
	if (rj.file.time != 0 && time(NULL) < rj.file.time + retry_delay())
		return;
	rj.waiting = false;
	start_rejoin(leader, standby, demote);
	if (demote)
		rj.demote_started_at = now;
	rj.not_streaming_since = 0;
	rj.transfer_to = RAFT_NOBODY;
}

/* See rejoin.h. */
bool
raft_rejoin_demoting(raft_time now)
{
	return rj.demote_started_at != 0 &&
		now - rj.demote_started_at < SWITCHOVER_WINDOW_MS;
}

/* See rejoin.h. */
void
raft_rejoin_fill_status(RaftStatus *status)
{
	if (rj.waiting && !helper_running() &&
		strcmp(rj.file.state, "failed") != 0)
		strlcpy(status->rejoin_state, "waiting", sizeof(status->rejoin_state));
	else
		strlcpy(status->rejoin_state, rj.file.state, sizeof(status->rejoin_state));
	strlcpy(status->rejoin_error, rj.file.error, sizeof(status->rejoin_error));
	/* From the status file, so they survive the restarts a rejoin makes. */
	status->rejoin_attempt = rj.file.attempt;
	status->rejoin_failed = strcmp(rj.file.state, "failed") == 0;
}
