/*-------------------------------------------------------------------------
 *
 * store.c
 *		The only part of walmon that knows its SQL: every statement that
 *		reads or writes walmon's tables is written here, prepared once per
 *		session through SPI and kept (SPI_keepplan).
 *
 * The statements name walmon's tables with the schema the extension was
 * created in, and every function and operator with pg_catalog, so that a
 * caller's search_path can never redirect them.  They run as the owner of
 * the extension (as ri_triggers.c runs its foreign-key queries as the table
 * owner), so that callers need EXECUTE on a walmon function and no privilege
 * on the tables.
 *
 * The kept plans and the OIDs they were built for are forgotten when the
 * relcache reports a change to one of walmon's tables; the next call looks
 * the extension up again and, when it was dropped and created again (maybe
 * in another schema), prepares its statements anew.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "walmon.h"

/*
 * The statements.  "@extschema@" stands for the quoted schema of the
 * extension.  The upsert statements take walmon_upsert's arguments as $1..$9.
 */
typedef enum WalmonQuery
{
	Q_UPSERT_UPDATE,
	Q_UPSERT_INSERT,
	Q_STATUS_ONE,
	Q_STATUS_ALL,
	Q_SET_STATUS,
	Q_DELETE_MONITOR,
	Q_DROP_SOURCE,
	Q_ADD_SOURCE,
	Q_ADD_SOURCE_WITH_ID,
	Q_ADVANCE_SOURCE_ID,
	Q_RECORD_HISTORY,
	Q_SOURCE_STATES,
	Q_BATCH_LOCK,
	Q_BATCH_UPDATE,
	Q_SAMPLE_METRICS,
	Q_PRUNE_METRICS,
	Q_EXPIRE_MONITORS,
	/* the refresh cycle (refresh.c) */
	Q_REFRESH_SLOTS,
	Q_REFRESH_ROWS,
	Q_REFRESH_REGISTER,
	Q_REFRESH_UPDATE,
	Q_REFRESH_INSERT,
	WALMON_NUM_QUERIES
} WalmonQuery;

/* the most parameters a statement takes */
#define WALMON_QUERY_MAX_ARGS	13

typedef struct WalmonQueryDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[WALMON_QUERY_MAX_ARGS];
} WalmonQueryDef;

#define BATCH_ARGTYPES \
	{INT4ARRAYOID, PG_LSNARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, \
	 TIMESTAMPTZARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, \
	 TEXTARRAYOID}

/* the parallel arrays of Q_REFRESH_UPDATE and Q_REFRESH_INSERT */
#define WALMON_SLOT_ROW_ARGTYPES \
	{INT4ARRAYOID, PG_LSNARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, \
	 TIMESTAMPTZARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, \
	 TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, \
	 TIMESTAMPTZARRAYOID}

#define UPSERT_ARGTYPES \
	{INT4OID, LSNOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, \
	 INT8OID, TEXTOID, TEXTOID}

static const WalmonQueryDef walmon_queries[WALMON_NUM_QUERIES] = {
	/*
	 * An upsert first updates the existing row: that path, taken by every
	 * call but a source's first, consumes no sequence value (INSERT ... ON
	 * CONFLICT would evaluate the id default before finding the conflict).
	 */
	[Q_UPSERT_UPDATE] = {
		"UPDATE @extschema@.wal_monitor AS w SET"
		" wal_lsn = $2, wal_position = $3, last_wal_received = $4,"
		" last_transaction_time = $5, replication_slot_name = $6,"
		" replication_lag_bytes = $7, status = $8, error_message = $9,"
		" updated_at = pg_catalog.now()"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1"
		" RETURNING w",
		WALMON_UPSERT_NARGS, UPSERT_ARGTYPES
	},

	/*
	 * No row yet: insert one, for a registered source only.  A concurrent
	 * first upsert of the same source makes ON CONFLICT update the row that
	 * one inserted, so there is never a second row nor a unique violation.
	 */
	[Q_UPSERT_INSERT] = {
		"INSERT INTO @extschema@.wal_monitor AS w"
		" (source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message)"
		" SELECT s.id, $2, $3, $4, $5, $6, $7, $8, $9"
		" FROM @extschema@.walmon_source AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) $1"
		" ON CONFLICT ON CONSTRAINT unique_source_wal DO UPDATE SET"
		" wal_lsn = excluded.wal_lsn, wal_position = excluded.wal_position,"
		" last_wal_received = excluded.last_wal_received,"
		" last_transaction_time = excluded.last_transaction_time,"
		" replication_slot_name = excluded.replication_slot_name,"
		" replication_lag_bytes = excluded.replication_lag_bytes,"
		" status = excluded.status, error_message = excluded.error_message,"
		" updated_at = pg_catalog.now()"
		" RETURNING w",
		WALMON_UPSERT_NARGS, UPSERT_ARGTYPES
	},

	[Q_STATUS_ONE] = {
		"SELECT w FROM @extschema@.wal_monitor AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	[Q_STATUS_ALL] = {
		"SELECT w FROM @extschema@.wal_monitor AS w"
		" ORDER BY w.source_id USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	[Q_SET_STATUS] = {
		"UPDATE @extschema@.wal_monitor AS w SET"
		" status = $2, error_message = $3, updated_at = pg_catalog.now()"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1"
		" RETURNING w",
		3, {INT4OID, TEXTOID, TEXTOID}
	},

	[Q_DELETE_MONITOR] = {
		"DELETE FROM @extschema@.wal_monitor AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	[Q_DROP_SOURCE] = {
		"DELETE FROM @extschema@.walmon_source AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	[Q_ADD_SOURCE] = {
		"INSERT INTO @extschema@.walmon_source AS s (name, slot_name)"
		" VALUES ($1, $2) RETURNING s.id",
		2, {TEXTOID, NAMEOID}
	},

	[Q_ADD_SOURCE_WITH_ID] = {
		"INSERT INTO @extschema@.walmon_source AS s (name, slot_name, id)"
		" VALUES ($1, $2, $3) RETURNING s.id",
		3, {TEXTOID, NAMEOID, INT4OID}
	},

	/*
	 * After a source was added with an id of its own, move the sequence past
	 * it so that no generated id ever collides with it.  Never moves it back.
	 */
	[Q_ADVANCE_SOURCE_ID] = {
		"SELECT pg_catalog.setval($2, $1::pg_catalog.int8)"
		" FROM @extschema@.walmon_source_id_seq AS q"
		" WHERE $1::pg_catalog.int8 OPERATOR(pg_catalog.>)"
		" CASE WHEN q.is_called THEN q.last_value"
		" ELSE q.last_value OPERATOR(pg_catalog.-) 1 END",
		2, {INT4OID, REGCLASSOID}
	},

	[Q_RECORD_HISTORY] = {
		"INSERT INTO @extschema@.wal_monitor_history"
		" (source_id, old_status, new_status, error_message, wal_lsn,"
		"  replication_lag_bytes)"
		" VALUES ($1, $2, $3, $4, $5, $6)",
		6, {INT4OID, TEXTOID, TEXTOID, TEXTOID, LSNOID, INT8OID}
	},

	[Q_SOURCE_STATES] = {
		"SELECT s.id, s.name, s.slot_name::pg_catalog.text, w.status,"
		" w.replication_lag_bytes,"
		" pg_catalog.date_part('epoch',"
		"  pg_catalog.now() OPERATOR(pg_catalog.-) w.last_wal_received)"
		" FROM @extschema@.walmon_source AS s"
		" JOIN @extschema@.wal_monitor AS w"
		"  ON w.source_id OPERATOR(pg_catalog.=) s.id"
		" ORDER BY s.id USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	/*
	 * A batch first locks the monitor rows it will update, in source_id
	 * order (the sort comes before the locking), so that concurrent
	 * batches wait for each other instead of deadlocking...
	 */
	[Q_BATCH_LOCK] = {
		"SELECT w.source_id FROM @extschema@.wal_monitor AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY w.source_id USING OPERATOR(pg_catalog.<)"
		" FOR UPDATE",
		1, {INT4ARRAYOID}
	},

	/*
	 * ...then updates them all in one statement, each element's values
	 * taken from the arrays $1..$9 (one entry per source, no duplicates).
	 */
	/*
	 * A sample of every monitor whose state (LSN, lag, status) differs from
	 * its previous sample; nothing when nothing changed.  NULL-safe
	 * comparisons are spelled out: IS DISTINCT FROM would look its operator
	 * up through the search_path.
	 */
	[Q_SAMPLE_METRICS] = {
		"INSERT INTO @extschema@.wal_metrics"
		" (source_id, sampled_at, wal_lsn, replication_lag_bytes, status)"
		" SELECT w.source_id, pg_catalog.now(), w.wal_lsn,"
		"  w.replication_lag_bytes, w.status"
		" FROM @extschema@.wal_monitor AS w"
		" LEFT JOIN LATERAL (SELECT m.wal_lsn, m.replication_lag_bytes, m.status"
		"  FROM @extschema@.wal_metrics AS m"
		"  WHERE m.source_id OPERATOR(pg_catalog.=) w.source_id"
		"  ORDER BY m.sampled_at DESC, m.id DESC LIMIT 1) AS p ON true"
		" WHERE p.status IS NULL"
		" OR NOT (p.status OPERATOR(pg_catalog.=) w.status)"
		" OR NOT COALESCE(p.wal_lsn OPERATOR(pg_catalog.=) w.wal_lsn,"
		"  p.wal_lsn IS NULL AND w.wal_lsn IS NULL)"
		" OR NOT COALESCE(p.replication_lag_bytes OPERATOR(pg_catalog.=) w.replication_lag_bytes,"
		"  p.replication_lag_bytes IS NULL AND w.replication_lag_bytes IS NULL)",
		0, {InvalidOid}
	},

	/* at most $2 of the samples taken before $1, oldest first */
	[Q_PRUNE_METRICS] = {
		"DELETE FROM @extschema@.wal_metrics AS m"
		" WHERE m.id OPERATOR(pg_catalog.=) ANY (ARRAY("
		"  SELECT x.id FROM @extschema@.wal_metrics AS x"
		"  WHERE x.sampled_at OPERATOR(pg_catalog.<) $1"
		"  ORDER BY x.sampled_at LIMIT $2))",
		2, {TIMESTAMPTZOID, INT4OID}
	},

	/*
	 * At most $2 monitor rows not updated since $1, of sources not bound
	 * to a slot (the worker checks those every cycle and writes them only
	 * when they change).
	 */
	[Q_EXPIRE_MONITORS] = {
		"DELETE FROM @extschema@.wal_monitor AS w"
		" WHERE w.id OPERATOR(pg_catalog.=) ANY (ARRAY("
		"  SELECT x.id FROM @extschema@.wal_monitor AS x"
		"  JOIN @extschema@.walmon_source AS s ON s.id OPERATOR(pg_catalog.=) x.source_id"
		"  WHERE x.updated_at OPERATOR(pg_catalog.<) $1 AND s.slot_name IS NULL"
		"  ORDER BY x.updated_at LIMIT $2))",
		2, {TIMESTAMPTZOID, INT4OID}
	},

	[Q_BATCH_UPDATE] = {
		"UPDATE @extschema@.wal_monitor AS w SET"
		" wal_lsn = u.wal_lsn, wal_position = u.wal_position,"
		" last_wal_received = u.last_wal_received,"
		" last_transaction_time = u.last_transaction_time,"
		" replication_slot_name = u.replication_slot_name,"
		" replication_lag_bytes = u.replication_lag_bytes,"
		" status = u.status, error_message = u.error_message,"
		" updated_at = pg_catalog.now()"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
		"  pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
		"  pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8),"
		"  pg_catalog.unnest($9))"
		"  AS u(source_id, wal_lsn, wal_position, last_wal_received,"
		"       last_transaction_time, replication_slot_name,"
		"       replication_lag_bytes, status, error_message)"
		" WHERE w.source_id OPERATOR(pg_catalog.=) u.source_id"
		" RETURNING w.source_id, w",
		WALMON_UPSERT_NARGS, BATCH_ARGTYPES
	},

	/*
	 * ---- The refresh cycle (refresh.c) ----
	 *
	 * The cycle reads the slots and the slot-bound monitor rows, compares
	 * them in C, and writes only the rows that changed, all of them with
	 * one statement.  Its comparisons stay in C: SQL's IS DISTINCT FROM,
	 * IN and CASE x WHEN would look their operators up via search_path.
	 */

	/*
	 * Every permanent replication slot.  Columns a server version lacks
	 * come as NULLs, so that the result has the same shape on every
	 * version.
	 */
	[Q_REFRESH_SLOTS] = {
		"SELECT s.slot_name, s.slot_type, s.active, s.restart_lsn,"
		" s.confirmed_flush_lsn, s.wal_status, s.safe_wal_size IS NULL,"
#ifdef WALMON_HAVE_SLOT_CONFLICTING
		" s.conflicting,"
#else
		" NULL::pg_catalog.bool,"
#endif
#ifdef WALMON_HAVE_SLOT_INVALIDATION_REASON
		" s.invalidation_reason,"
#else
		" NULL::pg_catalog.text,"
#endif
#ifdef WALMON_HAVE_SLOT_INACTIVE_SINCE
		" s.inactive_since"
#else
		" NULL::pg_catalog.timestamptz"
#endif
		" FROM pg_catalog.pg_replication_slots AS s"
		" WHERE NOT s.temporary",
		0, {InvalidOid}
	},

	/* every source bound to a slot, with its monitor row when it has one */
	[Q_REFRESH_ROWS] = {
		"SELECT s.id, s.slot_name, w.source_id IS NOT NULL,"
		" w.wal_lsn, w.wal_position, w.last_wal_received,"
		" w.last_transaction_time, w.replication_slot_name,"
		" w.replication_lag_bytes, w.status, w.error_message,"
		" w.retained_wal_bytes, w.wal_status, w.safe_wal_size,"
		" w.inactive_since"
		" FROM @extschema@.walmon_source AS s"
		" LEFT JOIN @extschema@.wal_monitor AS w"
		" ON w.source_id OPERATOR(pg_catalog.=) s.id"
		" WHERE s.slot_name IS NOT NULL",
		0, {InvalidOid}
	},

	/*
	 * Register a source for each slot, named after it, unless a source
	 * already has that name or that slot: the caller holds a lock that
	 * keeps other sessions from adding sources meanwhile, so only rows
	 * that are really inserted draw an id.
	 */
	[Q_REFRESH_REGISTER] = {
		"INSERT INTO @extschema@.walmon_source AS s (name, slot_name)"
		" SELECT n.slot::pg_catalog.text, n.slot"
		" FROM pg_catalog.unnest($1) AS n(slot)"
		" WHERE NOT EXISTS (SELECT FROM @extschema@.walmon_source AS x"
		"  WHERE x.name OPERATOR(pg_catalog.=) n.slot::pg_catalog.text"
		"  OR x.slot_name OPERATOR(pg_catalog.=) n.slot)"
		" RETURNING s.id, s.slot_name",
		1, {NAMEARRAYOID}
	},

	/* rewrite the monitor rows that changed, given as parallel arrays */
	[Q_REFRESH_UPDATE] = {
		"UPDATE @extschema@.wal_monitor AS w SET"
		" wal_lsn = v.wal_lsn, wal_position = v.wal_position,"
		" last_wal_received = v.last_wal_received,"
		" last_transaction_time = v.last_transaction_time,"
		" replication_slot_name = v.replication_slot_name,"
		" replication_lag_bytes = v.replication_lag_bytes,"
		" status = v.status, error_message = v.error_message,"
		" retained_wal_bytes = v.retained_wal_bytes,"
		" wal_status = v.wal_status, safe_wal_size = v.safe_wal_size,"
		" inactive_since = v.inactive_since,"
		" updated_at = pg_catalog.now()"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
		"  pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"  pg_catalog.unnest($5), pg_catalog.unnest($6),"
		"  pg_catalog.unnest($7), pg_catalog.unnest($8),"
		"  pg_catalog.unnest($9), pg_catalog.unnest($10),"
		"  pg_catalog.unnest($11), pg_catalog.unnest($12),"
		"  pg_catalog.unnest($13))"
		" AS v(source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message,"
		"  retained_wal_bytes, wal_status, safe_wal_size, inactive_since)"
		" WHERE w.source_id OPERATOR(pg_catalog.=) v.source_id",
		13, WALMON_SLOT_ROW_ARGTYPES
	},

	/*
	 * Create the monitor rows of sources that have none.  The caller read
	 * that they have none, so every row inserted draws one id; a row that
	 * an application's first upsert created meanwhile is left to the next
	 * cycle.
	 */
	[Q_REFRESH_INSERT] = {
		"INSERT INTO @extschema@.wal_monitor"
		" (source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message,"
		"  retained_wal_bytes, wal_status, safe_wal_size, inactive_since)"
		" SELECT v.source_id, v.wal_lsn, v.wal_position,"
		"  v.last_wal_received, v.last_transaction_time,"
		"  v.replication_slot_name, v.replication_lag_bytes, v.status,"
		"  v.error_message, v.retained_wal_bytes, v.wal_status,"
		"  v.safe_wal_size, v.inactive_since"
		" FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
		"  pg_catalog.unnest($3), pg_catalog.unnest($4),"
		"  pg_catalog.unnest($5), pg_catalog.unnest($6),"
		"  pg_catalog.unnest($7), pg_catalog.unnest($8),"
		"  pg_catalog.unnest($9), pg_catalog.unnest($10),"
		"  pg_catalog.unnest($11), pg_catalog.unnest($12),"
		"  pg_catalog.unnest($13))"
		" AS v(source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message,"
		"  retained_wal_bytes, wal_status, safe_wal_size, inactive_since)"
		" ON CONFLICT ON CONSTRAINT unique_source_wal DO NOTHING",
		13, WALMON_SLOT_ROW_ARGTYPES
	},
};

/*
 * What this session knows about the extension.  "valid" is cleared by the
 * relcache callback; the rest survives until the next lookup shows that the
 * extension is no longer the same one.
 */
typedef struct WalmonStore
{
	bool		valid;
	bool		callback_registered;
	Oid			extoid;
	Oid			owner;
	Oid			source_relid;
	Oid			monitor_relid;
	Oid			history_relid;
	Oid			source_seqid;
	char	   *nspname;		/* quoted, in TopMemoryContext */
	SPIPlanPtr	plans[WALMON_NUM_QUERIES];
} WalmonStore;

static WalmonStore store;

/* The caller's identity, saved while a statement runs as the owner. */
typedef struct WalmonStoreCall
{
	Oid			save_userid;
	int			save_sec_context;
} WalmonStoreCall;

static void store_relcache_callback(Datum arg, Oid relid);
static bool store_lookup(bool missing_ok);
static void store_begin(WalmonStoreCall *call);
static void store_end(WalmonStoreCall *call);
static SPIPlanPtr store_plan(WalmonQuery q);
static int	store_execute(WalmonQuery q, Datum *values, const bool *isnull,
						  int expected);
static void store_put_rows(Tuplestorestate *tupstore);
static int	store_run(WalmonQuery q, Datum *values, int expected);
static Datum store_make_array(Datum *elems, bool *nulls, int n, Oid elemtype);

/*
 * Forget what was looked up when one of walmon's tables changes (that
 * includes being dropped) or the whole relcache is reset.  Catalog access is
 * not allowed here: the next call does the lookup.
 */
static void
store_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) ||
		relid == store.source_relid ||
		relid == store.monitor_relid ||
		relid == store.history_relid)
		store.valid = false;
}

/*
 * Make sure "store" describes the walmon extension of this database, and
 * drop the kept plans when it is not the one they were prepared for.
 * Returns false when the extension is not installed and missing_ok is
 * true; raises an error when it is not installed and missing_ok is false.
 */
static bool
store_lookup(bool missing_ok)
{
	Oid			extoid;
	Oid			nspoid = InvalidOid;
	Oid			owner = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			source_relid;
	Oid			monitor_relid;
	Oid			history_relid;

	if (!store.callback_registered)
	{
		CacheRegisterRelcacheCallback(store_relcache_callback, (Datum) 0);
		store.callback_registered = true;
	}
	if (store.valid)
		return true;

	extoid = get_extension_oid("walmon", true);
	if (!OidIsValid(extoid) && missing_ok)
		return false;
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"walmon\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION walmon.")));

	/* pg_extension has no syscache: scan it by OID */
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tuple);

		nspoid = ext->extnamespace;
		owner = ext->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(nspoid))
		elog(ERROR, "could not find extension \"walmon\" with OID %u", extoid);

	source_relid = get_relname_relid("walmon_source", nspoid);
	monitor_relid = get_relname_relid("wal_monitor", nspoid);
	history_relid = get_relname_relid("wal_monitor_history", nspoid);
	if (!OidIsValid(source_relid) || !OidIsValid(monitor_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"walmon\" is missing its tables"),
				 errhint("Drop and create the extension again.")));

	if (extoid != store.extoid ||
		source_relid != store.source_relid ||
		monitor_relid != store.monitor_relid ||
		history_relid != store.history_relid)
	{
		/* a different extension: its statements must be prepared anew */
		for (int i = 0; i < WALMON_NUM_QUERIES; i++)
		{
			if (store.plans[i] != NULL)
			{
				SPI_freeplan(store.plans[i]);
				store.plans[i] = NULL;
			}
		}
		if (store.nspname != NULL)
			pfree(store.nspname);
		store.nspname = MemoryContextStrdup(TopMemoryContext,
											quote_identifier(get_namespace_name(nspoid)));
		store.extoid = extoid;
		store.source_relid = source_relid;
		store.monitor_relid = monitor_relid;
		store.history_relid = history_relid;
		store.source_seqid = get_relname_relid("walmon_source_id_seq", nspoid);
	}
	store.owner = owner;
	store.valid = true;
	return true;
}

/*
 * Start a store operation: look the extension up, become its owner and
 * connect to SPI.  The caller's transaction is already open.  On error,
 * transaction (or subtransaction) abort restores the user and closes SPI.
 */
static void
store_begin(WalmonStoreCall *call)
{
	(void) store_lookup(false);

	GetUserIdAndSecContext(&call->save_userid, &call->save_sec_context);
	SetUserIdAndSecContext(store.owner,
						   call->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
store_end(WalmonStoreCall *call)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	SetUserIdAndSecContext(call->save_userid, call->save_sec_context);
}

/*
 * The kept plan of a statement, prepared on first use.  Must be called
 * inside store_begin/store_end.
 */
static SPIPlanPtr
store_plan(WalmonQuery q)
{
	const WalmonQueryDef *def = &walmon_queries[q];
	StringInfoData sql;
	const char *p;
	SPIPlanPtr	plan;

	if (store.plans[q] != NULL)
		return store.plans[q];

	/* substitute the schema for every @extschema@ */
	initStringInfo(&sql);
	p = def->sql;
	for (;;)
	{
		const char *hit = strstr(p, "@extschema@");

		if (hit == NULL)
			break;
		appendBinaryStringInfo(&sql, p, hit - p);
		appendStringInfoString(&sql, store.nspname);
		p = hit + strlen("@extschema@");
	}
	appendStringInfoString(&sql, p);

	plan = SPI_prepare(sql.data, def->nargs, (Oid *) def->argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql.data, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for \"%s\"", sql.data);
	pfree(sql.data);

	store.plans[q] = plan;
	return plan;
}

/*
 * Execute a statement with its parameters; "expected" is the SPI_OK_* code
 * it must return.  Returns the number of rows processed.
 */
static int
store_execute(WalmonQuery q, Datum *values, const bool *isnull, int expected)
{
	char		nulls[WALMON_QUERY_MAX_ARGS];
	int			nargs = walmon_queries[q].nargs;
	int			rc;

	for (int i = 0; i < nargs; i++)
		nulls[i] = (isnull != NULL && isnull[i]) ? 'n' : ' ';

	rc = SPI_execute_plan(store_plan(q), values, nulls, false, 0);
	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for walmon statement %d",
			 SPI_result_code_string(rc), (int) q);
	return (int) SPI_processed;
}

/*
 * A whole store operation of one statement: run it as the owner and return
 * the number of rows it processed.
 */
static int
store_run(WalmonQuery q, Datum *values, int expected)
{
	WalmonStoreCall call;
	int			n;

	store_begin(&call);
	n = store_execute(q, values, NULL, expected);
	store_end(&call);
	return n;
}

/* Put one wal_monitor composite value into a tuplestore of such rows. */
static void
store_put_row(Tuplestorestate *tupstore, Datum row)
{
	HeapTupleHeader td = DatumGetHeapTupleHeader(row);
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	tuplestore_puttuple(tupstore, &tuple);
}

/*
 * Copy the rows of the last statement, each a single whole-row value of
 * wal_monitor, into a tuplestore of wal_monitor rows.
 */
static void
store_put_rows(Tuplestorestate *tupstore)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			store_put_row(tupstore, d);
	}
}

/*
 * Upsert one monitor row inside an open store call; returns the number of
 * rows written (0 only when the source is not registered).
 */
static int
store_upsert_one(const WalmonUpsert *u)
{
	Datum	   *values = (Datum *) u->values;

	if (store_execute(Q_UPSERT_UPDATE, values, u->isnull,
					  SPI_OK_UPDATE_RETURNING) > 0)
		return 1;
	return store_execute(Q_UPSERT_INSERT, values, u->isnull,
						 SPI_OK_INSERT_RETURNING);
}

/*
 * Upsert the monitor row of one source; returns the row as a wal_monitor
 * composite allocated in the caller's memory context, or sets *registered
 * to false (and writes nothing) when the source is not registered.
 */
Datum
walmon_store_upsert(const WalmonUpsert *u, bool *registered)
{
	WalmonStoreCall call;
	bool		isnull;
	Datum		result = (Datum) 0;

	store_begin(&call);
	*registered = store_upsert_one(u) > 0;
	if (*registered)
	{
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
							   1, &isnull);
		result = SPI_datumTransfer(result, false, -1);
	}
	store_end(&call);

	return result;
}

/* One row a batch wrote, kept until all are sorted by source_id. */
typedef struct WalmonBatchRow
{
	int32		source_id;
	Datum		row;
} WalmonBatchRow;

static int
store_cmp_batch_row(const void *a, const void *b)
{
	int32		sa = ((const WalmonBatchRow *) a)->source_id;
	int32		sb = ((const WalmonBatchRow *) b)->source_id;

	return (sa > sb) - (sa < sb);
}

/*
 * One array per upsert argument, holding the argument of every element of
 * u[] that sel[] selects.
 */
static void
store_batch_arrays(const WalmonUpsert *u, int n, const bool *sel,
				   Datum *arrays)
{
	static const Oid elemtypes[WALMON_UPSERT_NARGS] = {
		INT4OID, LSNOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
		INT8OID, TEXTOID, TEXTOID
	};

	for (int arg = 0; arg < WALMON_UPSERT_NARGS; arg++)
	{
		Datum	   *elems = palloc_array(Datum, Max(n, 1));
		bool	   *nulls = palloc_array(bool, Max(n, 1));
		int			k = 0;

		for (int i = 0; i < n; i++)
		{
			if (!sel[i])
				continue;
			elems[k] = u[i].values[arg];
			nulls[k] = u[i].isnull[arg];
			k++;
		}
		arrays[arg] = store_make_array(elems, nulls, k, elemtypes[arg]);
	}
}

/*
 * Upsert many monitor rows; u[] is sorted by source_id with one element
 * per source.  Rows that exist are locked in source_id order and updated
 * by one statement (a kept plan per element would also scan the table once
 * per element when its generic plan is a sequential scan of a table that
 * was small when planned, and the batch grows it); sources without a row
 * then take the single upsert's path, in source_id order.  Puts every
 * resulting row in tupstore, by source_id.
 *
 * Stops at the first element whose source is not registered and returns
 * its index (the caller raises an error, which undoes what was written);
 * returns -1 when all were written.
 */
int
walmon_store_upsert_many(const WalmonUpsert *u, int n,
						 Tuplestorestate *tupstore)
{
	WalmonStoreCall call;
	int			unregistered = -1;
	bool	   *locked = palloc0_array(bool, Max(n, 1));
	bool	   *all = palloc_array(bool, Max(n, 1));
	WalmonBatchRow *rows = palloc_array(WalmonBatchRow, Max(n, 1));
	int			nrows = 0;
	int			nlocked = 0;
	int			i;
	Datum		arrays[WALMON_UPSERT_NARGS];

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++)
		all[i] = true;

	store_begin(&call);

	/* lock the existing rows, in order; both lists are sorted: merge them */
	store_batch_arrays(u, n, all, arrays);
	store_execute(Q_BATCH_LOCK, arrays, NULL, SPI_OK_SELECT);
	i = 0;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
													 SPI_tuptable->tupdesc,
													 1, &isnull));

		while (i < n && DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]) < id)
			i++;
		if (i < n && DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]) == id)
		{
			locked[i] = true;
			nlocked++;
		}
	}
	SPI_freetuptable(SPI_tuptable);

	/* update them in one statement */
	if (nlocked > 0)
	{
		store_batch_arrays(u, n, locked, arrays);
		store_execute(Q_BATCH_UPDATE, arrays, NULL, SPI_OK_UPDATE_RETURNING);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			rows[nrows].source_id =
				DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
											SPI_tuptable->tupdesc, 1, &isnull));
			rows[nrows].row =
				SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[r],
												SPI_tuptable->tupdesc, 2, &isnull),
								  false, -1);
			nrows++;
		}
		SPI_freetuptable(SPI_tuptable);
	}

	/* the others one by one: an update (the row may have appeared), or an insert */
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		if (locked[i])
			continue;
		if (store_upsert_one(&u[i]) == 0)
		{
			unregistered = i;
			break;
		}
		rows[nrows].source_id = DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]);
		rows[nrows].row = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc,
														  1, &isnull),
											false, -1);
		nrows++;
		SPI_freetuptable(SPI_tuptable);
	}
	store_end(&call);

	if (unregistered >= 0)
		return unregistered;

	qsort(rows, nrows, sizeof(WalmonBatchRow), store_cmp_batch_row);
	for (i = 0; i < nrows; i++)
		store_put_row(tupstore, rows[i].row);
	return -1;
}

/*
 * Put the monitor row of one source, or of all sources by source_id, into
 * tupstore.
 */
void
walmon_store_status(Tuplestorestate *tupstore, bool all, int32 source_id)
{
	WalmonStoreCall call;
	Datum		arg = Int32GetDatum(source_id);

	store_begin(&call);
	if (all)
		store_execute(Q_STATUS_ALL, NULL, NULL, SPI_OK_SELECT);
	else
		store_execute(Q_STATUS_ONE, &arg, NULL, SPI_OK_SELECT);
	store_put_rows(tupstore);
	store_end(&call);
}

/*
 * Change status and error message of an existing monitor row.  Returns the
 * new row, or sets *found to false when the source has no monitor row.
 */
Datum
walmon_store_set_status(int32 source_id, Datum status, Datum error_message,
						bool error_isnull, bool *found)
{
	WalmonStoreCall call;
	Datum		values[3];
	bool		isnull[3] = {false, false, error_isnull};
	Datum		result = (Datum) 0;

	values[0] = Int32GetDatum(source_id);
	values[1] = status;
	values[2] = error_message;

	store_begin(&call);
	*found = store_execute(Q_SET_STATUS, values, isnull,
						   SPI_OK_UPDATE_RETURNING) > 0;
	if (*found)
	{
		bool		rnull;

		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
							   1, &rnull);
		result = SPI_datumTransfer(result, false, -1);
	}
	store_end(&call);

	return result;
}

/* Delete the monitor row of a source; true when there was one. */
bool
walmon_store_delete_monitor(int32 source_id)
{
	Datum		arg = Int32GetDatum(source_id);

	return store_run(Q_DELETE_MONITOR, &arg, SPI_OK_DELETE) > 0;
}

/* Delete a source and, by cascade, its monitor row; true when it existed. */
bool
walmon_store_drop_source(int32 source_id)
{
	Datum		arg = Int32GetDatum(source_id);

	return store_run(Q_DROP_SOURCE, &arg, SPI_OK_DELETE) > 0;
}

/*
 * Register a source; returns its id.  With an id of the caller's, the
 * source table is locked against other inserts until commit (SHARE ROW
 * EXCLUSIVE conflicts with itself and with ROW EXCLUSIVE), so that moving
 * the sequence past that id cannot race with another session drawing ids.
 */
int32
walmon_store_add_source(Datum name, Datum slot_name, bool slot_isnull,
						int32 id, bool id_isnull)
{
	WalmonStoreCall call;
	Datum		values[4];
	bool		isnull[4] = {false, slot_isnull, false, false};
	bool		rnull;
	int32		result;

	values[0] = name;
	values[1] = slot_name;
	values[2] = Int32GetDatum(id);

	store_begin(&call);
	if (id_isnull)
		store_execute(Q_ADD_SOURCE, values, isnull, SPI_OK_INSERT_RETURNING);
	else
	{
		LockRelationOid(store.source_relid, ShareRowExclusiveLock);
		store_execute(Q_ADD_SOURCE_WITH_ID, values, isnull,
					  SPI_OK_INSERT_RETURNING);
	}
	result = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &rnull));
	if (!id_isnull)
	{
		values[3] = ObjectIdGetDatum(store.source_seqid);
		store_execute(Q_ADVANCE_SOURCE_ID, &values[2], NULL, SPI_OK_SELECT);
	}
	store_end(&call);

	return result;
}

/* Append one status change to wal_monitor_history. */
void
walmon_store_record_history(const WalmonHistoryEvent *ev)
{
	WalmonStoreCall call;
	Datum		values[6];
	bool		isnull[6];

	values[0] = ev->source_id;
	isnull[0] = false;
	values[1] = ev->old_status;
	isnull[1] = ev->old_status_isnull;
	values[2] = ev->new_status;
	isnull[2] = false;
	values[3] = ev->error_message;
	isnull[3] = ev->error_message_isnull;
	values[4] = ev->wal_lsn;
	isnull[4] = ev->wal_lsn_isnull;
	values[5] = ev->lag;
	isnull[5] = ev->lag_isnull;

	store_begin(&call);
	store_execute(Q_RECORD_HISTORY, values, isnull, SPI_OK_INSERT);
	store_end(&call);
}

/*
 * The state of every source that has a monitor row, by source id, in an
 * array allocated in the caller's memory context.
 */
WalmonSourceState *
walmon_store_source_states(int *n)
{
	MemoryContext callercxt = CurrentMemoryContext;
	WalmonStoreCall call;
	WalmonSourceState *states;

	store_begin(&call);
	store_execute(Q_SOURCE_STATES, NULL, NULL, SPI_OK_SELECT);
	*n = (int) SPI_processed;
	states = MemoryContextAllocZero(callercxt,
									sizeof(WalmonSourceState) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		WalmonSourceState *st = &states[i];
		bool		isnull;
		char	   *slot;

		st->source_id = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		st->name = MemoryContextStrdup(callercxt, SPI_getvalue(tuple, tupdesc, 2));
		slot = SPI_getvalue(tuple, tupdesc, 3);
		st->slot_name = slot ? MemoryContextStrdup(callercxt, slot) : NULL;
		st->status = MemoryContextStrdup(callercxt, SPI_getvalue(tuple, tupdesc, 4));
		st->lag = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 5, &st->lag_isnull));
		st->wal_age = DatumGetFloat8(SPI_getbinval(tuple, tupdesc, 6,
												   &st->wal_age_isnull));
	}
	store_end(&call);

	return states;
}

/* ----------------------------------------------------------------
 * The refresh cycle's statements (refresh.c)
 * ----------------------------------------------------------------
 */

/*
 * Start a refresh: find the extension and lock walmon_source in SHARE ROW
 * EXCLUSIVE mode until the end of the transaction.  The lock conflicts
 * with itself, so refresh cycles run one at a time per database (the
 * worker's and walmon_refresh() calls), and with sources being added or
 * dropped meanwhile; it does not conflict with upserts.  DROP EXTENSION
 * holds a stronger lock: a refresh that waited for it finds the extension
 * gone once it gets the lock.  With wait false the lock is only tried.
 */
WalmonRefreshStart
walmon_store_refresh_begin(bool wait)
{
	for (;;)
	{
		Oid			relid;

		if (!store_lookup(true))
			return WALMON_REFRESH_NO_EXTENSION;
		relid = store.source_relid;

		if (wait)
			LockRelationOid(relid, ShareRowExclusiveLock);
		else if (!ConditionalLockRelationOid(relid, ShareRowExclusiveLock))
			return WALMON_REFRESH_BUSY;

		/*
		 * Taking the lock processed pending invalidations: if walmon's
		 * tables changed meanwhile, look again.
		 */
		if (store.valid && store.source_relid == relid)
			return WALMON_REFRESH_OK;
		UnlockRelationOid(relid, ShareRowExclusiveLock);
	}
}

/* A nullable int8, pg_lsn or timestamptz column of an SPI result row. */
static WalmonInt64
store_get_int64(HeapTuple tuple, TupleDesc tupdesc, int col)
{
	WalmonInt64 result;
	Datum		d = SPI_getbinval(tuple, tupdesc, col, &result.isnull);

	result.value = result.isnull ? 0 : DatumGetInt64(d);
	return result;
}

/* A nullable text column, copied into cxt; NULL when null. */
static char *
store_get_text(HeapTuple tuple, TupleDesc tupdesc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, tupdesc, col, &isnull);
	MemoryContext old;
	char	   *result;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	result = TextDatumGetCString(d);
	MemoryContextSwitchTo(old);
	return result;
}

/* A name column, copied into cxt. */
static char *
store_get_name(HeapTuple tuple, TupleDesc tupdesc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, tupdesc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, NameStr(*DatumGetName(d)));
}

static bool
store_get_bool(HeapTuple tuple, TupleDesc tupdesc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * Every permanent replication slot of the server, in the caller's memory
 * context.
 */
WalmonSlot *
walmon_store_read_slots(int *nslots)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	WalmonSlot *slots;
	int			n;

	store_begin(&call);
	n = store_execute(Q_REFRESH_SLOTS, NULL, NULL, SPI_OK_SELECT);
	slots = MemoryContextAllocZero(caller, sizeof(WalmonSlot) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		WalmonSlot *slot = &slots[i];
		char	   *slot_type;

		slot->name = store_get_name(tuple, tupdesc, 1, caller);
		slot_type = store_get_text(tuple, tupdesc, 2, CurrentMemoryContext);
		slot->logical = slot_type != NULL && strcmp(slot_type, "logical") == 0;
		slot->active = store_get_bool(tuple, tupdesc, 3);
		slot->restart_lsn = store_get_int64(tuple, tupdesc, 4);
		slot->confirmed_flush_lsn = store_get_int64(tuple, tupdesc, 5);
		slot->wal_status = store_get_text(tuple, tupdesc, 6, caller);
		slot->safe_wal_size_isnull = store_get_bool(tuple, tupdesc, 7);
		slot->conflicting = store_get_bool(tuple, tupdesc, 8);
		slot->invalidation_reason = store_get_text(tuple, tupdesc, 9, caller);
		slot->inactive_since = store_get_int64(tuple, tupdesc, 10);
	}
	store_end(&call);

	*nslots = n;
	return slots;
}

/*
 * Every source bound to a slot, with its monitor row when it has one, in
 * the caller's memory context.
 */
WalmonSlotRow *
walmon_store_read_slot_rows(int *nrows)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	WalmonSlotRow *rows;
	int			n;

	store_begin(&call);
	n = store_execute(Q_REFRESH_ROWS, NULL, NULL, SPI_OK_SELECT);
	rows = MemoryContextAllocZero(caller, sizeof(WalmonSlotRow) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		WalmonSlotRow *row = &rows[i];
		bool		isnull;

		row->source_id = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		row->slot_name = store_get_name(tuple, tupdesc, 2, caller);
		row->has_row = store_get_bool(tuple, tupdesc, 3);
		row->wal_lsn = store_get_int64(tuple, tupdesc, 4);
		row->wal_position = store_get_int64(tuple, tupdesc, 5);
		row->last_wal_received = store_get_int64(tuple, tupdesc, 6);
		row->last_transaction_time = store_get_int64(tuple, tupdesc, 7);
		row->replication_slot_name = store_get_text(tuple, tupdesc, 8, caller);
		row->replication_lag_bytes = store_get_int64(tuple, tupdesc, 9);
		row->status = store_get_text(tuple, tupdesc, 10, caller);
		row->error_message = store_get_text(tuple, tupdesc, 11, caller);
		row->retained_wal_bytes = store_get_int64(tuple, tupdesc, 12);
		row->wal_status = store_get_text(tuple, tupdesc, 13, caller);
		row->safe_wal_size = store_get_int64(tuple, tupdesc, 14);
		row->inactive_since = store_get_int64(tuple, tupdesc, 15);
	}
	store_end(&call);

	*nrows = n;
	return rows;
}

/*
 * Register a source for each of the given slots unless a source already
 * has its name or its slot.  Returns the ids of the sources registered,
 * and their slot names in *registered, in the caller's memory context.
 */
int32 *
walmon_store_register_slots(char **slot_names, int n, char ***registered,
							int *nregistered)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	Datum	   *elems = palloc_array(Datum, Max(n, 1));
	Datum		arg;
	int32	   *ids;
	int			done;

	for (int i = 0; i < n; i++)
	{
		Name		name = palloc0(NAMEDATALEN);

		namestrcpy(name, slot_names[i]);
		elems[i] = NameGetDatum(name);
	}
	arg = PointerGetDatum(construct_array(elems, n, NAMEOID, NAMEDATALEN,
										  false, TYPALIGN_CHAR));

	store_begin(&call);
	done = store_execute(Q_REFRESH_REGISTER, &arg, NULL,
						 SPI_OK_INSERT_RETURNING);
	ids = MemoryContextAlloc(caller, sizeof(int32) * Max(done, 1));
	*registered = MemoryContextAlloc(caller, sizeof(char *) * Max(done, 1));
	for (int i = 0; i < done; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1,
											 &isnull));
		(*registered)[i] = store_get_name(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 2, caller);
	}
	store_end(&call);

	*nregistered = done;
	return ids;
}

/* One of the parallel arrays of Q_REFRESH_UPDATE and Q_REFRESH_INSERT. */
typedef enum StoreColumnKind
{
	COL_INT64,
	COL_TEXT
} StoreColumnKind;

typedef struct StoreColumn
{
	size_t		offset;			/* in WalmonSlotRow */
	StoreColumnKind kind;
	Oid			elemtype;
} StoreColumn;

static const StoreColumn store_slot_row_columns[] = {
	{offsetof(WalmonSlotRow, wal_lsn), COL_INT64, LSNOID},
	{offsetof(WalmonSlotRow, wal_position), COL_INT64, INT8OID},
	{offsetof(WalmonSlotRow, last_wal_received), COL_INT64, TIMESTAMPTZOID},
	{offsetof(WalmonSlotRow, last_transaction_time), COL_INT64, TIMESTAMPTZOID},
	{offsetof(WalmonSlotRow, replication_slot_name), COL_TEXT, TEXTOID},
	{offsetof(WalmonSlotRow, replication_lag_bytes), COL_INT64, INT8OID},
	{offsetof(WalmonSlotRow, status), COL_TEXT, TEXTOID},
	{offsetof(WalmonSlotRow, error_message), COL_TEXT, TEXTOID},
	{offsetof(WalmonSlotRow, retained_wal_bytes), COL_INT64, INT8OID},
	{offsetof(WalmonSlotRow, wal_status), COL_TEXT, TEXTOID},
	{offsetof(WalmonSlotRow, safe_wal_size), COL_INT64, INT8OID},
	{offsetof(WalmonSlotRow, inactive_since), COL_INT64, TIMESTAMPTZOID},
};

/* Build a one-dimensional array of n elements, some of them null. */
static Datum
store_make_array(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}

/*
 * Write monitor rows computed by the refresh: update existing ones or
 * insert new ones, with one statement.
 */
void
walmon_store_write_slot_rows(const WalmonSlotRow *rows, int n, bool insert)
{
	WalmonStoreCall call;
	Datum		args[WALMON_QUERY_MAX_ARGS];
	Datum	   *elems;
	bool	   *nulls;

	if (n == 0)
		return;

	elems = palloc_array(Datum, n);
	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(rows[i].source_id);
	args[0] = store_make_array(elems, NULL, n, INT4OID);

	for (int c = 0; c < (int) lengthof(store_slot_row_columns); c++)
	{
		const StoreColumn *col = &store_slot_row_columns[c];

		elems = palloc_array(Datum, n);
		nulls = palloc_array(bool, n);
		for (int i = 0; i < n; i++)
		{
			const char *field = (const char *) &rows[i] + col->offset;

			if (col->kind == COL_INT64)
			{
				const WalmonInt64 *v = (const WalmonInt64 *) field;

				nulls[i] = v->isnull;
				elems[i] = v->isnull ? (Datum) 0 : Int64GetDatum(v->value);
			}
			else
			{
				const char *v = *(char *const *) field;

				nulls[i] = v == NULL;
				elems[i] = v == NULL ? (Datum) 0 : CStringGetTextDatum(v);
			}
		}
		args[c + 1] = store_make_array(elems, nulls, n, col->elemtype);
	}

	store_begin(&call);
	/* lock in source_id order first, as batches do, so neither deadlocks */
	if (!insert)
		store_execute(Q_BATCH_LOCK, args, NULL, SPI_OK_SELECT);
	store_execute(insert ? Q_REFRESH_INSERT : Q_REFRESH_UPDATE, args, NULL,
				  insert ? SPI_OK_INSERT : SPI_OK_UPDATE);
	store_end(&call);
}

/* Sample the monitors that changed since their last sample; rows added. */
int
walmon_store_sample_metrics(void)
{
	return store_run(Q_SAMPLE_METRICS, NULL, SPI_OK_INSERT);
}

/* Delete at most limit samples older than cutoff; rows deleted. */
int
walmon_store_prune_metrics(TimestampTz cutoff, int limit)
{
	Datum		args[2] = {TimestampTzGetDatum(cutoff), Int32GetDatum(limit)};

	return store_run(Q_PRUNE_METRICS, args, SPI_OK_DELETE);
}

/* Delete at most limit stale monitor rows; rows deleted. */
int
walmon_store_expire_monitors(TimestampTz cutoff, int limit)
{
	Datum		args[2] = {TimestampTzGetDatum(cutoff), Int32GetDatum(limit)};

	return store_run(Q_EXPIRE_MONITORS, args, SPI_OK_DELETE);
}
