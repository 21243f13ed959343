/*
 * http_metrics.c
 *	  /metrics: this node's Raft and replication state in Prometheus text
 *	  format 0.0.4.  README.md ("Load balancers and monitoring") is the
 *	  reference of every metric.
 */
#include "postgres.h"

#include "failover.h"
#include "fencing.h"
#include "http.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "rejoin.h"
#include "settings.h"
#include "shmem.h"

/* HELP and TYPE lines of a metric family. */
static void
family(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One unlabelled sample. */
static void
sample(StringInfo out, const char *name, const char *type, const char *help,
	   double value)
{
	family(out, name, type, help);
	appendStringInfo(out, "%s %.15g\n", name, value);
}

/* A label value with \, " and newline escaped. */
static void
append_label(StringInfo out, const char *value)
{
	for (const char *c = value; *c; c++)
	{
		if (*c == '\\' || *c == '"')
			appendStringInfoChar(out, '\\');
		if (*c == '\n')
			appendStringInfoString(out, "\\n");
		else
			appendStringInfoChar(out, *c);
	}
}

/* One counter or gauge per peer (not this node), labelled peer="id". */
static void
per_peer(StringInfo out, const RaftClusterView *view, const char *name,
		 const char *type, const char *help, int which)
{
	const RaftStatus *st = view->status;

	family(out, name, type, help);
	for (int i = 0; i < st->n_peers; i++)
	{
		const RaftPeerStatus *p = &st->peers[i];
		double		value;

		if (p->is_self)
			continue;
		switch (which)
		{
			case 0:
				value = (double) p->msgs_sent;
				break;
			case 1:
				value = (double) p->msgs_received;
				break;
			case 2:
				value = (double) p->msgs_dropped;
				break;
			case 3:
				value = p->connected ? 1 : 0;
				break;
			case 4:
				if (p->last_contact == 0)
					continue;
				value = (double) Max(view->now - p->last_contact, 0) / 1000.0;
				break;
			case 5:
				if (p->slot_retained < 0)
					continue;
				value = (double) p->slot_retained;
				break;
			default:
				if (p->slot_state == RAFT_SLOT_UNKNOWN)
					continue;
				value = p->slot_state == RAFT_SLOT_LOST ? 1 : 0;
				break;
		}
		appendStringInfo(out, "%s{peer=\"%u\"} %.15g\n", name, (unsigned) p->id, value);
	}
}

/* Members other than this node that the leader knows to be forked. */
static int
forked_members(const RaftStatus *st)
{
	int			n = 0;

	for (int i = 0; i < st->n_peers; i++)
		if (!st->peers[i].is_self && st->peers[i].standing == RAFT_STANDING_FORKED)
			n++;
	return n;
}

/* See http.h. */
void
raft_http_metrics(const RaftClusterView *view, StringInfo out)
{
	static const raft_role roles[] =
	{RAFT_FOLLOWER, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER};
	const RaftStatus *st = view->status;
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];

	raft_effective_cluster_name(cluster_name);
	family(out, "raft_ext_info", "gauge", "Always 1; labels name this node and its cluster.");
	appendStringInfo(out, "raft_ext_info{node_id=\"%d\",cluster_name=\"", raft_node_id);
	append_label(out, cluster_name);
	appendStringInfoString(out, "\"} 1\n");

	sample(out, "raft_ext_up", "gauge",
		   "1 while the Raft worker runs Raft, 0 when it is stopped or in error.",
		   view->running ? 1 : 0);
	family(out, "raft_ext_role", "gauge", "1 for this node's current Raft role, 0 for the others.");
	for (int i = 0; i < (int) lengthof(roles); i++)
		appendStringInfo(out, "raft_ext_role{role=\"%s\"} %d\n",
						 raft_role_name(roles[i]),
						 view->running && st->role == roles[i] ? 1 : 0);
	appendStringInfo(out, "raft_ext_role{role=\"stopped\"} %d\n", view->running ? 0 : 1);

	sample(out, "raft_ext_term", "gauge", "Current Raft term.", (double) st->term);
	sample(out, "raft_ext_leader_id", "gauge",
		   "Node id of the leader this node knows of, 0 if none.",
		   (double) (view->leader == RAFT_NOBODY ? 0 : view->leader));
	sample(out, "raft_ext_has_lease", "gauge",
		   "1 while this node leads and holds an unexpired lease.",
		   view->has_lease ? 1 : 0);
	sample(out, "raft_ext_lease_remaining_seconds", "gauge",
		   "Time left on this node's lease, 0 without one.",
		   (double) view->lease_remaining_ms / 1000.0);
	sample(out, "raft_ext_commit_index", "gauge", "Raft commit index.",
		   (double) st->commit_index);
	sample(out, "raft_ext_last_log_index", "gauge", "Index of the last Raft log entry.",
		   (double) st->last_log_index);
	sample(out, "raft_ext_elections_started_total", "counter",
		   "Elections this node started since its Raft worker started.",
		   (double) st->elections_started);
	sample(out, "raft_ext_leader_changes_total", "counter",
		   "Times the leader this node knows of changed since its Raft worker started.",
		   (double) st->leader_changes);
	sample(out, "raft_ext_role_changes_total", "counter",
		   "Raft role changes of this node since its Raft worker started.",
		   (double) st->role_changes);
	sample(out, "raft_ext_inbox_dropped_total", "counter",
		   "Message batches dropped because the worker's inbox was full.",
		   (double) st->inbox_dropped);
	sample(out, "raft_ext_rejoin_attempts", "gauge",
		   "Attempts of this node's latest automatic rejoin (auto_rejoin), 0 if none; kept across the restarts a rejoin makes.",
		   (double) st->rejoin_attempt);
	sample(out, "raft_ext_rejoin_failed", "gauge",
		   "1 if the latest automatic rejoin attempt failed (see raft_status.rejoin_error).",
		   st->rejoin_failed ? 1.0 : 0.0);
	sample(out, "raft_ext_fence_refusals_total", "counter",
		   "Writes refused by the fence (before they run, or at commit) since the server started.",
		   (double) pg_atomic_read_u64(&raft_shared->fence_refusals));
	sample(out, "raft_ext_fence_late_commits_total", "counter",
		   "Writes that committed after the lease ran out (WARNING logged) since the server started.",
		   (double) pg_atomic_read_u64(&raft_shared->fence_late_commits));

	/* The switches an operator turns off for admin work, for alerting. */
	sample(out, "raft_ext_fencing_enabled", "gauge",
		   "1 if raft_ext.fencing is on (writes refused without the lease), 0 if off.",
		   raft_fencing ? 1.0 : 0.0);
	sample(out, "raft_ext_auto_promote", "gauge",
		   "1 if raft_ext.auto_promote is on (the leader promotes itself), 0 if off.",
		   raft_auto_promote ? 1.0 : 0.0);
	sample(out, "raft_ext_auto_follow", "gauge",
		   "1 if raft_ext.auto_follow is on (standbys follow the leader), 0 if off.",
		   raft_auto_follow ? 1.0 : 0.0);
	sample(out, "raft_ext_auto_rejoin", "gauge",
		   "1 if automatic rejoin is in effect (raft_ext.auto_rejoin on, or auto with auto_follow on), 0 if not.",
		   raft_rejoin_enabled() ? 1.0 : 0.0);

	per_peer(out, view, "raft_ext_peer_messages_sent_total", "counter",
			 "Raft messages sent to the peer.", 0);
	per_peer(out, view, "raft_ext_peer_messages_received_total", "counter",
			 "Raft messages received from the peer.", 1);
	per_peer(out, view, "raft_ext_peer_messages_dropped_total", "counter",
			 "Raft messages to the peer dropped (queue full, connection lost).", 2);
	per_peer(out, view, "raft_ext_peer_connected", "gauge",
			 "1 while the connection to the peer is up.", 3);
	per_peer(out, view, "raft_ext_peer_last_contact_seconds", "gauge",
			 "Time since the last message from the peer.", 4);
	sample(out, "raft_ext_member_slots", "gauge",
		   "1 if raft_ext.member_slots is on (each member streams through a slot of its own on the primary), 0 if off.",
		   raft_member_slots ? 1.0 : 0.0);
	per_peer(out, view, "raft_ext_member_slot_retained_bytes", "gauge",
			 "On the primary: WAL the member's slot retains (raft_ext.member_slots).", 5);
	sample(out, "raft_ext_member_slots_lost_total", "counter",
		   "Member slots this node, as the primary, saw lost (max_slot_wal_keep_size exceeded) since its Raft worker started.",
		   (double) st->member_slots_lost);
	per_peer(out, view, "raft_ext_member_slot_lost", "gauge",
			 "On the primary: 1 if the member's slot was lost (max_slot_wal_keep_size exceeded; the member needs a rewind or a re-clone).", 6);
	sample(out, "raft_ext_logical_slot_sync", "gauge",
		   "1 if raft_ext.sync_logical_slots is in effect (PostgreSQL 17+, wal_level = logical, member slots kept), 0 if not.",
		   st->logical_sync == RAFT_LOGICAL_SYNC_ON ? 1.0 : 0.0);
	sample(out, "raft_ext_logical_failover_slots", "gauge",
		   "Logical slots that follow the primary: on the primary, its failover slots; on a standby, the synced slots ready for a promotion.",
		   (double) st->logical_failover);
	sample(out, "raft_ext_logical_slots_unprotected", "gauge",
		   "On the primary: logical slots that no standby synchronizes (a failover loses them; before PostgreSQL 17, all of them).",
		   (double) st->logical_unprotected);
	sample(out, "raft_ext_logical_slots_syncing", "gauge",
		   "On a standby: synced slots not yet ready (still catching up with the primary's; a promotion now would drop them).",
		   (double) st->logical_syncing);
	if (st->logical_listed >= 0)
		sample(out, "raft_ext_synchronized_standby_slots", "gauge",
			   "On the leading primary: member slots in synchronized_standby_slots (a logical consumer gets a change once their standbys have it).",
			   (double) st->logical_listed);
	sample(out, "raft_ext_logical_slots_dropped_total", "counter",
		   "Failover slots with synced = false dropped on this standby (left from when it was the primary; they stop the slot-sync worker).",
		   (double) st->logical_dropped);

	sample(out, "raft_ext_in_recovery", "gauge", "1 on a standby (in recovery), 0 on a primary.",
		   view->in_recovery ? 1 : 0);
	sample(out, "raft_ext_timeline", "gauge", "This node's timeline.",
		   (double) view->timeline);
	sample(out, "raft_ext_timeline_forked", "gauge",
		   "1 when this node's WAL left the timeline history in the Raft log (a fork: never elected over the history, rewound by auto_rejoin).",
		   st->standing == RAFT_STANDING_FORKED ? 1 : 0);
	sample(out, "raft_ext_forked_members", "gauge",
		   "On the leader: members whose reported WAL position left the timeline history.",
		   (double) forked_members(st));
	sample(out, "raft_ext_timeline_history_steps", "gauge",
		   "Steps of the timeline history this node's Raft log holds (promotions recorded).",
		   (double) st->n_history);
	sample(out, "raft_ext_wal_position_bytes", "gauge",
		   "This node's WAL position (inserted on a primary, received or replayed on a standby) as a byte offset.",
		   (double) view->lsn);
	if (view->in_recovery)
	{
		sample(out, "raft_ext_wal_receiver_streaming", "gauge",
			   "1 while the WAL receiver streams from a primary.",
			   view->streaming ? 1 : 0);
		sample(out, "raft_ext_replay_lsn_bytes", "gauge",
			   "WAL replayed by this standby, as a byte offset.",
			   (double) view->replayed);
		if (view->replay_lag >= 0)
			sample(out, "raft_ext_replay_lag_bytes", "gauge",
				   "WAL the upstream primary has that this standby has not replayed.",
				   (double) view->replay_lag);
	}
	else
	{
		family(out, "raft_ext_standby_replay_lsn_bytes", "gauge",
			   "WAL a standby streaming from this node has replayed, as a byte offset.");
		for (int i = 0; i < view->n_standbys; i++)
		{
			appendStringInfoString(out, "raft_ext_standby_replay_lsn_bytes{application_name=\"");
			append_label(out, view->standbys[i].application_name);
			appendStringInfo(out, "\",state=\"%s\"} %.15g\n", view->standbys[i].state,
							 (double) view->standbys[i].replay);
		}
		family(out, "raft_ext_standby_lag_bytes", "gauge",
			   "WAL this node has that a standby streaming from it has not replayed.");
		for (int i = 0; i < view->n_standbys; i++)
		{
			if (view->standbys[i].lag < 0)
				continue;
			appendStringInfoString(out, "raft_ext_standby_lag_bytes{application_name=\"");
			append_label(out, view->standbys[i].application_name);
			appendStringInfo(out, "\",state=\"%s\"} %.15g\n", view->standbys[i].state,
							 (double) view->standbys[i].lag);
		}
	}
}
