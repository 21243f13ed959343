/*
 * cluster_view.c
 *	  What this node knows of every member, for /cluster, /metrics, the
 *	  health paths and the raft_cluster view.
 *
 * Everything comes from shared memory, read under short locks, so that a
 * background worker with no database connection can build it without SQL:
 *  - the Raft side: the worker's status snapshot (raft_read_status, a shared
 *    LWLock held for one memcpy, as the views do);
 *  - this node's WAL position: raft_wal_position (xlog's own spinlocks);
 *  - a standby's WAL receiver: WalRcv, under its spinlock, the fields that
 *    pg_stat_wal_receiver shows;
 *  - the standbys streaming from this node: WalSndCtl's walsenders under
 *    their spinlocks, named by the application_name of their backend
 *    (pg_stat_replication's join); standbys that raft_ext made follow a
 *    leader are called "node<id>" (failover_follow.c), which names the
 *    member.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "replication/walreceiver.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/spin.h"
#include "utils/backend_status.h"

#include "clock.h"
#include "cluster_view.h"
#include "conninfo.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "pg_compat.h"
#include "settings.h"
#include "status.h"
#include "wal_position.h"

/* The member a standby's application_name names ("node<id>"), or 0. */
static raft_id
member_of_appname(const char *name)
{
	char	   *end;
	long		id;

	if (strncmp(name, "node", 4) != 0 || name[4] < '0' || name[4] > '9')
		return RAFT_NOBODY;
	id = strtol(name + 4, &end, 10);
	if (*end != '\0' || id <= 0 || id > PG_INT32_MAX)
		return RAFT_NOBODY;
	return (raft_id) id;
}

/* The application_name of backend 'pid', into out (empty if not found). */
static void
appname_of_pid(int pid, char *out, int n_backends)
{
	out[0] = '\0';
	for (int i = 1; i <= n_backends; i++)
	{
		LocalPgBackendStatus *local = raft_local_beentry_by_index(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
		{
			strlcpy(out, local->backendStatus.st_appname, NAMEDATALEN);
			return;
		}
	}
}

/* The walsender state's name, as pg_stat_replication shows it. */
static const char *
walsnd_state_name(WalSndState state)
{
	switch (state)
	{
		case WALSNDSTATE_STARTUP:
			return "startup";
		case WALSNDSTATE_BACKUP:
			return "backup";
		case WALSNDSTATE_CATCHUP:
			return "catchup";
		case WALSNDSTATE_STREAMING:
			return "streaming";
		case WALSNDSTATE_STOPPING:
			return "stopping";
	}
	return "unknown";
}

/* The standbys streaming from this node. */
static void
read_walsenders(RaftClusterView *view)
{
	int			n_backends;

	view->n_standbys = 0;
	if (WalSndCtl == NULL || max_wal_senders <= 0)
		return;

	/* A fresh copy of the backends' status: their application_names. */
	pgstat_clear_backend_activity_snapshot();
	n_backends = pgstat_fetch_stat_numbackends();

	for (int i = 0; i < max_wal_senders && view->n_standbys < RAFT_VIEW_MAX_STANDBYS; i++)
	{
		WalSnd	   *walsnd = &WalSndCtl->walsnds[i];
		RaftViewStandby *sb = &view->standbys[view->n_standbys];
		pid_t		pid;
		WalSndState state;

		SpinLockAcquire(&walsnd->mutex);
		pid = walsnd->pid;
		state = walsnd->state;
		sb->flush = walsnd->flush;
		sb->replay = walsnd->apply;
		SpinLockRelease(&walsnd->mutex);

		/* Base backups' walsenders are no standbys. */
		if (pid == 0 || state == WALSNDSTATE_BACKUP)
			continue;
		appname_of_pid(pid, sb->application_name, n_backends);
		sb->member = member_of_appname(sb->application_name);
		sb->state = walsnd_state_name(state);
		sb->lag = (sb->replay != InvalidXLogRecPtr && view->lsn >= sb->replay) ?
			(int64) (view->lsn - sb->replay) : -1;
		view->n_standbys++;
	}
	pgstat_clear_backend_activity_snapshot();
}

/* A standby's WAL receiver, the fields pg_stat_wal_receiver shows. */
static void
read_walreceiver(RaftClusterView *view)
{
	WalRcvState state;
	char		host[NI_MAXHOST];
	int			port;
	TimeLineID	tli;

	view->replayed = GetXLogReplayRecPtr(&tli);
	if (WalRcv == NULL)
		return;
	SpinLockAcquire(&WalRcv->mutex);
	state = WalRcv->walRcvState;
	view->received = WalRcv->flushedUpto;
	view->upstream_end = WalRcv->latestWalEnd;
	strlcpy(host, WalRcv->sender_host, sizeof(host));
	port = WalRcv->sender_port;
	SpinLockRelease(&WalRcv->mutex);

	view->streaming = (state == WALRCV_STREAMING);
	if (view->streaming)
	{
		strlcpy(view->upstream_host, host, sizeof(view->upstream_host));
		view->upstream_port = port;
	}
	if (view->streaming && view->upstream_end != InvalidXLogRecPtr)
		view->replay_lag = view->upstream_end > view->replayed ?
			(int64) (view->upstream_end - view->replayed) : 0;
}

/*
 * Rejoin state of member m (auto_rejoin, rejoin.c): only this node knows its
 * own, from the snapshot (which the view keeps, so pointing into it is
 * safe); other members' are unknown here (NULL).
 */
static void
cluster_view_rejoin(const RaftStatus *st, RaftViewMember *m)
{
	m->rejoin_state = NULL;
	m->rejoin_error = NULL;
	if (!m->is_self)
		return;
	if (st->rejoin_state[0] != '\0')
		m->rejoin_state = st->rejoin_state;
	if (st->rejoin_error[0] != '\0')
		m->rejoin_error = st->rejoin_error;
}

/*
 * A standby: the member this node streams from is a primary, at least as
 * far as the WAL end it last reported (what pg_stat_wal_receiver shows as
 * latest_end_lsn).  Matched by host and port, as the WAL receiver reports
 * them (sender_host, sender_port).
 */
static void
upstream_member(const RaftClusterView *view, const char *conninfo,
				RaftViewMember *m)
{
	char		host[NI_MAXHOST];
	int			port;

	if (!view->streaming || view->upstream_host[0] == '\0' ||
		!raft_conninfo_target(conninfo, host, sizeof(host), &port))
		return;
	if (port != view->upstream_port || strcmp(host, view->upstream_host) != 0)
		return;
	m->pg_role = "primary";
	m->lsn = view->upstream_end;
}

/* RaftViewMember.logical_slots of a member; see cluster_view.h. */
static const char *
logical_slots_of(const RaftClusterView *view, const RaftPeerStatus *peer)
{
	const RaftStatus *st = view->status;

	if (peer->is_self)
	{
		/* a standby's counts are of its synced copies (logical_slots.c) */
		if (!view->in_recovery || st->logical_sync != RAFT_LOGICAL_SYNC_ON)
			return NULL;
		return st->logical_syncing > 0 ? "not ready" :
			st->logical_failover > 0 ? "ready" : NULL;
	}
	if (view->in_recovery || st->role != RAFT_LEADER ||
		st->logical_sync != RAFT_LOGICAL_SYNC_ON || st->logical_failover == 0 ||
		!peer->voter || !peer->flags_known)
		return NULL;
	return (peer->flags & RAFT_EXT_FLAG_LOGICAL_READY) ? "ready" : "not ready";
}

/* Fill the members from the snapshot (or the settings if none yet). */
static void
read_members(RaftClusterView *view)
{
	RaftStatus *st = view->status;
	raft_membership *configured = NULL;
	int			n = st->n_peers;

	if (n == 0)
	{
		char	   *error;

		configured = palloc(sizeof(raft_membership));
		if (!raft_parse_peers(raft_peers, configured, &error))
			configured->count = 0;
		n = configured->count;
	}

	view->n_members = 0;
	for (int p = 0; p < n && p < RAFT_MAX_MEMBERS; p++)
	{
		RaftViewMember *m = &view->members[view->n_members++];

		memset(m, 0, sizeof(RaftViewMember));
		m->lag = -1;
		m->last_contact_ms = -1;
		if (configured)
		{
			m->id = configured->members[p].id;
			m->voter = configured->members[p].voter;
			m->is_self = (m->id == (raft_id) raft_node_id);
			m->address = raft_conninfo_masked(configured->members[p].address);
		}
		else
		{
			const RaftPeerStatus *peer = &st->peers[p];

			m->id = peer->id;
			m->voter = peer->voter;
			m->staged = peer->staged;
			m->is_self = peer->is_self;
			m->connected = peer->connected;
			m->address = raft_conninfo_masked(peer->conninfo);
			if (peer->last_contact != 0 && !peer->is_self)
				m->last_contact_ms = Max(view->now - peer->last_contact, 0);
			if (!peer->is_self)
				upstream_member(view, peer->conninfo, m);
		}

		if (m->is_self)
		{
			m->raft_role = view->running ? raft_role_name(st->role) : "stopped";
			m->pg_role = view->in_recovery ? "standby" : "primary";
			m->timeline = view->timeline;
			m->lsn = view->lsn;
			m->lag = 0;
			m->connected = true;
		}
		else
		{
			m->raft_role = (m->id == view->leader) ? "leader" :
				(!m->voter ? "learner" : "follower");
			for (int i = 0; i < view->n_standbys; i++)
			{
				if (view->standbys[i].member == m->id)
				{
					m->pg_role = "standby";
					m->lsn = view->standbys[i].replay;
					m->lag = view->standbys[i].lag;
				}
			}
		}
		cluster_view_rejoin(st, m);
		m->slot = configured ? NULL : raft_member_slot_state_name(st->peers[p].slot_state);
		m->slot_retained = configured ? -1 : st->peers[p].slot_retained;
		m->logical_slots = configured ? NULL : logical_slots_of(view, &st->peers[p]);
		m->timeline_standing = NULL;
		if (!configured && st->peers[p].standing != RAFT_STANDING_UNKNOWN)
			m->timeline_standing =
				raft_standing_name((raft_standing) st->peers[p].standing);
	}
	if (configured)
		pfree(configured);
}

/* See cluster_view.h. */
RaftClusterView *
raft_cluster_view(void)
{
	RaftClusterView *view = palloc0(sizeof(RaftClusterView));
	RaftStatus *st = palloc(sizeof(RaftStatus));
	raft_position pos;

	raft_read_status(st);
	view->status = st;
	view->now = raft_monotonic_now();
	view->running = raft_status_running(st);
	view->leader = raft_status_leader(st);
	view->has_lease = view->running && st->role == RAFT_LEADER &&
		st->lease_until > view->now;
	view->lease_remaining_ms = view->has_lease ? st->lease_until - view->now : 0;
	view->in_recovery = RecoveryInProgress();
	view->hot_standby = view->in_recovery && HotStandbyActive();
	pos = raft_wal_position();
	view->timeline = (TimeLineID) pos.major;
	view->lsn = (XLogRecPtr) pos.minor;
	view->replay_lag = -1;

	if (view->in_recovery)
		read_walreceiver(view);
	else
		read_walsenders(view);
	read_members(view);
	return view;
}

/* See cluster_view.h. */
bool
raft_view_is_primary(const RaftClusterView *view)
{
	return view->has_lease && !view->in_recovery;
}
