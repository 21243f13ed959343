/*
 * sql_functions.c
 *	  SQL functions of raft_ext other than the views and the transport:
 *	  questions (is_leader, leader_id, fencing_token, wait_for_leader,
 *	  validate_settings) and requests that only the worker can carry out
 *	  (transfer_leadership, add_node, remove_node).
 *
 * Questions are answered from the status snapshot in shared memory.
 * Requests are checked here first, so that the common mistakes get a precise
 * message without a round trip, then handed to the worker through the
 * command mailbox; the engine's verdict is authoritative.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"


#include "clock.h"
#include "conninfo.h"
#include "failover.h"
#include "logical_slots.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"

PG_FUNCTION_INFO_V1(raft_ext_is_leader);
PG_FUNCTION_INFO_V1(raft_ext_leader_id);
PG_FUNCTION_INFO_V1(raft_ext_fencing_token);
PG_FUNCTION_INFO_V1(raft_ext_wait_for_leader);
PG_FUNCTION_INFO_V1(raft_ext_transfer_leadership);
PG_FUNCTION_INFO_V1(raft_ext_add_node);
PG_FUNCTION_INFO_V1(raft_ext_remove_node);
PG_FUNCTION_INFO_V1(raft_ext_validate_settings);

/* Longest wait_for_leader() timeout: one day. */
#define MAX_WAIT_MS		(INT64CONST(24) * 60 * 60 * 1000)
/* Poll the snapshot at least this often while waiting (ms). */
#define WAIT_POLL_MS	100

/* How long a request may wait for the worker's answer (ms). */
static int
command_timeout_ms(void)
{
	return Max(5000, 2 * raft_election_timeout);
}

/* The current snapshot, in palloc'd memory. */
static RaftStatus *
read_status(void)
{
	RaftStatus *st;

	raft_require_shared();
	st = palloc(sizeof(RaftStatus));
	raft_read_status(st);
	return st;
}

/* Whether the snapshot lists member id (as a voter, if voter_only). */
static bool
status_has_member(const RaftStatus *st, raft_id id, bool voter_only)
{
	const RaftPeerStatus *peer = raft_status_member(st, id);

	return peer != NULL && (peer->voter || !voter_only);
}

/*
 * Wait on status_cv until the snapshot knows a leader (want == RAFT_NOBODY)
 * or knows 'want' as the leader, or until the deadline.  Returns the leader
 * last seen.  Errors while sleeping are cleaned up by transaction abort.
 */
static raft_id
wait_for_leader_until(raft_time deadline, raft_id want)
{
	RaftStatus *st = palloc(sizeof(RaftStatus));
	raft_id		leader;

	ConditionVariablePrepareToSleep(&raft_shared->status_cv);
	for (;;)
	{
		raft_time	now;

		raft_read_status(st);
		leader = raft_status_leader(st);
		if (want == RAFT_NOBODY ? leader != RAFT_NOBODY : leader == want)
			break;
		now = raft_monotonic_now();
		if (now >= deadline)
			break;
		ConditionVariableTimedSleep(&raft_shared->status_cv,
									(long) Min(deadline - now, WAIT_POLL_MS),
									PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	pfree(st);
	return leader;
}

/*
 * Refresh *st until this leader knows what member 'target' reports (its
 * flags: whether it would promote, whether its logical slot copies are
 * ready), at most until 'deadline'.  A member answers every heartbeat, but
 * a leader knows nothing of one that has not answered it yet (just after
 * the election, or after a partition healed); the checks below must not
 * decide on that, either way.
 */
static void
wait_for_member_flags(RaftStatus *st, raft_id target, raft_time deadline)
{
	const RaftPeerStatus *peer = raft_status_member(st, target);

	if (peer == NULL || peer->flags_known)
		return;
	ConditionVariablePrepareToSleep(&raft_shared->status_cv);
	for (;;)
	{
		raft_time	now = raft_monotonic_now();

		if (now >= deadline)
			break;
		ConditionVariableTimedSleep(&raft_shared->status_cv,
									(long) Min(deadline - now, WAIT_POLL_MS),
									PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
		raft_read_status(st);
		peer = raft_status_member(st, target);
		if (peer == NULL || peer->flags_known)
			break;
	}
	ConditionVariableCancelSleep();
}

/* ERROR unless the worker is running Raft. */
static void
require_running(const RaftStatus *st)
{
	if (!raft_status_running(st))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("raft_ext is not running on this node"),
				 st->error[0] ? errdetail("%s", st->error) :
				 errdetail("The raft_ext worker is not running."),
				 errhint("Check the server log for the reason.")));
}

/* ERROR unless this node is the leader; what names the refused request. */
static void
require_leader(const RaftStatus *st, const char *what)
{
	raft_id		leader = raft_status_leader(st);

	if (st->role != RAFT_LEADER)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not the raft leader"),
				 leader != RAFT_NOBODY ?
				 errhint("Call %s on the leader, node %u.", what, (unsigned) leader) :
				 errhint("No leader is known; try again after an election.")));
}

/* A node id argument: not NULL, positive. */
static raft_id
node_id_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		id;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("node id must not be null")));
	id = PG_GETARG_INT32(argno);
	if (id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid node id %d", id),
				 errdetail("Node ids are between 1 and %d.", PG_INT32_MAX)));
	return (raft_id) id;
}

/* ERROR for a request the worker refused. */
static void
report_refusal(const char *what, raft_id target, int rc, const char *message)
{
	int			code;
	char	   *msg;

	switch (rc)
	{
		case RAFT_ENOTLEADER:
			code = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
			msg = pstrdup("this node is not the raft leader");
			break;
		case RAFT_EBUSY:
			code = ERRCODE_OBJECT_IN_USE;
			msg = pstrdup("a membership change or leadership transfer is already in progress");
			break;
		case RAFT_EUNKNOWN:
			code = ERRCODE_UNDEFINED_OBJECT;
			msg = psprintf("node %u is not a member of the raft cluster",
						   (unsigned) target);
			break;
		case RAFT_EINVAL:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			msg = psprintf("%s refused the request", what);
			break;
		case RAFT_EUNREACHABLE:
			code = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
			msg = psprintf("node %u is not responding to the leader",
						   (unsigned) target);
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			msg = psprintf("%s failed: %s", what, raft_strerror(rc));
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg),
			 message[0] ? errdetail_internal("%s", message) : 0));
}

/* Hand cmd to the worker; ERROR unless it succeeded. */
static void
run_command(const char *what, RaftCommandKind kind, raft_id target,
			const char *conninfo)
{
	RaftCommand cmd;
	char		message[RAFT_ERROR_LEN];
	int			rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = kind;
	cmd.target = target;
	if (conninfo != NULL)
		strlcpy(cmd.conninfo, conninfo, RAFT_MAX_ADDRESS);
	message[0] = '\0';
	rc = raft_command_submit(&cmd, command_timeout_ms(), message);
	if (rc != RAFT_OK)
		report_refusal(what, target, rc, message);
}

/* raft_ext.is_leader(): whether this node is the Raft leader. */
Datum
raft_ext_is_leader(PG_FUNCTION_ARGS)
{
	RaftStatus *st = read_status();

	PG_RETURN_BOOL(raft_status_running(st) && st->role == RAFT_LEADER);
}

/* raft_ext.leader_id(): the leader this node knows of, NULL if none. */
Datum
raft_ext_leader_id(PG_FUNCTION_ARGS)
{
	RaftStatus *st = read_status();
	raft_id		leader = raft_status_leader(st);

	if (leader == RAFT_NOBODY)
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) leader);
}

/*
 * raft_ext.fencing_token(): the term, while this node holds the lease, else
 * NULL.  Terms only grow, so a resource guarded by "accept the highest token
 * seen" refuses a deposed leader.  It reads the lease the fence reads (not
 * the status snapshot, published a moment later), so a write that passed
 * the fence saw a token.
 */
Datum
raft_ext_fencing_token(PG_FUNCTION_ARGS)
{
	raft_term	term = raft_lease_term();

	if (term == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) term);
}

/* Milliseconds in an interval (a month counts 30 days), as a double. */
static double
interval_ms(const Interval *iv)
{
	return (double) iv->time / 1000.0 +
		(double) iv->day * 86400000.0 +
		(double) iv->month * 30.0 * 86400000.0;
}

/* raft_ext.wait_for_leader(timeout interval): the leader's id, once known. */
Datum
raft_ext_wait_for_leader(PG_FUNCTION_ARGS)
{
	double		ms;
	raft_id		leader;
	RaftStatus *st;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timeout must not be null")));
	ms = interval_ms(PG_GETARG_INTERVAL_P(0));
	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	if (ms > (double) MAX_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be at most 1 day")));

	raft_require_shared();
	leader = wait_for_leader_until(raft_monotonic_now() + (raft_time) ms,
								   RAFT_NOBODY);
	if (leader != RAFT_NOBODY)
		PG_RETURN_INT32((int32) leader);

	st = read_status();
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no raft leader is known after %.0f ms", ms),
			 st->error[0] ? errdetail("%s", st->error) :
			 !st->worker_running ? errdetail("The raft_ext worker is not running.") : 0));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * A switchover must not leave the cluster without a writable primary: when
 * this node promotes by itself (raft_ext.auto_promote on, so the cluster's
 * failovers are automatic), refuse a target that reported that it would
 * not (auto_promote off there, or failover_priority 0): it would lead as a
 * standby while the old primary, no longer leading, is fenced.  A cluster
 * whose members all have auto_promote off (decide-only) leaves promotion to
 * its orchestrator, and the transfer goes ahead.  So does one to a member
 * that has not answered this leader within an election timeout
 * (wait_for_member_flags): nothing is known of it.
 */
static void
require_promotes(const RaftStatus *st, raft_id target)
{
	const RaftPeerStatus *peer = raft_status_member(st, target);

	if (peer != NULL && peer->flags_known &&
		!(peer->flags & RAFT_EXT_FLAG_PROMOTES) && raft_auto_promote)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node %u would not promote: leadership is not handed to it",
						(unsigned) target),
				 errdetail("Node %u reports raft_ext.auto_promote off or raft_ext.failover_priority 0: it would lead "
						   "as a standby, and this primary, no longer leading, would be fenced, leaving no writable primary.",
						   (unsigned) target),
				 errhint("Set raft_ext.auto_promote = on and a failover_priority above 0 on node %u and reload it, then retry.",
						 (unsigned) target)));
}

/*
 * A switchover must not lose the logical consumers' slots: while this
 * primary keeps failover slots synchronized (raft_ext.sync_logical_slots),
 * refuse a target whose copies are not all sync-ready.  PostgreSQL keeps a
 * new copy temporary until the primary's slot moves past what the standby
 * can decode, and a promotion drops a temporary copy: after the switchover
 * the consumer would find no slot.  (A failover cannot wait for this; the
 * leader's raft_cluster.logical_slots column shows who is ready.)
 */
static void
require_logical_ready(const RaftStatus *st, raft_id target)
{
	const RaftPeerStatus *peer = raft_status_member(st, target);

	if (st->logical_sync == RAFT_LOGICAL_SYNC_ON && st->logical_failover > 0 &&
		peer != NULL && peer->flags_known &&
		!(peer->flags & RAFT_EXT_FLAG_LOGICAL_READY))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node %u has not synchronized the failover slots: leadership is not handed to it",
						(unsigned) target),
				 errdetail("This primary has %d failover slot(s); node %u's copies are missing or not yet sync-ready, "
						   "and its promotion would drop them: the logical consumers would find no slot.",
						   st->logical_failover, (unsigned) target),
				 errhint("Wait until raft_cluster.logical_slots shows \"ready\" for node %u (a new slot becomes ready "
						 "once its consumer confirms a position), or choose another node.",
						 (unsigned) target)));
}

/*
 * raft_ext.transfer_leadership(target int): hand leadership to target and
 * wait (up to two election timeouts) until this node sees it lead.
 */
Datum
raft_ext_transfer_leadership(PG_FUNCTION_ARGS)
{
	raft_id		target = node_id_arg(fcinfo, 0);
	RaftStatus *st = read_status();
	raft_id		leader;

	require_running(st);
	if (st->n_peers > 0 && !status_has_member(st, target, true))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node %u is not a voting member of the raft cluster",
						(unsigned) target)));
	require_leader(st, "raft_ext.transfer_leadership()");
	if (target == (raft_id) raft_node_id)
		PG_RETURN_VOID();		/* already there */
	wait_for_member_flags(st, target,
						  raft_monotonic_now() + (raft_time) raft_election_timeout);
	require_leader(st, "raft_ext.transfer_leadership()");
	require_promotes(st, target);
	require_logical_ready(st, target);

	run_command("leadership transfer", RAFT_CMD_TRANSFER, target, NULL);

	leader = wait_for_leader_until(raft_monotonic_now() + 2 * (raft_time) raft_election_timeout,
								   target);
	if (leader != target)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("leadership transfer to node %u did not complete",
						(unsigned) target),
				 leader != RAFT_NOBODY ?
				 errdetail("Node %u is the leader now.", (unsigned) leader) :
				 errdetail("No leader is known now.")));
	PG_RETURN_VOID();
}

/* Check an add_node() conninfo argument: present, sized, a valid address. */
static const char *
conninfo_arg(FunctionCallInfo fcinfo, int argno, raft_id id)
{
	char	   *conninfo;
	char	   *error;
	size_t		len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("conninfo must not be null")));
	conninfo = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(conninfo);
	while (len > 0 && isspace((unsigned char) conninfo[len - 1]))
		conninfo[--len] = '\0';
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conninfo must not be empty")));
	if (len >= RAFT_MAX_ADDRESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conninfo is too long"),
				 errdetail("It has %zu bytes; at most %d are allowed.",
						   len, RAFT_MAX_ADDRESS - 1)));

	error = raft_conninfo_problem(conninfo);
	if (error != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid conninfo for node %u", (unsigned) id),
				 errdetail_internal("%s", error)));
	return conninfo;
}

/*
 * Check a membership change against the snapshot (running, the node a
 * member or not as the change needs, this node the leader) and hand it to
 * the worker.
 */
static void
change_membership(RaftCommandKind kind, raft_id id, const char *conninfo)
{
	bool		add = (kind == RAFT_CMD_ADD_NODE);
	RaftStatus *st = read_status();

	require_running(st);
	if (add && status_has_member(st, id, false))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("node %u is already a member of the raft cluster",
						(unsigned) id)));
	if (!add && st->n_peers > 0 && !status_has_member(st, id, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node %u is not a member of the raft cluster",
						(unsigned) id)));
	require_leader(st, add ? "raft_ext.add_node()" : "raft_ext.remove_node()");

	run_command(add ? "adding a node" : "removing a node", kind, id, conninfo);
}

/* raft_ext.add_node(id int, conninfo text): add a member (leader only). */
Datum
raft_ext_add_node(PG_FUNCTION_ARGS)
{
	raft_id		id = node_id_arg(fcinfo, 0);
	const char *conninfo = conninfo_arg(fcinfo, 1, id);

	change_membership(RAFT_CMD_ADD_NODE, id, conninfo);
	PG_RETURN_VOID();
}

/*
 * In quorum mode, before a voter is removed: the voters that remain must
 * hold what this primary has flushed (so every commit it acknowledged) on
 * enough of them that each majority of the remaining voters has one.  A
 * commit was acknowledged by k = v - m voters of the old membership, which
 * need not be enough of the new one: with two voters (k = 0) a primary that
 * removes itself leaves the other as the only voter, without the commits
 * only the primary held (the simulator's seed 2608131).  Commits
 * acknowledged after the removal's quorum value is in place cover what came
 * before them, so only what is flushed now needs waiting for.  Waits up to
 * the command timeout for the standbys to catch up, then refuses.
 */
static void
wait_remaining_voters_hold_wal(raft_id removed)
{
	TimeLineID	tli;
	XLogRecPtr	target;
	raft_time	deadline = raft_monotonic_now() + command_timeout_ms();

	if (raft_synchronous != RAFT_SYNC_QUORUM || RecoveryInProgress())
		return;
	target = GetFlushRecPtr(&tli);
	for (;;)
	{
		RaftStatus *st = read_status();
		int			voters = 0;
		int			holders = 0;
		int			needed;

		if (st->role != RAFT_LEADER)
			return;				/* change_membership says so */
		for (int i = 0; i < st->n_peers; i++)
		{
			const RaftPeerStatus *peer = &st->peers[i];

			if (!peer->voter || peer->id == removed)
				continue;
			voters++;
			if (peer->is_self ||
				(peer->position.major == tli && peer->position.minor >= target))
				holders++;
		}
		needed = voters - (voters / 2 + 1) + 1;
		if (holders >= needed)
			return;
		if (raft_monotonic_now() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("node %u is not removed: the remaining voters do not hold this primary's WAL yet",
							(unsigned) removed),
					 errdetail("raft_ext.synchronous is quorum: %d of the %d remaining voters must hold WAL up to %X/%X "
							   "so that every majority of them has each acknowledged commit; %d do.",
							   needed, voters, LSN_FORMAT_ARGS(target), holders),
					 errhint("Wait for the standbys to catch up (raft_cluster shows their lag), then retry.")));
		pfree(st);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WAIT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* raft_ext.remove_node(id int): remove a member (leader only). */
Datum
raft_ext_remove_node(PG_FUNCTION_ARGS)
{
	raft_id		id = node_id_arg(fcinfo, 0);

	wait_remaining_voters_hold_wal(id);
	change_membership(RAFT_CMD_REMOVE_NODE, id, NULL);
	PG_RETURN_VOID();
}

/* raft_ext.validate_settings(): NULL if the settings hold together. */
Datum
raft_ext_validate_settings(PG_FUNCTION_ARGS)
{
	char	   *error;

	if (raft_settings_validate(&error))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(error));
}
