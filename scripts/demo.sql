-- scripts/demo.sql: the tour that scripts/demo runs on its throwaway
-- cluster (fed to psql on standard input).  It follows the usage examples
-- of the original design (../shared/docs/original-design.md), each REST
-- call now one SQL call, then shows what the background worker does by
-- itself.  By hand: psql -X -v ON_ERROR_STOP=1 -d postgres < scripts/demo.sql
-- on a server with walmon preloaded and no walmon installed yet.
--
-- The numbers: wal_position is the numeric value of wal_lsn, so every
-- pair here is derived, not copied.  The original design's examples are
-- inconsistent: they pair 0/1A2B3C4D with 440401997 (which is 0/1A40004D)
-- and 0/1A2B3C5E with 440402014, so that a later position derived from its
-- LSN would seem to go backwards.  walmon's tour uses
--     0/1A2B3C4D = 0x1A2B3C4D = 439041101
--     0/1A2B3C5E = 0x1A2B3C5E = 439041118
--     0/1A2B3D00 = 0x1A2B3D00 = 439041280
-- and its "lsn_ok" columns check wal_lsn - '0/0' = wal_position.
--
-- Only walmon's public API: its functions, walmon_overview and
-- wal_monitor_history.  Every result fits 80 columns.

\set ON_ERROR_STOP 1
\pset pager off
\pset footer off
\echo
\echo '--- 0. install walmon and register three sources'
CREATE EXTENSION walmon;
SELECT walmon_add_source('orders-db') AS orders,
       walmon_add_source('billing-db') AS billing,
       walmon_add_source('inventory-db') AS inventory;

\echo
\echo '--- 1. first save: walmon_upsert inserts the monitor row of source 1'
SELECT id, source_id, wal_lsn, wal_position,
       wal_lsn - '0/0' = wal_position AS lsn_ok, status
FROM walmon_upsert(1, wal_lsn => '0/1A2B3C4D', wal_position => 439041101);
SELECT format('Created monitor ID=%s for source_id=%s', id, source_id) AS result
FROM walmon_status(1);

\echo
\echo '--- 2. second save: the same call updates that same row (same id)'
SELECT id, source_id, wal_lsn, wal_position,
       wal_lsn - '0/0' = wal_position AS lsn_ok, status
FROM walmon_upsert(1, wal_lsn => '0/1A2B3C5E', wal_position => 439041118);
\echo '    third save, wal_position derived from wal_lsn this time:'
SELECT id, source_id, wal_lsn, wal_position,
       wal_lsn - '0/0' = wal_position AS lsn_ok, replication_lag_bytes AS lag
FROM walmon_upsert(1, wal_lsn => '0/1A2B3D00', replication_lag_bytes => 2048);

\echo
\echo '--- 3. quick status update: only status, error_message and updated_at change'
SELECT id, source_id, wal_lsn, status, error_message
FROM walmon_set_status(1, 'ERROR', 'Connection timeout');

\echo
\echo '--- 4. query the current state'
\x on
SELECT source_id, wal_lsn, wal_position, replication_lag_bytes, status,
       error_message, updated_at
FROM walmon_status(1);
\x off

-- scripts/demo's cleanup test: WALMON_DEMO_FAIL=1 bash scripts/demo
\if :{?demo_fail}
\echo '    (WALMON_DEMO_FAIL is set: failing here on purpose)'
SELECT walmon_upsert(1, status => 'WALMON_DEMO_FAIL');
\endif

\echo
\echo '--- 5. several sources: one row each, also in one call with walmon_upsert_batch'
SELECT id, source_id, wal_lsn, status
FROM walmon_upsert_batch('[{"source_id": 2, "wal_lsn": "0/3000000", "status": "idle"},
                          {"source_id": 3, "wal_lsn": "0/5000000", "replication_lag_bytes": 0}]');
\echo '    (ids 2 and 3: the three saves of source 1 used a single monitor id)'
SELECT id, source_id AS src, wal_lsn, wal_position,
       replication_lag_bytes AS lag, status, error_message
FROM walmon_status();

\echo
\echo '--- 6. delete a monitor row (the source stays registered), then drop a source'
SELECT walmon_delete(2) AS deleted_monitor_of_source_2;
SELECT walmon_drop_source(3) AS dropped_source_3;
SELECT source_id, name, status FROM walmon_overview ORDER BY source_id;

\echo
\echo '--- 7. the background worker follows local replication slots by itself'
\echo '    (walmon.naptime is 1s in this demo; walmon.auto_register is on, so'
\echo '    the worker registers a source, named after the slot, for each slot'
\echo '    that no source follows)'
SELECT slot_name FROM pg_create_physical_replication_slot('demo_standby', true);
SELECT slot_name FROM pg_create_logical_replication_slot('demo_cdc', 'test_decoding');
-- wait (at most 60 s) until the worker has a row for both slots
DO $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN (SELECT count(status) FROM walmon_overview
                   WHERE slot_name IN ('demo_standby', 'demo_cdc')) = 2;
        IF i = 600 THEN
            RAISE 'the worker did not pick up the slots within 60 s';
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
\pset tuples_only on
\pset format unaligned
SELECT format('    the worker registered source %s for slot %s by itself: %s',
              source_id, slot_name, status)
FROM walmon_overview WHERE slot_name IS NOT NULL ORDER BY source_id;
\pset format aligned
\pset tuples_only off
\echo '    (ids go on from 4: the id of dropped source 3 is never used again;'
\echo '    IDLE: no consumer is connected to either slot; lag: WAL written'
\echo '    since the slot''s position; retained: WAL the slot makes the server keep)'
SELECT o.name, w.wal_lsn, w.replication_lag_bytes AS lag,
       w.retained_wal_bytes AS retained, w.wal_status, w.status
FROM walmon_status() AS w JOIN walmon_overview AS o USING (source_id)
WHERE o.slot_name IS NOT NULL ORDER BY source_id;

\echo '    a dropped slot turns its row to ERROR:'
SELECT 'demo_standby' AS dropped FROM pg_drop_replication_slot('demo_standby');
DO $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN EXISTS (SELECT FROM walmon_overview
                          WHERE slot_name = 'demo_standby' AND status = 'ERROR');
        IF i = 600 THEN
            RAISE 'the worker did not notice the dropped slot within 60 s';
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
\pset tuples_only on
\pset format unaligned
SELECT format(E'    the worker turned source %s (slot %s) to ERROR by itself:\n'
              '        %s', h.source_id, o.slot_name, h.error_message)
FROM wal_monitor_history AS h JOIN walmon_overview AS o USING (source_id)
WHERE o.slot_name IS NOT NULL AND h.new_status = 'ERROR' ORDER BY h.id;
\pset format aligned
\pset tuples_only off
SELECT pid IS NOT NULL AS worker_running, database, cycles > 0 AS cycling,
       last_error
FROM walmon_worker_status();

\echo
\echo '--- 8. the overview and the audit trail'
SELECT source_id AS id, name, slot_name, status, in_status_for, lag
FROM walmon_overview ORDER BY source_id;
\echo '    (billing-db has had no monitor row since step 6)'
\echo '    every change of status (a first row is a change from NULL), and who'
\echo '    made it; the history of dropped source 3 outlives it:'
SELECT h.source_id AS src,
       CASE WHEN o.slot_name IS NOT NULL THEN 'worker' ELSE 'tour' END AS by,
       coalesce(h.old_status, 'NULL') || '->' || h.new_status AS change,
       h.error_message
FROM wal_monitor_history AS h LEFT JOIN walmon_overview AS o USING (source_id)
ORDER BY h.id;

\echo
\echo '--- 9. errors keep every table as it was, with the contract''s SQLSTATEs'
\set ON_ERROR_STOP 0
SELECT walmon_upsert(99);
\echo '    SQLSTATE' :LAST_ERROR_SQLSTATE
SELECT walmon_upsert(1, status => 'RUNNING');
\echo '    SQLSTATE' :LAST_ERROR_SQLSTATE
\set ON_ERROR_STOP 1
\echo '    source 1 is as it was:'
SELECT source_id, wal_lsn, status, error_message FROM walmon_status(1);
