--
-- wal_monitor_history: one row for every change of status, through every
-- path, and nothing else (contract sections 2 and 5).
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a'), walmon_add_source('b'), walmon_add_source('c');

-- a monitor's first appearance, through walmon_upsert
SELECT status FROM walmon_upsert(1, '0/10');
-- same status again: nothing recorded
SELECT status FROM walmon_upsert(1, '0/20', replication_lag_bytes => 5);
-- a change through walmon_upsert, in another letter case
SELECT status FROM walmon_upsert(1, '0/30', status => 'idle');
-- walmon_set_status, then the same status again
SELECT status FROM walmon_set_status(1, 'ERROR', 'slot lost');
SELECT status FROM walmon_set_status(1, 'ERROR', 'slot still lost');
-- a plain UPDATE of the status, then one of another column
UPDATE wal_monitor SET status = 'ACTIVE', error_message = NULL WHERE source_id = 1;
UPDATE wal_monitor SET replication_lag_bytes = 7 WHERE source_id = 1;
-- a batch: a first appearance and a change
SELECT source_id, status FROM walmon_upsert_batch('[{"source_id": 2, "status": "IDLE"}, {"source_id": 1, "status": "ERROR", "error_message": "lagging"}]');
-- a change that rolls back leaves nothing
BEGIN;
SELECT status FROM walmon_set_status(2, 'ERROR');
ROLLBACK;
-- a plain INSERT is a first appearance too
INSERT INTO wal_monitor (source_id, status, wal_lsn) VALUES (3, 'IDLE', '0/3');

SELECT id, source_id, old_status, new_status, error_message, wal_lsn,
       replication_lag_bytes, changed_at <= now() AS changed_before_now
FROM wal_monitor_history ORDER BY id;

-- deleting a monitor and creating it again is a new first appearance;
-- dropping a source keeps its history
SELECT walmon_delete(2);
SELECT status FROM walmon_upsert(2);
SELECT walmon_drop_source(2);
SELECT id, source_id, old_status, new_status FROM wal_monitor_history WHERE source_id = 2 ORDER BY id;

-- a row that existed before this transaction (as pg_restore loads it, with
-- its original created_at) is not a change: no history row
DELETE FROM wal_monitor WHERE source_id = 3;
INSERT INTO wal_monitor (id, source_id, status, created_at, updated_at)
VALUES (100, 3, 'ERROR', '2026-01-01 00:00:00+00', '2026-01-02 00:00:00+00');
SELECT count(*) AS history_rows_for_restored_row FROM wal_monitor_history
WHERE source_id = 3 AND new_status = 'ERROR';

-- upserts that keep the status add no history and stay HOT updates (the
-- backend's pending counters may also hold earlier transactions' updates,
-- all of which were HOT too)
CREATE TEMP TABLE n AS SELECT count(*) AS history_rows FROM wal_monitor_history;
BEGIN;
SELECT count(*) FROM (SELECT walmon_upsert(1, '0/40', status => 'error', error_message => 'lagging') FROM generate_series(1, 20)) s;
SELECT n_tup_upd >= 20 AS counted, n_tup_upd = n_tup_hot_upd AS all_hot
FROM pg_stat_xact_user_tables WHERE relname = 'wal_monitor';
COMMIT;
SELECT count(*) - (SELECT history_rows FROM n) AS new_history_rows FROM wal_monitor_history;

-- an upsert that keeps the status still writes every other column (its
-- statement does not assign status: store.c, Q_UPSERT_KEEP) and records
-- nothing; one whose row a plain UPDATE has changed sets its status back,
-- and that is recorded
SELECT count(*) AS history_rows INTO TEMP m FROM wal_monitor_history;
SELECT wal_lsn, wal_position, last_wal_received, last_transaction_time,
       replication_slot_name, replication_lag_bytes, status, error_message,
       updated_at = now() AS updated_now
FROM walmon_upsert(1, '0/50', 77, '2026-02-01 00:00:00+00', '2026-02-02 00:00:00+00',
                   'slot_x', 9, 'ERROR', 'lagging more');
UPDATE wal_monitor SET status = 'IDLE' WHERE source_id = 1;
SELECT wal_lsn, status, error_message FROM walmon_upsert(1, '0/60', status => 'ERROR', error_message => 'lagging again');
-- the plain UPDATE's row and the second upsert's, none of the first's
SELECT old_status, new_status, error_message, wal_lsn FROM wal_monitor_history
ORDER BY id OFFSET (SELECT history_rows FROM m);

-- a DBA's BEFORE UPDATE trigger that changes the status: walmon_upsert then
-- assigns status on every call, so the change is recorded (a statement that
-- does not assign status would not fire the UPDATE OF status trigger); and
-- without it, the keeping statement again
CREATE FUNCTION pg_temp.lag_is_error() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.replication_lag_bytes > 1000 THEN NEW.status := 'ERROR'; END IF;
	RETURN NEW;
END $$;
SELECT status FROM walmon_upsert(1, '0/70', status => 'ACTIVE', replication_lag_bytes => 0);
CREATE TRIGGER lag_is_error BEFORE UPDATE ON wal_monitor
	FOR EACH ROW EXECUTE FUNCTION pg_temp.lag_is_error();
SELECT status FROM walmon_upsert(1, '0/71', status => 'ACTIVE', replication_lag_bytes => 5000);
DROP TRIGGER lag_is_error ON wal_monitor;
SELECT status FROM walmon_upsert(1, '0/72', status => 'ERROR', replication_lag_bytes => 5000);
SELECT old_status, new_status, wal_lsn FROM wal_monitor_history
ORDER BY id DESC LIMIT 2;

-- the update trigger is considered only when status is assigned, and then
-- queues an event only for a change
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
WHERE tgrelid = 'wal_monitor'::regclass AND NOT tgisinternal ORDER BY tgname;

-- the trigger function refuses to be used for anything else
CREATE TABLE misuse (status text);
CREATE TRIGGER misuse BEFORE INSERT ON misuse FOR EACH ROW EXECUTE FUNCTION walmon_history_trigger();
SELECT state, message FROM regress.try($$INSERT INTO misuse VALUES ('x')$$);
DROP TABLE misuse;

DROP EXTENSION walmon;
