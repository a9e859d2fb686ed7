/*-------------------------------------------------------------------------
 *
 * functions.c
 *		walmon's SQL-callable functions: they check and complete their
 *		arguments, then hand them to the store (store.c), which alone runs
 *		SQL.
 *
 * Every check happens before anything is written, and every error is raised
 * with the SQLSTATE of the contract (docs: contract.md, section 3), so a
 * failed call leaves every table as it was.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/functions.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "walmon.h"

PG_FUNCTION_INFO_V1(walmon_upsert);
PG_FUNCTION_INFO_V1(walmon_upsert_batch);
PG_FUNCTION_INFO_V1(walmon_status_one);
PG_FUNCTION_INFO_V1(walmon_status_all);
PG_FUNCTION_INFO_V1(walmon_set_status);
PG_FUNCTION_INFO_V1(walmon_delete);
PG_FUNCTION_INFO_V1(walmon_add_source);
PG_FUNCTION_INFO_V1(walmon_drop_source);

const char *const walmon_upsert_argnames[WALMON_UPSERT_NARGS] = {
	[WALMON_ARG_SOURCE_ID] = "source_id",
	[WALMON_ARG_WAL_LSN] = "wal_lsn",
	[WALMON_ARG_WAL_POSITION] = "wal_position",
	[WALMON_ARG_LAST_WAL_RECEIVED] = "last_wal_received",
	[WALMON_ARG_LAST_TRANSACTION_TIME] = "last_transaction_time",
	[WALMON_ARG_REPLICATION_SLOT_NAME] = "replication_slot_name",
	[WALMON_ARG_REPLICATION_LAG_BYTES] = "replication_lag_bytes",
	[WALMON_ARG_STATUS] = "status",
	[WALMON_ARG_ERROR_MESSAGE] = "error_message",
};

/* the longest part of a rejected value that an error message repeats */
#define WALMON_MAX_QUOTED	64

static int32 walmon_get_source_id(FunctionCallInfo fcinfo, int argno);
static void walmon_report_unregistered(int32 source_id, int element);
static Datum walmon_check_status(Datum status);
static void walmon_complete_upsert(WalmonUpsert *u);
static Tuplestorestate *walmon_materialize(FunctionCallInfo fcinfo);
static bool walmon_hex_lsn(const char *s, int len, XLogRecPtr *result);
static void walmon_parse_element(JsonbValue *elem, Datum default_status,
								 WalmonUpsert *u);
static int	walmon_cmp_pos(const void *a, const void *b, void *arg);

/*
 * A source_id argument, which must not be NULL.
 */
static int32
walmon_get_source_id(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source_id must not be null")));
	return PG_GETARG_INT32(argno);
}

/*
 * The error for an upsert of a source that is not registered; element is
 * the source's index in a batch, or -1.
 */
static void
walmon_report_unregistered(int32 source_id, int element)
{
	if (element >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("monitors[%d]: source %d is not registered",
						element, source_id),
				 errhint("Register it with walmon_add_source() first.")));
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("source %d is not registered", source_id),
			 errhint("Register it with walmon_add_source() first.")));
}

/*
 * A value for an error message: at most WALMON_MAX_QUOTED bytes, cut at a
 * character boundary, with "..." when it was cut.
 */
static char *
walmon_clip(const char *value)
{
	int			len = strlen(value);
	int			cut;

	if (len <= WALMON_MAX_QUOTED)
		return pstrdup(value);
	cut = pg_mbcliplen(value, len, WALMON_MAX_QUOTED);
	return psprintf("%.*s...", cut, value);
}

/*
 * Check a status (any letter case) and return it upper-cased, as a text
 * datum: the one given when it is already so.  NULL is rejected by the
 * caller.
 */
static Datum
walmon_check_status(Datum status)
{
	static const char *const valid[] = {"ACTIVE", "IDLE", "ERROR"};
	text	   *t = DatumGetTextPP(status);
	const char *value = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	for (int i = 0; i < (int) lengthof(valid); i++)
	{
		if (len != (int) strlen(valid[i]) ||
			pg_strncasecmp(value, valid[i], len) != 0)
			continue;
		if (memcmp(value, valid[i], len) == 0)
			return PointerGetDatum(t);
		return CStringGetTextDatum(valid[i]);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid status \"%s\"", walmon_clip(text_to_cstring(t))),
			 errdetail("Status must be one of ACTIVE, IDLE or ERROR, in any letter case.")));
	pg_unreachable();
}

/*
 * Check an upsert's arguments and fill in what the contract derives from
 * them: wal_position from wal_lsn, last_wal_received = now() when wal_lsn
 * is given, the status upper-cased.
 */
static void
walmon_complete_upsert(WalmonUpsert *u)
{
	static const WalmonUpsertArg not_negative[] = {
		WALMON_ARG_WAL_POSITION, WALMON_ARG_REPLICATION_LAG_BYTES
	};
	static const WalmonUpsertArg timestamps[] = {
		WALMON_ARG_LAST_WAL_RECEIVED, WALMON_ARG_LAST_TRANSACTION_TIME
	};

	if (u->isnull[WALMON_ARG_SOURCE_ID])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source_id must not be null")));

	for (int i = 0; i < (int) lengthof(not_negative); i++)
	{
		WalmonUpsertArg arg = not_negative[i];

		if (!u->isnull[arg] && DatumGetInt64(u->values[arg]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be negative", walmon_upsert_argnames[arg]),
					 errdetail("The value given was " INT64_FORMAT ".",
							   DatumGetInt64(u->values[arg]))));
	}

	/*
	 * An infinite timestamp has no age: every reader that computes one
	 * (walmon_overview, walmon_prometheus()) would fail for everyone.
	 */
	for (int i = 0; i < (int) lengthof(timestamps); i++)
	{
		WalmonUpsertArg arg = timestamps[i];

		if (!u->isnull[arg] &&
			TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(u->values[arg])))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("%s must be a finite timestamp",
							walmon_upsert_argnames[arg]),
					 errdetail("The value given was %s.",
							   TIMESTAMP_IS_NOBEGIN(DatumGetTimestampTz(u->values[arg])) ?
							   "-infinity" : "infinity")));
	}

	if (u->isnull[WALMON_ARG_STATUS])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Leave the argument out to use ACTIVE.")));
	u->values[WALMON_ARG_STATUS] = walmon_check_status(u->values[WALMON_ARG_STATUS]);

	if (!u->isnull[WALMON_ARG_WAL_LSN])
	{
		XLogRecPtr	lsn = DatumGetLSN(u->values[WALMON_ARG_WAL_LSN]);

		if (u->isnull[WALMON_ARG_WAL_POSITION])
		{
			if (lsn > (XLogRecPtr) PG_INT64_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("wal_lsn %X/%X is too large to derive wal_position",
								LSN_FORMAT_ARGS(lsn)),
						 errhint("Pass wal_position explicitly.")));
			u->values[WALMON_ARG_WAL_POSITION] = Int64GetDatum((int64) lsn);
			u->isnull[WALMON_ARG_WAL_POSITION] = false;
		}
		if (u->isnull[WALMON_ARG_LAST_WAL_RECEIVED])
		{
			u->values[WALMON_ARG_LAST_WAL_RECEIVED] =
				TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			u->isnull[WALMON_ARG_LAST_WAL_RECEIVED] = false;
		}
	}
}

/*
 * Set up a set-returning function to return its rows in a tuplestore, in
 * the form of its declared result type (the same on every major version).
 */
static Tuplestorestate *
walmon_materialize(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;
	Tuplestorestate *tupstore;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupstore = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(oldcontext);

	return tupstore;
}

/*
 * walmon_upsert(source_id, wal_lsn, ..., status, error_message)
 */
Datum
walmon_upsert(PG_FUNCTION_ARGS)
{
	WalmonUpsert u;
	bool		registered;
	Datum		result;

	for (int i = 0; i < WALMON_UPSERT_NARGS; i++)
	{
		u.isnull[i] = PG_ARGISNULL(i);
		u.values[i] = u.isnull[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	walmon_complete_upsert(&u);

	result = walmon_store_upsert(&u, &registered);
	if (!registered)
		walmon_report_unregistered(DatumGetInt32(u.values[WALMON_ARG_SOURCE_ID]), -1);
	PG_RETURN_DATUM(result);
}

/*
 * Whether num is an integer written without a fraction that fits an int4;
 * sets *result to it when so.  (A JSON number is never NaN nor infinite,
 * but a jsonb built in SQL could hold one.)
 */
static bool
walmon_numeric_int4(Numeric num, int32 *result)
{
	bool		error = false;

	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		DatumGetInt32(DirectFunctionCall1(numeric_scale,
										  NumericGetDatum(num))) != 0)
		return false;
	*result = numeric_int4_opt_error(num, &error);
	return !error;
}

/*
 * The LSN that s (len bytes, not NUL-terminated) spells the way pg_lsn's
 * input function accepts it: 1 to 8 hex digits, a slash, 1 to 8 hex
 * digits, nothing else.  Returns false for anything else, which the caller
 * hands to that function for its error.  (A JSON string is the common
 * form of a batch element's wal_lsn; pg_lsn_in would need a copy of it
 * and scan it three times.)
 */
static bool
walmon_hex_lsn(const char *s, int len, XLogRecPtr *result)
{
	uint32		part[2] = {0, 0};
	int			p = 0;
	int			digits = 0;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c == '/' && p == 0 && digits > 0)
		{
			p = 1;
			digits = 0;
			continue;
		}
		else
			return false;
		if (++digits > 8)
			return false;
		part[p] = (part[p] << 4) | (uint32) d;
	}
	if (p != 1 || digits == 0)
		return false;
	*result = ((uint64) part[0] << 32) | part[1];
	return true;
}

/*
 * One element of walmon_upsert_batch's array, parsed into u.  Keys are
 * walmon_upsert's argument names; a key left out takes the argument's
 * default.  Values are converted with the types' own input functions, so a
 * malformed LSN or timestamp fails exactly as it would in walmon_upsert.
 */
static void
walmon_parse_element(JsonbValue *elem, Datum default_status, WalmonUpsert *u)
{
	static int	argname_len[WALMON_UPSERT_NARGS];
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (argname_len[0] == 0)
	{
		for (int arg = 0; arg < WALMON_UPSERT_NARGS; arg++)
			argname_len[arg] = strlen(walmon_upsert_argnames[arg]);
	}

	memset(u->isnull, true, sizeof(u->isnull));
	u->values[WALMON_ARG_STATUS] = default_status;
	u->isnull[WALMON_ARG_STATUS] = false;

	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("element is not a JSON object"),
				 errhint("Each element is an object whose keys are walmon_upsert's argument names.")));

	it = JsonbIteratorInit(elem->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *keyval;
		int			keylen;
		int			arg;
		char	   *str;

		if (tok != WJB_KEY)
			continue;
		keyval = v.val.string.val;
		keylen = v.val.string.len;
		for (arg = 0; arg < WALMON_UPSERT_NARGS; arg++)
		{
			if (keylen == argname_len[arg] &&
				memcmp(keyval, walmon_upsert_argnames[arg], keylen) == 0)
				break;
		}
		if (arg == WALMON_UPSERT_NARGS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\"",
							walmon_clip(pnstrdup(keyval, keylen))),
					 errhint("Keys are walmon_upsert's argument names, such as source_id, wal_lsn and status.")));

		if (JsonbIteratorNext(&it, &v, true) != WJB_VALUE)
			elog(ERROR, "unexpected jsonb iterator token");

		if (v.type == jbvNull)
		{
			u->isnull[arg] = true;
			continue;
		}

		/* text arguments: one copy, straight from the jsonb string */
		if (v.type == jbvString &&
			(arg == WALMON_ARG_REPLICATION_SLOT_NAME ||
			 arg == WALMON_ARG_STATUS ||
			 arg == WALMON_ARG_ERROR_MESSAGE))
		{
			u->values[arg] = PointerGetDatum(cstring_to_text_with_len(v.val.string.val,
																	  v.val.string.len));
			u->isnull[arg] = false;
			continue;
		}

		if (v.type == jbvString && arg == WALMON_ARG_WAL_LSN)
		{
			XLogRecPtr	lsn;

			if (walmon_hex_lsn(v.val.string.val, v.val.string.len, &lsn))
			{
				u->values[arg] = LSNGetDatum(lsn);
				u->isnull[arg] = false;
				continue;
			}
		}

		/* integers may be JSON numbers or strings; everything else a string */
		if (v.type == jbvNumeric &&
			(arg == WALMON_ARG_SOURCE_ID ||
			 arg == WALMON_ARG_WAL_POSITION ||
			 arg == WALMON_ARG_REPLICATION_LAG_BYTES))
		{
			int32		i4;

			/*
			 * A number written without a fraction that fits an int4 (every
			 * source_id, most byte counts) is taken as is; any other goes
			 * through its text and the type's input function, so that 1.5
			 * or a number too large fails as the same text would.
			 */
			if (walmon_numeric_int4(v.val.numeric, &i4))
			{
				u->values[arg] = (arg == WALMON_ARG_SOURCE_ID) ?
					Int32GetDatum(i4) : Int64GetDatum((int64) i4);
				u->isnull[arg] = false;
				continue;
			}
			str = DatumGetCString(DirectFunctionCall1(numeric_out,
													  NumericGetDatum(v.val.numeric)));
		}
		else if (v.type == jbvString)
			str = pnstrdup(v.val.string.val, v.val.string.len);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key \"%s\" has a value of the wrong type",
							walmon_upsert_argnames[arg]),
					 errdetail("The value is a JSON %s; %s.", JsonbTypeName(&v),
							   (arg == WALMON_ARG_SOURCE_ID ||
								arg == WALMON_ARG_WAL_POSITION ||
								arg == WALMON_ARG_REPLICATION_LAG_BYTES) ?
							   "expected a number, a string or null" :
							   "expected a string or null")));

		switch ((WalmonUpsertArg) arg)
		{
			case WALMON_ARG_SOURCE_ID:
				u->values[arg] = DirectFunctionCall1(int4in, CStringGetDatum(str));
				break;
			case WALMON_ARG_WAL_POSITION:
			case WALMON_ARG_REPLICATION_LAG_BYTES:
				u->values[arg] = DirectFunctionCall1(int8in, CStringGetDatum(str));
				break;
			case WALMON_ARG_WAL_LSN:
				u->values[arg] = DirectFunctionCall1(pg_lsn_in, CStringGetDatum(str));
				break;
			case WALMON_ARG_LAST_WAL_RECEIVED:
			case WALMON_ARG_LAST_TRANSACTION_TIME:
				u->values[arg] = DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(str),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1));
				break;
			case WALMON_ARG_REPLICATION_SLOT_NAME:
			case WALMON_ARG_STATUS:
			case WALMON_ARG_ERROR_MESSAGE:
				/* strings were taken above; other JSON types were refused */
				pg_unreachable();
			case WALMON_UPSERT_NARGS:
				pg_unreachable();
		}
		u->isnull[arg] = false;
	}
}

/*
 * Order array positions by the source_id of their element, then by
 * position, so that the elements of one source end with the one that wins.
 */
static int
walmon_cmp_pos(const void *a, const void *b, void *arg)
{
	const WalmonUpsert *u = (const WalmonUpsert *) arg;
	int			pa = *(const int *) a;
	int			pb = *(const int *) b;
	int32		sa = DatumGetInt32(u[pa].values[WALMON_ARG_SOURCE_ID]);
	int32		sb = DatumGetInt32(u[pb].values[WALMON_ARG_SOURCE_ID]);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	return pa < pb ? -1 : (pa > pb ? 1 : 0);
}

/*
 * walmon_upsert_batch(monitors jsonb) returns setof wal_monitor
 *
 * Every element is parsed and checked before anything is written; an error
 * names the (zero-based, as in jsonb's -> operator) index of its element.
 * When a source appears more than once the later element wins.  Rows are
 * then written in source_id order, so concurrent batches lock them in the
 * same order and cannot deadlock each other or single upserts.
 */
Datum
walmon_upsert_batch(PG_FUNCTION_ARGS)
{
	Jsonb	   *monitors;
	int			n;
	WalmonUpsert *u;
	int		   *pos;
	WalmonUpsert *sorted;
	int			kept;
	int			bad;
	Tuplestorestate *tupstore;
	MemoryContext batchcxt;
	MemoryContext oldcxt;
	Datum		default_status;
	JsonbIterator *it;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("monitors must not be null")));
	monitors = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(monitors) || JB_ROOT_IS_SCALAR(monitors))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("monitors must be a JSON array"),
				 errhint("Pass an array of objects, for example '[{\"source_id\": 1, \"wal_lsn\": \"0/16B3748\"}]'.")));

	tupstore = walmon_materialize(fcinfo);

	/*
	 * Everything the call builds lives in a context of its own, freed
	 * before the rows are returned; the argument itself is freed (when it
	 * was detoasted) as soon as every element is parsed.
	 */
	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "walmon batch",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(batchcxt);

	n = JB_ROOT_COUNT(monitors);
	u = palloc_array(WalmonUpsert, Max(n, 1));
	default_status = CStringGetTextDatum("ACTIVE");
	it = JsonbIteratorInit(&monitors->root);
	for (int i = 0; i < n; i++)
	{
		MemoryContext oldcontext = CurrentMemoryContext;
		JsonbValue	elem;

		/* the array's elements in turn, objects left whole (jbvBinary) */
		for (;;)
		{
			JsonbIteratorToken tok = JsonbIteratorNext(&it, &elem, true);

			if (tok == WJB_ELEM)
				break;
			if (tok == WJB_DONE)
				elog(ERROR, "jsonb array has fewer elements than its count");
		}
		PG_TRY();
		{
			walmon_parse_element(&elem, default_status, &u[i]);
			walmon_complete_upsert(&u[i]);
		}
		PG_CATCH();
		{
			/* name the element in the message and throw the error on */
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcontext);
			edata = CopyErrorData();
			FlushErrorState();
			edata->message = psprintf("monitors[%d]: %s", i, edata->message);
			ReThrowError(edata);
		}
		PG_END_TRY();
	}

	PG_FREE_IF_COPY(monitors, 0);

	/*
	 * Sort by source_id, keeping only the last element of each source;
	 * pos[k] stays the array index of sorted[k], for error messages.
	 */
	pos = palloc_array(int, Max(n, 1));
	for (int i = 0; i < n; i++)
		pos[i] = i;
	qsort_arg(pos, n, sizeof(int), walmon_cmp_pos, u);
	sorted = palloc_array(WalmonUpsert, Max(n, 1));
	kept = 0;
	for (int i = 0; i < n; i++)
	{
		if (i + 1 < n &&
			DatumGetInt32(u[pos[i]].values[WALMON_ARG_SOURCE_ID]) ==
			DatumGetInt32(u[pos[i + 1]].values[WALMON_ARG_SOURCE_ID]))
			continue;
		pos[kept] = pos[i];
		sorted[kept++] = u[pos[i]];
	}

	bad = walmon_store_upsert_many(sorted, kept, tupstore);
	if (bad >= 0)
		walmon_report_unregistered(DatumGetInt32(sorted[bad].values[WALMON_ARG_SOURCE_ID]),
								   pos[bad]);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(batchcxt);
	return (Datum) 0;
}

/*
 * walmon_status(source_id) returns setof wal_monitor
 */
Datum
walmon_status_one(PG_FUNCTION_ARGS)
{
	int32		source_id = walmon_get_source_id(fcinfo, 0);
	Tuplestorestate *tupstore = walmon_materialize(fcinfo);

	walmon_store_status(tupstore, false, source_id);
	return (Datum) 0;
}

/*
 * walmon_status() returns setof wal_monitor, ordered by source_id
 */
Datum
walmon_status_all(PG_FUNCTION_ARGS)
{
	Tuplestorestate *tupstore = walmon_materialize(fcinfo);

	walmon_store_status(tupstore, true, 0);
	return (Datum) 0;
}

/*
 * walmon_set_status(source_id, status, error_message) returns wal_monitor
 */
Datum
walmon_set_status(PG_FUNCTION_ARGS)
{
	int32		source_id = walmon_get_source_id(fcinfo, 0);
	Datum		status;
	bool		found;
	Datum		result;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null")));
	status = walmon_check_status(PG_GETARG_DATUM(1));

	result = walmon_store_set_status(source_id, status,
									 PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
									 PG_ARGISNULL(2), &found);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("source %d has no monitor row", source_id),
				 errhint("Create it with walmon_upsert() first.")));

	PG_RETURN_DATUM(result);
}

/*
 * walmon_delete(source_id) returns boolean
 */
Datum
walmon_delete(PG_FUNCTION_ARGS)
{
	int32		source_id = walmon_get_source_id(fcinfo, 0);

	PG_RETURN_BOOL(walmon_store_delete_monitor(source_id));
}

/*
 * walmon_add_source(name, slot_name, id, server) returns integer
 *
 * walmon 1.0 declares the function without server.
 */
Datum
walmon_add_source(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		server_isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be null")));
	name = TextDatumGetCString(PG_GETARG_DATUM(0));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must not be empty")));

	/* a slot name must be one a replication slot can have */
	if (!PG_ARGISNULL(1))
		(void) ReplicationSlotValidateName(NameStr(*PG_GETARG_NAME(1)), ERROR);

	if (!PG_ARGISNULL(2) && PG_GETARG_INT32(2) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("id must be positive"),
				 errdetail("The value given was %d.", PG_GETARG_INT32(2))));

	/* 1.1: a slot of a remote server, which the caller may use */
	server_isnull = PG_NARGS() < 4 || PG_ARGISNULL(3);
	if (!server_isnull)
	{
		if (PG_ARGISNULL(1))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("slot_name must not be null when server is given"),
					 errhint("A source of a remote server follows one of its replication slots.")));
		(void) walmon_remote_check_server(NameStr(*PG_GETARG_NAME(3)));
	}

	PG_RETURN_INT32(walmon_store_add_source(PG_GETARG_DATUM(0),
											PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
											PG_ARGISNULL(1),
											PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2),
											PG_ARGISNULL(2),
											server_isnull ? (Datum) 0 : PG_GETARG_DATUM(3),
											server_isnull));
}

/*
 * walmon_drop_source(source_id) returns boolean
 */
Datum
walmon_drop_source(PG_FUNCTION_ARGS)
{
	int32		source_id = walmon_get_source_id(fcinfo, 0);

	PG_RETURN_BOOL(walmon_store_drop_source(source_id));
}

/* ----------------------------------------------------------------
 * The refresh cycle and the background worker (issue 3)
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(walmon_refresh);
PG_FUNCTION_INFO_V1(walmon_worker_status);

/*
 * walmon_refresh() returns integer
 *
 * One refresh cycle in this session, as the worker runs it: it works
 * without preloading, so an external scheduler can drive walmon.  Waits for
 * a cycle running in another session to finish.  Returns the number of
 * monitor rows written; on a standby, 0.
 */
Datum
walmon_refresh(PG_FUNCTION_ARGS)
{
	MemoryContext cycle;
	MemoryContext old;
	WalmonRefreshOutcome outcome;
	int			rows;

	cycle = AllocSetContextCreate(CurrentMemoryContext, "walmon refresh",
								  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cycle);
	rows = walmon_cycle_run(true, true, &outcome);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cycle);

	if (outcome == WALMON_REFRESH_SKIPPED_NO_EXTENSION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"walmon\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION walmon.")));
	if (outcome == WALMON_REFRESH_SKIPPED_OLD_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the installed version of extension \"walmon\" is older than its library"),
				 errhint("Run ALTER EXTENSION walmon UPDATE.")));

	PG_RETURN_INT32(rows);
}

/*
 * The columns of walmon_worker_status(): 1.0's first, then 1.1's; an
 * install of 1.0 declares only the first ones, and gets those.
 */
enum
{
	WS_PID,
	WS_DATABASE,
	WS_STATE,
	WS_STARTED_AT,
	WS_LAST_CYCLE_START,
	WS_LAST_CYCLE_END,
	WS_CYCLES,
	WS_ROWS_WRITTEN,
	WS_LAST_ERROR,
	WS_LAST_ERROR_AT,
	WS_IN_RECOVERY,
	WS_WAL_END,
	/* 1.1 */
	WS_ERRORS,
	WS_WAL_RATE,
	WS_WAL_RATE_15MIN,
	WS_PG_WAL_FREE,
	WS_SECONDS_TO_DISK_FULL,
	WS_WAL_TRAIL,
	WS_WAL_OWN,
	WS_WAL_BOOKKEEPING,
	WS_WAL_SCAN,
	WS_WAL_HISTORY_SINCE,
	WS_NCOLUMNS
};

/*
 * walmon_worker_status() returns setof record
 *
 * The worker's state from shared memory: one row when walmon is preloaded,
 * none when it is not.  Times the worker has not reached yet are null.
 * The WAL rate and the disk's free space are read now.
 */
Datum
walmon_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *tupstore = walmon_materialize(fcinfo);
	WalmonWorkerStatus st;
	WalmonWalEndStatus ws;
	WalmonInt64 free_bytes;
	WalmonFloat8 disk_full;
	Datum		values[WS_NCOLUMNS];
	bool		nulls[WS_NCOLUMNS];
	int			natts = rsinfo->setDesc->natts;

	if (!walmon_shmem_get_status(&st))
		return (Datum) 0;
	walmon_walend_status(GetCurrentTimestamp(), &ws);
	disk_full = walmon_disk_full_seconds(ws.rate, &free_bytes);

	if (natts > WS_NCOLUMNS)
		elog(ERROR, "walmon_worker_status() is declared with %d columns, the library knows %d",
			 natts, WS_NCOLUMNS);

	memset(nulls, false, sizeof(nulls));
	values[WS_PID] = Int32GetDatum((int32) st.pid);
	nulls[WS_PID] = st.pid == 0;
	values[WS_DATABASE] = DirectFunctionCall1(namein,
											  CStringGetDatum(walmon_database ? walmon_database : ""));
	nulls[WS_DATABASE] = walmon_database == NULL;
	values[WS_STATE] = CStringGetTextDatum(walmon_phase_name(st.phase));
	values[WS_STARTED_AT] = TimestampTzGetDatum(st.started_at);
	nulls[WS_STARTED_AT] = st.started_at == 0;
	values[WS_LAST_CYCLE_START] = TimestampTzGetDatum(st.last_cycle_start);
	nulls[WS_LAST_CYCLE_START] = st.last_cycle_start == 0;
	values[WS_LAST_CYCLE_END] = TimestampTzGetDatum(st.last_cycle_end);
	nulls[WS_LAST_CYCLE_END] = st.last_cycle_end == 0;
	values[WS_CYCLES] = Int64GetDatum(st.cycles);
	values[WS_ROWS_WRITTEN] = Int64GetDatum(st.rows_written);
	values[WS_LAST_ERROR] = CStringGetTextDatum(st.last_error);
	nulls[WS_LAST_ERROR] = st.last_error[0] == '\0';
	values[WS_LAST_ERROR_AT] = TimestampTzGetDatum(st.last_error_at);
	nulls[WS_LAST_ERROR_AT] = st.last_error_at == 0;
	values[WS_IN_RECOVERY] = BoolGetDatum(st.in_recovery);
	values[WS_WAL_END] = LSNGetDatum(ws.wal_end);
	nulls[WS_WAL_END] = XLogRecPtrIsInvalid(ws.wal_end);

	values[WS_ERRORS] = Int64GetDatum(st.errors);
	values[WS_WAL_RATE] = Float8GetDatum(ws.rate.value);
	nulls[WS_WAL_RATE] = ws.rate.isnull;
	values[WS_WAL_RATE_15MIN] = Float8GetDatum(ws.rate_15min.value);
	nulls[WS_WAL_RATE_15MIN] = ws.rate_15min.isnull;
	values[WS_PG_WAL_FREE] = Int64GetDatum(free_bytes.value);
	nulls[WS_PG_WAL_FREE] = free_bytes.isnull;
	values[WS_SECONDS_TO_DISK_FULL] = Float8GetDatum(disk_full.value);
	nulls[WS_SECONDS_TO_DISK_FULL] = disk_full.isnull;
	values[WS_WAL_TRAIL] = Int64GetDatum((int64) ws.trail_bytes);
	values[WS_WAL_OWN] = Int64GetDatum((int64) ws.own_bytes);
	values[WS_WAL_BOOKKEEPING] = Int64GetDatum((int64) ws.bookkeeping_bytes);
	values[WS_WAL_SCAN] = Int64GetDatum((int64) ws.scan_bytes);
	nulls[WS_WAL_TRAIL] = nulls[WS_WAL_OWN] = nulls[WS_WAL_BOOKKEEPING] =
		nulls[WS_WAL_SCAN] = XLogRecPtrIsInvalid(ws.wal_end);
	values[WS_WAL_HISTORY_SINCE] = TimestampTzGetDatum(ws.oldest_sample);
	nulls[WS_WAL_HISTORY_SINCE] = ws.oldest_sample == 0;

	tuplestore_putvalues(tupstore, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
