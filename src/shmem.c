/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		walmon's shared memory: the background worker's state, read by
 *		walmon_worker_status(), and the foreign-WAL-end bookkeeping that
 *		the worker and walmon_refresh() share (walend.c).
 *
 * The area exists only when the library is preloaded.  From 15 on it is
 * requested from shmem_request_hook; before, directly from _PG_init.  One
 * LWLock of walmon's own tranche protects it.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "walmon.h"

typedef struct WalmonSharedState
{
	LWLock	   *lock;
	WalmonWorkerStatus worker;

	/*
	 * The worker set "connecting" before connecting to walmon.database and
	 * clears it once connected: found set at its next start, it means the
	 * connection failed (the database does not exist), and the worker then
	 * waits for the database instead ("database_missing").
	 */
	bool		connecting;
	bool		database_missing;

	WalmonWalEnd walend;
} WalmonSharedState;

static WalmonSharedState *walmon_shared = NULL;

#ifdef WALMON_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void walmon_shmem_request(void);
static void walmon_shmem_startup(void);
static void walmon_shmem_worker_detach(int code, Datum arg);

static Size
walmon_shmem_size(void)
{
	return MAXALIGN(sizeof(WalmonSharedState));
}

/*
 * Install the hooks; called from _PG_init while preloading.
 */
void
walmon_shmem_install(void)
{
#ifdef WALMON_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = walmon_shmem_request;
#else
	walmon_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = walmon_shmem_startup;
}

/*
 * Ask for walmon's shared memory and its LWLock.
 */
static void
walmon_shmem_request(void)
{
#ifdef WALMON_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(walmon_shmem_size());
	RequestNamedLWLockTranche("walmon", 1);
}

/*
 * Attach to (and, the first time, initialise) walmon's shared memory.
 */
static void
walmon_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	walmon_shared = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	walmon_shared = ShmemInitStruct("walmon", walmon_shmem_size(), &found);
	if (!found)
	{
		memset(walmon_shared, 0, walmon_shmem_size());
		walmon_shared->lock = &(GetNamedLWLockTranche("walmon"))->lock;
		walmon_shared->worker.phase = WALMON_PHASE_STOPPED;
		walmon_shared->walend.wal_end = InvalidXLogRecPtr;
		walmon_shared->walend.marker = InvalidXLogRecPtr;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Whether walmon is preloaded (this process sees its shared memory). */
bool
walmon_shmem_available(void)
{
	return walmon_shared != NULL;
}

/*
 * The shared foreign-WAL-end bookkeeping and its lock, or NULL when walmon
 * is not preloaded.
 */
WalmonWalEnd *
walmon_shmem_walend(LWLock **lock)
{
	if (walmon_shared == NULL)
		return NULL;
	*lock = walmon_shared->lock;
	return &walmon_shared->walend;
}

/*
 * Copy the worker's state into *status; false when not preloaded.
 */
bool
walmon_shmem_get_status(WalmonWorkerStatus *status)
{
	if (walmon_shared == NULL)
		return false;
	LWLockAcquire(walmon_shared->lock, LW_SHARED);
	memcpy(status, &walmon_shared->worker, sizeof(WalmonWorkerStatus));
	status->wal_end = walmon_shared->walend.wal_end;
	LWLockRelease(walmon_shared->lock);
	return true;
}

const char *
walmon_phase_name(WalmonWorkerPhase phase)
{
	switch (phase)
	{
		case WALMON_PHASE_STOPPED:
			return "stopped";
		case WALMON_PHASE_STARTING:
			return "starting";
		case WALMON_PHASE_WAITING_DATABASE:
			return "waiting for database";
		case WALMON_PHASE_WAITING_EXTENSION:
			return "waiting for extension";
		case WALMON_PHASE_RUNNING:
			return "running";
		case WALMON_PHASE_STANDBY:
			return "standby";
		case WALMON_PHASE_DISABLED:
			return "disabled";
		case WALMON_PHASE_OLD_VERSION:
			return "waiting for extension update";
	}
	return "unknown";
}

/*
 * The worker announces itself.  Returns true when its previous incarnation
 * could not connect to walmon.database: the worker then waits for the
 * database rather than failing again.
 */
bool
walmon_shmem_worker_attach(void)
{
	WalmonWorkerStatus *w = &walmon_shared->worker;
	bool		missing;

	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	w->pid = MyProcPid;
	w->phase = WALMON_PHASE_STARTING;
	w->started_at = GetCurrentTimestamp();
	w->last_cycle_start = 0;
	w->last_cycle_end = 0;
	w->cycles = 0;
	w->rows_written = 0;
	w->errors = 0;
	if (walmon_shared->connecting)
	{
		walmon_shared->connecting = false;
		walmon_shared->database_missing = true;
	}
	missing = walmon_shared->database_missing;
	LWLockRelease(walmon_shared->lock);

	before_shmem_exit(walmon_shmem_worker_detach, (Datum) 0);

	return missing;
}

/* On exit, the worker's pid is cleared (its last error is kept). */
static void
walmon_shmem_worker_detach(int code, Datum arg)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	if (walmon_shared->worker.pid == MyProcPid)
	{
		walmon_shared->worker.pid = 0;
		walmon_shared->worker.phase = WALMON_PHASE_STOPPED;
	}
	LWLockRelease(walmon_shared->lock);
}

/* Set the worker's phase; returns the previous one. */
WalmonWorkerPhase
walmon_shmem_set_phase(WalmonWorkerPhase phase)
{
	WalmonWorkerPhase old;

	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	old = walmon_shared->worker.phase;
	walmon_shared->worker.phase = phase;
	LWLockRelease(walmon_shared->lock);
	return old;
}

void
walmon_shmem_set_recovery(bool in_recovery)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->worker.in_recovery = in_recovery;
	LWLockRelease(walmon_shared->lock);
}

void
walmon_shmem_cycle_start(TimestampTz start)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->worker.last_cycle_start = start;
	LWLockRelease(walmon_shared->lock);
}

void
walmon_shmem_cycle_end(TimestampTz end, int rows)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->worker.last_cycle_end = end;
	walmon_shared->worker.cycles++;
	walmon_shared->worker.rows_written += rows;
	LWLockRelease(walmon_shared->lock);
}

/*
 * Copy a message into a buffer of size bytes, cut at a character boundary
 * when it is too long, so that readers get valid text.
 */
static void
walmon_copy_clipped(char *dst, const char *src, size_t size)
{
	int			len = strlen(src);

	if (len >= (int) size)
		len = pg_mbcliplen(src, len, (int) size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void
walmon_shmem_cycle_failed(TimestampTz end, const char *message)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->worker.last_cycle_end = end;
	walmon_shared->worker.cycles++;
	walmon_shared->worker.errors++;
	walmon_copy_clipped(walmon_shared->worker.last_error, message,
						sizeof(walmon_shared->worker.last_error));
	walmon_shared->worker.last_error_at = end;
	LWLockRelease(walmon_shared->lock);
}

/*
 * A write of the worker's cycle that failed alone (cycle.c): the cycle
 * went on, but the status shows the latest such error.  Sessions calling
 * walmon_refresh() leave the worker's status alone.
 */
void
walmon_shmem_note_error(TimestampTz at, const char *message)
{
	if (walmon_shared == NULL || !walmon_is_worker)
		return;
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_copy_clipped(walmon_shared->worker.last_error, message,
						sizeof(walmon_shared->worker.last_error));
	walmon_shared->worker.last_error_at = at;
	LWLockRelease(walmon_shared->lock);
}

void
walmon_shmem_set_connecting(bool connecting)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->connecting = connecting;
	LWLockRelease(walmon_shared->lock);
}

void
walmon_shmem_set_database_missing(bool missing)
{
	LWLockAcquire(walmon_shared->lock, LW_EXCLUSIVE);
	walmon_shared->database_missing = missing;
	LWLockRelease(walmon_shared->lock);
}
