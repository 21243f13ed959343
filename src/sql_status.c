/*
 * sql_status.c
 *	  raft_ext.status() and raft_ext.peers(): the functions behind the
 *	  raft_status and raft_peers views.
 *
 * Both read the snapshot the worker publishes in shared memory; neither
 * waits for the worker.  Times in the snapshot are monotonic milliseconds,
 * shown here as intervals relative to now.  The WAL position is computed in
 * the calling backend (raft_wal_position), so it is current even when the
 * worker is stopped.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"


#include "clock.h"
#include "conninfo.h"
#include "failover.h"
#include "fencing.h"
#include "rejoin.h"
#include "settings.h"
#include "shmem.h"
#include "sql_datum.h"
#include "status.h"
#include "wal_position.h"

PG_FUNCTION_INFO_V1(raft_ext_status);
PG_FUNCTION_INFO_V1(raft_ext_peers);

#define STATUS_COLS 24
/* raft_ext 1.1's raft_ext.status() lacks timeline_standing and the rest */
#define STATUS_COLS_1_1 18
/* raft_ext 1.0's also lacks rejoin_state and rejoin_error */
#define STATUS_COLS_1_0 16
#define PEERS_COLS 12
/* raft_ext 1.0's raft_ext.peers() lacks "staged", the fourth column */
#define PEERS_COLS_1_0 11
#define PEERS_STAGED_COL 3

/* 'value', or NULL when it is empty (an unset string in the snapshot). */
static const char *
nonempty(const char *value)
{
	return value[0] != '\0' ? value : NULL;
}

/* raft_ext.status(): one row describing this node. */
Datum
raft_ext_status(PG_FUNCTION_ARGS)
{
	RaftStatus *st;
	TupleDesc	tupdesc;
	Datum		values[STATUS_COLS];
	bool		nulls[STATUS_COLS];
	raft_time	now;
	raft_position pos;
	bool		running;
	int			i = 0;

	raft_require_shared();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != STATUS_COLS && tupdesc->natts != STATUS_COLS_1_1 &&
		tupdesc->natts != STATUS_COLS_1_0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft_ext.status() has %d columns, expected %d",
						tupdesc->natts, STATUS_COLS),
				 errhint("Run ALTER EXTENSION raft_ext UPDATE.")));
	tupdesc = BlessTupleDesc(tupdesc);

	st = palloc(sizeof(RaftStatus));
	raft_read_status(st);
	now = raft_monotonic_now();
	running = raft_status_running(st);
	pos = raft_wal_position();
	memset(nulls, 0, sizeof(nulls));

	/* node_id */
	if (raft_node_id != 0)
		values[i] = Int32GetDatum(raft_node_id);
	else
		nulls[i] = true;
	i++;
	/* role */
	values[i++] = CStringGetTextDatum(running ? raft_role_name(st->role) : "stopped");
	/* term */
	values[i++] = Int64GetDatum((int64) st->term);
	/* voted_for */
	if (st->voted_for != RAFT_NOBODY)
		values[i] = Int32GetDatum((int32) st->voted_for);
	else
		nulls[i] = true;
	i++;
	/* leader_id */
	if (raft_status_leader(st) != RAFT_NOBODY)
		values[i] = Int32GetDatum((int32) raft_status_leader(st));
	else
		nulls[i] = true;
	i++;
	/* has_lease, lease_remaining */
	if (running && st->role == RAFT_LEADER && st->lease_until > now)
	{
		values[i++] = BoolGetDatum(true);
		values[i++] = raft_interval_datum(st->lease_until - now);
	}
	else
	{
		values[i++] = BoolGetDatum(false);
		nulls[i++] = true;
	}
	/* commit_index, last_log_index */
	values[i++] = Int64GetDatum((int64) st->commit_index);
	values[i++] = Int64GetDatum((int64) st->last_log_index);
	/* last_contact */
	if (st->last_leader_contact != 0)
		values[i] = raft_interval_datum(Max(now - st->last_leader_contact, 0));
	else
		nulls[i] = true;
	i++;
	/* in_recovery, wal_position, timeline */
	values[i++] = BoolGetDatum(RecoveryInProgress());
	values[i++] = LSNGetDatum((XLogRecPtr) pos.minor);
	values[i++] = Int32GetDatum((int32) pos.major);
	/* leader_since */
	if (st->leader_since != 0)
		values[i] = TimestampTzGetDatum(st->leader_since);
	else
		nulls[i] = true;
	i++;
	/* transfer_target */
	if (running && st->transfer_target != RAFT_NOBODY)
		values[i] = Int32GetDatum((int32) st->transfer_target);
	else
		nulls[i] = true;
	i++;
	/* error */
	if (st->error[0] != '\0')
		values[i] = CStringGetTextDatum(st->error);
	else if (!st->worker_running)
		values[i] = CStringGetTextDatum("raft_ext worker is not running");
	else
		nulls[i] = true;
	i++;
	/* rejoin_state, rejoin_error (raft_ext.auto_rejoin, rejoin.c) */
	raft_text_or_null(nonempty(st->rejoin_state), &values[i], &nulls[i]);
	i++;
	raft_text_or_null(nonempty(st->rejoin_error), &values[i], &nulls[i]);
	i++;
	/* timeline_standing: this node's WAL against the timeline history */
	raft_text_or_null(running && st->standing != RAFT_STANDING_UNKNOWN ?
					  raft_standing_name((raft_standing) st->standing) : NULL,
					  &values[i], &nulls[i]);
	i++;
	/* primary_wait: a leader that is not the primary, why (failover.c) */
	raft_text_or_null(running && st->role == RAFT_LEADER && RecoveryInProgress() ?
					  nonempty(st->primary_wait) : NULL, &values[i], &nulls[i]);
	i++;
	/* the switches in effect: fencing, auto_promote, auto_follow, auto_rejoin */
	values[i++] = BoolGetDatum(raft_fencing);
	values[i++] = BoolGetDatum(raft_auto_promote);
	values[i++] = BoolGetDatum(raft_follow_enabled());
	values[i++] = BoolGetDatum(raft_rejoin_enabled());
	Assert(i == STATUS_COLS);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Fill st's peer list from raft_ext.peers, for when the worker has published
 * none (it is not running, or not yet): the configured members, unconnected.
 */
static void
configured_peers(RaftStatus *st)
{
	raft_membership *m = palloc(sizeof(raft_membership));
	char	   *error;

	if (raft_parse_peers(raft_peers, m, &error))
	{
		for (int i = 0; i < m->count; i++)
		{
			RaftPeerStatus *peer = &st->peers[i];

			memset(peer, 0, sizeof(RaftPeerStatus));
			peer->id = m->members[i].id;
			peer->is_self = (peer->id == (raft_id) raft_node_id);
			peer->voter = m->members[i].voter;
			peer->staged = false;
			strlcpy(peer->conninfo, m->members[i].address, RAFT_MAX_ADDRESS);
		}
		st->n_peers = m->count;
	}
	pfree(m);
}

/*
 * raft_ext.peers(): one row per member, as the worker last saw them (or as
 * configured, while the worker has published nothing).
 */
Datum
raft_ext_peers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RaftStatus *st;
	raft_time	now;
	bool		show_secrets = superuser();
	bool		is_leader;

	raft_require_shared();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != PEERS_COLS &&
		rsinfo->setDesc->natts != PEERS_COLS_1_0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft_ext.peers() has %d columns, expected %d",
						rsinfo->setDesc->natts, PEERS_COLS),
				 errhint("Run ALTER EXTENSION raft_ext UPDATE.")));

	st = palloc(sizeof(RaftStatus));
	raft_read_status(st);
	now = raft_monotonic_now();
	is_leader = raft_status_running(st) && st->role == RAFT_LEADER;
	if (st->n_peers == 0)
		configured_peers(st);

	for (int p = 0; p < st->n_peers && p < RAFT_MAX_MEMBERS; p++)
	{
		const RaftPeerStatus *peer = &st->peers[p];
		Datum		values[PEERS_COLS];
		bool		nulls[PEERS_COLS];
		int			i = 0;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = Int32GetDatum((int32) peer->id);
		values[i++] = BoolGetDatum(peer->is_self);
		values[i++] = BoolGetDatum(peer->voter);
		values[i++] = BoolGetDatum(peer->staged);
		values[i++] = CStringGetTextDatum(show_secrets ? peer->conninfo :
										  raft_conninfo_masked(peer->conninfo));
		values[i++] = BoolGetDatum(peer->connected);
		if (peer->last_contact != 0)
			values[i] = raft_interval_datum(Max(now - peer->last_contact, 0));
		else
			nulls[i] = true;
		i++;
		if (is_leader)
			values[i] = Int64GetDatum((int64) peer->match_index);
		else
			nulls[i] = true;
		i++;
		values[i++] = Int64GetDatum((int64) peer->msgs_sent);
		values[i++] = Int64GetDatum((int64) peer->msgs_received);
		values[i++] = Int64GetDatum((int64) peer->msgs_dropped);
		raft_text_or_null(nonempty(peer->last_error), &values[i], &nulls[i]);
		i++;
		Assert(i == PEERS_COLS);

		/*
		 * Until ALTER EXTENSION raft_ext UPDATE has run, the function still
		 * has 1.0's columns, without "staged": leave that one out.
		 */
		if (rsinfo->setDesc->natts == PEERS_COLS_1_0)
		{
			memmove(&values[PEERS_STAGED_COL], &values[PEERS_STAGED_COL + 1],
					sizeof(Datum) * (PEERS_COLS - PEERS_STAGED_COL - 1));
			memmove(&nulls[PEERS_STAGED_COL], &nulls[PEERS_STAGED_COL + 1],
					sizeof(bool) * (PEERS_COLS - PEERS_STAGED_COL - 1));
		}

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
