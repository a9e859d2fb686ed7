\set s random(1, 40)
\set st random(0, 2)
\set lsn random(1, 1000000000)
SELECT source_id FROM walmon_upsert(:s, pg_lsn '0/0' + :lsn, replication_lag_bytes => :lsn % 65536,
	status => (ARRAY['ACTIVE', 'IDLE', 'ERROR'])[:st + 1]);
