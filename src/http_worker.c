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
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

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

	d = MHD_start_daemon(flags, (uint16) raft_http_port, NULL, NULL,
						 http_request, NULL,
						 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) RAFT_HTTP_MAX_CONNECTIONS,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) RAFT_HTTP_CONNECTION_TIMEOUT,
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
		long		timeout = 1000;

		for (int i = 0; i < n_daemons; i++)
		{
			MHD_UNSIGNED_LONG_LONG ms;

			if (MHD_get_timeout(daemons[i], &ms) == MHD_YES && (long) ms < timeout)
				timeout = (long) ms;
		}
		(void) WaitEventSetWait(set, timeout, events, lengthof(events),
								PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		for (int i = 0; i < n_daemons; i++)
			MHD_run(daemons[i]);
	}
	proc_exit(0);
}
