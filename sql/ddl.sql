--
-- A superuser's DDL mistake on walmon's tables costs a clear error, never a
-- crash: walmon checks the shape of its tables (the columns it uses and
-- their types, the constraint behind one row per source) whenever it binds
-- to them, and reads every column that could have been made nullable as if
-- it were.  Each mistake is made in a transaction that is rolled back.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a'), walmon_add_source('b', 'regress_ddl_slot');
SELECT status FROM walmon_upsert(1, '0/10');
SELECT status FROM walmon_upsert(2, '0/20');
CREATE TEMP TABLE server AS SELECT pg_postmaster_start_time() AS started;

-- every walmon call, each reported with its SQLSTATE and message
CREATE FUNCTION pg_temp.calls()
RETURNS TABLE (call text, state text, message text, detail text)
LANGUAGE sql AS $$
	SELECT c.call, t.state, t.message, t.detail
	FROM (VALUES
		(1, $c$SELECT walmon_upsert(1, '0/11')$c$),
		(2, $c$SELECT walmon_upsert_batch('[{"source_id": 1}, {"source_id": 2}]')$c$),
		(3, $c$SELECT walmon_set_status(1, 'IDLE')$c$),
		(4, $c$SELECT walmon_status()$c$),
		(5, $c$SELECT walmon_refresh()$c$),
		(6, $c$SELECT walmon_prometheus()$c$),
		(7, $c$SELECT count(*) FROM walmon_overview$c$),
		(8, $c$SELECT walmon_add_source('c')$c$)) AS c(n, call),
	LATERAL regress.try(c.call) AS t
	ORDER BY c.n
$$;

-- nothing broken: everything works
BEGIN;
SELECT * FROM pg_temp.calls();
ROLLBACK;

-- a column of the wrong type
BEGIN;
ALTER TABLE wal_monitor ALTER COLUMN wal_lsn TYPE text;
SELECT * FROM pg_temp.calls();
ROLLBACK;

-- (the overview and the history trigger depend on some columns: out of the
-- way first)
BEGIN;
ALTER EXTENSION walmon DROP VIEW walmon_overview;
DROP VIEW walmon_overview;
ALTER TABLE wal_monitor ALTER COLUMN replication_lag_bytes TYPE integer;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%refresh%';
ROLLBACK;

BEGIN;
ALTER EXTENSION walmon DROP VIEW walmon_overview;
DROP VIEW walmon_overview;
ALTER TABLE walmon_source ALTER COLUMN slot_name TYPE text;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%refresh%';
ROLLBACK;

BEGIN;
ALTER EXTENSION walmon DROP VIEW walmon_overview;
DROP VIEW walmon_overview;
DROP TRIGGER walmon_history_update ON wal_monitor;
ALTER TABLE wal_monitor ALTER COLUMN status TYPE varchar(20);
SELECT * FROM pg_temp.calls() WHERE call LIKE '%upsert(1%';
ROLLBACK;

-- a domain over the expected type is fine (the contract allows one)
BEGIN;
CREATE DOMAIN regress_status AS text CHECK (VALUE IN ('ACTIVE', 'IDLE', 'ERROR'));
ALTER EXTENSION walmon DROP VIEW walmon_overview;
DROP VIEW walmon_overview;
DROP TRIGGER walmon_history_update ON wal_monitor;
ALTER TABLE wal_monitor ALTER COLUMN status TYPE regress_status;
SELECT * FROM pg_temp.calls() WHERE state <> '00000' AND call NOT LIKE '%overview%';
ROLLBACK;

-- a column dropped, a table renamed, a table taken out of the extension
BEGIN;
ALTER TABLE wal_monitor DROP COLUMN inactive_since;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%upsert(1%';
ROLLBACK;

BEGIN;
ALTER TABLE wal_monitor RENAME TO wal_monitor_renamed;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%upsert(1%';
ROLLBACK;

BEGIN;
ALTER EXTENSION walmon DROP TABLE wal_metrics;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%upsert(1%';
ROLLBACK;

-- the constraint behind one row per source: dropped (and a duplicate row
-- slipped in), or made into something else
BEGIN;
ALTER TABLE wal_monitor DROP CONSTRAINT unique_source_wal;
ALTER TABLE wal_monitor DISABLE TRIGGER USER;
INSERT INTO wal_monitor (source_id, status) VALUES (1, 'IDLE');
ALTER TABLE wal_monitor ENABLE TRIGGER USER;
SELECT * FROM pg_temp.calls() WHERE call LIKE '%batch%' OR call LIKE '%refresh%';
ROLLBACK;

BEGIN;
ALTER TABLE wal_monitor DROP CONSTRAINT unique_source_wal;
ALTER TABLE wal_monitor ADD CONSTRAINT unique_source_wal UNIQUE (source_id, id);
SELECT * FROM pg_temp.calls() WHERE call LIKE '%batch%';
ROLLBACK;

-- status made nullable and set to NULL: the history trigger refuses to
-- record a null status; readers show the row as having none
BEGIN;
ALTER TABLE wal_monitor ALTER COLUMN status DROP NOT NULL;
SELECT * FROM regress.try($$UPDATE wal_monitor SET status = NULL WHERE source_id = 1$$);
ALTER TABLE wal_monitor DISABLE TRIGGER walmon_history_update;
UPDATE wal_monitor SET status = NULL WHERE source_id = 1;
ALTER TABLE wal_monitor ENABLE TRIGGER walmon_history_update;
SELECT line FROM regexp_split_to_table(walmon_prometheus(), E'\n') AS line
WHERE line LIKE 'walmon_status{source_id="1"%';
SELECT source_id, status FROM walmon_overview ORDER BY source_id;
SELECT source_id, status FROM walmon_status() ORDER BY source_id;
-- an upsert gives it a status again, and its history says from what
SELECT status FROM walmon_upsert(1, '0/12');
SELECT old_status, new_status FROM wal_monitor_history WHERE source_id = 1 ORDER BY id DESC LIMIT 1;
ROLLBACK;

-- after every rollback, everything works again, in this session
SELECT * FROM pg_temp.calls() WHERE state <> '00000';

-- and the server never restarted
SELECT pg_postmaster_start_time() = started AS same_server FROM server;

DROP EXTENSION walmon;
