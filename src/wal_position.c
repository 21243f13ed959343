/*
 * wal_position.c
 *	  This node's WAL position, as the (timeline, LSN) pair Raft compares.
 *
 * Vote requests carry the candidate's position so that a voter can refuse a
 * candidate whose WAL is too far behind its own: electing such a node would
 * lose committed transactions when it is promoted.  Timelines fork, so a
 * position also says where its timeline begins and which timeline it
 * branched from (the timeline's history file): the engine judges positions
 * against the timeline history in the Raft log, never by timeline number
 * (src/raft/raft_history.c).  This file is where the values come from.
 */
#include "postgres.h"

#include "access/timeline.h"
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

/*
 * Where timeline 'tli' begins, the timeline it branched from and where
 * that one begins, from its history file (none for timeline 1).  Cached: a
 * timeline's ancestry never changes, and the worker asks at every turn of
 * its loop.
 */
static void
timeline_origin(TimeLineID tli, raft_position *position)
{
	static TimeLineID cached_tli = 0;
	static uint64_t cached_begin = 0;
	static uint64_t cached_parent = 0;
	static uint64_t cached_parent_begin = 0;

	if (tli != cached_tli)
	{
		List	   *history = readTimeLineHistory(tli);
		TimeLineHistoryEntry *own = linitial(history);

		cached_begin = own->begin == InvalidXLogRecPtr ? 0 : own->begin;
		cached_parent = 0;
		cached_parent_begin = 0;
		if (list_length(history) > 1)
		{
			TimeLineHistoryEntry *parent = lsecond(history);

			cached_parent = parent->tli;
			cached_parent_begin = parent->begin == InvalidXLogRecPtr ?
				0 : parent->begin;
		}
		cached_tli = tli;
		list_free_deep(history);
	}
	position->begin = cached_begin;
	position->parent = cached_parent;
	position->parent_begin = cached_parent_begin;
}

/* Current (timeline, LSN) of this node; see wal_position.h. */
raft_position
raft_wal_position(void)
{
	raft_position position = {0};

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
	if (position.major != 0)
		timeline_origin((TimeLineID) position.major, &position);
	return position;
}
