/*-------------------------------------------------------------------------
 *
 * store.c
 *		The only part of walmon that knows its SQL: every statement that
 *		reads or writes walmon's tables is written here, prepared through
 *		SPI and kept (SPI_keepplan) for the session.
 *
 * Trust
 * -----
 * The statements run as the owner of the extension, a superuser, so that
 * callers need EXECUTE on a walmon function and no privilege on the tables
 * (as ri_triggers.c runs foreign-key checks as the table owner).  Nothing a
 * caller or a less trusted role controls may therefore decide what they
 * touch:
 *
 *	- The store binds to walmon's relations by OID: the members of the
 *	  extension (pg_depend) with the expected names.  A relation that is
 *	  not a member is never used, whatever its name and schema.
 *	- SQL text needs names, so it is written from those OIDs, with the
 *	  relations' current schema and name, each time a plan is prepared.
 *	  A kept plan that PostgreSQL invalidated (a schema was renamed or
 *	  created, a table altered) is never re-analysed from stale text: it is
 *	  written anew from the OIDs, as ri_triggers.c does for its own plans.
 *	  Invalidation messages are read at the start of every store call.
 *	- Every function, operator and type is qualified with pg_catalog, and
 *	  while a statement runs the search_path is pg_catalog alone.
 *	- Statements run under SECURITY_RESTRICTED_OPERATION, as maintenance
 *	  commands run index expressions: no SET ROLE, no temporary objects, no
 *	  deferred triggers, nothing that could outlive the call.
 *	- The shape of every table (its columns' types and the unique constraint
 *	  the upserts rely on) is checked when the store binds to it, so that a
 *	  superuser's ALTER TABLE costs a clear error instead of a crash.
 *
 * The binding is forgotten when the relcache reports a change to one of
 * walmon's relations or any schema changes; replaced plans are freed at the
 * end of the transaction, when none of them can still be running.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "storage/sinval.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/typcache.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "walmon.h"

/* ----------------------------------------------------------------
 * The relations the store binds to
 * ----------------------------------------------------------------
 */
typedef enum WalmonRel
{
	REL_SOURCE,
	REL_MONITOR,
	REL_HISTORY,
	REL_METRICS,
	REL_SOURCE_SEQ,
	REL_MONITOR_SEQ,
	REL_IGNORED,				/* 1.1 */
	REL_SERVER,					/* 1.1 */
	WALMON_NUM_RELS
} WalmonRel;

typedef struct StoreRelSpec
{
	const char *name;
	const char *token;			/* stands for its qualified name in SQL */
	char		relkind;
	int			since;			/* WALMON_VERSION_* */
} StoreRelSpec;

static const StoreRelSpec store_rels[WALMON_NUM_RELS] = {
	[REL_SOURCE] = {"walmon_source", "@source@", RELKIND_RELATION, WALMON_VERSION_1_0},
	[REL_MONITOR] = {"wal_monitor", "@monitor@", RELKIND_RELATION, WALMON_VERSION_1_0},
	[REL_HISTORY] = {"wal_monitor_history", "@history@", RELKIND_RELATION, WALMON_VERSION_1_0},
	[REL_METRICS] = {"wal_metrics", "@metrics@", RELKIND_RELATION, WALMON_VERSION_1_0},
	[REL_SOURCE_SEQ] = {"walmon_source_id_seq", "@source_seq@", RELKIND_SEQUENCE, WALMON_VERSION_1_0},
	[REL_MONITOR_SEQ] = {"wal_monitor_id_seq", "@monitor_seq@", RELKIND_SEQUENCE, WALMON_VERSION_1_0},
	[REL_IGNORED] = {"walmon_ignored_slot", "@ignored@", RELKIND_RELATION, WALMON_VERSION_1_1},
	[REL_SERVER] = {"walmon_server", "@server@", RELKIND_RELATION, WALMON_VERSION_1_1},
};

/*
 * The columns walmon reads or writes, with the type it expects (a domain
 * over that type will do) and the extension version that added them.
 */
typedef struct StoreColumnSpec
{
	WalmonRel	rel;
	const char *name;
	Oid			type;
	int			since;			/* WALMON_VERSION_* */
} StoreColumnSpec;

static const StoreColumnSpec store_columns[] = {
	{REL_SOURCE, "id", INT4OID, WALMON_VERSION_1_0},
	{REL_SOURCE, "name", TEXTOID, WALMON_VERSION_1_0},
	{REL_SOURCE, "slot_name", NAMEOID, WALMON_VERSION_1_0},
	{REL_SOURCE, "created_at", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_SOURCE, "server", NAMEOID, WALMON_VERSION_1_1},
	{REL_SOURCE, "auto_registered", BOOLOID, WALMON_VERSION_1_1},
	{REL_IGNORED, "server", NAMEOID, WALMON_VERSION_1_1},
	{REL_IGNORED, "slot_name", NAMEOID, WALMON_VERSION_1_1},
	{REL_SERVER, "server", NAMEOID, WALMON_VERSION_1_1},

	{REL_MONITOR, "id", INT4OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "source_id", INT4OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "wal_lsn", LSNOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "wal_position", INT8OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "last_wal_received", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "last_transaction_time", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "replication_slot_name", TEXTOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "replication_lag_bytes", INT8OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "status", TEXTOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "error_message", TEXTOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "created_at", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "updated_at", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "retained_wal_bytes", INT8OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "wal_status", TEXTOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "safe_wal_size", INT8OID, WALMON_VERSION_1_0},
	{REL_MONITOR, "inactive_since", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_MONITOR, "replication_lag_seconds", FLOAT8OID, WALMON_VERSION_1_1},
	{REL_MONITOR, "seconds_to_invalidation", FLOAT8OID, WALMON_VERSION_1_1},
	{REL_MONITOR, "xmin_age", INT4OID, WALMON_VERSION_1_1},
	{REL_MONITOR, "catalog_xmin_age", INT4OID, WALMON_VERSION_1_1},
	{REL_MONITOR, "conflicting", BOOLOID, WALMON_VERSION_1_1},
	{REL_MONITOR, "failover", BOOLOID, WALMON_VERSION_1_1},
	{REL_MONITOR, "synced", BOOLOID, WALMON_VERSION_1_1},
	{REL_MONITOR, "invalidation_reason", TEXTOID, WALMON_VERSION_1_1},

	{REL_HISTORY, "source_id", INT4OID, WALMON_VERSION_1_0},
	{REL_HISTORY, "old_status", TEXTOID, WALMON_VERSION_1_0},
	{REL_HISTORY, "new_status", TEXTOID, WALMON_VERSION_1_0},
	{REL_HISTORY, "error_message", TEXTOID, WALMON_VERSION_1_0},
	{REL_HISTORY, "wal_lsn", LSNOID, WALMON_VERSION_1_0},
	{REL_HISTORY, "replication_lag_bytes", INT8OID, WALMON_VERSION_1_0},

	{REL_METRICS, "id", INT8OID, WALMON_VERSION_1_0},
	{REL_METRICS, "source_id", INT4OID, WALMON_VERSION_1_0},
	{REL_METRICS, "sampled_at", TIMESTAMPTZOID, WALMON_VERSION_1_0},
	{REL_METRICS, "wal_lsn", LSNOID, WALMON_VERSION_1_0},
	{REL_METRICS, "replication_lag_bytes", INT8OID, WALMON_VERSION_1_0},
	{REL_METRICS, "status", TEXTOID, WALMON_VERSION_1_0},
	{REL_METRICS, "spill_bytes", INT8OID, WALMON_VERSION_1_1},
	{REL_METRICS, "stream_bytes", INT8OID, WALMON_VERSION_1_1},
};

/*
 * A batch of up to this many elements is written one element at a time: as
 * fast for so few, and without copying any value into arrays.
 */
#define WALMON_BATCH_ONE_BY_ONE 8

/* the unique constraint on wal_monitor(source_id) the upserts rely on */
#define WALMON_UNIQUE_SOURCE "unique_source_wal"

/*
 * The samples' statements (Q_SAMPLE_METRICS, Q_SAMPLE_WRITTEN): an insert of
 * each monitor's state, with the monitor's last sample p to compare with.
 * A sample also keeps the spill and stream bytes of a local logical slot as
 * pg_stat_replication_slots shows them (NULL for any other source: a
 * physical slot, another server's slot, an application's source).  The view
 * is read once, into one jsonb object keyed by slot name, in which each
 * monitor looks its slot up (a binary search): a join with the view, even
 * read once (MATERIALIZED), scans all of it again for every monitor in the
 * nested loop a generic plan picks, 1,600 monitors and 600 logical slots
 * taking 190 ms instead of 55.  Only 1.1 has those columns, and only 1.1
 * runs cycles (walmon_store_refresh_begin).
 */
#define SAMPLE_STATS(where) \
	"WITH r AS MATERIALIZED (SELECT pg_catalog.jsonb_object_agg(x.slot_name," \
	"  pg_catalog.jsonb_build_array(x.spill_bytes, x.stream_bytes)) AS stats" \
	" FROM pg_catalog.pg_stat_replication_slots AS x" where ")" \
	" INSERT INTO @metrics@" \
	" (source_id, sampled_at, wal_lsn, replication_lag_bytes, status," \
	"  spill_bytes, stream_bytes)"
#define SAMPLE_STAT(local, slot, i) \
	"CASE WHEN " local \
	" THEN ((r.stats OPERATOR(pg_catalog.->) " slot "::pg_catalog.text)" \
	"  OPERATOR(pg_catalog.->>) " #i ")::pg_catalog.int8 END"
#define SAMPLE_INSERT \
	SAMPLE_STATS("") \
	" SELECT w.source_id, pg_catalog.now(), w.wal_lsn," \
	"  w.replication_lag_bytes, w.status," \
	" " SAMPLE_STAT("s.server IS NULL", "s.slot_name", 0) "," \
	" " SAMPLE_STAT("s.server IS NULL", "s.slot_name", 1) \
	" FROM r, @monitor@ AS w" \
	" LEFT JOIN LATERAL (SELECT m.sampled_at, m.wal_lsn," \
	"  m.replication_lag_bytes, m.status" \
	"  FROM @metrics@ AS m" \
	"  WHERE m.source_id OPERATOR(pg_catalog.=) w.source_id" \
	"  ORDER BY m.sampled_at DESC, m.id DESC LIMIT 1) AS p ON true" \
	" LEFT JOIN @source@ AS s ON s.id OPERATOR(pg_catalog.=) w.source_id"

/* the state differs from the last sample's, or there is none */
#define SAMPLE_DIFFERS \
	"NOT (p.status OPERATOR(pg_catalog.=) w.status)" \
	" OR NOT COALESCE(p.wal_lsn OPERATOR(pg_catalog.=) w.wal_lsn," \
	"  p.wal_lsn IS NULL AND w.wal_lsn IS NULL)" \
	" OR NOT COALESCE(p.replication_lag_bytes OPERATOR(pg_catalog.=) w.replication_lag_bytes," \
	"  p.replication_lag_bytes IS NULL AND w.replication_lag_bytes IS NULL)"

#define SAMPLE_CHANGED \
	" WHERE w.status IS NOT NULL AND (p.status IS NULL OR " SAMPLE_DIFFERS ")"


/* ----------------------------------------------------------------
 * The statements
 *
 * "@source@" and the other tokens of store_rels stand for the qualified
 * name of the relation, written from its OID when the statement is
 * prepared.  The upsert statements take walmon_upsert's arguments as
 * $1..$9.
 * ----------------------------------------------------------------
 */
typedef enum WalmonQuery
{
	Q_UPSERT_KEEP,
	Q_UPSERT_UPDATE,
	Q_UPSERT_INSERT,
	Q_STATUS_ONE,
	Q_STATUS_ALL,
	Q_SET_STATUS,
	Q_DELETE_MONITOR,
	Q_DROP_SOURCE,
	Q_DROP_SOURCE_1_1,
	Q_ADD_SOURCE,
	Q_ADD_SOURCE_WITH_ID,
	Q_ADD_SOURCE_1_1,
	Q_ADVANCE_SOURCE_ID,
	Q_RECORD_HISTORY,
	Q_SOURCE_STATES,
	Q_SOURCE_STATES_1_1,
	Q_BATCH_REGISTERED,
	Q_BATCH_UPDATE,
	Q_BATCH_UPSERT,
	Q_SAMPLE_METRICS,
	Q_SAMPLE_WRITTEN,
	Q_PRUNE_METRICS,
	Q_EXPIRE_MONITORS,
	/* the refresh cycle (refresh.c) */
	Q_REFRESH_SLOTS,
	Q_REFRESH_ROWS_LOCAL,
	Q_REFRESH_ROWS,
	Q_REFRESH_IGNORED,
	Q_REFRESH_UNIGNORE,
	Q_REFRESH_REGISTER,
	Q_REFRESH_FORGET,
	Q_REFRESH_LOCK,
	Q_SERVERS,
	Q_COUNT_SOURCES,
	Q_BIND_SERVER,
	Q_UNBIND_SERVER,
	Q_REFRESH_UPDATE,
	Q_REFRESH_INSERT,
	WALMON_NUM_QUERIES
} WalmonQuery;

/* the most parameters a statement takes */
#define WALMON_QUERY_MAX_ARGS	(WALMON_UPSERT_NARGS + 1)

/* the row types of the record arrays (BATCH_ROWS_FROM and the others) */
typedef enum StoreRowType
{
	ROWTYPE_BATCH,				/* BATCH_ROWS_FROM */
	ROWTYPE_SLOT_ROW,			/* SLOT_ROWS_FROM */
	ROWTYPE_SAMPLE,				/* SAMPLE_ROWS_FROM */
	STORE_NUM_ROWTYPES
} StoreRowType;

typedef struct WalmonQueryDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[WALMON_QUERY_MAX_ARGS];
} WalmonQueryDef;

/*
 * The record arrays the store passes its statements: one element per row,
 * of a row type made once per session (store_rowtype()), which a statement
 * expands with pg_catalog.unnest and a column definition list of the same
 * columns and types (the executor checks each row against that list).  One
 * record per row costs far less to expand than one array per column: a
 * function scan of 21 parallel arrays fills and reads 21 tuplestores.
 */

/* a batch: walmon_upsert's arguments (WalmonUpsert.values), per element */
#define BATCH_ROWS_FROM \
	"pg_catalog.unnest($1) AS u(source_id pg_catalog.int4," \
	" wal_lsn pg_catalog.pg_lsn, wal_position pg_catalog.int8," \
	" last_wal_received pg_catalog.timestamptz," \
	" last_transaction_time pg_catalog.timestamptz," \
	" replication_slot_name pg_catalog.text," \
	" replication_lag_bytes pg_catalog.int8, status pg_catalog.text," \
	" error_message pg_catalog.text)"

/*
 * a slot row (WalmonSlotRow): source_id, the ctid of the version the cycle
 * read, then store_slot_row_columns
 */
#define SLOT_ROWS_FROM \
	"pg_catalog.unnest($1) AS v(source_id pg_catalog.int4," \
	" row_ctid pg_catalog.tid," \
	" wal_lsn pg_catalog.pg_lsn, wal_position pg_catalog.int8," \
	" last_wal_received pg_catalog.timestamptz," \
	" last_transaction_time pg_catalog.timestamptz," \
	" replication_slot_name pg_catalog.text," \
	" replication_lag_bytes pg_catalog.int8, status pg_catalog.text," \
	" error_message pg_catalog.text, retained_wal_bytes pg_catalog.int8," \
	" wal_status pg_catalog.text, safe_wal_size pg_catalog.int8," \
	" inactive_since pg_catalog.timestamptz," \
	" replication_lag_seconds pg_catalog.float8," \
	" seconds_to_invalidation pg_catalog.float8, xmin_age pg_catalog.int4," \
	" catalog_xmin_age pg_catalog.int4, conflicting pg_catalog.bool," \
	" failover pg_catalog.bool, synced pg_catalog.bool," \
	" invalidation_reason pg_catalog.text)"

/* a sample (WalmonSample) */
#define SAMPLE_ROWS_FROM \
	"pg_catalog.unnest($1) AS u(source_id pg_catalog.int4," \
	" wal_lsn pg_catalog.pg_lsn, replication_lag_bytes pg_catalog.int8," \
	" status pg_catalog.text, slot_name pg_catalog.text," \
	" local pg_catalog.bool)"

/* the sources bound to slots with their monitor rows (Q_REFRESH_ROWS) */
#define REFRESH_ROWS_SELECT \
	"SELECT s.id, s.slot_name, s.auto_registered, w.source_id IS NOT NULL," \
	" w.updated_at, w.wal_lsn, w.wal_position, w.last_wal_received," \
	" w.last_transaction_time, w.replication_slot_name," \
	" w.replication_lag_bytes, w.status, w.error_message," \
	" w.retained_wal_bytes, w.wal_status, w.safe_wal_size," \
	" w.inactive_since, w.replication_lag_seconds," \
	" w.seconds_to_invalidation, w.xmin_age, w.catalog_xmin_age," \
	" w.conflicting, w.failover, w.synced, w.invalidation_reason, w.xmax," \
	" w.ctid" \
	" FROM @source@ AS s" \
	" LEFT JOIN @monitor@ AS w" \
	" ON w.source_id OPERATOR(pg_catalog.=) s.id"

#define SLOT_ROW_COLUMNS \
	"wal_lsn, wal_position, last_wal_received, last_transaction_time," \
	" replication_slot_name, replication_lag_bytes, status, error_message," \
	" retained_wal_bytes, wal_status, safe_wal_size, inactive_since," \
	" replication_lag_seconds, seconds_to_invalidation, xmin_age," \
	" catalog_xmin_age, conflicting, failover, synced, invalidation_reason"

#define SLOT_ROW_VALUES \
	"v.wal_lsn, v.wal_position, v.last_wal_received, v.last_transaction_time," \
	" v.replication_slot_name, v.replication_lag_bytes, v.status," \
	" v.error_message, v.retained_wal_bytes, v.wal_status, v.safe_wal_size," \
	" v.inactive_since, v.replication_lag_seconds, v.seconds_to_invalidation," \
	" v.xmin_age, v.catalog_xmin_age, v.conflicting, v.failover, v.synced," \
	" v.invalidation_reason"

#define UPSERT_ARGTYPES \
	{INT4OID, LSNOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, \
	 INT8OID, TEXTOID, TEXTOID}

/* the columns an upsert writes, with the values of $2..$9 or u.* */
#define UPSERT_SET_LIST(src) \
	" wal_lsn = " src "wal_lsn, wal_position = " src "wal_position," \
	" last_wal_received = " src "last_wal_received," \
	" last_transaction_time = " src "last_transaction_time," \
	" replication_slot_name = " src "replication_slot_name," \
	" replication_lag_bytes = " src "replication_lag_bytes," \
	" status = " src "status, error_message = " src "error_message," \
	" updated_at = pg_catalog.now()"

static const WalmonQueryDef walmon_queries[WALMON_NUM_QUERIES] = {
	/*
	 * An upsert first updates the existing row: that path, taken by every
	 * call but a source's first, consumes no sequence value (INSERT ... ON
	 * CONFLICT would evaluate the id default before finding the conflict).
	 *
	 * Most calls keep the row's status.  Such a call writes every column
	 * but status, and only while the row's status is the one given: a
	 * statement that does not assign status does not fire the history
	 * trigger (AFTER UPDATE OF status), so the common call queues no
	 * trigger event and prepares no WHEN clause.  A row whose status
	 * differs, or that a concurrent transaction has just changed (the
	 * recheck of the updated row version fails), is left to
	 * Q_UPSERT_UPDATE, which assigns status and so records the change.
	 */
	[Q_UPSERT_KEEP] = {
		"UPDATE @monitor@ AS w SET"
		" wal_lsn = $2, wal_position = $3, last_wal_received = $4,"
		" last_transaction_time = $5, replication_slot_name = $6,"
		" replication_lag_bytes = $7, error_message = $9,"
		" updated_at = pg_catalog.now()"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1"
		" AND w.status OPERATOR(pg_catalog.=) $8"
		" RETURNING w.ctid",
		WALMON_UPSERT_NARGS, UPSERT_ARGTYPES
	},

	[Q_UPSERT_UPDATE] = {
		"UPDATE @monitor@ AS w SET"
		" wal_lsn = $2, wal_position = $3, last_wal_received = $4,"
		" last_transaction_time = $5, replication_slot_name = $6,"
		" replication_lag_bytes = $7, status = $8, error_message = $9,"
		" updated_at = pg_catalog.now()"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1"
		" RETURNING w.ctid",
		WALMON_UPSERT_NARGS, UPSERT_ARGTYPES
	},

	/*
	 * No row yet: insert one, for a registered source only.  A concurrent
	 * first upsert of the same source makes ON CONFLICT update the row that
	 * one inserted, so there is never a second row nor a unique violation.
	 */
	[Q_UPSERT_INSERT] = {
		"INSERT INTO @monitor@ AS w"
		" (source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message)"
		" SELECT s.id, $2, $3, $4, $5, $6, $7, $8, $9"
		" FROM @source@ AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) $1"
		" ON CONFLICT ON CONSTRAINT " WALMON_UNIQUE_SOURCE " DO UPDATE SET"
		UPSERT_SET_LIST("excluded.")
		" RETURNING w.ctid",
		WALMON_UPSERT_NARGS, UPSERT_ARGTYPES
	},

	[Q_STATUS_ONE] = {
		"SELECT w FROM @monitor@ AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	[Q_STATUS_ALL] = {
		"SELECT w FROM @monitor@ AS w"
		" ORDER BY w.source_id USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	[Q_SET_STATUS] = {
		"UPDATE @monitor@ AS w SET"
		" status = $2, error_message = $3, updated_at = pg_catalog.now()"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1"
		" RETURNING w.ctid",
		3, {INT4OID, TEXTOID, TEXTOID}
	},

	[Q_DELETE_MONITOR] = {
		"DELETE FROM @monitor@ AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	[Q_DROP_SOURCE] = {
		"DELETE FROM @source@ AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) $1",
		1, {INT4OID}
	},

	/*
	 * 1.1: a source bound to a slot leaves the slot excluded from
	 * auto-registration until the slot is gone or bound again by hand, so
	 * that dropping it sticks.  Returns how many sources were dropped.
	 */
	[Q_DROP_SOURCE_1_1] = {
		"WITH d AS (DELETE FROM @source@ AS s"
		"  WHERE s.id OPERATOR(pg_catalog.=) $1"
		"  RETURNING s.server, s.slot_name),"
		" i AS (INSERT INTO @ignored@ (server, slot_name)"
		"  SELECT d.server, d.slot_name FROM d WHERE d.slot_name IS NOT NULL"
		"  ON CONFLICT DO NOTHING)"
		" SELECT pg_catalog.count(*) FROM d",
		1, {INT4OID}
	},

	/*
	 * 1.1: a source with a server, and an id of its own or the next one
	 * ($5 is the id sequence); binding a slot by hand ends its exclusion.
	 */
	[Q_ADD_SOURCE_1_1] = {
		"WITH a AS (INSERT INTO @source@ AS s (name, slot_name, server, id)"
		"  VALUES ($1, $2, $3,"
		"   COALESCE($4, pg_catalog.nextval($5)::pg_catalog.int4))"
		"  RETURNING s.id, s.server, s.slot_name),"
		" u AS (DELETE FROM @ignored@ AS i USING a"
		"  WHERE i.slot_name OPERATOR(pg_catalog.=) a.slot_name"
		"  AND (i.server OPERATOR(pg_catalog.=) a.server"
		"   OR (i.server IS NULL AND a.server IS NULL)))"
		" SELECT a.id FROM a",
		5, {TEXTOID, NAMEOID, NAMEOID, INT4OID, REGCLASSOID}
	},

	[Q_ADD_SOURCE] = {
		"INSERT INTO @source@ AS s (name, slot_name)"
		" VALUES ($1, $2) RETURNING s.id",
		2, {TEXTOID, NAMEOID}
	},

	[Q_ADD_SOURCE_WITH_ID] = {
		"INSERT INTO @source@ AS s (name, slot_name, id)"
		" VALUES ($1, $2, $3) RETURNING s.id",
		3, {TEXTOID, NAMEOID, INT4OID}
	},

	/*
	 * After a source was added with an id of its own, move the sequence past
	 * it so that no generated id ever collides with it.  Never moves it back.
	 * pg_sequence_last_value() is null before the first nextval().
	 */
	[Q_ADVANCE_SOURCE_ID] = {
		"SELECT pg_catalog.setval($2, $1::pg_catalog.int8)"
		" WHERE $1::pg_catalog.int8 OPERATOR(pg_catalog.>)"
		" COALESCE(pg_catalog.pg_sequence_last_value($2), 0::pg_catalog.int8)",
		2, {INT4OID, REGCLASSOID}
	},

	[Q_RECORD_HISTORY] = {
		"INSERT INTO @history@"
		" (source_id, old_status, new_status, error_message, wal_lsn,"
		"  replication_lag_bytes)"
		" VALUES ($1, $2, $3, $4, $5, $6)",
		6, {INT4OID, TEXTOID, TEXTOID, TEXTOID, LSNOID, INT8OID}
	},

	/*
	 * The state of every source with a monitor row, for exporters.  An
	 * infinite last_wal_received (stored before walmon refused them, or by
	 * a plain UPDATE) has no age.
	 */
	[Q_SOURCE_STATES] = {
		"SELECT s.id, s.name, s.slot_name::pg_catalog.text, w.status,"
		" w.replication_lag_bytes,"
		" CASE WHEN pg_catalog.isfinite(w.last_wal_received)"
		"  THEN pg_catalog.date_part('epoch',"
		"   pg_catalog.now() OPERATOR(pg_catalog.-) w.last_wal_received) END"
		" FROM @source@ AS s"
		" JOIN @monitor@ AS w"
		"  ON w.source_id OPERATOR(pg_catalog.=) s.id"
		" ORDER BY s.id USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	/*
	 * 1.1: with the server and the numbers of slot-bound rows; the lag in
	 * seconds as of now: it is stored as of updated_at and grows with the
	 * clock while the slot does not move.
	 */
	[Q_SOURCE_STATES_1_1] = {
		"SELECT s.id, s.name, s.slot_name::pg_catalog.text, w.status,"
		" w.replication_lag_bytes,"
		" CASE WHEN pg_catalog.isfinite(w.last_wal_received)"
		"  THEN pg_catalog.date_part('epoch',"
		"   pg_catalog.now() OPERATOR(pg_catalog.-) w.last_wal_received) END,"
		" s.server::pg_catalog.text, w.retained_wal_bytes, w.safe_wal_size,"
		" CASE WHEN w.replication_lag_seconds OPERATOR(pg_catalog.>) 0::pg_catalog.float8"
		"   AND pg_catalog.isfinite(w.updated_at)"
		"  THEN w.replication_lag_seconds OPERATOR(pg_catalog.+)"
		"   pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) w.updated_at)"
		"  ELSE w.replication_lag_seconds END,"
		" w.seconds_to_invalidation, w.xmin_age::pg_catalog.int8,"
		" w.catalog_xmin_age::pg_catalog.int8"
		" FROM @source@ AS s"
		" JOIN @monitor@ AS w"
		"  ON w.source_id OPERATOR(pg_catalog.=) s.id"
		" ORDER BY s.id USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	/* which of the sources $1 (sorted) are registered */
	[Q_BATCH_REGISTERED] = {
		"SELECT s.id FROM @source@ AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY s.id USING OPERATOR(pg_catalog.<)",
		1, {INT4ARRAYOID}
	},

	/*
	 * A batch whose sources all have their row (every batch but a source's
	 * first): one UPDATE, which neither looks for a conflict nor locks a
	 * row before updating it, nor draws or looks up an id.  It must take
	 * its row locks in source_id order (see Q_BATCH_UPSERT): $1 is sorted
	 * by source_id, and the plan is made with nested loops only and
	 * sequential scans off (store_try_batch_update), so the rows are
	 * reached in the order of $1 (a nested loop over it, each an index
	 * probe), never in the order of a scan of the heap or of a join's hash
	 * table.  Each row comes back as soon as it is written,
	 * whole and with its source_id: the first one out of turn shows that
	 * a source before it had no row, and stops the statement there.
	 */
	[Q_BATCH_UPDATE] = {
		"UPDATE @monitor@ AS w SET"
		UPSERT_SET_LIST("u.")
		" FROM " BATCH_ROWS_FROM
		" WHERE w.source_id OPERATOR(pg_catalog.=) u.source_id"
		" RETURNING w, w.source_id",
		1, {RECORDARRAYOID}
	},

	/*
	 * A batch: one upsert per record of $1 (one per source), processed in
	 * source_id order, so that every row lock and every new key is taken in
	 * that order: two callers that both take their locks in source_id order
	 * cannot deadlock.  An element whose source has a row updates it with
	 * its own id, so no sequence value is consumed ($2 is wal_monitor's
	 * sequence); only a first row draws one.
	 * The rows come back whole, in the same order.
	 */
	[Q_BATCH_UPSERT] = {
		"INSERT INTO @monitor@ AS w"
		" (id, source_id, wal_lsn, wal_position, last_wal_received,"
		"  last_transaction_time, replication_slot_name,"
		"  replication_lag_bytes, status, error_message)"
		" SELECT COALESCE(m.id, pg_catalog.nextval($2)::pg_catalog.int4),"
		"  u.source_id, u.wal_lsn, u.wal_position, u.last_wal_received,"
		"  u.last_transaction_time, u.replication_slot_name,"
		"  u.replication_lag_bytes, u.status, u.error_message"
		" FROM " BATCH_ROWS_FROM
		" LEFT JOIN @monitor@ AS m"
		"  ON m.source_id OPERATOR(pg_catalog.=) u.source_id"
		" ORDER BY u.source_id USING OPERATOR(pg_catalog.<)"
		" ON CONFLICT ON CONSTRAINT " WALMON_UNIQUE_SOURCE " DO UPDATE SET"
		UPSERT_SET_LIST("excluded.")
		" RETURNING w",
		2, {RECORDARRAYOID, REGCLASSOID}
	},

	/*
	 * A sample of every monitor whose state (LSN, lag, status) differs from
	 * its previous sample; nothing when nothing changed.  NULL-safe
	 * comparisons are spelled out: IS DISTINCT FROM would look its operator
	 * up through the search_path.
	 */
	[Q_SAMPLE_METRICS] = {
		SAMPLE_INSERT SAMPLE_CHANGED,
		0, {InvalidOid}
	},

	/*
	 * Samples of the monitor rows a cycle just wrote, as it wrote them ($1,
	 * one record per WalmonSample: source id, LSN, lag, status, slot name,
	 * whether the slot is this server's); the view of the decoding
	 * statistics is read only when one is ($2).  Nothing is read
	 * again: the cycle chose the rows (cycle.c, refresh_sample_changed).
	 */
	[Q_SAMPLE_WRITTEN] = {
		SAMPLE_STATS(" WHERE $2")
		" SELECT u.source_id, pg_catalog.now(), u.wal_lsn,"
		"  u.replication_lag_bytes, u.status,"
		" " SAMPLE_STAT("u.local", "u.slot_name", 0) ","
		" " SAMPLE_STAT("u.local", "u.slot_name", 1)
		" FROM r, " SAMPLE_ROWS_FROM
		" WHERE u.status IS NOT NULL",
		2, {RECORDARRAYOID, BOOLOID}
	},

	/* at most $2 of the samples taken before $1, oldest first */
	[Q_PRUNE_METRICS] = {
		"DELETE FROM @metrics@ AS m"
		" WHERE m.id OPERATOR(pg_catalog.=) ANY (ARRAY("
		"  SELECT x.id FROM @metrics@ AS x"
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
		"DELETE FROM @monitor@ AS w"
		" WHERE w.id OPERATOR(pg_catalog.=) ANY (ARRAY("
		"  SELECT x.id FROM @monitor@ AS x"
		"  JOIN @source@ AS s ON s.id OPERATOR(pg_catalog.=) x.source_id"
		"  WHERE x.updated_at OPERATOR(pg_catalog.<) $1 AND s.slot_name IS NULL"
		"  ORDER BY x.updated_at LIMIT $2))",
		2, {TIMESTAMPTZOID, INT4OID}
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
	 * Every permanent replication slot.  A slot counts as active only while
	 * a walsender streams from it: pg_replication_slots also shows a slot
	 * active while a backend creates, drops or advances it, which would
	 * flash it ACTIVE.  Columns a server version lacks come as NULLs, so
	 * that the result has the same shape on every version.
	 */
	[Q_REFRESH_SLOTS] = {
		"SELECT s.slot_name, s.slot_type,"
		" COALESCE(s.active_pid OPERATOR(pg_catalog.=) ANY (ARRAY("
		"  SELECT ws.pid FROM pg_catalog.pg_stat_get_wal_senders() AS ws"
		"  WHERE ws.state OPERATOR(pg_catalog.=) ANY"
		"   ('{catchup,streaming}'::pg_catalog.text[]))), false),"
		" s.restart_lsn, s.confirmed_flush_lsn, s.wal_status, s.safe_wal_size,"
		" pg_catalog.age(s.xmin), pg_catalog.age(s.catalog_xmin),"
#ifdef WALMON_HAVE_SLOT_CONFLICTING
		" s.conflicting,"
#else
		" NULL::pg_catalog.bool,"
#endif
#ifdef WALMON_HAVE_SLOT_INVALIDATION_REASON
		" s.invalidation_reason, s.inactive_since, s.failover, s.synced"
#else
		" NULL::pg_catalog.text, NULL::pg_catalog.timestamptz,"
		" NULL::pg_catalog.bool, NULL::pg_catalog.bool"
#endif
		" FROM pg_catalog.pg_replication_slots AS s"
		" WHERE NOT s.temporary",
		0, {InvalidOid}
	},

	/*
	 * Every source bound to a local slot, with its monitor row when it has
	 * one (in no order: the cycle sorts them).  A statement of its own, not
	 * the next one with a NULL server: the planner then knows how many rows
	 * it reads and, once the tables were analyzed, joins them in one pass (a
	 * hash or merge join), not with an index probe per source.
	 */
	[Q_REFRESH_ROWS_LOCAL] = {
		REFRESH_ROWS_SELECT
		" WHERE s.slot_name IS NOT NULL AND s.server IS NULL",
		0, {InvalidOid}
	},

	/* the same for the slots of server $1 */
	[Q_REFRESH_ROWS] = {
		REFRESH_ROWS_SELECT
		" WHERE s.slot_name IS NOT NULL"
		" AND s.server OPERATOR(pg_catalog.=) $1",
		1, {NAMEOID}
	},

	/* the slots of server $1 whose dropped source must not come back */
	[Q_REFRESH_IGNORED] = {
		"SELECT i.slot_name FROM @ignored@ AS i"
		" WHERE (i.server OPERATOR(pg_catalog.=) $1 OR (i.server IS NULL AND $1 IS NULL))",
		1, {NAMEOID}
	},

	/* their slots are gone: a slot created with that name is registered */
	[Q_REFRESH_UNIGNORE] = {
		"DELETE FROM @ignored@ AS i"
		" WHERE (i.server OPERATOR(pg_catalog.=) $2 OR (i.server IS NULL AND $2 IS NULL))"
		" AND i.slot_name OPERATOR(pg_catalog.=) ANY ($1)",
		2, {NAMEARRAYOID, NAMEOID}
	},

	/*
	 * Register a source for a slot, named after it, unless a source already
	 * has that name or that slot.  The caller runs it in a subtransaction
	 * with a short lock_timeout: a conflicting source being added by an
	 * open transaction makes it fail, not wait.  Three probes, one per
	 * unique index (name; server and slot; a local slot): one condition
	 * with OR would read all of walmon_source for every slot.
	 */
	[Q_REFRESH_REGISTER] = {
		"INSERT INTO @source@ AS s (name, slot_name, server, auto_registered)"
		" SELECT n.name, n.slot, $2, true"
		" FROM (SELECT u.slot, CASE WHEN $2 IS NULL THEN u.slot::pg_catalog.text"
		"   ELSE $2::pg_catalog.text OPERATOR(pg_catalog.||) '/'"
		"    OPERATOR(pg_catalog.||) u.slot::pg_catalog.text END AS name"
		"  FROM pg_catalog.unnest($1) AS u(slot)) AS n"
		" WHERE NOT EXISTS (SELECT FROM @source@ AS x"
		"   WHERE x.name OPERATOR(pg_catalog.=) n.name)"
		"  AND NOT EXISTS (SELECT FROM @source@ AS x"
		"   WHERE x.server OPERATOR(pg_catalog.=) $2"
		"    AND x.slot_name OPERATOR(pg_catalog.=) n.slot)"
		"  AND NOT ($2 IS NULL AND EXISTS (SELECT FROM @source@ AS x"
		"   WHERE x.server IS NULL AND x.slot_name OPERATOR(pg_catalog.=) n.slot))"
		" ORDER BY n.slot USING OPERATOR(pg_catalog.<)"
		" RETURNING s.id, s.slot_name",
		2, {NAMEARRAYOID, NAMEOID}
	},

	/* auto-registered sources whose slot has long been gone */
	[Q_REFRESH_FORGET] = {
		"DELETE FROM @source@ AS s"
		" WHERE s.id OPERATOR(pg_catalog.=) ANY ($1) AND s.auto_registered",
		1, {INT4ARRAYOID}
	},

	/*
	 * The remote servers walmon polls, by name: those it follows
	 * (walmon_add_server: their slots are registered), and those sources
	 * were bound to by hand.
	 */
	[Q_SERVERS] = {
		"SELECT x.server, pg_catalog.bool_or(x.followed) FROM ("
		" SELECT v.server, true AS followed FROM @server@ AS v"
		" UNION ALL SELECT s.server, false FROM @source@ AS s"
		"  WHERE s.server IS NOT NULL) AS x"
		" GROUP BY x.server ORDER BY x.server USING OPERATOR(pg_catalog.<)",
		0, {InvalidOid}
	},

	[Q_COUNT_SOURCES] = {
		"SELECT pg_catalog.count(*) FROM @source@ AS s"
		" WHERE s.server OPERATOR(pg_catalog.=) $1",
		1, {NAMEOID}
	},

	[Q_BIND_SERVER] = {
		"INSERT INTO @server@ (server) VALUES ($1) ON CONFLICT DO NOTHING",
		1, {NAMEOID}
	},

	/*
	 * Follow a server no more: its sources go (with their rows, their
	 * history stays), and so do its excluded slots.  Returns how many
	 * servers, sources and excluded slots went.
	 */
	[Q_UNBIND_SERVER] = {
		"WITH v AS (DELETE FROM @server@ AS v"
		"  WHERE v.server OPERATOR(pg_catalog.=) $1 RETURNING v.server),"
		" s AS (DELETE FROM @source@ AS s"
		"  WHERE s.server OPERATOR(pg_catalog.=) $1 RETURNING s.id),"
		" i AS (DELETE FROM @ignored@ AS i"
		"  WHERE i.server OPERATOR(pg_catalog.=) $1 RETURNING i.slot_name)"
		" SELECT (SELECT pg_catalog.count(*) FROM v),"
		"  (SELECT pg_catalog.count(*) FROM s), (SELECT pg_catalog.count(*) FROM i)",
		1, {NAMEOID}
	},

	/*
	 * Lock the rows a refresh will rewrite, in source_id order, skipping
	 * those another transaction holds: the cycle never waits for an
	 * application's open transaction; it catches those rows next time.
	 * Only when the rewrite alone found a row held (see
	 * walmon_store_update_slot_rows).
	 */
	[Q_REFRESH_LOCK] = {
		"SELECT w.source_id FROM @monitor@ AS w"
		" WHERE w.source_id OPERATOR(pg_catalog.=) ANY ($1)"
		" ORDER BY w.source_id USING OPERATOR(pg_catalog.<)"
		" FOR UPDATE SKIP LOCKED",
		1, {INT4ARRAYOID}
	},

	/* rewrite the monitor rows that changed, one record each */
	[Q_REFRESH_UPDATE] = {
		"UPDATE @monitor@ AS w SET"
		" wal_lsn = v.wal_lsn, wal_position = v.wal_position,"
		" last_wal_received = v.last_wal_received,"
		" last_transaction_time = v.last_transaction_time,"
		" replication_slot_name = v.replication_slot_name,"
		" replication_lag_bytes = v.replication_lag_bytes,"
		" status = v.status, error_message = v.error_message,"
		" retained_wal_bytes = v.retained_wal_bytes,"
		" wal_status = v.wal_status, safe_wal_size = v.safe_wal_size,"
		" inactive_since = v.inactive_since,"
		" replication_lag_seconds = v.replication_lag_seconds,"
		" seconds_to_invalidation = v.seconds_to_invalidation,"
		" xmin_age = v.xmin_age, catalog_xmin_age = v.catalog_xmin_age,"
		" conflicting = v.conflicting, failover = v.failover,"
		" synced = v.synced, invalidation_reason = v.invalidation_reason,"
		" updated_at = pg_catalog.now()"
		" FROM " SLOT_ROWS_FROM
		" WHERE w.ctid OPERATOR(pg_catalog.=) v.row_ctid"
		" AND w.source_id OPERATOR(pg_catalog.=) v.source_id"
		" RETURNING w.source_id",
		1, {RECORDARRAYOID}
	},

	/*
	 * Create the monitor rows of sources that have none, in source_id
	 * order.  The caller read that they have none, so every row inserted
	 * draws one id; a row that an application's first upsert created
	 * meanwhile is left to the next cycle.  The caller runs it in a
	 * subtransaction with a short lock_timeout: an application's first
	 * upsert of the same source in an open transaction makes it fail, not
	 * wait.
	 */
	[Q_REFRESH_INSERT] = {
		"INSERT INTO @monitor@"
		" (source_id, " SLOT_ROW_COLUMNS ")"
		" SELECT v.source_id, " SLOT_ROW_VALUES
		" FROM " SLOT_ROWS_FROM
		" ORDER BY v.source_id USING OPERATOR(pg_catalog.<)"
		" ON CONFLICT ON CONSTRAINT " WALMON_UNIQUE_SOURCE " DO NOTHING"
		" RETURNING source_id",
		1, {RECORDARRAYOID}
	},
};

/* ----------------------------------------------------------------
 * What this session knows about the extension
 * ----------------------------------------------------------------
 */

/* the most relation files the store knows as walmon's own */
#define WALMON_MAX_NODES	64
typedef struct WalmonStore
{
	bool		valid;			/* cleared by the invalidation callbacks */
	bool		callbacks_registered;
	Oid			extoid;
	Oid			owner;
	int			version;		/* WALMON_VERSION_* of the installed scripts */
	Oid			relids[WALMON_NUM_RELS];
	char	   *relnames[WALMON_NUM_RELS];	/* qualified, quoted */
	WalmonMonitorLayout layout;
	SPIPlanPtr	plans[WALMON_NUM_QUERIES];
	/* whether upserts may keep a status unassigned (store_upsert_one) */
	bool		keep_checked;
	bool		keep_status;
	List	   *retired;		/* replaced plans, freed at transaction end */
	/* the files of walmon's tables, their indexes and toast (walend.c) */
	bool		nodes_valid;
	int			nnodes;
	Oid			node_spc[WALMON_MAX_NODES];
	Oid			node_rel[WALMON_MAX_NODES];
} WalmonStore;

static WalmonStore store;

/* The caller's identity and search_path, saved while a statement runs. */
typedef struct WalmonStoreCall
{
	Oid			save_userid;
	int			save_sec_context;
#ifndef WALMON_HAVE_OVERRIDE_SEARCH_PATH
	int			save_nestlevel;
#endif
} WalmonStoreCall;

static void store_relcache_callback(Datum arg, Oid relid);
static void store_syscache_callback(Datum arg, int cacheid, uint32 hashvalue);
static void store_xact_callback(XactEvent event, void *arg);
static bool store_lookup(bool missing_ok);
static void store_bind(Oid extoid);
static void store_begin(WalmonStoreCall *call);
static void store_end(WalmonStoreCall *call);
static SPIPlanPtr store_plan(WalmonQuery q);
static int	store_execute(WalmonQuery q, Datum *values, const bool *isnull,
						  int expected);
static void store_put_rows(Tuplestorestate *tupstore);
static int	store_run(WalmonQuery q, Datum *values, int expected);
static Datum store_make_array(Datum *elems, bool *nulls, int n, Oid elemtype);
static Datum store_make_records(StoreRowType which, Datum *values,
								bool *nulls, int n);
static WalmonInt64 store_get_int64(HeapTuple tuple, TupleDesc tupdesc, int col);

/* ----------------------------------------------------------------
 * Binding to the extension
 * ----------------------------------------------------------------
 */

/*
 * A change to one of walmon's relations (including its being dropped), or
 * a reset of the whole relcache, means the binding must be checked again.
 * Catalog access is not allowed here: the next call does the lookup.
 */
static void
store_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid))
	{
		store.valid = false;
		return;
	}
	for (int i = 0; i < WALMON_NUM_RELS; i++)
	{
		if (relid == store.relids[i])
			store.valid = false;
	}
}

/* Any schema changed: the qualified names may be stale. */
static void
store_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	store.valid = false;
}

/*
 * At the end of a transaction no walmon statement runs any more: free the
 * plans that were replaced during it.
 */
static void
store_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	while (store.retired != NIL)
	{
		SPIPlanPtr	plan = (SPIPlanPtr) linitial(store.retired);

		store.retired = list_delete_first(store.retired);
		SPI_freeplan(plan);
	}
}

/* Replace a kept plan: the old one is freed at the end of the transaction. */
static void
store_retire_plan(WalmonQuery q)
{
	MemoryContext old;

	if (store.plans[q] == NULL)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	store.retired = lappend(store.retired, store.plans[q]);
	MemoryContextSwitchTo(old);
	store.plans[q] = NULL;
}

/* The version number of an extension version string ("1.1" is 101). */
static int
store_parse_version(const char *v)
{
	int			major;
	int			minor;
	char		rest;

	if (sscanf(v, "%d.%d%c", &major, &minor, &rest) != 2 ||
		major < 0 || minor < 0 || minor > 99)
		return -1;
	return major * 100 + minor;
}

/* The error for a relation of the extension that is missing or altered. */
static void
store_report_broken(const char *relname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("walmon's relation \"%s\" is not in the state walmon needs",
					relname),
			 errdetail_internal("%s", detail),
			 errhint("Undo the change, or drop and create the extension again (DROP EXTENSION walmon CASCADE loses walmon's data).")));
}

/*
 * Bind to extension extoid: find its member relations in pg_depend, check
 * their shape, and write their qualified names.  Errors when the extension
 * is not usable as it stands.
 */
static void
store_bind(Oid extoid)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;
	char	   *extversion = NULL;
	int			version;
	Oid			relids[WALMON_NUM_RELS] = {0};
	bool		changed = false;

	/* the owner and the version: pg_extension has no syscache */
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d;

		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
		d = heap_getattr(tuple, Anum_pg_extension_extversion,
						 RelationGetDescr(rel), &isnull);
		if (!isnull)
			extversion = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner) || extversion == NULL)
		elog(ERROR, "could not find extension \"walmon\" with OID %u", extoid);
	version = store_parse_version(extversion);
	if (version < WALMON_VERSION_1_0 || version > WALMON_VERSION_CURRENT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("walmon's library does not support version \"%s\" of the extension",
						extversion),
				 errhint("Install the walmon library that matches the extension, or ALTER EXTENSION walmon UPDATE.")));

	/* the member relations, by name among the members only */
	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);
		char	   *relname;
		char		relkind;

		if (dep->classid != RelationRelationId || dep->deptype != DEPENDENCY_EXTENSION)
			continue;
		relname = get_rel_name(dep->objid);
		if (relname == NULL)
			continue;
		relkind = get_rel_relkind(dep->objid);
		for (int i = 0; i < WALMON_NUM_RELS; i++)
		{
			if (strcmp(relname, store_rels[i].name) == 0 &&
				relkind == store_rels[i].relkind)
				relids[i] = dep->objid;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	for (int i = 0; i < WALMON_NUM_RELS; i++)
	{
		if (!OidIsValid(relids[i]) && store_rels[i].since <= version)
			store_report_broken(store_rels[i].name,
								"The extension has no member of that name: it was renamed, dropped or removed from the extension.");
	}

	/* the columns walmon uses, with their types */
	for (int c = 0; c < (int) lengthof(store_columns); c++)
	{
		const StoreColumnSpec *col = &store_columns[c];
		HeapTuple	atttup;
		Form_pg_attribute att;
		Oid			base;

		if (col->since > version)
			continue;
		atttup = SearchSysCacheAttName(relids[col->rel], col->name);
		if (!HeapTupleIsValid(atttup))
			store_report_broken(store_rels[col->rel].name,
								psprintf("Column \"%s\" is missing.", col->name));
		att = (Form_pg_attribute) GETSTRUCT(atttup);
		base = getBaseType(att->atttypid);
		if (base != col->type)
			store_report_broken(store_rels[col->rel].name,
								psprintf("Column \"%s\" has type %s; walmon expects %s or a domain over it.",
										 col->name, format_type_be(att->atttypid),
										 format_type_be(col->type)));
		if (col->rel == REL_MONITOR)
		{
			if (strcmp(col->name, "source_id") == 0)
				store.layout.source_id = att->attnum;
			else if (strcmp(col->name, "status") == 0)
				store.layout.status = att->attnum;
			else if (strcmp(col->name, "error_message") == 0)
				store.layout.error_message = att->attnum;
			else if (strcmp(col->name, "wal_lsn") == 0)
				store.layout.wal_lsn = att->attnum;
			else if (strcmp(col->name, "replication_lag_bytes") == 0)
				store.layout.replication_lag_bytes = att->attnum;
		}
		ReleaseSysCache(atttup);
	}

	/* the constraint behind one source = one row */
	{
		Oid			conoid = get_relation_constraint_oid(relids[REL_MONITOR],
														 WALMON_UNIQUE_SOURCE,
														 true);
		HeapTuple	contup = OidIsValid(conoid) ?
			SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid)) : NULL;
		bool		ok = false;

		if (HeapTupleIsValid(contup))
		{
			Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
			bool		isnull;
			Datum		d = SysCacheGetAttr(CONSTROID, contup,
											Anum_pg_constraint_conkey, &isnull);

			if ((con->contype == CONSTRAINT_UNIQUE ||
				 con->contype == CONSTRAINT_PRIMARY) && !isnull)
			{
				ArrayType  *keys = DatumGetArrayTypeP(d);

				ok = ARR_NDIM(keys) == 1 && ARR_DIMS(keys)[0] == 1 &&
					!ARR_HASNULL(keys) &&
					((int16 *) ARR_DATA_PTR(keys))[0] == store.layout.source_id;
			}
			ReleaseSysCache(contup);
		}
		if (!ok)
			store_report_broken(store_rels[REL_MONITOR].name,
								"The unique constraint \"" WALMON_UNIQUE_SOURCE "\" on source_id is missing: walmon keeps exactly one row per source with it.");
	}

	/* the qualified names; a change means every plan must be written anew */
	for (int i = 0; i < WALMON_NUM_RELS; i++)
	{
		char	   *nspname;
		char	   *relname;
		char	   *qualified;

		if (store_rels[i].since > version)
		{
			/* not in this version: statements that use it are not run */
			store.relids[i] = InvalidOid;
			if (store.relnames[i] == NULL)
				store.relnames[i] = MemoryContextStrdup(TopMemoryContext,
														"pg_catalog.walmon_missing_relation");
			continue;
		}
		nspname = get_namespace_name(get_rel_namespace(relids[i]));
		relname = get_rel_name(relids[i]);
		if (nspname == NULL || relname == NULL)
			elog(ERROR, "cache lookup failed for relation %u", relids[i]);
		qualified = quote_qualified_identifier(nspname, relname);
		if (relids[i] != store.relids[i] || store.relnames[i] == NULL ||
			strcmp(qualified, store.relnames[i]) != 0)
		{
			changed = true;
			if (store.relnames[i] != NULL)
				pfree(store.relnames[i]);
			store.relnames[i] = MemoryContextStrdup(TopMemoryContext, qualified);
			store.relids[i] = relids[i];
		}
	}
	if (changed || version != store.version || extoid != store.extoid)
	{
		for (int q = 0; q < WALMON_NUM_QUERIES; q++)
			store_retire_plan((WalmonQuery) q);
	}

	store.layout.relid = relids[REL_MONITOR];
	store.nodes_valid = false;
	store.keep_checked = false;
	store.extoid = extoid;
	store.owner = owner;
	store.version = version;
}

/*
 * Make sure "store" describes the walmon extension of this database as it
 * is now.  Returns false when the extension is not installed and
 * missing_ok is true; raises an error when it is not installed and
 * missing_ok is false.
 */
static bool
store_lookup(bool missing_ok)
{
	if (!store.callbacks_registered)
	{
		CacheRegisterRelcacheCallback(store_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, store_syscache_callback,
									  (Datum) 0);
		RegisterXactCallback(store_xact_callback, NULL);
		store.callbacks_registered = true;
	}

	/*
	 * Reading the catalogs can process invalidations that concern what was
	 * just read: look again until a lookup saw none.
	 */
	while (!store.valid)
	{
		uint64		inval_count = SharedInvalidMessageCounter;
		Oid			extoid = get_extension_oid("walmon", true);

		if (!OidIsValid(extoid))
		{
			if (missing_ok)
				return false;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("extension \"walmon\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION walmon.")));
		}
		store_bind(extoid);
		if (inval_count == SharedInvalidMessageCounter)
			store.valid = true;
	}
	return true;
}

/*
 * Whether walmon is installed in this database; binds to it when it is.
 */
bool
walmon_store_installed(void)
{
	AcceptInvalidationMessages();
	return store_lookup(true);
}

/*
 * The layout of walmon's wal_monitor table, for its trigger; errors when
 * the extension is not installed or not usable.
 */
const WalmonMonitorLayout *
walmon_store_monitor_layout(void)
{
	AcceptInvalidationMessages();
	(void) store_lookup(false);
	return &store.layout;
}

/* The installed version of the extension (WALMON_VERSION_*). */
int
walmon_store_version(void)
{
	AcceptInvalidationMessages();
	(void) store_lookup(false);
	return store.version;
}

/* Remember the file of a relation as one of walmon's own. */
static void
store_add_node(Relation rel)
{
	Oid			spc = rel->rd_rel->reltablespace;

	if (store.nnodes >= WALMON_MAX_NODES || rel->rd_rel->relfilenode == InvalidOid)
		return;
	store.node_spc[store.nnodes] = OidIsValid(spc) ? spc : MyDatabaseTableSpace;
	store.node_rel[store.nnodes] = rel->rd_rel->relfilenode;
	store.nnodes++;
}

/*
 * Whether a relation file of this database is one of walmon's tables, one
 * of their indexes or toast tables: records that maintain only those are
 * walmon's own WAL (walend.c).  False when walmon is not installed.
 */
bool
walmon_store_is_own_relfilenode(Oid spc, Oid db, Oid relnode)
{
	if (db != MyDatabaseId || !store.valid)
		return false;
	if (!store.nodes_valid)
	{
		store.nnodes = 0;
		for (int i = 0; i < WALMON_NUM_RELS; i++)
		{
			Relation	rel;
			List	   *indexes;
			ListCell   *lc;

			if (!OidIsValid(store.relids[i]) ||
				store_rels[i].relkind != RELKIND_RELATION)
				continue;
			rel = table_open(store.relids[i], AccessShareLock);
			store_add_node(rel);
			indexes = RelationGetIndexList(rel);
			foreach(lc, indexes)
			{
				Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

				store_add_node(index);
				index_close(index, AccessShareLock);
			}
			/* the identity sequences: nextval() logs ahead without an xid */
			foreach(lc, getOwnedSequences(RelationGetRelid(rel)))
			{
				Relation	seq = relation_open(lfirst_oid(lc), AccessShareLock);

				store_add_node(seq);
				relation_close(seq, AccessShareLock);
			}
			if (OidIsValid(rel->rd_rel->reltoastrelid))
			{
				Relation	toast = table_open(rel->rd_rel->reltoastrelid,
											   AccessShareLock);

				store_add_node(toast);
				foreach(lc, RelationGetIndexList(toast))
				{
					Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

					store_add_node(index);
					index_close(index, AccessShareLock);
				}
				table_close(toast, AccessShareLock);
			}
			table_close(rel, AccessShareLock);
		}
		store.nodes_valid = store.valid;
	}
	for (int i = 0; i < store.nnodes; i++)
	{
		if (store.node_rel[i] == relnode && store.node_spc[i] == spc)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------------
 * Running statements
 * ----------------------------------------------------------------
 */

/*
 * Start a store operation: check the binding, become the extension's
 * owner in a security-restricted operation with pg_catalog alone on the
 * search_path, and connect to SPI.  The caller's transaction is already
 * open.  On error, transaction (or subtransaction) abort restores the
 * user, the search_path and SPI.
 */
static void
store_begin(WalmonStoreCall *call)
{
	AcceptInvalidationMessages();
	(void) store_lookup(false);

	GetUserIdAndSecContext(&call->save_userid, &call->save_sec_context);
#ifdef WALMON_HAVE_OVERRIDE_SEARCH_PATH
	{
		OverrideSearchPath path = {.schemas = NIL, .addCatalog = true,
		.addTemp = false};

		PushOverrideSearchPath(&path);
	}
#else
	call->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
#endif
	SetUserIdAndSecContext(store.owner,
						   call->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION |
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
#ifdef WALMON_HAVE_OVERRIDE_SEARCH_PATH
	PopOverrideSearchPath();
#else
	AtEOXact_GUC(true, call->save_nestlevel);
#endif
}

/*
 * The SQL of a statement, with the qualified names of the relations the
 * store is bound to.
 */
static char *
store_sql(WalmonQuery q)
{
	StringInfoData sql;
	const char *p = walmon_queries[q].sql;

	initStringInfo(&sql);
	while (*p)
	{
		bool		replaced = false;

		if (*p == '@')
		{
			for (int i = 0; i < WALMON_NUM_RELS; i++)
			{
				size_t		len = strlen(store_rels[i].token);

				if (strncmp(p, store_rels[i].token, len) == 0)
				{
					appendStringInfoString(&sql, store.relnames[i]);
					p += len;
					replaced = true;
					break;
				}
			}
		}
		if (!replaced)
			appendStringInfoChar(&sql, *p++);
	}
	return sql.data;
}

/*
 * The kept plan of a statement, prepared on first use and again whenever
 * PostgreSQL invalidated it: its text names relations, and a plan that is
 * analysed again must be analysed from names written from the OIDs now.
 * Must be called inside store_begin/store_end.
 *
 * The plans are generic from the first execution: every statement is a
 * lookup by key or a scan whose shape does not depend on the values, so
 * the custom plans the plan cache would otherwise make for the first five
 * executions cost planning time and nothing else, and planning a custom
 * plan copies every parameter into the plan as a constant (a 50 MB error
 * message, twice).
 */
static SPIPlanPtr
store_plan(WalmonQuery q)
{
	const WalmonQueryDef *def = &walmon_queries[q];
	char	   *sql;
	SPIPlanPtr	plan;

	if (store.plans[q] != NULL && SPI_plan_is_valid(store.plans[q]))
		return store.plans[q];
	store_retire_plan(q);

	/* the invalidation may have been a schema being renamed */
	(void) store_lookup(false);

	sql = store_sql(q);
	plan = SPI_prepare_cursor(sql, def->nargs, (Oid *) def->argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for \"%s\"", sql);
	pfree(sql);

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
 * A DestReceiver for the statements that write rows of wal_monitor and
 * return them.  The statements of one row return only the new row's ctid
 * (RETURNING w.ctid): building the executor's projection and result type
 * of wal_monitor's two dozen columns for every call cost more than
 * everything else walmon adds to the UPDATE (bench/README.md,
 * "Profiling").  The receiver keeps the ctids; once the statement is done
 * and its executor memory is gone, store_fetch_rows reads each row back
 * from the table, as it was written (a long value as the toast table holds
 * it), and puts it into the caller's tuplestore or copies the one row into
 * the caller's memory context, detoasted, so that no row returned refers
 * to the toast table.
 *
 * The set-based statements of a batch return each row whole (RETURNING
 * w, one column of wal_monitor's row type, its long values flattened into
 * it), which the receiver puts straight into the caller's tuplestore,
 * where a batch's rows spill to disk past work_mem instead of piling up in
 * memory: per row, that costs a fifth of reading the row back.
 */
typedef struct StoreRowReceiver
{
	DestReceiver pub;
	ItemPointerData *tids;		/* the rows written, in the order returned */
	uint64		count;
	uint64		size;
	bool		single;			/* one row per source: more is an error */

	/*
	 * When set, the rows come with their source_id, which must be
	 * expect[0], expect[1] ... in turn (nexpect of them); the first row
	 * that is not the next expected one stops the statement (stopped).
	 */
	const int32 *expect;
	uint64		nexpect;
	bool		stopped;

	/*
	 * When set, the statement returns whole rows (RETURNING w), which go
	 * straight into this tuplestore; no ctid is kept.  (A tuplestore that
	 * spills to disk gives its file to the resource owner it was made
	 * under, the caller's: undoing a subtransaction the statement ran in
	 * does not close it.)
	 */
	Tuplestorestate *rows;
} StoreRowReceiver;

static bool
store_receive_row(TupleTableSlot *slot, DestReceiver *self)
{
	StoreRowReceiver *r = (StoreRowReceiver *) self;
	bool		isnull;
	Datum		first = slot_getattr(slot, 1, &isnull);

	if (isnull)
		elog(ERROR, "walmon statement returned no row");
	if (r->expect != NULL)
	{
		Datum		source_id = slot_getattr(slot, 2, &isnull);

		if (isnull || r->count >= r->nexpect ||
			DatumGetInt32(source_id) != r->expect[r->count])
		{
			r->stopped = true;
			return false;
		}
	}

	/* one row per source: more means the uniqueness rule was broken */
	if (r->single && r->count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("walmon's table \"wal_monitor\" has more than one row for one source"),
				 errhint("Remove the duplicates; the constraint \"" WALMON_UNIQUE_SOURCE "\" prevents them.")));
	if (r->rows != NULL)
		store_put_row(r->rows, first);
	else
	{
		if (r->count >= r->size)
		{
			r->size *= 2;
			r->tids = repalloc_huge(r->tids, r->size * sizeof(ItemPointerData));
		}
		ItemPointerCopy((ItemPointer) DatumGetPointer(first), &r->tids[r->count]);
	}
	r->count++;
	return true;
}

static void
store_receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	StoreRowReceiver *r = (StoreRowReceiver *) self;

	if (typeinfo->natts != (r->expect != NULL ? 2 : 1) ||
		TupleDescAttr(typeinfo, 0)->atttypid !=
		(r->rows != NULL ? get_rel_type_id(store.relids[REL_MONITOR]) : TIDOID) ||
		(r->expect != NULL && TupleDescAttr(typeinfo, 1)->atttypid != INT4OID))
		elog(ERROR, "walmon statement does not return what walmon expects");
}

static void
store_receiver_noop(DestReceiver *self)
{
}

/*
 * Read back the rows of wal_monitor whose ctids r holds, each as this
 * transaction wrote it (this transaction holds their row locks, so no one
 * else changed them since), into tupstore or, when tupstore is NULL, into
 * *row.
 */
static void
store_fetch_rows(StoreRowReceiver *r, Tuplestorestate *tupstore, Datum *row)
{
	Relation	rel;
	TupleDesc	desc;
	TupleTableSlot *slot;
	Datum	   *values = NULL;
	bool	   *nulls = NULL;

	if (r->count == 0)
		return;

	/* the statement locked it */
	rel = table_open(store.relids[REL_MONITOR], NoLock);
	desc = RelationGetDescr(rel);
	slot = table_slot_create(rel, NULL);
	if (tupstore != NULL)
	{
		values = palloc_array(Datum, desc->natts);
		nulls = palloc_array(bool, desc->natts);
	}

	for (uint64 i = 0; i < r->count; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!table_tuple_fetch_row_version(rel, &r->tids[i], SnapshotAny, slot))
			elog(ERROR, "walmon could not read back the row it wrote at (%u,%u)",
				 ItemPointerGetBlockNumber(&r->tids[i]),
				 ItemPointerGetOffsetNumber(&r->tids[i]));
		if (tupstore == NULL)
		{
			bool		should_free;
			HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);

			/* flattened: the toasted values are read into the copy */
			*row = heap_copy_tuple_as_datum(tuple, desc);
			if (should_free)
				heap_freetuple(tuple);
		}
		else
		{
			slot_getallattrs(slot);
			for (int a = 0; a < desc->natts; a++)
			{
				values[a] = slot->tts_values[a];
				nulls[a] = slot->tts_isnull[a];
				if (!nulls[a] && TupleDescAttr(desc, a)->attlen == -1 &&
					VARATT_IS_EXTERNAL(DatumGetPointer(values[a])))
					values[a] = PointerGetDatum(detoast_external_attr((struct varlena *)
																	  DatumGetPointer(values[a])));
			}
			tuplestore_putvalues(tupstore, desc, values, nulls);
			for (int a = 0; a < desc->natts; a++)
				if (!nulls[a] && values[a] != slot->tts_values[a])
					pfree(DatumGetPointer(values[a]));
		}
		ExecClearTuple(slot);
	}

	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	if (values != NULL)
	{
		pfree(values);
		pfree(nulls);
	}
}

/* A receiver of ctids (single: of one row at most); see StoreRowReceiver */
static void
store_receiver_init(StoreRowReceiver *receiver, bool single)
{
	memset(receiver, 0, sizeof(*receiver));
	receiver->pub.receiveSlot = store_receive_row;
	receiver->pub.rStartup = store_receiver_startup;
	receiver->pub.rShutdown = store_receiver_noop;
	receiver->pub.rDestroy = store_receiver_noop;
	receiver->pub.mydest = DestNone;
	receiver->single = single;
	receiver->size = 8;
	receiver->tids = palloc_array(ItemPointerData, receiver->size);
}

/*
 * Execute a statement that writes rows of wal_monitor and returns them,
 * into *receiver (store_receiver_init, then its options); returns how many
 * rows it received.  Leaves the caller's memory context current.
 */
static uint64
store_execute_rows(WalmonQuery q, Datum *values, const bool *isnull,
				   int expected, StoreRowReceiver *receiver)
{
	const WalmonQueryDef *def = &walmon_queries[q];
	MemoryContext caller = CurrentMemoryContext;
	ParamListInfo params = makeParamList(def->nargs);
	SPIExecuteOptions options;
	int			rc;

	for (int i = 0; i < def->nargs; i++)
	{
		ParamExternData *p = &params->params[i];

		p->value = values[i];
		p->isnull = isnull != NULL && isnull[i];
		p->pflags = PARAM_FLAG_CONST;
		p->ptype = def->argtypes[i];
	}

	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = (DestReceiver *) receiver;

	rc = SPI_execute_plan_extended(store_plan(q), &options);
	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for walmon statement %d",
			 SPI_result_code_string(rc), (int) q);
	pfree(params);

	/*
	 * SPI leaves its procedure context current: back to the caller's, both
	 * for the rows read back and for the caller's own next allocations (an
	 * upsert's INSERT, after its UPDATE found no row, would otherwise build
	 * its row in SPI's context, which store_end frees).
	 */
	MemoryContextSwitchTo(caller);
	return receiver->count;
}

/*
 * Execute a statement that writes rows of wal_monitor and returns their
 * ctids; puts the rows into tupstore or, when tupstore is NULL, the one
 * row into *row in the caller's memory context; returns how many rows it
 * wrote.
 */
static uint64
store_execute_into(WalmonQuery q, Datum *values, const bool *isnull,
				   int expected, Tuplestorestate *tupstore, Datum *row)
{
	StoreRowReceiver receiver;

	store_receiver_init(&receiver, tupstore == NULL);
	(void) store_execute_rows(q, values, isnull, expected, &receiver);
	store_fetch_rows(&receiver, tupstore, row);
	pfree(receiver.tids);
	return receiver.count;
}

/* ----------------------------------------------------------------
 * The SQL API's operations (functions.c)
 * ----------------------------------------------------------------
 */

/*
 * Upsert one monitor row inside an open store call, its row going into
 * tupstore or *row (see store_execute_into); returns the number of rows
 * written (0 only when the source is not registered).
 */
static int
store_upsert_one(const WalmonUpsert *u, Tuplestorestate *tupstore, Datum *row)
{
	Datum	   *values = (Datum *) u->values;

	/*
	 * A BEFORE UPDATE row trigger on wal_monitor (a DBA's own) may change
	 * the status of a row that Q_UPSERT_KEEP writes, and PostgreSQL does not
	 * consider an UPDATE OF status trigger for a statement that does not
	 * assign status: that change would go unrecorded.  With such a trigger
	 * every upsert assigns status.  Checked once per binding (creating a
	 * trigger invalidates it), under the lock the UPDATE takes anyway.
	 */
	if (!store.keep_checked)
	{
		Relation	rel = table_open(store.relids[REL_MONITOR], RowExclusiveLock);

		store.keep_status = rel->trigdesc == NULL ||
			!rel->trigdesc->trig_update_before_row;
		table_close(rel, NoLock);
		store.keep_checked = true;
	}
	if (store.keep_status &&
		store_execute_into(Q_UPSERT_KEEP, values, u->isnull,
						   SPI_OK_UPDATE_RETURNING, tupstore, row) > 0)
		return 1;
	if (store_execute_into(Q_UPSERT_UPDATE, values, u->isnull,
						   SPI_OK_UPDATE_RETURNING, tupstore, row) > 0)
		return 1;
	return (int) store_execute_into(Q_UPSERT_INSERT, values, u->isnull,
									SPI_OK_INSERT_RETURNING, tupstore, row);
}

/*
 * Upsert the monitor row of one source; returns the row as a wal_monitor
 * composite allocated in the caller's memory context, or sets *registered
 * to false (and writes nothing) when the source is not registered.
 */
Datum
walmon_store_upsert(const WalmonUpsert *u, bool *registered)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	Datum		result = (Datum) 0;

	store_begin(&call);
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		*registered = store_upsert_one(u, NULL, &result) > 0;
		MemoryContextSwitchTo(old);
	}
	store_end(&call);

	return result;
}

/*
 * The records (BATCH_ROWS_FROM) of u[0..n-1]: one per element, its
 * arguments in their order.
 */
static Datum
store_batch_records(const WalmonUpsert *u, int n)
{
	Datum	   *values = palloc_array(Datum, Max(n, 1) * WALMON_UPSERT_NARGS);
	bool	   *nulls = palloc_array(bool, Max(n, 1) * WALMON_UPSERT_NARGS);
	Datum		records;

	for (int i = 0; i < n; i++)
	{
		memcpy(&values[i * WALMON_UPSERT_NARGS], u[i].values,
			   sizeof(Datum) * WALMON_UPSERT_NARGS);
		memcpy(&nulls[i * WALMON_UPSERT_NARGS], u[i].isnull,
			   sizeof(bool) * WALMON_UPSERT_NARGS);
	}
	records = store_make_records(ROWTYPE_BATCH, values, nulls, n);
	pfree(values);
	pfree(nulls);
	return records;
}

/* the planner settings Q_BATCH_UPDATE is planned with */
static const char *const store_batch_update_plan[][2] = {
	{"enable_hashjoin", "off"},
	{"enable_mergejoin", "off"},
	{"enable_nestloop", "on"},
	{"enable_seqscan", "off"},
	{"enable_indexscan", "on"},
};

/*
 * A batch of n elements (u[] and its records, sorted by source_id) whose
 * sources all have their row: one UPDATE (Q_BATCH_UPDATE), in a
 * subtransaction.  When it updated every row, keeps it, puts the rows into
 * tupstore (empty before) and returns true.  When a row is missing (a
 * source's first element, a row deleted meanwhile, or one another
 * transaction is inserting), the UPDATE stops at the next row it writes
 * and is undone, which gives its row locks back; returns false.  The
 * caller then writes the batch the general way, which takes every lock and
 * every new key in one pass in source_id order.  The rows the UPDATE holds
 * are always the first of the batch's sources, in order, so any lock it
 * waits for is on a row after every row it holds: source_id order, as the
 * general way takes them.
 */
static bool
store_try_batch_update(const WalmonUpsert *u, Datum records, int n,
					   Tuplestorestate *tupstore)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	StoreRowReceiver receiver;
	int32	   *expect = palloc_array(int32, n);
	bool		all = false;

	for (int i = 0; i < n; i++)
		expect[i] = DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]);
	store_receiver_init(&receiver, false);
	receiver.expect = expect;
	receiver.nexpect = n;
	receiver.rows = tupstore;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		/*
		 * The plan, whenever it is made, is a nested loop over $1 (whatever
		 * the session's own planner settings): no hash join, no merge join
		 * (which an index scanned backwards could make descending), no
		 * sequential scan of wal_monitor as the outer side.  (The stop at
		 * the first row out of turn keeps the order with any plan, by
		 * giving up at once; this keeps the one UPDATE from giving up.)
		 */
		for (int i = 0; i < (int) lengthof(store_batch_update_plan); i++)
			(void) set_config_option(store_batch_update_plan[i][0],
									 store_batch_update_plan[i][1],
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		all = store_execute_rows(Q_BATCH_UPDATE, &records, NULL,
								 SPI_OK_UPDATE_RETURNING, &receiver) ==
			(uint64) n && !receiver.stopped;
		AtEOXact_GUC(true, nestlevel);
		if (all)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		/* undo the subtransaction first, then the error goes on */
		MemoryContextSwitchTo(oldcontext);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the rows of an UPDATE undone */
	if (!all)
		tuplestore_clear(tupstore);
	pfree(receiver.tids);
	pfree(expect);
	return all;
}

/*
 * Upsert many monitor rows; u[] is sorted by source_id with one element
 * per source.  A batch of more than a few elements whose sources all have
 * their row is one UPDATE (store_try_batch_update).  Otherwise: first
 * checks that every source is registered, so that a batch that fails for
 * that reason writes nothing and consumes no id; then writes them all with
 * one statement that takes its locks in source_id order (see
 * Q_BATCH_UPSERT), or one element at a time when there are only a few.
 * Puts every resulting row in tupstore, by source_id.
 *
 * Returns the index in u[] of the first element whose source is not
 * registered (the caller raises an error, which undoes anything written),
 * or -1 when all were written.
 */
int
walmon_store_upsert_many(const WalmonUpsert *u, int n,
						 Tuplestorestate *tupstore)
{
	WalmonStoreCall call;
	Datum		args[2];
	int			missing = -1;
	uint64		written = 0;
	Datum		records = (Datum) 0;
	Datum		ids;
	Datum	   *elems;

	if (n == 0)
		return -1;

	store_begin(&call);

	if (n > WALMON_BATCH_ONE_BY_ONE)
	{
		records = store_batch_records(u, n);
		if (store_try_batch_update(u, records, n, tupstore))
		{
			pfree(DatumGetPointer(records));
			store_end(&call);
			return -1;
		}
	}

	elems = palloc_array(Datum, n);
	for (int i = 0; i < n; i++)
		elems[i] = u[i].values[WALMON_ARG_SOURCE_ID];
	ids = store_make_array(elems, NULL, n, INT4OID);
	pfree(elems);

	/* both lists are sorted: the first element not in the result */
	store_execute(Q_BATCH_REGISTERED, &ids, NULL, SPI_OK_SELECT);
	if ((int) SPI_processed < n)
	{
		int			r = 0;

		for (int i = 0; i < n && missing < 0; i++)
		{
			bool		isnull;

			if (r < (int) SPI_processed &&
				DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
											SPI_tuptable->tupdesc, 1,
											&isnull)) ==
				DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]))
				r++;
			else
				missing = i;
		}
	}
	SPI_freetuptable(SPI_tuptable);

	if (missing < 0 && n <= WALMON_BATCH_ONE_BY_ONE)
	{
		/*
		 * A few elements: one upsert each, in source_id order, which takes
		 * the locks in that order too, and copies no value into arrays.
		 */
		for (int i = 0; i < n && missing < 0; i++)
		{
			if (store_upsert_one(&u[i], tupstore, NULL) == 0)
				missing = i;	/* dropped meanwhile */
		}
	}
	else if (missing < 0)
	{
		StoreRowReceiver receiver;

		args[0] = records;
		args[1] = ObjectIdGetDatum(store.relids[REL_MONITOR_SEQ]);
		store_receiver_init(&receiver, false);
		receiver.rows = tupstore;
		written = store_execute_rows(Q_BATCH_UPSERT, args, NULL,
									 SPI_OK_INSERT_RETURNING, &receiver);
		pfree(receiver.tids);
		pfree(DatumGetPointer(args[0]));

		/* a source dropped meanwhile: find which (the error undoes all) */
		if (written < (uint64) n)
		{
			store_execute(Q_BATCH_REGISTERED, &ids, NULL, SPI_OK_SELECT);
			missing = 0;
			for (int i = 0, r = 0; i < n; i++, r++)
			{
				bool		isnull;

				if (r >= (int) SPI_processed ||
					DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
												SPI_tuptable->tupdesc, 1,
												&isnull)) !=
					DatumGetInt32(u[i].values[WALMON_ARG_SOURCE_ID]))
				{
					missing = i;
					break;
				}
			}
		}
	}
	store_end(&call);

	return missing;
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
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	Datum		values[3];
	bool		isnull[3] = {false, false, error_isnull};
	Datum		result = (Datum) 0;

	values[0] = Int32GetDatum(source_id);
	values[1] = status;
	values[2] = error_message;

	store_begin(&call);
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		*found = store_execute_into(Q_SET_STATUS, values, isnull,
									SPI_OK_UPDATE_RETURNING, NULL, &result) > 0;
		MemoryContextSwitchTo(old);
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
	WalmonStoreCall call;
	Datum		arg = Int32GetDatum(source_id);
	bool		dropped;

	store_begin(&call);
	if (store.version >= WALMON_VERSION_1_1)
	{
		store_execute(Q_DROP_SOURCE_1_1, &arg, NULL, SPI_OK_SELECT);
		dropped = store_get_int64(SPI_tuptable->vals[0],
								  SPI_tuptable->tupdesc, 1).value > 0;
	}
	else
		dropped = store_execute(Q_DROP_SOURCE, &arg, NULL, SPI_OK_DELETE) > 0;
	store_end(&call);
	return dropped;
}

/*
 * Register a source; returns its id.  With an id of the caller's, the
 * source table is locked against other inserts until commit (SHARE ROW
 * EXCLUSIVE conflicts with itself and with ROW EXCLUSIVE), so that moving
 * the sequence past that id cannot race with another session drawing ids.
 * A server (1.1 only) has been checked by the caller.
 */
int32
walmon_store_add_source(Datum name, Datum slot_name, bool slot_isnull,
						int32 id, bool id_isnull, Datum server,
						bool server_isnull)
{
	WalmonStoreCall call;
	Datum		values[5];
	bool		isnull[5] = {false, slot_isnull, false, false, false};
	bool		rnull;
	int32		result;

	store_begin(&call);
	if (!id_isnull)
		LockRelationOid(store.relids[REL_SOURCE], ShareRowExclusiveLock);
	if (store.version >= WALMON_VERSION_1_1)
	{
		values[0] = name;
		values[1] = slot_name;
		values[2] = server;
		isnull[2] = server_isnull;
		values[3] = Int32GetDatum(id);
		isnull[3] = id_isnull;
		values[4] = ObjectIdGetDatum(store.relids[REL_SOURCE_SEQ]);
		store_execute(Q_ADD_SOURCE_1_1, values, isnull, SPI_OK_SELECT);
	}
	else
	{
		if (!server_isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("sources of remote servers need walmon 1.1"),
					 errhint("Run ALTER EXTENSION walmon UPDATE.")));
		values[0] = name;
		values[1] = slot_name;
		values[2] = Int32GetDatum(id);
		store_execute(id_isnull ? Q_ADD_SOURCE : Q_ADD_SOURCE_WITH_ID,
					  values, isnull, SPI_OK_INSERT_RETURNING);
	}
	result = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &rnull));
	if (!id_isnull)
	{
		Datum		args[2] = {Int32GetDatum(id),
		ObjectIdGetDatum(store.relids[REL_SOURCE_SEQ])};

		store_execute(Q_ADVANCE_SOURCE_ID, args, NULL, SPI_OK_SELECT);
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

/*
 * The state of every source that has a monitor row, by source id, in an
 * array allocated in the caller's memory context.  Text that a superuser's
 * change made null (a status, a name) comes as NULL pointers.
 */
WalmonSourceState *
walmon_store_source_states(int *n)
{
	MemoryContext callercxt = CurrentMemoryContext;
	WalmonStoreCall call;
	WalmonSourceState *states;
	bool		v11;

	store_begin(&call);
	v11 = store.version >= WALMON_VERSION_1_1;
	store_execute(v11 ? Q_SOURCE_STATES_1_1 : Q_SOURCE_STATES, NULL, NULL,
				  SPI_OK_SELECT);
	*n = (int) SPI_processed;
	states = MemoryContextAllocZero(callercxt,
									sizeof(WalmonSourceState) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		WalmonSourceState *st = &states[i];
		bool		isnull;

		st->source_id = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		st->name = store_get_text(tuple, tupdesc, 2, callercxt);
		st->slot_name = store_get_text(tuple, tupdesc, 3, callercxt);
		st->status = store_get_text(tuple, tupdesc, 4, callercxt);
		st->lag = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 5, &st->lag_isnull));
		st->wal_age = DatumGetFloat8(SPI_getbinval(tuple, tupdesc, 6,
												   &st->wal_age_isnull));
		st->retained_isnull = st->safe_isnull = st->lag_seconds_isnull = true;
		st->to_invalidation_isnull = st->xmin_age_isnull = true;
		st->catalog_xmin_age_isnull = true;
		if (!v11)
			continue;
		st->server = store_get_text(tuple, tupdesc, 7, callercxt);
		st->retained = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 8, &st->retained_isnull));
		st->safe = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 9, &st->safe_isnull));
		st->lag_seconds = DatumGetFloat8(SPI_getbinval(tuple, tupdesc, 10,
													   &st->lag_seconds_isnull));
		st->to_invalidation = DatumGetFloat8(SPI_getbinval(tuple, tupdesc, 11,
														   &st->to_invalidation_isnull));
		st->xmin_age = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 12,
												   &st->xmin_age_isnull));
		st->catalog_xmin_age = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 13,
														   &st->catalog_xmin_age_isnull));
	}
	store_end(&call);

	return states;
}

/* ----------------------------------------------------------------
 * The refresh cycle's statements (refresh.c)
 * ----------------------------------------------------------------
 */

/*
 * Start a refresh: find the extension and take the refresh lock until the
 * end of the transaction.  The lock is an ExclusiveLock on the extension
 * object itself: it conflicts with itself, so refresh cycles run one at a
 * time per database (the worker's and walmon_refresh() calls), and with
 * DROP EXTENSION, but with nothing any other walmon call or a user's SQL
 * takes.  A refresh that waited for DROP EXTENSION finds the extension
 * gone once it gets the lock.  With wait false the lock is only tried.
 */
WalmonRefreshStart
walmon_store_refresh_begin(bool wait)
{
	for (;;)
	{
		Oid			extoid;

		AcceptInvalidationMessages();
		if (!store_lookup(true))
			return WALMON_REFRESH_NO_EXTENSION;
		if (store.version < WALMON_VERSION_1_1)
			return WALMON_REFRESH_OLD_VERSION;
		extoid = store.extoid;

		if (wait)
			LockDatabaseObject(ExtensionRelationId, extoid, 0, ExclusiveLock);
		else if (!walmon_conditional_lock_object(ExtensionRelationId, extoid, 0,
												 ExclusiveLock))
			return WALMON_REFRESH_BUSY;

		/*
		 * Taking the lock processed pending invalidations: if the extension
		 * changed meanwhile, look again.
		 */
		if (store_lookup(true) && store.extoid == extoid)
			return WALMON_REFRESH_OK;
		UnlockDatabaseObject(ExtensionRelationId, extoid, 0, ExclusiveLock);
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

/* A name datum of server, or null (*isnull) for a local slot. */
static Datum
store_server_datum(const char *server, bool *isnull)
{
	Name		name;

	*isnull = server == NULL;
	if (server == NULL)
		return (Datum) 0;
	name = palloc0(NAMEDATALEN);
	namestrcpy(name, server);
	return NameGetDatum(name);
}

/* the columns of Q_REFRESH_ROWS */
#define WALMON_READ_ROW_NATTS	27

/* column i (from 0) of a deformed row, as a nullable int8, int4 or bool */
static inline WalmonInt64
store_int64(const Datum *v, const bool *isnull, int i)
{
	WalmonInt64 result = {isnull[i] ? 0 : DatumGetInt64(v[i]), isnull[i]};

	return result;
}

static inline WalmonInt64
store_int32(const Datum *v, const bool *isnull, int i)
{
	WalmonInt64 result = {isnull[i] ? 0 : DatumGetInt32(v[i]), isnull[i]};

	return result;
}

static inline WalmonInt64
store_bool(const Datum *v, const bool *isnull, int i)
{
	WalmonInt64 result = {isnull[i] ? 0 : (DatumGetBool(v[i]) ? 1 : 0), isnull[i]};

	return result;
}

static inline WalmonFloat8
store_float8(const Datum *v, const bool *isnull, int i)
{
	WalmonFloat8 result = {isnull[i] ? 0 : DatumGetFloat8(v[i]), isnull[i]};

	return result;
}

/* column i of a deformed row as a C string, in the current context */
static inline char *
store_text(const Datum *v, const bool *isnull, int i)
{
	return isnull[i] ? NULL : TextDatumGetCString(v[i]);
}

/*
 * A receiver of the rows a cycle reads (its slots, its monitor rows): each
 * row is deformed once, straight from the executor's slot, and fill() makes
 * of it the next element of an array in the caller's memory context (no
 * copy of the result in a SPI tuple table, no walk of a tuple per column).
 */
typedef void (*StoreFillFunc) (void *elem, const Datum *v, const bool *isnull);

typedef struct StoreArrayReceiver
{
	DestReceiver pub;
	MemoryContext caller;		/* of the array and what its elements hold */
	int			natts;			/* the columns the statement must return */
	Size		elemsize;
	StoreFillFunc fill;
	char	   *elems;
	int			count;
	int			size;
} StoreArrayReceiver;

static void
store_array_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	StoreArrayReceiver *r = (StoreArrayReceiver *) self;

	if (typeinfo->natts != r->natts)
		elog(ERROR, "walmon: a cycle's read came back with %d columns, not %d",
			 typeinfo->natts, r->natts);
}

static bool
store_array_receive(TupleTableSlot *slot, DestReceiver *self)
{
	StoreArrayReceiver *r = (StoreArrayReceiver *) self;
	MemoryContext old;
	void	   *elem;

	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(r->caller);
	if (r->count >= r->size)
	{
		r->size *= 2;
		r->elems = repalloc_huge(r->elems, r->elemsize * r->size);
	}
	elem = r->elems + r->elemsize * r->count++;
	memset(elem, 0, r->elemsize);
	r->fill(elem, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Run statement q (params: NULL or its parameters) inside an open store
 * call, and return its rows as an array, in memory context caller, of *n
 * elements of elemsize bytes, each made by fill() from a row of natts
 * columns (fill runs in caller).
 */
static void *
store_read_array(WalmonQuery q, ParamListInfo params, int natts,
				 Size elemsize, StoreFillFunc fill, MemoryContext caller,
				 int *n)
{
	StoreArrayReceiver receiver;
	SPIExecuteOptions options;
	int			rc;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = store_array_receive;
	receiver.pub.rStartup = store_array_startup;
	receiver.pub.rShutdown = store_receiver_noop;
	receiver.pub.rDestroy = store_receiver_noop;
	receiver.pub.mydest = DestNone;
	receiver.caller = caller;
	receiver.natts = natts;
	receiver.elemsize = elemsize;
	receiver.fill = fill;
	receiver.size = 64;
	receiver.elems = MemoryContextAlloc(caller, elemsize * receiver.size);

	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = (DestReceiver *) &receiver;
	rc = SPI_execute_plan_extended(store_plan(q), &options);
	/* (SPI says "utility" of a SELECT whose rows go to such a receiver) */
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "unexpected SPI result %s for walmon statement %d",
			 SPI_result_code_string(rc), (int) q);
	MemoryContextSwitchTo(receiver.caller);
	*n = receiver.count;
	return receiver.elems;
}

/* the columns of Q_REFRESH_SLOTS */
#define WALMON_READ_SLOT_NATTS	14

/* A WalmonSlot of a row of Q_REFRESH_SLOTS (a StoreFillFunc). */
static void
store_fill_slot(void *elem, const Datum *v, const bool *isnull)
{
	WalmonSlot *slot = (WalmonSlot *) elem;

	slot->name = isnull[0] ? NULL : pstrdup(NameStr(*DatumGetName(v[0])));
	slot->logical = !isnull[1] &&
		strcmp(TextDatumGetCString(v[1]), "logical") == 0;
	slot->active = !isnull[2] && DatumGetBool(v[2]);
	slot->restart_lsn = store_int64(v, isnull, 3);
	slot->confirmed_flush_lsn = store_int64(v, isnull, 4);
	slot->wal_status = store_text(v, isnull, 5);
	slot->safe_wal_size = store_int64(v, isnull, 6);
	slot->xmin_age = store_int32(v, isnull, 7);
	slot->catalog_xmin_age = store_int32(v, isnull, 8);
	slot->conflicting = store_bool(v, isnull, 9);
	slot->invalidation_reason = store_text(v, isnull, 10);
	slot->inactive_since = store_int64(v, isnull, 11);
	slot->failover = store_bool(v, isnull, 12);
	slot->synced = store_bool(v, isnull, 13);
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

	store_begin(&call);
	slots = store_read_array(Q_REFRESH_SLOTS, NULL, WALMON_READ_SLOT_NATTS,
							 sizeof(WalmonSlot), store_fill_slot, caller,
							 nslots);
	store_end(&call);
	return slots;
}

/* A WalmonSlotRow of a row of Q_REFRESH_ROWS (a StoreFillFunc). */
static void
store_fill_slot_row(void *elem, const Datum *v, const bool *isnull)
{
	WalmonSlotRow *row = (WalmonSlotRow *) elem;

	row->source_id = DatumGetInt32(v[0]);
	row->slot_name = isnull[1] ? NULL : pstrdup(NameStr(*DatumGetName(v[1])));
	row->auto_registered = !isnull[2] && DatumGetBool(v[2]);
	row->has_row = !isnull[3] && DatumGetBool(v[3]);
	row->updated_at = store_int64(v, isnull, 4);
	row->wal_lsn = store_int64(v, isnull, 5);
	row->wal_position = store_int64(v, isnull, 6);
	row->last_wal_received = store_int64(v, isnull, 7);
	row->last_transaction_time = store_int64(v, isnull, 8);
	row->replication_slot_name = store_text(v, isnull, 9);
	row->replication_lag_bytes = store_int64(v, isnull, 10);
	row->status = store_text(v, isnull, 11);
	row->error_message = store_text(v, isnull, 12);
	row->retained_wal_bytes = store_int64(v, isnull, 13);
	row->wal_status = store_text(v, isnull, 14);
	row->safe_wal_size = store_int64(v, isnull, 15);
	row->inactive_since = store_int64(v, isnull, 16);
	row->replication_lag_seconds = store_float8(v, isnull, 17);
	row->seconds_to_invalidation = store_float8(v, isnull, 18);
	row->xmin_age = store_int32(v, isnull, 19);
	row->catalog_xmin_age = store_int32(v, isnull, 20);
	row->conflicting = store_bool(v, isnull, 21);
	row->failover = store_bool(v, isnull, 22);
	row->synced = store_bool(v, isnull, 23);
	row->invalidation_reason = store_text(v, isnull, 24);

	/*
	 * The row as this snapshot sees it was deleted, updated or locked by a
	 * transaction still running: an application's open one, most likely (a
	 * multixact's number, read as a transaction's, may give either answer;
	 * the rewrite copes with both).
	 */
	row->held = !isnull[25] &&
		TransactionIdIsValid(DatumGetTransactionId(v[25])) &&
		TransactionIdIsInProgress(DatumGetTransactionId(v[25]));
	if (isnull[26])
		ItemPointerSetInvalid(&row->ctid);
	else
		ItemPointerCopy((ItemPointer) DatumGetPointer(v[26]), &row->ctid);
}

/*
 * Every source bound to a slot of server (NULL: a local slot), with its
 * monitor row when it has one, in the caller's memory context, in no
 * particular order (the cycle sorts them).
 */
WalmonSlotRow *
walmon_store_read_slot_rows(const char *server, int *nrows)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	ParamListInfo params = NULL;
	WalmonSlotRow *rows;

	if (server != NULL)
	{
		bool		argnull;

		params = makeParamList(1);
		params->params[0].value = store_server_datum(server, &argnull);
		params->params[0].isnull = argnull;
		params->params[0].pflags = PARAM_FLAG_CONST;
		params->params[0].ptype = NAMEOID;
	}
	store_begin(&call);
	rows = store_read_array(server == NULL ? Q_REFRESH_ROWS_LOCAL : Q_REFRESH_ROWS,
							params, WALMON_READ_ROW_NATTS, sizeof(WalmonSlotRow),
							store_fill_slot_row, caller, nrows);
	store_end(&call);
	return rows;
}

/*
 * The slots of server (NULL: local) whose source was dropped, in the
 * caller's memory context.
 */
char	  **
walmon_store_read_ignored(const char *server, int *n)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	char	  **names;
	bool		isnull;
	Datum		arg = store_server_datum(server, &isnull);

	store_begin(&call);
	*n = store_execute(Q_REFRESH_IGNORED, &arg, &isnull, SPI_OK_SELECT);
	names = MemoryContextAlloc(caller, sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		names[i] = store_get_name(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  1, caller);
	store_end(&call);
	return names;
}

/* A name[] array of the given strings. */
static Datum
store_name_array(char **names, int n)
{
	Datum	   *elems = palloc_array(Datum, Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		Name		name = palloc0(NAMEDATALEN);

		namestrcpy(name, names[i]);
		elems[i] = NameGetDatum(name);
	}
	return PointerGetDatum(construct_array(elems, n, NAMEOID, NAMEDATALEN,
										   false, TYPALIGN_CHAR));
}

/* Forget that these slots of server were ignored; rows deleted. */
int
walmon_store_unignore(const char *server, char **slot_names, int n)
{
	WalmonStoreCall call;
	Datum		args[2];
	bool		isnull[2] = {false, false};
	int			done;

	if (n == 0)
		return 0;
	args[0] = store_name_array(slot_names, n);
	args[1] = store_server_datum(server, &isnull[1]);
	store_begin(&call);
	done = store_execute(Q_REFRESH_UNIGNORE, args, isnull, SPI_OK_DELETE);
	store_end(&call);
	return done;
}

/* Remove auto-registered sources (and their rows); sources removed. */
int
walmon_store_forget_sources(const int32 *ids, int n)
{
	Datum	   *elems;
	Datum		arg;

	if (n == 0)
		return 0;
	elems = palloc_array(Datum, n);
	for (int i = 0; i < n; i++)
		elems[i] = Int32GetDatum(ids[i]);
	arg = store_make_array(elems, NULL, n, INT4OID);
	return store_run(Q_REFRESH_FORGET, &arg, SPI_OK_DELETE);
}

/*
 * Register a source for each of the given slots of server (NULL: local),
 * named after the slot (<server>/<slot> for a remote one), unless a source
 * already has that name or that slot.  Returns the ids of the sources registered,
 * and their slot names in *registered, in the caller's memory context.
 */
int32 *
walmon_store_register_slots(const char *server, char **slot_names, int n,
							char ***registered, int *nregistered)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	Datum		args[2];
	bool		isnull[2] = {false, false};
	int32	   *ids;
	int			done;

	args[0] = store_name_array(slot_names, n);
	args[1] = store_server_datum(server, &isnull[1]);
	store_begin(&call);
	done = store_execute(Q_REFRESH_REGISTER, args, isnull,
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

/* A column of the records of Q_REFRESH_UPDATE and Q_REFRESH_INSERT. */
typedef enum StoreColumnKind
{
	COL_INT64,					/* WalmonInt64 */
	COL_INT32,					/* WalmonInt64 holding an int4 */
	COL_BOOL,					/* WalmonInt64 holding 0 or 1 */
	COL_FLOAT8,					/* WalmonFloat8 */
	COL_TEXT					/* char *, NULL for null */
} StoreColumnKind;

typedef struct StoreColumn
{
	size_t		offset;			/* in WalmonSlotRow */
	StoreColumnKind kind;
	Oid			elemtype;
} StoreColumn;

/* in the order of SLOT_ROW_COLUMNS */
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
	{offsetof(WalmonSlotRow, replication_lag_seconds), COL_FLOAT8, FLOAT8OID},
	{offsetof(WalmonSlotRow, seconds_to_invalidation), COL_FLOAT8, FLOAT8OID},
	{offsetof(WalmonSlotRow, xmin_age), COL_INT32, INT4OID},
	{offsetof(WalmonSlotRow, catalog_xmin_age), COL_INT32, INT4OID},
	{offsetof(WalmonSlotRow, conflicting), COL_BOOL, BOOLOID},
	{offsetof(WalmonSlotRow, failover), COL_BOOL, BOOLOID},
	{offsetof(WalmonSlotRow, synced), COL_BOOL, BOOLOID},
	{offsetof(WalmonSlotRow, invalidation_reason), COL_TEXT, TEXTOID},
};

/*
 * The columns of a slot row record: the source id, the version of its row
 * that the cycle read (null for a first row), then those.
 */
#define WALMON_SLOT_ROW_FIRST	2
#define WALMON_SLOT_ROW_NATTS	(lengthof(store_slot_row_columns) + WALMON_SLOT_ROW_FIRST)

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
 * The row type of the records of one kind of record array, made and
 * blessed (given a typmod of this session's record types) the first time.
 * Its columns have no names: the statement's column definition list names
 * them, and the executor checks every row's types against that list.
 */
static TupleDesc
store_rowtype(StoreRowType which)
{
	static TupleDesc rowtypes[STORE_NUM_ROWTYPES];
	static const Oid batch_types[WALMON_UPSERT_NARGS] = UPSERT_ARGTYPES;
	static const Oid sample_types[] = {
		INT4OID, LSNOID, INT8OID, TEXTOID, TEXTOID, BOOLOID
	};
	Oid			slot_row_types[WALMON_SLOT_ROW_NATTS];
	const Oid  *types;
	int			natts;
	MemoryContext old;
	TupleDesc	desc;

	if (rowtypes[which] != NULL)
		return rowtypes[which];

	switch (which)
	{
		case ROWTYPE_BATCH:
			types = batch_types;
			natts = lengthof(batch_types);
			break;
		case ROWTYPE_SLOT_ROW:
			slot_row_types[0] = INT4OID;
			slot_row_types[1] = TIDOID;
			for (int c = 0; c < (int) lengthof(store_slot_row_columns); c++)
				slot_row_types[c + WALMON_SLOT_ROW_FIRST] =
					store_slot_row_columns[c].elemtype;
			types = slot_row_types;
			natts = WALMON_SLOT_ROW_NATTS;
			break;
		case ROWTYPE_SAMPLE:
			types = sample_types;
			natts = lengthof(sample_types);
			break;
		default:
			elog(ERROR, "unknown walmon row type %d", (int) which);
	}

	old = MemoryContextSwitchTo(TopMemoryContext);
	desc = CreateTemplateTupleDesc(natts);
	for (int i = 0; i < natts; i++)
		TupleDescInitEntry(desc, (AttrNumber) (i + 1), NULL, types[i], -1, 0);
	desc = BlessTupleDesc(desc);
	MemoryContextSwitchTo(old);

	rowtypes[which] = desc;
	return desc;
}

/*
 * A one-dimensional record array of n rows of the row type which, row i
 * made of values[i * natts ..] and nulls[i * natts ..].
 */
static Datum
store_make_records(StoreRowType which, Datum *values, bool *nulls, int n)
{
	TupleDesc	desc = store_rowtype(which);
	int			natts = desc->natts;
	HeapTuple  *tuples = palloc_array(HeapTuple, Max(n, 1));
	Datum	   *elems = palloc_array(Datum, Max(n, 1));
	ArrayType  *array;

	for (int i = 0; i < n; i++)
	{
		tuples[i] = heap_form_tuple(desc, &values[i * natts], &nulls[i * natts]);
		elems[i] = HeapTupleGetDatum(tuples[i]);
	}
	array = construct_array(elems, n, RECORDOID, -1, false, TYPALIGN_DOUBLE);
	for (int i = 0; i < n; i++)
		heap_freetuple(tuples[i]);
	pfree(tuples);
	pfree(elems);
	return PointerGetDatum(array);
}

/*
 * The records (SLOT_ROWS_FROM) of rows[0..n-1] selected by sel (NULL:
 * all), and in *ids the array of their source ids.
 */
static Datum
store_slot_row_records(const WalmonSlotRow *rows, int n, const bool *sel,
					   Datum *ids)
{
	const int	natts = WALMON_SLOT_ROW_NATTS;
	Datum	   *values = palloc_array(Datum, Max(n, 1) * natts);
	bool	   *nulls = palloc_array(bool, Max(n, 1) * natts);
	Datum	   *elems = palloc_array(Datum, Max(n, 1));
	Datum		records;
	int			k = 0;

	for (int i = 0; i < n; i++)
	{
		Datum	   *v = &values[k * natts];
		bool	   *isnull = &nulls[k * natts];

		if (sel != NULL && !sel[i])
			continue;
		elems[k] = Int32GetDatum(rows[i].source_id);
		v[0] = elems[k];
		isnull[0] = false;
		isnull[1] = !ItemPointerIsValid(&rows[i].ctid);
		v[1] = isnull[1] ? (Datum) 0 : PointerGetDatum(&rows[i].ctid);
		for (int c = 0; c < (int) lengthof(store_slot_row_columns); c++)
		{
			const StoreColumn *col = &store_slot_row_columns[c];
			const char *field = (const char *) &rows[i] + col->offset;
			Datum	   *value = &v[c + WALMON_SLOT_ROW_FIRST];
			bool	   *null = &isnull[c + WALMON_SLOT_ROW_FIRST];

			switch (col->kind)
			{
				case COL_INT64:
				case COL_INT32:
				case COL_BOOL:
					{
						const WalmonInt64 *f = (const WalmonInt64 *) field;

						*null = f->isnull;
						*value = f->isnull ? (Datum) 0 :
							col->kind == COL_INT64 ? Int64GetDatum(f->value) :
							col->kind == COL_INT32 ? Int32GetDatum((int32) f->value) :
							BoolGetDatum(f->value != 0);
						break;
					}
				case COL_FLOAT8:
					{
						const WalmonFloat8 *f = (const WalmonFloat8 *) field;

						*null = f->isnull;
						*value = f->isnull ? (Datum) 0 : Float8GetDatum(f->value);
						break;
					}
				case COL_TEXT:
					{
						const char *f = *(char *const *) field;

						*null = f == NULL;
						*value = f == NULL ? (Datum) 0 : CStringGetTextDatum(f);
						break;
					}
			}
		}
		k++;
	}
	records = store_make_records(ROWTYPE_SLOT_ROW, values, nulls, k);
	if (ids != NULL)
		*ids = store_make_array(elems, NULL, k, INT4OID);
	pfree(values);
	pfree(nulls);
	pfree(elems);
	return records;
}

/* how long the rewrite alone may wait for a row lock before it locks */
#define WALMON_REWRITE_LOCK_TIMEOUT "10ms"

/*
 * Whether this process's last rewrite found every row free.  After one
 * that had to be undone, the rewrites lock first until one finds every row
 * free again, so that a row held where the read cannot tell (a multixact)
 * costs no wait and no undone write in every cycle.
 */
static bool store_rows_free = true;

/*
 * Flag in written[] the rows of rows[0..n-1] (sorted by source_id) whose
 * source ids the statement just run returned; returns how many it did.
 */
static int
store_flag_returned(const WalmonSlotRow *rows, int n, bool *written)
{
	int			returned = (int) SPI_processed;

	for (int r = 0; r < returned; r++)
	{
		bool		isnull;
		int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
													 SPI_tuptable->tupdesc,
													 1, &isnull));
		int			lo = 0;
		int			hi = n - 1;

		while (lo <= hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (rows[mid].source_id == id)
			{
				written[mid] = true;
				break;
			}
			if (rows[mid].source_id < id)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return returned;
}

/*
 * The rewrite on its own (Q_REFRESH_UPDATE of records), in a subtransaction
 * whose row lock waits end after WALMON_REWRITE_LOCK_TIMEOUT.  Returns
 * false, having written nothing, when a row lock was not granted in time;
 * otherwise flags the rows written and sets *count.
 */
static bool
store_try_rewrite(Datum records, const WalmonSlotRow *rows, int n,
				  bool *written, int *count)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", WALMON_REWRITE_LOCK_TIMEOUT,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		store_execute(Q_REFRESH_UPDATE, &records, NULL, SPI_OK_UPDATE_RETURNING);
		*count = store_flag_returned(rows, n, written);
		AtEOXact_GUC(true, nestlevel);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* undo the subtransaction first, whatever the error */
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		walmon_walend_note_abort();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
		memset(written, 0, n * sizeof(bool));
	}
	PG_END_TRY();
	return ok;
}

/*
 * Rewrite the monitor rows computed by the refresh, rows[] sorted by
 * source_id.  Rows another transaction holds are skipped, never waited
 * for beyond WALMON_REWRITE_LOCK_TIMEOUT; sets written[i] for each row
 * written, and returns how many were.
 *
 * Usually no other transaction holds any of these rows (applications
 * write the rows of their own sources; these are bound to slots), so the
 * rewrite runs alone first: locking every row before rewriting it would
 * write a lock record per row and cost a statement.  When the read of the
 * rows saw one that a running transaction changed or locked (held), or
 * when the rewrite has to wait for a row lock longer than a moment (it was
 * taken since, or the read could not tell; the rewrite is undone), the
 * rows not held are locked (SKIP LOCKED, in source_id order) and
 * rewritten, and so are the next cycles' until one finds every row free
 * (store_rows_free).  So a row held for long costs no wait and no undone
 * write in every cycle.
 */
int
walmon_store_update_slot_rows(const WalmonSlotRow *rows, int n, bool *written_rows)
{
	WalmonStoreCall call;
	Datum		records;
	Datum		ids;
	bool	   *locked;
	int			nlocked;
	int			written = 0;
	bool		any_held = false;

	if (n == 0)
		return 0;

	for (int i = 0; i < n && !any_held; i++)
		any_held = rows[i].held;
	records = store_slot_row_records(rows, n, NULL, &ids);
	store_begin(&call);
	if (any_held || !store_rows_free ||
		!store_try_rewrite(records, rows, n, written_rows, &written))
	{
		store_rows_free = false;
		nlocked = store_execute(Q_REFRESH_LOCK, &ids, NULL, SPI_OK_SELECT);
		store_rows_free = nlocked == n;
		if (nlocked > 0)
		{
			/* both lists are sorted by source_id: mark the rows locked */
			locked = palloc0_array(bool, n);
			for (int i = 0, r = 0; i < n && r < nlocked; i++)
			{
				bool		isnull;
				int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
															 SPI_tuptable->tupdesc,
															 1, &isnull));

				if (rows[i].source_id == id)
				{
					locked[i] = true;
					r++;
				}
			}
			SPI_freetuptable(SPI_tuptable);
			pfree(DatumGetPointer(records));
			records = store_slot_row_records(rows, n, locked, NULL);
			store_execute(Q_REFRESH_UPDATE, &records, NULL,
						  SPI_OK_UPDATE_RETURNING);
			written = store_flag_returned(rows, n, written_rows);
			pfree(locked);
		}
	}
	pfree(DatumGetPointer(records));
	pfree(DatumGetPointer(ids));
	store_end(&call);
	return written;
}

/*
 * Insert the first monitor rows of sources that have none, rows[] sorted
 * by source_id; sets written[i] for each row inserted, and returns how many
 * were.
 */
int
walmon_store_insert_slot_rows(const WalmonSlotRow *rows, int n, bool *written)
{
	WalmonStoreCall call;
	Datum		arg;
	int			inserted;

	if (n == 0)
		return 0;
	arg = store_slot_row_records(rows, n, NULL, NULL);
	store_begin(&call);
	store_execute(Q_REFRESH_INSERT, &arg, NULL, SPI_OK_INSERT_RETURNING);
	pfree(DatumGetPointer(arg));
	inserted = store_flag_returned(rows, n, written);
	store_end(&call);
	return inserted;
}

/* Sample the monitors that changed since their last sample; rows added. */
int
walmon_store_sample_metrics(void)
{
	WalmonStoreCall call;
	int			n;

	store_begin(&call);
	n = store_execute(Q_SAMPLE_METRICS, NULL, NULL, SPI_OK_INSERT);
	store_end(&call);
	return n;
}

/*
 * Take the samples (WalmonSample) of the monitor rows a cycle wrote, as it
 * wrote them; rows added.
 */
int
walmon_store_sample_written(List *samples)
{
	const int	natts = 6;		/* SAMPLE_ROWS_FROM */
	int			n = list_length(samples);
	Datum		args[2];
	Datum	   *values;
	bool	   *nulls;
	bool		any_local = false;
	int			i = 0;
	int			done;
	ListCell   *lc;

	if (n == 0)
		return 0;
	values = palloc_array(Datum, n * natts);
	nulls = palloc_array(bool, n * natts);
	foreach(lc, samples)
	{
		const WalmonSample *s = (const WalmonSample *) lfirst(lc);
		Datum	   *v = &values[i * natts];
		bool	   *isnull = &nulls[i * natts];

		v[0] = Int32GetDatum(s->source_id);
		isnull[0] = false;
		isnull[1] = s->wal_lsn.isnull;
		v[1] = s->wal_lsn.isnull ? (Datum) 0 : Int64GetDatum(s->wal_lsn.value);
		isnull[2] = s->replication_lag_bytes.isnull;
		v[2] = s->replication_lag_bytes.isnull ? (Datum) 0 :
			Int64GetDatum(s->replication_lag_bytes.value);
		isnull[3] = s->status == NULL;
		v[3] = s->status == NULL ? (Datum) 0 : CStringGetTextDatum(s->status);
		isnull[4] = s->slot_name == NULL;
		v[4] = s->slot_name == NULL ? (Datum) 0 : CStringGetTextDatum(s->slot_name);
		isnull[5] = false;
		v[5] = BoolGetDatum(s->local);
		any_local |= s->local;
		i++;
	}
	args[0] = store_make_records(ROWTYPE_SAMPLE, values, nulls, n);
	args[1] = BoolGetDatum(any_local);
	pfree(values);
	pfree(nulls);
	done = store_run(Q_SAMPLE_WRITTEN, args, SPI_OK_INSERT);
	pfree(DatumGetPointer(args[0]));
	return done;
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

/*
 * The remote servers walmon polls, in the caller's memory context, and in
 * *followed whether walmon follows each (registers its slots).
 */
char	  **
walmon_store_servers(int *n, bool **followed)
{
	MemoryContext caller = CurrentMemoryContext;
	WalmonStoreCall call;
	char	  **names;

	store_begin(&call);
	*n = store_execute(Q_SERVERS, NULL, NULL, SPI_OK_SELECT);
	names = MemoryContextAlloc(caller, sizeof(char *) * Max(*n, 1));
	*followed = MemoryContextAlloc(caller, sizeof(bool) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		names[i] = store_get_name(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  1, caller);
		(*followed)[i] = store_get_bool(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2);
	}
	store_end(&call);
	return names;
}

/* Follow a server; false when it was followed already. */
bool
walmon_store_bind_server(const char *server)
{
	bool		isnull;
	Datum		arg = store_server_datum(server, &isnull);

	return store_run(Q_BIND_SERVER, &arg, SPI_OK_INSERT) > 0;
}

/*
 * Follow a server no more; false when it was neither followed nor had
 * sources bound to it by hand.
 */
bool
walmon_store_unbind_server(const char *server)
{
	WalmonStoreCall call;
	bool		isnull;
	Datum		arg = store_server_datum(server, &isnull);
	bool		found;

	store_begin(&call);
	store_execute(Q_UNBIND_SERVER, &arg, &isnull, SPI_OK_SELECT);
	found = store_get_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1).value > 0 ||
		store_get_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2).value > 0;
	store_end(&call);
	return found;
}

/* How many sources follow slots of server. */
int
walmon_store_count_sources(const char *server)
{
	WalmonStoreCall call;
	bool		isnull;
	Datum		arg = store_server_datum(server, &isnull);
	int			n;

	store_begin(&call);
	store_execute(Q_COUNT_SOURCES, &arg, &isnull, SPI_OK_SELECT);
	n = (int) store_get_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1).value;
	store_end(&call);
	return n;
}

/* The owner of the extension: remote servers are reached as that role. */
Oid
walmon_store_owner(void)
{
	AcceptInvalidationMessages();
	(void) store_lookup(false);
	return store.owner;
}
