/*
 * worker_input.c
 *	  What the backends of this node hand the worker: envelopes that
 *	  raft_ext.receive() queued in the inbox, and commands (transfer,
 *	  add_node, remove_node) left in the mailbox.
 *
 * Both are taken in the worker's loop (worker.c) and handed to the engine
 * at once; neither waits for anything.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "clock.h"
#include "settings.h"
#include "shmem.h"
#include "sync_quorum.h"
#include "transport.h"
#include "worker.h"

static uint8 *inbox_buffer;				/* one envelope from the inbox */
static raft_entry decode_entries[RAFT_MAX_ENTRIES_PER_MSG];

/* Allocate the buffer an envelope is taken into (once, at worker start). */
void
worker_input_init(void)
{
	inbox_buffer = MemoryContextAlloc(TopMemoryContext, RAFT_INBOX_SIZE);
}

/*
 * Feed every envelope waiting in the inbox to the engine.  Each is stamped
 * with the clock read when it is taken, never earlier: a follower's
 * stickiness runs from when it heard the leader, and a stamp older than the
 * leader's send time would end it before the leader's lease.
 */
void
worker_drain_inbox(RaftWorker *worker)
{
	uint32		len;

	while ((len = raft_inbox_take(inbox_buffer, RAFT_INBOX_SIZE)) > 0)
	{
		raft_time	now = raft_monotonic_now();
		raft_envelope env;
		size_t		offset = 0;
		const char *why = NULL;
		raft_message msg;
		uint32		received = 0;
		int			rc;

		if (worker->node == NULL)
			continue;			/* stopped: nothing can use it */

		/* receive() checked all this; a second look costs little. */
		if (raft_envelope_decode(inbox_buffer, len, &env, &why) != RAFT_OK ||
			env.to != (raft_id) raft_node_id ||
			strcmp(env.cluster_name, worker->cluster_name) != 0)
			continue;

		if (raft_fault_injection && env.from >= 1 && env.from <= 64 &&
			(raft_shared->fault_drop_from & (UINT64CONST(1) << (env.from - 1))) != 0)
		{
			transport_note_received(env.from, 0, env.count, now);
			continue;
		}

		while ((rc = raft_envelope_next(&env, &offset, &msg, decode_entries,
										&why)) == RAFT_OK)
		{
			elog(DEBUG2, "received %s from node %u in term %llu (granted %d, refusal %d, transfer %d)",
				 raft_msg_type_name(msg.type), msg.from,
				 (unsigned long long) msg.term, msg.granted, msg.refusal,
				 msg.transfer);
			raft_receive(worker->node, &msg, now);
			received++;
		}
		transport_note_received(env.from, received,
								rc == RAFT_EINVAL ? 1 : 0, now);
	}
}

/* Carry out one command from a SQL backend and report its outcome. */
static void
worker_run_command(RaftWorker *worker, const RaftCommand *cmd, uint64 seq,
				   raft_time now)
{
	raft_change change;
	raft_index	index = 0;
	int			rc;
	bool		add;
	char		message[RAFT_ERROR_LEN];

	memset(&change, 0, sizeof(change));
	switch (cmd->kind)
	{
		case RAFT_CMD_TRANSFER:
			rc = raft_transfer_leadership(worker->node, cmd->target, now);
			if (rc == RAFT_OK)
				snprintf(message, sizeof(message),
						 "leadership transfer to node %u started", cmd->target);
			else if (rc == RAFT_EUNREACHABLE)
				snprintf(message, sizeof(message),
						 "leadership transfer to node %u refused: node %u is not responding (no answer within the election timeout of %d ms)",
						 cmd->target, cmd->target, worker->election_timeout);
			break;
		case RAFT_CMD_ADD_NODE:
		case RAFT_CMD_REMOVE_NODE:

			/*
			 * Added staged: a learner until it has caught up, then the
			 * leader promotes it.  Added as a voter at once, a node that is
			 * not up yet would count in the quorum at once, and with one
			 * member already down the primary would lose its lease.
			 */
			add = (cmd->kind == RAFT_CMD_ADD_NODE);
			change.op = add ? RAFT_CHANGE_ADD_STAGED : RAFT_CHANGE_REMOVE;
			change.id = cmd->target;
			if (add)
				strlcpy(change.address, cmd->conninfo, RAFT_MAX_ADDRESS);
			raft_sync_before_change(worker->node, &change);
			rc = raft_propose_change(worker->node, &change, &index);
			if (rc == RAFT_OK)
				snprintf(message, sizeof(message),
						 "%s node %u proposed at log index %llu%s",
						 add ? "adding" : "removing", cmd->target,
						 (unsigned long long) index,
						 add ? " (a learner until it has caught up, then a voter)" : "");
			break;
		default:
			rc = RAFT_EINVAL;
			break;
	}

	if (rc == RAFT_ENOTLEADER)
		snprintf(message, sizeof(message),
				 "node %u is not the leader (the leader is node %u)",
				 (unsigned) raft_node_id, raft_get_leader(worker->node));
	else if (rc != RAFT_OK && rc != RAFT_EUNREACHABLE)
		snprintf(message, sizeof(message), "%s", raft_strerror(rc));
	raft_command_finish(seq, rc, message);
	worker->force_publish = true;
}

/* Take pending commands; with Raft stopped, refuse them. */
void
worker_take_commands(RaftWorker *worker, raft_time now)
{
	RaftCommand cmd;
	uint64		seq;

	while (raft_command_take(&cmd, &seq))
	{
		if (worker->node == NULL)
		{
			char		message[RAFT_ERROR_LEN];

			snprintf(message, sizeof(message), "Raft is stopped on this node: %s",
					 worker->error);
			raft_command_finish(seq, RAFT_EINVAL, message);
			continue;
		}
		worker_run_command(worker, &cmd, seq, now);
	}
}
