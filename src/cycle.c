/*-------------------------------------------------------------------------
 *
 * cycle.c
 *		One cycle, the same whoever runs it: the background worker every
 *		walmon.naptime, walmon_refresh() in the calling session.  It turns
 *		the server's replication slots into the monitor rows of the sources
 *		bound to them, writes the rows that changed, and only those, removes
 *		auto-registered sources whose slot has long been gone, then takes
 *		the samples and applies the retention (maintenance.c).  The caller
 *		has opened a transaction and pushed a snapshot; all SQL is in
 *		store.c.
 *
 * Writing nothing on an idle server
 * ---------------------------------
 * A row is written only when something other than a timestamp, or a
 * number derived from the clock, changed in it.  That alone does not
 * settle, because walmon's writes change what it measures:
 *
 *	- they advance the WAL position, so the lag of every slot that is not
 *	  caught up grows by the size of walmon's own write;
 *	- a connected consumer receives walmon's WAL and its slot advances;
 *	- walmon's commit becomes the last committed transaction;
 *	- the server writes bookkeeping records after any write: a checkpoint
 *	  (checkpoint_timeout skips a checkpoint only when nothing important
 *	  was written since the last one), a running-transactions snapshot,
 *	  a segment switch (archive_timeout), page pruning and hint-bit page
 *	  images when the changed rows are read again.
 *
 * Every one of these would make the next cycle write again, forever.  So
 * the cycle measures against the effective foreign WAL end E instead of
 * the insert position (walend.c):
 *
 *	- E is the insert position as of the last WAL record that is neither
 *	  walmon's own nor bookkeeping within a small allowance.  If the newest
 *	  "important" record (GetLastImportantRecPtr(): every record but the
 *	  running-transactions snapshots and archive_timeout switches) is the
 *	  one E already accounted for, nothing happened and E stays.  If newer
 *	  important records exist, the WAL since is read: the records of
 *	  walmon's own recent write transactions (by transaction id and the
 *	  WAL range they wrote into) and the pruning and hint-bit images of
 *	  walmon's own tables that its reads cause are walmon's own (unless a
 *	  VACUUM of those tables was seen lately); other bookkeeping (checkpoints,
 *	  snapshots, switches, hint-bit images, pruning, vacuuming, freezing,
 *	  truncation) is counted, and E stays only while what was counted since
 *	  E was set is at most WALMON_BOOKKEEPING_ALLOWANCE (64 kB).  Any other
 *	  record, more bookkeeping than that, or more than
 *	  WALMON_SCAN_MAX_BYTES (16 MB) to read moves E to the insert position.
 *	  A VACUUM or a burst of switches therefore shows as lag within 64 kB.
 *	- Lag, retained WAL and the safe WAL size are computed against E, and
 *	  a slot's position is reported as min(slot position, E): a consumer
 *	  that received walmon's own WAL has not changed.
 *	- last_transaction_time is the latest commit's time unless that commit
 *	  is walmon's own; then the time already stored stands.
 *	- Numbers derived from the clock (the lag in seconds, the forecast, the
 *	  xmin ages) never cause a write by themselves: they are as of
 *	  updated_at, and a status that depends on them is computed afresh.
 *	- autovacuum ANALYZE of wal_monitor writes pg_statistic, which is
 *	  foreign WAL; wal_monitor's autovacuum_analyze_scale_factor of 1 keeps
 *	  one cycle's writes from triggering the next ANALYZE.
 *
 * How far walmon's numbers may differ from PostgreSQL's
 * -----------------------------------------------------
 * For a local slot, against pg_replication_slots read in the same cycle,
 * with T, the trail, the insert position minus E at that moment
 * (walmon_worker_status().wal_trail_bytes):
 *
 *	- wal_lsn, wal_position: the view's position, or E when that is lower:
 *	  at most T behind.
 *	- replication_lag_bytes, retained_wal_bytes: the view's (insert
 *	  position minus the slot's position) less at most T.
 *	- safe_wal_size: the view's plus at most T; never positive while the
 *	  view's wal_status is unreserved or lost.
 *	- wal_status, conflicting, invalidation_reason, failover, synced: the
 *	  view's.  status: ACTIVE only while a walsender streams from the slot.
 *	- T is walmon's own WAL since E was set (wal_own_bytes), at most 64 kB
 *	  of other bookkeeping (wal_bookkeeping_bytes), and what PostgreSQL
 *	  writes after the last important record (running-transaction
 *	  snapshots; archive_timeout's switch of a segment that walmon wrote
 *	  last, up to the rest of that segment).
 *	- replication_lag_seconds: now minus the time E passed wal_lsn, from
 *	  walmon's samples of E (one per cycle in which E moved), interpolated
 *	  between the two cycles around it: within one naptime of the truth,
 *	  as of updated_at.  seconds_to_invalidation: safe_wal_size divided by
 *	  the foreign WAL rate of the last minute, as of updated_at.  xmin_age
 *	  and catalog_xmin_age: as of updated_at.
 *
 * A remote server's numbers are taken against that server's own WAL end:
 * walmon writes nothing there, so they are the view's.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/cycle.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/commit_ts.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "nodes/pg_list.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "walmon.h"

/* the three states of a monitor row */
#define WALMON_STATUS_ACTIVE	"ACTIVE"
#define WALMON_STATUS_IDLE		"IDLE"
#define WALMON_STATUS_ERROR	"ERROR"

/* slots whose registration clashed with a source's name, already reported */
static List *refresh_clashes_reported = NIL;

static int	refresh_cmp_slot(const void *a, const void *b);
static void refresh_sort_slots(WalmonSlot *slots, int nslots);
static void refresh_sort_rows(WalmonSlotRow *rows, int nrows);
static int	refresh_cmp_name(const void *a, const void *b);
static int	refresh_cmp_source(const void *a, const void *b);
static bool refresh_name_in(const char *name, char **names, int n);
static WalmonSlotRow *refresh_register(const char *server,
									   const WalmonSlot *slots, int nslots,
									   WalmonSlotRow *rows, int *nrows,
									   char **ignored, int nignored);
static void refresh_report_clash(const char *slot_name);
static bool refresh_slot_is_managed(const WalmonSlot *slot);
static WalmonInt64 refresh_last_commit(const WalmonSlotRow *rows, int nrows);
static bool refresh_status_changed(const WalmonSlotRow *old,
								   const WalmonSlotRow *row);
static void refresh_add_samples(const WalmonCycleContext *ctx,
								const WalmonSlotRow *rows, const bool *written,
								int n, List **samples);
static bool refresh_changed(const WalmonSlotRow *old,
							const WalmonSlotRow *row);

static inline WalmonInt64
walmon_int64(int64 value)
{
	WalmonInt64 v = {value, false};

	return v;
}

static inline WalmonInt64
walmon_null(void)
{
	WalmonInt64 v = {0, true};

	return v;
}

static inline WalmonFloat8
walmon_float8(double value)
{
	WalmonFloat8 v = {value, false};

	return v;
}

static inline WalmonFloat8
walmon_float8_null(void)
{
	WalmonFloat8 v = {0, true};

	return v;
}

static inline bool
walmon_int64_equal(WalmonInt64 a, WalmonInt64 b)
{
	return a.isnull == b.isnull && (a.isnull || a.value == b.value);
}

static inline bool
walmon_text_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ----------------------------------------------------------------
 * Writes that one row or one slot cannot hold up
 *
 * The cycle's updates skip rows other transactions hold.  Its inserts (a
 * first monitor row, a new source for a slot) cannot skip: a conflicting
 * insert by an open transaction would make them wait.  And an error that
 * concerns one row or one slot only (a source id sequence used up, a
 * constraint or trigger a superuser added) would fail every slot.  So
 * every write runs in a subtransaction with a short lock_timeout; when
 * that fails, each item is tried alone, and the items that still fail are
 * skipped, reported once, and tried again next cycle.
 * ----------------------------------------------------------------
 */

/* how long a cycle's insert may wait for a lock */
#define WALMON_WRITE_LOCK_TIMEOUT "100ms"



/* write items [first, first + count) of ctx; returns rows written */
typedef int (*RefreshWrite) (void *ctx, int first, int count);

/* failures already reported: "what: message" strings, in TopMemoryContext */
static List *refresh_failures_reported = NIL;

#define WALMON_MAX_REPORTED 1000

/*
 * Run write(ctx, first, count) in a subtransaction.  Returns true and sets
 * *written when it succeeded; returns false and sets *error when it
 * failed.  Errors that concern the whole process (cancel, shutdown, out of
 * memory, internal errors) are thrown on.
 */
static bool
refresh_try(RefreshWrite write, void *ctx, int first, int count,
			int *written, ErrorData **error)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", WALMON_WRITE_LOCK_TIMEOUT,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		*written = write(ctx, first, count);
		AtEOXact_GUC(true, nestlevel);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			class;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		class = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (class == ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR))
			PG_RE_THROW();
		FlushErrorState();
		walmon_walend_note_abort();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		*error = edata;
	}
	PG_END_TRY();

	return ok;
}

/* Report, once per process, that an item could not be written. */
static void
refresh_report_failure(const char *what, const ErrorData *edata)
{
	char	   *key = psprintf("%s: %s", what, edata->message);
	ListCell   *lc;
	MemoryContext old;

	/* the worker's status always shows the latest one */
	walmon_shmem_note_error(GetCurrentTimestamp(), key);

	foreach(lc, refresh_failures_reported)
	{
		if (strcmp((const char *) lfirst(lc), key) == 0)
			return;
	}
	if (list_length(refresh_failures_reported) < WALMON_MAX_REPORTED)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		refresh_failures_reported = lappend(refresh_failures_reported,
											pstrdup(key));
		MemoryContextSwitchTo(old);
	}

	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("walmon could not write %s: %s", what, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 errhint("The refresh goes on with the other slots and tries again next cycle.")));
}

/*
 * Write n items: all at once, and when that fails, one by one (see
 * above).  what(ctx, i) names item i in a report.  Returns the rows
 * written.
 */
static int
refresh_isolated(RefreshWrite write, void *ctx, int n,
				 char *(*what) (void *ctx, int i))
{
	int			written = 0;
	int			total = 0;
	ErrorData  *edata = NULL;

	if (n == 0)
		return 0;
	if (refresh_try(write, ctx, 0, n, &written, &edata))
		return written;
	FreeErrorData(edata);

	for (int i = 0; i < n; i++)
	{
		edata = NULL;
		if (refresh_try(write, ctx, i, 1, &written, &edata))
			total += written;
		else
		{
			refresh_report_failure(what(ctx, i), edata);
			FreeErrorData(edata);
		}
	}
	return total;
}

/* Monitor rows to insert or update (RefreshWrite) */
typedef struct RefreshRows
{
	const WalmonSlotRow *rows;
	bool	   *written;		/* by row: written */
} RefreshRows;

/*
 * Write rows [first, first + count) of r with store(), which flags the rows
 * it wrote.  The flags are kept only once it returned: a write that fails
 * (its subtransaction rolled back) wrote none.
 */
static int
refresh_rows_write(RefreshRows *r, int first, int count,
				   int (*store) (const WalmonSlotRow *rows, int n, bool *written))
{
	bool	   *written = palloc0_array(bool, count);
	int			n = store(r->rows + first, count, written);

	memcpy(r->written + first, written, count * sizeof(bool));
	pfree(written);
	return n;
}

static int
refresh_insert_some(void *ctx, int first, int count)
{
	return refresh_rows_write((RefreshRows *) ctx, first, count,
							  walmon_store_insert_slot_rows);
}

static int
refresh_update_some(void *ctx, int first, int count)
{
	return refresh_rows_write((RefreshRows *) ctx, first, count,
							  walmon_store_update_slot_rows);
}

static char *
refresh_row_what(const WalmonSlotRow *row, const char *what)
{
	return psprintf("%s of source %d (replication slot \"%s\")",
					what, row->source_id, row->slot_name);
}

static char *
refresh_insert_what(void *ctx, int i)
{
	return refresh_row_what(&((RefreshRows *) ctx)->rows[i], "the first monitor row");
}

static char *
refresh_update_what(void *ctx, int i)
{
	return refresh_row_what(&((RefreshRows *) ctx)->rows[i], "the monitor row");
}

/* New sources for slots (RefreshWrite) */
typedef struct RefreshRegistration
{
	const char *server;			/* NULL: local slots */
	char	  **names;			/* the slots */
	bool	   *failed;			/* by slot */
	int32	   *ids;			/* the sources registered, */
	char	  **registered;		/* with their slots */
	int			n;
} RefreshRegistration;

static int
refresh_register_some(void *ctx, int first, int count)
{
	RefreshRegistration *reg = (RefreshRegistration *) ctx;
	char	  **names;
	int32	   *ids;
	int			done;

	/* all or nothing: a failure leaves reg as it was */
	reg->failed[first] = true;
	ids = walmon_store_register_slots(reg->server, reg->names + first, count,
									  &names, &done);
	reg->failed[first] = false;
	for (int i = 0; i < done; i++)
	{
		reg->ids[reg->n] = ids[i];
		reg->registered[reg->n] = names[i];
		reg->n++;
	}
	return done;
}

static char *
refresh_register_what(void *ctx, int i)
{
	RefreshRegistration *reg = (RefreshRegistration *) ctx;

	if (reg->server != NULL)
		return psprintf("a source for replication slot \"%s\" of server \"%s\"",
						reg->names[i], reg->server);
	return psprintf("a source for replication slot \"%s\"", reg->names[i]);
}

/* the housekeeping of a cycle, as a RefreshWrite */
typedef struct RefreshMaintenance
{
	TimestampTz now;
	List	   *samples;		/* of the monitor rows the cycle wrote */
} RefreshMaintenance;

static int
refresh_maintenance(void *ctx, int first, int count)
{
	RefreshMaintenance *m = (RefreshMaintenance *) ctx;

	return walmon_maintenance(m->now, m->samples);
}

static char *
refresh_maintenance_what(void *ctx, int i)
{
	return pstrdup("the samples and retention of wal_metrics and wal_monitor");
}

/* samples of rows written (WalmonSample), as a RefreshWrite */
static int
refresh_samples(void *ctx, int first, int count)
{
	return walmon_store_sample_written((List *) ctx);
}

static char *
refresh_samples_what(void *ctx, int i)
{
	return pstrdup("the samples in wal_metrics of the monitor rows written");
}

/*
 * Take the samples walmon_cycle_apply() asked for, in a step of its own
 * (as walmon_cycle_run() does in its housekeeping), for the writes that run
 * no housekeeping: the worker's remote part, walmon_add_server().  Returns
 * the rows added.
 */
int
walmon_cycle_take_samples(List *samples)
{
	if (samples == NIL)
		return 0;
	return refresh_isolated(refresh_samples, samples, 1, refresh_samples_what);
}

/* auto-registered sources whose slot is long gone, as a RefreshWrite */
typedef struct RefreshForget
{
	int32	   *ids;
} RefreshForget;

static int
refresh_forget_some(void *ctx, int first, int count)
{
	return walmon_store_forget_sources(((RefreshForget *) ctx)->ids + first,
									   count);
}

static char *
refresh_forget_what(void *ctx, int i)
{
	return psprintf("the removal of source %d, whose replication slot is gone",
					((RefreshForget *) ctx)->ids[i]);
}

/* ignored slots that are gone, as a RefreshWrite */
typedef struct RefreshUnignore
{
	const char *server;
	char	  **names;
} RefreshUnignore;

static int
refresh_unignore_some(void *ctx, int first, int count)
{
	RefreshUnignore *u = (RefreshUnignore *) ctx;

	return walmon_store_unignore(u->server, u->names + first, count);
}

static char *
refresh_unignore_what(void *ctx, int i)
{
	return psprintf("the end of the exclusion of replication slot \"%s\"",
					((RefreshUnignore *) ctx)->names[i]);
}

static void refresh_compute(const WalmonCycleContext *ctx,
							const WalmonSlotRow *old, const WalmonSlot *slot,
							WalmonSlotRow *row);

/*
 * Apply the slots of one server (ctx->server; NULL for this server's own)
 * to the monitor rows of the sources bound to them: register sources for
 * new slots (with ctx->register_slots), compute every row, write those that changed, remove
 * auto-registered sources whose slot has long been gone, end the exclusion
 * of dropped slots that are gone.  When the server could not be read
 * (ctx->server_error), every row of its sources turns ERROR with that
 * message and nothing else is done.  Must run inside the cycle's bracket
 * (walmon_walend_open()); adds to *samples (WalmonSample) the samples of
 * the rows it wrote that walmon_maintenance() takes at once: of a first
 * row, and of a rewritten row whose status changed (when sampling is on).
 * Returns the number of monitor rows written.
 */
int
walmon_cycle_apply(WalmonCycleContext *ctx, WalmonSlot *slots, int nslots,
				   List **samples)
{
	WalmonSlotRow *rows;
	int			nrows;
	WalmonSlotRow *updates;
	WalmonSlotRow *inserts;
	int			nupdates = 0;
	int			ninserts = 0;
	int32	   *forget;
	int			nforget = 0;
	char	  **ignored = NULL;
	int			nignored = 0;
	char	  **unignore;
	int			nunignore = 0;
	int			count = 0;

	refresh_sort_slots(slots, nslots);

	rows = walmon_store_read_slot_rows(ctx->server, &nrows);
	refresh_sort_rows(rows, nrows);
	if (ctx->server_error == NULL)
	{
		ignored = walmon_store_read_ignored(ctx->server, &nignored);
		if (ctx->register_slots && nslots > 0)
			rows = refresh_register(ctx->server, slots, nslots, rows, &nrows,
									ignored, nignored);
	}
	if (ctx->server == NULL)
		ctx->last_commit = refresh_last_commit(rows, nrows);
	else
		ctx->last_commit = walmon_null();

	updates = palloc_array(WalmonSlotRow, Max(nrows, 1));
	inserts = palloc_array(WalmonSlotRow, Max(nrows, 1));
	forget = palloc_array(int32, Max(nrows, 1));
	for (int i = 0; i < nrows; i++)
	{
		const WalmonSlotRow *old = &rows[i];
		WalmonSlot	key = {.name = old->slot_name};
		const WalmonSlot *slot = NULL;
		WalmonSlotRow row;

		if (nslots > 0 && ctx->server_error == NULL)
			slot = bsearch(&key, slots, nslots, sizeof(WalmonSlot),
						   refresh_cmp_slot);

		refresh_compute(ctx, old, slot, &row);
		row.sample = walmon_metrics_interval > 0 &&
			(!old->has_row || refresh_status_changed(old, &row));
		if (!old->has_row)
			inserts[ninserts++] = row;
		else if (refresh_changed(old, &row))
			updates[nupdates++] = row;
		else if (slot == NULL && ctx->server_error == NULL &&
				 old->auto_registered &&
				 walmon_missing_slot_retention > 0 &&
				 !old->updated_at.isnull &&
				 old->updated_at.value <
				 ctx->now - (TimestampTz) walmon_missing_slot_retention * USECS_PER_SEC)
			forget[nforget++] = old->source_id;
	}

	/* excluded slots that are gone: one created anew is registered again */
	unignore = palloc_array(char *, Max(nignored, 1));
	for (int i = 0; i < nignored; i++)
	{
		WalmonSlot	key = {.name = ignored[i]};

		if (nslots == 0 ||
			bsearch(&key, slots, nslots, sizeof(WalmonSlot), refresh_cmp_slot) == NULL)
			unignore[nunignore++] = ignored[i];
	}

	/*
	 * Both kinds of write take their row locks in source_id order.  First
	 * rows first: they are the only writes that may wait (briefly), and
	 * while they do, this transaction holds no monitor row.
	 */
	if (nupdates + ninserts > 0)
	{
		RefreshRows ins = {inserts, palloc0_array(bool, Max(ninserts, 1))};
		RefreshRows upd = {updates, palloc0_array(bool, Max(nupdates, 1))};
		MemoryContext old;

		/* in order already, unless slots were registered (qsort checks) */
		qsort(updates, nupdates, sizeof(WalmonSlotRow), refresh_cmp_source);
		qsort(inserts, ninserts, sizeof(WalmonSlotRow), refresh_cmp_source);
		count += refresh_isolated(refresh_insert_some, &ins, ninserts,
								  refresh_insert_what);
		count += refresh_isolated(refresh_update_some, &upd, nupdates,
								  refresh_update_what);
		old = MemoryContextSwitchTo(ctx->list_cxt);
		refresh_add_samples(ctx, inserts, ins.written, ninserts, samples);
		refresh_add_samples(ctx, updates, upd.written, nupdates, samples);
		MemoryContextSwitchTo(old);
	}
	if (nforget > 0)
	{
		RefreshForget f = {forget};

		(void) refresh_isolated(refresh_forget_some, &f, nforget,
								refresh_forget_what);
	}
	if (nunignore > 0)
	{
		RefreshUnignore u = {ctx->server, unignore};

		(void) refresh_isolated(refresh_unignore_some, &u, nunignore,
								refresh_unignore_what);
	}
	return count;
}

/*
 * One cycle: everything the worker does every walmon.naptime and
 * walmon_refresh() does when called, in the caller's transaction, with
 * an active snapshot: this server's slots, then (with remote) the slots of
 * the remote servers walmon follows, then the samples and the retention.
 * Returns the number of monitor rows written and says in *outcome whether
 * the cycle ran.  With wait false, a cycle that would have to wait for
 * another one to finish is skipped.
 *
 * The worker polls the remote servers itself, after this cycle committed,
 * so that a remote server's trouble never holds up the local rows
 * (remote.c); walmon_refresh() polls them here, in its transaction.
 *
 * Every write of the cycle (sources registered or removed, monitor rows,
 * samples, removals) happens between walmon_walend_open() and
 * walmon_walend_close(), so that the next cycle knows them as walmon's own.
 */
int
walmon_cycle_run(bool wait, bool remote, WalmonRefreshOutcome *outcome)
{
	WalmonSlot *slots;
	int			nslots;
	WalmonCycleContext ctx;
	WalmonWalEndStatus ws;
	int			written = 0;
	int			nestlevel;
	RefreshMaintenance maint;
	List	   *samples = NIL;

	/* a standby writes nothing; after promotion, start afresh */
	if (RecoveryInProgress())
	{
		walmon_walend_forget();
		*outcome = WALMON_REFRESH_SKIPPED_RECOVERY;
		return 0;
	}

	switch (walmon_store_refresh_begin(wait))
	{
		case WALMON_REFRESH_OK:
			break;
		case WALMON_REFRESH_NO_EXTENSION:
			*outcome = WALMON_REFRESH_SKIPPED_NO_EXTENSION;
			return 0;
		case WALMON_REFRESH_OLD_VERSION:
			*outcome = WALMON_REFRESH_SKIPPED_OLD_VERSION;
			return 0;
		case WALMON_REFRESH_BUSY:
			*outcome = WALMON_REFRESH_SKIPPED_BUSY;
			return 0;
	}

	/*
	 * No wait of the cycle is unbounded: a table someone locked (an ALTER
	 * TABLE in an open transaction) makes the cycle fail after this long,
	 * and the next one tries again.
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("lock_timeout", WALMON_CYCLE_LOCK_TIMEOUT,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	memset(&ctx, 0, sizeof(ctx));
	ctx.now = GetCurrentTransactionStartTimestamp();
	ctx.local = true;
	ctx.register_slots = walmon_auto_register;
	ctx.list_cxt = CurrentMemoryContext;
	ctx.wal_end = walmon_walend_begin(ctx.now);
	ctx.capped = max_slot_wal_keep_size_mb >= 0;
	walmon_walend_status(ctx.now, &ws);
	ctx.rate = ws.rate;
	ctx.seconds_to_disk_full = walmon_disk_full_seconds(ws.rate, NULL);
	walmon_walend_open();

	slots = walmon_store_read_slots(&nslots);
	written += walmon_cycle_apply(&ctx, slots, nslots, &samples);

	if (remote)
		written += walmon_remote_cycle(ctx.now, &samples);

	/*
	 * Samples and retention, after the rows they sample, in one step of its
	 * own: trouble with wal_metrics (a lock someone holds on it, a trigger
	 * a DBA added) costs the samples, never the monitor rows.  First rows
	 * and status changes written now are sampled in this transaction; the
	 * sampler samples every other change at its next pass.
	 */
	maint.now = ctx.now;
	maint.samples = samples;
	(void) refresh_isolated(refresh_maintenance, &maint, 1,
							refresh_maintenance_what);

	walmon_walend_close();
	AtEOXact_GUC(true, nestlevel);

	*outcome = WALMON_REFRESHED;
	return written;
}

static int
refresh_cmp_slot(const void *a, const void *b)
{
	return strcmp(((const WalmonSlot *) a)->name,
				  ((const WalmonSlot *) b)->name);
}

/* the comparator of the elements that refresh_sort_moving_once() sorts */
typedef struct RefreshSortArg
{
	int			(*cmp) (const void *a, const void *b);
} RefreshSortArg;

static int
refresh_cmp_indirect(const void *a, const void *b, void *arg)
{
	return ((RefreshSortArg *) arg)->cmp(*(void *const *) a,
										 *(void *const *) b);
}

/*
 * Sort the n elements of size bytes at base with cmp, moving each element
 * once: the elements are sorted by pointer, then copied into place.  A busy
 * cycle sorts 1,000 slots and rows of 200 to 400 bytes, which qsort() would
 * move many times each (a third of such a cycle's sorting).  Elements
 * already in order are left as they are.
 */
static void
refresh_sort_moving_once(void *base, int n, size_t size,
						 int (*cmp) (const void *a, const void *b))
{
	RefreshSortArg arg = {cmp};
	char	   *elems = (char *) base;
	char	  **order;
	char	   *sorted;
	bool		in_order = true;

	for (int i = 1; i < n && in_order; i++)
		in_order = cmp(elems + (i - 1) * size, elems + i * size) <= 0;
	if (in_order)
		return;
	order = palloc_array(char *, n);
	for (int i = 0; i < n; i++)
		order[i] = elems + i * size;
	qsort_arg(order, n, sizeof(char *), refresh_cmp_indirect, &arg);
	sorted = palloc(size * n);
	for (int i = 0; i < n; i++)
		memcpy(sorted + i * size, order[i], size);
	memcpy(elems, sorted, size * n);
	pfree(sorted);
	pfree(order);
}

/* Sort slots[0..nslots-1] by name, for bsearch(). */
static void
refresh_sort_slots(WalmonSlot *slots, int nslots)
{
	refresh_sort_moving_once(slots, nslots, sizeof(WalmonSlot), refresh_cmp_slot);
}

static int
refresh_cmp_source(const void *a, const void *b)
{
	int32		sa = ((const WalmonSlotRow *) a)->source_id;
	int32		sb = ((const WalmonSlotRow *) b)->source_id;

	return (sa > sb) - (sa < sb);
}

/*
 * Sort rows[0..nrows-1] by source_id: the read returns them in no order,
 * and the writes take their row locks in source_id order.
 */
static void
refresh_sort_rows(WalmonSlotRow *rows, int nrows)
{
	refresh_sort_moving_once(rows, nrows, sizeof(WalmonSlotRow), refresh_cmp_source);
}

static int
refresh_cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Whether name is one of names[0..n-1]. */
static bool
refresh_name_in(const char *name, char **names, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (strcmp(name, names[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Whether a slot is one PostgreSQL creates, uses and drops by itself:
 * logical replication's initial table copy slots, named
 * pg_<subscription oid>_sync_<relation oid>_<system identifier>
 * (ReplicationSlotNameForTablesync).  They are not consumers of their own,
 * and registering them would leave an ERROR row behind when PostgreSQL
 * drops them at the end of the copy.
 */
static bool
refresh_slot_is_managed(const WalmonSlot *slot)
{
	const char *p = slot->name;
	int			groups = 0;

	if (strncmp(p, "pg_", 3) != 0)
		return false;
	p += 3;
	/* digits "_sync_" digits "_" digits, and nothing else */
	for (;;)
	{
		const char *start = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return false;
		groups++;
		if (groups == 1)
		{
			if (strncmp(p, "_sync_", 6) != 0)
				return false;
			p += 6;
		}
		else if (groups == 2)
		{
			if (*p != '_')
				return false;
			p++;
		}
		else
			return *p == '\0';
	}
}

/*
 * walmon.auto_register: register a source for every slot that no source
 * is bound to, named after the slot.  A slot whose name is the name of a
 * source bound to another slot, or to none, is not registered: walmon
 * never takes over a source someone else registered.  Neither is a slot
 * whose auto-registered source was dropped (walmon_ignored_slot), nor one
 * PostgreSQL manages itself.  Returns the rows
 * with those of the new sources (which have no monitor row yet) added.
 */
static WalmonSlotRow *
refresh_register(const char *server, const WalmonSlot *slots, int nslots,
				 WalmonSlotRow *rows, int *nrows, char **ignored, int nignored)
{
	char	  **wanted = palloc_array(char *, nslots);
	int			nwanted = 0;
	char	  **registered;
	int			nregistered;
	RefreshRegistration reg;
	WalmonSlotRow *all;
	int			n = *nrows;
	char	  **bound = palloc_array(char *, Max(n, 1));

	/* the slots that sources are bound to, sorted (rows keep their order) */
	for (int i = 0; i < n; i++)
		bound[i] = rows[i].slot_name;
	qsort(bound, n, sizeof(char *), refresh_cmp_name);
	for (int i = 0; i < nslots; i++)
	{
		if (refresh_slot_is_managed(&slots[i]) ||
			(slots[i].synced_on_standby) ||
			refresh_name_in(slots[i].name, ignored, nignored))
			continue;
		if (n == 0 ||
			bsearch(&slots[i].name, bound, n, sizeof(char *), refresh_cmp_name) == NULL)
			wanted[nwanted++] = slots[i].name;
	}
	pfree(bound);
	if (nwanted == 0)
		return rows;

	reg.server = server;
	reg.names = wanted;
	reg.ids = palloc_array(int32, nwanted);
	reg.registered = palloc_array(char *, nwanted);
	reg.failed = palloc0_array(bool, nwanted);
	reg.n = 0;
	(void) refresh_isolated(refresh_register_some, &reg, nwanted,
							refresh_register_what);
	nregistered = reg.n;
	registered = reg.registered;

	all = palloc0_array(WalmonSlotRow, n + nregistered);
	memcpy(all, rows, sizeof(WalmonSlotRow) * n);
	for (int i = 0; i < nregistered; i++)
	{
		all[n + i].source_id = reg.ids[i];
		all[n + i].slot_name = registered[i];
		all[n + i].auto_registered = true;
		all[n + i].has_row = false;
	}

	/* the slots that could not be registered */
	if (nregistered < nwanted)
	{
		for (int i = 0; i < nwanted; i++)
		{
			bool		done = false;

			done = reg.failed[i];
			for (int j = 0; j < nregistered && !done; j++)
				done = strcmp(wanted[i], registered[j]) == 0;
			if (!done)
				refresh_report_clash(wanted[i]);
		}
	}

	*nrows = n + nregistered;
	return all;
}

/*
 * Report, once per process, that a slot was not registered because its
 * name is taken.
 */
static void
refresh_report_clash(const char *slot_name)
{
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, refresh_clashes_reported)
	{
		if (strcmp((const char *) lfirst(lc), slot_name) == 0)
			return;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	refresh_clashes_reported = lappend(refresh_clashes_reported,
									   pstrdup(slot_name));
	MemoryContextSwitchTo(old);

	ereport(WARNING,
			(errmsg("replication slot \"%s\" was not registered as a walmon source",
					slot_name),
			 errdetail("A source named \"%s\" already exists and is not bound to that slot.",
					   slot_name),
			 errhint("Register the slot under another name with walmon_add_source().")));
}

/*
 * last_transaction_time for this cycle: the time of the latest commit when
 * track_commit_timestamp is on, else null.  When the latest commit is one
 * of walmon's own, the latest time already stored stands.
 */
static WalmonInt64
refresh_last_commit(const WalmonSlotRow *rows, int nrows)
{
	TimestampTz ts = 0;
	RepOriginId nodeid;
	TransactionId xid;
	WalmonInt64 result = walmon_null();

	if (!track_commit_timestamp)
		return result;

	xid = GetLatestCommitTsData(&ts, &nodeid);
	if (!TransactionIdIsValid(xid))
		return result;
	if (!walmon_walend_is_own_xact(xid))
		return walmon_int64(ts);

	for (int i = 0; i < nrows; i++)
	{
		const WalmonInt64 *v = &rows[i].last_transaction_time;

		if (rows[i].has_row && !v->isnull &&
			(result.isnull || v->value > result.value))
			result = *v;
	}
	return result;
}

/*
 * The reason a slot is invalidated, or NULL: wal_status "lost" on every
 * version, "conflicting" on 16, invalidation_reason from 17 (from 18 also
 * idle_timeout).  The same words on every version: the codes of
 * invalidation_reason are spelt out as the older versions' readings are
 * (the row keeps the code itself in its invalidation_reason column).
 */
static const char *
refresh_invalidation(const WalmonSlot *slot)
{
	if (slot->invalidation_reason != NULL)
	{
		if (strcmp(slot->invalidation_reason, "wal_removed") == 0)
			return "required WAL was removed";
		if (strcmp(slot->invalidation_reason, "rows_removed") == 0)
			return "required rows were removed (conflict with recovery)";
		if (strcmp(slot->invalidation_reason, "wal_level_insufficient") == 0)
			return "wal_level is insufficient for logical decoding (conflict with recovery)";
		if (strcmp(slot->invalidation_reason, "idle_timeout") == 0)
			return "it was inactive longer than idle_replication_slot_timeout";
		return slot->invalidation_reason;
	}
	if (!slot->conflicting.isnull && slot->conflicting.value)
		return "conflict with recovery";
	if (slot->wal_status != NULL && strcmp(slot->wal_status, "lost") == 0)
		return "required WAL was removed";
	return NULL;
}

/*
 * safe_wal_size as pg_replication_slots computes it, but against the
 * effective WAL end: the WAL that can still be written before the slot
 * loses the segment of restart_lsn.
 */
static int64
refresh_safe_wal_size(XLogRecPtr restart_lsn, XLogRecPtr wal_end)
{
	XLogSegNo	target_seg;
	XLogSegNo	fail_seg;
	uint64		slot_keep_segs;
	uint64		keep_segs;
	XLogRecPtr	fail_lsn;

	XLByteToSeg(restart_lsn, target_seg, wal_segment_size);
	slot_keep_segs = XLogMBVarToSegs(max_slot_wal_keep_size_mb, wal_segment_size);
	keep_segs = XLogMBVarToSegs(wal_keep_size_mb, wal_segment_size);
	fail_seg = target_seg + Max(slot_keep_segs, keep_segs) + 1;
	XLogSegNoOffsetToRecPtr(fail_seg, 0, wal_segment_size, fail_lsn);

	return (int64) (fail_lsn - wal_end);
}

/*
 * A duration for people, rounded so that it changes seldom: "45 s",
 * "4 min", "3 h", "2 days".
 */
char *
walmon_pretty_seconds(double seconds)
{
	if (seconds < 90)
		return psprintf("%d s", (int) Max(seconds, 0));
	if (seconds < 90 * 60)
		return psprintf("%d min", (int) rint(seconds / 60));
	if (seconds < 36 * 3600)
		return psprintf("%d h", (int) rint(seconds / 3600));
	return psprintf("%d days", (int) rint(seconds / 86400));
}

/* A rate of bytes for people, two significant digits: "12 MB/s". */
char *
walmon_pretty_rate(double bytes_per_second)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int			u = 0;

	while (bytes_per_second >= 1000 && u < (int) lengthof(units) - 1)
	{
		bytes_per_second /= 1024;
		u++;
	}
	if (bytes_per_second >= 10)
		return psprintf("%d %s/s", (int) rint(bytes_per_second), units[u]);
	return psprintf("%.1f %s/s", bytes_per_second, units[u]);
}

/*
 * Compute the monitor row of a source from its slot (NULL when the slot
 * does not exist) and its stored row (old).
 */
static void
refresh_compute(const WalmonCycleContext *ctx, const WalmonSlotRow *old,
				const WalmonSlot *slot, WalmonSlotRow *row)
{
	const char *invalidated;
	int64		limit = (int64) walmon_lag_error_kb * 1024;
	XLogRecPtr	wal_end = ctx->wal_end;
	TimestampTz now = ctx->now;

	memset(row, 0, sizeof(WalmonSlotRow));
	row->source_id = old->source_id;
	row->slot_name = old->slot_name;
	row->auto_registered = old->auto_registered;
	row->has_row = old->has_row;
	row->held = old->held;
	row->ctid = old->ctid;
	row->replication_slot_name = old->slot_name;
	row->last_transaction_time = ctx->last_commit;

	if (slot == NULL)
	{
		/* the slot is gone: keep what was last seen of it, and say so */
		if (old->has_row)
		{
			row->wal_lsn = old->wal_lsn;
			row->wal_position = old->wal_position;
			row->last_wal_received = old->last_wal_received;
			row->replication_lag_bytes = old->replication_lag_bytes;
			row->last_transaction_time = old->last_transaction_time;
			row->replication_lag_seconds = old->replication_lag_seconds;
		}
		else
		{
			row->wal_lsn = row->wal_position = walmon_null();
			row->last_wal_received = row->replication_lag_bytes = walmon_null();
			row->replication_lag_seconds = walmon_float8_null();
		}
		row->retained_wal_bytes = row->safe_wal_size = walmon_null();
		row->seconds_to_invalidation = walmon_float8_null();
		row->xmin_age = row->catalog_xmin_age = walmon_null();
		row->conflicting = row->failover = row->synced = walmon_null();
		row->wal_status = NULL;
		row->invalidation_reason = NULL;
		row->inactive_since = (old->has_row && !old->inactive_since.isnull) ?
			old->inactive_since : walmon_int64(now);
		row->status = WALMON_STATUS_ERROR;
		if (ctx->server_error != NULL)
			row->error_message = pstrdup(ctx->server_error);
		else if (ctx->server != NULL)
			row->error_message = psprintf("replication slot \"%s\" does not exist on server \"%s\"",
										  old->slot_name, ctx->server);
		else
			row->error_message = psprintf("replication slot \"%s\" does not exist",
										  old->slot_name);
		return;
	}

	/* the slot's position, as far as the rest of the server has gone */
	{
		WalmonInt64 pos = slot->logical ? slot->confirmed_flush_lsn : slot->restart_lsn;

		if (pos.isnull)
		{
			row->wal_lsn = row->wal_position = walmon_null();
			row->replication_lag_bytes = walmon_null();
			row->replication_lag_seconds = walmon_float8_null();
		}
		else
		{
			XLogRecPtr	lsn = Min((XLogRecPtr) pos.value, wal_end);

			row->wal_lsn = walmon_int64((int64) lsn);
			row->wal_position = walmon_int64((int64) lsn);
			row->replication_lag_bytes = walmon_int64((int64) (wal_end - lsn));
			row->replication_lag_seconds = ctx->local ?
				walmon_walend_lag_seconds(lsn, wal_end, now) :
				walmon_ring_lag_seconds(ctx->ring, ctx->ring_size,
										ctx->ring_next, ctx->ring_count,
										lsn, wal_end, now);

			/*
			 * Older than the samples go back (after a restart, say): the
			 * time stored with the same position, plus the time since.
			 */
			if (row->replication_lag_seconds.isnull && old->has_row &&
				walmon_int64_equal(old->wal_lsn, row->wal_lsn) &&
				!old->replication_lag_seconds.isnull && !old->updated_at.isnull)
				row->replication_lag_seconds =
					walmon_float8(old->replication_lag_seconds.value +
								  (double) (now - old->updated_at.value) / USECS_PER_SEC);
		}
	}

	/* last_wal_received: when walmon first saw the slot at this position */
	if (row->wal_lsn.isnull)
		row->last_wal_received = walmon_null();
	else if (old->has_row && walmon_int64_equal(old->wal_lsn, row->wal_lsn) &&
			 !old->last_wal_received.isnull)
		row->last_wal_received = old->last_wal_received;
	else
		row->last_wal_received = walmon_int64(now);

	/* what the slot holds back */
	row->wal_status = slot->wal_status;
	if (slot->restart_lsn.isnull)
	{
		row->retained_wal_bytes = walmon_null();
		row->safe_wal_size = walmon_null();
	}
	else
	{
		XLogRecPtr	restart = Min((XLogRecPtr) slot->restart_lsn.value, wal_end);

		row->retained_wal_bytes = walmon_int64((int64) (wal_end - restart));
		if (slot->safe_wal_size.isnull)
			row->safe_wal_size = walmon_null();
		else if (ctx->local)
			row->safe_wal_size = walmon_int64(refresh_safe_wal_size(restart, wal_end));
		else
			row->safe_wal_size = slot->safe_wal_size;

		/* no slot in danger ever looks safe */
		if (!row->safe_wal_size.isnull && row->wal_status != NULL &&
			(strcmp(row->wal_status, "unreserved") == 0 ||
			 strcmp(row->wal_status, "lost") == 0))
			row->safe_wal_size.value = Min(row->safe_wal_size.value, 0);
	}

	/* the forecast: how long until the slot is invalidated */
	if (row->safe_wal_size.isnull)
		row->seconds_to_invalidation = walmon_float8_null();
	else if (row->safe_wal_size.value <= 0)
		row->seconds_to_invalidation = walmon_float8(0);
	else if (ctx->rate.isnull || ctx->rate.value <= 0)
		row->seconds_to_invalidation = walmon_float8_null();
	else
		row->seconds_to_invalidation =
			walmon_float8((double) row->safe_wal_size.value / ctx->rate.value);

	/* the VACUUM horizon, and what 16 to 18 report */
	row->xmin_age = slot->xmin_age;
	row->catalog_xmin_age = slot->catalog_xmin_age;
	row->conflicting = slot->conflicting;
	row->failover = slot->failover;
	row->synced = slot->synced;
	row->invalidation_reason = slot->invalidation_reason;

	/* inactive_since: null while a consumer is connected */
	if (slot->active)
		row->inactive_since = walmon_null();
	else if (!slot->inactive_since.isnull)
		row->inactive_since = slot->inactive_since;
	else if (old->has_row && !old->inactive_since.isnull)
		row->inactive_since = old->inactive_since;
	else
		row->inactive_since = walmon_int64(now);

	/*
	 * The status, with the first reason for ERROR that applies.  Messages
	 * hold no number that changes by itself (the forecast's is rounded), so
	 * that a row in ERROR is not rewritten every cycle.
	 */
	row->status = WALMON_STATUS_ERROR;
	invalidated = refresh_invalidation(slot);
	if (invalidated != NULL)
		row->error_message = psprintf("replication slot \"%s\" is invalidated: %s",
									  slot->name, invalidated);
	else if (limit > 0 && !row->replication_lag_bytes.isnull &&
			 row->replication_lag_bytes.value > limit)
		row->error_message = psprintf("replication lag of slot \"%s\" exceeds walmon.lag_error_bytes (" INT64_FORMAT " bytes)",
									  slot->name, limit);
	else if (walmon_lag_error_seconds > 0 &&
			 !row->replication_lag_seconds.isnull &&
			 row->replication_lag_seconds.value > walmon_lag_error_seconds)
		row->error_message = psprintf("replication lag of slot \"%s\" exceeds walmon.lag_error_seconds (%d s)",
									  slot->name, walmon_lag_error_seconds);
	else if (walmon_forecast_error_seconds > 0 &&
			 !row->seconds_to_invalidation.isnull &&
			 row->seconds_to_invalidation.value < walmon_forecast_error_seconds)
		row->error_message = row->seconds_to_invalidation.value <= 0 ?
			psprintf("replication slot \"%s\" is about to be invalidated: it has no safe WAL left",
					 slot->name) :
			psprintf("replication slot \"%s\" will be invalidated in about %s at the current WAL rate of %s",
					 slot->name,
					 walmon_pretty_seconds(row->seconds_to_invalidation.value),
					 walmon_pretty_rate(ctx->rate.value));
	else if (walmon_forecast_error_seconds > 0 && !ctx->capped &&
			 !ctx->seconds_to_disk_full.isnull &&
			 ctx->seconds_to_disk_full.value < walmon_forecast_error_seconds &&
			 !row->retained_wal_bytes.isnull && row->retained_wal_bytes.value > 0)
		row->error_message = psprintf("the disk holding pg_wal will be full in about %s at the current WAL rate of %s, and replication slot \"%s\" retains WAL without max_slot_wal_keep_size",
									  walmon_pretty_seconds(ctx->seconds_to_disk_full.value),
									  walmon_pretty_rate(ctx->rate.value),
									  slot->name);
	else if (walmon_xmin_age_error > 0 &&
			 ((!row->xmin_age.isnull && row->xmin_age.value > walmon_xmin_age_error) ||
			  (!row->catalog_xmin_age.isnull &&
			   row->catalog_xmin_age.value > walmon_xmin_age_error)))
		row->error_message = psprintf("replication slot \"%s\" holds back VACUUM: its %s is older than walmon.xmin_age_error (%d transactions)",
									  slot->name,
									  (!row->xmin_age.isnull &&
									   row->xmin_age.value > walmon_xmin_age_error) ?
									  "xmin" : "catalog_xmin",
									  walmon_xmin_age_error);
	else
	{
		row->status = slot->active ? WALMON_STATUS_ACTIVE : WALMON_STATUS_IDLE;
		row->error_message = NULL;
	}
}

/*
 * Whether a computed row differs from the stored one in anything but its
 * timestamps and the numbers that follow the clock (the lag in seconds,
 * the forecast, the xmin ages: their status, which does count, is computed
 * afresh).  inactive_since counts only by being null or not: whether a
 * consumer is connected; the lag in seconds too.  The forecast does not
 * count at all: its WAL rate falls to nothing a minute after the server
 * went idle, and that must not make walmon write.
 */
static bool
refresh_changed(const WalmonSlotRow *old, const WalmonSlotRow *row)
{
	return !walmon_int64_equal(old->wal_lsn, row->wal_lsn) ||
		!walmon_int64_equal(old->wal_position, row->wal_position) ||
		!walmon_int64_equal(old->replication_lag_bytes, row->replication_lag_bytes) ||
		!walmon_int64_equal(old->retained_wal_bytes, row->retained_wal_bytes) ||
		!walmon_int64_equal(old->safe_wal_size, row->safe_wal_size) ||
		!walmon_int64_equal(old->conflicting, row->conflicting) ||
		!walmon_int64_equal(old->failover, row->failover) ||
		!walmon_int64_equal(old->synced, row->synced) ||
		!walmon_text_equal(old->replication_slot_name, row->replication_slot_name) ||
		!walmon_text_equal(old->status, row->status) ||
		!walmon_text_equal(old->error_message, row->error_message) ||
		!walmon_text_equal(old->wal_status, row->wal_status) ||
		!walmon_text_equal(old->invalidation_reason, row->invalidation_reason) ||
		old->inactive_since.isnull != row->inactive_since.isnull ||
		old->replication_lag_seconds.isnull != row->replication_lag_seconds.isnull;
}

/*
 * Whether a rewritten row's status changed: such a change is sampled in
 * the cycle that makes it.  Changes of the LSN or the lag alone are left to
 * the sampler that runs every walmon.metrics_interval (maintenance.c), so
 * that a slot whose lag moves every cycle gets one sample per interval.
 */
static bool
refresh_status_changed(const WalmonSlotRow *old, const WalmonSlotRow *row)
{
	return !walmon_text_equal(old->status, row->status);
}

/*
 * Add to *samples, in the current memory context, the samples asked for of
 * rows[0..n-1] that were written.
 */
static void
refresh_add_samples(const WalmonCycleContext *ctx, const WalmonSlotRow *rows,
					const bool *written, int n, List **samples)
{
	for (int i = 0; i < n; i++)
	{
		WalmonSample *s;

		if (!written[i] || !rows[i].sample)
			continue;
		s = palloc_object(WalmonSample);
		s->source_id = rows[i].source_id;
		s->wal_lsn = rows[i].wal_lsn;
		s->replication_lag_bytes = rows[i].replication_lag_bytes;
		s->status = rows[i].status;
		s->slot_name = rows[i].slot_name;
		s->local = ctx->server == NULL;
		*samples = lappend(*samples, s);
	}
}
