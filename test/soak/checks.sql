-- What must hold after the soak; every query returns one boolean row.
\pset tuples_only on
\pset format unaligned
\echo one row per source
SELECT count(*) = 0 FROM (SELECT source_id FROM wal_monitor GROUP BY source_id HAVING count(*) > 1) d;
\echo every monitor row has a registered source
SELECT count(*) = 0 FROM wal_monitor w WHERE NOT EXISTS (SELECT FROM walmon_source s WHERE s.id = w.source_id);
\echo history agrees with the final states: the last change of every row is to its status
SELECT count(*) = 0 FROM wal_monitor w
WHERE w.status IS DISTINCT FROM (SELECT h.new_status FROM wal_monitor_history h
                                 WHERE h.source_id = w.source_id ORDER BY h.id DESC LIMIT 1);
\echo history is a chain: each change starts from the status the previous one ended in
SELECT count(*) = 0 FROM (
	SELECT old_status, lag(new_status) OVER (PARTITION BY source_id ORDER BY id) AS prev
	FROM wal_monitor_history) c
WHERE old_status IS NOT NULL AND prev IS NOT NULL AND old_status <> prev;
\echo the worker ran and recorded no error
SELECT cycles > 0 AND last_error IS NULL FROM walmon_worker_status();
\echo slot-bound sources were registered and followed
SELECT count(*) > 0 FROM walmon_source WHERE slot_name LIKE 'soak_%';
