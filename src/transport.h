/*
 * transport.h
 *	  Outgoing libpq connections from the raft_ext worker to its peers.
 *
 * Messages are one-way.  For every peer the transport keeps one outgoing
 * connection and a bounded queue of encoded messages; when no query is in
 * flight it packs queued messages into one envelope and calls
 * raft_ext.receive() on the peer.  The peer's answers travel the same way in
 * the other direction, over the connection the peer opened to us, and arrive
 * through the shared-memory inbox, not through this module.
 *
 * Nothing here ever blocks: connections are started with
 * PQconnectStartParams and advanced with PQconnectPoll, queries are sent in
 * nonblocking mode, and results are read only after PQconsumeInput says they
 * are complete.  The worker owns the WaitEventSet; the transport tells it
 * which sockets to watch and for what, and is told which ones fired.
 *
 * Only the worker process uses this module; its state is process-local.
 */
#ifndef RAFT_TRANSPORT_H
#define RAFT_TRANSPORT_H

#include "storage/latch.h"

#include "status.h"

/* Counters and state of one peer, for the peers view. */
typedef struct TransportPeerStats
{
	bool		connected;		/* a usable connection is open */
	raft_time	last_contact;	/* monotonic ms of the last message from it */
	uint64		msgs_sent;		/* handed to the peer's server */
	uint64		msgs_received;	/* arrived from it through the inbox */
	uint64		msgs_dropped;	/* lost: queue full, too old, fault injected */
	char		last_error[RAFT_ERROR_LEN];
} TransportPeerStats;

/*
 * Set up for node 'self' of 'cluster_name'.  Timing (ms) drives reconnect
 * backoff (heartbeat_interval doubling up to election_timeout), the age at
 * which queued messages are discarded and the deadline of a query in
 * flight.
 */
extern void transport_init(raft_id self, const char *cluster_name,
						   raft_time heartbeat_interval,
						   raft_time election_timeout);

/*
 * Make the set of peers match 'membership' (self is skipped).  Peers whose
 * address changed are reconnected; removed peers are disconnected.
 */
extern void transport_set_membership(const raft_membership *membership);

/* Encode and queue one message for msg->to; false if it was dropped. */
extern bool transport_send(const raft_message *msg, raft_time now);

/*
 * Drive every peer: advance connection attempts, discard stale messages,
 * send the next envelope, flush, read results, enforce deadlines.
 */
extern void transport_poll(raft_time now);

/* Milliseconds until transport_poll has timed work to do (-1: none). */
extern long transport_next_timeout(raft_time now);

/* Number of sockets the worker's WaitEventSet must have room for. */
#define TRANSPORT_MAX_SOCKETS	RAFT_MAX_MEMBERS

/* Whether sockets appeared or went away since transport_add_wait_events. */
extern bool transport_sockets_changed(void);

/* Add every open socket to a freshly built set (user_data = the peer). */
extern void transport_add_wait_events(WaitEventSet *set);

/* Update the events wanted on sockets already in the set. */
extern void transport_update_wait_events(WaitEventSet *set);

/* A socket of the set fired: remember it for the next transport_poll. */
extern void transport_socket_ready(void *user_data, uint32 events);

/* The worker got messages from 'from' via the inbox (count, dropped). */
extern void transport_note_received(raft_id from, uint32 received,
									uint32 dropped, raft_time now);

/* Stats of peer 'id'; false if it is not a known peer. */
extern bool transport_peer_stats(raft_id id, TransportPeerStats *stats);

/* Close every connection and forget every peer. */
extern void transport_shutdown(void);

/*
 * The random incarnation of this worker process, sent in every connection's
 * application_name so that peers can tell two processes with one node id
 * apart (receive.c).  Set once, before transport_init.
 */
extern void transport_set_incarnation(uint64 incarnation);

/*
 * Whether a peer refused a batch because two processes send as this node id
 * (SQLSTATE 42710 from its receive()); if so, copy its message (which peer
 * said what) into message and forget it.
 */
extern bool transport_take_duplicate(char *message, size_t len);

#endif							/* RAFT_TRANSPORT_H */
