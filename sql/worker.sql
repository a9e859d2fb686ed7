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

-- a logical slot's samples keep its decoding statistics as
-- pg_stat_replication_slots shows them; every other source's are NULL
SELECT slot_name FROM pg_create_logical_replication_slot('regress_worker_logical', 'test_decoding');
SELECT walmon_refresh() > 0 AS registered;
CREATE TABLE regress_worker_big (i int, t text);
INSERT INTO regress_worker_big SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;
SET logical_decoding_work_mem = '64kB';
SELECT count(*) > 5000 AS decoded
FROM pg_logical_slot_get_changes('regress_worker_logical', NULL, NULL);
RESET logical_decoding_work_mem;
-- (14's statistics collector shows them a moment later)
CREATE FUNCTION regress.wait_slot_statistics(what text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	FOR i IN 1..300 LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT CASE what WHEN 'spill' THEN spill_bytes ELSE stream_bytes END INTO n
		FROM pg_stat_replication_slots WHERE slot_name = 'regress_worker_logical';
		EXIT WHEN n > 0;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN n > 0;
END $$;
SELECT regress.wait_slot_statistics('spill') AS spilled;
-- (a session's first walmon_refresh() runs the sampler, which samples every
-- change; other cycles sample first rows and status changes only, and leave
-- a change of the LSN or the lag to the sampler's next walmon.metrics_interval)
\c -
SELECT walmon_refresh() > 0 AS sampled;
SELECT m.spill_bytes > 0 AS spilled, m.spill_bytes = r.spill_bytes AS spill_as_the_view,
       m.stream_bytes = r.stream_bytes AS stream_as_the_view
FROM walmon_source s
JOIN LATERAL (SELECT * FROM wal_metrics m WHERE m.source_id = s.id ORDER BY m.id DESC LIMIT 1) m ON true
JOIN pg_stat_replication_slots r ON r.slot_name = s.slot_name
WHERE s.slot_name = 'regress_worker_logical';
-- a transaction streamed before its commit: the sample's stream_bytes
INSERT INTO regress_worker_big SELECT g, repeat('y', 100) FROM generate_series(1, 5000) g;
SET logical_decoding_work_mem = '64kB';
SELECT count(*) > 5000 AS decoded_streaming
FROM pg_logical_slot_get_changes('regress_worker_logical', NULL, NULL, 'stream-changes', '1');
RESET logical_decoding_work_mem;
SELECT regress.wait_slot_statistics('stream') AS streamed;
\c -
SELECT walmon_refresh() > 0 AS sampled;
SELECT m.stream_bytes > 0 AS streamed, m.stream_bytes = r.stream_bytes AS stream_as_the_view,
       m.spill_bytes = r.spill_bytes AS spill_as_the_view
FROM walmon_source s
JOIN LATERAL (SELECT * FROM wal_metrics m WHERE m.source_id = s.id ORDER BY m.id DESC LIMIT 1) m ON true
JOIN pg_stat_replication_slots r ON r.slot_name = s.slot_name
WHERE s.slot_name = 'regress_worker_logical';
-- another server's slot of the same name is not this server's slot: its
-- samples (its server cannot be reached: the row is ERROR) have none
CREATE SERVER regress_worker_remote FOREIGN DATA WRAPPER walmon_fdw
	OPTIONS (host '/nonexistent/regress_worker', port '1');
SELECT walmon_add_source('regress_worker_twin', 'regress_worker_logical', NULL,
                         'regress_worker_remote') > 0 AS twin_added;
SELECT walmon_refresh() > 0 AS sampled;
SELECT w.status, count(m.id) > 0 AS sampled,
       bool_and(m.spill_bytes IS NULL AND m.stream_bytes IS NULL) AS without_statistics
FROM walmon_source s
JOIN wal_monitor w ON w.source_id = s.id
LEFT JOIN wal_metrics m ON m.source_id = s.id
WHERE s.name = 'regress_worker_twin'
GROUP BY w.status;
-- and a physical slot's samples have none either
SELECT count(*) > 0 AS physical_sampled,
       bool_and(m.spill_bytes IS NULL AND m.stream_bytes IS NULL) AS without_statistics
FROM wal_metrics m JOIN walmon_source s ON s.id = m.source_id
JOIN pg_replication_slots p ON p.slot_name = s.slot_name AND p.slot_type = 'physical'
WHERE s.server IS NULL;
SELECT count(*) AS other_samples_with_statistics
FROM wal_metrics m JOIN walmon_source s ON s.id = m.source_id
WHERE (s.slot_name IS DISTINCT FROM 'regress_worker_logical' OR s.server IS NOT NULL)
  AND (m.spill_bytes IS NOT NULL OR m.stream_bytes IS NOT NULL);
-- trouble with wal_metrics (a DBA's trigger that fails) costs the samples,
-- never the monitor rows: the cycle writes them, warns, and takes no sample
CREATE FUNCTION regress.refuse_samples() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'no samples today';
END $$;
CREATE TRIGGER regress_refuse BEFORE INSERT ON wal_metrics
	FOR EACH ROW EXECUTE FUNCTION regress.refuse_samples();
SELECT count(*) AS samples_before FROM wal_metrics \gset
SELECT pg_logical_emit_message(false, 'regress', 'x') IS NOT NULL AS wal_written;
\c -
SELECT walmon_refresh() > 0 AS rows_written;
SELECT count(*) = :samples_before AS no_sample FROM wal_metrics;
DROP TRIGGER regress_refuse ON wal_metrics;
DROP FUNCTION regress.refuse_samples();
-- and once it is gone, the next change is sampled again
SELECT pg_logical_emit_message(false, 'regress', 'x') IS NOT NULL AS wal_written;
\c -
SELECT walmon_refresh() > 0 AS rows_written;
SELECT count(*) > :samples_before AS sampled FROM wal_metrics;
SELECT walmon_drop_source(id) FROM walmon_source WHERE name = 'regress_worker_twin';
DROP SERVER regress_worker_remote;
DROP FUNCTION regress.wait_slot_statistics(text);
DROP TABLE regress_worker_big;

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
