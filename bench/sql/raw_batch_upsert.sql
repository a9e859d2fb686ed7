-- The set-based statement a skilled user would write instead of
-- walmon_upsert_batch: one INSERT ... SELECT FROM unnest(arrays) ... ON
-- CONFLICT DO UPDATE on walmon's own wal_monitor, :batch_size rows, the
-- values walmon writes for batch_upsert.sql's elements (wal_position derived
-- from wal_lsn, last_wal_received now()), rows written in source_id order
-- (as walmon does, so that concurrent batches cannot deadlock).  Each client
-- builds its arrays once, in its first transaction, shuffled like the JSON
-- of batch_upsert.sql, and then sends them as the statement's parameters.
\if :loaded = 0
SELECT array_agg(g ORDER BY r)::text AS ids,
       array_fill('0/1A2B3C4D'::pg_lsn, ARRAY[(:batch_size)::integer])::text AS lsns,
       array_fill('slot_a'::text, ARRAY[(:batch_size)::integer])::text AS slots,
       array_fill(1024::bigint, ARRAY[(:batch_size)::integer])::text AS lags,
       array_fill('ACTIVE'::text, ARRAY[(:batch_size)::integer])::text AS statuses,
       1 AS loaded
FROM (SELECT g, random() AS r FROM generate_series(1, :batch_size) AS g) AS s \gset
\endif
INSERT INTO wal_monitor AS w (source_id, wal_lsn, wal_position, last_wal_received, last_transaction_time, replication_slot_name, replication_lag_bytes, status, error_message)
SELECT u.source_id, u.wal_lsn, u.wal_lsn - '0/0'::pg_lsn, now(), NULL, u.slot, u.lag, u.status, NULL
FROM unnest(:ids::integer[], :lsns::pg_lsn[], :slots::text[], :lags::bigint[], :statuses::text[]) AS u(source_id, wal_lsn, slot, lag, status)
ORDER BY u.source_id
ON CONFLICT ON CONSTRAINT unique_source_wal DO UPDATE SET
  wal_lsn = EXCLUDED.wal_lsn, wal_position = EXCLUDED.wal_position, last_wal_received = EXCLUDED.last_wal_received,
  last_transaction_time = EXCLUDED.last_transaction_time, replication_slot_name = EXCLUDED.replication_slot_name,
  replication_lag_bytes = EXCLUDED.replication_lag_bytes, status = EXCLUDED.status, error_message = EXCLUDED.error_message,
  updated_at = now()
RETURNING *;
