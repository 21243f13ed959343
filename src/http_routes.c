/*
 * http_routes.c
 *	  The HTTP endpoint's paths, with the meaning Patroni gives them, so
 *	  that existing HAProxy checks and Kubernetes probes work unchanged:
 *
 *	  /primary /leader /read-write /master /	200 on the writable primary
 *												that holds the lease
 *	  /replica[?lag=N]		200 on a streaming standby (replay lag <= N)
 *	  /read-only[?lag=N]	200 on the primary or a standby serving reads
 *	  /sync[?lag=N]		200 on a streaming standby counted in the
 *							synchronous quorum (raft_ext.synchronous =
 *							quorum, a voter)
 *	  /async[?lag=N]		200 on any other streaming standby
 *	  /health				200 when PostgreSQL accepts connections
 *	  /liveness				200 while the Raft worker runs
 *	  /readiness			200 on the primary, or a streaming standby
 *	  /cluster				every member as JSON
 *	  /history				the timeline history in the Raft log as JSON
 *	  /metrics				Prometheus text format
 *
 * Every other path is 404; every answer is computed from shared memory
 * (cluster_view.c): no path reads a file or runs SQL.
 */
#include "postgres.h"

#include <ctype.h>
#include <time.h>

#include "utils/json.h"

#include "http.h"
#include "settings.h"
#include "timeline_step.h"

/* ?lag= as bytes: a number with an optional unit (B, kB, MB, GB, TB). */
static bool
parse_lag(const char *arg, int64 *out)
{
	const char *p = arg;
	char	   *end;
	double		value;
	int64		unit = 1;

	while (isspace((unsigned char) *p))
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	errno = 0;
	value = strtod(p, &end);
	if (errno != 0 || end == p)
		return false;
	while (isspace((unsigned char) *end))
		end++;
	if (*end == '\0' || pg_strcasecmp(end, "B") == 0)
		unit = 1;
	else if (pg_strcasecmp(end, "kB") == 0)
		unit = INT64CONST(1024);
	else if (pg_strcasecmp(end, "MB") == 0)
		unit = INT64CONST(1024) * 1024;
	else if (pg_strcasecmp(end, "GB") == 0)
		unit = INT64CONST(1024) * 1024 * 1024;
	else if (pg_strcasecmp(end, "TB") == 0)
		unit = INT64CONST(1024) * 1024 * 1024 * 1024;
	else
		return false;
	if (value * (double) unit > (double) PG_INT64_MAX / 2)
		return false;
	*out = (int64) (value * (double) unit);
	return true;
}

/* An LSN as PostgreSQL prints it, JSON-quoted. */
static void
append_lsn(StringInfo out, XLogRecPtr lsn)
{
	appendStringInfo(out, "\"%X/%X\"", LSN_FORMAT_ARGS(lsn));
}

/* This node's state: the body of every health path, like Patroni's. */
static void
node_json(const RaftClusterView *view, StringInfo out)
{
	const RaftStatus *st = view->status;

	appendStringInfo(out, "{\"node_id\": %d, \"state\": \"%s\", \"role\": \"%s\"",
					 raft_node_id,
					 view->in_recovery && !view->hot_standby ? "starting" : "running",
					 raft_view_is_primary(view) ? "primary" :
					 view->in_recovery ? "replica" : "fenced");
	appendStringInfo(out, ", \"raft_role\": \"%s\", \"term\": " UINT64_FORMAT,
					 view->running ? raft_role_name(st->role) : "stopped",
					 (uint64) st->term);
	if (view->leader != RAFT_NOBODY)
		appendStringInfo(out, ", \"leader\": %u", (unsigned) view->leader);
	else
		appendStringInfoString(out, ", \"leader\": null");
	appendStringInfo(out, ", \"has_lease\": %s, \"timeline\": %u, \"lsn\": ",
					 view->has_lease ? "true" : "false", view->timeline);
	append_lsn(out, view->lsn);
	if (view->in_recovery)
	{
		appendStringInfo(out, ", \"streaming\": %s",
						 view->streaming ? "true" : "false");
		if (view->replay_lag >= 0)
			appendStringInfo(out, ", \"replay_lag\": " INT64_FORMAT, view->replay_lag);
	}
	if (st->error[0] != '\0')
	{
		appendStringInfoString(out, ", \"error\": ");
		escape_json(out, st->error);
	}
	appendStringInfoString(out, "}\n");
}

/* A member's value or JSON null. */
static void
append_text_or_null(StringInfo out, const char *key, const char *value)
{
	appendStringInfo(out, ", \"%s\": ", key);
	if (value)
		escape_json(out, value);
	else
		appendStringInfoString(out, "null");
}

/* /cluster: every member as this node knows it. */
static void
cluster_json(const RaftClusterView *view, StringInfo out)
{
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];

	raft_effective_cluster_name(cluster_name);
	appendStringInfoString(out, "{\"cluster_name\": ");
	escape_json(out, cluster_name);
	appendStringInfo(out, ", \"node_id\": %d, \"term\": " UINT64_FORMAT,
					 raft_node_id, (uint64) view->status->term);
	if (view->leader != RAFT_NOBODY)
		appendStringInfo(out, ", \"leader\": %u", (unsigned) view->leader);
	else
		appendStringInfoString(out, ", \"leader\": null");
	appendStringInfoString(out, ", \"members\": [");
	for (int i = 0; i < view->n_members; i++)
	{
		const RaftViewMember *m = &view->members[i];

		appendStringInfo(out, "%s\n  {\"id\": %u, \"self\": %s, \"address\": ",
						 i > 0 ? "," : "", (unsigned) m->id,
						 m->is_self ? "true" : "false");
		escape_json(out, m->address);
		appendStringInfo(out, ", \"voter\": %s, \"staged\": %s, \"connected\": %s",
						 m->voter ? "true" : "false",
						 m->staged ? "true" : "false",
						 m->connected ? "true" : "false");
		append_text_or_null(out, "raft_role", m->raft_role);
		append_text_or_null(out, "pg_role", m->pg_role);
		if (m->timeline != 0)
			appendStringInfo(out, ", \"timeline\": %u", m->timeline);
		else
			appendStringInfoString(out, ", \"timeline\": null");
		appendStringInfoString(out, ", \"lsn\": ");
		if (m->lsn != InvalidXLogRecPtr)
			append_lsn(out, m->lsn);
		else
			appendStringInfoString(out, "null");
		if (m->lag >= 0)
			appendStringInfo(out, ", \"lag\": " INT64_FORMAT, m->lag);
		else
			appendStringInfoString(out, ", \"lag\": null");
		if (m->last_contact_ms >= 0)
			appendStringInfo(out, ", \"last_contact_ms\": " INT64_FORMAT,
							 m->last_contact_ms);
		else
			appendStringInfoString(out, ", \"last_contact_ms\": null");
		append_text_or_null(out, "rejoin_state", m->rejoin_state);
		append_text_or_null(out, "rejoin_error", m->rejoin_error);
		append_text_or_null(out, "timeline_standing", m->timeline_standing);
		append_text_or_null(out, "slot", m->slot);
		if (m->slot_retained >= 0)
			appendStringInfo(out, ", \"slot_retained_bytes\": " INT64_FORMAT, m->slot_retained);
		else
			appendStringInfoString(out, ", \"slot_retained_bytes\": null");
		append_text_or_null(out, "logical_slots", m->logical_slots);
		appendStringInfoChar(out, '}');
	}
	appendStringInfoString(out, "\n]}\n");
}

/*
 * /history: every promotion this node's Raft log holds, oldest first, as
 * raft_ext.raft_timeline_history shows it, with the previous step's node as
 * the old primary.  Committed steps are the same on every member.
 */
static void
history_json(const RaftClusterView *view, StringInfo out)
{
	const RaftStatus *st = view->status;

	appendStringInfo(out, "{\"node_id\": %d, \"commit_index\": " UINT64_FORMAT
					 ", \"history\": [", raft_node_id, (uint64) st->commit_index);
	for (int s = 0; s < st->n_history && s < RAFT_MAX_HISTORY; s++)
	{
		const raft_timeline *step = &st->history[s];

		appendStringInfo(out, "%s\n  {\"step\": %d, \"term\": " UINT64_FORMAT,
						 s > 0 ? "," : "", s + 1, (uint64) st->history_term[s]);
		if (s > 0)
			appendStringInfo(out, ", \"old_primary\": %u", (unsigned) st->history[s - 1].node);
		else
			appendStringInfoString(out, ", \"old_primary\": null");
		appendStringInfo(out, ", \"new_primary\": %u, \"timeline\": " UINT64_FORMAT,
						 (unsigned) step->node, step->tli);
		if (step->parent != 0)
			appendStringInfo(out, ", \"parent_timeline\": " UINT64_FORMAT, step->parent);
		else
			appendStringInfoString(out, ", \"parent_timeline\": null");
		appendStringInfoString(out, ", \"lsn\": ");
		append_lsn(out, (XLogRecPtr) step->begin);
		if (step->time > 0)
		{
			time_t		secs = (time_t) (step->time / 1000);
			struct tm	tm;
			char		buf[64];

			gmtime_r(&secs, &tm);
			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
			appendStringInfo(out, ", \"time\": \"%s.%03dZ\"", buf, (int) (step->time % 1000));
		}
		else
			appendStringInfoString(out, ", \"time\": null");
		appendStringInfoString(out, ", \"reason\": ");
		escape_json(out, raft_timeline_reason_name(step->reason));
		appendStringInfo(out, ", \"committed\": %s, \"log_index\": " UINT64_FORMAT "}",
						 st->history_index[s] <= st->commit_index ? "true" : "false",
						 (uint64) st->history_index[s]);
	}
	appendStringInfoString(out, "\n]}\n");
}

/* A streaming standby within the lag limit (max_lag < 0: no limit). */
static bool
is_replica(const RaftClusterView *view, int64 max_lag)
{
	if (!view->in_recovery || !view->streaming)
		return false;
	if (max_lag >= 0 && (view->replay_lag < 0 || view->replay_lag > max_lag))
		return false;
	return true;
}

/*
 * Whether this node is one of the standbys synchronous_standby_names counts:
 * in quorum mode every voter but the primary is named.  (With
 * raft_ext.synchronous = off the setting is the administrator's, and a
 * standby cannot tell: no standby is taken for synchronous.)
 */
static bool
is_sync_member(const RaftClusterView *view)
{
	if (!raft_sync_owns_names())
		return false;
	for (int i = 0; i < view->n_members; i++)
		if (view->members[i].is_self)
			return view->members[i].voter && !view->members[i].staged;
	return false;
}

/* Whether path is one of the NULL-terminated names. */
static bool
path_is(const char *path, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(path, *names) == 0)
			return true;
	return false;
}

/* See http.h. */
void
raft_http_route(const char *path, const char *lag_arg, HttpReply *reply)
{
	static const char *const primary_paths[] =
	{"/", "/primary", "/leader", "/read-write", "/master", NULL};
	static const char *const known_paths[] =
	{"/replica", "/read-only", "/sync", "/async", "/health", "/liveness",
	 "/readiness", "/cluster", "/history", "/metrics", NULL};
	RaftClusterView *view;
	int64		max_lag = -1;
	bool		ok;

	reply->content_type = "application/json";
	if (!path_is(path, primary_paths) && !path_is(path, known_paths))
	{
		reply->status = 404;
		appendStringInfoString(&reply->body, "{\"error\": \"not found\"}\n");
		return;
	}
	if (lag_arg != NULL && !parse_lag(lag_arg, &max_lag))
	{
		reply->status = 400;
		reply->close = true;
		appendStringInfoString(&reply->body,
							   "{\"error\": \"lag must be a number of bytes, optionally with a unit (kB, MB, GB, TB)\"}\n");
		return;
	}

	view = raft_cluster_view();
	if (strcmp(path, "/metrics") == 0)
	{
		reply->status = 200;
		reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
		raft_http_metrics(view, &reply->body);
		return;
	}
	if (strcmp(path, "/cluster") == 0)
	{
		reply->status = 200;
		cluster_json(view, &reply->body);
		return;
	}
	if (strcmp(path, "/history") == 0)
	{
		reply->status = 200;
		history_json(view, &reply->body);
		return;
	}

	if (path_is(path, primary_paths))
		ok = raft_view_is_primary(view);
	else if (strcmp(path, "/replica") == 0)
		ok = is_replica(view, max_lag) && !view->has_lease;
	else if (strcmp(path, "/sync") == 0)
		ok = is_replica(view, max_lag) && !view->has_lease && is_sync_member(view);
	else if (strcmp(path, "/async") == 0)
		ok = is_replica(view, max_lag) && !view->has_lease && !is_sync_member(view);
	else if (strcmp(path, "/read-only") == 0)
		ok = raft_view_is_primary(view) ||
			(view->hot_standby && (max_lag < 0 || is_replica(view, max_lag)));
	else if (strcmp(path, "/health") == 0)
		ok = !view->in_recovery || view->hot_standby;
	else if (strcmp(path, "/liveness") == 0)
		ok = view->status->worker_running;
	else						/* /readiness */
		ok = raft_view_is_primary(view) ||
			(view->hot_standby && is_replica(view, -1));

	reply->status = ok ? 200 : 503;
	node_json(view, &reply->body);
}
