/*
 * http_worker.c
 *	  The HTTP endpoint's background worker: settings, listening sockets and
 *	  the loop that drives libmicrohttpd.
 *
 * The endpoint runs in a worker of its own, never in the Raft worker: a
 * slow or hostile HTTP client can then delay nothing but other HTTP
 * clients.  libmicrohttpd runs without threads, in its "external" mode with
 * epoll: each daemon (one per listening address) exposes one epoll file
 * descriptor, which this worker's WaitEventSet watches beside its latch; the
 * wait's timeout is MHD_get_timeout's; MHD_run then does all of the
 * daemon's work without blocking.  The worker only reads shared memory (the
 * status snapshot under a shared LWLock, as the views do): it never holds a
 * lock the Raft worker waits for.
 *
 * Against clients that hold connections open: libmicrohttpd refuses more
 * than RAFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS connections from one address,
 * and this worker gives every connection a deadline for a whole request
 * (RAFT_HTTP_REQUEST_DEADLINE_MS from accept, or from the end of the
 * previous answer).  libmicrohttpd's own timeout is an idle timeout, reset
 * by every byte, so the worker keeps the deadlines itself: libmicrohttpd
 * tells it when a connection starts, finishes an answer and closes; the
 * armed deadlines sit in one list, oldest first; the wait's timeout is cut
 * to the nearest; and a connection past it has its socket shut down, which
 * the next MHD_run sees as a hang-up and closes.  Each step is O(1) per
 * connection and nothing waits on a client.
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "clock.h"
#include "http.h"
#include "pg_compat.h"

/* One daemon per resolved listening address. */
#define HTTP_MAX_DAEMONS	16

int			raft_http_port = 0;
char	   *raft_http_listen_addresses = NULL;

PGDLLEXPORT void raft_http_main(Datum main_arg);

static struct MHD_Daemon *daemons[HTTP_MAX_DAEMONS];
static int	n_daemons = 0;
static MemoryContext request_context = NULL;

/*
 * One accepted connection, from libmicrohttpd's start notification to its
 * close notification (its socket context).  While armed it is in
 * 'deadlines'; unused, in 'free_conns'; shut down and waiting for
 * libmicrohttpd to close it, in neither.
 */
typedef struct HttpConn
{
	dlist_node	node;
	struct MHD_Connection *connection;
	raft_time	deadline;		/* monotonic ms; meaningful while armed */
	bool		armed;
} HttpConn;

/* Every deadline is loop_now + the same delay: appending keeps it sorted. */
static dlist_head deadlines = DLIST_STATIC_INIT(deadlines);
static dlist_head free_conns = DLIST_STATIC_INIT(free_conns);
/* The loop's clock, read after each wait (callbacks must not throw). */
static raft_time loop_now = 0;

/* Whether c may appear in a host name or an IPv4/IPv6 address. */
static bool
host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
		c == '_' || c == '%';
}

/*
 * Split a raft_ext.http_listen_addresses value into its entries (trimmed).
 * Returns NULL, or the reason it is invalid.
 */
static const char *
split_addresses(const char *value, List **out)
{
	const char *p = value;

	*out = NIL;
	if (value == NULL)
		return "The list is empty.";
	for (;;)
	{
		const char *start;
		const char *end;
		char	   *item;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == start)
			return "An entry is empty.";
		if (end - start > NI_MAXHOST - 1)
			return "An entry is longer than a host name may be.";
		item = pnstrdup(start, end - start);
		if (strcmp(item, "*") != 0)
		{
			for (const char *c = item; *c; c++)
				if (!host_char_ok(*c))
					return psprintf("Entry \"%s\" is not a host name or an IP address.",
									item);
		}
		*out = lappend(*out, item);
		if (*p == '\0')
			break;
		p++;
	}
	return NULL;
}

/* Check hook of raft_ext.http_listen_addresses: syntax only. */
static bool
check_listen_addresses(char **newval, void **extra, GucSource source)
{
	List	   *items;
	const char *problem = split_addresses(*newval, &items);

	if (problem != NULL)
	{
		GUC_check_errmsg("invalid value for parameter \"%s\": \"%s\"",
						 "raft_ext.http_listen_addresses", *newval ? *newval : "");
		GUC_check_errdetail("%s", problem);
		GUC_check_errhint("Give a comma-separated list of host names or IP addresses, or \"*\" for all.");
		return false;
	}
	list_free_deep(items);
	return true;
}

/* See http.h. */
void
raft_http_define_settings(void)
{
	DefineCustomIntVariable("raft_ext.http_port",
							"TCP port of raft_ext's HTTP endpoint for load balancers and monitoring.",
							"0 turns the endpoint off.",
							&raft_http_port,
							0, 0, 65535,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("raft_ext.http_listen_addresses",
							   "Addresses raft_ext's HTTP endpoint listens on.",
							   "A comma-separated list of host names or IP addresses; \"*\" means all.",
							   &raft_http_listen_addresses,
							   "localhost",
							   PGC_POSTMASTER, GUC_LIST_INPUT,
							   check_listen_addresses, NULL, NULL);
}

/* libmicrohttpd's own messages (protocol errors of clients): DEBUG1. */
static void pg_attribute_printf(2, 0)
http_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	elog(DEBUG1, "libmicrohttpd: %s", buf);
}

/* Close connection from outside libmicrohttpd: shut its socket down. */
static void
shut_connection(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);

	/* MHD_run sees the hang-up, closes the socket and notifies us. */
	if (info != NULL)
		(void) shutdown(info->connect_fd, SHUT_RDWR);
}

/* (Re)start c's deadline: a whole request from now, at the list's tail. */
static void
arm_deadline(HttpConn *c)
{
	if (c->armed)
		dlist_delete(&c->node);
	c->deadline = loop_now + RAFT_HTTP_REQUEST_DEADLINE_MS;
	c->armed = true;
	dlist_push_tail(&deadlines, &c->node);
}

/*
 * libmicrohttpd's connection notifier: a new connection gets its deadline,
 * a closed one gives its slot back.
 */
static void
http_connection_notify(void *cls, struct MHD_Connection *connection,
					   void **socket_context,
					   enum MHD_ConnectionNotificationCode toe)
{
	HttpConn   *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		*socket_context = NULL;
		if (dlist_is_empty(&free_conns))
		{
			/*
			 * Cannot happen (the pool holds every daemon's connection
			 * limit), but a connection without a deadline is refused.
			 */
			elog(DEBUG1, "no free HTTP connection slot, closing a new connection");
			shut_connection(connection);
			return;
		}
		c = dlist_container(HttpConn, node, dlist_pop_head_node(&free_conns));
		c->connection = connection;
		c->armed = false;
		arm_deadline(c);
		*socket_context = c;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
	{
		c = *socket_context;
		if (c == NULL)
			return;
		if (c->armed)
			dlist_delete(&c->node);
		c->armed = false;
		c->connection = NULL;
		dlist_push_head(&free_conns, &c->node);
		*socket_context = NULL;
	}
}

/*
 * libmicrohttpd's completion notifier: an answer has gone out whole, so a
 * kept-alive connection's next request gets a deadline of its own.
 */
static void
http_request_completed(void *cls, struct MHD_Connection *connection,
					   void **con_cls, enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *info;
	HttpConn   *c;

	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;					/* the connection is closing */
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = info != NULL ? info->socket_context : NULL;
	/* One already shut down stays so. */
	if (c != NULL && c->armed)
		arm_deadline(c);
}

/* Shut down every connection whose deadline has passed (the oldest first). */
static void
expire_connections(void)
{
	while (!dlist_is_empty(&deadlines))
	{
		HttpConn   *c = dlist_head_element(HttpConn, node, &deadlines);

		if (c->deadline > loop_now)
			break;
		dlist_delete(&c->node);
		c->armed = false;
		elog(DEBUG1, "closing an HTTP connection that did not complete a request within %d ms",
			 RAFT_HTTP_REQUEST_DEADLINE_MS);
		shut_connection(c->connection);
	}
}

/*
 * Milliseconds the loop may wait: until libmicrohttpd's next timeout or
 * the nearest deadline, and at most a second.
 */
static long
wait_timeout(void)
{
	long		timeout = 1000;

	for (int i = 0; i < n_daemons; i++)
	{
		MHD_UNSIGNED_LONG_LONG ms;

		if (MHD_get_timeout(daemons[i], &ms) == MHD_YES &&
			ms < (MHD_UNSIGNED_LONG_LONG) timeout)
			timeout = (long) ms;
	}
	if (!dlist_is_empty(&deadlines))
	{
		HttpConn   *c = dlist_head_element(HttpConn, node, &deadlines);
		raft_time	until = c->deadline - raft_monotonic_now();

		timeout = Min(timeout, Max(until, 0));
	}
	return timeout;
}

/* The pool of connection slots: every daemon's connection limit. */
static void
create_connection_pool(void)
{
	int			size = n_daemons * RAFT_HTTP_MAX_CONNECTIONS;
	HttpConn   *pool = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(HttpConn) * size);

	for (int i = 0; i < size; i++)
		dlist_push_tail(&free_conns, &pool[i].node);
}

/* Queue reply on connection. */
static enum MHD_Result
send_reply(struct MHD_Connection *connection, HttpReply *reply)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	response = MHD_create_response_from_buffer(reply->body.len, reply->body.data,
											   MHD_RESPMEM_MUST_COPY);
	if (response == NULL)
		return MHD_NO;
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
							reply->content_type);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (reply->allow)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, reply->allow);
	if (reply->close)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(connection, reply->status, response);
	MHD_destroy_response(response);
	return ret;
}

/* An error reply with a one-line JSON body. */
static void
error_reply(HttpReply *reply, int status, const char *message)
{
	reply->status = status;
	reply->content_type = "application/json";
	resetStringInfo(&reply->body);
	appendStringInfo(&reply->body, "{\"error\": \"%s\"}\n", message);
}

/* Whether the request announces a body (none of our paths takes one). */
static bool
has_body(struct MHD_Connection *connection)
{
	const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
													 MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
									MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return true;
	return length != NULL && strcmp(length, "0") != 0;
}

/*
 * libmicrohttpd's request callback.  Everything is decided on the first
 * call, from the request line and headers: no path takes a body.
 */
static enum MHD_Result
http_request(void *cls, struct MHD_Connection *connection,
			 const char *url, const char *method, const char *version,
			 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int	seen;
	MemoryContext old;
	HttpReply	reply;
	enum MHD_Result ret;

	if (*con_cls != NULL)
	{
		/* A body after a reply was queued: discard it. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = &seen;

	MemoryContextReset(request_context);
	old = MemoryContextSwitchTo(request_context);
	memset(&reply, 0, sizeof(reply));
	initStringInfo(&reply.body);

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
	{
		error_reply(&reply, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		reply.allow = "GET, HEAD";
		reply.close = true;
	}
	else if (has_body(connection))
	{
		error_reply(&reply, MHD_HTTP_BAD_REQUEST, "a GET request has no body");
		reply.close = true;
	}
	else
	{
		const char *lag = MHD_lookup_connection_value(connection,
													  MHD_GET_ARGUMENT_KIND,
													  "lag");

		/* An error here (out of memory) answers 500, never leaves MHD. */
		PG_TRY();
		{
			raft_http_route(url, lag, &reply);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(request_context);
			FlushErrorState();
			initStringInfo(&reply.body);
			error_reply(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
						"internal error");
			reply.close = true;
		}
		PG_END_TRY();
	}

	ret = send_reply(connection, &reply);
	MemoryContextSwitchTo(old);
	return ret;
}

/* Start one daemon on addr; false (with a WARNING) if it cannot listen. */
static bool
start_daemon(const char *host, const struct addrinfo *ai)
{
	struct MHD_Daemon *d;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	char		shown[NI_MAXHOST];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, shown, sizeof(shown),
					NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(shown, host, sizeof(shown));
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/*
	 * The per-address limit and the notifiers guard against clients that
	 * hold connections (see the file header); libmicrohttpd's idle timeout,
	 * set to the deadline, is a second line behind the worker's deadlines.
	 */
	d = MHD_start_daemon(flags, (uint16) raft_http_port, NULL, NULL,
						 http_request, NULL,
						 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) RAFT_HTTP_MAX_CONNECTIONS,
						 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						 (unsigned int) RAFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS,
						 MHD_OPTION_NOTIFY_CONNECTION, http_connection_notify, NULL,
						 MHD_OPTION_NOTIFY_COMPLETED, http_request_completed, NULL,
						 MHD_OPTION_CONNECTION_TIMEOUT,
						 (unsigned int) ((RAFT_HTTP_REQUEST_DEADLINE_MS + 999) / 1000),
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) RAFT_HTTP_REQUEST_MEMORY,
						 MHD_OPTION_STRICT_FOR_CLIENT, (int) 1,
						 MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		ereport(WARNING,
				(errmsg("could not listen for HTTP on %s port %d", shown, raft_http_port),
				 errdetail("libmicrohttpd could not start a daemon on this address (it may be in use)."),
				 errhint("Check %s and %s.",
						 "raft_ext.http_port", "raft_ext.http_listen_addresses")));
		return false;
	}
	daemons[n_daemons++] = d;
	ereport(LOG,
			(errmsg("raft_ext HTTP endpoint listening on %s port %d",
					shown, raft_http_port)));
	return true;
}

/* Start a daemon on every address of raft_ext.http_listen_addresses. */
static void
start_daemons(void)
{
	List	   *items;
	ListCell   *lc;
	char		port[16];
	struct sockaddr_storage seen[HTTP_MAX_DAEMONS];
	socklen_t	seen_len[HTTP_MAX_DAEMONS];
	int			n_seen = 0;

	if (split_addresses(raft_http_listen_addresses, &items) != NULL)
		elog(ERROR, "raft_ext.http_listen_addresses passed its check but does not parse");
	snprintf(port, sizeof(port), "%d", raft_http_port);

	foreach(lc, items)
	{
		const char *host = lfirst(lc);
		struct addrinfo hints;
		struct addrinfo *res;
		int			rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
		if (rc != 0)
		{
			ereport(WARNING,
					(errmsg("could not resolve HTTP listen address \"%s\": %s",
							host, gai_strerror(rc)),
					 errhint("Check %s.", "raft_ext.http_listen_addresses")));
			continue;
		}
		for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		{
			bool		dup = false;

			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			for (int i = 0; i < n_seen; i++)
				if (seen_len[i] == ai->ai_addrlen &&
					memcmp(&seen[i], ai->ai_addr, ai->ai_addrlen) == 0)
					dup = true;
			if (dup || n_seen >= HTTP_MAX_DAEMONS)
				continue;
			memcpy(&seen[n_seen], ai->ai_addr, ai->ai_addrlen);
			seen_len[n_seen++] = ai->ai_addrlen;
			start_daemon(host, ai);
		}
		freeaddrinfo(res);
	}
	if (n_daemons == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("raft_ext HTTP endpoint could not listen on any address"),
				 errdetail("%s is \"%s\", %s is %d.",
						   "raft_ext.http_listen_addresses", raft_http_listen_addresses,
						   "raft_ext.http_port", raft_http_port),
				 errhint("The worker tries again in a few seconds.")));
}

/* Stop every daemon (at exit). */
static void
stop_daemons(int code, Datum arg)
{
	for (int i = 0; i < n_daemons; i++)
		MHD_stop_daemon(daemons[i]);
	n_daemons = 0;
}

/* The worker's entry point: listen, then serve until SIGTERM. */
void
raft_http_main(Datum main_arg)
{
	WaitEventSet *set;
	WaitEvent	events[HTTP_MAX_DAEMONS + 2];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	request_context = AllocSetContextCreate(TopMemoryContext,
											"raft_ext HTTP request",
											ALLOCSET_DEFAULT_SIZES);
	on_proc_exit(stop_daemons, (Datum) 0);
	start_daemons();
	/* Before the first MHD_run: no connection is accepted until then. */
	create_connection_pool();

	set = raft_create_wait_event_set(n_daemons + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < n_daemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		if (info == NULL)
			elog(ERROR, "libmicrohttpd gave no epoll descriptor");
		AddWaitEventToSet(set, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}

	while (!ShutdownRequestPending)
	{
		(void) WaitEventSetWait(set, wait_timeout(), events, lengthof(events),
								PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		loop_now = raft_monotonic_now();
		for (int i = 0; i < n_daemons; i++)
			MHD_run(daemons[i]);

		/*
		 * After MHD_run, so that a request complete in time is answered; the
		 * hang-ups wake the next wait at once and its MHD_run closes them.
		 */
		expire_connections();
	}
	proc_exit(0);
}
