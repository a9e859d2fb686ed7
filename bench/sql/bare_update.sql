-- The UPDATE walmon_upsert runs for a source that already has its row and
-- keeps its status (store.c, Q_UPSERT_KEEP: every column but status, while
-- the row's status is the one given), on limits.wal_monitor: walmon's table
-- without its CHECK constraints, foreign key and triggers
-- (limits_schema.sql).  The values are the ones walmon writes for the call
-- in walmon_upsert.sql: wal_position derived from wal_lsn,
-- last_wal_received now().
\set sid random(1, :sources)
UPDATE limits.wal_monitor AS w SET
  wal_lsn = '0/1A2B3C4D', wal_position = 439041101, last_wal_received = now(),
  last_transaction_time = NULL, replication_slot_name = 'slot_a',
  replication_lag_bytes = 1024, error_message = NULL,
  updated_at = now()
WHERE w.source_id = :sid AND w.status = 'ACTIVE'
RETURNING *;
