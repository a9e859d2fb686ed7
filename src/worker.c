/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The walmon background worker: it only schedules cycles (cycle.c)
 *		in walmon.database, every walmon.naptime.
 *
 * It is registered when the library is preloaded, starts once the server
 * is consistent (so it also runs on a standby, where it waits), and is
 * restarted a few seconds after it dies.  Each cycle is a transaction of
 * its own; a failed cycle is logged and recorded in shared memory, and the
 * next one runs as usual.  Nothing is held between cycles.
 *
 * The states a DBA meets are not errors, and each is logged once, when the
 * worker enters it: walmon.database does not exist (yet), the extension is
 * not installed there (yet, or any more), the server is in recovery,
 * walmon.enabled is off.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "walmon.h"

/* seconds before the postmaster restarts a worker that died */
#define WALMON_RESTART_SECONDS	5

/* the least time between a failed cycle and the next one, in ms */
#define WALMON_ERROR_PAUSE_MS	1000

/* what pg_stat_activity shows while a cycle runs */
#define WALMON_ACTIVITY		"walmon refresh"

bool		walmon_is_worker = false;

static MemoryContext walmon_cycle_context = NULL;
static uint32 walmon_wait_event = 0;

static void walmon_worker_wait(TimestampTz until);
static void walmon_worker_reload(void);
static void walmon_worker_enter(WalmonWorkerPhase phase);
static WALMON_NORETURN void walmon_worker_wait_for_database(void) WALMON_NORETURN_AFTER;
static bool walmon_worker_database_ready(void);
static bool walmon_worker_cycle(void);

/*
 * Register the worker; called from _PG_init while preloading.
 */
void
walmon_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = WALMON_RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "walmon");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "walmon_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "walmon worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "walmon");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;

	RegisterBackgroundWorker(&worker);
}

/*
 * The worker's entry point.
 */
void
walmon_worker_main(Datum main_arg)
{
	TimestampTz next_cycle;
	TimestampTz last_start = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	walmon_is_worker = true;

#ifdef WALMON_HAVE_CUSTOM_WAIT_EVENT
	walmon_wait_event = WaitEventExtensionNew("WalmonMain");
#else
	walmon_wait_event = PG_WAIT_EXTENSION;
#endif

	if (walmon_shmem_worker_attach())
		walmon_worker_wait_for_database();

	/*
	 * When walmon.database does not exist (or does not accept connections),
	 * the connection fails with FATAL; the flag tells the next incarnation
	 * to wait for the database instead.
	 */
	walmon_shmem_set_connecting(true);
	BackgroundWorkerInitializeConnection(walmon_database, NULL, 0);
	walmon_shmem_set_connecting(false);

	pgstat_report_appname("walmon");

	/* nothing the worker runs may depend on a search_path */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	walmon_cycle_context = AllocSetContextCreate(TopMemoryContext,
												 "walmon cycle",
												 ALLOCSET_DEFAULT_SIZES);

	/*
	 * Cycles are scheduled from the start of the previous one, so a reload
	 * or another wake-up does not cause an extra cycle, and a new naptime
	 * applies from the cycle that is running when it is read.
	 */
	next_cycle = GetCurrentTimestamp();
	for (;;)
	{
		/*
		 * A cancel request (pg_cancel_backend) cancels a running cycle;
		 * between cycles there is nothing to cancel, and the error it would
		 * raise here, outside any cycle, would end the worker.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			walmon_worker_reload();
			if (last_start != 0)
				next_cycle = TimestampTzPlusMilliseconds(last_start,
														 walmon_naptime);
		}

		if (GetCurrentTimestamp() >= next_cycle)
		{
			bool		failed;

			last_start = GetCurrentTimestamp();
			failed = walmon_worker_cycle();
			next_cycle = TimestampTzPlusMilliseconds(last_start, walmon_naptime);
			if (failed)
				next_cycle = Max(next_cycle,
								 TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															 WALMON_ERROR_PAUSE_MS));
			continue;
		}

		walmon_worker_wait(next_cycle);
	}
}

/*
 * Sleep until the given time, a signal or the postmaster's death.
 */
static void
walmon_worker_wait(TimestampTz until)
{
	long		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
														  until);

	if (timeout > 0)
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout,
						 walmon_wait_event);
	ResetLatch(MyLatch);
}

static void
walmon_worker_reload(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
}

/*
 * Enter a phase; log it when it is a change.
 */
static void
walmon_worker_enter(WalmonWorkerPhase phase)
{
	WalmonWorkerPhase old = walmon_shmem_set_phase(phase);

	if (old == phase)
		return;

	switch (phase)
	{
		case WALMON_PHASE_WAITING_DATABASE:
			ereport(LOG,
					(errmsg("walmon worker is waiting for database \"%s\" to be created",
							walmon_database)));
			break;
		case WALMON_PHASE_WAITING_EXTENSION:
			ereport(LOG,
					(errmsg("walmon worker is waiting for extension \"walmon\" to be created in database \"%s\"",
							walmon_database)));
			break;
		case WALMON_PHASE_RUNNING:
			ereport(LOG,
					(errmsg("walmon worker is refreshing replication slots in database \"%s\" every %d ms",
							walmon_database, walmon_naptime)));
			break;
		case WALMON_PHASE_STANDBY:
			ereport(LOG,
					(errmsg("walmon worker is waiting for the end of recovery")));
			break;
		case WALMON_PHASE_DISABLED:
			ereport(LOG,
					(errmsg("walmon worker is idle because walmon.enabled is off")));
			break;
		case WALMON_PHASE_OLD_VERSION:
			ereport(LOG,
					(errmsg("walmon worker is waiting for extension \"walmon\" to be updated in database \"%s\"",
							walmon_database),
					 errhint("Run ALTER EXTENSION walmon UPDATE.")));
			break;
		case WALMON_PHASE_STOPPED:
		case WALMON_PHASE_STARTING:
			break;
	}
}

/*
 * walmon.database does not exist: stay connected to no database (shared
 * catalogs only) and look for it every naptime.  Once it exists, exit so
 * that the postmaster starts a worker that connects to it (a process can
 * connect to one database only, once).
 */
static void
walmon_worker_wait_for_database(void)
{
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("walmon");
	walmon_worker_enter(WALMON_PHASE_WAITING_DATABASE);

	for (;;)
	{
		walmon_worker_wait(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   walmon_naptime));
		QueryCancelPending = false;		/* nothing to cancel here */
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			walmon_worker_reload();

		if (walmon_worker_database_ready())
		{
			walmon_shmem_set_database_missing(false);
			ereport(LOG,
					(errmsg("walmon worker found database \"%s\" and restarts to connect to it",
							walmon_database)));
			proc_exit(1);
		}
	}
}

/*
 * Whether walmon.database exists and accepts connections.  Without a
 * database, only the shared catalogs can be read, and only by a plain scan
 * (as autovacuum's launcher does).
 */
static bool
walmon_worker_database_ready(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	bool		ready = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (strcmp(NameStr(db->datname), walmon_database) == 0)
		{
			ready = db->datallowconn;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	return ready;
}

/*
 * Run one cycle, in a transaction of its own.  Returns true when it
 * failed.  A failure is logged, recorded for walmon_worker_status(), and
 * cleaned up as autovacuum's launcher does after an error.
 */
static bool
walmon_worker_cycle(void)
{
	volatile bool failed = false;
	bool		in_recovery = RecoveryInProgress();
	TimestampTz start;

	walmon_shmem_set_recovery(in_recovery);
	if (!walmon_enabled)
	{
		walmon_worker_enter(WALMON_PHASE_DISABLED);
		return false;
	}
	if (in_recovery)
	{
		walmon_walend_forget();
		walmon_worker_enter(WALMON_PHASE_STANDBY);
		return false;
	}

	start = GetCurrentTimestamp();

	PG_TRY();
	{
		WalmonRefreshOutcome outcome;
		int			rows;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		debug_query_string = WALMON_ACTIVITY;
		pgstat_report_activity(STATE_RUNNING, WALMON_ACTIVITY);
		MemoryContextSwitchTo(walmon_cycle_context);

		rows = walmon_cycle_run(false, false, &outcome);

		PopActiveSnapshot();
		CommitTransactionCommand();

		/* the remote servers, once the local rows are committed */
		if (outcome == WALMON_REFRESHED)
		{
			MemoryContextSwitchTo(walmon_cycle_context);
			walmon_remote_worker_cycle();
		}
		debug_query_string = NULL;
		(void) pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);

		switch (outcome)
		{
			case WALMON_REFRESHED:
				walmon_worker_enter(WALMON_PHASE_RUNNING);
				walmon_shmem_cycle_start(start);
				walmon_shmem_cycle_end(GetCurrentTimestamp(), rows);
				break;
			case WALMON_REFRESH_SKIPPED_NO_EXTENSION:
				walmon_worker_enter(WALMON_PHASE_WAITING_EXTENSION);
				break;
			case WALMON_REFRESH_SKIPPED_RECOVERY:
				walmon_worker_enter(WALMON_PHASE_STANDBY);
				break;
			case WALMON_REFRESH_SKIPPED_OLD_VERSION:
				walmon_worker_enter(WALMON_PHASE_OLD_VERSION);
				break;
			case WALMON_REFRESH_SKIPPED_BUSY:
				/* another session is refreshing right now */
				break;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		debug_query_string = NULL;
		EmitErrorReport();

		MemoryContextSwitchTo(walmon_cycle_context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		walmon_shmem_cycle_start(start);
		walmon_shmem_cycle_failed(GetCurrentTimestamp(), edata->message);
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		failed = true;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(walmon_cycle_context);

	return failed;
}
