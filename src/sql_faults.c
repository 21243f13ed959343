/*
 * sql_faults.c
 *	  SQL functions that inject faults, for the TAP tests: cut the links
 *	  between nodes (drop masks) and arm failpoints.
 *
 * Every function refuses to run unless raft_ext.fault_injection is on (a
 * server start setting: no superuser switches it on at run time on a live
 * node), so an instance that never turns the switch on cannot be disturbed
 * through them even by a role that was granted EXECUTE.  The state
 * they set lives in shared memory (raft_ext.h: fault_drop_to,
 * fault_drop_from, fault_failpoint); the worker (worker.c, transport.c)
 * honours it only while its own copy of the switch is on, so a test cluster
 * turns the switch on in postgresql.conf.  None of this survives a restart.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "settings.h"
#include "shmem.h"
#include "faults.h"

PG_FUNCTION_INFO_V1(raft_ext_fault_drop);
PG_FUNCTION_INFO_V1(raft_ext_fault_clear);
PG_FUNCTION_INFO_V1(raft_ext_fault_failpoint);
PG_FUNCTION_INFO_V1(raft_ext_fault_state);

const char *const raft_failpoint_names[RAFT_FAILPOINT_COUNT] = {
	[RAFT_FAILPOINT_NONE] = "none",
	[RAFT_FAILPOINT_CRASH_AFTER_VOTE_PERSIST] = "crash-after-vote-persist",
	[RAFT_FAILPOINT_CRASH_MID_STATE_WRITE] = "crash-mid-state-write",
	[RAFT_FAILPOINT_FSYNC_FAIL] = "fsync-fail",
	[RAFT_FAILPOINT_STALL] = "stall",
	[RAFT_FAILPOINT_STALL_AFTER_LEASE] = "stall-after-lease",
};

/* The failpoint called name, or -1 if there is none. */
int
raft_failpoint_from_name(const char *name)
{
	for (int i = 0; i < RAFT_FAILPOINT_COUNT; i++)
	{
		if (strcmp(name, raft_failpoint_names[i]) == 0)
			return i;
	}
	return -1;
}

/* ERROR unless this backend may inject faults; then shared memory exists. */
static void
require_fault_injection(void)
{
	if (!raft_fault_injection)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fault injection is disabled"),
				 errdetail("Fault injection is a test facility."),
				 errhint("Set %s = on in postgresql.conf and restart the server (never in production).",
						 "raft_ext.fault_injection")));
	raft_require_shared();
}

/*
 * The set of node ids in a int[] as a mask, bit n-1 for node n.  A NULL
 * array is the empty set; NULL elements and ids outside 1..64 are errors.
 */
static uint64
mask_from_array(ArrayType *array, const char *argname)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint64		mask = 0;

	if (array == NULL)
		return 0;
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));

	deconstruct_array(array, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int32		id;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", argname)));
		id = DatumGetInt32(elems[i]);
		if (id < 1 || id > RAFT_FAULT_MAX_NODE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("node id %d in %s is out of range", id, argname),
					 errdetail("Fault injection can name nodes 1 to %d only.",
							   RAFT_FAULT_MAX_NODE)));
		mask |= UINT64CONST(1) << (id - 1);
	}
	return mask;
}

/* A mask as an int[] of node ids, ascending. */
static Datum
array_from_mask(uint64 mask)
{
	Datum		elems[RAFT_FAULT_MAX_NODE];
	int			n = 0;

	for (int id = 1; id <= RAFT_FAULT_MAX_NODE; id++)
	{
		if (mask & (UINT64CONST(1) << (id - 1)))
			elems[n++] = Int32GetDatum(id);
	}
	return PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32),
										   true, TYPALIGN_INT));
}

/*
 * raft_ext.fault_drop(to_nodes, from_nodes): from now on this node's worker
 * drops every message it would send to a node in to_nodes and every message
 * that arrives from a node in from_nodes.  Replaces the previous masks.
 */
Datum
raft_ext_fault_drop(PG_FUNCTION_ARGS)
{
	uint64		to_mask;
	uint64		from_mask;

	/* Arguments first: their checks are tested with the switch off. */
	to_mask = mask_from_array(PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0),
							  "to_nodes");
	from_mask = mask_from_array(PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1),
								"from_nodes");
	require_fault_injection();

	/* The worker reads the masks without the lock: each is one word. */
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->fault_drop_to = to_mask;
	raft_shared->fault_drop_from = from_mask;
	LWLockRelease(raft_shared->lock);
	PG_RETURN_VOID();
}

/* raft_ext.fault_clear(): no message dropped, no failpoint armed. */
Datum
raft_ext_fault_clear(PG_FUNCTION_ARGS)
{
	require_fault_injection();
	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->fault_drop_to = 0;
	raft_shared->fault_drop_from = 0;
	raft_shared->fault_failpoint = RAFT_FAILPOINT_NONE;
	LWLockRelease(raft_shared->lock);
	PG_RETURN_VOID();
}

/* raft_ext.fault_failpoint(name): arm one failpoint ('none' disarms). */
Datum
raft_ext_fault_failpoint(PG_FUNCTION_ARGS)
{
	char	   *name;
	int			fp;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("failpoint name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	fp = raft_failpoint_from_name(name);
	if (fp < 0)
	{
		StringInfoData known;

		initStringInfo(&known);
		for (int i = 0; i < RAFT_FAILPOINT_COUNT; i++)
			appendStringInfo(&known, "%s\"%s\"", i > 0 ? ", " : "",
							 raft_failpoint_names[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown failpoint \"%s\"", name),
				 errdetail("Known failpoints: %s.", known.data)));
	}
	require_fault_injection();

	LWLockAcquire(raft_shared->lock, LW_EXCLUSIVE);
	raft_shared->fault_failpoint = (uint32) fp;
	LWLockRelease(raft_shared->lock);
	PG_RETURN_VOID();
}

/* raft_ext.fault_state(): the drop masks and the armed failpoint. */
Datum
raft_ext_fault_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	uint64		to_mask;
	uint64		from_mask;
	uint32		fp;

	require_fault_injection();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	LWLockAcquire(raft_shared->lock, LW_SHARED);
	to_mask = raft_shared->fault_drop_to;
	from_mask = raft_shared->fault_drop_from;
	fp = raft_shared->fault_failpoint;
	LWLockRelease(raft_shared->lock);

	values[0] = array_from_mask(to_mask);
	values[1] = array_from_mask(from_mask);
	values[2] = CStringGetTextDatum(fp < RAFT_FAILPOINT_COUNT ?
									raft_failpoint_names[fp] : "unknown");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
