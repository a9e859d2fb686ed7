\set a random(1, 40)
\set b random(1, 40)
\set c random(1, 40)
\set lsn random(1, 1000000000)
SELECT count(*) FROM walmon_upsert_batch(jsonb_build_array(
	jsonb_build_object('source_id', :a, 'wal_lsn', (pg_lsn '0/0' + :lsn)::text, 'status', 'idle'),
	jsonb_build_object('source_id', :b, 'replication_lag_bytes', :lsn % 1000),
	jsonb_build_object('source_id', :c, 'status', 'error', 'error_message', 'soak'),
	jsonb_build_object('source_id', :a, 'status', 'active')));
