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

#include "walmon.h"

#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "walmon", .version = "1.0");
#else
PG_MODULE_MAGIC;
#endif

void		_PG_init(void);

/*
 * Module load callback.
 */
void
_PG_init(void)
{
}
