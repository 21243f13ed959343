/*
 * transport.c
 *	  Outgoing libpq connections from the raft_ext worker to its peers.
 *
 * Each peer has one connection, a small state machine (idle, connecting,
 * connected) and a bounded queue of encoded messages.  At most one query is
 * in flight per peer: "SELECT raft_ext.receive($1)" with one binary bytea
 * parameter holding an envelope of up to TRANSPORT_BATCH messages.  Raft
 * tolerates lost messages, so when something goes wrong the transport drops
 * rather than waits: a full queue loses its oldest message, a message older
 * than an election timeout is discarded unsent, and a connection that fails,
 * or whose query gets no answer in time, is closed and reopened later with
 * exponential backoff.
 *
 * Every libpq call made here returns without waiting: the connection is
 * nonblocking, PQconnectPoll is called only when the socket is ready for what
 * it asked, and PQgetResult only once PQisBusy says the result is complete.
 * libpq's own connect_timeout is enforced only by its blocking functions,
 * so the transport keeps its own deadlines.
 *
 * This file keeps the peer table, the queues, the deadlines and the wait
 * set; one peer's queue and connection (connect, send a batch, read the
 * result, close, fail with backoff) are transport_peer.c.
 *
 * Known limit: a host name in a peer's conninfo is resolved synchronously by
 * PQconnectStartParams; use hostaddr, or a resolver that answers quickly.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "libpq-fe.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "settings.h"
#include "shmem.h"
#include "status.h"
#include "transport.h"
#include "transport_internal.h"


/* State shared with transport_peer.c (transport_internal.h). */
raft_id		transport_self;
uint64		transport_incarnation;	/* sent in application_name */
bool		transport_duplicate_reported;	/* a peer said we run twice */
char		transport_duplicate_message[RAFT_ERROR_LEN];
char		transport_cluster[RAFT_MAX_CLUSTER_NAME + 1];
raft_time	transport_heartbeat;
raft_time	transport_election_timeout;
MemoryContext transport_context;
TransportPeer transport_peers[RAFT_MAX_MEMBERS];
bool		transport_sockets_dirty;

/* Find the peer with 'id', or NULL. */
static TransportPeer *
transport_peer_find(raft_id id)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (transport_peers[i].in_use && transport_peers[i].id == id)
			return &transport_peers[i];
	}
	return NULL;
}

/* See transport.h. */
void
transport_set_incarnation(uint64 incarnation)
{
	transport_incarnation = incarnation;
}

/* See transport.h. */
bool
transport_take_duplicate(char *message, size_t len)
{
	if (!transport_duplicate_reported)
		return false;
	strlcpy(message, transport_duplicate_message, len);
	transport_duplicate_reported = false;
	return true;
}

/* Set up for this node; called once per (re)start of Raft in the worker. */
void
transport_init(raft_id self, const char *cluster_name,
			   raft_time heartbeat_interval, raft_time election_timeout)
{
	transport_shutdown();
	if (transport_context == NULL)
		transport_context = AllocSetContextCreate(TopMemoryContext,
												  "raft_ext transport",
												  ALLOCSET_DEFAULT_SIZES);
	transport_self = self;
	strlcpy(transport_cluster, cluster_name, sizeof(transport_cluster));
	transport_heartbeat = Max(heartbeat_interval, 1);
	transport_election_timeout = Max(election_timeout, transport_heartbeat);
	memset(transport_peers, 0, sizeof(transport_peers));
	transport_sockets_dirty = true;
}

/* Make the peer table match the membership. */
void
transport_set_membership(const raft_membership *membership)
{
	/* Forget peers that left. */
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		bool		present = false;

		if (!transport_peers[i].in_use)
			continue;
		for (int m = 0; m < membership->count; m++)
		{
			if (membership->members[m].id == transport_peers[i].id)
				present = true;
		}
		if (!present)
		{
			transport_peer_close(&transport_peers[i]);
			transport_queue_clear(&transport_peers[i]);
			memset(&transport_peers[i], 0, sizeof(TransportPeer));
		}
	}

	/* Add newcomers; reconnect peers whose address changed. */
	for (int m = 0; m < membership->count; m++)
	{
		const raft_member *member = &membership->members[m];
		TransportPeer *peer;

		if (member->id == transport_self)
			continue;
		peer = transport_peer_find(member->id);
		if (peer != NULL)
		{
			if (strcmp(peer->address, member->address) != 0)
			{
				transport_peer_close(peer);
				strlcpy(peer->address, member->address, RAFT_MAX_ADDRESS);
				peer->backoff = transport_heartbeat;
				peer->retry_at = 0;
			}
			continue;
		}
		for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
		{
			if (transport_peers[i].in_use)
				continue;
			peer = &transport_peers[i];
			memset(peer, 0, sizeof(TransportPeer));
			peer->in_use = true;
			peer->id = member->id;
			strlcpy(peer->address, member->address, RAFT_MAX_ADDRESS);
			peer->state = PEER_IDLE;
			peer->backoff = transport_heartbeat;
			peer->retry_at = 0;
			peer->wait_pos = -1;
			break;
		}
	}
	transport_sockets_dirty = true;
}

/* Encode a message and queue it for its destination. */
bool
transport_send(const raft_message *msg, raft_time now)
{
	TransportPeer *peer = transport_peer_find(msg->to);
	QueuedFrame *frame;
	size_t		cap;
	size_t		len = 0;
	const char *why = NULL;

	if (peer == NULL)
		return false;

	/* Tests cut links with a mask; one bool test when that is off. */
	if (raft_fault_injection && msg->to >= 1 && msg->to <= 64 &&
		(raft_shared->fault_drop_to & (UINT64CONST(1) << (msg->to - 1))) != 0)
	{
		peer->stats.msgs_dropped++;
		return false;
	}

	cap = sizeof(uint32) + raft_message_encoded_size(msg);
	frame = MemoryContextAlloc(transport_context,
							   offsetof(QueuedFrame, data) + cap);
	if (raft_envelope_append(msg, frame->data, cap, &len, &why) != RAFT_OK)
	{
		pfree(frame);
		peer->stats.msgs_dropped++;
		transport_peer_set_error(peer, psprintf("could not encode %s message: %s",
									  raft_msg_type_name(msg->type), why));
		return false;
	}
	frame->len = len;
	frame->queued_at = now;

	/* Bounded: newer messages supersede older ones. */
	while (peer->q_count > 0 &&
		   (peer->q_count >= TRANSPORT_QUEUE_MAX ||
			peer->q_bytes + len > TRANSPORT_QUEUE_BYTES))
		transport_queue_pop(peer, true);

	peer->queue[(peer->q_head + peer->q_count) % TRANSPORT_QUEUE_MAX] = frame;
	peer->q_count++;
	peer->q_bytes += len;
	return true;
}

/* Drop queued messages too old to matter to Raft any more. */
static void
peer_expire_queue(TransportPeer *peer, raft_time now)
{
	while (peer->q_count > 0 &&
		   now - peer->queue[peer->q_head]->queued_at > transport_election_timeout)
		transport_queue_pop(peer, true);
}

/* Drive every peer one step. */
void
transport_poll(raft_time now)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &transport_peers[i];

		if (!peer->in_use)
			continue;
		peer_expire_queue(peer, now);

		if (peer->state == PEER_IDLE && now >= peer->retry_at)
			transport_peer_connect(peer, now);
		else if (peer->state == PEER_CONNECTING)
			transport_peer_continue_connect(peer, now);

		if (peer->state == PEER_CONNECTED)
		{
			transport_peer_read(peer, now);
			if (peer->state == PEER_CONNECTED && peer->in_flight &&
				now >= peer->query_deadline)
				transport_peer_fail(peer, now, "no answer within %d ms",
						  (int) (2 * transport_election_timeout));
			if (peer->state == PEER_CONNECTED && !peer->in_flight &&
				peer->q_count > 0)
				transport_peer_send_batch(peer, now);
			if (peer->state == PEER_CONNECTED && peer->flushing)
				transport_peer_flush(peer, now);
		}
		peer->ready_events = 0;
	}
}

/* Time until the earliest deadline or retry, for the worker's wait. */
long
transport_next_timeout(raft_time now)
{
	raft_time	next = -1;

	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &transport_peers[i];
		raft_time	at = -1;

		if (!peer->in_use)
			continue;
		if (peer->state == PEER_IDLE)
			at = peer->retry_at;
		else if (peer->state == PEER_CONNECTING)
			at = peer->connect_deadline;
		else if (peer->in_flight)
			at = peer->query_deadline;
		if (at >= 0 && (next < 0 || at < next))
			next = at;
	}
	if (next < 0)
		return -1;
	return (long) Max(next - now, 0);
}

/* Socket events the peer needs watched, 0 when it has no socket. */
static uint32
peer_wanted_events(TransportPeer *peer)
{
	if (peer->conn == NULL || PQsocket(peer->conn) < 0)
		return 0;
	if (peer->state == PEER_CONNECTING)
		return (peer->poll_status == PGRES_POLLING_READING) ?
			WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
	if (peer->state == PEER_CONNECTED)
		return WL_SOCKET_READABLE | (peer->flushing ? WL_SOCKET_WRITEABLE : 0);
	return 0;
}

/* Whether the worker must rebuild its wait set. */
bool
transport_sockets_changed(void)
{
	return transport_sockets_dirty;
}

/* Register every open socket in a freshly built wait set. */
void
transport_add_wait_events(WaitEventSet *set)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &transport_peers[i];
		uint32		events;

		if (!peer->in_use)
			continue;
		peer->wait_pos = -1;
		events = peer_wanted_events(peer);
		if (events == 0)
			continue;
		peer->wait_pos = AddWaitEventToSet(set, events, PQsocket(peer->conn),
										   NULL, peer);
		peer->registered_events = events;
	}
	transport_sockets_dirty = false;
}

/* Adjust the events watched on sockets already in the set. */
void
transport_update_wait_events(WaitEventSet *set)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &transport_peers[i];
		uint32		events;

		if (!peer->in_use || peer->wait_pos < 0)
			continue;
		events = peer_wanted_events(peer);
		if (events == 0)
		{
			/* The socket went away without a close: rebuild next time. */
			transport_sockets_dirty = true;
			continue;
		}
		if (events != peer->registered_events)
		{
			ModifyWaitEvent(set, peer->wait_pos, events, NULL);
			peer->registered_events = events;
		}
	}
}

/* Note that a peer's socket fired. */
void
transport_socket_ready(void *user_data, uint32 events)
{
	TransportPeer *peer = (TransportPeer *) user_data;

	if (peer != NULL && peer->in_use)
		peer->ready_events |= events;
}

/* Count messages that came from a peer through the inbox. */
void
transport_note_received(raft_id from, uint32 received, uint32 dropped,
						raft_time now)
{
	TransportPeer *peer = transport_peer_find(from);

	if (peer == NULL)
		return;
	peer->stats.msgs_received += received;
	peer->stats.msgs_dropped += dropped;
	if (received > 0)
		peer->stats.last_contact = now;
}

/* Copy out a peer's stats. */
bool
transport_peer_stats(raft_id id, TransportPeerStats *stats)
{
	TransportPeer *peer = transport_peer_find(id);

	if (peer == NULL)
		return false;
	*stats = peer->stats;
	return true;
}

/* Close every connection and free every queue. */
void
transport_shutdown(void)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (!transport_peers[i].in_use)
			continue;
		transport_peer_close(&transport_peers[i]);
		transport_queue_clear(&transport_peers[i]);
		transport_peers[i].in_use = false;
	}
	if (transport_context != NULL)
		MemoryContextReset(transport_context);
	transport_sockets_dirty = true;
}
