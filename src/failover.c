/*
 * failover.c
 *	  The failover policy, the decisions the worker takes once per loop
 *	  iteration: the Raft leader is the node that should be the PostgreSQL
 *	  primary.
 *
 * What a node does, by its Raft role and its PostgreSQL role (the settings
 * named here are in failover_settings.c):
 *
 *	  leader, standby	If its WAL receiver streams from a member that answers
 *						Raft (a healthy primary), hand leadership to that
 *						member: a healthy primary stays primary.  Otherwise,
 *						with raft_ext.auto_promote and the lease held, promote
 *						(what pg_promote() does: the promote signal file and
 *						SIGUSR1 to the postmaster).  A leader that won by a
 *						transfer from its upstream (a planned switchover)
 *						promotes without handing back.
 *	  leader, primary	Nothing: this is the steady state.
 *	  follower, standby	With raft_ext.auto_follow, point primary_conninfo at
 *						the leader (failover_follow.c).
 *	  follower, primary	Nothing but a log line: fencing refuses its writes
 *						until it is rejoined as a standby
 *						(scripts/rejoin-standby.sh).
 *
 * Why a promotion cannot make two primaries that both write: a node only
 * promotes while it holds the lease, and the fence (fencing.c) refuses every
 * commit on a node without the lease, the old primary included.  The worst
 * an unnecessary promotion does is fork the timeline, which costs a
 * pg_rewind, never an acknowledged write.
 *
 * The engine's options (never_campaign, max_position_lag) are fixed when the
 * engine is built, so raft_ext.failover_priority and
 * raft_ext.max_lag_on_failover take effect when the worker restarts; the
 * other settings take effect at the next loop iteration after a reload.
 */
#include "postgres.h"

#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "miscadmin.h"
#include "replication/walreceiver.h"
#include "storage/fd.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "conninfo.h"
#include "failover.h"
#include "fencing.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "rejoin.h"
#include "settings.h"
#include "status.h"
#include "storage.h"
#include "timeline_step.h"

/* A switchover's target waits this long at most for the old primary's end. */
#define SWITCHOVER_WAIT_MS	10000

/* A promotion that has not ended recovery after this long may be retried. */
#define PROMOTE_RETRY_MS	30000

/*
 * After a failed handback the next one waits 4 election timeouts (long
 * enough for this node to win again and promote), doubled for each further
 * failure, at most 2^HANDBACK_MAX_SHIFT election timeouts.
 */
#define HANDBACK_MAX_SHIFT		5

/* What the policy remembers between iterations (worker process only). */
typedef struct FailoverState
{
	raft_role	role;
	raft_term	term;
	raft_id		leader;
	raft_time	leader_changed_at;	/* (term, leader) last changed */
	raft_time	became_leader_at;
	raft_time	leader_contact;		/* last contact with a leader, as follower */
	raft_id		last_other_leader;	/* last leader seen that was not us */
	raft_id		previous_leader;	/* leader before this node won */
	bool		won_by_transfer;	/* won < ET after hearing the old leader */
	XLogRecPtr	quiet_lsn;		/* WAL received when last seen moving */
	raft_time	quiet_since;	/* ... and since when it has not moved */
	bool		promote_requested;
	raft_time	promote_requested_at;
	raft_term	slots_made_term;	/* member slots made early in this term */
	raft_time	last_transfer_at;
	raft_time	last_follow_at;
	raft_term	logged_term;	/* term of the last "not promoting" line */
	char		primary_wait[RAFT_PRIMARY_WAIT_LEN];	/* why a leader is not
														 * the primary yet */
	int			pg_role;		/* -1 not yet known, else 1 primary, 0 standby */
	raft_id		logged_fenced_leader;	/* last "fenced primary" line */

	/*
	 * Handing leadership back to the upstream primary.  A primary that can
	 * send Raft messages but not receive them looks alive, yet never gets
	 * the TIMEOUT_NOW: without this the standby would hand back, lose
	 * leadership, win again and hand back again, forever, with no writable
	 * primary.
	 */
	raft_id		handback_target;	/* pending handback, RAFT_NOBODY if none */
	raft_time	handback_at;		/* when it started */
	int			handback_failures;	/* consecutive handbacks that failed */
	raft_time	handback_next;		/* none before this, after a failure */
} FailoverState;

static FailoverState fo = {.pg_role = -1};

/*
 * Say why this leader is not the primary (yet): raft_status.primary_wait.
 * 'forever' reasons (nothing the node will do changes them) are also
 * logged, once per term.
 */
static void
pg_attribute_printf(3, 4)
leader_waits(const RaftStatus *status, bool forever, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	vsnprintf(fo.primary_wait, sizeof(fo.primary_wait), fmt, args);
	va_end(args);
	if (!forever || fo.logged_term == status->term)
		return;
	fo.logged_term = status->term;
	ereport(LOG,
			(errmsg("node %u leads in term %llu but does not promote: %s",
					(unsigned) raft_node_id, (unsigned long long) status->term,
					fo.primary_wait),
			 errhint("raft_status.primary_wait says the same; the cluster has no writable primary until it changes.")));
}

/* What this node's WAL receiver is doing, copied under its spinlock. */
typedef struct UpstreamInfo
{
	bool		streaming;
	TimestampTz last_message;
	char		host[NI_MAXHOST];
	int			port;
} UpstreamInfo;

/* Copy what the WAL receiver reports about its upstream. */
static void
read_upstream(UpstreamInfo *up)
{
	WalRcvData *walrcv = WalRcv;

	memset(up, 0, sizeof(*up));
	if (walrcv == NULL)
		return;
	SpinLockAcquire(&walrcv->mutex);
	up->streaming = (walrcv->walRcvState == WALRCV_STREAMING);
	up->last_message = walrcv->lastMsgReceiptTime;
	strlcpy(up->host, walrcv->sender_host, sizeof(up->host));
	up->port = walrcv->sender_port;
	SpinLockRelease(&walrcv->mutex);
}

/* Whether the upstream sent something within the last ms milliseconds. */
static bool
upstream_recent(const UpstreamInfo *up, int ms)
{
	return up->streaming && up->last_message != 0 &&
		!TimestampDifferenceExceeds(up->last_message, GetCurrentTimestamp(), ms);
}

/* The member (not this node) the WAL receiver streams from, or NULL. */
static const RaftPeerStatus *
upstream_member(const RaftStatus *status, const UpstreamInfo *up)
{
	if (!up->streaming || up->host[0] == '\0')
		return NULL;
	for (int i = 0; i < status->n_peers; i++)
	{
		const RaftPeerStatus *peer = &status->peers[i];
		char		host[NI_MAXHOST];
		int			port;

		if (peer->is_self ||
			!raft_conninfo_target(peer->conninfo, host, sizeof(host), &port))
			continue;
		if (port == up->port && strcmp(host, up->host) == 0)
			return peer;
	}
	return NULL;
}

/*
 * A leader that won by a transfer from its upstream (a planned switchover)
 * promotes only once its WAL receiver has stopped: the old primary demotes
 * (fast shutdown) and its WAL senders deliver its final record, the
 * shutdown checkpoint, before they exit (rejoin.c).  Promoting earlier would
 * fork the timeline before that record and cost the old primary a rewind.
 * At most SWITCHOVER_WAIT_MS, for an old primary that does not demote.
 */
static bool
switchover_waits(raft_time now)
{
	return fo.won_by_transfer && raft_rejoin_enabled() &&
		now - fo.became_leader_at < SWITCHOVER_WAIT_MS;
}

/*
 * Whether the WAL this standby receives has stopped moving.  A standby
 * that promotes while its upstream still sends WAL (a fenced old primary
 * still writes abort records, vacuum, checkpoints) forks its timeline
 * before the point another standby may already have received, and that
 * standby could then not follow it without pg_rewind.  So a leader that
 * still streams waits until nothing new arrived for two heartbeats, or at
 * most one election timeout (an upstream that never goes quiet must not
 * keep the cluster without a primary).
 */
static bool
upstream_quiet(const UpstreamInfo *up, raft_time now)
{
	XLogRecPtr	received = GetWalRcvFlushRecPtr(NULL, NULL);

	if (!up->streaming)
		return true;
	if (switchover_waits(now))
		return false;
	if (received != fo.quiet_lsn || fo.quiet_since == 0)
	{
		fo.quiet_lsn = received;
		fo.quiet_since = now;
	}
	if (now - fo.quiet_since >= 2 * raft_heartbeat_interval)
		return true;
	return now - fo.became_leader_at >= raft_election_timeout;
}

/* Whether a peer answered within the last election timeout. */
static bool
peer_alive(const RaftPeerStatus *peer, raft_time now)
{
	return peer->last_contact != 0 &&
		now - peer->last_contact < raft_election_timeout;
}

/* Whether every live member other than this node has reported its position. */
static bool
live_positions_known(const RaftStatus *status, raft_time now)
{
	for (int i = 0; i < status->n_peers; i++)
	{
		const RaftPeerStatus *peer = &status->peers[i];

		if (!peer->is_self && peer_alive(peer, now) &&
			peer->position.major == 0 && peer->position.minor == 0)
			return false;
	}
	return true;
}

/*
 * Ask the postmaster to end recovery, as pg_promote() does: create the
 * promote signal file in the data directory, then send SIGUSR1.  Does not
 * wait: the startup process finishes recovery on its own time.
 */
static bool
request_promotion(void)
{
	FILE	   *file;

	file = AllocateFile(PROMOTE_SIGNAL_FILE, "w");
	if (file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create promote signal file \"%s\": %m",
						PROMOTE_SIGNAL_FILE)));
		return false;
	}
	if (FreeFile(file) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write promote signal file \"%s\": %m",
						PROMOTE_SIGNAL_FILE)));
		unlink(PROMOTE_SIGNAL_FILE);
		return false;
	}
	if (kill(PostmasterPid, SIGUSR1) != 0)
	{
		ereport(LOG,
				(errmsg("could not signal the postmaster to promote: %m")));
		unlink(PROMOTE_SIGNAL_FILE);
		return false;
	}
	return true;
}

/* What transfer_to did. */
typedef enum TransferOutcome
{
	TRANSFER_SKIPPED,			/* too soon, or one is under way */
	TRANSFER_STARTED,
	TRANSFER_REFUSED			/* the engine refused it */
} TransferOutcome;

/* Start a leadership transfer to 'target', at most once per election timeout. */
static TransferOutcome
transfer_to(raft_node *node, raft_id target, raft_time now, const char *why)
{
	int			rc;

	if (fo.last_transfer_at != 0 &&
		now - fo.last_transfer_at < raft_election_timeout)
		return TRANSFER_SKIPPED;
	if (raft_transfer_target(node) != RAFT_NOBODY)
		return TRANSFER_SKIPPED;
	fo.last_transfer_at = now;
	rc = raft_transfer_leadership(node, target, now);
	if (rc == RAFT_OK)
		ereport(LOG,
				(errmsg("node %u hands leadership to node %u", (unsigned) raft_node_id,
						(unsigned) target),
				 errdetail("%s", why)));
	else
		ereport(LOG,
				(errmsg("node %u could not hand leadership to node %u: %s",
						(unsigned) raft_node_id, (unsigned) target, raft_strerror(rc)),
				 errdetail("%s", why)));
	return rc == RAFT_OK ? TRANSFER_STARTED : TRANSFER_REFUSED;
}

/* Pause after the n-th consecutive failed handback: ET * 2^(n+1), bounded. */
static raft_time
handback_backoff(int failures)
{
	int			shift = Min(failures + 1, HANDBACK_MAX_SHIFT);

	return (raft_time) raft_election_timeout << shift;
}

static void handback_failed(raft_id target, raft_time now);

/*
 * Judge a pending handback one election timeout after it started: it
 * worked if the target now leads and this node hears from it.  If not (the
 * target never got the TIMEOUT_NOW: it cannot receive), no handback is
 * tried again before a pause that doubles with each failure, and meanwhile
 * this node, if it leads again, promotes per the normal policy.
 */
static void
judge_handback(const RaftStatus *status, raft_time now)
{
	if (fo.handback_target == RAFT_NOBODY ||
		now - fo.handback_at < raft_election_timeout)
		return;
	if (status->role != RAFT_LEADER &&
		status->leader_id == fo.handback_target &&
		status->last_leader_contact != 0 &&
		now - status->last_leader_contact < raft_election_timeout)
		fo.handback_failures = 0;
	else
		handback_failed(fo.handback_target, now);
	fo.handback_target = RAFT_NOBODY;
}

/*
 * A handback to 'target' failed (it did not lead in time, or the engine
 * refused the transfer: the target has not answered this node): no
 * handback before the backoff has passed.
 */
static void
handback_failed(raft_id target, raft_time now)
{
	fo.handback_failures++;
	fo.handback_next = now + handback_backoff(fo.handback_failures);
	ereport(LOG,
			(errmsg("node %u stops handing leadership back to node %u for %lld ms",
					(unsigned) raft_node_id, (unsigned) target,
					(long long) handback_backoff(fo.handback_failures)),
			 errdetail("Handing leadership back %d time(s) in a row failed: node %u did not become the leader "
					   "within the election timeout (%d ms), or it has not answered this node. "
					   "Its messages arrive, but it may not receive any.",
					   fo.handback_failures, (unsigned) target,
					   raft_election_timeout),
			 errhint("If this node leads meanwhile, it promotes itself when %s is on.",
					 "raft_ext.auto_promote")));
}

/* failover_priority 0 but leading (a reload, or a transfer): pass it on. */
static void
step_shed_leadership(raft_node *node, const RaftStatus *status, raft_time now)
{
	const RaftPeerStatus *best = NULL;

	for (int i = 0; i < status->n_peers; i++)
	{
		const RaftPeerStatus *peer = &status->peers[i];

		if (peer->is_self || !peer->voter || !peer_alive(peer, now))
			continue;
		if (best == NULL || peer->match_index > best->match_index)
			best = peer;
	}
	if (best != NULL)
		transfer_to(node, best->id, now,
					"raft_ext.failover_priority is 0 on this node.");
}

/* This node leads but is still in recovery: hand over, promote, or wait. */
static void
step_standby_leader(raft_node *node, const RaftStatus *status, raft_time now)
{
	UpstreamInfo up;
	const RaftPeerStatus *upstream;
	bool		has_lease = status->lease_until > now;

	read_upstream(&up);
	upstream = upstream_member(status, &up);

	/*
	 * A healthy primary stays primary: the member we stream from answers
	 * Raft, so it can lead.  Not when it handed leadership to us itself: that
	 * is a planned switchover, and bouncing back would undo it.
	 */
	if (upstream != NULL && peer_alive(upstream, now) &&
		!(fo.won_by_transfer && fo.previous_leader == upstream->id) &&
		(fo.handback_failures == 0 || now >= fo.handback_next))
	{
		TransferOutcome outcome = TRANSFER_SKIPPED;

		if (fo.handback_target == RAFT_NOBODY)
			outcome = transfer_to(node, upstream->id, now,
								  "This node is a standby streaming from it, and it answers Raft: a healthy primary stays primary.");
		if (outcome == TRANSFER_STARTED)
		{
			fo.handback_target = upstream->id;
			fo.handback_at = now;
		}
		if (outcome != TRANSFER_REFUSED)
		{
			leader_waits(status, false,
						 "handing leadership back to node %u, the healthy primary it streams from",
						 (unsigned) upstream->id);
			return;
		}
		/* Refused: the target does not answer us; go on as without it. */
		handback_failed(upstream->id, now);
	}

	/* Streaming from a live server outside the Raft group: do not fork. */
	if (upstream == NULL && upstream_recent(&up, raft_election_timeout))
	{
		leader_waits(status, true,
					 "its WAL receiver streams from %s:%d, a live server that is not a member "
					 "(make that primary a member with raft_ext.add_node, or stop its replication)",
					 up.host, up.port);
		return;
	}

	/* A node that must not be primary only waits to hand leadership on. */
	if (raft_failover_priority == 0)
	{
		leader_waits(status, false,
					 "raft_ext.failover_priority is 0 here: handing leadership on");
		return;
	}
	if (!raft_auto_promote)
	{
		leader_waits(status, true,
					 "raft_ext.auto_promote is off (decide-only): promote this standby yourself, "
					 "or switch auto_promote on");
		return;
	}
	/*
	 * It promotes once it holds the lease: make the member slots now, not
	 * then.  The standbys point their WAL receivers at a new leader as soon
	 * as they hear from it (step_standby_follower), before its lease (their
	 * own answers give it); one that finds no slot is refused and tries
	 * again only after wal_retrieve_retry_interval.  Once per term here; the
	 * pass right before the promotion makes any still missing.
	 */
	if (fo.slots_made_term != status->term)
	{
		raft_member_slots_before_promotion(status, now);
		fo.slots_made_term = status->term;
	}
	if (!has_lease)
	{
		leader_waits(status, false, "waiting for the lease (a majority's heartbeat answers)");
		return;
	}
	/*
	 * No fixed wait: what it waited for is known once the lease is held.
	 * The lease itself means no primary holds one (its voters refused us
	 * otherwise), and the vote round's answers updated every answering
	 * member's contact time, so a live upstream has been handed back to
	 * above.  Only a member we still stream from, which is then alive as a
	 * server but may not have answered yet (the majority came first), gets
	 * two heartbeats to do so; a killed upstream drops the stream at once.
	 */
	if (upstream != NULL && up.streaming &&
		now - fo.became_leader_at < 2 * raft_heartbeat_interval)
	{
		leader_waits(status, false, "giving node %u, which it streams from, time to answer",
					 (unsigned) upstream->id);
		return;
	}
	if ((fo.promote_requested &&
		 now - fo.promote_requested_at < PROMOTE_RETRY_MS) ||
		PromoteIsTriggered())
	{
		leader_waits(status, false, "promoting: recovery is ending");
		return;
	}
	if (!upstream_quiet(&up, now))
	{
		leader_waits(status, false, switchover_waits(now) ?
					 "switchover: waiting for the old primary's last WAL" :
					 "waiting for the WAL it receives to stop moving");
		return;
	}
	/*
	 * The timeline ids of live members' WAL must be known before the
	 * promotion picks one (raft_timeline_reserve_ids): they report their
	 * positions in their first answers of the term, within a heartbeat.
	 */
	if (!live_positions_known(status, now) &&
		now - fo.became_leader_at < 2 * raft_heartbeat_interval)
	{
		leader_waits(status, false, "waiting for the members' WAL positions");
		return;
	}

	raft_timeline_reserve_ids(status);
	raft_member_slots_before_promotion(status, now);
	if (request_promotion())
	{
		ereport(LOG,
				(errmsg("node %u is the Raft leader in term %llu with the lease: promoting this standby",
						(unsigned) raft_node_id,
						(unsigned long long) status->term),
				 fo.promote_requested ?
				 errdetail("The previous request did not end recovery within %d s.",
						   PROMOTE_RETRY_MS / 1000) :
				 errdetail("raft_ext.auto_promote is on and no healthy primary is reachable.")));
		fo.promote_requested = true;
		fo.promote_requested_at = now;
	}
}

/* This node follows and is a standby: point primary_conninfo at the leader. */
static void
step_standby_follower(const RaftStatus *status, raft_time now)
{
	const RaftPeerStatus *leader;
	UpstreamInfo up;

	if (!raft_follow_enabled() || status->leader_id == RAFT_NOBODY ||
		status->leader_id == (raft_id) raft_node_id)
		return;
	leader = raft_status_member(status, status->leader_id);
	if (leader == NULL || leader->conninfo[0] == '\0')
		return;
	/* the same leader: only a password file that is not this node's, or a missing dbname */
	if (raft_conninfo_same_server(PrimaryConnInfo, leader->conninfo) &&
		!raft_follow_conninfo_stale(PrimaryConnInfo))
		return;

	/*
	 * Leave a live upstream only for a leader that has lasted: a standby
	 * that wins an election hands leadership to a healthy primary within a
	 * few heartbeats, and following it meanwhile would only restart the WAL
	 * receiver twice.  A dead upstream is left at once (but for the slot,
	 * below).
	 */
	read_upstream(&up);
	if (upstream_recent(&up, raft_election_timeout) &&
		now - fo.leader_changed_at < 2 * raft_election_timeout)
		return;

	/*
	 * Through a member slot, a standby follows a new leader only once it
	 * has had two heartbeats to make the slot (it makes them as soon as it
	 * knows it will promote, before its lease): a WAL receiver that finds
	 * no slot is refused and tries again only after
	 * wal_retrieve_retry_interval (5 s), which in quorum mode leaves the
	 * new primary without its synchronous standby for that long.
	 */
	if (raft_member_slots_in_effect() &&
		now - fo.leader_changed_at < 2 * raft_heartbeat_interval)
		return;
	if (fo.last_follow_at != 0 && now - fo.last_follow_at < raft_election_timeout)
		return;
	fo.last_follow_at = now;

	if (raft_follow_write_conninfo(leader->conninfo))
		ereport(LOG,
				(errmsg("node %u now follows the Raft leader, node %u",
						(unsigned) raft_node_id, (unsigned) status->leader_id),
				 errdetail("primary_conninfo was rewritten in %s and the configuration reloaded.",
						   PG_AUTOCONF_FILENAME)));
}

/* A primary that does not lead: say once per leader that it is fenced. */
static void
step_primary_follower(const RaftStatus *status)
{
	if (raft_rejoin_enabled() || status->leader_id == RAFT_NOBODY ||
		status->leader_id == fo.logged_fenced_leader)
		return;
	fo.logged_fenced_leader = status->leader_id;
	ereport(LOG,
			(errmsg("node %u is a primary but node %u is the Raft leader: writes here are refused",
					(unsigned) raft_node_id, (unsigned) status->leader_id),
			 errhint("Rejoin this node as a standby of the leader: raft_ext_rejoin -D <data directory> --source <leader's conninfo> "
					 "(installed beside pg_rewind), or set raft_ext.auto_rejoin = on; or hand leadership to it.")));
}

/* Remember role, term and leader changes this iteration shows. */
static void
track_changes(const RaftStatus *status, raft_time now)
{
	if (status->term != fo.term || status->leader_id != fo.leader)
	{
		if (status->role == RAFT_LEADER && fo.role != RAFT_LEADER)
		{
			/*
			 * A follower campaigns only after an election timeout without
			 * hearing from its leader; winning sooner than that means the
			 * old leader sent TIMEOUT_NOW: a planned transfer.
			 */
			fo.previous_leader = fo.last_other_leader;
			fo.won_by_transfer = fo.leader_contact != 0 &&
				now - fo.leader_contact < raft_election_timeout;
			fo.became_leader_at = now;
		}
		fo.leader_changed_at = now;
	}
	if (status->role != RAFT_LEADER && status->leader_id != RAFT_NOBODY &&
		status->leader_id != (raft_id) raft_node_id)
	{
		fo.last_other_leader = status->leader_id;
		if (status->last_leader_contact != 0)
			fo.leader_contact = status->last_leader_contact;
	}
	if (status->role != RAFT_LEADER)
		fo.won_by_transfer = false;
	fo.role = status->role;
	fo.term = status->term;
	fo.leader = status->leader_id;
}

/* The file in the Raft state directory that keeps what this server was. */
#define PG_ROLE_FILE "pg_role"

/* What the server was at the last run, from PG_ROLE_FILE: 1, 0, or -1. */
static int
read_pg_role(void)
{
	char		path[MAXPGPATH];
	char		buf[16] = {0};
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", raft_state_directory, PG_ROLE_FILE);
	f = AllocateFile(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	FreeFile(f);
	return strncmp(buf, "primary", 7) == 0 ? 1 :
		strncmp(buf, "standby", 7) == 0 ? 0 : -1;
}

/* Keep what the server is now, for the next run (a failure is logged). */
static void
write_pg_role(bool primary)
{
	char		path[MAXPGPATH];
	char		tmppath[MAXPGPATH];
	const char *text = primary ? "primary\n" : "standby\n";

	snprintf(path, sizeof(path), "%s/%s", raft_state_directory, PG_ROLE_FILE);
	snprintf(tmppath, sizeof(tmppath), "%s.tmp", path);
	(void) raft_write_file_durably(tmppath, path, text, strlen(text), false, LOG);
}

/*
 * PostgreSQL role changes for on_role_change: at the worker's start,
 * against what the server was at the last run (promoted, demoted, rejoined
 * by the helper, or just started); while it runs, a promotion.
 */
static void
track_pg_role(const RaftStatus *status)
{
	int			now = RecoveryInProgress() ? 0 : 1;
	const char *event = NULL;

	/*
	 * A primary's crash recovery is no role: the worker may start before it
	 * ends (it runs on standbys, so it starts at a consistent state), and
	 * its end is no promotion.  A standby has its signal file.
	 */
	if (fo.pg_role == now)
		return;
	if (now == 0 && access(STANDBY_SIGNAL_FILE, F_OK) != 0)
		return;
	if (fo.pg_role == 0 && now == 1)
		event = "promoted";
	else
	{
		int			last = read_pg_role();

		if (last == 0 && now == 1)
			event = "promoted";
		else if (last == 1 && now == 0)
			event = strcmp(status->rejoin_state, "done") == 0 ? "rejoined" : "demoted";
		else
			event = "started";
		if (last != now)
			write_pg_role(now == 1);
	}
	if (fo.pg_role == 0 && now == 1)
		write_pg_role(true);
	fo.pg_role = now;
	raft_role_command_pg_event(event, now == 1, status->term,
							   raft_status_leader(status), (raft_id) raft_node_id);
}

/* One step of the policy; see failover.h. */
void
raft_failover_step(raft_node *node, const RaftStatus *status, raft_time now)
{
	raft_role_command_poll();
	fo.primary_wait[0] = '\0';
	if (node == NULL || !raft_status_running(status))
		return;
	raft_set_flags(node, raft_failover_flags() | raft_logical_slots_flags());
	track_pg_role(status);

	track_changes(status, now);
	judge_handback(status, now);
	raft_fence_wal_step(status, now);
	raft_rejoin_step(status, now);

	if (!RecoveryInProgress())
	{
		fo.promote_requested = false;
		fo.handback_failures = 0;
		if (status->role != RAFT_LEADER)
			step_primary_follower(status);
		else
			fo.logged_fenced_leader = RAFT_NOBODY;
	}
	else if (status->role == RAFT_LEADER)
		step_standby_leader(node, status, now);
	else
		step_standby_follower(status, now);

	if (status->role == RAFT_LEADER && raft_failover_priority == 0)
		step_shed_leadership(node, status, now);
}

/* See failover.h. */
void
raft_failover_fill_status(RaftStatus *status)
{
	strlcpy(status->primary_wait, fo.primary_wait, sizeof(status->primary_wait));
}

/* The worker saw a role, term or leader change; see failover.h. */
void
raft_failover_on_role_change(const RaftStatus *status)
{
	raft_role_command_event(status->role, status->term,
							raft_status_leader(status), (raft_id) raft_node_id);
}
