-- scripts/demo.sql: the tour that scripts/demo runs on its throwaway
-- cluster.  It follows the usage examples of the original design
-- (docs: original-design.md), each REST call now one SQL call.

\pset footer off
\echo
\echo '--- 0. install walmon and register three sources'
CREATE EXTENSION walmon;
SELECT walmon_add_source('orders-db') AS orders,
       walmon_add_source('billing-db') AS billing,
       walmon_add_source('inventory-db') AS inventory;

\echo
\echo '--- 1. first save: walmon_upsert inserts the monitor row of source 1'
SELECT id, source_id, wal_lsn, wal_position, status
FROM walmon_upsert(1, wal_lsn => '0/1A2B3C4D', wal_position => 440401997);
SELECT format('Created monitor ID=%s for source_id=1', id) AS result FROM walmon_status(1);

\echo
\echo '--- 2. second save: the same call updates that same row (same id, no new sequence value)'
SELECT id, source_id, wal_lsn, wal_position, status
FROM walmon_upsert(1, wal_lsn => '0/1A2B3C5E', wal_position => 440402014);
\echo '    third save, wal_position derived from wal_lsn this time:'
SELECT id, source_id, wal_lsn, wal_position, status
FROM walmon_upsert(1, wal_lsn => '0/1A2B3D00', replication_lag_bytes => 2048);
SELECT count(*) AS rows_for_source_1, max(id) AS id,
       (SELECT last_value FROM wal_monitor_id_seq) AS monitor_ids_used
FROM wal_monitor WHERE source_id = 1;

\echo
\echo '--- 3. quick status update: only status, error_message and updated_at change'
SELECT id, source_id, wal_lsn, status, error_message
FROM walmon_set_status(1, 'ERROR', 'Connection timeout');

\echo
\echo '--- 4. query the current state'
SELECT source_id, wal_lsn, replication_lag_bytes, status, error_message, updated_at
FROM walmon_status(1);

\echo
\echo '--- 5. several sources: one row each, also in one call with walmon_upsert_batch'
SELECT source_id, wal_lsn, status
FROM walmon_upsert_batch('[{"source_id": 2, "wal_lsn": "0/3000000", "status": "idle"},
                          {"source_id": 3, "wal_lsn": "0/5000000", "replication_lag_bytes": 0}]');
SELECT id, source_id, wal_lsn, wal_position, replication_lag_bytes, status, error_message
FROM walmon_status();

\echo
\echo '--- 6. delete a monitor row (the source stays registered), then drop a source'
SELECT walmon_delete(2) AS deleted_monitor_of_source_2;
SELECT walmon_drop_source(3) AS dropped_source_3;
SELECT source_id, status FROM walmon_status();
SELECT id, name FROM walmon_source ORDER BY id;

\echo
\echo '--- 7. the background worker follows local replication slots by itself'
SELECT slot_name FROM pg_create_physical_replication_slot('demo_standby', true);
SELECT slot_name FROM pg_create_logical_replication_slot('demo_cdc', 'test_decoding');
\echo '    (waiting 2.5 s: walmon.naptime is 1s in this demo)'
SELECT pg_sleep(2.5) \g /dev/null
SELECT s.name, w.wal_lsn, w.replication_lag_bytes, w.retained_wal_bytes, w.wal_status, w.status
FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
WHERE s.slot_name IS NOT NULL ORDER BY s.name;
\echo '    a dropped slot turns its row to ERROR:'
SELECT pg_drop_replication_slot('demo_standby');
SELECT pg_sleep(2.5) \g /dev/null
SELECT s.name, w.status, w.error_message
FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'demo_standby';
SELECT pid IS NOT NULL AS worker_running, database, cycles > 0 AS cycling, last_error
FROM walmon_worker_status();

\echo
\echo '--- 8. the overview and the audit trail'
SELECT name, slot_name, status, in_status_for, lag, error_message FROM walmon_overview ORDER BY source_id;
SELECT source_id, old_status, new_status, error_message FROM wal_monitor_history ORDER BY id;

\echo
\echo '--- 9. errors keep every table as it was, with the contract''s SQLSTATEs'
\set VERBOSITY verbose
\set ON_ERROR_STOP 0
SELECT walmon_upsert(99);
SELECT walmon_upsert(1, status => 'RUNNING');
\set ON_ERROR_STOP 1
\set VERBOSITY default
