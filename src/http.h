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

/* Connections served at once (per listen address); more wait in the listen queue. */
#define RAFT_HTTP_MAX_CONNECTIONS	200

/*
 * Connections one client address may hold at once; more from it are closed
 * as soon as they are accepted.  A legitimate client needs a handful: a load
 * balancer checks each server over one connection at a time, Prometheus
 * scrapes over one, a kubelet runs its three probes; even a dozen such
 * monitors behind one NAT address stay below 20.  One address then holds at
 * most a tenth of RAFT_HTTP_MAX_CONNECTIONS, so 180 slots are always left
 * for every other address: a load balancer's checks get in while a hostile
 * or broken client holds all it may.
 */
#define RAFT_HTTP_MAX_CONNECTIONS_PER_ADDRESS	20

/*
 * Milliseconds a connection has, from accept (or from the end of its
 * previous answer, when kept alive), to deliver a complete request and take
 * its answer.  A deadline, not an idle timeout: a client trickling one byte
 * a second is closed at it all the same.  A health check sends its request
 * in one packet; 3 s leaves room for a lost packet's retransmission (TCP's
 * first retransmission timeout is 1 s) on a slow link, and bounds how long
 * one slot can be held without a complete request.
 */
#define RAFT_HTTP_REQUEST_DEADLINE_MS	3000
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
