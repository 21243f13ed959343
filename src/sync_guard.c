/*
 * sync_guard.c
 *	  With raft_ext.synchronous = quorum, a commit whose wait for the
 *	  synchronous quorum was cut short is not acknowledged: the session ends
 *	  instead, so the client sees an unknown outcome, not a success.
 *
 * PostgreSQL's wait for synchronous replication happens after the commit
 * record is flushed locally.  A query cancel (pg_cancel_backend, a client's
 * cancel request, statement_timeout does not apply there) ends the wait with
 * a WARNING that the transaction "has already committed locally, but might
 * not have been replicated", and the client then gets a normal success.  In
 * quorum mode that success is a false acknowledgement: the commit is on the
 * primary alone, and a failover may lose it.  (pg_terminate_backend and
 * postmaster death already end the session without acknowledging.)
 *
 * The guard: when the transaction commits (XACT_EVENT_COMMIT, after the
 * wait), compare the end of its commit record with what the synchronous
 * standbys have confirmed (WalSndCtl->lsn for the wait mode that
 * synchronous_commit asks for).  Not confirmed while synchronous standbys
 * are defined: stop sending to the client (whereToSendOutput = DestNone,
 * so neither CommandComplete nor ReadyForQuery leaves the backend) and end
 * the session at its next interrupt check, as PostgreSQL itself does for a
 * terminate request during the wait.  Nothing can be thrown here: the
 * transaction is committed, and an ERROR or FATAL inside the commit would
 * try to abort it.
 *
 * What it does not cover: a session that asked for less
 * (synchronous_commit = local or off) gets what it asked for; two-phase
 * commit (PREPARE TRANSACTION and COMMIT PREPARED wait too, but their
 * waits are not checked here).
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"

#include "sync_quorum.h"

/* Per transaction: it has an xid, so its commit waits for the standbys. */
static bool guard_has_xid = false;

/* The wait mode a commit uses under the current synchronous_commit. */
static int
guard_wait_mode(void)
{
	switch (synchronous_commit)
	{
		case SYNCHRONOUS_COMMIT_REMOTE_WRITE:
			return SYNC_REP_WAIT_WRITE;
		case SYNCHRONOUS_COMMIT_REMOTE_APPLY:
			return SYNC_REP_WAIT_APPLY;
		default:
			return SYNC_REP_WAIT_FLUSH;
	}
}

/* Whether the synchronous standbys confirmed this transaction's commit. */
static bool
guard_commit_confirmed(void)
{
	XLogRecPtr	commit_end = XactLastCommitEnd;
	XLogRecPtr	confirmed;
	bool		defined;

	if (commit_end == InvalidXLogRecPtr || !SyncRepRequested() ||
		WalSndCtl == NULL)
		return true;
	LWLockAcquire(SyncRepLock, LW_SHARED);
#ifdef SYNC_STANDBY_DEFINED
	/* later minor releases: the flag replaced the bool */
	defined = (WalSndCtl->sync_standbys_status & SYNC_STANDBY_DEFINED) != 0;
#else
	defined = WalSndCtl->sync_standbys_defined;
#endif
	confirmed = WalSndCtl->lsn[guard_wait_mode()];
	LWLockRelease(SyncRepLock);

	/* None defined: the wait was not needed (k = 0). */
	return !defined || confirmed >= commit_end;
}

/* End the session without acknowledging the commit just made. */
static void
guard_withhold_acknowledgement(void)
{
	/* First, so that not even the message below reaches the client. */
	whereToSendOutput = DestNone;
	ereport(LOG,
			(errmsg("terminating connection because its commit at %X/%X was not confirmed by the synchronous standbys",
					LSN_FORMAT_ARGS(XactLastCommitEnd)),
			 errdetail("The wait for synchronous replication was cancelled. The transaction is committed "
					   "on this node, but a failover may lose it, so it is not acknowledged: the client "
					   "sees the connection end instead."),
			 errhint("%s is %s. Check the outcome of the transaction after reconnecting.",
					 "raft_ext.synchronous", "quorum")));
	ProcDiePending = true;
	InterruptPending = true;
}

/* Transaction callback: remember the xid before commit, check after it. */
static void
guard_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			guard_has_xid =
				TransactionIdIsValid(GetTopTransactionIdIfAny());
			break;
		case XACT_EVENT_COMMIT:
			if (guard_has_xid && raft_synchronous == RAFT_SYNC_QUORUM &&
				MyBackendType == B_BACKEND && whereToSendOutput == DestRemote &&
				!guard_commit_confirmed())
				guard_withhold_acknowledgement();
			guard_has_xid = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			guard_has_xid = false;
			break;
		default:
			break;
	}
}

/* See sync_quorum.h. */
void
raft_sync_guard_init(void)
{
	RegisterXactCallback(guard_xact_callback, NULL);
}
