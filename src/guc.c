/*-------------------------------------------------------------------------
 *
 * guc.c
 *		walmon's settings (contract sections 6, 8 and 9).
 *
 * The settings a session's walmon_refresh() reads can be changed with a
 * reload and are defined whenever the library is loaded, preloaded or not.
 * walmon.database needs a restart and means something only to the
 * background worker, so it exists only when the library is preloaded (a
 * PGC_POSTMASTER setting cannot be defined after startup).
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "walmon.h"

static void walmon_guc_define_1_1(void);

/* defaults, as contract section 6 gives them */
#define WALMON_DEFAULT_NAPTIME_MS		10000	/* 10s */
#define WALMON_MIN_NAPTIME_MS			100
#define WALMON_DEFAULT_METRICS_INTERVAL_S	60
#define WALMON_DEFAULT_METRICS_RETENTION_MIN	(7 * 24 * 60)	/* 7d */
#define WALMON_DEFAULT_MISSING_SLOT_RETENTION_S	3600	/* 1h */
#define WALMON_DEFAULT_REMOTE_TIMEOUT_MS	5000	/* 5s */

char	   *walmon_database = NULL;
bool		walmon_enabled = true;
int			walmon_naptime = WALMON_DEFAULT_NAPTIME_MS;
bool		walmon_auto_register = true;
int			walmon_lag_error_kb = 0;
int			walmon_metrics_interval = WALMON_DEFAULT_METRICS_INTERVAL_S;
int			walmon_metrics_retention = WALMON_DEFAULT_METRICS_RETENTION_MIN;
int			walmon_monitor_retention = 0;
int			walmon_lag_error_seconds = 0;
int			walmon_forecast_error_seconds = 0;
int			walmon_xmin_age_error = 0;
int			walmon_missing_slot_retention = WALMON_DEFAULT_MISSING_SLOT_RETENTION_S;
int			walmon_remote_timeout = WALMON_DEFAULT_REMOTE_TIMEOUT_MS;

/*
 * Define the settings that can change with a reload.  Called by every
 * process that loads the library.
 */
void
walmon_guc_define(void)
{
	DefineCustomBoolVariable("walmon.enabled",
							 gettext_noop("Whether the walmon background worker refreshes the replication slots' monitor rows."),
							 gettext_noop("When off, the worker stays connected but idle; walmon_refresh() still works."),
							 &walmon_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.naptime",
							gettext_noop("Time between two refresh cycles of the walmon background worker."),
							NULL,
							&walmon_naptime,
							WALMON_DEFAULT_NAPTIME_MS,
							WALMON_MIN_NAPTIME_MS,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("walmon.auto_register",
							 gettext_noop("Whether a refresh registers a source for every permanent replication slot that has none."),
							 gettext_noop("The source is named after the slot; a slot whose name is already taken by another source is not registered."),
							 &walmon_auto_register,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Kept in kilobytes, as PostgreSQL's own WAL sizes are in kB or MB: an
	 * int setting in bytes would stop at 2GB.  A value without unit is kB;
	 * the largest is INT_MAX kB (2TB).
	 */
	DefineCustomIntVariable("walmon.lag_error_bytes",
							gettext_noop("Replication lag above which a slot's monitor row turns to ERROR."),
							gettext_noop("Accepts memory units, e.g. 1GB; the resolution is one kilobyte. 0 means no limit."),
							&walmon_lag_error_kb,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.metrics_interval",
							gettext_noop("Time between two samples of the monitor rows in wal_metrics."),
							gettext_noop("0 turns sampling off."),
							&walmon_metrics_interval,
							WALMON_DEFAULT_METRICS_INTERVAL_S,
							0,
							INT_MAX / 1000,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.metrics_retention",
							gettext_noop("Age after which samples are removed from wal_metrics."),
							gettext_noop("0 keeps samples forever."),
							&walmon_metrics_retention,
							WALMON_DEFAULT_METRICS_RETENTION_MIN,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.monitor_retention",
							gettext_noop("Age after which the worker removes monitor rows that were not updated."),
							gettext_noop("Applies to sources not bound to a replication slot; 0 turns it off."),
							&walmon_monitor_retention,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	walmon_guc_define_1_1();
}

/*
 * The settings of walmon 1.1 (contract section 8), defined with the others.
 */
static void
walmon_guc_define_1_1(void)
{
	DefineCustomIntVariable("walmon.lag_error_seconds",
							gettext_noop("Replication lag, in time, above which a slot's monitor row turns to ERROR."),
							gettext_noop("The lag is how long ago the WAL end passed the slot's position. 0 means no limit."),
							&walmon_lag_error_seconds,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.forecast_error_seconds",
							gettext_noop("Turn a slot's monitor row to ERROR when, at the current WAL rate, the slot will be invalidated, or the disk holding pg_wal be full, sooner than this."),
							gettext_noop("Invalidation needs max_slot_wal_keep_size; a full disk concerns slots that retain WAL without it. 0 turns the forecast off."),
							&walmon_forecast_error_seconds,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.xmin_age_error",
							gettext_noop("Age, in transactions, of a slot's xmin or catalog_xmin above which its monitor row turns to ERROR."),
							gettext_noop("Such a slot holds back VACUUM. 0 means no limit."),
							&walmon_xmin_age_error,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.missing_slot_retention",
							gettext_noop("Time after which an auto-registered source whose replication slot is gone is removed."),
							gettext_noop("The row turns to ERROR when the slot goes; its history stays. 0 keeps such sources."),
							&walmon_missing_slot_retention,
							WALMON_DEFAULT_MISSING_SLOT_RETENTION_S,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("walmon.remote_timeout",
							gettext_noop("The most time one remote server may take in a cycle."),
							gettext_noop("Past it, the server's sources turn to ERROR; nothing else waits for it."),
							&walmon_remote_timeout,
							WALMON_DEFAULT_REMOTE_TIMEOUT_MS,
							100,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Define the settings that need a restart.  Called only while the library
 * is being preloaded.
 */
void
walmon_guc_define_postmaster(void)
{
	DefineCustomStringVariable("walmon.database",
							   gettext_noop("Database in which the walmon background worker runs."),
							   gettext_noop("The worker refreshes the monitor rows of the walmon extension installed there."),
							   &walmon_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
}
