/*
 * transport_peer.c
 *	  One peer's queue and outgoing libpq connection: connect without
 *	  blocking, send one batch as "SELECT raft_ext.receive($1)", read its
 *	  result, flush, close, and fail with backoff.
 *
 * Also the two queue operations both files need.  The peer table, the
 * deadlines and the wait set are in transport.c, which drives these
 * functions from transport_poll; this file calls nothing in transport.c.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "libpq-fe.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "clock.h"
#include "settings.h"
#include "shmem.h"
#include "status.h"
#include "transport.h"
#include "transport_internal.h"

/* Drop the oldest queued message; 'count' says whether it was lost. */
void
transport_queue_pop(TransportPeer *peer, bool count)
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
void
transport_queue_clear(TransportPeer *peer)
{
	while (peer->q_count > 0)
		transport_queue_pop(peer, true);
}

/*
 * Remember why the peer is unreachable, on one line: libpq's messages end
 * with a newline and put hints on indented lines of their own.
 */
void
transport_peer_set_error(TransportPeer *peer, const char *message)
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

/* Close the peer's connection, if any, and release its descriptor. */
void
transport_peer_close(TransportPeer *peer)
{
	if (peer->conn != NULL)
	{
		PQfinish(peer->conn);
		ReleaseExternalFD();
		peer->conn = NULL;
		transport_sockets_dirty = true;
	}
	peer->state = PEER_IDLE;
	peer->in_flight = false;
	peer->flushing = false;
	peer->ready_events = 0;
	peer->wait_pos = -1;
	peer->stats.connected = false;
}

/* The connection failed: record why, close it, schedule a retry. */
void
transport_peer_fail(TransportPeer *peer, raft_time now, const char *fmt,...)
{
	char		message[RAFT_ERROR_LEN];
	va_list		args;
	bool		was_connected = (peer->state == PEER_CONNECTED);

	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	transport_peer_set_error(peer, message);

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

	transport_peer_close(peer);
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
void
transport_peer_connect(TransportPeer *peer, raft_time now)
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
	/* This machine's password file over the one the address names. */
	if (raft_passfile != NULL && raft_passfile[0] != '\0')
	{
		keywords[n] = "passfile";
		values[n++] = raft_passfile;
	}
	keywords[n] = "application_name";
	values[n++] = application_name;
	keywords[n] = NULL;
	values[n] = NULL;

	if (!AcquireExternalFD())
	{
		transport_peer_fail(peer, now, "too many open files on the local server");
		return;
	}
	peer->conn = PQconnectStartParams(keywords, values, 1);
	if (peer->conn == NULL)
	{
		ReleaseExternalFD();
		transport_peer_fail(peer, now, "out of memory");
		return;
	}
	transport_sockets_dirty = true;
	if (PQstatus(peer->conn) == CONNECTION_BAD)
	{
		transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
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
void
transport_peer_continue_connect(TransportPeer *peer, raft_time now)
{
	uint32		wanted;

	if (now >= peer->connect_deadline)
	{
		transport_peer_fail(peer, now, "connection attempt timed out");
		return;
	}
	wanted = (peer->poll_status == PGRES_POLLING_READING) ?
		WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
	if ((peer->ready_events & wanted) == 0)
		return;

	/* libpq may switch sockets while it tries addresses: rebuild the set. */
	transport_sockets_dirty = true;
	peer->poll_status = PQconnectPoll(peer->conn);
	if (peer->poll_status == PGRES_POLLING_FAILED)
	{
		transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}
	if (peer->poll_status != PGRES_POLLING_OK)
		return;

	if (PQsetnonblocking(peer->conn, 1) != 0)
	{
		transport_peer_fail(peer, now, "could not set nonblocking mode: %s",
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
void
transport_peer_send_batch(TransportPeer *peer, raft_time now)
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
			transport_queue_pop(peer, true);
		transport_peer_set_error(peer, psprintf("could not encode envelope: %s", why));
		return;
	}
	for (int i = 0; i < n; i++)
	{
		QueuedFrame *frame = peer->queue[peer->q_head];

		memcpy(buf + len, frame->data, frame->len);
		len += frame->len;
		transport_queue_pop(peer, false);
	}

	values[0] = (const char *) buf;
	lengths[0] = (int) len;
	if (!PQsendQueryParams(peer->conn, TRANSPORT_QUERY, 1, types, values,
						   lengths, formats, 0))
	{
		pfree(buf);
		peer->stats.msgs_dropped += n;
		transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
		return;
	}
	pfree(buf);
	peer->stats.msgs_sent += n;
	peer->in_flight = true;
	peer->query_deadline = now + 2 * transport_election_timeout;
	peer->flushing = true;
}

/* Read whatever the peer sent; collect finished results. */
void
transport_peer_read(TransportPeer *peer, raft_time now)
{
	bool		refused = false;

	if ((peer->ready_events & WL_SOCKET_READABLE) != 0 || peer->in_flight)
	{
		if (PQconsumeInput(peer->conn) == 0)
		{
			transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
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

			transport_peer_set_error(peer, PQresultErrorMessage(res));
			/* receive.c: another process sends as our node id. */
			if (sqlstate != NULL && strcmp(sqlstate, "42710") == 0 &&
				!transport_duplicate_reported)
			{
				transport_duplicate_reported = true;
				snprintf(transport_duplicate_message, sizeof(transport_duplicate_message),
						 "node %u: %s", peer->id, peer->stats.last_error);
			}
			/* A FATAL (the peer's server going away) ends the session. */
			if (severity != NULL &&
				(strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
			{
				PQclear(res);
				transport_peer_fail(peer, now, "%s", peer->stats.last_error);
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
		transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
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
void
transport_peer_flush(TransportPeer *peer, raft_time now)
{
	int			rc = PQflush(peer->conn);

	if (rc < 0)
		transport_peer_fail(peer, now, "%s", PQerrorMessage(peer->conn));
	else
		peer->flushing = (rc == 1);
}
