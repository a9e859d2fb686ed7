--
-- The refresh cycle and the worker's settings and status (contract sections
-- 4 and 6): the deterministic parts.  The server preloads walmon
-- (test/walmon.conf) and its worker runs in the postgres database, where
-- walmon is never installed, so it never touches this database.
--
CREATE EXTENSION walmon;

-- the settings, with their units and ranges
SELECT name, setting, unit, context, vartype, min_val, max_val, boot_val
FROM pg_settings WHERE name LIKE 'walmon.%' ORDER BY name;
SHOW walmon.naptime;
SHOW walmon.metrics_retention;

-- (the reserved prefix: guc_prefix.sql)
-- reload-only settings cannot be set in a session
SELECT * FROM regress.try($$SET walmon.naptime = '1s'$$);

-- the worker's status: one row, since walmon is preloaded
SELECT pg_get_function_arguments('walmon_worker_status()'::regprocedure);
SELECT count(*), min(database), bool_or(in_recovery) FROM walmon_worker_status();

--
-- walmon_refresh(): slots without reserved WAL give rows that do not depend
-- on the WAL position, so that the results below are stable
--
SELECT walmon_refresh() AS no_slots;
SELECT count(*) AS sources FROM walmon_source;

SELECT slot_name FROM pg_create_physical_replication_slot('regress_worker_slot');
SELECT slot_name FROM pg_create_physical_replication_slot('regress_worker_temp', false, true);
-- a source already named like a slot, bound to nothing: never taken over
SELECT walmon_add_source('regress_worker_taken') AS taken_id;
SELECT slot_name FROM pg_create_physical_replication_slot('regress_worker_taken');

SELECT walmon_refresh() AS first_refresh;
SELECT s.name, s.slot_name, w.replication_slot_name, w.status, w.error_message,
       w.wal_lsn, w.replication_lag_bytes, w.retained_wal_bytes, w.wal_status,
       w.inactive_since IS NOT NULL AS inactive
FROM walmon_source s LEFT JOIN wal_monitor w ON w.source_id = s.id
ORDER BY s.name;
SELECT source_id, old_status, new_status FROM wal_monitor_history ORDER BY id;

-- nothing changed: nothing written, not even updated_at
SELECT updated_at AS before FROM wal_monitor \gset
SELECT walmon_refresh() AS second_refresh;
SELECT updated_at = :'before' AS untouched FROM wal_monitor;

-- a source bound to a slot explicitly, and a slot that goes away
SELECT walmon_add_source('explicit', 'regress_worker_later') AS explicit_id;
SELECT pg_drop_replication_slot('regress_worker_slot');
SELECT walmon_refresh() AS after_drop;
SELECT s.name, w.status, w.error_message
FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id
ORDER BY s.name;
SELECT walmon_refresh() AS settled;

-- the slot comes back: the row recovers
SELECT slot_name FROM pg_create_physical_replication_slot('regress_worker_slot');
SELECT slot_name FROM pg_create_physical_replication_slot('regress_worker_later');
SELECT walmon_refresh() AS recovered;
SELECT s.name, w.status, w.error_message
FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id
ORDER BY s.name;

-- slots PostgreSQL manages itself (logical replication's initial-copy
-- slots) are never registered; look-alikes that break the pattern are
SELECT slot_name FROM pg_create_physical_replication_slot('pg_16384_sync_16390_7311234567890123456');
SELECT slot_name FROM pg_create_physical_replication_slot('pg_16384_sync_16390_');
SELECT slot_name FROM pg_create_physical_replication_slot('pg_16384_sync_x_1');
SELECT walmon_refresh() AS registered_lookalikes;
SELECT name FROM walmon_source WHERE name LIKE 'pg\_%' ORDER BY name;
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name LIKE 'pg\_16384%' ORDER BY slot_name;

--
-- privileges: PUBLIC gets nothing, pg_monitor reads the status
--
CREATE ROLE regress_worker_nobody;
CREATE ROLE regress_worker_reader IN ROLE pg_monitor;
SELECT r.rolname, p.oid::regprocedure AS function,
       has_function_privilege(r.oid, p.oid, 'EXECUTE') AS execute
FROM pg_proc p, pg_roles r
WHERE p.proname IN ('walmon_refresh', 'walmon_worker_status')
  AND r.rolname IN ('regress_worker_nobody', 'regress_worker_reader')
ORDER BY r.rolname, p.proname;
SET ROLE regress_worker_nobody;
SELECT * FROM regress.try('SELECT walmon_refresh()');
SELECT * FROM regress.try('SELECT * FROM walmon_worker_status()');
SET ROLE regress_worker_reader;
SELECT count(*) FROM walmon_worker_status();
RESET ROLE;

SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name LIKE 'regress_worker%' ORDER BY slot_name;
DROP ROLE regress_worker_nobody;
DROP ROLE regress_worker_reader;
DROP EXTENSION walmon;
