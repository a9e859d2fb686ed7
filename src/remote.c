/*-------------------------------------------------------------------------
 *
 * remote.c
 *		Remote servers (contract section 9): the walmon_fdw foreign-data
 *		wrapper that holds their connection options, binding sources to
 *		them, and polling their replication slots over libpq.
 *
 * A server is a foreign server of walmon_fdw; its credentials are in the
 * user mapping for walmon's owner (or PUBLIC), never in walmon's tables,
 * logs or messages.  walmon_server lists the servers walmon follows.
 *
 * Every cycle polls all of them at once, without blocking: one connection
 * per server, kept from cycle to cycle in the process that polls (the
 * worker, or a session calling walmon_refresh()), opened with
 * PQconnectStartParams/PQconnectPoll, one read-only query sent with
 * PQsendQuery, and every socket waited on in one WaitEventSet with the
 * latch.  Each server has walmon.remote_timeout from the start of its
 * poll: past it, or on any error, its connection is closed, its sources
 * turn ERROR with the reason, and it is tried again after a backoff that
 * doubles up to a minute.  The worker waits for the servers at most a
 * second (half a naptime when that is less) per cycle: one that answers
 * later is applied by a later cycle, so a server that hangs delays nothing
 * but its own sources.  Nothing is written on a server.
 *
 * The reply is a single row: the server's version, whether it is in
 * recovery, its WAL end (the receive position on a standby), its
 * max_slot_wal_keep_size, and its slots as one jsonb array of
 * pg_replication_slots rows (to_jsonb: whatever columns the version has).
 * It comes from a server walmon does not control, so every value is
 * checked before it is used; a reply that does not make sense is an error
 * of that server.
 *
 * Copyright (c) 2026, walmon developers
 *
 * IDENTIFICATION
 *		src/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "foreign/foreign.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/slot.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "walmon.h"

PG_FUNCTION_INFO_V1(walmon_fdw_validator);
PG_FUNCTION_INFO_V1(walmon_add_server);
PG_FUNCTION_INFO_V1(walmon_drop_server);

/* the samples kept of a remote server's WAL end */
#define WALMON_REMOTE_RING	256

/* the longest wait between two attempts to reach a failing server, in ms */
#define WALMON_REMOTE_MAX_BACKOFF_MS	60000

/* the longest the worker waits for slow servers in one cycle, in ms */
#define WALMON_REMOTE_CYCLE_WAIT_MS	1000

/* the longest error message of a server a row repeats */
#define WALMON_REMOTE_MAX_ERROR	1000

/*
 * The query every server answers.  Qualified with pg_catalog: the remote
 * role's search_path is not ours to trust either.
 *
 * The WAL senders streaming come from pg_stat_get_wal_senders(), the
 * function pg_stat_replication reads them from, not from the view: the
 * view joins them with pg_stat_get_activity(), which copies the status of
 * every backend slot of the server (max_connections of them) only for the
 * join to throw all but the WAL senders away: with the view the query
 * took 1.9 ms, with the function 0.65 ms (a server with 154 connection
 * slots, bench/fleet.sh), paid by every server every cycle.  state is the
 * same column either way, NULL alike for a role that may not read it.
 */
#define WALMON_REMOTE_QUERY \
	"SELECT pg_catalog.current_setting('server_version_num')," \
	" pg_catalog.pg_is_in_recovery()," \
	" CASE WHEN pg_catalog.pg_is_in_recovery()" \
	"  THEN COALESCE(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())" \
	"  ELSE pg_catalog.pg_current_wal_lsn() END," \
	" pg_catalog.current_setting('max_slot_wal_keep_size')," \
	" (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)" \
	"   OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(" \
	"    'walmon_streaming', COALESCE(s.active_pid OPERATOR(pg_catalog.=) ANY (ARRAY(" \
	"     SELECT r.pid FROM pg_catalog.pg_stat_get_wal_senders() AS r" \
	"     WHERE r.state OPERATOR(pg_catalog.=) ANY ('{catchup,streaming}'::pg_catalog.text[]))), false)," \
	"    'walmon_xmin_age', pg_catalog.age(s.xmin)," \
	"    'walmon_catalog_xmin_age', pg_catalog.age(s.catalog_xmin)))" \
	"  FROM pg_catalog.pg_replication_slots AS s WHERE NOT s.temporary)"

/* the libpq options a server of walmon_fdw may set, and a user mapping */
static const char *const walmon_server_options[] = {
	"host", "hostaddr", "port", "dbname", "connect_timeout", "sslmode",
	"application_name", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"target_session_attrs", "channel_binding", "gssencmode", "requiressl",
	"sslcompression", "ssl_min_protocol_version", "ssl_max_protocol_version",
	"krbsrvname", "gsslib", "load_balance_hosts", "sslnegotiation", NULL
};
static const char *const walmon_mapping_options[] = {
	"user", "password", NULL
};

/* where a server's poll stands */
typedef enum RemotePhase
{
	RP_SKIP,					/* not polled this cycle (backoff, error) */
	RP_CONNECTING,
	RP_SENDING,					/* query sent, not all of it flushed */
	RP_WAITING,					/* waiting for the reply */
	RP_DONE,
	RP_FAILED
} RemotePhase;

/* One remote server, as this process knows it. */
typedef struct RemoteServer
{
	char		name[NAMEDATALEN];
	bool		bound;			/* still polled */
	bool		followed;		/* in walmon_server: its slots are registered */
	bool		stale;			/* its options changed: reconnect */
	PGconn	   *conn;
	bool		holds_fd;		/* counted by AcquireExternalFD() */
	RemotePhase phase;
	PostgresPollingStatusType connect_wait;
	TimestampTz deadline;
	int			failures;		/* in a row */
	TimestampTz retry_at;
	char	   *error;			/* the last error, in TopMemoryContext */
	/* the connection's parameters, for this poll */
	char	  **keywords;
	char	  **values;
	bool		needs_password;
	/* the reply */
	char	   *reply[5];		/* in the poll's memory context */
	/* the history of its WAL end */
	WalmonWalSample ring[WALMON_REMOTE_RING];
	int			ring_next;
	int			ring_count;
} RemoteServer;

/*
 * Every server this process has polled, each allocated once and never
 * moved: a cycle holds pointers to them (remote_prepare_all) while
 * remote_find may still add more.
 */
static RemoteServer **remote_servers = NULL;
static int	remote_nservers = 0;
static int	remote_maxservers = 0;
static bool remote_callbacks = false;

static void remote_invalidate(Datum arg, int cacheid, uint32 hashvalue);
static RemoteServer *remote_find(const char *name, bool create);
static void remote_prepare(RemoteServer *srv, Oid owner);
static void remote_poll(RemoteServer **servers, int n, TimestampTz start);
static void remote_fail(RemoteServer *srv, const char *fmt,...) pg_attribute_printf(2, 3);
static WalmonSlot *remote_parse(RemoteServer *srv, WalmonCycleContext *ctx,
								int *nslots);
static void remote_notice(void *arg, const char *message);

/* ----------------------------------------------------------------
 * The foreign-data wrapper
 * ----------------------------------------------------------------
 */

static bool
walmon_option_in(const char *name, const char *const *list)
{
	for (int i = 0; list[i] != NULL; i++)
	{
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

/*
 * walmon_fdw_validator(options text[], catalog oid)
 *
 * A server of walmon_fdw takes libpq's connection options, a user mapping
 * takes user and password: credentials never go into a server's options,
 * where everyone with USAGE on the wrapper could read them.  Options that
 * make libpq read files of the server's operating system user (passfile,
 * service, SSL keys and certificates) are refused, as are options libpq
 * does not know.  As postgres_fdw and dblink_fdw do.
 */
Datum
walmon_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *const *valid;
		const char *what;

		if (catalog == ForeignServerRelationId)
		{
			valid = walmon_server_options;
			what = "server";
		}
		else if (catalog == UserMappingRelationId)
		{
			valid = walmon_mapping_options;
			what = "user mapping";
		}
		else
		{
			valid = NULL;
			what = "foreign-data wrapper";
		}

		if (valid == NULL || !walmon_option_in(def->defname, valid))
		{
			StringInfoData list;

			initStringInfo(&list);
			for (int i = 0; valid != NULL && valid[i] != NULL; i++)
				appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", valid[i]);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for a %s of walmon_fdw",
							def->defname, what),
					 valid != NULL ?
					 errhint("Valid options here are: %s.", list.data) :
					 errhint("walmon_fdw takes no options; its servers and user mappings do.")));
		}
	}
	PG_RETURN_VOID();
}

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

/* ----------------------------------------------------------------
 * The servers this process knows
 * ----------------------------------------------------------------
 */

/* A server or user mapping changed: reconnect to every server. */
static void
remote_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < remote_nservers; i++)
		remote_servers[i]->stale = true;
}

static RemoteServer *
remote_find(const char *name, bool create)
{
	for (int i = 0; i < remote_nservers; i++)
	{
		if (strcmp(remote_servers[i]->name, name) == 0)
			return remote_servers[i];
	}
	if (!create)
		return NULL;
	if (!remote_callbacks)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, remote_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, remote_invalidate, (Datum) 0);
		remote_callbacks = true;
	}
	if (remote_nservers == remote_maxservers)
	{
		int			newmax = Max(16, remote_maxservers * 2);

		/* only the array of pointers moves, never a server */
		remote_servers = remote_servers == NULL ?
			MemoryContextAlloc(TopMemoryContext, sizeof(RemoteServer *) * newmax) :
			repalloc(remote_servers, sizeof(RemoteServer *) * newmax);
		remote_maxservers = newmax;
	}
	remote_servers[remote_nservers] =
		MemoryContextAllocZero(TopMemoryContext, sizeof(RemoteServer));
	strlcpy(remote_servers[remote_nservers]->name, name, NAMEDATALEN);
	return remote_servers[remote_nservers++];
}

/* Close a server's connection, if any. */
static void
remote_disconnect(RemoteServer *srv)
{
	if (srv->conn != NULL)
	{
		PQfinish(srv->conn);
		srv->conn = NULL;
	}
	if (srv->holds_fd)
	{
		ReleaseExternalFD();
		srv->holds_fd = false;
	}
}

/*
 * Record that a server failed, with the reason, and when to try it again.
 * The connection is closed: the next attempt starts afresh.
 */
static void
remote_fail(RemoteServer *srv, const char *fmt,...)
{
	char		buf[WALMON_REMOTE_MAX_ERROR + 1];
	va_list		args;
	int			backoff;
	int			len;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);

	/* libpq's messages end with a newline, and may hold several lines */
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	for (char *p = buf; *p; p++)
	{
		if (*p == '\n')
			*p = ' ';
	}
	len = pg_mbcliplen(buf, strlen(buf), WALMON_REMOTE_MAX_ERROR);
	buf[len] = '\0';

	remote_disconnect(srv);
	if (srv->error != NULL)
		pfree(srv->error);
	srv->error = MemoryContextStrdup(TopMemoryContext, buf);
	srv->phase = RP_FAILED;
	srv->failures++;
	backoff = walmon_naptime;
	for (int i = 1; i < srv->failures && backoff < WALMON_REMOTE_MAX_BACKOFF_MS; i++)
		backoff *= 2;
	backoff = Min(backoff, WALMON_REMOTE_MAX_BACKOFF_MS);
	srv->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff);
}

/* libpq's notices from a remote server are not ours to log */
static void
remote_notice(void *arg, const char *message)
{
}

/*
 * Prepare a server's poll, inside a transaction: its connection options
 * from the catalogs, and whether it may be polled now.  An error concerns
 * this server only: it is recorded, not thrown.
 */
static void
remote_prepare(RemoteServer *srv, Oid owner)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	/* a poll that an earlier cycle started and that is still under way */
	if (!srv->stale && srv->conn != NULL &&
		(srv->phase == RP_CONNECTING || srv->phase == RP_SENDING ||
		 srv->phase == RP_WAITING))
		return;

	srv->phase = RP_SKIP;
	srv->keywords = NULL;
	srv->values = NULL;
	memset(srv->reply, 0, sizeof(srv->reply));

	if (srv->stale)
	{
		remote_disconnect(srv);
		srv->stale = false;
	}
	if (srv->failures > 0 && GetCurrentTimestamp() < srv->retry_at)
		return;					/* still backing off: the last error stands */

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		ForeignServer *server = GetForeignServerByName(srv->name, true);
		UserMapping *um;
		List	   *opts;
		ListCell   *lc;
		int			n = 0;

		if (server == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("server \"%s\" does not exist", srv->name)));
		if (getExtensionOfObject(ForeignDataWrapperRelationId, server->fdwid) !=
			get_extension_oid("walmon", false))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("server \"%s\" is not a server of foreign-data wrapper \"walmon_fdw\"",
							srv->name)));
		um = GetUserMapping(owner, server->serverid);

		opts = list_concat(list_copy(server->options), um->options);
		srv->keywords = palloc0_array(char *, list_length(opts) + 4);
		srv->values = palloc0_array(char *, list_length(opts) + 4);
		srv->needs_password = !superuser_arg(server->owner);
		foreach(lc, opts)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			/* the validator checked them; checked again, they may be old */
			if (!walmon_option_in(def->defname, walmon_server_options) &&
				!walmon_option_in(def->defname, walmon_mapping_options))
				continue;
			if (strcmp(def->defname, "password") == 0)
				srv->needs_password = false;
			srv->keywords[n] = pstrdup(def->defname);
			srv->values[n] = pstrdup(defGetString(def));
			n++;
		}

		/*
		 * A server a non-superuser created must log in with a password of
		 * its own: otherwise walmon's connection could borrow this
		 * machine's own trust, peer or .pgpass authentication (dblink's
		 * and postgres_fdw's rule).
		 */
		if (!superuser_arg(server->owner) && srv->needs_password)
			ereport(ERROR,
					(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
					 errmsg("password is required"),
					 errdetail("Server \"%s\" is owned by a role that is not a superuser, so its user mapping must give a password.",
							   srv->name)));
		srv->needs_password = !superuser_arg(server->owner);

		srv->keywords[n] = "fallback_application_name";
		srv->values[n++] = "walmon";
		srv->keywords[n] = "options";
		srv->values[n++] = "-c default_transaction_read_only=on";
		srv->keywords[n] = NULL;
		srv->values[n] = NULL;

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		srv->phase = RP_CONNECTING;
		srv->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													walmon_remote_timeout);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		remote_fail(srv, "server \"%s\" cannot be polled: %s", srv->name,
					edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* ----------------------------------------------------------------
 * Polling
 * ----------------------------------------------------------------
 */

/* Send the query on a connected server's connection. */
static void
remote_send(RemoteServer *srv)
{
	if (!PQsendQuery(srv->conn, WALMON_REMOTE_QUERY))
	{
		remote_fail(srv, "could not query server \"%s\": %s", srv->name,
					PQerrorMessage(srv->conn));
		return;
	}
	srv->phase = RP_SENDING;
}

/*
 * Move a server's poll on as far as it goes without waiting.  Called
 * whenever something may have happened on its socket.
 */
static void
remote_step(RemoteServer *srv)
{
	for (;;)
	{
		switch (srv->phase)
		{
			case RP_CONNECTING:
				if (srv->conn == NULL)
				{
					/*
					 * The socket counts against the process's file
					 * descriptors, as postgres_fdw's and dblink's do: past a
					 * third of them, the server waits for a later cycle.
					 */
					if (!srv->holds_fd)
					{
						if (!AcquireExternalFD())
						{
							remote_fail(srv, "could not connect to server \"%s\": this process has no file descriptor to spare (raise max_files_per_process or the open files limit)",
										srv->name);
							return;
						}
						srv->holds_fd = true;
					}
					srv->conn = PQconnectStartParams((const char *const *) srv->keywords,
													 (const char *const *) srv->values,
													 false);
					if (srv->conn == NULL)
					{
						remote_fail(srv, "could not connect to server \"%s\": out of memory",
									srv->name);
						return;
					}
					if (PQstatus(srv->conn) == CONNECTION_BAD)
					{
						remote_fail(srv, "could not connect to server \"%s\": %s",
									srv->name, PQerrorMessage(srv->conn));
						return;
					}
					PQsetNoticeReceiver(srv->conn, (PQnoticeReceiver) remote_notice, NULL);
					srv->connect_wait = PGRES_POLLING_WRITING;
					return;
				}
				if (PQstatus(srv->conn) == CONNECTION_OK)
				{
					/* kept from a cycle before */
					remote_send(srv);
					continue;
				}
				srv->connect_wait = PQconnectPoll(srv->conn);
				if (srv->connect_wait == PGRES_POLLING_FAILED)
				{
					remote_fail(srv, "could not connect to server \"%s\": %s",
								srv->name, PQerrorMessage(srv->conn));
					return;
				}
				if (srv->connect_wait != PGRES_POLLING_OK)
					return;
				if (srv->needs_password && !PQconnectionUsedPassword(srv->conn))
				{
					remote_fail(srv, "could not connect to server \"%s\": password is required, and the server did not ask for one",
								srv->name);
					return;
				}
				if (PQsetnonblocking(srv->conn, 1) != 0)
				{
					remote_fail(srv, "could not connect to server \"%s\": %s",
								srv->name, PQerrorMessage(srv->conn));
					return;
				}
				remote_send(srv);
				continue;

			case RP_SENDING:
				{
					int			rc = PQflush(srv->conn);

					if (rc < 0)
					{
						remote_fail(srv, "could not query server \"%s\": %s",
									srv->name, PQerrorMessage(srv->conn));
						return;
					}
					if (rc > 0)
						return;
					srv->phase = RP_WAITING;
					continue;
				}

			case RP_WAITING:
				if (!PQconsumeInput(srv->conn))
				{
					remote_fail(srv, "could not query server \"%s\": %s",
								srv->name, PQerrorMessage(srv->conn));
					return;
				}
				if (PQisBusy(srv->conn))
					return;
				{
					PGresult   *res;
					bool		ok = false;

					while ((res = PQgetResult(srv->conn)) != NULL)
					{
						if (PQresultStatus(res) == PGRES_TUPLES_OK &&
							PQntuples(res) == 1 && PQnfields(res) == 5)
						{
							for (int i = 0; i < 5; i++)
								srv->reply[i] = PQgetisnull(res, 0, i) ? NULL :
									pstrdup(PQgetvalue(res, 0, i));
							ok = true;
						}
						else if (PQresultStatus(res) != PGRES_TUPLES_OK)
						{
							remote_fail(srv, "could not read the replication slots of server \"%s\": %s",
										srv->name, PQresultErrorMessage(res));
							PQclear(res);
							/* drain what is left; the connection is closed */
							return;
						}
						PQclear(res);
					}
					if (!ok)
					{
						remote_fail(srv, "server \"%s\" sent a reply walmon does not understand",
									srv->name);
						return;
					}
					srv->phase = RP_DONE;
					srv->failures = 0;
					return;
				}

			case RP_SKIP:
			case RP_DONE:
			case RP_FAILED:
				return;
		}
	}
}

/*
 * Poll the given servers at once, until each answered or failed, or until
 * "until": a server still under way then stays so, to be taken up by the
 * next cycle.  A server fails when it runs out of walmon.remote_timeout
 * from the start of its poll.  No catalog access: the worker calls this
 * outside any transaction.
 */
static void
remote_poll(RemoteServer **servers, int n, TimestampTz until)
{
	for (int i = 0; i < n; i++)
		remote_step(servers[i]);

	for (;;)
	{
		WaitEventSet *set;
		WaitEvent	events[1];
		int			pending = 0;
		TimestampTz wake = until;
		TimestampTz now = GetCurrentTimestamp();

		CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < n; i++)
		{
			RemoteServer *srv = servers[i];

			if (srv->phase != RP_CONNECTING && srv->phase != RP_SENDING &&
				srv->phase != RP_WAITING)
				continue;
			if (now >= srv->deadline)
				remote_fail(srv, "server \"%s\" did not answer within %d ms (walmon.remote_timeout)",
							srv->name, walmon_remote_timeout);
			else
			{
				pending++;
				wake = Min(wake, srv->deadline);
			}
		}
		if (pending == 0 || now >= until)
			break;

		set = WALMON_CREATE_WAIT_EVENT_SET(pending + 2);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < n; i++)
		{
			RemoteServer *srv = servers[i];
			uint32		what;

			if (srv->phase == RP_CONNECTING)
				what = srv->connect_wait == PGRES_POLLING_READING ?
					WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
			else if (srv->phase == RP_SENDING)
				what = WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE;
			else if (srv->phase == RP_WAITING)
				what = WL_SOCKET_READABLE;
			else
				continue;
			if (PQsocket(srv->conn) < 0)
			{
				remote_fail(srv, "could not connect to server \"%s\": no socket",
							srv->name);
				continue;
			}
			AddWaitEventToSet(set, what, PQsocket(srv->conn), NULL, srv);
		}

		(void) WaitEventSetWait(set,
								Max(TimestampDifferenceMilliseconds(now, wake), 1),
								events, 1, WALMON_WAIT_EVENT_REMOTE);
		FreeWaitEventSet(set);
		ResetLatch(MyLatch);

		/* whichever socket woke us, every server may go on */
		for (int i = 0; i < n; i++)
			remote_step(servers[i]);
	}
}

/* The latest deadline of the servers being polled: when all are settled. */
static TimestampTz
remote_all_settled(RemoteServer **servers, int n)
{
	TimestampTz until = GetCurrentTimestamp();

	for (int i = 0; i < n; i++)
		until = Max(until, servers[i]->deadline);
	return until;
}

/* ----------------------------------------------------------------
 * The reply
 * ----------------------------------------------------------------
 */

/* A key of a jsonb object, or NULL when absent or JSON null. */
static JsonbValue *
remote_field(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

static char *
remote_string(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = remote_field(obj, key);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("\"%s\" is not a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static WalmonInt64
remote_lsn(JsonbContainer *obj, const char *key)
{
	WalmonInt64 r = {0, true};
	char	   *s = remote_string(obj, key);

	if (s != NULL)
	{
		r.value = (int64) DatumGetLSN(DirectFunctionCall1(pg_lsn_in, CStringGetDatum(s)));
		r.isnull = false;
	}
	return r;
}

static WalmonInt64
remote_number(JsonbContainer *obj, const char *key)
{
	WalmonInt64 r = {0, true};
	JsonbValue *v = remote_field(obj, key);

	if (v != NULL)
	{
		if (v->type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("\"%s\" is not a number", key)));
		r.value = DatumGetInt64(DirectFunctionCall1(numeric_int8,
													NumericGetDatum(v->val.numeric)));
		r.isnull = false;
	}
	return r;
}

static WalmonInt64
remote_bool(JsonbContainer *obj, const char *key)
{
	WalmonInt64 r = {0, true};
	JsonbValue *v = remote_field(obj, key);

	if (v != NULL)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("\"%s\" is not a boolean", key)));
		r.value = v->val.boolean ? 1 : 0;
		r.isnull = false;
	}
	return r;
}

/*
 * The slots of a server's reply, and its WAL end and settings into ctx.
 * Errors (a reply that does not make sense) are thrown; the caller makes
 * them the server's.
 */
static WalmonSlot *
remote_parse(RemoteServer *srv, WalmonCycleContext *ctx, int *nslots)
{
	int			version;
	bool		in_recovery;
	WalmonSlot *slots;
	int			n = 0;
	Jsonb	   *array;
	char	   *end;

	*nslots = 0;
	if (srv->reply[0] == NULL || srv->reply[1] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("no version or recovery state")));
	version = strtol(srv->reply[0], &end, 10);
	if (*end != '\0' || version < 130000)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("it runs a version walmon does not support (server_version_num %s)",
						srv->reply[0]),
				 errhint("walmon follows servers of PostgreSQL 13 and later.")));
	in_recovery = strcmp(srv->reply[1], "t") == 0;
	if (srv->reply[2] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("it reports no WAL position")));
	ctx->wal_end = DatumGetLSN(DirectFunctionCall1(pg_lsn_in,
												   CStringGetDatum(srv->reply[2])));
	ctx->capped = srv->reply[3] != NULL && strcmp(srv->reply[3], "-1") != 0;

	if (srv->reply[4] == NULL)
		return palloc0(sizeof(WalmonSlot));
	array = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(srv->reply[4])));
	if (!JB_ROOT_IS_ARRAY(array) || JB_ROOT_IS_SCALAR(array))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the slots are not a JSON array")));
	slots = palloc0_array(WalmonSlot, Max(JB_ROOT_COUNT(array), 1));
	for (int i = 0; i < (int) JB_ROOT_COUNT(array); i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&array->root, i);
		JsonbContainer *obj;
		WalmonSlot *slot = &slots[n];
		char	   *name;
		char	   *type;

		if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("a slot is not a JSON object")));
		obj = elem->val.binary.data;
		name = remote_string(obj, "slot_name");
		type = remote_string(obj, "slot_type");

		/* a name walmon could not bind a source to is no slot for it */
		if (name == NULL || strlen(name) >= NAMEDATALEN ||
			!ReplicationSlotValidateName(name, DEBUG1))
			continue;
		if (type == NULL ||
			(strcmp(type, "logical") != 0 && strcmp(type, "physical") != 0))
			continue;

		slot->name = name;
		slot->logical = strcmp(type, "logical") == 0;
		slot->active = remote_bool(obj, "walmon_streaming").value != 0;
		slot->restart_lsn = remote_lsn(obj, "restart_lsn");
		slot->confirmed_flush_lsn = remote_lsn(obj, "confirmed_flush_lsn");
		slot->wal_status = remote_string(obj, "wal_status");
		slot->safe_wal_size = remote_number(obj, "safe_wal_size");
		slot->xmin_age = remote_number(obj, "walmon_xmin_age");
		slot->catalog_xmin_age = remote_number(obj, "walmon_catalog_xmin_age");
		slot->conflicting = remote_bool(obj, "conflicting");
		slot->invalidation_reason = remote_string(obj, "invalidation_reason");
		slot->inactive_since.isnull = true;
		{
			char	   *since = remote_string(obj, "inactive_since");

			if (since != NULL)
			{
				slot->inactive_since.value =
					DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
															CStringGetDatum(since),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
				slot->inactive_since.isnull = false;
			}
		}
		slot->failover = remote_bool(obj, "failover");
		slot->synced = remote_bool(obj, "synced");
		/* synced failover slots of a standby are its primary's consumers */
		slot->synced_on_standby = in_recovery && !slot->synced.isnull &&
			slot->synced.value != 0;
		n++;
	}
	*nslots = n;
	return slots;
}

/* ----------------------------------------------------------------
 * The remote part of a cycle
 * ----------------------------------------------------------------
 */

/*
 * Prepare every server walmon follows, in a transaction: returns them,
 * those not to be polled now with their phase RP_SKIP or RP_FAILED.
 */
static RemoteServer **
remote_prepare_all(int *n)
{
	int			nnames;
	bool	   *followed;
	char	  **names = walmon_store_servers(&nnames, &followed);
	RemoteServer **servers = palloc_array(RemoteServer *, Max(nnames, 1));
	Oid			owner = walmon_store_owner();

	for (int i = 0; i < remote_nservers; i++)
		remote_servers[i]->bound = false;
	for (int i = 0; i < nnames; i++)
	{
		RemoteServer *srv = remote_find(names[i], true);

		srv->bound = true;
		srv->followed = followed[i];
		remote_prepare(srv, owner);
		servers[i] = srv;
	}
	/* servers walmon no longer follows: their connections go */
	for (int i = 0; i < remote_nservers; i++)
	{
		if (!remote_servers[i]->bound)
			remote_disconnect(remote_servers[i]);
	}
	*n = nnames;
	return servers;
}

/*
 * Apply what each server answered (or why it did not) to its sources, in
 * the cycle's transaction, inside its bracket.  Returns the rows written.
 */
static int
remote_apply_all(RemoteServer **servers, int n, TimestampTz now,
				 List **samples)
{
	/* volatile: the loop's PG_TRY would let gcc keep it in a register */
	volatile int count = 0;

	for (int i = 0; i < n; i++)
	{
		RemoteServer *srv = servers[i];
		WalmonCycleContext ctx;
		WalmonSlot *slots = NULL;
		int			nslots = 0;

		memset(&ctx, 0, sizeof(ctx));
		ctx.server = srv->name;
		ctx.register_slots = walmon_auto_register && srv->followed;
		ctx.now = now;
		ctx.local = false;
		ctx.list_cxt = CurrentMemoryContext;
		ctx.seconds_to_disk_full.isnull = true;

		if (srv->phase == RP_DONE)
		{
			/* the reply is checked in a subtransaction: any error is its own */
			MemoryContext oldcontext = CurrentMemoryContext;
			ResourceOwner oldowner = CurrentResourceOwner;

			BeginInternalSubTransaction(NULL);
			MemoryContextSwitchTo(oldcontext);
			PG_TRY();
			{
				slots = remote_parse(srv, &ctx, &nslots);
				ReleaseCurrentSubTransaction();
				MemoryContextSwitchTo(oldcontext);
				CurrentResourceOwner = oldowner;
			}
			PG_CATCH();
			{
				ErrorData  *edata;

				MemoryContextSwitchTo(oldcontext);
				edata = CopyErrorData();
				FlushErrorState();
				RollbackAndReleaseCurrentSubTransaction();
				MemoryContextSwitchTo(oldcontext);
				CurrentResourceOwner = oldowner;
				remote_fail(srv, "server \"%s\" sent a reply walmon does not understand: %s",
							srv->name, edata->message);
				FreeErrorData(edata);
				slots = NULL;
				nslots = 0;
			}
			PG_END_TRY();
		}
		if (srv->phase == RP_CONNECTING || srv->phase == RP_SENDING ||
			srv->phase == RP_WAITING)
			continue;			/* still under way: a later cycle applies it */
		if (srv->phase == RP_DONE)
		{
			srv->phase = RP_SKIP;	/* applied once */
			walmon_ring_add(srv->ring, WALMON_REMOTE_RING, &srv->ring_next,
							&srv->ring_count, now, ctx.wal_end);
			ctx.rate = walmon_ring_rate(srv->ring, WALMON_REMOTE_RING,
										srv->ring_next, srv->ring_count, now, 60);
			ctx.ring = srv->ring;
			ctx.ring_size = WALMON_REMOTE_RING;
			ctx.ring_next = srv->ring_next;
			ctx.ring_count = srv->ring_count;
		}
		else if (srv->error != NULL)
		{
			ctx.server_error = srv->error;
			ctx.rate.isnull = true;
		}
		else
			continue;			/* nothing known yet */

		count += walmon_cycle_apply(&ctx, slots, nslots, samples);
	}
	return count;
}

/*
 * The remote part of a cycle run in one transaction (walmon_refresh()):
 * prepare, poll and apply.  The caller holds the refresh lock and has
 * opened the cycle's bracket.  Returns the rows written.
 */
int
walmon_remote_cycle(TimestampTz now, List **samples)
{
	int			n;
	RemoteServer **servers = remote_prepare_all(&n);

	if (n == 0)
		return 0;
	remote_poll(servers, n, remote_all_settled(servers, n));
	return remote_apply_all(servers, n, now, samples);
}

/*
 * The remote part of the worker's cycle, after its local part committed:
 * the catalogs are read in a transaction, the servers polled outside any,
 * and what they answered written in a third, so that a server's trouble
 * holds no transaction open, and no local row waits for it.
 */
void
walmon_remote_worker_cycle(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	RemoteServer **servers = NULL;
	int			n;
	bool		busy = false;

	/* which servers, and how to reach them */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(cxt);
	if (!walmon_store_installed() || walmon_store_version() < WALMON_VERSION_1_1)
		n = 0;
	else
		servers = remote_prepare_all(&n);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (n == 0)
		return;

	/*
	 * Wait for the servers a little, not for the slowest: a server that
	 * answers later is applied by a later cycle, and one that hangs holds
	 * up nobody but its own sources.
	 */
	remote_poll(servers, n,
				TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											Min(walmon_remote_timeout,
												Min(walmon_naptime / 2,
													WALMON_REMOTE_CYCLE_WAIT_MS))));

	/* what they answered */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(cxt);
	if (walmon_store_refresh_begin(false) == WALMON_REFRESH_OK)
	{
		List	   *samples = NIL;
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", WALMON_CYCLE_LOCK_TIMEOUT,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		walmon_walend_open();
		(void) remote_apply_all(servers, n, GetCurrentTransactionStartTimestamp(),
								&samples);
		(void) walmon_cycle_take_samples(samples);
		walmon_walend_close();
		AtEOXact_GUC(true, nestlevel);
	}
	else
		busy = true;
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	(void) busy;				/* a session's walmon_refresh() is at it */
}

/* ----------------------------------------------------------------
 * walmon_add_server(server name) returns integer
 * walmon_drop_server(server name) returns boolean
 * ----------------------------------------------------------------
 */

/*
 * Follow a server: checked (walmon_fdw's, USAGE), listed, and polled at
 * once, so that its slots get their sources now.  Returns the number of
 * sources registered; a server that cannot be reached now is followed all
 * the same (its sources will say why), with a warning.
 */
Datum
walmon_add_server(PG_FUNCTION_ARGS)
{
	char	   *name;
	List	   *samples = NIL;
	RemoteServer *srv;
	RemoteServer *one[1];
	int			before;
	int			after;
	WalmonRefreshOutcome outcome;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	name = NameStr(*PG_GETARG_NAME(0));
	(void) walmon_remote_check_server(name);
	if (walmon_store_version() < WALMON_VERSION_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the installed version of extension \"walmon\" is older than its library"),
				 errhint("Run ALTER EXTENSION walmon UPDATE.")));

	(void) walmon_store_bind_server(name);
	before = walmon_store_count_sources(name);

	/* a cycle of this server alone, as walmon_refresh() runs one */
	if (walmon_store_refresh_begin(true) != WALMON_REFRESH_OK)
		elog(ERROR, "could not lock walmon's refresh");
	srv = remote_find(name, true);
	srv->followed = true;
	srv->failures = 0;			/* the caller wants an answer now */
	remote_prepare(srv, walmon_store_owner());
	one[0] = srv;
	walmon_walend_open();
	remote_poll(one, 1, remote_all_settled(one, 1));
	(void) remote_apply_all(one, 1, GetCurrentTransactionStartTimestamp(), &samples);
	(void) walmon_cycle_take_samples(samples);
	walmon_walend_close();
	(void) outcome;

	if (srv->phase != RP_DONE && srv->error != NULL)
		ereport(WARNING,
				(errmsg("walmon follows server \"%s\", which cannot be reached now", name),
				 errdetail_internal("%s", srv->error),
				 errhint("Its sources say why until it answers.")));

	after = walmon_store_count_sources(name);
	PG_RETURN_INT32(after - before);
}

/* Follow a server no more; its sources and their rows go. */
Datum
walmon_drop_server(PG_FUNCTION_ARGS)
{
	char	   *name;
	RemoteServer *srv;
	bool		found;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server must not be null")));
	name = NameStr(*PG_GETARG_NAME(0));

	/* a server dropped meanwhile can still be forgotten */
	if (GetForeignServerByName(name, true) != NULL)
		(void) walmon_remote_check_server(name);

	found = walmon_store_unbind_server(name);
	srv = remote_find(name, false);
	if (srv != NULL)
		remote_disconnect(srv);
	PG_RETURN_BOOL(found);
}
