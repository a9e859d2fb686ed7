/*-------------------------------------------------------------------------
 *
 * walend.c
 *		The effective foreign WAL end ("E"): the server's WAL position as of
 *		the last record that someone other than walmon wrote, leaving out a
 *		small, bounded allowance of the bookkeeping records the server
 *		writes after any write.  The cycle measures lag and retained WAL
 *		against it, so that walmon's own writes never feed back into what
 *		it measures.  The design, and what it costs in truth, is at the top
 *		of cycle.c.
 *
 *		Also the history of E: one (time, E) sample per cycle in which E
 *		moved, in a ring, from which come the lag in seconds of any position
 *		and the rate of foreign WAL.
 *
 * The state lives in shared memory when walmon is preloaded, so that the
 * worker and walmon_refresh() in any session agree; otherwise in this
 * session only.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/walend.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam_xlog.h"
#include "access/nbtxlog.h"
#include "access/rmgr.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xlogreader.h"
#include "access/xlogutils.h"
#include "catalog/pg_control.h"
#include "catalog/storage_xlog.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/standbydefs.h"
#include "utils/timestamp.h"

#include <sys/statvfs.h>

#include "walmon.h"

/* the state when walmon is not preloaded */
static WalmonWalEnd walend_local;

/* insert position before this cycle's first write, or invalid */
static XLogRecPtr walend_write_start = InvalidXLogRecPtr;

/*
 * The transactions of the cycle's writes that were rolled back inside its
 * bracket (walmon_walend_note_abort()): their records are walmon's too.
 * The count goes on past the array, like a write's subtransactions.
 */
static TransactionId walend_aborted[WALMON_OWN_SUBXIDS];
static int	walend_naborted = 0;

/* What a scan found. */
typedef struct WalendScan
{
	bool		keep;			/* only own and allowed bookkeeping WAL */
	uint64		own_bytes;
	uint64		bookkeeping_bytes;
	uint64		scanned;
	bool		after_own;		/* the last record read was walmon's */
	XLogRecPtr	own_vacuum;		/* as in WalmonWalEnd, after the scan */
} WalendScan;

/*
 * How long after a VACUUM record on walmon's own relations their pruning
 * and hint-bit images stop being free: that VACUUM may still be at work.
 */
#define WALEND_OWN_VACUUM_WINDOW	WALMON_SCAN_MAX_BYTES

static WalmonWalEnd *walend_state(LWLock **lock);
static void walend_scan(const WalmonWalEnd *snap, XLogRecPtr from,
						XLogRecPtr upto, WalendScan *scan);
static bool walend_record_is_own(const WalmonWalEnd *snap,
								 XLogReaderState *record);
static bool walend_record_is_bookkeeping(XLogReaderState *record);
static bool walend_record_is_walmon_maintenance(XLogReaderState *record);
static bool walend_record_is_own_vacuum(XLogReaderState *record);
static bool walend_record_touches_own(XLogReaderState *record, bool all);
static bool walend_xid_of_write(const WalmonOwnWrite *own, TransactionId xid);
static XLogRecPtr walend_inserted_end(void);

/*
 * The state and the lock that protects it (NULL for the session-local
 * state).
 */
static WalmonWalEnd *
walend_state(LWLock **lock)
{
	WalmonWalEnd *st = walmon_shmem_walend(lock);

	if (st == NULL)
	{
		*lock = NULL;
		st = &walend_local;
	}
	return st;
}


/*
 * The effective foreign WAL end, for the cycle that starts now.
 *
 * When no important WAL record was inserted since the last one accounted
 * for (the marker), E stays.  When some were, the WAL from the marker to
 * the newest important record is read (walend_scan): walmon's own records
 * and the pruning and hint-bit images its reads of its own tables cause
 * are free (walend_record_is_walmon_maintenance); other bookkeeping
 * is counted, and E stays only while what was counted since E was set
 * stays within WALMON_BOOKKEEPING_ALLOWANCE; any other record, or more
 * than WALMON_SCAN_MAX_BYTES to read, moves E to the current insert
 * position.  Either way the newest important record becomes the marker.
 * When E moves, a sample of it goes into the ring.
 */
XLogRecPtr
walmon_walend_begin(TimestampTz now)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);
	XLogRecPtr	last_important;
	XLogRecPtr	insert;
	XLogRecPtr	wal_end;
	WalendScan	scan = {.keep = false};
	XLogRecPtr	old_end;
	XLogRecPtr	marker;
	bool		marker_own;

	walend_write_start = InvalidXLogRecPtr;
	walend_naborted = 0;

	if (lock)
		LWLockAcquire(lock, LW_SHARED);
	old_end = st->wal_end;
	marker = st->marker;
	marker_own = st->marker_own;
	if (lock)
		LWLockRelease(lock);

	/* in this order: E covers the newest important record at least */
	last_important = GetLastImportantRecPtr();
	insert = GetXLogInsertRecPtr();

	if (XLogRecPtrIsInvalid(old_end))
		scan.keep = false;
	else if (last_important == marker)
	{
		scan.keep = true;
		scan.after_own = marker_own;
	}
	else if (XLogRecPtrIsInvalid(marker) || last_important < marker)
		scan.keep = false;
	else
	{
		WalmonWalEnd *snap = palloc(sizeof(WalmonWalEnd));

		if (lock)
			LWLockAcquire(lock, LW_SHARED);
		memcpy(snap, st, offsetof(WalmonWalEnd, ring));
		if (lock)
			LWLockRelease(lock);
		walend_scan(snap, marker, last_important, &scan);
		pfree(snap);
	}

	if (lock)
		LWLockAcquire(lock, LW_EXCLUSIVE);
	if (scan.keep &&
		st->bookkeeping_bytes + scan.bookkeeping_bytes <= WALMON_BOOKKEEPING_ALLOWANCE)
	{
		wal_end = st->wal_end;
		st->own_bytes += scan.own_bytes;
		st->bookkeeping_bytes += scan.bookkeeping_bytes;
	}
	else
	{
		wal_end = insert;
		st->wal_end = insert;
		st->own_bytes = 0;
		st->bookkeeping_bytes = 0;
		walmon_ring_add(st->ring, WALMON_RING_SIZE, &st->ring_next,
						&st->ring_count, now, wal_end);
	}
	st->marker = last_important;
	st->marker_own = scan.after_own;
	if (!XLogRecPtrIsInvalid(scan.own_vacuum))
		st->own_vacuum = scan.own_vacuum;
	st->insert = insert;
	st->scan_bytes = scan.scanned;
	st->trail_bytes = insert - wal_end;
	if (lock)
		LWLockRelease(lock);

	return wal_end;
}

/*
 * Open the cycle's bracket, before its first write: walmon's records start
 * here.
 */
void
walmon_walend_open(void)
{
	walend_write_start = GetXLogInsertRecPtr();
	walend_naborted = 0;
}

/*
 * The current subtransaction, a write of the cycle, is about to be rolled
 * back: remember it and its committed children, so that the records it
 * wrote count as walmon's own and not as activity the next check would
 * measure (a cycle whose rewrite is undone because an application holds a
 * row would otherwise make the next cycle write again, and so on).
 */
void
walmon_walend_note_abort(void)
{
	TransactionId xid = GetCurrentTransactionIdIfAny();
	TransactionId *children;
	int			nchildren;

	if (XLogRecPtrIsInvalid(walend_write_start) || !TransactionIdIsValid(xid))
		return;
	nchildren = xactGetCommittedChildren(&children);
	for (int i = -1; i < nchildren; i++)
	{
		if (walend_naborted < WALMON_OWN_SUBXIDS)
			walend_aborted[walend_naborted] = i < 0 ? xid : children[i];
		walend_naborted++;
	}
}

/*
 * Read the WAL records after the one at "from" up to the one at "upto"
 * (both record starts, from < upto) and sort them out.  scan->keep is
 * true when every one of them is walmon's own or bookkeeping.  A record
 * that cannot be read counts as foreign.
 *
 * A segment switch counts as the whole rest of its segment.  One that
 * comes right after walmon's own records is walmon's: archive_timeout
 * switches a segment that walmon's write was the last thing in, and such
 * a switch must not make walmon write again, at the next archive_timeout.
 */
static void
walend_scan(const WalmonWalEnd *snap, XLogRecPtr from, XLogRecPtr upto,
			WalendScan *scan)
{
	XLogSegNo	segno;
	XLogReaderState *reader;

	scan->keep = false;
	scan->own_bytes = 0;
	scan->bookkeeping_bytes = 0;
	scan->scanned = 0;
	scan->after_own = snap->marker_own;
	scan->own_vacuum = snap->own_vacuum;

	/* the WAL must still be there */
	XLByteToSeg(from, segno, wal_segment_size);
	if (segno <= XLogGetLastRemovedSegno())
		return;

	/*
	 * The reader below reads only flushed WAL and waits for the rest: with
	 * asynchronous commits that is up to wal_writer_delay.  Flush what was
	 * inserted instead (what a synchronous commit would do): one fsync, and
	 * only in a cycle after someone else wrote.
	 */
	XLogFlush(walend_inserted_end());

	reader = XLogReaderAllocate(wal_segment_size, NULL,
								XL_ROUTINE(.page_read = &read_local_xlog_page,
										   .segment_open = &wal_segment_open,
										   .segment_close = &wal_segment_close),
								NULL);
	if (reader == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while allocating a WAL reading processor.")));

	PG_TRY();
	{
		XLogBeginRead(reader, from);
		for (;;)
		{
			char	   *errormsg = NULL;
			uint64		size;

			CHECK_FOR_INTERRUPTS();

			if (XLogReadRecord(reader, &errormsg) == NULL)
				break;
			scan->scanned = reader->EndRecPtr - from;
			if (scan->scanned > WALMON_SCAN_MAX_BYTES)
				break;

			/* the record at "from" was accounted for by the last scan */
			if (reader->ReadRecPtr != from)
			{
				size = reader->EndRecPtr - reader->ReadRecPtr;
				if (XLogRecGetRmid(reader) == RM_XLOG_ID &&
					(XLogRecGetInfo(reader) & ~XLR_INFO_MASK) == XLOG_SWITCH)
				{
					XLogSegNo	seg;
					XLogRecPtr	next;

					XLByteToSeg(reader->ReadRecPtr, seg, wal_segment_size);
					XLogSegNoOffsetToRecPtr(seg + 1, 0, wal_segment_size, next);
					size = next - reader->ReadRecPtr;
					if (scan->after_own)
						scan->own_bytes += size;
					else
						scan->bookkeeping_bytes += size;
					scan->after_own = false;
				}
				else if (walend_record_is_own(snap, reader))
				{
					scan->own_bytes += size;
					scan->after_own = true;
				}
				else if (walend_record_is_walmon_maintenance(reader) &&
						 (XLogRecPtrIsInvalid(scan->own_vacuum) ||
						  reader->ReadRecPtr - scan->own_vacuum >
						  WALEND_OWN_VACUUM_WINDOW))
					scan->own_bytes += size;
				else if (walend_record_is_bookkeeping(reader))
				{
					scan->bookkeeping_bytes += size;
					if (walend_record_is_own_vacuum(reader))
						scan->own_vacuum = reader->ReadRecPtr;
					/* running-transaction snapshots come after anything */
					if (XLogRecGetRmid(reader) != RM_STANDBY_ID)
						scan->after_own = false;
				}
				else
					break;		/* foreign */

				if (snap->bookkeeping_bytes + scan->bookkeeping_bytes >
					WALMON_BOOKKEEPING_ALLOWANCE)
					break;
			}
			if (reader->ReadRecPtr >= upto)
			{
				scan->keep = true;
				break;
			}
		}
	}
	PG_FINALLY();
	{
		XLogReaderFree(reader);
	}
	PG_END_TRY();
}

/*
 * Whether a bookkeeping record changes only walmon's own relations (their
 * pruning and hint bits): walmon's reads and writes of its own tables
 * cause them, and they count as walmon's own WAL, except while a VACUUM of
 * them may be at work (walend_record_is_own_vacuum).  Only bookkeeping: a
 * change of data (an application's upsert, say) is never walmon's this
 * way.
 */
static bool
walend_record_is_walmon_maintenance(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;

	/*
	 * Only what reading and writing walmon's own tables causes: pruning and
	 * hint-bit images of their pages, and the log-ahead of their sequences
	 * (nextval() in a subtransaction that has no xid yet).  A VACUUM of
	 * them (freezing, vacuuming, visibility, truncation) is bookkeeping
	 * like any other: it consumes what slots may keep just the same.
	 */
	switch (XLogRecGetRmid(record))
	{
		case RM_XLOG_ID:
			if (info != XLOG_FPI_FOR_HINT)
				return false;
			break;
		case RM_HEAP2_ID:
			if (!WALMON_HEAP2_IS_READ_PRUNE(info & XLOG_HEAP_OPMASK))
				return false;
			break;
		case RM_SEQ_ID:
			break;
		default:
			return false;
	}
	return walend_record_touches_own(record, true);
}

/*
 * Whether a record is a VACUUM's on walmon's own relations: freezing,
 * vacuuming, setting visibility, or (from 17) pruning in VACUUM's scan.
 * A VACUUM of walmon's tables is not walmon's doing: its pruning and
 * hint-bit images (the latter come before its records of a page) count
 * as bookkeeping for WALEND_OWN_VACUUM_WINDOW after it, however much
 * they look like what walmon's own reads cause.
 */
static bool
walend_record_is_own_vacuum(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;

	switch (XLogRecGetRmid(record))
	{
		case RM_HEAP2_ID:
			if (!WALMON_HEAP2_IS_MAINTENANCE(info & XLOG_HEAP_OPMASK) ||
				WALMON_HEAP2_IS_READ_PRUNE(info & XLOG_HEAP_OPMASK))
				return false;
			break;
		case RM_BTREE_ID:
			if (info != XLOG_BTREE_VACUUM)
				return false;
			break;
		default:
			return false;
	}
	return walend_record_touches_own(record, false);
}

/*
 * Whether a record's blocks are in walmon's own relations: all of them (and
 * at least one), or any of them.
 */
static bool
walend_record_touches_own(XLogReaderState *record, bool all)
{
	bool		any = false;

	for (int id = 0; id <= XLogRecMaxBlockId(record); id++)
	{
		Oid			spc;
		Oid			db;
		Oid			rel;

		if (!XLogRecHasBlockRef(record, id))
			continue;
		WALMON_RECORD_BLOCK(record, id, &spc, &db, &rel);
		if (walmon_store_is_own_relfilenode(spc, db, rel))
			any = true;
		else if (all)
			return false;
	}
	return any;
}

/*
 * Whether a record is one of walmon's own writes: a record of a recent
 * walmon write transaction inside the WAL range of that write, or its
 * commit or abort record.
 */
static bool
walend_record_is_own(const WalmonWalEnd *snap, XLogReaderState *record)
{
	TransactionId xid = XLogRecGetXid(record);
	XLogRecPtr	pos = record->ReadRecPtr;

	/*
	 * At wal_level logical, the record that ties a subtransaction to its
	 * top transaction is written when a nested subtransaction's first write
	 * assigns ids to its parents, with the id of the (still id-less) writer:
	 * none.  It names the top transaction itself.
	 */
	if (XLogRecGetRmid(record) == RM_XACT_ID &&
		(XLogRecGetInfo(record) & XLOG_XACT_OPMASK) == XLOG_XACT_ASSIGNMENT &&
		XLogRecGetDataLen(record) >= MinSizeOfXactAssignment)
		xid = ((xl_xact_assignment *) XLogRecGetData(record))->xtop;

	if (!TransactionIdIsValid(xid))
		return false;

	for (int i = 0; i < WALMON_OWN_WRITES; i++)
	{
		const WalmonOwnWrite *own = &snap->own[i];

		if (!TransactionIdIsValid(own->topxid) || pos < own->start)
			continue;
		if (pos < own->end && walend_xid_of_write(own, xid))
			return true;
		if (TransactionIdEquals(xid, own->topxid) &&
			XLogRecGetRmid(record) == RM_XACT_ID)
		{
			uint8		op = XLogRecGetInfo(record) & XLOG_XACT_OPMASK;

			if (op == XLOG_XACT_COMMIT || op == XLOG_XACT_ABORT)
				return true;
		}
	}
	return false;
}

/*
 * Whether a record is bookkeeping: it changes no data, and the server or
 * walmon's own reads write it after any write.  Checkpoints (which follow
 * any important record), running-transaction snapshots and segment
 * switches (archive_timeout), hint-bit page images, pruning, vacuuming and
 * freezing, and the in-place statistics updates of vacuum with the
 * invalidation records logged alongside them.  A user's
 * pg_switch_wal() or VACUUM alone therefore does not move the effective
 * WAL end; the next change of data does.
 */
static bool
walend_record_is_bookkeeping(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;

	switch (XLogRecGetRmid(record))
	{
		case RM_XLOG_ID:
			return info == XLOG_CHECKPOINT_ONLINE ||
				info == XLOG_CHECKPOINT_SHUTDOWN ||
#ifdef WALMON_HAVE_CHECKPOINT_REDO
				info == XLOG_CHECKPOINT_REDO ||
#endif
				info == XLOG_SWITCH ||
				info == XLOG_NOOP ||
				info == XLOG_FPI_FOR_HINT;
		case RM_XACT_ID:
			/* the invalidations logged with an in-place update, alone */
			return (info & XLOG_XACT_OPMASK) == XLOG_XACT_INVALIDATIONS &&
				!TransactionIdIsValid(XLogRecGetXid(record));
		case RM_STANDBY_ID:
			return info == XLOG_RUNNING_XACTS ||
				info == XLOG_STANDBY_LOCK ||
				info == XLOG_INVALIDATIONS;
		case RM_HEAP_ID:
			return (info & XLOG_HEAP_OPMASK) == XLOG_HEAP_INPLACE;
		case RM_HEAP2_ID:
			return WALMON_HEAP2_IS_MAINTENANCE(info & XLOG_HEAP_OPMASK);
		case RM_BTREE_ID:
			return info == XLOG_BTREE_DELETE ||
				info == XLOG_BTREE_VACUUM ||
				info == XLOG_BTREE_MARK_PAGE_HALFDEAD ||
				info == XLOG_BTREE_UNLINK_PAGE ||
				info == XLOG_BTREE_UNLINK_PAGE_META ||
				info == XLOG_BTREE_REUSE_PAGE ||
				info == XLOG_BTREE_META_CLEANUP;
		case RM_SMGR_ID:
			return info == XLOG_SMGR_TRUNCATE;
		default:
			return false;
	}
}

/*
 * Whether a record's transaction id is the write's transaction or one of
 * its committed subtransactions.  A write with more subtransactions than
 * are kept owns every transaction id in its range: the cycle opens that
 * many only when it had to try items one by one.
 */
static bool
walend_xid_of_write(const WalmonOwnWrite *own, TransactionId xid)
{
	if (TransactionIdEquals(xid, own->topxid))
		return true;
	if (own->nsubxids > WALMON_OWN_SUBXIDS)
		return true;
	for (int i = 0; i < own->nsubxids; i++)
	{
		if (TransactionIdEquals(xid, own->subxids[i]))
			return true;
	}
	return false;
}

/*
 * The end of the WAL inserted so far.  The insert position is where the
 * next record goes: at a page boundary, after the next page's header,
 * which does not exist yet and cannot be flushed (XLogFlush would fail);
 * step back over that header, as xlog.c's XLogBytePosToEndRecPtr does.
 */
static XLogRecPtr
walend_inserted_end(void)
{
	XLogRecPtr	pos = GetXLogInsertRecPtr();

	if (XLogSegmentOffset(pos, wal_segment_size) == SizeOfXLogLongPHD)
		return pos - SizeOfXLogLongPHD;
	if (pos % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		return pos - SizeOfXLogShortPHD;
	return pos;
}

/*
 * Whether a top-level transaction id is one of walmon's recent writes.
 */
bool
walmon_walend_is_own_xact(TransactionId xid)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);
	bool		own = false;

	if (!TransactionIdIsValid(xid))
		return false;
	if (lock)
		LWLockAcquire(lock, LW_SHARED);
	for (int i = 0; i < WALMON_OWN_WRITES; i++)
	{
		if (TransactionIdEquals(st->own[i].topxid, xid))
		{
			own = true;
			break;
		}
	}
	if (lock)
		LWLockRelease(lock);
	return own;
}

/*
 * Close the cycle's bracket, after its last write: remember the
 * transaction and the WAL range of walmon's own records, so that the next
 * check can tell them from anyone else's.  The commit record, written
 * later, is recognised by the transaction id alone.
 */
void
walmon_walend_close(void)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);
	TransactionId topxid = GetTopTransactionIdIfAny();
	WalmonOwnWrite *own;
	TransactionId *children;
	int			nchildren;

	if (!TransactionIdIsValid(topxid) ||
		XLogRecPtrIsInvalid(walend_write_start) ||
		XactLastRecEnd <= walend_write_start)
		return;

	if (lock)
		LWLockAcquire(lock, LW_EXCLUSIVE);
	nchildren = xactGetCommittedChildren(&children);
	own = &st->own[st->next_own];
	own->topxid = topxid;
	own->nsubxids = nchildren + walend_naborted;
	for (int i = 0; i < Min(nchildren, WALMON_OWN_SUBXIDS); i++)
		own->subxids[i] = children[i];
	for (int i = 0; i < walend_naborted && nchildren + i < WALMON_OWN_SUBXIDS; i++)
		own->subxids[nchildren + i] = walend_aborted[i];
	own->start = walend_write_start;
	own->end = XactLastRecEnd;
	st->next_own = (st->next_own + 1) % WALMON_OWN_WRITES;
	if (lock)
		LWLockRelease(lock);

	walend_write_start = InvalidXLogRecPtr;
	walend_naborted = 0;
}

/*
 * Forget everything: used while the server is in recovery, so that after
 * promotion the first cycle starts afresh on the new timeline.
 */
void
walmon_walend_forget(void)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);

	if (lock)
		LWLockAcquire(lock, LW_EXCLUSIVE);
	memset(st, 0, sizeof(WalmonWalEnd));
	if (lock)
		LWLockRelease(lock);
}

/* ----------------------------------------------------------------
 * The history of a WAL end: a ring of samples, oldest first from
 * next - count.  Also used for remote servers (remote.c).
 * ----------------------------------------------------------------
 */

/* The i-th oldest sample of a ring. */
static inline const WalmonWalSample *
ring_at(const WalmonWalSample *ring, int size, int next, int count, int i)
{
	return &ring[(next - count + i + size) % size];
}

/*
 * Add a sample; a sample at the same time as the newest one replaces it,
 * and the WAL end never goes back in a ring (after a promotion the ring is
 * emptied by the caller).
 */
void
walmon_ring_add(WalmonWalSample *ring, int size, int *next, int *count,
				TimestampTz at, XLogRecPtr wal_end)
{
	if (*count > 0)
	{
		WalmonWalSample *last = (WalmonWalSample *) ring_at(ring, size, *next,
															*count, *count - 1);

		if (wal_end < last->wal_end)
			*count = 0;
		else if (at <= last->at)
		{
			last->wal_end = wal_end;
			return;
		}
	}
	ring[*next].at = at;
	ring[*next].wal_end = wal_end;
	*next = (*next + 1) % size;
	if (*count < size)
		(*count)++;
}

/*
 * How long ago the WAL end passed pos, seconds, at time now: 0 when pos is
 * at or past the current WAL end; null when that was before the oldest
 * sample.  Between two samples, the WAL is taken to have been written at
 * an even rate.
 */
WalmonFloat8
walmon_ring_lag_seconds(const WalmonWalSample *ring, int size, int next,
						int count, XLogRecPtr pos, XLogRecPtr wal_end,
						TimestampTz now)
{
	WalmonFloat8 result = {0, false};

	if (pos >= wal_end)
		return result;
	for (int i = 0; i < count; i++)
	{
		const WalmonWalSample *s = ring_at(ring, size, next, count, i);

		if (s->wal_end <= pos)
			continue;
		if (i == 0)
			break;				/* passed before the oldest sample */
		{
			const WalmonWalSample *p = ring_at(ring, size, next, count, i - 1);
			double		frac = (double) (pos - p->wal_end) /
				(double) (s->wal_end - p->wal_end);
			double		crossed = (double) p->at + frac * (double) (s->at - p->at);

			result.value = Max(0.0, ((double) now - crossed) / USECS_PER_SEC);
			return result;
		}
	}
	result.isnull = true;
	return result;
}

/*
 * The rate of the WAL end over the last "seconds" at time now, bytes per
 * second: from the WAL end then (the newest sample at or before that time)
 * to the newest sample.  With a shorter history, over what there is;
 * null with less than a second of it.
 */
WalmonFloat8
walmon_ring_rate(const WalmonWalSample *ring, int size, int next, int count,
				 TimestampTz now, int seconds)
{
	WalmonFloat8 result = {0, true};
	TimestampTz since = now - (TimestampTz) seconds * USECS_PER_SEC;
	const WalmonWalSample *from = NULL;
	const WalmonWalSample *last;
	double		span;

	if (count == 0)
		return result;
	last = ring_at(ring, size, next, count, count - 1);
	for (int i = count - 1; i >= 0; i--)
	{
		from = ring_at(ring, size, next, count, i);
		if (from->at <= since)
			break;
	}
	span = (double) (now - Max(from->at, since)) / USECS_PER_SEC;
	if (from->at > since)
		span = (double) (now - from->at) / USECS_PER_SEC;
	if (span < 1.0)
		return result;
	result.isnull = false;
	result.value = (double) (last->wal_end - from->wal_end) / span;
	return result;
}

/* The lag in seconds of a local position (see walmon_ring_lag_seconds). */
WalmonFloat8
walmon_walend_lag_seconds(XLogRecPtr pos, XLogRecPtr wal_end, TimestampTz now)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);
	WalmonFloat8 result;

	if (lock)
		LWLockAcquire(lock, LW_SHARED);
	result = walmon_ring_lag_seconds(st->ring, WALMON_RING_SIZE, st->ring_next,
									 st->ring_count, pos, wal_end, now);
	if (lock)
		LWLockRelease(lock);
	return result;
}

/* What walmon_worker_status() shows of the WAL end, at time now. */
void
walmon_walend_status(TimestampTz now, WalmonWalEndStatus *status)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);

	if (lock)
		LWLockAcquire(lock, LW_SHARED);
	status->wal_end = st->wal_end;
	status->trail_bytes = st->trail_bytes;
	status->own_bytes = st->own_bytes;
	status->bookkeeping_bytes = st->bookkeeping_bytes;
	status->scan_bytes = st->scan_bytes;
	status->rate = walmon_ring_rate(st->ring, WALMON_RING_SIZE, st->ring_next,
									st->ring_count, now, 60);
	status->rate_15min = walmon_ring_rate(st->ring, WALMON_RING_SIZE,
										  st->ring_next, st->ring_count, now,
										  15 * 60);
	status->oldest_sample = st->ring_count > 0 ?
		ring_at(st->ring, WALMON_RING_SIZE, st->ring_next, st->ring_count, 0)->at : 0;
	if (lock)
		LWLockRelease(lock);
}

/*
 * How long until the filesystem holding pg_wal is full at the given rate
 * of WAL, in seconds: null without a rate (or one of zero); *free_bytes,
 * when not NULL, gets its free space (null when it cannot be read).
 */
WalmonFloat8
walmon_disk_full_seconds(WalmonFloat8 rate, WalmonInt64 *free_bytes)
{
	WalmonFloat8 result = {0, true};
	struct statvfs fs;
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/" XLOGDIR, DataDir);
	if (statvfs(path, &fs) != 0)
	{
		if (free_bytes)
			free_bytes->isnull = true;
		return result;
	}
	if (free_bytes)
	{
		free_bytes->isnull = false;
		free_bytes->value = (int64) fs.f_bavail * (int64) fs.f_frsize;
	}
	if (!rate.isnull && rate.value > 0)
	{
		result.isnull = false;
		result.value = (double) fs.f_bavail * (double) fs.f_frsize / rate.value;
	}
	return result;
}
