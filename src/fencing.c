/*
 * fencing.c
 *	  A node that does not hold the leader's lease cannot commit a write, and
 *	  a session that may write cannot even read there.
 *
 * Four hooks, all cheap:
 *
 * - a transaction callback refuses, at PRE_COMMIT and PRE_PREPARE, every
 *   transaction of a client backend (or walsender) that has a transaction id,
 *   unless this node's published lease runs at least raft_ext.fencing_headroom
 *   past now.  The ERROR comes before the commit record is written, so the
 *   transaction aborts cleanly.  It records the lease's identity (its epoch,
 *   status.h) and, after the commit (after any synchronous wait), looks
 *   again: unless the node held that same lease all along and still holds
 *   it, the commit is reported late, and in quorum mode it is not
 *   acknowledged (the session ends instead);
 * - an ExecutorStart hook refuses a statement before it runs while the lease
 *   is not held: a write in a read-write transaction, and a read of a user
 *   relation in a session that may write (its transaction or its default is
 *   read-write), so that such a session never reads stale data on a node
 *   another leader may have overtaken;
 * - a ProcessUtility hook applies the commit check to COMMIT PREPARED (which
 *   commits another transaction, so no PRE_COMMIT of its own sees a write)
 *   and the statement check to COPY of a table (which reads or writes
 *   without the executor), and lets CREATE/ALTER EXTENSION raft_ext
 *   through: the nodes can only talk to each other once the extension
 *   exists on every one of them, that is before any of them can hold a
 *   lease;
 * - a ClientAuthentication hook makes new sessions on a fenced node default
 *   to read-only, before the server reports its settings to the client, so
 *   that libpq's target_session_attrs=read-write skips the node.
 *
 * Each client backend also keeps its "may write" bit in shared memory up to
 * date (fence_sessions.c), so that the worker can end the sessions that may
 * write once the lease went to another leader.
 *
 * Background workers (autovacuum, logical replication apply, parallel
 * workers, other extensions' workers) are not fenced; docs/fencing.md says
 * why, and states the guarantee and its assumptions precisely.
 *
 * The lease is read from an atomic word that the worker keeps beside the
 * status snapshot (the lease word, status.h): the snapshot is ~20 kB and
 * copied under a lock, too heavy for every statement.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "replication/walsender.h"
#include "tcop/tcopprot.h"
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
	FENCE_WRITE,				/* a statement that writes, before it runs */
	FENCE_READ					/* a read in a session that may write */
} FenceAction;

static ClientAuthentication_hook_type prev_client_authentication = NULL;
static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* This session was opened on a fenced node and made read-only by default. */
static bool fence_session_read_only = false;

/* Per transaction: CREATE/ALTER EXTENSION raft_ext wrote it; not fenced. */
static bool fence_exempt = false;

/*
 * Per transaction: its commit passed the fence, when, and the lease word
 * (horizon and epoch) it passed with.
 */
static bool fence_checked = false;
static raft_time fence_checked_at = 0;
static uint64 fence_word_at_check = 0;
static FenceAction fence_checked_action = FENCE_COMMIT;

/*
 * The lease word this node's worker published: horizon (monotonic ms, 0 =
 * none) and epoch, read in one go.  No lock and no barrier: a stale value
 * is an older horizon, which only makes the check stricter (the horizon
 * only grows within an epoch; it drops to 0 when the node stops leading,
 * see docs/fencing.md for that case).
 */
static inline uint64
fence_lease_word(void)
{
	return pg_atomic_read_u64(&raft_shared->lease_word);
}

/* The lease horizon alone. */
static inline raft_time
fence_lease_until(void)
{
	return raft_lease_word_until(fence_lease_word());
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
			 action == FENCE_READ ?
			 errmsg("cannot read in a read-write session on a fenced node") :
			 errmsg("cannot commit a write on a fenced node"),
			 leader == RAFT_NOBODY ?
			 errdetail("This node (%u) does not hold the leader's lease; no leader is known.",
					   self) :
			 leader == self && (action == FENCE_WRITE || action == FENCE_READ) ?
			 errdetail("This node (%u) is the leader, but its lease ran out %lld ms ago; a majority has not renewed it yet.",
					   self, (long long) Max(now - lease, 0)) :
			 leader == self ?
			 errdetail("This node (%u) is the leader, but its lease runs out in %lld ms, less than %s (%d ms).",
					   self, (long long) Max(lease - now, 0),
					   "raft_ext.fencing_headroom", raft_fencing_headroom) :
			 errdetail("This node (%u) does not hold the leader's lease; the leader is node %u.",
					   self, leader),
			 leader == self ?
			 errhint("Retry: a leader in touch with a majority renews its lease every heartbeat.") :
			 action == FENCE_READ ?
			 errhint("Connect to the leader (target_session_attrs=read-write), or read in a read-only session (default_transaction_read_only = on) if stale data will do.") :
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
	uint64		word = fence_lease_word();
	raft_time	lease = raft_lease_word_until(word);
	raft_time	now = raft_monotonic_now();

	if (!fence_lease_held(now, lease))
		fence_refuse(action, now, lease);
	fence_checked = true;
	fence_checked_at = now;
	fence_word_at_check = word;
	fence_checked_action = action;
}

/*
 * After the commit (or prepare) record, and after the synchronous wait: the
 * commit is covered only if this node held the lease it passed the fence
 * with all along, and still holds it: same epoch, horizon in the future
 * (docs/fencing.md, "No acknowledgement after the lease").  If not, the
 * commit is reported late: a WARNING, and the late-commit counter.  In
 * quorum mode it is also not acknowledged: as sync_guard.c does for a
 * cancelled wait, nothing more is sent to the client (not even the
 * WARNING, which goes to the log) and the session ends at its next
 * interrupt check.  Must not throw: the transaction is committed.
 */
static void
fence_check_late(void)
{
	raft_time	now = 0;
	uint64		word;
	raft_time	lease;
	bool		same_lease;
	bool		withhold;

	if (!fence_checked)
		return;
	word = fence_lease_word();
	lease = raft_lease_word_until(word);
	same_lease = raft_lease_word_epoch(word) ==
		raft_lease_word_epoch(fence_word_at_check);
	/* No clock: nothing says the lease still holds. */
	if (raft_monotonic_try(&now) && same_lease && lease > now)
		return;

	pg_atomic_fetch_add_u64(&raft_shared->fence_late_commits, 1);
	withhold = raft_synchronous == RAFT_SYNC_QUORUM &&
		MyBackendType == B_BACKEND && whereToSendOutput == DestRemote;
	if (withhold)
		whereToSendOutput = DestNone;
	ereport(WARNING,
			(fence_checked_action == FENCE_PREPARE ?
			 (same_lease ?
			  errmsg("transaction prepared after this node's lease ran out") :
			  errmsg("transaction prepared after this node's lease was interrupted")) :
			 (same_lease ?
			  errmsg("write committed after this node's lease ran out") :
			  errmsg("write committed after this node's lease was interrupted")),
			 same_lease ?
			 errdetail("It passed the fence with %lld ms of lease left and completed %lld ms later.",
					   (long long) (raft_lease_word_until(fence_word_at_check) - fence_checked_at),
					   (long long) (now - fence_checked_at)) :
			 errdetail("It passed the fence with %lld ms of lease left and completed %lld ms later, "
					   "after the lease had lapsed or the term had changed (lease epoch %u, now %u).",
					   (long long) (raft_lease_word_until(fence_word_at_check) - fence_checked_at),
					   (long long) (now - fence_checked_at),
					   raft_lease_word_epoch(fence_word_at_check),
					   raft_lease_word_epoch(word)),
			 errhint("Another node may have been elected before it completed, without it: a commit slower than %s "
					 "(the synchronous wait included) is not covered by fencing.",
					 "raft_ext.fencing_headroom")));
	if (!withhold)
		return;
	ereport(LOG,
			(errmsg("terminating connection because its commit completed outside this node's lease"),
			 errdetail("The transaction is committed on this node, but another leader may have been elected "
					   "without it, so it is not acknowledged: the client sees the connection end instead."),
			 errhint("%s is %s. Check the outcome of the transaction after reconnecting.",
					 "raft_ext.synchronous", "quorum")));
	ProcDiePending = true;
	InterruptPending = true;
}

/*
 * Whether this session may write: its transaction is read-write, or its
 * default is (the next transaction will be).  A session read-only on both
 * counts reads as on a standby; any other one reads only under the lease.
 */
static inline bool
fence_session_may_write(void)
{
	return !XactReadOnly || !DefaultXactReadOnly;
}

/*
 * Keep this backend's "may write" bit (fence_sessions.c) current: at every
 * statement, exactly.
 */
static inline void
fence_note_session(void)
{
	raft_fence_session_note(fence_session_may_write());
}

/*
 * At a transaction's end: a read-write default may have been set in it
 * (SET default_transaction_read_only = off).  Only ever raises the bit: the
 * end of a transaction runs before the settings of SET LOCAL (or of a
 * rolled-back SET) are undone, so a lower value here could be wrong.
 */
static void
fence_note_session_end(void)
{
	if (!DefaultXactReadOnly)
		raft_fence_session_may_write();
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
			fence_note_session_end();
			break;
		case XACT_EVENT_ABORT:
			fence_reset();
			fence_note_session_end();
			break;
		default:
			fence_reset();
			break;
	}
}

/*
 * Whether a statement reads data the cluster replicates: a relation that
 * is not a view (a view's relations are in the range table too) and not a
 * system catalog.  Catalogs are left out on purpose: drivers and monitoring
 * read them on every connection, and a stale catalog is harmless.  A query
 * that reads no relation (SELECT raft_ext.receive(...), the status views,
 * SELECT 1) is not checked; functions that read tables do it through the
 * executor again, and are checked there.
 */
static bool
fence_reads_user_data(const List *rtable)
{
	ListCell   *lc;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && rte->relkind != RELKIND_VIEW &&
			!IsCatalogRelationOid(rte->relid))
			return true;
	}
	return false;
}

/*
 * The statement check: ERROR unless the lease runs past now (no headroom:
 * the statement takes its snapshot before this check, and a commit has its
 * own check).  One atomic read and one clock read.
 */
static inline void
fence_check_statement(FenceAction action)
{
	raft_time	lease = fence_lease_until();
	raft_time	now = raft_monotonic_now();

	if (lease <= now)
		fence_refuse(action, now, lease);
}

/*
 * ExecutorStart hook.  A statement that writes (INSERT, UPDATE, DELETE,
 * MERGE, a data-modifying CTE, SELECT ... FOR UPDATE) in a read-write
 * transaction is refused before it generates WAL while the lease is not
 * held; in a read-only transaction PostgreSQL's own check answers first.
 * A statement that reads a user relation in a session that may write is
 * refused too: such a session is linearizable, or gets an error
 * (docs/fencing.md).  The statement's snapshot was taken before this
 * hook runs, so if the lease holds now it held when the snapshot was
 * taken.  Cursors are checked when opened; FETCH reads that snapshot.
 */
static void
fence_executor_start(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;

	fence_note_session();
	if (raft_fencing && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		fence_session_may_write() && !fence_exempt && !creating_extension)
	{
		bool		writes = stmt->commandType != CMD_SELECT ||
			stmt->hasModifyingCTE || stmt->rowMarks != NIL;

		if (writes ? !XactReadOnly : fence_reads_user_data(stmt->rtable))
		{
			if (fence_applies())
				fence_check_statement(writes ? FENCE_WRITE : FENCE_READ);
		}
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

	fence_note_session();

	/*
	 * COPY of a table reads or writes without the executor (COPY of a query
	 * goes through it, and is checked there).  Other utility statements
	 * read catalog state at most, or write (refused at commit).
	 */
	if (IsA(parsetree, CopyStmt) &&
		((CopyStmt *) parsetree)->relation != NULL &&
		fence_session_may_write() && !fence_exempt && !creating_extension &&
		(!((CopyStmt *) parsetree)->is_from || !XactReadOnly) &&
		fence_applies())
		fence_check_statement(((CopyStmt *) parsetree)->is_from ?
							  FENCE_WRITE : FENCE_READ);

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

	if (status != STATUS_OK || am_walsender || MyBackendType != B_BACKEND)
		return;
	if (fence_applies())
	{
		lease = fence_lease_until();
		if (!fence_lease_held(raft_monotonic_now(), lease))
		{
			SetConfigOption("default_transaction_read_only", "on",
							PGC_SUSET, PGC_S_OVERRIDE);
			fence_session_read_only = true;
		}
	}

	/*
	 * Per-role and per-database settings come later in InitPostgres: until
	 * its first statement, a session not made read-only here counts as one
	 * that may write.  The peers' Raft connections (application_name
	 * raft_ext_<id>_<incarnation>, transport_peer.c) only call
	 * raft_ext.receive(): ending them would cut the Raft traffic, so they
	 * take no slot.
	 */
	if (port->application_name == NULL ||
		strncmp(port->application_name, "raft_ext_", strlen("raft_ext_")) != 0)
		raft_fence_session_begin(!fence_session_read_only);
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
