/*
 * init.c
 *	  Loading raft_ext: settings, shared memory hooks and the workers (Raft's
 *	  and the HTTP endpoint's).
 *
 * raft_ext only works preloaded: its state lives in shared memory that must
 * be sized before the postmaster creates it, and its worker must start with
 * the postmaster (also on a hot standby, before any database is open).
 * Loading it any other way, e.g. by CREATE EXTENSION on a server without it
 * in shared_preload_libraries, fails with an error that says so.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"
#include "storage/ipc.h"

#include "pg_compat.h"
#include "settings.h"
#include "shmem.h"
#include "failover.h"
#include "rejoin.h"
#include "fencing.h"
#include "logical_slots.h"
#include "member_slots.h"
#include "sync_quorum.h"
#include "http.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* shmem_request_hook: ask for our space and lock, after earlier hooks. */
static void
raft_ext_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	raft_shmem_request();
}

/* shmem_startup_hook: attach our shared memory, after earlier hooks. */
static void
raft_ext_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	raft_shmem_startup();
}

/*
 * Register one of raft_ext's background workers, run by 'function' in this
 * library and restarted restart_time seconds after it exits.  Shared memory
 * only: it never connects to a database.  From postmaster start, so that it
 * also runs on a hot standby and during recovery.
 */
static void
register_worker(const char *function, const char *name, int restart_time)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = restart_time;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "raft_ext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", name);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/* Module load: refuse unless preloaded, then settings, hooks, workers. */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("raft_ext must be loaded via shared_preload_libraries"),
				 errhint("Add raft_ext to shared_preload_libraries and restart the server.")));

	/*
	 * Every module defines its settings before the prefix is reserved:
	 * reserving removes the placeholders of settings not yet defined, which
	 * would silently drop their values from postgresql.conf.
	 */
	raft_define_settings();
	raft_failover_define_settings();
	/* raft_ext.synchronous and its commit guard (sync_quorum.c). */
	raft_sync_define_settings();
	raft_rejoin_define_settings();
	raft_member_slots_define_settings();
	raft_logical_slots_define_settings();
	/* Settings and hooks of the commit-time fence (fencing.c). */
	raft_fencing_init();
	raft_http_define_settings();
	MarkGUCPrefixReserved("raft_ext");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = raft_ext_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = raft_ext_shmem_startup;

	/* The one worker that runs Raft. */
	register_worker("raft_worker_main", "raft_ext worker", 1);
	/*
	 * The HTTP endpoint's, unless raft_ext.http_port is 0; on a standby and
	 * during recovery too, where /health says 503.
	 */
	if (raft_http_port != 0)
		register_worker("raft_http_main", "raft_ext http", 5);
}
