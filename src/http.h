/*
 * http.h
 *	  The HTTP endpoint for load balancers and monitoring: its settings and
 *	  worker (http_worker.c), its paths (http_routes.c) and the Prometheus
 *	  metrics (http_metrics.c).
 */
#ifndef RAFT_HTTP_H
#define RAFT_HTTP_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "cluster_view.h"

/* Connections served at once; more wait in the listen queue. */
#define RAFT_HTTP_MAX_CONNECTIONS	200
/* An idle or slow connection is closed after this many seconds. */
#define RAFT_HTTP_CONNECTION_TIMEOUT	10
/* Bytes of one request (request line and headers) a connection may use. */
#define RAFT_HTTP_REQUEST_MEMORY	16384

extern int	raft_http_port;
extern char *raft_http_listen_addresses;

/* _PG_init: define raft_ext.http_port and raft_ext.http_listen_addresses. */
extern void raft_http_define_settings(void);

/* A response: status code, content type and body. */
typedef struct HttpReply
{
	int			status;
	const char *content_type;
	StringInfoData body;
	const char *allow;			/* the Allow header of a 405, or NULL */
	bool		close;			/* close the connection after it */
} HttpReply;

/*
 * Answer one GET (or HEAD) of 'path'; lag_arg is the ?lag= argument or NULL.
 * Never reads a file or runs SQL.  Sets reply->status (200, 503, 404, 400).
 */
extern void raft_http_route(const char *path, const char *lag_arg,
							HttpReply *reply);

/* The /metrics document, in Prometheus text format 0.0.4. */
extern void raft_http_metrics(const RaftClusterView *view, StringInfo out);

#endif							/* RAFT_HTTP_H */
