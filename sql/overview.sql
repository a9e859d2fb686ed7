--
-- walmon_overview: one row per source, for people.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('orders-db'), walmon_add_source('billing-db', 'billing_slot'),
       walmon_add_source('never-reported');
SELECT count(*) FROM walmon_upsert_batch('[
  {"source_id": 1, "wal_lsn": "0/10", "replication_lag_bytes": 1536000},
  {"source_id": 2, "status": "error", "error_message": "slot lost", "replication_lag_bytes": 0}
]');
-- a status change: the status is as old as the change, not the row
UPDATE wal_monitor SET status = 'IDLE' WHERE source_id = 1;
UPDATE wal_monitor_history SET changed_at = now() - interval '2 hours' WHERE source_id = 1 AND old_status IS NULL;
UPDATE wal_monitor_history SET changed_at = now() - interval '90 minutes' WHERE source_id = 1 AND new_status = 'IDLE';
UPDATE wal_monitor SET last_wal_received = now() - interval '2.5 seconds' WHERE source_id = 1;

SELECT source_id, name, slot_name, status, in_status_for, lag_bytes, lag,
       seconds_since_wal BETWEEN 2.5 AND 60 AS wal_2_5s_ago, last_checked IS NOT NULL AS checked, error_message
FROM walmon_overview ORDER BY source_id;

-- a source bound to a slot is "checked" by the worker's cycles, when there
-- is a worker running in this database; otherwise by its last update
SELECT source_id, last_checked = (SELECT updated_at FROM wal_monitor w WHERE w.source_id = o.source_id) AS last_update
FROM walmon_overview o WHERE source_id IN (1, 2) ORDER BY 1;

-- pg_monitor reads it, PUBLIC does not
CREATE ROLE regress_walmon_ov_reader IN ROLE pg_monitor;
CREATE ROLE regress_walmon_ov_nobody;
SET ROLE regress_walmon_ov_reader;
SELECT count(*) FROM walmon_overview;
SET ROLE regress_walmon_ov_nobody;
SELECT state, message FROM regress.try('SELECT count(*) FROM walmon_overview');
RESET ROLE;
DROP ROLE regress_walmon_ov_reader, regress_walmon_ov_nobody;
DROP EXTENSION walmon;
