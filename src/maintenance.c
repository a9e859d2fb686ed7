/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		A cycle's housekeeping (cycle.c), after its refresh, in the same
 *		transaction: a sample in wal_metrics of every monitor whose state
 *		changed since its previous sample (walmon.metrics_interval), the
 *		removal of samples older than walmon.metrics_retention, and of
 *		monitor rows not updated for walmon.monitor_retention.
 *
 * Removals run in bounded batches, so that a large backlog never makes one
 * long transaction: when a batch was full, the next cycle takes the next
 * one.  The cycle marks every write as walmon's own (walend.c), so that it
 * does not count as activity the next refresh would measure; an idle
 * server gets no sample and so no write.  The schedule is kept per
 * process: the worker's, or that of a session calling walmon_refresh().
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/maintenance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "walmon.h"

/* the most rows one pass removes from a table */
#define WALMON_MAINTENANCE_BATCH 10000

/* housekeeping runs this often when sampling is off, in seconds */
#define WALMON_MAINTENANCE_IDLE_INTERVAL 60

/* when the next pass is due, and whether the last one left rows to remove */
static TimestampTz maintenance_next = 0;
static bool maintenance_backlog = false;

/* now minus a number of minutes */
static TimestampTz
walmon_minutes_ago(TimestampTz now, int minutes)
{
	return now - (TimestampTz) minutes * SECS_PER_MINUTE * USECS_PER_SEC;
}

/*
 * The housekeeping of one cycle, at time now (the cycle's transaction
 * start), after it wrote the monitor rows whose samples[] (WalmonSample)
 * it asks for; returns the rows it wrote or removed.
 */
int
walmon_maintenance(TimestampTz now, List *samples)
{
	bool		tick = now >= maintenance_next;
	int			interval;
	int			written = 0;

	/*
	 * Every walmon.metrics_interval (a tick), a sample of each monitor whose
	 * state (status, LSN, lag in bytes) differs from its previous sample,
	 * however it was written: a slot whose lag moves every cycle gets one
	 * sample per interval, not one per cycle.  In between, only the samples
	 * the cycle asks for are taken, from what it wrote (no row is read
	 * again): of a monitor's first row and of a status change, so that the
	 * series shows those when they happen.  After the last change of a busy
	 * period, the next tick writes its sample, at most one interval later:
	 * that write's cause is the change it records.  The cycle asks for
	 * samples only when sampling is on.
	 */
	if (samples != NIL)
		written += walmon_store_sample_written(samples);

	if (!tick && !maintenance_backlog)
		return written;

	if (tick)
	{
		if (walmon_metrics_interval > 0)
			written += walmon_store_sample_metrics();
		interval = walmon_metrics_interval > 0 ?
			walmon_metrics_interval : WALMON_MAINTENANCE_IDLE_INTERVAL;
		maintenance_next = TimestampTzPlusMilliseconds(now, (int64) interval * 1000);
	}

	maintenance_backlog = false;
	if (walmon_metrics_retention > 0)
	{
		int			n = walmon_store_prune_metrics(walmon_minutes_ago(now, walmon_metrics_retention),
												   WALMON_MAINTENANCE_BATCH);

		written += n;
		maintenance_backlog |= n == WALMON_MAINTENANCE_BATCH;
	}
	if (walmon_monitor_retention > 0)
	{
		int			n = walmon_store_expire_monitors(walmon_minutes_ago(now, walmon_monitor_retention),
													 WALMON_MAINTENANCE_BATCH);

		written += n;
		maintenance_backlog |= n == WALMON_MAINTENANCE_BATCH;
	}
	return written;
}
