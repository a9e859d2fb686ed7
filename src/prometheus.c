/*-------------------------------------------------------------------------
 *
 * prometheus.c
 *		walmon_prometheus(): the current state in the Prometheus text
 *		exposition format (version 0.0.4), for a node_exporter textfile
 *		collector or an exporter's custom query.
 *
 * Per source with a monitor row: its lag in bytes and (1.1) in seconds, one
 * status gauge per possible status (1 for the current one, as the
 * exposition format wants enum-like states), the seconds since WAL was
 * last received, and (1.1) what its slot retains, how much WAL it can
 * still take, how long until it is invalidated at the current rate, and
 * the ages of its xmin and catalog_xmin.  Labels carry the source id,
 * name, slot and server; values are escaped as the format requires.  A
 * value walmon does not know has no sample (its family keeps its HELP
 * and TYPE lines).  When walmon is preloaded, the worker's state and the
 * server's WAL rate and disk forecast follow.
 *
 * The lag in seconds (the store's) and the forecast of a local slot are as
 * of now.  A monitor row is not rewritten when only its forecast changes
 * (the WAL rate falls to nothing a minute after the server went idle, and
 * that must not make walmon write), so the stored seconds_to_invalidation
 * is as of updated_at: after a burst of WAL it would go on predicting the
 * burst's end forever.  The forecast of a local slot is therefore computed
 * again, as the refresh computes it, from its safe_wal_size (which the
 * refresh does keep current) and the WAL rate of the last minute now.  A
 * remote slot's forecast, whose rate is its server's, and any forecast
 * when walmon is not preloaded (the rate is then the refreshing session's
 * own) are the stored ones.
 *
 * Every family's samples are consecutive and come after its one HELP and
 * TYPE line, counters end in _total, and units are base units named last:
 * the output passes "promtool check metrics" (t/065_prometheus.pl).
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/prometheus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "walmon.h"

PG_FUNCTION_INFO_V1(walmon_prometheus);

/* Append a label value, escaping backslash, double quote and newline. */
static void
walmon_prom_escape(StringInfo buf, const char *value)
{
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\')
			appendStringInfoString(buf, "\\\\");
		else if (*p == '"')
			appendStringInfoString(buf, "\\\"");
		else if (*p == '\n')
			appendStringInfoString(buf, "\\n");
		else
			appendStringInfoChar(buf, *p);
	}
}

/*
 * Append the label set of a source:
 * {source_id="1",source="x",slot="y",server="z"}, slot and server "" when
 * null, and status="..." when given.
 */
static void
walmon_prom_labels(StringInfo buf, const WalmonSourceState *st,
				   const char *status)
{
	appendStringInfo(buf, "{source_id=\"%d\",source=\"", st->source_id);
	if (st->name)
		walmon_prom_escape(buf, st->name);
	appendStringInfoString(buf, "\",slot=\"");
	if (st->slot_name)
		walmon_prom_escape(buf, st->slot_name);
	appendStringInfoString(buf, "\",server=\"");
	if (st->server)
		walmon_prom_escape(buf, st->server);
	appendStringInfoChar(buf, '"');
	if (status)
		appendStringInfo(buf, ",status=\"%s\"", status);
	appendStringInfoChar(buf, '}');
}

static void
walmon_prom_header(StringInfo buf, const char *name, const char *type,
				   const char *help)
{
	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * Append " <value>\n" for a double: three decimals, or the format's
 * spelling of the values printf spells otherwise (a value stored by a
 * plain UPDATE may be NaN or infinite).
 */
static void
walmon_prom_double(StringInfo buf, double value)
{
	if (isnan(value))
		appendStringInfoString(buf, " NaN\n");
	else if (isinf(value))
		appendStringInfoString(buf, value > 0 ? " +Inf\n" : " -Inf\n");
	else if (fabs(value) < 1e15)
		appendStringInfo(buf, " %.3f\n", value);
	else
		appendStringInfo(buf, " %.17g\n", value);
}

/* The numbers of a source, one family each. */
typedef enum WalmonPromSourceValue
{
	PROM_LAG_BYTES,
	PROM_STATUS,				/* one gauge per status: walmon_prom_status() */
	PROM_LAG_SECONDS,
	PROM_SINCE_LAST_WAL,
	PROM_RETAINED,
	PROM_SAFE,
	PROM_TO_INVALIDATION,
	PROM_XMIN_AGE,
	PROM_CATALOG_XMIN_AGE
} WalmonPromSourceValue;

typedef struct WalmonPromFamily
{
	const char *name;
	WalmonPromSourceValue value;
	const char *help;
} WalmonPromFamily;

/* 1.0's families first, in 1.0's order, then 1.1's */
static const WalmonPromFamily walmon_prom_source_families[] = {
	{"walmon_replication_lag_bytes", PROM_LAG_BYTES,
	"Bytes the source's consumer is behind, as last reported."},
	{"walmon_status", PROM_STATUS,
	"Status of the source: 1 for its current status, 0 for the others."},
	{"walmon_seconds_since_last_wal", PROM_SINCE_LAST_WAL,
	"Seconds since WAL was last received from the source."},
	{"walmon_replication_lag_seconds", PROM_LAG_SECONDS,
	"Seconds since the WAL end passed the position of the source's slot (0 when caught up)."},
	{"walmon_retained_wal_bytes", PROM_RETAINED,
	"Bytes of WAL the source's slot makes the server keep."},
	{"walmon_safe_wal_size_bytes", PROM_SAFE,
	"Bytes of WAL that can still be written before the source's slot is lost (max_slot_wal_keep_size)."},
	{"walmon_seconds_to_invalidation", PROM_TO_INVALIDATION,
	"Seconds until the source's slot is lost at the current WAL rate (0: unreserved or lost)."},
	{"walmon_xmin_age_transactions", PROM_XMIN_AGE,
	"Age in transactions of the xmin the source's slot holds back."},
	{"walmon_catalog_xmin_age_transactions", PROM_CATALOG_XMIN_AGE,
	"Age in transactions of the catalog_xmin the source's slot holds back."},
};

/*
 * The seconds until a source's slot is invalidated: for a local slot, as
 * of now (see the top of this file) when the current rate is known
 * (rate_now); otherwise, the stored forecast.  Null with no sample.
 */
static WalmonFloat8
walmon_prom_forecast(const WalmonSourceState *st, const WalmonFloat8 *rate_now)
{
	WalmonFloat8 result = {0, true};

	if (rate_now == NULL || st->slot_name == NULL || st->server != NULL)
	{
		result.isnull = st->to_invalidation_isnull;
		result.value = st->to_invalidation;
	}
	else if (st->safe_isnull)
		;						/* no max_slot_wal_keep_size: no forecast */
	else if (st->safe <= 0)
		result.isnull = false;	/* unreserved or lost: 0 */
	else if (!rate_now->isnull && rate_now->value > 0)
	{
		result.isnull = false;
		result.value = (double) st->safe / rate_now->value;
	}
	return result;
}

/*
 * Append the sample of one number of a source; nothing when it is null.
 * rate_now is the WAL rate of the last minute, NULL when not preloaded.
 */
static void
walmon_prom_source_sample(StringInfo buf, const char *name,
						  const WalmonSourceState *st,
						  WalmonPromSourceValue value,
						  const WalmonFloat8 *rate_now)
{
	WalmonFloat8 forecast;
	bool		isnull;
	bool		isint = true;
	int64		i = 0;
	double		d = 0;

	switch (value)
	{
		case PROM_LAG_BYTES:
			isnull = st->lag_isnull;
			i = st->lag;
			break;
		case PROM_SINCE_LAST_WAL:
			isnull = st->wal_age_isnull;
			d = st->wal_age;
			isint = false;
			break;
		case PROM_LAG_SECONDS:
			isnull = st->lag_seconds_isnull;
			d = st->lag_seconds;
			isint = false;
			break;
		case PROM_RETAINED:
			isnull = st->retained_isnull;
			i = st->retained;
			break;
		case PROM_SAFE:
			isnull = st->safe_isnull;
			i = st->safe;
			break;
		case PROM_TO_INVALIDATION:
			forecast = walmon_prom_forecast(st, rate_now);
			isnull = forecast.isnull;
			d = forecast.value;
			isint = false;
			break;
		case PROM_XMIN_AGE:
			isnull = st->xmin_age_isnull;
			i = st->xmin_age;
			break;
		case PROM_CATALOG_XMIN_AGE:
			isnull = st->catalog_xmin_age_isnull;
			i = st->catalog_xmin_age;
			break;
		default:
			elog(ERROR, "unknown walmon_prometheus() value %d", (int) value);
	}
	if (isnull)
		return;
	appendStringInfoString(buf, name);
	walmon_prom_labels(buf, st, NULL);
	if (isint)
		appendStringInfo(buf, " " INT64_FORMAT "\n", i);
	else
		walmon_prom_double(buf, d);
}

/*
 * One status gauge per possible status: 1 for the source's, 0 for the
 * others (all 0 for a row whose status a superuser set to NULL).
 */
static void
walmon_prom_status(StringInfo buf, const WalmonSourceState *states, int n)
{
	static const char *const statuses[] = {"ACTIVE", "IDLE", "ERROR"};

	for (int i = 0; i < n; i++)
	{
		for (int s = 0; s < (int) lengthof(statuses); s++)
		{
			appendStringInfoString(buf, "walmon_status");
			walmon_prom_labels(buf, &states[i], statuses[s]);
			appendStringInfo(buf, " %d\n",
							 states[i].status != NULL &&
							 strcmp(states[i].status, statuses[s]) == 0 ? 1 : 0);
		}
	}
}

/* A family of one unlabelled sample, header included. */
static void
walmon_prom_int(StringInfo buf, const char *name, const char *type,
				const char *help, int64 value)
{
	walmon_prom_header(buf, name, type, help);
	appendStringInfo(buf, "%s " INT64_FORMAT "\n", name, value);
}

static void
walmon_prom_float(StringInfo buf, const char *name, const char *help,
				  double value)
{
	walmon_prom_header(buf, name, "gauge", help);
	appendStringInfoString(buf, name);
	walmon_prom_double(buf, value);
}

static double
walmon_prom_epoch_seconds(TimestampTz t)
{
	return (double) (t - SetEpochTimestamp()) / USECS_PER_SEC;
}

/*
 * The worker's state, and the server's WAL rate and disk forecast as
 * walmon_worker_status() computes them.  A family whose value is not known
 * (yet) is left out.
 */
static void
walmon_prom_worker(StringInfo buf, const WalmonWorkerStatus *st,
				   const WalmonWalEndStatus *ws)
{
	WalmonInt64 free_bytes;
	WalmonFloat8 disk_full;

	disk_full = walmon_disk_full_seconds(ws->rate, &free_bytes);

	walmon_prom_int(buf, "walmon_worker_up", "gauge",
					"1 when the walmon background worker is running.",
					st->pid != 0 ? 1 : 0);
	walmon_prom_int(buf, "walmon_worker_in_recovery", "gauge",
					"1 while the server is a standby (the worker then writes nothing).",
					st->in_recovery ? 1 : 0);
	walmon_prom_int(buf, "walmon_worker_cycles_total", "counter",
					"Refresh cycles the worker completed since it started.",
					st->cycles);
	walmon_prom_int(buf, "walmon_worker_rows_written_total", "counter",
					"Monitor rows the worker wrote since it started.",
					st->rows_written);
	walmon_prom_int(buf, "walmon_worker_errors_total", "counter",
					"Refresh cycles that failed since the worker started.",
					st->errors);
	if (st->last_cycle_end != 0)
		walmon_prom_float(buf, "walmon_worker_last_cycle_timestamp_seconds",
						  "When the worker's last cycle ended, in seconds since the epoch.",
						  walmon_prom_epoch_seconds(st->last_cycle_end));
	if (st->last_error_at != 0)
		walmon_prom_float(buf, "walmon_worker_last_error_timestamp_seconds",
						  "When a cycle of the worker last failed, in seconds since the epoch.",
						  walmon_prom_epoch_seconds(st->last_error_at));
	if (!XLogRecPtrIsInvalid(ws->wal_end))
	{
		walmon_prom_int(buf, "walmon_worker_wal_end_bytes", "gauge",
						"The WAL position lag is measured against (the effective foreign WAL end), in bytes.",
						(int64) ws->wal_end);
		walmon_prom_int(buf, "walmon_worker_wal_trail_bytes", "gauge",
						"Bytes the effective foreign WAL end trailed the insert position by at the last cycle (walmon's own WAL and bookkeeping).",
						(int64) ws->trail_bytes);
	}
	if (!ws->rate.isnull)
		walmon_prom_float(buf, "walmon_wal_rate_bytes_per_second",
						  "Foreign WAL written per second over the last minute.",
						  ws->rate.value);
	if (!ws->rate_15min.isnull)
		walmon_prom_float(buf, "walmon_wal_rate_15min_bytes_per_second",
						  "Foreign WAL written per second over the last 15 minutes.",
						  ws->rate_15min.value);
	if (!free_bytes.isnull)
		walmon_prom_int(buf, "walmon_pg_wal_free_bytes", "gauge",
						"Bytes free on the filesystem holding pg_wal.",
						free_bytes.value);
	if (!disk_full.isnull)
		walmon_prom_float(buf, "walmon_seconds_to_disk_full",
						  "Seconds until the filesystem holding pg_wal is full at the WAL rate of the last minute.",
						  disk_full.value);
}

/*
 * walmon_prometheus() returns text
 */
Datum
walmon_prometheus(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	WalmonSourceState *states;
	int			n;
	WalmonWorkerStatus worker;
	WalmonWalEndStatus walend;
	bool		preloaded;

	states = walmon_store_source_states(&n);
	/* the worker's state and the WAL rate, when walmon is preloaded */
	preloaded = walmon_shmem_get_status(&worker);
	if (preloaded)
		walmon_walend_status(GetCurrentTimestamp(), &walend);
	initStringInfo(&buf);

	for (int f = 0; f < (int) lengthof(walmon_prom_source_families); f++)
	{
		const WalmonPromFamily *fam = &walmon_prom_source_families[f];

		walmon_prom_header(&buf, fam->name, "gauge", fam->help);
		if (fam->value == PROM_STATUS)
			walmon_prom_status(&buf, states, n);
		else
			for (int i = 0; i < n; i++)
				walmon_prom_source_sample(&buf, fam->name, &states[i], fam->value,
										  preloaded ? &walend.rate : NULL);
	}

	if (preloaded)
		walmon_prom_worker(&buf, &worker, &walend);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
