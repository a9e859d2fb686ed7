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

#include "access/attnum.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "storage/lwlock.h"
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
	char	   *status;			/* NULL only after a superuser's mistake */
	bool		lag_isnull;
	int64		lag;
	bool		wal_age_isnull;
	double		wal_age;		/* seconds since last_wal_received */
	/* walmon 1.1 (null with 1.0) */
	char	   *server;			/* NULL for a local slot or none */
	bool		retained_isnull;
	int64		retained;		/* retained_wal_bytes */
	bool		safe_isnull;
	int64		safe;			/* safe_wal_size */
	bool		lag_seconds_isnull;
	double		lag_seconds;	/* replication_lag_seconds, as of now */
	bool		to_invalidation_isnull;
	double		to_invalidation;	/* seconds_to_invalidation */
	bool		xmin_age_isnull;
	int64		xmin_age;
	bool		catalog_xmin_age_isnull;
	int64		catalog_xmin_age;
} WalmonSourceState;

/*
 * Versions of the extension's SQL scripts the library knows; the store
 * adapts its checks to the installed one.
 */
#define WALMON_VERSION_1_0		100
#define WALMON_VERSION_1_1		101
#define WALMON_VERSION_CURRENT	WALMON_VERSION_1_1

/*
 * Where the columns the history trigger reads are in walmon's wal_monitor,
 * as the store found (and type-checked) them.
 */
typedef struct WalmonMonitorLayout
{
	Oid			relid;
	AttrNumber	source_id;
	AttrNumber	status;
	AttrNumber	error_message;
	AttrNumber	wal_lsn;
	AttrNumber	replication_lag_bytes;
} WalmonMonitorLayout;

/* argument names, as walmon_upsert declares them (functions.c) */
extern const char *const walmon_upsert_argnames[WALMON_UPSERT_NARGS];

/* store.c: the only code that knows walmon's SQL */
extern bool walmon_store_installed(void);
extern const WalmonMonitorLayout *walmon_store_monitor_layout(void);
extern int	walmon_store_version(void);
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
									 bool id_isnull, Datum server,
									 bool server_isnull);

/* ----------------------------------------------------------------
 * The refresh cycle and the background worker (issue 3)
 * ----------------------------------------------------------------
 */

/* settings (guc.c); walmon_database is NULL unless preloaded */
extern char *walmon_database;
extern bool walmon_enabled;
extern int	walmon_naptime;
extern bool walmon_auto_register;
extern int	walmon_lag_error_kb;
extern int	walmon_metrics_interval;
extern int	walmon_metrics_retention;
extern int	walmon_monitor_retention;
extern int	walmon_lag_error_seconds;
extern int	walmon_forecast_error_seconds;
extern int	walmon_xmin_age_error;
extern int	walmon_missing_slot_retention;
extern int	walmon_remote_timeout;

extern void walmon_guc_define(void);
extern void walmon_guc_define_postmaster(void);

/*
 * A nullable 64-bit value: an LSN, a byte count, a timestamp, a count of
 * transactions, or a boolean (0 or 1).
 */
typedef struct WalmonInt64
{
	int64		value;
	bool		isnull;
} WalmonInt64;

/* A nullable double: seconds. */
typedef struct WalmonFloat8
{
	double		value;
	bool		isnull;
} WalmonFloat8;

/*
 * One non-temporary replication slot, as pg_replication_slots shows it.
 * Columns the server version lacks are null.
 */
typedef struct WalmonSlot
{
	char	   *name;
	bool		logical;
	bool		active;			/* a walsender streams from it */
	WalmonInt64 restart_lsn;
	WalmonInt64 confirmed_flush_lsn;
	char	   *wal_status;		/* NULL when the view shows NULL */
	WalmonInt64 safe_wal_size;	/* as the view computes it */
	WalmonInt64 xmin_age;		/* age(xmin), in transactions */
	WalmonInt64 catalog_xmin_age;
	WalmonInt64 conflicting;	/* 16+ */
	char	   *invalidation_reason;	/* 17+ */
	WalmonInt64 inactive_since; /* 17+ */
	WalmonInt64 failover;		/* 17+ */
	WalmonInt64 synced;			/* 17+ */
	bool		synced_on_standby;	/* synced from a primary: not a consumer */
} WalmonSlot;

/*
 * A source bound to a slot with its monitor row (has_row), or the row the
 * refresh computed for it.  Text columns are NULL pointers when null.
 */
typedef struct WalmonSlotRow
{
	int32		source_id;
	char	   *slot_name;
	bool		auto_registered;
	bool		has_row;
	bool		held;			/* read only: another transaction may hold it */
	ItemPointerData ctid;		/* read only: the version read (invalid: none) */
	WalmonInt64 updated_at;		/* read only */
	WalmonInt64 wal_lsn;
	WalmonInt64 wal_position;
	WalmonInt64 last_wal_received;
	WalmonInt64 last_transaction_time;
	char	   *replication_slot_name;
	WalmonInt64 replication_lag_bytes;
	char	   *status;
	char	   *error_message;
	WalmonInt64 retained_wal_bytes;
	char	   *wal_status;
	WalmonInt64 safe_wal_size;
	WalmonInt64 inactive_since;
	/* walmon 1.1 */
	WalmonFloat8 replication_lag_seconds;
	WalmonFloat8 seconds_to_invalidation;
	WalmonInt64 xmin_age;
	WalmonInt64 catalog_xmin_age;
	WalmonInt64 conflicting;
	WalmonInt64 failover;
	WalmonInt64 synced;
	char	   *invalidation_reason;
	/* not stored: a write of the row also takes a sample in wal_metrics */
	bool		sample;
} WalmonSlotRow;

/*
 * A sample in wal_metrics of a monitor row a cycle wrote, as it wrote it;
 * local: a row of this server's slot, whose decoding statistics the sample
 * keeps.
 */
typedef struct WalmonSample
{
	int32		source_id;
	WalmonInt64 wal_lsn;
	WalmonInt64 replication_lag_bytes;
	char	   *status;
	char	   *slot_name;
	bool		local;
} WalmonSample;

/* What walmon_store_refresh_begin found. */
typedef enum WalmonRefreshStart
{
	WALMON_REFRESH_OK,			/* locked: this session refreshes */
	WALMON_REFRESH_NO_EXTENSION,	/* walmon is not installed here */
	WALMON_REFRESH_OLD_VERSION, /* installed, but older than 1.1 */
	WALMON_REFRESH_BUSY			/* another session is refreshing */
} WalmonRefreshStart;

/* store.c: the refresh statements */
extern WalmonRefreshStart walmon_store_refresh_begin(bool wait);
extern WalmonSlot *walmon_store_read_slots(int *nslots);
extern WalmonSlotRow *walmon_store_read_slot_rows(const char *server,
												  int *nrows);
extern char **walmon_store_read_ignored(const char *server, int *n);
extern int	walmon_store_unignore(const char *server, char **slot_names,
								  int n);
extern int32 *walmon_store_register_slots(const char *server,
										  char **slot_names, int n,
										  char ***registered, int *nregistered);
extern char **walmon_store_servers(int *n, bool **followed);
extern bool walmon_store_bind_server(const char *server);
extern bool walmon_store_unbind_server(const char *server);
extern int	walmon_store_count_sources(const char *server);
extern Oid	walmon_store_owner(void);
extern int	walmon_store_update_slot_rows(const WalmonSlotRow *rows, int n,
										  bool *written);
extern int	walmon_store_insert_slot_rows(const WalmonSlotRow *rows, int n,
										  bool *written);
extern int	walmon_store_forget_sources(const int32 *ids, int n);
extern bool walmon_store_is_own_relfilenode(Oid spc, Oid db, Oid relnode);

/*
 * walend.c: the effective foreign WAL end (see cycle.c for the design).
 * A write of walmon's own: its transaction, and the WAL range its records
 * (all but the commit record) went into.
 */
#define WALMON_OWN_SUBXIDS	16

typedef struct WalmonOwnWrite
{
	TransactionId topxid;		/* the top-level transaction that wrote */
	int			nsubxids;		/* its committed subtransactions, */
	TransactionId subxids[WALMON_OWN_SUBXIDS];	/* the first of them */
	XLogRecPtr	start;			/* insert position before the first write */
	XLogRecPtr	end;			/* end of the last record written */
} WalmonOwnWrite;

#define WALMON_OWN_WRITES	8

/* One point of the WAL end's history: when it was where. */
typedef struct WalmonWalSample
{
	TimestampTz at;
	XLogRecPtr	wal_end;
} WalmonWalSample;

/* the samples kept of the WAL end: one per cycle in which it moved */
#define WALMON_RING_SIZE	4096

typedef struct WalmonWalEnd
{
	XLogRecPtr	wal_end;		/* E: invalid until the first cycle */
	XLogRecPtr	marker;			/* last important record accounted for */
	bool		marker_own;		/* whether it was one of walmon's own */
	XLogRecPtr	insert;			/* the insert position E was set against */
	uint64		own_bytes;		/* walmon's own WAL read since E was set */
	uint64		bookkeeping_bytes;	/* bookkeeping WAL counted since then */
	uint64		scan_bytes;		/* how far the last scan read */
	uint64		trail_bytes;	/* insert position minus E, at the last cycle */
	XLogRecPtr	own_vacuum;		/* the last VACUUM record read on walmon's
								 * own relations, or invalid */
	int			next_own;		/* ring position of the next own write */
	WalmonOwnWrite own[WALMON_OWN_WRITES];
	int			ring_next;		/* where the next sample goes */
	int			ring_count;
	WalmonWalSample ring[WALMON_RING_SIZE];
} WalmonWalEnd;

/* What walmon_worker_status() shows of it. */
typedef struct WalmonWalEndStatus
{
	XLogRecPtr	wal_end;
	uint64		trail_bytes;
	uint64		own_bytes;
	uint64		bookkeeping_bytes;
	uint64		scan_bytes;
	WalmonFloat8 rate;			/* foreign WAL bytes per second, last minute */
	WalmonFloat8 rate_15min;
	TimestampTz oldest_sample;	/* 0 when there is none */
} WalmonWalEndStatus;

/* the bookkeeping WAL E may trail the insert position by */
#define WALMON_BOOKKEEPING_ALLOWANCE	(64 * 1024)
/* the most WAL one cycle reads to tell foreign records from the others */
#define WALMON_SCAN_MAX_BYTES	(16 * 1024 * 1024)

extern XLogRecPtr walmon_walend_begin(TimestampTz now);
extern void walmon_walend_open(void);
extern void walmon_walend_note_abort(void);
extern void walmon_walend_close(void);
extern bool walmon_walend_is_own_xact(TransactionId xid);
extern void walmon_walend_forget(void);
extern WalmonFloat8 walmon_walend_lag_seconds(XLogRecPtr pos, XLogRecPtr wal_end,
											  TimestampTz now);
extern void walmon_walend_status(TimestampTz now, WalmonWalEndStatus *status);
extern WalmonFloat8 walmon_disk_full_seconds(WalmonFloat8 rate,
											 WalmonInt64 *free_bytes);

/* the rate of foreign WAL over the last seconds of a ring, or null */
extern WalmonFloat8 walmon_ring_rate(const WalmonWalSample *ring, int size,
									 int next, int count, TimestampTz now,
									 int seconds);
extern WalmonFloat8 walmon_ring_lag_seconds(const WalmonWalSample *ring,
											int size, int next, int count,
											XLogRecPtr pos, XLogRecPtr wal_end,
											TimestampTz now);
extern void walmon_ring_add(WalmonWalSample *ring, int size, int *next,
							int *count, TimestampTz at, XLogRecPtr wal_end);

/* cycle.c: one cycle, inside a transaction with an active snapshot */
typedef enum WalmonRefreshOutcome
{
	WALMON_REFRESHED,
	WALMON_REFRESH_SKIPPED_RECOVERY,
	WALMON_REFRESH_SKIPPED_NO_EXTENSION,
	WALMON_REFRESH_SKIPPED_OLD_VERSION,
	WALMON_REFRESH_SKIPPED_BUSY
} WalmonRefreshOutcome;

/* how long any statement of a cycle may wait for a lock (cycle.c) */
#define WALMON_CYCLE_LOCK_TIMEOUT "1s"

/* What the rows of one server's slots are computed from (cycle.c) */
typedef struct WalmonCycleContext
{
	const char *server;			/* NULL: this server's own slots */
	const char *server_error;	/* the server could not be read: why */
	bool		register_slots; /* register sources for new slots */
	XLogRecPtr	wal_end;		/* E, or a remote server's own WAL end */
	bool		local;			/* wal_end is the effective foreign WAL end */
	TimestampTz now;			/* the cycle's transaction start */
	WalmonInt64 last_commit;
	WalmonFloat8 rate;			/* foreign WAL bytes per second */
	WalmonFloat8 seconds_to_disk_full;
	bool		capped;			/* max_slot_wal_keep_size is set */
	/* a remote server's history of wal_end, for the lag in seconds */
	const WalmonWalSample *ring;
	int			ring_size;
	int			ring_next;
	int			ring_count;
	MemoryContext list_cxt;		/* where the list of samples grows */
} WalmonCycleContext;

extern int	walmon_cycle_run(bool wait, bool remote,
							 WalmonRefreshOutcome *outcome);
extern int	walmon_cycle_apply(WalmonCycleContext *ctx, WalmonSlot *slots,
							   int nslots, List **samples);
extern int	walmon_cycle_take_samples(List *samples);
extern char *walmon_pretty_seconds(double seconds);
extern char *walmon_pretty_rate(double bytes_per_second);

/* maintenance.c: a cycle's housekeeping, in the cycle's transaction */
extern int	walmon_maintenance(TimestampTz now, List *samples);

/* store.c: what the housekeeping runs */
extern int	walmon_store_sample_metrics(void);
extern int	walmon_store_sample_written(List *samples);
extern int	walmon_store_prune_metrics(TimestampTz cutoff, int limit);
extern int	walmon_store_expire_monitors(TimestampTz cutoff, int limit);

/* shmem.c: the worker's shared state */
typedef enum WalmonWorkerPhase
{
	WALMON_PHASE_STOPPED = 0,
	WALMON_PHASE_STARTING,
	WALMON_PHASE_WAITING_DATABASE,
	WALMON_PHASE_WAITING_EXTENSION,
	WALMON_PHASE_RUNNING,
	WALMON_PHASE_STANDBY,
	WALMON_PHASE_DISABLED,
	WALMON_PHASE_OLD_VERSION
} WalmonWorkerPhase;

#define WALMON_LAST_ERROR_LEN	1024

/* A copy of the worker's state, for walmon_worker_status(). */
typedef struct WalmonWorkerStatus
{
	pid_t		pid;
	WalmonWorkerPhase phase;
	TimestampTz started_at;
	TimestampTz last_cycle_start;
	TimestampTz last_cycle_end;
	int64		cycles;
	int64		rows_written;
	int64		errors;			/* cycles that failed */
	char		last_error[WALMON_LAST_ERROR_LEN];
	TimestampTz last_error_at;
	bool		in_recovery;
	XLogRecPtr	wal_end;		/* E, from the foreign-WAL-end bookkeeping */
} WalmonWorkerStatus;

extern void walmon_shmem_install(void);
extern bool walmon_shmem_available(void);
extern bool walmon_shmem_get_status(WalmonWorkerStatus *status);
extern const char *walmon_phase_name(WalmonWorkerPhase phase);
extern bool walmon_shmem_worker_attach(void);
extern WalmonWorkerPhase walmon_shmem_set_phase(WalmonWorkerPhase phase);
extern void walmon_shmem_set_recovery(bool in_recovery);
extern void walmon_shmem_cycle_start(TimestampTz start);
extern void walmon_shmem_cycle_end(TimestampTz end, int rows);
extern void walmon_shmem_cycle_failed(TimestampTz end, const char *message);
extern void walmon_shmem_note_error(TimestampTz at, const char *message);
extern void walmon_shmem_set_connecting(bool connecting);
extern void walmon_shmem_set_database_missing(bool missing);
extern WalmonWalEnd *walmon_shmem_walend(LWLock **lock);

/* remote.c: remote servers */
extern Oid	walmon_remote_check_server(const char *name);
extern int	walmon_remote_cycle(TimestampTz now, List **samples);
extern void walmon_remote_worker_cycle(void);

/* worker.c; walmon_is_worker is true in the background worker only */
extern bool walmon_is_worker;
extern void walmon_worker_register(void);
extern PGDLLEXPORT WALMON_NORETURN void walmon_worker_main(Datum main_arg) WALMON_NORETURN_AFTER;

#endif							/* WALMON_H */
