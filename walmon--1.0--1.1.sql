/* walmon--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION walmon UPDATE TO '1.1'" to load this file. \quit

--
-- walmon 1.1.  A fresh install of 1.1 runs walmon--1.0.sql and then this
-- script, so an updated 1.0 and a fresh 1.1 are the same by construction;
-- t/020_upgrade.pl checks it, with data.  Every name is qualified, as in
-- walmon--1.0.sql.
--

--
-- Sources: auto_registered marks those the refresh registered by itself for
-- a slot (removed walmon.missing_slot_retention after their slot is gone);
-- in 1.0 such sources were named after their slot.  server names the
-- foreign server of walmon_fdw whose slot the source follows (NULL: a
-- local slot); a slot name is unique per server.
--
ALTER TABLE @extschema@.walmon_source
	ADD COLUMN server name,
	ADD COLUMN auto_registered boolean NOT NULL DEFAULT false;

UPDATE @extschema@.walmon_source
SET auto_registered = true
WHERE slot_name IS NOT NULL AND name OPERATOR(pg_catalog.=) slot_name::pg_catalog.text;

ALTER TABLE @extschema@.walmon_source
	DROP CONSTRAINT walmon_source_slot_name_key,
	ADD CONSTRAINT walmon_source_server_slot_key UNIQUE (server, slot_name),
	ADD CONSTRAINT walmon_source_server_check CHECK (server IS NULL OR slot_name IS NOT NULL);

CREATE UNIQUE INDEX walmon_source_local_slot_key
	ON @extschema@.walmon_source (slot_name) WHERE server IS NULL;

--
-- Slots whose auto-registered source was dropped: the refresh does not
-- register them again until the slot is gone (and, maybe, created anew).
--
CREATE TABLE @extschema@.walmon_ignored_slot (
	server name,
	slot_name name NOT NULL,
	ignored_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE UNIQUE INDEX walmon_ignored_slot_key
	ON @extschema@.walmon_ignored_slot
	(COALESCE(server, ''::pg_catalog.name), slot_name);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.walmon_ignored_slot', '');
REVOKE ALL ON TABLE @extschema@.walmon_ignored_slot FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.walmon_ignored_slot TO pg_monitor;

--
-- Time-aware columns of slot-bound rows (contract section 8).  The lag in
-- seconds and the forecast are as of updated_at: a row is rewritten only
-- when something else changed, and readers (walmon_overview,
-- walmon_prometheus()) add the time since for a slot that has not moved.
--
ALTER TABLE @extschema@.wal_monitor
	ADD COLUMN replication_lag_seconds double precision,
	ADD COLUMN seconds_to_invalidation double precision,
	ADD COLUMN xmin_age integer,
	ADD COLUMN catalog_xmin_age integer,
	ADD COLUMN conflicting boolean,
	ADD COLUMN failover boolean,
	ADD COLUMN synced boolean,
	ADD COLUMN invalidation_reason text;

--
-- A sample also keeps a local logical slot's decoding statistics, as
-- pg_stat_replication_slots shows them: bytes of decoded changes spilled
-- to disk (more than logical_decoding_work_mem) and streamed before their
-- commit.  NULL for every other source.  Nullable without a default: the
-- columns are added without rewriting a table of many samples.
--
ALTER TABLE @extschema@.wal_metrics
	ADD COLUMN spill_bytes bigint,
	ADD COLUMN stream_bytes bigint;

--
-- walmon_add_source gains server (contract section 9).  A signature change
-- is a new function: the grants of the old one are carried over.
--
ALTER FUNCTION @extschema@.walmon_add_source(text, name, integer)
	RENAME TO walmon_add_source_1_0;

CREATE FUNCTION @extschema@.walmon_add_source(
	name text,
	slot_name name DEFAULT NULL,
	id integer DEFAULT NULL,
	server name DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'walmon_add_source'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.walmon_add_source(text, name, integer, name) IS
'Register a source, optionally bound to a replication slot (of a remote server of walmon_fdw) and with an id of its own; returns its id';

REVOKE ALL ON FUNCTION @extschema@.walmon_add_source(text, name, integer, name) FROM PUBLIC;

DO $$
DECLARE
	r pg_catalog.name;
BEGIN
	FOR r IN
		SELECT g.rolname
		FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a,
			pg_catalog.pg_roles AS g
		WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.walmon_add_source_1_0(text, name, integer)'::pg_catalog.regprocedure
		  AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
		  AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
		  AND g.oid OPERATOR(pg_catalog.=) a.grantee
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I',
			'@extschema@.walmon_add_source(text, name, integer, name)'::pg_catalog.regprocedure, r);
	END LOOP;
END $$;

DROP FUNCTION @extschema@.walmon_add_source_1_0(text, name, integer);

--
-- walmon_worker_status gains the WAL rate, the free space of pg_wal, the
-- forecast of a full disk, the count of failed cycles, and what the
-- effective WAL end is made of.  The overview depends on it.
--
DROP VIEW @extschema@.walmon_overview;
DROP FUNCTION @extschema@.walmon_worker_status();

CREATE FUNCTION @extschema@.walmon_worker_status(
	OUT pid integer,
	OUT database name,
	OUT state text,
	OUT started_at timestamptz,
	OUT last_cycle_start timestamptz,
	OUT last_cycle_end timestamptz,
	OUT cycles bigint,
	OUT rows_written bigint,
	OUT last_error text,
	OUT last_error_at timestamptz,
	OUT in_recovery boolean,
	OUT wal_end pg_catalog.pg_lsn,
	OUT errors bigint,
	OUT wal_rate_bytes_per_second double precision,
	OUT wal_rate_15min_bytes_per_second double precision,
	OUT pg_wal_free_bytes bigint,
	OUT seconds_to_disk_full double precision,
	OUT wal_trail_bytes bigint,
	OUT wal_own_bytes bigint,
	OUT wal_bookkeeping_bytes bigint,
	OUT wal_scan_bytes bigint,
	OUT wal_history_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'walmon_worker_status'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;

COMMENT ON FUNCTION @extschema@.walmon_worker_status() IS
'The background worker''s state from shared memory: one row, or none when walmon is not in shared_preload_libraries';

REVOKE ALL ON FUNCTION @extschema@.walmon_worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.walmon_worker_status() TO pg_monitor;

--
-- The rules of wal_monitor as domains: PostgreSQL reads a table's CHECK
-- constraints from their stored text for every statement, and a domain's
-- from its type cache (contract section 2 allows domains; clients see the
-- base type).  The same rules: a status among ACTIVE, IDLE and ERROR, no
-- negative position or lag.  The history trigger depends on status, the
-- overview too (dropped above): both are made again.  (IF EXISTS: an
-- installation whose DBA dropped a CHECK still updates, and a row that
-- breaks a rule stops the update with the domain's error.)
--
CREATE DOMAIN @extschema@.walmon_status_value AS text
	CONSTRAINT walmon_status_check
	CHECK (VALUE OPERATOR(pg_catalog.=) ANY (ARRAY['ACTIVE', 'IDLE', 'ERROR']::pg_catalog.text[]));

COMMENT ON DOMAIN @extschema@.walmon_status_value IS
'A monitor''s status: ACTIVE, IDLE or ERROR';

CREATE DOMAIN @extschema@.walmon_nonnegative_bytes AS bigint
	CONSTRAINT walmon_nonnegative_bytes_check CHECK (VALUE OPERATOR(pg_catalog.>=) 0);

COMMENT ON DOMAIN @extschema@.walmon_nonnegative_bytes IS
'A WAL position or a number of bytes: never negative';

DROP TRIGGER walmon_history_update ON @extschema@.wal_monitor;

ALTER TABLE @extschema@.wal_monitor
	DROP CONSTRAINT IF EXISTS wal_monitor_status_check,
	DROP CONSTRAINT IF EXISTS wal_monitor_wal_position_check,
	DROP CONSTRAINT IF EXISTS wal_monitor_replication_lag_bytes_check,
	ALTER COLUMN status TYPE @extschema@.walmon_status_value,
	ALTER COLUMN wal_position TYPE @extschema@.walmon_nonnegative_bytes,
	ALTER COLUMN replication_lag_bytes TYPE @extschema@.walmon_nonnegative_bytes;

-- the same trigger as 1.0's, on the domain (its WHEN clause named the column
-- whose type changed)
CREATE TRIGGER walmon_history_update
	AFTER UPDATE OF status ON @extschema@.wal_monitor
	FOR EACH ROW
	WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION @extschema@.walmon_history_trigger();

--
-- The overview, for people: the lag as an interval (growing with the clock
-- for a slot that has not moved since the row was written) and the
-- forecast in words, and the server of a remote slot.
--
CREATE VIEW @extschema@.walmon_overview AS
SELECT s.id AS source_id,
	s.name,
	s.server,
	s.slot_name,
	w.status,
	st.since AS status_since,
	CASE WHEN pg_catalog.isfinite(st.since)
		THEN pg_catalog.date_trunc('second', pg_catalog.now() OPERATOR(pg_catalog.-) st.since)
	END AS in_status_for,
	w.replication_lag_bytes AS lag_bytes,
	pg_catalog.pg_size_pretty(w.replication_lag_bytes) AS lag,
	CASE WHEN w.replication_lag_seconds OPERATOR(pg_catalog.>) 0::double precision
			AND pg_catalog.isfinite(w.updated_at)
		THEN pg_catalog.date_trunc('second', pg_catalog.make_interval(secs =>
			w.replication_lag_seconds OPERATOR(pg_catalog.+)
			pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) w.updated_at)))
		WHEN w.replication_lag_seconds IS NOT NULL
		THEN '0'::pg_catalog.interval
	END AS lag_time,
	CASE WHEN pg_catalog.isfinite(w.last_wal_received)
		THEN pg_catalog.round(pg_catalog.date_part('epoch',
			pg_catalog.now() OPERATOR(pg_catalog.-) w.last_wal_received)::pg_catalog.numeric, 3)
	END AS seconds_since_wal,
	w.retained_wal_bytes,
	CASE WHEN w.seconds_to_invalidation IS NULL THEN NULL
		WHEN w.seconds_to_invalidation OPERATOR(pg_catalog.<=) 0::double precision
		THEN 'invalidation imminent'
		ELSE 'invalidated in about ' OPERATOR(pg_catalog.||) CASE
			WHEN w.seconds_to_invalidation OPERATOR(pg_catalog.<) 90::double precision
			THEN pg_catalog.round(w.seconds_to_invalidation)::pg_catalog.text OPERATOR(pg_catalog.||) ' s'
			WHEN w.seconds_to_invalidation OPERATOR(pg_catalog.<) 5400::double precision
			THEN pg_catalog.round(w.seconds_to_invalidation OPERATOR(pg_catalog./) 60::double precision)::pg_catalog.text OPERATOR(pg_catalog.||) ' min'
			WHEN w.seconds_to_invalidation OPERATOR(pg_catalog.<) 129600::double precision
			THEN pg_catalog.round(w.seconds_to_invalidation OPERATOR(pg_catalog./) 3600::double precision)::pg_catalog.text OPERATOR(pg_catalog.||) ' h'
			ELSE pg_catalog.round(w.seconds_to_invalidation OPERATOR(pg_catalog./) 86400::double precision)::pg_catalog.text OPERATOR(pg_catalog.||) ' days'
		END
	END AS forecast,
	CASE WHEN s.slot_name IS NOT NULL AND ws.last_cycle_end IS NOT NULL
		THEN ws.last_cycle_end ELSE w.updated_at END AS last_checked,
	w.error_message
FROM @extschema@.walmon_source AS s
LEFT JOIN @extschema@.wal_monitor AS w ON w.source_id OPERATOR(pg_catalog.=) s.id
LEFT JOIN LATERAL (
	SELECT COALESCE((SELECT h.changed_at FROM @extschema@.wal_monitor_history AS h
					 WHERE h.source_id OPERATOR(pg_catalog.=) s.id
					 ORDER BY h.id DESC LIMIT 1),
					w.created_at) AS since) AS st ON w.source_id IS NOT NULL
LEFT JOIN @extschema@.walmon_worker_status() AS ws ON true;

COMMENT ON VIEW @extschema@.walmon_overview IS
'One row per source, for people: status and for how long, lag in bytes and in time, the forecast, when it was last checked, and the error';

REVOKE ALL ON TABLE @extschema@.walmon_overview FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.walmon_overview TO pg_monitor;

--
-- Remote servers (contract section 9).  Their connection options live in
-- foreign servers of walmon_fdw, their credentials in user mappings for
-- walmon's owner: never in walmon's tables.  walmon_server lists the
-- servers walmon follows; their sources have walmon_source.server set.
--
CREATE FUNCTION @extschema@.walmon_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'walmon_fdw_validator'
LANGUAGE C STRICT;

COMMENT ON FUNCTION @extschema@.walmon_fdw_validator(text[], oid) IS
'Checks the options of walmon_fdw''s servers and user mappings: libpq connection options, user and password in user mappings only, none that reads local files';

CREATE FOREIGN DATA WRAPPER walmon_fdw VALIDATOR @extschema@.walmon_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER walmon_fdw IS
'Holds the connection options of the PostgreSQL servers whose replication slots walmon follows';

CREATE TABLE @extschema@.walmon_server (
	server name NOT NULL CONSTRAINT walmon_server_pkey PRIMARY KEY,
	added_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.walmon_server', '');
REVOKE ALL ON TABLE @extschema@.walmon_server FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.walmon_server TO pg_monitor;

CREATE FUNCTION @extschema@.walmon_add_server(server name)
RETURNS integer
AS 'MODULE_PATHNAME', 'walmon_add_server'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.walmon_add_server(name) IS
'Follow the replication slots of a server of walmon_fdw: polls it now and returns how many sources it registered';

CREATE FUNCTION @extschema@.walmon_drop_server(server name)
RETURNS boolean
AS 'MODULE_PATHNAME', 'walmon_drop_server'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.walmon_drop_server(name) IS
'Follow a server no more: removes its sources and their rows; true when it was followed';

REVOKE ALL ON FUNCTION
	@extschema@.walmon_fdw_validator(text[], oid),
	@extschema@.walmon_add_server(name),
	@extschema@.walmon_drop_server(name)
FROM PUBLIC;

--
-- Every table, column, view, function and the wrapper explain themselves
-- (\d+ wal_monitor, \df+ walmon*).  The settings' descriptions are in
-- pg_settings.
--
COMMENT ON TABLE @extschema@.walmon_source IS
'Sources monitored by walmon: a name, and optionally a replication slot the refresh follows, local or of a remote server';
COMMENT ON COLUMN @extschema@.walmon_source.id IS 'The source''s id: generated, or given by the application';
COMMENT ON COLUMN @extschema@.walmon_source.name IS 'A unique name; <server>/<slot> or <slot> for sources walmon registered';
COMMENT ON COLUMN @extschema@.walmon_source.slot_name IS 'The replication slot the refresh follows into the source''s monitor row (NULL: reported by an application)';
COMMENT ON COLUMN @extschema@.walmon_source.created_at IS 'When the source was registered';
COMMENT ON COLUMN @extschema@.walmon_source.server IS 'The foreign server of walmon_fdw the slot is on (NULL: this server)';
COMMENT ON COLUMN @extschema@.walmon_source.auto_registered IS 'Registered by the refresh for a slot; removed walmon.missing_slot_retention after the slot is gone';

COMMENT ON TABLE @extschema@.wal_monitor IS
'Current WAL replication state, exactly one row per source (walmon_upsert, walmon_set_status, the refresh)';
COMMENT ON COLUMN @extschema@.wal_monitor.id IS 'The row''s id, stable for the life of the row';
COMMENT ON COLUMN @extschema@.wal_monitor.source_id IS 'The source (one row each: unique_source_wal)';
COMMENT ON COLUMN @extschema@.wal_monitor.wal_lsn IS 'How far the consumer has confirmed: confirmed_flush_lsn of a logical slot, restart_lsn of a physical one (at most the effective WAL end)';
COMMENT ON COLUMN @extschema@.wal_monitor.wal_position IS 'wal_lsn as a number';
COMMENT ON COLUMN @extschema@.wal_monitor.last_wal_received IS 'When WAL was last received: when the refresh first saw the slot at its wal_lsn';
COMMENT ON COLUMN @extschema@.wal_monitor.last_transaction_time IS 'The time of the last foreign commit (track_commit_timestamp), for local slots';
COMMENT ON COLUMN @extschema@.wal_monitor.replication_slot_name IS 'The replication slot, as reported';
COMMENT ON COLUMN @extschema@.wal_monitor.replication_lag_bytes IS 'Bytes the consumer is behind: the WAL end minus wal_lsn, never negative';
COMMENT ON COLUMN @extschema@.wal_monitor.status IS 'ACTIVE (a walsender streams from the slot), IDLE, or ERROR (see error_message)';
COMMENT ON COLUMN @extschema@.wal_monitor.error_message IS 'Why the status is ERROR';
COMMENT ON COLUMN @extschema@.wal_monitor.created_at IS 'When the row was created';
COMMENT ON COLUMN @extschema@.wal_monitor.updated_at IS 'When the row was last written; the lag in seconds and the forecast are as of then';
COMMENT ON COLUMN @extschema@.wal_monitor.retained_wal_bytes IS 'The WAL the slot makes the server keep: the WAL end minus restart_lsn';
COMMENT ON COLUMN @extschema@.wal_monitor.wal_status IS 'As pg_replication_slots.wal_status: reserved, extended, unreserved or lost';
COMMENT ON COLUMN @extschema@.wal_monitor.safe_wal_size IS 'WAL that can still be written before the slot is invalidated (max_slot_wal_keep_size); never positive while unreserved or lost';
COMMENT ON COLUMN @extschema@.wal_monitor.inactive_since IS 'When the slot last lost its consumer (NULL while one streams)';
COMMENT ON COLUMN @extschema@.wal_monitor.replication_lag_seconds IS 'How long ago the WAL end passed wal_lsn, as of updated_at; 0 when caught up';
COMMENT ON COLUMN @extschema@.wal_monitor.seconds_to_invalidation IS 'safe_wal_size divided by the WAL rate of the last minute, as of updated_at; NULL without max_slot_wal_keep_size or WAL';
COMMENT ON COLUMN @extschema@.wal_monitor.xmin_age IS 'Age in transactions of the slot''s xmin: how far it holds back VACUUM';
COMMENT ON COLUMN @extschema@.wal_monitor.catalog_xmin_age IS 'Age in transactions of the slot''s catalog_xmin';
COMMENT ON COLUMN @extschema@.wal_monitor.conflicting IS 'As pg_replication_slots.conflicting (PostgreSQL 16 and later)';
COMMENT ON COLUMN @extschema@.wal_monitor.failover IS 'As pg_replication_slots.failover (PostgreSQL 17 and later)';
COMMENT ON COLUMN @extschema@.wal_monitor.synced IS 'As pg_replication_slots.synced (PostgreSQL 17 and later)';
COMMENT ON COLUMN @extschema@.wal_monitor.invalidation_reason IS 'As pg_replication_slots.invalidation_reason (PostgreSQL 17 and later)';

COMMENT ON TABLE @extschema@.wal_monitor_history IS
'Append-only audit trail: one row for every change of wal_monitor.status, including a monitor''s first appearance';
COMMENT ON COLUMN @extschema@.wal_monitor_history.id IS 'In the order of the changes';
COMMENT ON COLUMN @extschema@.wal_monitor_history.source_id IS 'The source (the history outlives it)';
COMMENT ON COLUMN @extschema@.wal_monitor_history.old_status IS 'The status before (NULL for a first row)';
COMMENT ON COLUMN @extschema@.wal_monitor_history.new_status IS 'The status after';
COMMENT ON COLUMN @extschema@.wal_monitor_history.error_message IS 'The error_message with the new status';
COMMENT ON COLUMN @extschema@.wal_monitor_history.wal_lsn IS 'wal_lsn with the new status';
COMMENT ON COLUMN @extschema@.wal_monitor_history.replication_lag_bytes IS 'replication_lag_bytes with the new status';
COMMENT ON COLUMN @extschema@.wal_monitor_history.changed_at IS 'When the change was made (its transaction''s start)';

COMMENT ON TABLE @extschema@.wal_metrics IS
'Time series: a sample of each monitor that changed, every walmon.metrics_interval; kept walmon.metrics_retention';
COMMENT ON COLUMN @extschema@.wal_metrics.id IS 'In the order of the samples';
COMMENT ON COLUMN @extschema@.wal_metrics.source_id IS 'The source';
COMMENT ON COLUMN @extschema@.wal_metrics.sampled_at IS 'When the sample was taken';
COMMENT ON COLUMN @extschema@.wal_metrics.wal_lsn IS 'wal_lsn then';
COMMENT ON COLUMN @extschema@.wal_metrics.replication_lag_bytes IS 'replication_lag_bytes then';
COMMENT ON COLUMN @extschema@.wal_metrics.status IS 'status then';
COMMENT ON COLUMN @extschema@.wal_metrics.spill_bytes IS 'For a logical slot of this server: pg_stat_replication_slots.spill_bytes then (decoded changes spilled to disk since the statistics were reset); else NULL';
COMMENT ON COLUMN @extschema@.wal_metrics.stream_bytes IS 'For a logical slot of this server: pg_stat_replication_slots.stream_bytes then (decoded changes streamed before their commit since the statistics were reset); else NULL';

COMMENT ON TABLE @extschema@.walmon_ignored_slot IS
'Slots whose source was dropped: not registered again until the slot is gone, or bound by hand';
COMMENT ON COLUMN @extschema@.walmon_ignored_slot.server IS 'The foreign server of the slot (NULL: this server)';
COMMENT ON COLUMN @extschema@.walmon_ignored_slot.slot_name IS 'The slot';
COMMENT ON COLUMN @extschema@.walmon_ignored_slot.ignored_at IS 'When its source was dropped';

COMMENT ON TABLE @extschema@.walmon_server IS
'Remote servers walmon follows (walmon_add_server): their slots get sources of their own';
COMMENT ON COLUMN @extschema@.walmon_server.server IS 'A foreign server of walmon_fdw';
COMMENT ON COLUMN @extschema@.walmon_server.added_at IS 'When walmon began to follow it';

COMMENT ON COLUMN @extschema@.walmon_overview.source_id IS 'The source';
COMMENT ON COLUMN @extschema@.walmon_overview.name IS 'Its name';
COMMENT ON COLUMN @extschema@.walmon_overview.server IS 'The remote server of its slot (NULL: this server)';
COMMENT ON COLUMN @extschema@.walmon_overview.slot_name IS 'Its replication slot';
COMMENT ON COLUMN @extschema@.walmon_overview.status IS 'ACTIVE, IDLE or ERROR';
COMMENT ON COLUMN @extschema@.walmon_overview.status_since IS 'When it took that status';
COMMENT ON COLUMN @extschema@.walmon_overview.in_status_for IS 'How long ago that was';
COMMENT ON COLUMN @extschema@.walmon_overview.lag_bytes IS 'Bytes behind';
COMMENT ON COLUMN @extschema@.walmon_overview.lag IS 'Bytes behind, for people';
COMMENT ON COLUMN @extschema@.walmon_overview.lag_time IS 'Time behind, now (for a slot that has not moved, it grows with the clock)';
COMMENT ON COLUMN @extschema@.walmon_overview.seconds_since_wal IS 'Seconds since WAL was last received';
COMMENT ON COLUMN @extschema@.walmon_overview.retained_wal_bytes IS 'WAL the slot makes the server keep';
COMMENT ON COLUMN @extschema@.walmon_overview.forecast IS 'When the slot will be invalidated at the current WAL rate, in words';
COMMENT ON COLUMN @extschema@.walmon_overview.last_checked IS 'The last refresh for a slot-bound source, the last update for others';
COMMENT ON COLUMN @extschema@.walmon_overview.error_message IS 'Why the status is ERROR';
