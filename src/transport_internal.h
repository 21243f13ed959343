/*
 * transport_internal.h
 *	  Private declarations shared by transport.c (peer table, deadlines,
 *	  wait set) and transport_peer.c (one peer's queue and connection);
 *	  transport.c calls transport_peer.c, never the other way.
 *	  Nothing else includes this file; the public contract is transport.h.
 */
#ifndef RAFT_TRANSPORT_INTERNAL_H
#define RAFT_TRANSPORT_INTERNAL_H

#include "libpq-fe.h"

#include "shmem.h"
#include "transport.h"

/* Most messages queued for one peer, and most bytes. */
#define TRANSPORT_QUEUE_MAX		256
#define TRANSPORT_QUEUE_BYTES	(1024 * 1024)
/* Most messages in one envelope, and the envelope's target size. */
#define TRANSPORT_BATCH			64
#define TRANSPORT_ENVELOPE_MAX	(RAFT_INBOX_SIZE / 4)

/* The one statement the transport runs on peers. */
#define TRANSPORT_QUERY "SELECT raft_ext.receive($1)"

typedef enum PeerState
{
	PEER_IDLE,					/* no connection; next attempt at retry_at */
	PEER_CONNECTING,			/* PQconnectPoll under way */
	PEER_CONNECTED				/* ready for queries */
} PeerState;

/* One encoded message, framed as raft_envelope_append frames it. */
typedef struct QueuedFrame
{
	raft_time	queued_at;
	size_t		len;
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
} QueuedFrame;

typedef struct TransportPeer
{
	bool		in_use;
	raft_id		id;
	char		address[RAFT_MAX_ADDRESS];

	PeerState	state;
	PGconn	   *conn;			/* holds one AcquireExternalFD while set */
	PostgresPollingStatusType poll_status;	/* connecting: what it waits for */
	raft_time	connect_deadline;
	raft_time	retry_at;
	raft_time	backoff;
	bool		in_flight;		/* a query awaits its result */
	raft_time	query_deadline;
	bool		flushing;		/* libpq holds unsent output */
	uint32		ready_events;	/* fired since the last poll */
	uint32		registered_events;	/* what the wait set watches */
	int			wait_pos;		/* position in the wait set, -1 none */
	bool		failure_logged; /* a failure was logged since last success */
	bool		refusal_logged; /* an error result was logged since last success */

	/* queue: ring of frames */
	QueuedFrame *queue[TRANSPORT_QUEUE_MAX];
	int			q_head;
	int			q_count;
	size_t		q_bytes;

	TransportPeerStats stats;
} TransportPeer;

extern raft_id transport_self;
extern uint64 transport_incarnation;
extern bool transport_duplicate_reported;
extern char transport_duplicate_message[RAFT_ERROR_LEN];
extern char transport_cluster[RAFT_MAX_CLUSTER_NAME + 1];
extern raft_time transport_heartbeat;
extern raft_time transport_election_timeout;
extern MemoryContext transport_context;
extern TransportPeer transport_peers[RAFT_MAX_MEMBERS];
extern bool transport_sockets_dirty;

/* transport_peer.c: one peer's queue and connection. */
extern void transport_queue_pop(TransportPeer *peer, bool count);
extern void transport_queue_clear(TransportPeer *peer);
extern void transport_peer_set_error(TransportPeer *peer, const char *message);
extern void transport_peer_close(TransportPeer *peer);
extern void transport_peer_fail(TransportPeer *peer, raft_time now,
								const char *fmt,...) pg_attribute_printf(3, 4);
extern void transport_peer_connect(TransportPeer *peer, raft_time now);
extern void transport_peer_continue_connect(TransportPeer *peer, raft_time now);
extern void transport_peer_send_batch(TransportPeer *peer, raft_time now);
extern void transport_peer_read(TransportPeer *peer, raft_time now);
extern void transport_peer_flush(TransportPeer *peer, raft_time now);

#endif							/* RAFT_TRANSPORT_INTERNAL_H */
