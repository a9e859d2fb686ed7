/*-------------------------------------------------------------------------
 *
 * remote.c
 *		Remote servers (contract section 9): the walmon_fdw foreign-data
 *		wrapper that holds their connection options, binding sources to
 *		them, and polling their replication slots over libpq.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "commands/extension.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "walmon.h"

/*
 * The foreign server of that name, checked: it must belong to walmon's
 * foreign-data wrapper, and the current user must have USAGE on it.
 * Returns its OID.
 */
Oid
walmon_remote_check_server(const char *name)
{
	ForeignServer *server = GetForeignServerByName(name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	Oid			extoid = get_extension_oid("walmon", false);
	AclResult	aclresult;

	if (getExtensionOfObject(ForeignDataWrapperRelationId, fdw->fdwid) != extoid)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a server of foreign-data wrapper \"walmon_fdw\"",
						name),
				 errdetail("It belongs to foreign-data wrapper \"%s\".", fdw->fdwname),
				 errhint("Create it with CREATE SERVER ... FOREIGN DATA WRAPPER walmon_fdw.")));

	aclresult = walmon_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	return server->serverid;
}
