/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Every difference between the PostgreSQL majors walmon builds against
 *		(14 to 18), in one place.  The rest of the code uses the names below
 *		and never tests PG_VERSION_NUM itself.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMON_COMPAT_H
#define WALMON_COMPAT_H

#if PG_VERSION_NUM < 140000
#error "walmon requires PostgreSQL 14 or later"
#endif

/* The entry point of a background worker never returns. */
#if PG_VERSION_NUM >= 180000
#define WALMON_NORETURN pg_noreturn
#define WALMON_NORETURN_AFTER
#else
#define WALMON_NORETURN
#define WALMON_NORETURN_AFTER pg_attribute_noreturn()
#endif

/* Reserving the "walmon." GUC prefix: renamed in 15. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* Shared memory must be requested from shmem_request_hook from 15 on. */
#if PG_VERSION_NUM >= 150000
#define WALMON_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/*
 * palloc_array and friends appeared in 16 and were back-patched to late
 * minors of 14 and 15 only.
 */
#ifndef palloc_array
#define palloc_array(type, count) ((type *) palloc(sizeof(type) * (count)))
#define palloc0_array(type, count) ((type *) palloc0(sizeof(type) * (count)))
#endif

/*
 * A search_path for the duration of a store call: pushed cheaply as an
 * override until 16; from 17, where overrides are gone, set as a GUC at a
 * new nesting level, as a function's SET clause does.
 */
#if PG_VERSION_NUM < 170000
#define WALMON_HAVE_OVERRIDE_SEARCH_PATH 1
#endif

/* Custom wait events appear in 17; before that, the generic one. */
#if PG_VERSION_NUM >= 170000
#define WALMON_HAVE_CUSTOM_WAIT_EVENT 1
#endif

/*
 * Slot view columns that differ between majors: wal_status and
 * safe_wal_size exist from 13 on, conflicting (logical slots) from 16,
 * invalidation_reason and inactive_since from 17.
 */
#if PG_VERSION_NUM >= 170000
#define WALMON_HAVE_SLOT_INVALIDATION_REASON 1
#define WALMON_HAVE_SLOT_INACTIVE_SINCE 1
#endif
#if PG_VERSION_NUM >= 160000
#define WALMON_HAVE_SLOT_CONFLICTING 1
#endif

/*
 * WAL records that maintain what is already there rather than change data:
 * walmon's foreign-WAL-end bookkeeping (walend.c) lets them pass.  Heap
 * pruning, vacuuming and freezing records were renamed in 17.
 */
#if PG_VERSION_NUM >= 170000
#define WALMON_HEAP2_IS_MAINTENANCE(op) \
	((op) == XLOG_HEAP2_PRUNE_ON_ACCESS || \
	 (op) == XLOG_HEAP2_PRUNE_VACUUM_SCAN || \
	 (op) == XLOG_HEAP2_PRUNE_VACUUM_CLEANUP || \
	 (op) == XLOG_HEAP2_VISIBLE)
#define WALMON_HEAP2_IS_READ_PRUNE(op) ((op) == XLOG_HEAP2_PRUNE_ON_ACCESS)
#define WALMON_HAVE_CHECKPOINT_REDO 1
#else
#define WALMON_HEAP2_IS_READ_PRUNE(op) ((op) == XLOG_HEAP2_PRUNE)
#define WALMON_HEAP2_IS_MAINTENANCE(op) \
	((op) == XLOG_HEAP2_PRUNE || \
	 (op) == XLOG_HEAP2_VACUUM || \
	 (op) == XLOG_HEAP2_FREEZE_PAGE || \
	 (op) == XLOG_HEAP2_VISIBLE)
#endif

/*
 * A WaitEventSet: made in a memory context until 16, tracked by a resource
 * owner (none here: the caller frees it) from 17.
 */
#if PG_VERSION_NUM >= 170000
#define WALMON_CREATE_WAIT_EVENT_SET(n) CreateWaitEventSet(NULL, (n))
#else
#define WALMON_CREATE_WAIT_EVENT_SET(n) CreateWaitEventSet(CurrentMemoryContext, (n))
#endif
#define WALMON_WAIT_EVENT_REMOTE PG_WAIT_EXTENSION

/*
 * The highest block id of a decoded WAL record: the reader's own field
 * until 14, the decoded record's (behind this macro) from 15.
 */
#if PG_VERSION_NUM < 150000
#define XLogRecMaxBlockId(decoder) ((decoder)->max_block_id)
#endif

/*
 * Trying a lock on a database object without waiting:
 * ConditionalLockDatabaseObject() is in 17, and only in some minor releases
 * of the earlier majors (14.13 and 15.20 have it, 16.2 does not).  Before 17
 * walmon does what it does itself, with LockAcquire(): the same lock tag,
 * and the pending invalidations processed once the lock is taken.
 */
#if PG_VERSION_NUM >= 170000
#define walmon_conditional_lock_object(classid, objid, objsubid, mode) \
	ConditionalLockDatabaseObject((classid), (objid), (objsubid), (mode))
#else
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/inval.h"

static inline bool
walmon_conditional_lock_object(Oid classid, Oid objid, uint16 objsubid,
							   LOCKMODE mode)
{
	LOCKTAG		tag;
	LockAcquireResult res;

	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, classid, objid, objsubid);
	res = LockAcquire(&tag, mode, false, true);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return false;
	if (res != LOCKACQUIRE_ALREADY_CLEAR)
		AcceptInvalidationMessages();
	return true;
}
#endif

/* Privilege checks on a foreign server: one generic function from 16. */
#if PG_VERSION_NUM >= 160000
#define walmon_server_aclcheck(server, role, mode) \
	object_aclcheck(ForeignServerRelationId, (server), (role), (mode))
#else
#define walmon_server_aclcheck(server, role, mode) \
	pg_foreign_server_aclcheck((server), (role), (mode))
#endif

/*
 * The relation a WAL record's block reference points to: a RelFileNode
 * until 15, a RelFileLocator from 16.
 */
#if PG_VERSION_NUM >= 160000
#define WALMON_RECORD_BLOCK(record, id, spc, db, rel) \
	do { \
		RelFileLocator walmon_rl_; \
		XLogRecGetBlockTag((record), (id), &walmon_rl_, NULL, NULL); \
		*(spc) = walmon_rl_.spcOid; \
		*(db) = walmon_rl_.dbOid; \
		*(rel) = walmon_rl_.relNumber; \
	} while (0)
#else
#define WALMON_RECORD_BLOCK(record, id, spc, db, rel) \
	do { \
		RelFileNode walmon_rn_; \
		XLogRecGetBlockTag((record), (id), &walmon_rn_, NULL, NULL); \
		*(spc) = walmon_rn_.spcNode; \
		*(db) = walmon_rn_.dbNode; \
		*(rel) = walmon_rn_.relNode; \
	} while (0)
#endif

#endif							/* WALMON_COMPAT_H */
