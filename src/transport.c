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

static raft_id transport_self;
static uint64 transport_incarnation;	/* sent in application_name */
static bool duplicate_reported;		/* a peer said we run twice */
static char duplicate_message[RAFT_ERROR_LEN];
static char transport_cluster[RAFT_MAX_CLUSTER_NAME + 1];
static raft_time transport_heartbeat;
static raft_time transport_election_timeout;
static MemoryContext transport_context;
static TransportPeer peers[RAFT_MAX_MEMBERS];
static bool sockets_dirty;

static void peer_close(TransportPeer *peer);
static void peer_fail(TransportPeer *peer, raft_time now, const char *fmt,...)
			pg_attribute_printf(3, 4);

/* Find the peer with 'id', or NULL. */
static TransportPeer *
peer_find(raft_id id)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		if (peers[i].in_use && peers[i].id == id)
			return &peers[i];
	}
	return NULL;
}

/*
 * Remember why the peer is unreachable, on one line: libpq's messages end
 * with a newline and put hints on indented lines of their own.
 */
static void
peer_set_error(TransportPeer *peer, const char *message)
{
	char	   *out = peer->stats.last_error;
	size_t		len = 0;
	bool		space = false;

	for (const char *p = message; *p != '\0' && len < RAFT_ERROR_LEN - 1; p++)
	{
		if (*p == '\n' || *p == '\t' || *p == ' ')
		{
			space = (len > 0);
			continue;
		}
		if (space && len < RAFT_ERROR_LEN - 2)
			out[len++] = ' ';
		space = false;
		out[len++] = *p;
	}
	out[len] = '\0';
}

/* Drop the oldest queued message; 'count' says whether it was lost. */
static void
queue_pop(TransportPeer *peer, bool count)
{
	QueuedFrame *frame = peer->queue[peer->q_head];

	peer->queue[peer->q_head] = NULL;
	peer->q_head = (peer->q_head + 1) % TRANSPORT_QUEUE_MAX;
	peer->q_count--;
	peer->q_bytes -= frame->len;
	if (count)
		peer->stats.msgs_dropped++;
	pfree(frame);
}

/* Forget everything queued for the peer, counting it as lost. */
static void
queue_clear(TransportPeer *peer)
{
	while (peer->q_count > 0)
		queue_pop(peer, true);
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
	if (!duplicate_reported)
		return false;
	strlcpy(message, duplicate_message, len);
	duplicate_reported = false;
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
	memset(peers, 0, sizeof(peers));
	sockets_dirty = true;
}

/* Make the peer table match the membership. */
void
transport_set_membership(const raft_membership *membership)
{
	/* Forget peers that left. */
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		bool		present = false;

		if (!peers[i].in_use)
			continue;
		for (int m = 0; m < membership->count; m++)
		{
			if (membership->members[m].id == peers[i].id)
				present = true;
		}
		if (!present)
		{
			peer_close(&peers[i]);
			queue_clear(&peers[i]);
			memset(&peers[i], 0, sizeof(TransportPeer));
		}
	}

	/* Add newcomers; reconnect peers whose address changed. */
	for (int m = 0; m < membership->count; m++)
	{
		const raft_member *member = &membership->members[m];
		TransportPeer *peer;

		if (member->id == transport_self)
			continue;
		peer = peer_find(member->id);
		if (peer != NULL)
		{
			if (strcmp(peer->address, member->address) != 0)
			{
				peer_close(peer);
				strlcpy(peer->address, member->address, RAFT_MAX_ADDRESS);
				peer->backoff = transport_heartbeat;
				peer->retry_at = 0;
			}
			continue;
		}
		for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
		{
			if (peers[i].in_use)
				continue;
			peer = &peers[i];
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
	sockets_dirty = true;
}

/* Encode a message and queue it for its destination. */
bool
transport_send(const raft_message *msg, raft_time now)
{
	TransportPeer *peer = peer_find(msg->to);
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
		peer_set_error(peer, psprintf("could not encode %s message: %s",
									  raft_msg_type_name(msg->type), why));
		return false;
	}
	frame->len = len;
	frame->queued_at = now;

	/* Bounded: newer messages supersede older ones. */
	while (peer->q_count > 0 &&
		   (peer->q_count >= TRANSPORT_QUEUE_MAX ||
			peer->q_bytes + len > TRANSPORT_QUEUE_BYTES))
		queue_pop(peer, true);

	peer->queue[(peer->q_head + peer->q_count) % TRANSPORT_QUEUE_MAX] = frame;
	peer->q_count++;
	peer->q_bytes += len;
	return true;
}

/* Close the peer's connection, if any, and release its descriptor. */
static void
peer_close(TransportPeer *peer)
{
	if (peer->conn != NULL)
	{
		PQfinish(peer->conn);
		ReleaseExternalFD();
		peer->conn = NULL;
		sockets_dirty = true;
	}
	peer->state = PEER_IDLE;
	peer->in_flight = false;
	peer->flushing = false;
	peer->ready_events = 0;
	peer->wait_pos = -1;
	peer->stats.connected = false;
}

/* The connection failed: record why, close it, schedule a retry. */
static void
peer_fail(TransportPeer *peer, raft_time now, const char *fmt,...)
{
	char		message[RAFT_ERROR_LEN];
	va_list		args;
	bool		was_connected = (peer->state == PEER_CONNECTED);

	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	peer_set_error(peer, message);

	/* One line per outage, not one per retry. */
	if (!peer->failure_logged)
	{
		if (was_connected)
			ereport(LOG,
					(errmsg("lost connection to node %u: %s",
							peer->id, peer->stats.last_error)));
		else
			ereport(LOG,
					(errmsg("could not connect to node %u: %s",
							peer->id, peer->stats.last_error)));
		peer->failure_logged = true;
	}

	peer_close(peer);
	peer->retry_at = now + peer->backoff;
	peer->backoff = Min(peer->backoff * 2, transport_election_timeout);
}

/* Notices from peers (there should be none) go to the log at DEBUG1. */
static void
transport_notice_receiver(void *arg, const PGresult *res)
{
	TransportPeer *peer = (TransportPeer *) arg;

	ereport(DEBUG1,
			(errmsg_internal("notice from node %u: %s",
							 peer->id, PQresultErrorMessage(res))));
}

/* Start a nonblocking connection attempt to the peer. */
static void
peer_connect(TransportPeer *peer, raft_time now)
{
	const char *keywords[10];
	const char *values[10];
	char		application_name[NAMEDATALEN];
	char		connect_timeout[16];
	char		keepalives_idle[16];
	int			n = 0;

	/* receive.c reads the incarnation back: see check_incarnation there. */
	snprintf(application_name, sizeof(application_name), "raft_ext_%u_%016llX",
			 transport_self, (unsigned long long) transport_incarnation);
	/* libpq counts whole seconds, and treats less than 2 as 2. */
	snprintf(connect_timeout, sizeof(connect_timeout), "%d",
			 (int) Max(2, (transport_election_timeout + 999) / 1000));
	snprintf(keepalives_idle, sizeof(keepalives_idle), "%d",
			 (int) Max(1, transport_election_timeout / 1000));

	/*
	 * Our defaults come before the conninfo so that the administrator's
	 * values win; application_name comes last so that peers can always tell
	 * raft_ext connections apart.
	 */
	keywords[n] = "connect_timeout";
	values[n++] = connect_timeout;
	keywords[n] = "keepalives";
	values[n++] = "1";
	keywords[n] = "keepalives_idle";
	values[n++] = keepalives_idle;
	keywords[n] = "keepalives_interval";
	values[n++] = "1";
	keywords[n] = "keepalives_count";
	values[n++] = "3";
	keywords[n] = "dbname";
	values[n++] = peer->address;
	keywords[n] = "application_name";
	values[n++] = application_name;
	keywords[n] = NULL;
	values[n] = NULL;

	if (!AcquireExternalFD())
	{
		peer_fail(peer, now, "too many open files on the local server");
		return;
	}
	peer->conn = PQconnectStartParams(keywords, values, 1);
	if (peer->conn == NULL)
	{
		ReleaseExternalFD();
		peer_fail(peer, now, "out of memory");
		return;
	}
	sockets_dirty = true;
	if (PQstatus(peer->conn) == CONNECTION_BAD)
	{
		peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}
	PQsetNoticeReceiver(peer->conn, transport_notice_receiver, peer);
	peer->state = PEER_CONNECTING;
	/* Per PQconnectPoll's contract, first wait for the socket to be writable. */
	peer->poll_status = PGRES_POLLING_WRITING;
	peer->connect_deadline = now + Max(2 * transport_election_timeout, 1000);
	peer->ready_events = 0;
}

/* Advance a connection attempt when its socket is ready. */
static void
peer_continue_connect(TransportPeer *peer, raft_time now)
{
	uint32		wanted;

	if (now >= peer->connect_deadline)
	{
		peer_fail(peer, now, "connection attempt timed out");
		return;
	}
	wanted = (peer->poll_status == PGRES_POLLING_READING) ?
		WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
	if ((peer->ready_events & wanted) == 0)
		return;

	/* libpq may switch sockets while it tries addresses: rebuild the set. */
	sockets_dirty = true;
	peer->poll_status = PQconnectPoll(peer->conn);
	if (peer->poll_status == PGRES_POLLING_FAILED)
	{
		peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}
	if (peer->poll_status != PGRES_POLLING_OK)
		return;

	if (PQsetnonblocking(peer->conn, 1) != 0)
	{
		peer_fail(peer, now, "could not set nonblocking mode: %s",
				  PQerrorMessage(peer->conn));
		return;
	}
	peer->state = PEER_CONNECTED;
	peer->stats.connected = true;
	peer->backoff = transport_heartbeat;
	peer->in_flight = false;
	peer->flushing = false;
	if (peer->failure_logged)
		ereport(LOG,
				(errmsg("connected to node %u", peer->id)));
	peer->failure_logged = false;
	peer->stats.last_error[0] = '\0';
}

/* Pack queued messages into one envelope and send it as a query. */
static void
peer_send_batch(TransportPeer *peer, raft_time now)
{
	size_t		header = raft_envelope_header_size(transport_cluster);
	size_t		total = header;
	size_t		len = 0;
	int			n = 0;
	uint8	   *buf;
	const char *why = NULL;
	Oid			types[1] = {BYTEAOID};
	const char *values[1];
	int			lengths[1];
	int			formats[1] = {1};

	/* At least one message, however large; then as many as fit. */
	while (n < peer->q_count && n < TRANSPORT_BATCH)
	{
		QueuedFrame *frame = peer->queue[(peer->q_head + n) % TRANSPORT_QUEUE_MAX];

		if (n > 0 && total + frame->len > TRANSPORT_ENVELOPE_MAX)
			break;
		total += frame->len;
		n++;
	}

	buf = MemoryContextAlloc(transport_context, total);
	if (raft_envelope_encode_header(transport_cluster, transport_self, peer->id,
									(uint32) n, buf, total, &len, &why) != RAFT_OK)
	{
		pfree(buf);
		for (int i = 0; i < n; i++)
			queue_pop(peer, true);
		peer_set_error(peer, psprintf("could not encode envelope: %s", why));
		return;
	}
	for (int i = 0; i < n; i++)
	{
		QueuedFrame *frame = peer->queue[peer->q_head];

		memcpy(buf + len, frame->data, frame->len);
		len += frame->len;
		queue_pop(peer, false);
	}

	values[0] = (const char *) buf;
	lengths[0] = (int) len;
	if (!PQsendQueryParams(peer->conn, TRANSPORT_QUERY, 1, types, values,
						   lengths, formats, 0))
	{
		pfree(buf);
		peer->stats.msgs_dropped += n;
		peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}
	pfree(buf);
	peer->stats.msgs_sent += n;
	peer->in_flight = true;
	peer->query_deadline = now + 2 * transport_election_timeout;
	peer->flushing = true;
}

/* Read whatever the peer sent; collect finished results. */
static void
peer_read(TransportPeer *peer, raft_time now)
{
	bool		refused = false;

	if ((peer->ready_events & WL_SOCKET_READABLE) != 0 || peer->in_flight)
	{
		if (PQconsumeInput(peer->conn) == 0)
		{
			peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
			return;
		}
	}

	while (peer->in_flight && !PQisBusy(peer->conn))
	{
		PGresult   *res = PQgetResult(peer->conn);

		if (res == NULL)
		{
			peer->in_flight = false;
			break;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
			PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			const char *severity =
				PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

			const char *sqlstate =
				PQresultErrorField(res, PG_DIAG_SQLSTATE);

			peer_set_error(peer, PQresultErrorMessage(res));
			/* receive.c: another process sends as our node id. */
			if (sqlstate != NULL && strcmp(sqlstate, "42710") == 0 &&
				!duplicate_reported)
			{
				duplicate_reported = true;
				snprintf(duplicate_message, sizeof(duplicate_message),
						 "node %u: %s", peer->id, peer->stats.last_error);
			}
			/* A FATAL (the peer's server going away) ends the session. */
			if (severity != NULL &&
				(strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
			{
				PQclear(res);
				peer_fail(peer, now, "%s", peer->stats.last_error);
				return;
			}
			refused = true;
		}
		else
			peer->refusal_logged = false;
		PQclear(res);
	}

	if (PQstatus(peer->conn) == CONNECTION_BAD)
	{
		peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}

	/*
	 * The peer refused the batch (no extension there, no privilege, another
	 * cluster name).  The connection stays: the next batch may fare better
	 * once the peer is fixed.  Log once per run of refusals.
	 */
	if (refused && !peer->refusal_logged)
	{
		ereport(LOG,
				(errmsg("node %u refused messages: %s",
						peer->id, peer->stats.last_error)));
		peer->refusal_logged = true;
	}
}

/* Push pending output; remember whether more remains. */
static void
peer_flush(TransportPeer *peer, raft_time now)
{
	int			rc = PQflush(peer->conn);

	if (rc < 0)
		peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
	else
		peer->flushing = (rc == 1);
}

/* Drop queued messages too old to matter to Raft any more. */
static void
peer_expire_queue(TransportPeer *peer, raft_time now)
{
	while (peer->q_count > 0 &&
		   now - peer->queue[peer->q_head]->queued_at > transport_election_timeout)
		queue_pop(peer, true);
}

/* Drive every peer one step. */
void
transport_poll(raft_time now)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &peers[i];

		if (!peer->in_use)
			continue;
		peer_expire_queue(peer, now);

		if (peer->state == PEER_IDLE && now >= peer->retry_at)
			peer_connect(peer, now);
		else if (peer->state == PEER_CONNECTING)
			peer_continue_connect(peer, now);

		if (peer->state == PEER_CONNECTED)
		{
			peer_read(peer, now);
			if (peer->state == PEER_CONNECTED && peer->in_flight &&
				now >= peer->query_deadline)
				peer_fail(peer, now, "no answer within %d ms",
						  (int) (2 * transport_election_timeout));
			if (peer->state == PEER_CONNECTED && !peer->in_flight &&
				peer->q_count > 0)
				peer_send_batch(peer, now);
			if (peer->state == PEER_CONNECTED && peer->flushing)
				peer_flush(peer, now);
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
		TransportPeer *peer = &peers[i];
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
	return sockets_dirty;
}

/* Register every open socket in a freshly built wait set. */
void
transport_add_wait_events(WaitEventSet *set)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &peers[i];
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
	sockets_dirty = false;
}

/* Adjust the events watched on sockets already in the set. */
void
transport_update_wait_events(WaitEventSet *set)
{
	for (int i = 0; i < RAFT_MAX_MEMBERS; i++)
	{
		TransportPeer *peer = &peers[i];
		uint32		events;

		if (!peer->in_use || peer->wait_pos < 0)
			continue;
		events = peer_wanted_events(peer);
		if (events == 0)
		{
			/* The socket went away without a close: rebuild next time. */
			sockets_dirty = true;
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
	TransportPeer *peer = peer_find(from);

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
	TransportPeer *peer = peer_find(id);

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
		if (!peers[i].in_use)
			continue;
		peer_close(&peers[i]);
		queue_clear(&peers[i]);
		peers[i].in_use = false;
	}
	if (transport_context != NULL)
		MemoryContextReset(transport_context);
	sockets_dirty = true;
}
