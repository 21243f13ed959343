/*
 * wal_position.c
 *	  This node's WAL position, as the (timeline, LSN) pair Raft compares.
 *
 * Vote requests carry the candidate's position so that a voter can refuse a
 * candidate whose WAL is too far behind its own: electing such a node would
 * lose committed transactions when it is promoted.  The engine treats the
 * pair as an opaque ordered value; this file is where it gets its meaning.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogrecovery.h"
#include "replication/walreceiver.h"

#include "wal_position.h"

/*
 * The end of the WAL this primary has inserted.  GetXLogInsertRecPtr()
 * points past the page header when nothing has been inserted on the
 * current page yet; the WAL then ends at the page boundary, which is also
 * where a standby's received position stops (a record's end never lies
 * inside a page header).
 */
static XLogRecPtr
inserted_end(void)
{
	XLogRecPtr	ptr = GetXLogInsertRecPtr();

	if (ptr % XLOG_BLCKSZ == SizeOfXLogShortPHD ||
		ptr % wal_segment_size == SizeOfXLogLongPHD)
		ptr -= ptr % XLOG_BLCKSZ;
	return ptr;
}

/* See wal_position.h. */
void
raft_wal_flush_for_transfer(void)
{
	XLogRecPtr	end;

	if (RecoveryInProgress())
		return;
	end = inserted_end();
	if (end > GetFlushRecPtr(NULL))
		XLogFlush(end);
}

/* Current (timeline, LSN) of this node; see wal_position.h. */
raft_position
raft_wal_position(void)
{
	raft_position position = {0, 0};

	if (!RecoveryInProgress())
	{
		/*
		 * A primary: everything it inserted counts, on its own timeline.
		 * Not only what it has flushed: a commit that passed the fence may
		 * have inserted its commit record and still be flushing it, and
		 * once flushed a standby can acknowledge it.  A leadership transfer
		 * must wait for the target to have that record, so the position it
		 * compares is the insert position (raft_wal_flush_for_transfer
		 * makes sure the rest reaches the standbys).
		 */
		position.major = GetWALInsertionTimeLine();
		position.minor = inserted_end();
	}
	else
	{
		TimeLineID	received_tli = 0;
		TimeLineID	replayed_tli = 0;
		XLogRecPtr	received = GetWalRcvFlushRecPtr(NULL, &received_tli);
		XLogRecPtr	replayed = GetXLogReplayRecPtr(&replayed_tli);

		/*
		 * WAL that is flushed but not yet replayed will survive a promotion,
		 * so a standby is as far along as the greater of the two.
		 */
		if (received != InvalidXLogRecPtr && received_tli != 0 &&
			(received_tli > replayed_tli ||
			 (received_tli == replayed_tli && received > replayed)))
		{
			position.major = received_tli;
			position.minor = received;
		}
		else
		{
			position.major = replayed_tli;
			position.minor = replayed;
		}
	}
	return position;
}
