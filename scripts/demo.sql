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
\echo '--- 7. errors keep every table as it was, with the contract''s SQLSTATEs'
\set VERBOSITY verbose
\set ON_ERROR_STOP 0
SELECT walmon_upsert(99);
SELECT walmon_upsert(1, status => 'RUNNING');
\set ON_ERROR_STOP 1
\set VERBOSITY default
