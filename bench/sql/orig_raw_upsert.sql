\set sid random(1, :sources)
INSERT INTO orig.wal_monitor AS w (source_id, wal_lsn, wal_position, last_wal_received, last_transaction_time, replication_slot_name, replication_lag_bytes, status, error_message)
VALUES (:sid, '0/1A2B3C4D', 439041101, now(), NULL, 'slot_a', 1024, 'ACTIVE', NULL)
ON CONFLICT ON CONSTRAINT unique_source_wal DO UPDATE SET
  wal_lsn = EXCLUDED.wal_lsn, wal_position = EXCLUDED.wal_position, last_wal_received = EXCLUDED.last_wal_received,
  last_transaction_time = EXCLUDED.last_transaction_time, replication_slot_name = EXCLUDED.replication_slot_name,
  replication_lag_bytes = EXCLUDED.replication_lag_bytes, status = EXCLUDED.status, error_message = EXCLUDED.error_message,
  updated_at = now()
RETURNING *;
