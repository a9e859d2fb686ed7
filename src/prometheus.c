/*-------------------------------------------------------------------------
 *
 * prometheus.c
 *		walmon_prometheus(): the current state in the Prometheus text
 *		exposition format (version 0.0.4), for a node_exporter textfile
 *		collector or an exporter's custom query.
 *
 * Per source with a monitor row: its lag in bytes, one status gauge per
 * possible status (1 for the current one, as the exposition format wants
 * enum-like states), and the seconds since WAL was last received.  Labels
 * carry the source id, name and slot; values are escaped as the format
 * requires.  When walmon is preloaded, the worker's counters follow.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/prometheus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

/* Append the label set of a source: {source_id="1",source="x",slot="y"} */
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
 * The worker's counters, when walmon is preloaded (nothing otherwise).
 */
static void
walmon_prom_worker(StringInfo buf)
{
	WalmonWorkerStatus st;

	if (!walmon_shmem_get_status(&st))
		return;

	walmon_prom_header(buf, "walmon_worker_up", "gauge",
					   "1 when the walmon background worker is running.");
	appendStringInfo(buf, "walmon_worker_up %d\n", st.pid != 0 ? 1 : 0);
	walmon_prom_header(buf, "walmon_worker_cycles_total", "counter",
					   "Refresh cycles the worker completed since it started.");
	appendStringInfo(buf, "walmon_worker_cycles_total " INT64_FORMAT "\n", st.cycles);
	walmon_prom_header(buf, "walmon_worker_rows_written_total", "counter",
					   "Monitor rows the worker wrote since it started.");
	appendStringInfo(buf, "walmon_worker_rows_written_total " INT64_FORMAT "\n",
					 st.rows_written);
	walmon_prom_header(buf, "walmon_worker_errors_total", "counter",
					   "Refresh cycles that failed since the worker started.");
	appendStringInfo(buf, "walmon_worker_errors_total " INT64_FORMAT "\n", st.errors);
	if (st.last_cycle_end != 0)
	{
		walmon_prom_header(buf, "walmon_worker_last_cycle_timestamp_seconds", "gauge",
						   "When the worker's last cycle ended, in seconds since the epoch.");
		appendStringInfo(buf, "walmon_worker_last_cycle_timestamp_seconds %.3f\n",
						 (double) (st.last_cycle_end - SetEpochTimestamp()) / USECS_PER_SEC);
	}
}

/*
 * walmon_prometheus() returns text
 */
Datum
walmon_prometheus(PG_FUNCTION_ARGS)
{
	static const char *const statuses[] = {"ACTIVE", "IDLE", "ERROR"};
	StringInfoData buf;
	WalmonSourceState *states;
	int			n;

	states = walmon_store_source_states(&n);
	initStringInfo(&buf);

	walmon_prom_header(&buf, "walmon_replication_lag_bytes", "gauge",
					   "Bytes the source's consumer is behind, as last reported.");
	for (int i = 0; i < n; i++)
	{
		if (states[i].lag_isnull)
			continue;
		appendStringInfoString(&buf, "walmon_replication_lag_bytes");
		walmon_prom_labels(&buf, &states[i], NULL);
		appendStringInfo(&buf, " " INT64_FORMAT "\n", states[i].lag);
	}

	walmon_prom_header(&buf, "walmon_status", "gauge",
					   "Status of the source: 1 for its current status, 0 for the others.");
	for (int i = 0; i < n; i++)
	{
		for (int s = 0; s < (int) lengthof(statuses); s++)
		{
			appendStringInfoString(&buf, "walmon_status");
			walmon_prom_labels(&buf, &states[i], statuses[s]);
			appendStringInfo(&buf, " %d\n",
							 states[i].status != NULL &&
							 strcmp(states[i].status, statuses[s]) == 0 ? 1 : 0);
		}
	}

	walmon_prom_header(&buf, "walmon_seconds_since_last_wal", "gauge",
					   "Seconds since WAL was last received from the source.");
	for (int i = 0; i < n; i++)
	{
		if (states[i].wal_age_isnull)
			continue;
		appendStringInfoString(&buf, "walmon_seconds_since_last_wal");
		walmon_prom_labels(&buf, &states[i], NULL);
		appendStringInfo(&buf, " %.3f\n", states[i].wal_age);
	}

	walmon_prom_worker(&buf);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
