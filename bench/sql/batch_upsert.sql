-- walmon_upsert_batch with :batch_size elements, one per source 1..:batch_size
-- in a shuffled order.  Each client builds its JSON array once, in its first
-- transaction, and then sends it as the statement's parameter in every
-- transaction, as an application would (so jsonb parsing is measured).
\if :loaded = 0
SELECT (SELECT jsonb_agg(jsonb_build_object('source_id', g, 'wal_lsn', '0/1A2B3C4D', 'replication_slot_name', 'slot_a', 'replication_lag_bytes', 1024, 'status', 'ACTIVE') ORDER BY random()) FROM generate_series(1, :batch_size) AS g)::text AS batch, 1 AS loaded \gset
\endif
SELECT * FROM walmon_upsert_batch(:batch);
