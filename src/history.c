/*-------------------------------------------------------------------------
 *
 * history.c
 *		The trigger behind wal_monitor_history and the walmon alerts: every
 *		change of wal_monitor.status, however it was made (a walmon function,
 *		the worker, a plain UPDATE), appends one history row and sends
 *		NOTIFY walmon with a JSON payload.
 *
 * The common case is an update that keeps the status.  The trigger's WHEN
 * (OLD.status IS DISTINCT FROM NEW.status) keeps such a row from queueing
 * an event at all; PostgreSQL reads that clause back from its stored text
 * and prepares it once per statement, which a statement of many rows (a
 * batch, a refresh cycle) repays at once.  walmon's own single upsert
 * does not pay it either: when the status stays, its UPDATE does not
 * assign status, so the trigger is not considered (store.c,
 * Q_UPSERT_KEEP; bench/README.md, "Profiling").  This function still
 * compares the two statuses, in case the trigger was recreated without
 * its WHEN clause: an update that keeps the status records nothing.
 *
 * The INSERT trigger fires only for rows created now, so a restore
 * (pg_restore loads rows that carry their original created_at) records
 * nothing and alerts no one.  NOTIFY is transactional: the alert is
 * delivered at commit and never for a change that rolls back.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"

#include "walmon.h"

PG_FUNCTION_INFO_V1(walmon_history_trigger);

/* the NOTIFY channel */
#define WALMON_CHANNEL "walmon"

/*
 * The most of error_message an alert repeats: a NOTIFY payload must stay
 * under 8000 bytes, and the full message is in the history row.
 */
#define WALMON_ALERT_MAX_ERROR 1024

/* Append "key": "value" (or null) to a JSON object under construction. */
static void
walmon_json_text(StringInfo buf, const char *key, const char *value)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/*
 * Whether two statuses are the same text (the status domain's base type is
 * text with the database's collation, which is deterministic: equal means
 * the same bytes).
 */
static bool
status_equal(Datum a, Datum b)
{
	text	   *ta = DatumGetTextPP(a);
	text	   *tb = DatumGetTextPP(b);
	bool		equal;

	equal = VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(tb) &&
		memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(ta)) == 0;
	if ((Pointer) ta != DatumGetPointer(a))
		pfree(ta);
	if ((Pointer) tb != DatumGetPointer(b))
		pfree(tb);
	return equal;
}

/*
 * walmon_history_trigger: AFTER INSERT / AFTER UPDATE OF status, FOR EACH
 * ROW on wal_monitor.
 */
Datum
walmon_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const WalmonMonitorLayout *layout;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	WalmonHistoryEvent ev;
	bool		isnull;
	StringInfoData payload;
	char	   *error_message = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("walmon_history_trigger must be fired AFTER INSERT or UPDATE FOR EACH ROW")));

	/*
	 * Only walmon's own wal_monitor: attached to any other table (by a role
	 * that was granted EXECUTE), the function would write history and
	 * alerts as walmon's owner from rows of that role's making.  The store
	 * checked the table's column types when it bound to it.
	 */
	layout = walmon_store_monitor_layout();
	if (RelationGetRelid(trigdata->tg_relation) != layout->relid)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("walmon_history_trigger can only be used on walmon's table \"wal_monitor\""),
				 errdetail("Trigger \"%s\" on table \"%s\" calls it.",
						   trigdata->tg_trigger->tgname,
						   RelationGetRelationName(trigdata->tg_relation))));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		newtuple = trigdata->tg_newtuple;
		ev.old_status = heap_getattr(trigdata->tg_trigtuple, layout->status,
									 tupdesc, &ev.old_status_isnull);
	}
	else
	{
		newtuple = trigdata->tg_trigtuple;
		ev.old_status = (Datum) 0;
		ev.old_status_isnull = true;
	}

	ev.new_status = heap_getattr(newtuple, layout->status, tupdesc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"status\" of walmon's table \"wal_monitor\""),
				 errdetail("Every monitor row has a status, ACTIVE, IDLE or ERROR; its history records it.")));

	/* the common case: an update that kept the status */
	if (!ev.old_status_isnull && status_equal(ev.old_status, ev.new_status))
		return PointerGetDatum(NULL);

	ev.source_id = heap_getattr(newtuple, layout->source_id, tupdesc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"source_id\" of walmon's table \"wal_monitor\"")));
	ev.error_message = heap_getattr(newtuple, layout->error_message, tupdesc,
									&ev.error_message_isnull);
	ev.wal_lsn = heap_getattr(newtuple, layout->wal_lsn, tupdesc,
							  &ev.wal_lsn_isnull);
	ev.lag = heap_getattr(newtuple, layout->replication_lag_bytes, tupdesc,
						  &ev.lag_isnull);

	walmon_store_record_history(&ev);

	/* the alert */
	initStringInfo(&payload);
	appendStringInfoChar(&payload, '{');
	appendStringInfo(&payload, "\"source_id\": %d", DatumGetInt32(ev.source_id));
	walmon_json_text(&payload, "old_status",
					 ev.old_status_isnull ? NULL : TextDatumGetCString(ev.old_status));
	walmon_json_text(&payload, "new_status", TextDatumGetCString(ev.new_status));
	if (!ev.error_message_isnull)
	{
		/* only the start of a long message is read from its toast */
		text	   *start = (text *) PG_DETOAST_DATUM_SLICE(ev.error_message, 0,
															WALMON_ALERT_MAX_ERROR + 1);
		int			len = VARSIZE_ANY_EXHDR(start);

		if (len > WALMON_ALERT_MAX_ERROR)
			len = pg_mbcliplen(VARDATA_ANY(start), len, WALMON_ALERT_MAX_ERROR);
		error_message = pnstrdup(VARDATA_ANY(start), len);
	}
	walmon_json_text(&payload, "error_message", error_message);
	walmon_json_text(&payload, "wal_lsn", ev.wal_lsn_isnull ? NULL :
					 DatumGetCString(DirectFunctionCall1(pg_lsn_out, ev.wal_lsn)));
	appendStringInfoChar(&payload, '}');

	Async_Notify(WALMON_CHANNEL, payload.data);

	return PointerGetDatum(NULL);
}
