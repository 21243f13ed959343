/*
 * worker_status.c
 *	  The status snapshot the raft_ext worker publishes in shared memory.
 *
 * Backends never touch the engine: the raft_status view, the peers view,
 * is_leader() and the commit-time fence all read this snapshot.  The worker
 * publishes it whenever it changes and at least once per heartbeat, so that
 * waiters on status_cv see progress and the snapshot is never older than
 * one heartbeat while the worker runs.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"

#include "clock.h"
#include "failover.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "rejoin.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"
#include "transport.h"
#include "timeline_step.h"
#include "worker.h"

/* The last snapshot published, to skip publishing an unchanged one. */
static RaftStatus last_published;

/* For the role and leader change counters: the last role and leader built. */
static raft_role counted_role = RAFT_FOLLOWER;
static raft_id counted_leader = RAFT_NOBODY;
static uint64 role_changes;
static uint64 leader_changes;

/* Fill one row of the peers view. */
static void
fill_peer(const RaftWorker *worker, const raft_member *member,
		  RaftPeerStatus *peer)
{
	raft_peer_progress progress;
	TransportPeerStats stats;

	peer->id = member->id;
	peer->is_self = (member->id == (raft_id) raft_node_id);
	peer->voter = member->voter;
	peer->staged = member->staged;
	strlcpy(peer->conninfo, member->address, RAFT_MAX_ADDRESS);

	if (peer->is_self)
	{
		peer->connected = true;
		peer->match_index = raft_last_index(worker->node);
		return;
	}
	if (raft_get_progress(worker->node, member->id, &progress))
	{
		peer->match_index = progress.match_index;
		/* not before it answered this leader: a new leader knows no flags */
		peer->flags_known = progress.heard;
		peer->flags = progress.flags;
	}
	if (transport_peer_stats(member->id, &stats))
	{
		peer->connected = stats.connected;
		peer->last_contact = stats.last_contact;
		peer->msgs_sent = stats.msgs_sent;
		peer->msgs_received = stats.msgs_received;
		peer->msgs_dropped = stats.msgs_dropped;
		strlcpy(peer->last_error, stats.last_error, RAFT_ERROR_LEN);
	}
	if (raft_incarnation_conflict(member->id, raft_monotonic_now(),
								  4 * (raft_time) raft_election_timeout))
		snprintf(peer->last_error, RAFT_ERROR_LEN,
				 "node %u is running twice: two live processes send as node %u; the newer one's messages are refused",
				 (unsigned) member->id, (unsigned) member->id);
}

/* See worker.h. */
void
worker_build_status(const RaftWorker *worker, RaftStatus *status)
{
	const raft_membership *membership;

	/* Zeroed whole, padding included, so that memcmp finds real changes. */
	memset(status, 0, sizeof(RaftStatus));
	status->worker_running = true;
	status->worker_pid = MyProcPid;
	status->node_id = (raft_id) raft_node_id;
	status->leader_since = worker->leader_since;
	status->position = worker->position;
	strlcpy(status->error, worker->error, RAFT_ERROR_LEN);
	raft_rejoin_fill_status(status);
	raft_failover_fill_status(status);

	if (worker->node == NULL)
	{
		/* Stopped: a follower of nobody, holding no lease. */
		status->role = RAFT_FOLLOWER;
		return;
	}

	status->role = raft_get_role(worker->node);
	status->term = raft_get_term(worker->node);
	status->voted_for = raft_get_vote(worker->node);
	status->leader_id = raft_get_leader(worker->node);
	status->lease_until = raft_timeline_gate_lease(worker->node, worker->position,
												   raft_lease_until(worker->node));
	status->commit_index = raft_commit_index(worker->node);
	status->last_log_index = raft_last_index(worker->node);
	status->last_leader_contact = raft_last_leader_contact(worker->node);
	status->transfer_target = raft_transfer_target(worker->node);

	if (status->role != counted_role)
		role_changes++;
	if (status->leader_id != counted_leader && status->leader_id != RAFT_NOBODY)
		leader_changes++;
	counted_role = status->role;
	if (status->leader_id != RAFT_NOBODY)
		counted_leader = status->leader_id;
	status->elections_started = raft_get_stats(worker->node)->elections_started;
	status->role_changes = role_changes;
	status->leader_changes = leader_changes;

	membership = raft_get_membership(worker->node);
	for (int i = 0; i < membership->count && i < RAFT_MAX_MEMBERS; i++)
		fill_peer(worker, &membership->members[i], &status->peers[i]);
	status->n_peers = Min(membership->count, RAFT_MAX_MEMBERS);
	raft_member_slots_fill_status(status);
	raft_logical_slots_fill_status(status);
	raft_timeline_fill_status(worker->node, status);
}

/* See worker.h. */
void
worker_publish_status(RaftWorker *worker, const RaftStatus *status,
					  raft_time now)
{
	if (!worker->force_publish &&
		now - worker->last_publish < worker->heartbeat_interval &&
		memcmp(status, &last_published, sizeof(RaftStatus)) == 0)
		return;

	raft_publish_status(status);
	memcpy(&last_published, status, sizeof(RaftStatus));
	worker->last_publish = now;
	worker->force_publish = false;
}

/* See worker.h. */
void
worker_publish_exit(void)
{
	static RaftStatus status;

	raft_read_status(&status);
	status.worker_running = false;
	status.worker_pid = 0;
	status.lease_until = 0;
	status.leader_id = RAFT_NOBODY;
	status.transfer_target = RAFT_NOBODY;
	if (status.role == RAFT_LEADER)
		status.role = RAFT_FOLLOWER;
	raft_publish_status(&status);
}
