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
#include "access/xlogrecovery.h"
#include "replication/walreceiver.h"

#include "wal_position.h"

/* Current (timeline, LSN) of this node; see wal_position.h. */
raft_position
raft_wal_position(void)
{
	raft_position position = {0, 0};

	if (!RecoveryInProgress())
	{
		/*
		 * A primary: what it has flushed, on its own timeline.  Not the
		 * insert position: WAL inserted but not flushed can have made no
		 * commit durable or acknowledged, no standby has it (WAL senders
		 * send only flushed WAL), and it may stay unflushed indefinitely
		 * (the WAL writer flushes a partly filled page only up to the last
		 * asynchronous commit), so a leadership transfer comparing a
		 * standby with the insert position could wait for a position the
		 * standby can never reach.
		 */
		TimeLineID	tli;

		position.minor = GetFlushRecPtr(&tli);
		position.major = tli;
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
