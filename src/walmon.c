/*-------------------------------------------------------------------------
 *
 * walmon.c
 *		The module's entry point: the magic block and _PG_init.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/walmon.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "walmon.h"

#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "walmon", .version = "1.1");
#else
PG_MODULE_MAGIC;
#endif

void		_PG_init(void);

/*
 * Module load callback.
 *
 * The settings walmon_refresh() reads exist in every session that loads
 * the library.  Shared memory, walmon.database and the background worker
 * exist only when the library is preloaded; the SQL functions work either
 * way (walmon_worker_status() then returns no row).
 */
void
_PG_init(void)
{
	walmon_guc_define();

	if (!process_shared_preload_libraries_in_progress)
	{
		MarkGUCPrefixReserved("walmon");
		return;
	}

	walmon_guc_define_postmaster();
	MarkGUCPrefixReserved("walmon");

	walmon_shmem_install();

	/* pg_upgrade's servers run no walmon worker */
	if (!IsBinaryUpgrade)
		walmon_worker_register();
}
