/*-------------------------------------------------------------------------
 *
 * walmon.h
 *		Declarations shared by walmon's source files: the arguments of one
 *		upsert and the store's interface.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/walmon.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMON_H
#define WALMON_H

#include "fmgr.h"
#include "utils/tuplestore.h"

#include "compat.h"

/*
 * The arguments of one upsert, in the order of walmon_upsert's parameters;
 * they are also the parameters $1..$9 of the store's upsert statements.
 */
typedef enum WalmonUpsertArg
{
	WALMON_ARG_SOURCE_ID = 0,
	WALMON_ARG_WAL_LSN,
	WALMON_ARG_WAL_POSITION,
	WALMON_ARG_LAST_WAL_RECEIVED,
	WALMON_ARG_LAST_TRANSACTION_TIME,
	WALMON_ARG_REPLICATION_SLOT_NAME,
	WALMON_ARG_REPLICATION_LAG_BYTES,
	WALMON_ARG_STATUS,
	WALMON_ARG_ERROR_MESSAGE,
	WALMON_UPSERT_NARGS
} WalmonUpsertArg;

typedef struct WalmonUpsert
{
	Datum		values[WALMON_UPSERT_NARGS];
	bool		isnull[WALMON_UPSERT_NARGS];
} WalmonUpsert;

/* One change of a monitor's status, for wal_monitor_history (history.c) */
typedef struct WalmonHistoryEvent
{
	Datum		source_id;
	Datum		old_status;
	bool		old_status_isnull;
	Datum		new_status;
	Datum		error_message;
	bool		error_message_isnull;
	Datum		wal_lsn;
	bool		wal_lsn_isnull;
	Datum		lag;
	bool		lag_isnull;
} WalmonHistoryEvent;

/* The current state of one monitored source, for exporters */
typedef struct WalmonSourceState
{
	int32		source_id;
	char	   *name;
	char	   *slot_name;		/* NULL when not bound to a slot */
	char	   *status;
	bool		lag_isnull;
	int64		lag;
	bool		wal_age_isnull;
	double		wal_age;		/* seconds since last_wal_received */
} WalmonSourceState;

/* argument names, as walmon_upsert declares them (functions.c) */
extern const char *const walmon_upsert_argnames[WALMON_UPSERT_NARGS];

/* store.c: the only code that knows walmon's SQL */
extern Datum walmon_store_upsert(const WalmonUpsert *u, bool *registered);
extern int	walmon_store_upsert_many(const WalmonUpsert *u, int n,
									 Tuplestorestate *tupstore);
extern void walmon_store_status(Tuplestorestate *tupstore, bool all,
								int32 source_id);
extern Datum walmon_store_set_status(int32 source_id, Datum status,
									 Datum error_message, bool error_isnull,
									 bool *found);
extern bool walmon_store_delete_monitor(int32 source_id);
extern bool walmon_store_drop_source(int32 source_id);
extern void walmon_store_record_history(const WalmonHistoryEvent *ev);
extern WalmonSourceState *walmon_store_source_states(int *n);
extern int32 walmon_store_add_source(Datum name, Datum slot_name,
									 bool slot_isnull, int32 id,
									 bool id_isnull);

#endif							/* WALMON_H */
