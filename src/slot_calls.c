/*
 * slot_calls.c
 *	  PostgreSQL's replication slot calls for the worker's loop: each runs
 *	  under PG_TRY, and a failure is logged and returned as false, so that
 *	  a slot that cannot be made or dropped (max_replication_slots used up,
 *	  a slot in use meanwhile) never stops Raft.
 */
#include "postgres.h"

#include "replication/slot.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#include "pg_compat.h"
#include "slot_calls.h"

/* Undo what a failed slot call left held, after its error was taken. */
static void
after_slot_error(MemoryContext context, const char *what, const char *kind, const char *name)
{
	ErrorData  *edata;

	LWLockReleaseAll();
	ConditionVariableCancelSleep();
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
	MemoryContextSwitchTo(context);
	edata = CopyErrorData();
	FlushErrorState();
	ereport(LOG,
			(errmsg("could not %s the %s \"%s\": %s", what, kind, name, edata->message)));
	FreeErrorData(edata);
}

/* See slot_calls.h. */
bool
raft_slot_create_physical(const char *name, const char *kind)
{
	MemoryContext context = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		raft_replication_slot_create(name);
		ReplicationSlotReserveWal();
		ReplicationSlotMarkDirty();
		ReplicationSlotSave();
		ReplicationSlotsComputeRequiredLSN();
		ReplicationSlotRelease();
	}
	PG_CATCH();
	{
		after_slot_error(context, "create", kind, name);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* See slot_calls.h. */
bool
raft_slot_drop(const char *name, const char *kind)
{
	MemoryContext context = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		ReplicationSlotDrop(name, true);
	}
	PG_CATCH();
	{
		after_slot_error(context, "drop", kind, name);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}
