/*
 * sql_cluster.c
 *	  raft_ext.cluster(), behind the raft_cluster view: every member as this
 *	  node knows it, the same picture as the HTTP endpoint's /cluster
 *	  (both come from cluster_view.c, which says where each value is read).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"

#include "cluster_view.h"
#include "shmem.h"
#include "sql_datum.h"

PG_FUNCTION_INFO_V1(raft_ext_cluster);

#define CLUSTER_COLS 17
/* raft_ext 1.2's raft_ext.cluster() lacks slot, slot_retained_bytes and logical_slots */
#define CLUSTER_COLS_1_2 14
/* raft_ext 1.1's also timeline_standing */
#define CLUSTER_COLS_1_1 13

/* raft_ext.cluster(): one row per member. */
Datum
raft_ext_cluster(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RaftClusterView *view;

	raft_require_shared();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != CLUSTER_COLS &&
		rsinfo->setDesc->natts != CLUSTER_COLS_1_2 &&
		rsinfo->setDesc->natts != CLUSTER_COLS_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("raft_ext.cluster() has %d columns, expected %d",
						rsinfo->setDesc->natts, CLUSTER_COLS),
				 errhint("Run ALTER EXTENSION raft_ext UPDATE.")));
	view = raft_cluster_view();

	for (int m = 0; m < view->n_members; m++)
	{
		const RaftViewMember *member = &view->members[m];
		Datum		values[CLUSTER_COLS];
		bool		nulls[CLUSTER_COLS];
		int			i = 0;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = Int32GetDatum((int32) member->id);
		values[i++] = BoolGetDatum(member->is_self);
		values[i++] = CStringGetTextDatum(member->address);
		values[i++] = BoolGetDatum(member->voter);
		values[i++] = BoolGetDatum(member->connected);
		raft_text_or_null(member->raft_role, &values[i], &nulls[i]);
		i++;
		raft_text_or_null(member->pg_role, &values[i], &nulls[i]);
		i++;
		if (member->timeline != 0)
			values[i] = Int32GetDatum((int32) member->timeline);
		else
			nulls[i] = true;
		i++;
		if (member->lsn != InvalidXLogRecPtr)
			values[i] = LSNGetDatum(member->lsn);
		else
			nulls[i] = true;
		i++;
		if (member->lag >= 0)
			values[i] = Int64GetDatum(member->lag);
		else
			nulls[i] = true;
		i++;
		if (member->last_contact_ms >= 0)
			values[i] = raft_interval_datum(member->last_contact_ms);
		else
			nulls[i] = true;
		i++;
		raft_text_or_null(member->rejoin_state, &values[i], &nulls[i]);
		i++;
		raft_text_or_null(member->rejoin_error, &values[i], &nulls[i]);
		i++;
		raft_text_or_null(member->timeline_standing, &values[i], &nulls[i]);
		i++;
		raft_text_or_null(member->slot, &values[i], &nulls[i]);
		i++;
		if (member->slot_retained >= 0)
			values[i] = Int64GetDatum(member->slot_retained);
		else
			nulls[i] = true;
		i++;
		raft_text_or_null(member->logical_slots, &values[i], &nulls[i]);
		i++;
		Assert(i == CLUSTER_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
