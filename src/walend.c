/*-------------------------------------------------------------------------
 *
 * walend.c
 *		The effective foreign WAL end ("E"): the server's WAL position as of
 *		the last record that someone other than walmon wrote, leaving out
 *		the bookkeeping records the server writes after any write.  The
 *		refresh measures lag and retained WAL against it, so that walmon's
 *		own writes never feed back into what it measures.  The design is
 *		explained at the top of cycle.c.
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
#include "storage/lwlock.h"
#include "storage/standbydefs.h"

#include "walmon.h"

/*
 * The most records one check reads.  It reads from the last important
 * record it accounted for to the newest one, and stops at the first record
 * that is neither walmon's nor bookkeeping, so it reads more than a few
 * records only right after walmon wrote many rows; beyond this many, the
 * WAL is taken to be foreign.
 */
#define WALMON_SCAN_MAX_RECORDS 100000

/* the state when walmon is not preloaded */
static WalmonWalEnd walend_local;

/* insert position before this cycle's first write, or invalid */
static XLogRecPtr walend_write_start = InvalidXLogRecPtr;

static WalmonWalEnd *walend_state(LWLock **lock);
static bool walend_only_own_or_bookkeeping(const WalmonWalEnd *snap,
										   XLogRecPtr from, XLogRecPtr upto);
static bool walend_record_is_own(const WalmonWalEnd *snap,
								 XLogReaderState *record);
static bool walend_record_is_bookkeeping(XLogReaderState *record);
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
 * the newest important record is read: if it holds only walmon's own writes
 * and bookkeeping, E still stays; otherwise E becomes the current insert
 * position.  Either way the newest important record becomes the marker.
 */
XLogRecPtr
walmon_walend_begin(void)
{
	LWLock	   *lock;
	WalmonWalEnd *st = walend_state(&lock);
	WalmonWalEnd snap;
	XLogRecPtr	last_important;
	XLogRecPtr	insert;
	XLogRecPtr	wal_end;
	bool		keep;

	walend_write_start = InvalidXLogRecPtr;

	if (lock)
		LWLockAcquire(lock, LW_SHARED);
	memcpy(&snap, st, sizeof(WalmonWalEnd));
	if (lock)
		LWLockRelease(lock);

	/* in this order: E covers the newest important record at least */
	last_important = GetLastImportantRecPtr();
	insert = GetXLogInsertRecPtr();

	if (XLogRecPtrIsInvalid(snap.wal_end))
		keep = false;
	else if (last_important == snap.marker)
		keep = true;
	else if (XLogRecPtrIsInvalid(snap.marker) || last_important < snap.marker)
		keep = false;
	else
		keep = walend_only_own_or_bookkeeping(&snap, snap.marker,
											  last_important);

	wal_end = keep ? snap.wal_end : insert;

	if (lock)
		LWLockAcquire(lock, LW_EXCLUSIVE);
	st->wal_end = wal_end;
	st->marker = last_important;
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
	own->nsubxids = nchildren;
	for (int i = 0; i < Min(nchildren, WALMON_OWN_SUBXIDS); i++)
		own->subxids[i] = children[i];
	own->start = walend_write_start;
	own->end = XactLastRecEnd;
	st->next_own = (st->next_own + 1) % WALMON_OWN_WRITES;
	if (lock)
		LWLockRelease(lock);

	walend_write_start = InvalidXLogRecPtr;
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
 * Read the WAL records after the one at "from" up to the one at "upto"
 * (both record starts, from < upto); true when every one of them is
 * walmon's own or bookkeeping.
 */
static bool
walend_only_own_or_bookkeeping(const WalmonWalEnd *snap, XLogRecPtr from,
							   XLogRecPtr upto)
{
	XLogSegNo	segno;
	XLogReaderState *reader;
	volatile bool result = false;

	/* the WAL must still be there */
	XLByteToSeg(from, segno, wal_segment_size);
	if (segno <= XLogGetLastRemovedSegno())
		return false;

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
		for (int n = 0; n < WALMON_SCAN_MAX_RECORDS; n++)
		{
			char	   *errormsg = NULL;

			/* a record that cannot be read counts as foreign */
			if (XLogReadRecord(reader, &errormsg) == NULL)
				break;
			if (reader->ReadRecPtr != from &&
				!walend_record_is_own(snap, reader) &&
				!walend_record_is_bookkeeping(reader))
				break;
			if (reader->ReadRecPtr >= upto)
			{
				result = true;
				break;
			}
		}
	}
	PG_FINALLY();
	{
		XLogReaderFree(reader);
	}
	PG_END_TRY();

	return result;
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
 * Whether a record is one of walmon's own writes: a record of a recent
 * walmon write transaction inside the WAL range of that write, or its
 * commit or abort record.
 */
static bool
walend_record_is_own(const WalmonWalEnd *snap, XLogReaderState *record)
{
	TransactionId xid = XLogRecGetXid(record);
	XLogRecPtr	pos = record->ReadRecPtr;

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
