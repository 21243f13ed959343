/*
 * fencing.c
 *	  A node that does not hold the leader's lease cannot commit a write.
 *
 * Three hooks, all cheap unless a transaction wrote:
 *
 * - a transaction callback refuses, at PRE_COMMIT and PRE_PREPARE, every
 *   transaction of a client backend (or walsender) that has a transaction id,
 *   unless this node's published lease runs at least raft_ext.fencing_headroom
 *   past now.  The ERROR comes before the commit record is written, so the
 *   transaction aborts cleanly.  After the commit it looks again and warns if
 *   the lease ran out while the commit was being written;
 * - a ProcessUtility hook applies the same check to COMMIT PREPARED (which
 *   commits another transaction, so no PRE_COMMIT of its own sees a write),
 *   and lets CREATE/ALTER EXTENSION raft_ext through: the nodes can only talk
 *   to each other once the extension exists on every one of them, that is
 *   before any of them can hold a lease;
 * - a ClientAuthentication hook makes new sessions on a fenced node default
 *   to read-only, before the server reports its settings to the client, so
 *   that libpq's target_session_attrs=read-write skips the node.
 *
 * Background workers (autovacuum, logical replication apply, parallel
 * workers, other extensions' workers) are not fenced; docs/fencing.md says
 * why, and states the guarantee and its assumptions precisely.
 *
 * The lease is read from an atomic copy that raft_publish_status keeps
 * beside the status snapshot: the snapshot is ~20 kB and copied under a lock,
 * too heavy for every commit.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "replication/walsender.h"
#include "tcop/utility.h"
#include "utils/guc.h"

#include "fencing.h"
#include "clock.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"

bool		raft_fencing = true;
int			raft_fencing_headroom = 50;

/* What a refused or late statement was doing, for the messages. */
typedef enum FenceAction
{
	FENCE_COMMIT,
	FENCE_PREPARE,
	FENCE_COMMIT_PREPARED,
	FENCE_WRITE					/* a statement that writes, before it runs */
} FenceAction;

static ClientAuthentication_hook_type prev_client_authentication = NULL;
static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* This session was opened on a fenced node and made read-only by default. */
static bool fence_session_read_only = false;

/* Per transaction: CREATE/ALTER EXTENSION raft_ext wrote it; not fenced. */
static bool fence_exempt = false;

/* Per transaction: its commit passed the fence, when, with what lease. */
static bool fence_checked = false;
static raft_time fence_checked_at = 0;
static raft_time fence_lease_at_check = 0;
static FenceAction fence_checked_action = FENCE_COMMIT;

/*
 * The lease horizon this node's worker published (monotonic ms, 0 = none).
 * No lock and no barrier: a stale value is an older horizon, which only
 * makes the check stricter (the horizon only grows while a node leads; it
 * drops to 0 when it stops leading, see docs/fencing.md for that case).
 */
static inline raft_time
fence_lease_until(void)
{
	return (raft_time) pg_atomic_read_u64(&raft_shared->lease_until);
}

/* Whether the lease runs at least the headroom past now. */
static inline bool
fence_lease_held(raft_time now, raft_time lease)
{
	return lease > now + raft_fencing_headroom;
}

/*
 * Whether this process's writes are fenced.  Client backends and walsenders
 * (which can run SQL on a replication=database connection) are; background
 * workers and autovacuum are not.  Nothing is fenced in single-user mode,
 * in binary upgrade, on a standby (it cannot write anyway), or when the
 * shared memory is missing.
 */
static bool
fence_applies(void)
{
	if (!raft_fencing || raft_shared == NULL || !IsUnderPostmaster ||
		IsBinaryUpgrade)
		return false;
	if (MyBackendType != B_BACKEND && MyBackendType != B_WAL_SENDER)
		return false;
	return !RecoveryInProgress();
}

/* Forget the per-transaction state. */
static void
fence_reset(void)
{
	fence_exempt = false;
	fence_checked = false;
}

/* ERROR: this node may not do 'action' now.  The cold path. */
static void
fence_refuse(FenceAction action, raft_time now, raft_time lease)
{
	RaftStatus *st = palloc(sizeof(RaftStatus));
	raft_id		self = (raft_id) raft_node_id;
	raft_id		leader;

	pg_atomic_fetch_add_u64(&raft_shared->fence_refusals, 1);
	raft_read_status(st);
	leader = raft_status_leader(st);

	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 action == FENCE_PREPARE ?
			 errmsg("cannot prepare a write on a fenced node") :
			 action == FENCE_COMMIT_PREPARED ?
			 errmsg("cannot commit a prepared transaction on a fenced node") :
			 action == FENCE_WRITE ?
			 errmsg("cannot execute a write on a fenced node") :
			 errmsg("cannot commit a write on a fenced node"),
			 leader == RAFT_NOBODY ?
			 errdetail("This node (%u) does not hold the leader's lease; no leader is known.",
					   self) :
			 leader == self ?
			 errdetail("This node (%u) is the leader, but its lease runs out in %lld ms, less than %s (%d ms).",
					   self, (long long) Max(lease - now, 0),
					   "raft_ext.fencing_headroom", raft_fencing_headroom) :
			 errdetail("This node (%u) does not hold the leader's lease; the leader is node %u.",
					   self, leader),
			 leader == self ?
			 errhint("Retry: a leader in touch with a majority renews its lease every heartbeat.") :
			 errhint("Connect to the leader, or use target_session_attrs=read-write.")));
}

/*
 * The hot path: ERROR unless the lease runs at least the headroom past now.
 * Remembers when the check passed, for fence_check_late.
 */
static void
fence_check(FenceAction action)
{
	/* The lease first: a clock read after it can only make us stricter. */
	raft_time	lease = fence_lease_until();
	raft_time	now = raft_monotonic_now();

	if (!fence_lease_held(now, lease))
		fence_refuse(action, now, lease);
	fence_checked = true;
	fence_checked_at = now;
	fence_lease_at_check = lease;
	fence_checked_action = action;
}

/*
 * After the commit (or prepare) record: warn if the lease ran out while it
 * was being written.  The write is durable by now and cannot be refused; the
 * warning tells the client and the log that the guarantee did not hold for
 * it (see docs/fencing.md).  Must not throw: the transaction is committed.
 */
static void
fence_check_late(void)
{
	raft_time	now;
	raft_time	lease;

	if (!fence_checked || !raft_monotonic_try(&now))
		return;
	lease = fence_lease_until();
	if (lease > now)
		return;

	pg_atomic_fetch_add_u64(&raft_shared->fence_late_commits, 1);
	ereport(WARNING,
			(fence_checked_action == FENCE_PREPARE ?
			 errmsg("transaction prepared after this node's lease ran out") :
			 errmsg("write committed after this node's lease ran out"),
			 errdetail("It passed the fence with %lld ms of lease left and completed %lld ms later.",
					   (long long) (fence_lease_at_check - fence_checked_at),
					   (long long) (now - fence_checked_at)),
			 errhint("Another node may have been elected before it completed: a commit slower than %s is not covered by fencing.",
					 "raft_ext.fencing_headroom")));
}

/* Transaction callback: the fence itself. */
static void
fence_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* Only a transaction that wrote pays for more than this. */
			if (!TransactionIdIsValid(GetTopTransactionIdIfAny()) ||
				fence_exempt || !fence_applies())
				return;
			fence_check(event == XACT_EVENT_PRE_PREPARE ?
						FENCE_PREPARE : FENCE_COMMIT);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			fence_check_late();
			fence_reset();
			break;
		default:
			fence_reset();
			break;
	}
}

/*
 * ExecutorStart hook: a statement that writes (INSERT, UPDATE, DELETE,
 * MERGE, a data-modifying CTE, SELECT ... FOR UPDATE) is refused before it
 * generates WAL while the lease is not held, not only at commit.  A SELECT
 * pays for one comparison; only a write reads the lease and the clock.  A
 * read-only transaction is left to PostgreSQL's own check, which follows.
 */
static void
fence_executor_start(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;

	if ((stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE ||
		 stmt->rowMarks != NIL) &&
		!(eflags & EXEC_FLAG_EXPLAIN_ONLY) && !XactReadOnly &&
		!fence_exempt && !creating_extension && fence_applies())
	{
		raft_time	lease = fence_lease_until();
		raft_time	now = raft_monotonic_now();

		if (lease <= now)
			fence_refuse(FENCE_WRITE, now, lease);
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* Whether a utility statement installs or updates raft_ext itself. */
static bool
is_raft_ext_install(Node *parsetree)
{
	if (IsA(parsetree, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) parsetree)->extname,
					  "raft_ext") == 0;
	if (IsA(parsetree, AlterExtensionStmt))
		return strcmp(((AlterExtensionStmt *) parsetree)->extname,
					  "raft_ext") == 0;
	return false;
}

/*
 * ProcessUtility hook: fence COMMIT PREPARED; let the installation of
 * raft_ext through.  The exemption is narrow: a top-level statement, alone
 * in its transaction (not in a transaction block), that is the first to
 * write in it.  Only superusers can create raft_ext, and a superuser can
 * turn fencing off anyway.
 */
static void
fence_process_utility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		commit_prepared = false;
	bool		install = false;

	if (IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
		commit_prepared = fence_applies();
	else if (context == PROCESS_UTILITY_TOPLEVEL &&
			 is_raft_ext_install(parsetree))
		install = fence_applies() && !IsTransactionBlock() &&
			!TransactionIdIsValid(GetTopTransactionIdIfAny());

	if (commit_prepared)
		fence_check(FENCE_COMMIT_PREPARED);

	/*
	 * A session opened on a fenced node is read-only by default; that default
	 * is ours, not the user's, so it does not stop the installation.
	 */
	if (install && XactReadOnly && DefaultXactReadOnly &&
		fence_session_read_only)
		XactReadOnly = false;

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (install && TransactionIdIsValid(GetTopTransactionIdIfAny()))
		fence_exempt = true;
	if (commit_prepared)
	{
		/* The prepared transaction is committed: warn if it was late. */
		fence_check_late();
		fence_checked = false;
	}
}

/*
 * ClientAuthentication hook: a session that starts on a fenced node defaults
 * to read-only.  InitPostgres calls this before PostgresMain reports the
 * GUC_REPORT settings (default_transaction_read_only among them, since
 * PostgreSQL 14), so the client sees the node as read-only from the start.
 * PGC_S_OVERRIDE makes it the session's reset value, above startup options
 * and per-role settings; a SET in the session still wins, but the commit
 * check does not depend on it.
 */
static void
fence_client_authentication(Port *port, int status)
{
	raft_time	lease;

	if (prev_client_authentication)
		prev_client_authentication(port, status);

	/* A fenced primary sends no WAL (fence_wal.c). */
	if (status == STATUS_OK && am_walsender && raft_fence_wal_refused())
		ereport(FATAL,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("replication connections are refused on a fenced primary"),
				 errdetail("This node (%u) is a primary that does not hold the leader's lease.",
						   (unsigned) raft_node_id),
				 errhint("Replicate from the Raft leader.")));

	if (status != STATUS_OK || am_walsender || MyBackendType != B_BACKEND ||
		!fence_applies())
		return;
	lease = fence_lease_until();
	if (fence_lease_held(raft_monotonic_now(), lease))
		return;

	SetConfigOption("default_transaction_read_only", "on",
					PGC_SUSET, PGC_S_OVERRIDE);
	fence_session_read_only = true;
}

/* See fencing.h. */
void
raft_fencing_init(void)
{
	DefineCustomBoolVariable("raft_ext.fencing",
							 "Refuses to commit writes while this node does not hold the leader's lease.",
							 "Turn it off only on a single instance or for debugging: the node then "
							 "accepts writes whoever leads.",
							 &raft_fencing,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("raft_ext.fencing_headroom",
							"Lease time that must remain for a write to commit.",
							"Covers the time a commit takes to reach disk after the check. Keep it "
							"well below election_timeout - lease_drift_margin - heartbeat_interval.",
							&raft_fencing_headroom,
							50, 0, 60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	RegisterXactCallback(fence_xact_callback, NULL);

	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = fence_process_utility;

	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = fence_executor_start;

	prev_client_authentication = ClientAuthentication_hook;
	ClientAuthentication_hook = fence_client_authentication;
}
