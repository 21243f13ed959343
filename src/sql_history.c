/*
 * sql_history.c
 *	  raft_ext.timeline_history(), behind the raft_timeline_history view:
 *	  the timeline history that this node's Raft log holds, one row per
 *	  step (which node promoted to which timeline, in which term, where it
 *	  forked, when and why), and whether the step is committed.
 *
 * The steps come from the worker's status snapshot (it copies them out of
 * the engine); the same on every member once committed, since they are
 * entries of the replicated log.  A node keeps the newest
 * RAFT_MAX_HISTORY steps.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "shmem.h"
#include "sql_datum.h"
#include "status.h"
#include "timeline_step.h"

PG_FUNCTION_INFO_V1(raft_ext_timeline_history);

#define HISTORY_COLS 10

/* raft_ext.timeline_history(): one row per step, oldest first. */
Datum
raft_ext_timeline_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RaftStatus *st;

	raft_require_shared();
	InitMaterializedSRF(fcinfo, 0);
	st = palloc(sizeof(RaftStatus));
	raft_read_status(st);

	for (int s = 0; s < st->n_history; s++)
	{
		const raft_timeline *step = &st->history[s];
		Datum		values[HISTORY_COLS];
		bool		nulls[HISTORY_COLS];
		int			i = 0;

		memset(nulls, 0, sizeof(nulls));
		/* step: its place in the history this node keeps */
		values[i++] = Int32GetDatum(s + 1);
		values[i++] = Int64GetDatum((int64) st->history_term[s]);
		values[i++] = Int32GetDatum((int32) step->node);
		values[i++] = Int32GetDatum((int32) step->tli);
		if (step->parent != 0)
			values[i] = Int32GetDatum((int32) step->parent);
		else
			nulls[i] = true;
		i++;
		values[i++] = LSNGetDatum((XLogRecPtr) step->begin);
		if (step->time != 0)
			values[i] = TimestampTzGetDatum(
				time_t_to_timestamptz((pg_time_t) (step->time / 1000)) +
				(step->time % 1000) * 1000);
		else
			nulls[i] = true;
		i++;
		values[i++] = CStringGetTextDatum(raft_timeline_reason_name(step->reason));
		values[i++] = BoolGetDatum(st->history_index[s] <= st->commit_index);
		values[i++] = Int64GetDatum((int64) st->history_index[s]);
		Assert(i == HISTORY_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(st);
	return (Datum) 0;
}
