/*
 * worker.c
 *	  The raft_ext background worker: it owns the Raft engine, its durable
 *	  storage and the transport to the peers.
 *
 * One loop waits on a single WaitEventSet (the latch, postmaster death and
 * every peer socket) for at most a fraction of the heartbeat interval.  Each
 * time round it feeds the engine what arrived in the shared-memory inbox,
 * this node's WAL position, the time and any command from a SQL backend;
 * then it carries out the engine's output in the order the engine's
 * contract demands: persist and fsync, only then hand the messages to the
 * transport.  Last it drives the transport and publishes a status snapshot.
 *
 * When Raft cannot run (bad settings, unreadable or corrupt state) the worker
 * does not exit: an exit would only be followed by a restart and the same
 * failure, once a second.  It logs the reason, publishes it in raft_status
 * and waits; a configuration reload (SIGHUP) makes it try again -- except
 * after an fsync of the Raft state failed: the files may have lost writes
 * the kernel reported done, so Raft stays stopped until the server restarts.
 *
 * Timing settings are read when Raft starts; the engine cannot change them
 * while it runs, so a reload that changes them only logs that they take
 * effect when the worker restarts.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "failover.h"
#include "pg_compat.h"
#include "fencing.h"
#include "faults.h"
#include "clock.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"
#include "storage.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "sync_quorum.h"
#include "timeline_step.h"
#include "transport.h"
#include "wal_position.h"
#include "worker.h"

PGDLLEXPORT void raft_worker_main(Datum main_arg);

/* Wait set size: latch, postmaster death, one socket per peer. */
#define WORKER_WAIT_EVENTS	(2 + TRANSPORT_MAX_SOCKETS)

/* raft_status.error, first words, once an fsync of the state failed. */
#define RAFT_FSYNC_FAILED_MSG \
	"Raft stays stopped on this node until the server restarts: an fsync of its state failed"

static RaftWorker worker;
static MemoryContext state_context;		/* storage, while Raft runs */
static MemoryContext loop_context;		/* reset every iteration */
static RaftStatus status_buffer;		/* ~20 kB: not on the stack */
static bool role_changed;				/* not yet told to the failover policy */

/* Drop our latch from shared memory and say that no worker runs. */
static void
worker_on_exit(int code, Datum arg)
{
	/* An ERROR may have left the lock held; we cannot take it then. */
	LWLockReleaseAll();
	if (raft_shared == NULL)
		return;
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->worker_latch = NULL;
	LWLockRelease(raft_shared->lock);
	worker_publish_exit();
}

/*
 * Stop Raft: free the engine and close the connections.  The storage is not
 * closed: after an error it may be half-way through a write and closing it
 * could fail again; its memory goes with state_context and its files with
 * fd.c's cleanup (AtEOXact_Files) in worker_handle_error.
 */
static void
worker_stop_raft(void)
{
	if (worker.node != NULL)
	{
		raft_free(worker.node);
		worker.node = NULL;
	}
	transport_shutdown();
	worker.storage = NULL;
	MemoryContextReset(state_context);
	worker.force_publish = true;
}

/* Parse the bootstrap membership from raft_ext.peers. */
static void
worker_bootstrap_membership(raft_membership *membership)
{
	char	   *error = NULL;

	if (!raft_parse_peers(raft_peers, membership, &error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"%s\"", "raft_ext.peers"),
				 errdetail("%s", error)));
}

/* "1, 2, 3" for a membership's ids (palloc'd), for messages. */
static char *
membership_ids(const raft_membership *m)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < m->count; i++)
		appendStringInfo(&buf, "%s%u%s", i > 0 ? ", " : "",
						 (unsigned) m->members[i].id,
						 m->members[i].voter ? "" : " (non-voting)");
	return buf.data;
}

/*
 * Whether two memberships have the same members (addresses and voting
 * rights aside).  raft_ext.peers names voters only, and cannot say that a
 * member added by add_node is still staged (non-voting until it caught up):
 * a DBA who writes the current members right after add_node names it as a
 * voter.  Rights never come from raft_ext.peers on the path that compares
 * it with the current membership (the engine starts from the persisted
 * bootstrap membership), so only the member ids must agree.
 */
static bool
same_members(const raft_membership *a, const raft_membership *b)
{
	if (a->count != b->count)
		return false;
	for (int i = 0; i < a->count; i++)
	{
		int			j;

		for (j = 0; j < b->count; j++)
		{
			if (b->members[j].id == a->members[i].id)
				break;
		}
		if (j == b->count)
			return false;
	}
	return true;
}

/*
 * The persisted bootstrap membership with the addresses 'configured' gives
 * for the members both name: what the engine gets when raft_ext.peers names
 * the current membership instead of the bootstrap one.
 */
static void
bootstrap_with_addresses(const raft_membership *persisted,
						 const raft_membership *configured,
						 raft_membership *effective)
{
	*effective = *persisted;
	for (int i = 0; i < effective->count; i++)
	{
		for (int j = 0; j < configured->count; j++)
		{
			if (configured->members[j].id == effective->members[i].id)
				strlcpy(effective->members[i].address, configured->members[j].address,
						sizeof(effective->members[i].address));
		}
	}
}

/*
 * The membership to hand to the engine: the one this node first started
 * with, persisted in the state directory, with the addresses raft_ext.peers
 * gives now.  Every membership change in the log applies to it, so the
 * engine always gets the persisted members, never others: a node that
 * started from other members would compute another configuration than its
 * peers from the same log, and two configurations can have disjoint
 * majorities.  raft_ext.peers may name the bootstrap membership or the
 * current one (the bootstrap one with the log's changes, as a DBA writes it
 * after add_node): the second is checked once the log is loaded
 * (worker_check_peers_current), and anything else stops Raft.  A new node
 * persists the configured membership; a directory from raft_ext 1.0
 * (state, no bootstrap file) adopts it once, with a LOG line.  Returns
 * whether raft_ext.peers still has to be compared with the current
 * membership.
 */
static bool
worker_effective_membership(RaftStorage *storage,
							const raft_membership *configured,
							raft_membership *effective)
{
	raft_membership *persisted = palloc0(sizeof(raft_membership));
	raft_id		culprit;
	const char *why;

	if (!raft_storage_load_bootstrap(storage, persisted))
	{
		raft_storage_save_bootstrap(storage, configured);
		if (!raft_storage_is_new(storage))
			ereport(LOG,
					(errmsg("raft state directory \"%s\" has no bootstrap membership; adopting the one %s names",
							raft_state_directory, "raft_ext.peers"),
					 errdetail("%s names nodes %s. The directory was written by an earlier version of raft_ext. "
							   "From now on this node refuses to start if %s names other members.",
							   "raft_ext.peers", membership_ids(configured),
							   "raft_ext.peers")));
		*effective = *configured;
		pfree(persisted);
		return false;
	}

	if (raft_bootstrap_check(persisted, configured, effective, &culprit,
							 &why) == RAFT_OK)
	{
		pfree(persisted);
		return false;
	}
	bootstrap_with_addresses(persisted, configured, effective);
	pfree(persisted);
	return true;
}

/*
 * After the log is loaded: raft_ext.peers, which did not name the
 * bootstrap membership, must name the current one; else stop Raft.
 */
static void
worker_check_peers_current(RaftStorage *storage, const raft_membership *configured)
{
	raft_membership *persisted;
	const raft_membership *current = raft_get_membership(worker.node);
	raft_membership *effective;
	raft_id		culprit;
	const char *why;

	if (same_members(configured, current))
	{
		ereport(LOG,
				(errmsg("%s names the current membership (nodes %s), not this node's bootstrap membership",
						"raft_ext.peers", membership_ids(current)),
				 errdetail("Both are accepted; the addresses %s gives are used for the members of the bootstrap membership, "
						   "the log's for the members added since.", "raft_ext.peers")));
		return;
	}
	persisted = palloc0(sizeof(raft_membership));
	effective = palloc0(sizeof(raft_membership));
	if (!raft_storage_load_bootstrap(storage, persisted))
		elog(ERROR, "the bootstrap membership vanished from the state directory");
	(void) raft_bootstrap_check(persisted, configured, effective, &culprit, &why);
	ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s names neither this node's bootstrap membership nor the current one",
						"raft_ext.peers"),
				 errdetail("This node first started with members %s, the current membership is %s; %s names %s (node %u: %s). "
						   "Every membership change in the log applies to the bootstrap membership, "
						   "so another one could give this node a configuration whose majorities "
						   "do not overlap its peers'.",
						   membership_ids(persisted), membership_ids(current), "raft_ext.peers",
						   membership_ids(configured), (unsigned) culprit,
						   why ? why : "no reason given"),
				 errhint("Set %s to the members this node first started with or to the current members (only their addresses may change) and reload; "
						 "change the membership of a running cluster with raft_ext.add_node() and raft_ext.remove_node().",
						 "raft_ext.peers")));
}

/*
 * Start Raft: check the settings, open storage, build the engine, load the
 * log.  Throws on any failure; the caller catches it.
 */
static void
worker_start_raft(void)
{
	raft_options options;
	raft_hard_state hard_state;
	raft_membership *configured;
	raft_membership *bootstrap;
	bool		check_current = false;
	char	   *error = NULL;
	raft_time	now;
	uint64		seed;

	if (raft_storage_fsync_has_failed())
		ereport(ERROR,
				(errcode(ERRCODE_IO_ERROR),
				 errmsg("%s", RAFT_FSYNC_FAILED_MSG),
				 errdetail("An fsync of the Raft state failed earlier (the server log says which file and why). "
						   "The kernel may have dropped the writes it could not complete, so the files "
						   "on disk can no longer be trusted to hold this node's term, vote and log."),
				 errhint("Check the storage, then restart the server.")));

	if (!raft_settings_validate(&error))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft_ext is not configured correctly"),
				 errdetail("%s", error),
				 errhint("Fix the raft_ext settings and reload the configuration.")));

	configured = palloc0(sizeof(raft_membership));
	bootstrap = palloc0(sizeof(raft_membership));
	worker_bootstrap_membership(configured);

	raft_options_from_settings(&options);
	raft_failover_configure(&options);
	options.id = (raft_id) raft_node_id;

	/* Nodes started together must not draw the same election timeouts. */
	seed = ((uint64) raft_node_id << 40) ^ ((uint64) MyProcPid << 20) ^
		(uint64) GetCurrentTimestamp();
	options.seed = seed;

	worker.heartbeat_interval = raft_heartbeat_interval;
	worker.election_timeout = raft_election_timeout;
	worker.election_spread = raft_election_spread;
	worker.lease_drift_margin = raft_lease_drift_margin;
	worker.tick_interval = Max(1, raft_heartbeat_interval / 4);

	{
		MemoryContext old = MemoryContextSwitchTo(state_context);

		bool		name_is_default = (raft_cluster_name[0] == '\0');
		char		default_name[sizeof(worker.cluster_name)];

		raft_default_cluster_name(default_name);
		if (name_is_default)
			strlcpy(worker.cluster_name, default_name, sizeof(worker.cluster_name));
		else
			strlcpy(worker.cluster_name, raft_cluster_name, sizeof(worker.cluster_name));
		memset(&hard_state, 0, sizeof(hard_state));
		worker.storage = raft_storage_open(raft_state_directory,
										   (raft_id) raft_node_id,
										   worker.cluster_name, name_is_default,
										   default_name, &hard_state);
		strlcpy(worker.cluster_name, raft_storage_cluster_name(worker.storage),
				sizeof(worker.cluster_name));
		LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
		strlcpy(raft_shared->cluster_name, worker.cluster_name,
				sizeof(raft_shared->cluster_name));
		LWLockRelease(raft_shared->lock);
		check_current = worker_effective_membership(worker.storage, configured, bootstrap);
		MemoryContextSwitchTo(old);
	}

	/*
	 * Keep what the last incarnation's acknowledgements promised: refuse
	 * votes for the longer of that timeout and ours.  A longer timeout is
	 * promised at once (before any message goes out); a shorter one only
	 * once the old promise has run out (storage_promise.c).
	 */
	now = raft_monotonic_now();
	{
		int64		promised = raft_storage_load_promise(worker.storage);

		options.startup_stickiness = promised;
		worker.promise_until = 0;
		if (promised > raft_election_timeout)
			worker.promise_until = now + promised;
		else if (promised != raft_election_timeout)
			raft_storage_save_promise(worker.storage, raft_election_timeout);
	}
	worker.node = raft_new(&options, &hard_state, bootstrap, now);
	if (worker.node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create the Raft node"),
				 errdetail("The engine refused its options or ran out of memory.")));

	{
		MemoryContext old = MemoryContextSwitchTo(state_context);

		raft_storage_load_log(worker.storage, worker.node);
		MemoryContextSwitchTo(old);
	}
	if (check_current)
		worker_check_peers_current(worker.storage, configured);

	transport_init((raft_id) raft_node_id, worker.cluster_name,
				   raft_heartbeat_interval, raft_election_timeout);
	transport_set_membership(raft_get_membership(worker.node));

	worker.error[0] = '\0';
	worker.leader_since = GetCurrentTimestamp();
	worker.force_publish = true;
	ereport(LOG,
			(errmsg("node %u started in term %llu with %llu log entries, cluster \"%s\"",
					(unsigned) raft_node_id,
					(unsigned long long) raft_get_term(worker.node),
					(unsigned long long) raft_last_index(worker.node),
					worker.cluster_name)));
}

/*
 * Recover from an ERROR thrown while Raft ran or started: log it, stop
 * Raft, and keep the message for raft_status.
 */
static void
worker_handle_error(void)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(TopMemoryContext);
	edata = CopyErrorData();
	FlushErrorState();

	/* What a transaction abort would have cleaned up. */
	LWLockReleaseAll();
	ConditionVariableCancelSleep();
	AtEOXact_Files(false);

	if (raft_storage_fsync_has_failed() &&
		strcmp(edata->message, RAFT_FSYNC_FAILED_MSG) != 0)
		snprintf(worker.error, RAFT_ERROR_LEN, "%s: %s",
				 RAFT_FSYNC_FAILED_MSG, edata->message);
	else if (edata->detail != NULL)
		snprintf(worker.error, RAFT_ERROR_LEN, "%s: %s",
				 edata->message, edata->detail);
	else
		strlcpy(worker.error, edata->message, RAFT_ERROR_LEN);

	/* WARNING with the cause's SQLSTATE: log alerting must not miss it. */
	ereport(WARNING,
			(errcode(edata->sqlerrcode != 0 && edata->sqlerrcode != ERRCODE_SUCCESSFUL_COMPLETION ?
					 edata->sqlerrcode : ERRCODE_INTERNAL_ERROR),
			 errmsg("Raft stopped on node %u: %s",
					(unsigned) raft_node_id, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));
	FreeErrorData(edata);

	worker_stop_raft();
	MemoryContextReset(loop_context);
	MemoryContextSwitchTo(loop_context);
}

/* Start Raft, catching any failure. */
static void
worker_try_start(void)
{
	PG_TRY();
	{
		worker_start_raft();
	}
	PG_CATCH();
	{
		worker_handle_error();
	}
	PG_END_TRY();
}

/*
 * Failpoint crash-after-vote-persist: a vote granted to another node is
 * durable but its reply has not been sent.  Exit as a crash would, so that a
 * test can check that the restarted worker remembers the vote.  The
 * failpoint fires once (it disarms itself), so the restarted worker runs
 * normally.  A candidate's vote for itself does not fire it: no reply
 * depends on that one.
 */
static void
worker_failpoint_after_vote(const raft_hard_state *hard_state)
{
	bool		fire = false;

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	if (raft_shared->fault_failpoint == RAFT_FAILPOINT_CRASH_AFTER_VOTE_PERSIST)
	{
		raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
		fire = true;
	}
	LWLockRelease(raft_shared->lock);
	if (!fire)
		return;

	ereport(LOG,
			(errmsg("failpoint %s: node %u persisted its vote for node %u in term %llu, exiting",
					raft_failpoint_names[RAFT_FAILPOINT_CRASH_AFTER_VOTE_PERSIST],
					(unsigned) raft_node_id, hard_state->voted_for,
					(unsigned long long) hard_state->term)));
	proc_exit(1);
}

/* Persist, then send, then advance, for as long as the engine has output. */
static void
worker_process_ready(void)
{
	while (raft_has_ready(worker.node))
	{
		raft_ready ready;
		raft_time	now = raft_monotonic_now();

		raft_get_ready(worker.node, &ready);

		/* THE CONTRACT: durable before anything leaves this node. */
		raft_storage_persist(worker.storage, &ready);
		if (raft_fault_injection && ready.hard_state_changed &&
			ready.hard_state.voted_for != RAFT_NOBODY &&
			ready.hard_state.voted_for != (raft_id) raft_node_id)
			worker_failpoint_after_vote(&ready.hard_state);

		/* a lease given up (a transfer) is seen by backends before we send */
		raft_publish_lease(raft_timeline_gate_lease(worker.node, worker.position,
													ready.lease_until),
						   ready.term);

		if (ready.membership_changed)
			transport_set_membership(raft_get_membership(worker.node));
		for (size_t i = 0; i < ready.n_messages; i++)
		{
			elog(DEBUG2, "sending %s to node %u in term %llu",
				 raft_msg_type_name(ready.messages[i].type),
				 ready.messages[i].to,
				 (unsigned long long) ready.messages[i].term);
			transport_send(&ready.messages[i], now);
		}

		if (ready.role_changed)
		{
			role_changed = true;
			worker.leader_since = GetCurrentTimestamp();
			ereport(LOG,
					(errmsg("node %u is now %s in term %llu (leader %u)",
							(unsigned) raft_node_id,
							raft_role_name(ready.role),
							(unsigned long long) ready.term,
							ready.leader)));
		}
		worker.force_publish = true;
		raft_advance(worker.node, raft_monotonic_now());
	}
}

/* Tell the failover policy about role changes, then let it take its step. */
static void
worker_failover(raft_time now)
{
	if (role_changed && worker.node != NULL)
		raft_failover_on_role_change(&status_buffer);
	role_changed = false;
	raft_failover_step(worker.node, &status_buffer, now);
	raft_timeline_step(worker.node, &status_buffer);
	raft_sync_step(worker.node, &status_buffer, now);
	raft_member_slots_step(&status_buffer, now);
	raft_logical_slots_step(&status_buffer, now);
}

/*
 * A peer refused our batches because another live process, which it heard
 * first, sends as this node id (receive.c): this process is the copy.  Stop
 * running Raft: two processes voting as one member could elect two leaders
 * in one term.  The established one carries on; this one does not vote
 * until the operator has given it a new id (or stopped the other).
 */
static void
worker_check_duplicate(void)
{
	char		message[RAFT_ERROR_LEN];

	if (!transport_take_duplicate(message, sizeof(message)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("another server is running as node %u", (unsigned) raft_node_id),
			 errdetail("A peer refused this node's messages: %s", message),
			 errhint("A copy of a member's data directory keeps its %s: give one of the two servers a new node id "
					 "(and add it with raft_ext.add_node), or stop it; then reload to start Raft again.",
					 "raft_ext.node_id")));
}

/*
 * When to tick next.  A leader ticks every tick_interval; a follower's tick
 * does nothing before its election deadline (raft_election_deadline), and
 * every message wakes the loop anyway, so an idle follower sleeps until
 * that deadline or one heartbeat, whichever comes first: a third of the
 * wakeups of ticking every quarter heartbeat.
 */
static raft_time
worker_next_tick(raft_time planned)
{
	raft_time	now = raft_monotonic_now();
	raft_time	deadline = raft_election_deadline(worker.node);

	if (deadline == 0)
		return planned;
	if (worker.promise_until != 0 && worker.promise_until < deadline)
		deadline = worker.promise_until;
	return Max(Min(deadline, now + worker.heartbeat_interval), now + 1);
}

/* Give the engine this node's WAL position as of now. */
static void
worker_update_position(void)
{
	worker.position = raft_wal_position();
	raft_set_position(worker.node, worker.position);
}

/* One turn of the loop while Raft runs. */
static void
worker_iteration(void)
{
	raft_time	now;

	/* failpoint "stall": a worker stuck while the server runs on */
	raft_fault_stall_point();
	/* answers to what arrives carry the position as of now */
	worker_update_position();
	worker_drain_inbox(&worker);
	if (worker.node == NULL)
		return;
	now = raft_monotonic_now();

	/* a transfer waits for the target to have all our WAL: send it all */
	if (raft_transfer_target(worker.node) != RAFT_NOBODY)
		raft_wal_flush_for_transfer();
	worker_update_position();
	raft_tick(worker.node, now);
	if (worker.promise_until != 0 && now >= worker.promise_until)
	{
		raft_storage_save_promise(worker.storage, worker.election_timeout);
		worker.promise_until = 0;
	}
	worker_take_commands(&worker, now);
	worker_process_ready();

	now = raft_monotonic_now();
	transport_poll(now);
	worker_check_duplicate();
	worker_build_status(&worker, &status_buffer);
	worker_failover(now);

	/* The policy may have started a leadership transfer: send it now. */
	if (raft_has_ready(worker.node))
	{
		worker_process_ready();
		now = raft_monotonic_now();
		transport_poll(now);
		worker_build_status(&worker, &status_buffer);
	}
	/* failpoint "stall-after-lease": the fence sees a lease, the snapshot not */
	raft_fault_stall_after_lease_point(
		raft_lease_word_until(pg_atomic_read_u64(&raft_shared->lease_word)) > now &&
		raft_shared->status.lease_until <= now);
	worker_publish_status(&worker, &status_buffer, now);
}

/*
 * Build and publish the status snapshot while Raft is stopped (the policy
 * still gets its step: it reaps role-change commands).
 */
static void
worker_publish(void)
{
	raft_time	now = raft_monotonic_now();

	worker_build_status(&worker, &status_buffer);
	worker_failover(now);
	worker_publish_status(&worker, &status_buffer, now);
}

/* Apply a configuration reload. */
static void
worker_reload(void)
{
	char	   *error = NULL;

	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);

	if (worker.node == NULL && raft_storage_fsync_has_failed())
	{
		ereport(LOG,
				(errmsg("configuration reloaded, but Raft stays stopped until the server restarts"),
				 errdetail("An fsync of the Raft state failed earlier; the files may have lost writes that the kernel reported done.")));
		return;
	}
	if (worker.node == NULL)
	{
		ereport(LOG,
				(errmsg("configuration reloaded, starting Raft again")));
		worker_try_start();
		return;
	}
	if (!raft_settings_validate(&error))
	{
		ereport(LOG,
				(errmsg("the reloaded settings are not valid; Raft keeps running on the settings it started with"),
				 errdetail("%s", error)));
		return;
	}
	/* the fence uses the new headroom at once; so do transfers */
	raft_set_transfer_hold(worker.node, raft_fencing_headroom);
	if (raft_heartbeat_interval != worker.heartbeat_interval ||
		raft_election_timeout != worker.election_timeout ||
		raft_election_spread != worker.election_spread ||
		raft_lease_drift_margin != worker.lease_drift_margin)
		ereport(LOG,
				(errmsg("new timing settings take effect when the raft_ext worker restarts"),
				 errhint("Restart the server, or terminate the worker (pid %d) and the postmaster starts it again.",
						 MyProcPid)));
}

/* Milliseconds to wait: until the next tick or transport deadline. */
static long
worker_wait_timeout(raft_time now, raft_time next_tick)
{
	long		timeout;
	long		transport_timeout;

	/* Stopped: only the policy's role-change commands need a look. */
	if (worker.node == NULL)
		return 1000;
	timeout = (long) Max(next_tick - now, 0);
	transport_timeout = transport_next_timeout(now);
	if (transport_timeout >= 0 && transport_timeout < timeout)
		timeout = transport_timeout;
	return timeout;
}

/* Make the wait set match the transport's sockets. */
static WaitEventSet *
worker_prepare_wait_set(WaitEventSet *set)
{
	if (set != NULL && !transport_sockets_changed())
	{
		transport_update_wait_events(set);
		if (!transport_sockets_changed())
			return set;
	}
	if (set != NULL)
		FreeWaitEventSet(set);
	set = raft_create_wait_event_set(WORKER_WAIT_EVENTS);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	transport_add_wait_events(set);
	return set;
}

/* Entry point, registered by _PG_init. */
void
raft_worker_main(Datum main_arg)
{
	WaitEventSet *volatile set = NULL;
	volatile raft_time next_tick = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "raft_ext worker");
	state_context = AllocSetContextCreate(TopMemoryContext,
										  "raft_ext state",
										  ALLOCSET_DEFAULT_SIZES);
	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "raft_ext loop",
										 ALLOCSET_DEFAULT_SIZES);
	worker_input_init();
	memset(&worker, 0, sizeof(worker));
	worker.heartbeat_interval = raft_heartbeat_interval;

	before_shmem_exit(worker_on_exit, (Datum) 0);
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->worker_latch = MyLatch;
	LWLockRelease(raft_shared->lock);

	/* Peers tell two processes with one node id apart by this (receive.c). */
	{
		uint64		incarnation = 0;

		if (!pg_strong_random(&incarnation, sizeof(incarnation)) ||
			incarnation == 0)
			incarnation = ((uint64) MyProcPid << 32) ^
				(uint64) GetCurrentTimestamp() ^ 1;
		transport_set_incarnation(incarnation);
	}

	MemoryContextSwitchTo(loop_context);
	worker_try_start();
	worker_publish();

	for (;;)
	{
		WaitEvent	events[WORKER_WAIT_EVENTS];
		raft_time	now;
		int			n;

		set = worker_prepare_wait_set(set);
		now = raft_monotonic_now();
		n = WaitEventSetWait(set, worker_wait_timeout(now, next_tick),
							 events, lengthof(events), PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
		{
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
			else if (events[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
				transport_socket_ready(events[i].user_data, events[i].events);
		}

		/*
		 * Exit code 1, not 0: the postmaster unregisters a worker that exits
		 * with 0, and a worker terminated on its own (to apply new timing
		 * settings, say) must come back.  At server shutdown nothing is
		 * restarted whatever the code.
		 */
		if (ShutdownRequestPending)
			proc_exit(1);

		MemoryContextReset(loop_context);
		MemoryContextSwitchTo(loop_context);
		PG_TRY();
		{
			if (ConfigReloadPending)
				worker_reload();
			now = raft_monotonic_now();
			if (worker.node != NULL && now >= next_tick)
				next_tick = now + worker.tick_interval;
			if (worker.node != NULL)
			{
				worker_iteration();
				next_tick = worker_next_tick(next_tick);
			}
			else
			{
				/* Stopped: discard what arrives, refuse commands. */
				worker_drain_inbox(&worker);
				worker_take_commands(&worker, now);
				worker_publish();
			}
		}
		PG_CATCH();
		{
			worker_handle_error();
			worker_publish();
		}
		PG_END_TRY();
	}
}
