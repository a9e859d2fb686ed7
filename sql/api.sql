--
-- The SQL API: every function's normal behaviour (contract section 3).
--
CREATE EXTENSION walmon;

-- the objects the extension owns (row types left out: PostgreSQL 17 and
-- later record them as members too)
SELECT pg_catalog.pg_describe_object(classid, objid, 0) AS object
FROM pg_catalog.pg_depend
WHERE refclassid = 'pg_catalog.pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'walmon')
  AND deptype = 'e' AND classid <> 'pg_catalog.pg_type'::regclass
ORDER BY 1;

-- wal_monitor keeps only the indexes that no upsert changes, and room for HOT
SELECT indexrelid::regclass AS index, indisunique
FROM pg_catalog.pg_index WHERE indrelid = 'wal_monitor'::regclass ORDER BY 1;
SELECT reloptions FROM pg_catalog.pg_class WHERE oid = 'wal_monitor'::regclass;

--
-- walmon_add_source
--
SELECT walmon_add_source('orders-db');
SELECT walmon_add_source('billing-db', 'billing_slot');
-- an id of the caller's own moves the sequence past it...
SELECT walmon_add_source('legacy-db', id => 100);
SELECT walmon_add_source('next-db');
-- ...but never back
SELECT walmon_add_source('old-db', id => 50);
SELECT walmon_add_source('newest-db');
SELECT id, name, slot_name, created_at IS NOT NULL AS has_created_at
FROM walmon_source ORDER BY id;

--
-- walmon_upsert: the first call inserts, later calls update that same row
--
SELECT last_value AS monitor_seq_before FROM wal_monitor_id_seq;
SELECT id, source_id, wal_lsn, wal_position, last_wal_received = now() AS received_now,
       last_transaction_time, replication_slot_name, replication_lag_bytes,
       status, error_message, created_at = now() AS created_now,
       updated_at = now() AS updated_now
FROM walmon_upsert(1, '0/1A2B3C4D');

-- an update keeps the id and consumes no sequence value
SELECT id, source_id, wal_lsn, wal_position, status
FROM walmon_upsert(1, '0/1A2B3C5E', 440402014);
SELECT id, source_id, wal_lsn, wal_position, status
FROM walmon_upsert(1, '0/1A2B3C6F');
SELECT last_value AS monitor_seq_after FROM wal_monitor_id_seq;
SELECT count(*) AS rows_for_source_1 FROM wal_monitor WHERE source_id = 1;

-- every argument by name; status in any letter case, stored upper-case
SELECT id, source_id, wal_lsn, wal_position, last_wal_received,
       last_transaction_time, replication_slot_name, replication_lag_bytes,
       status, error_message
FROM walmon_upsert(source_id => 2,
                   wal_lsn => '16/B374D848',
                   wal_position => 12345,
                   last_wal_received => '2026-01-02 03:04:05+00',
                   last_transaction_time => '2026-01-02 03:04:00+00',
                   replication_slot_name => 'billing_slot',
                   replication_lag_bytes => 4096,
                   status => 'iDlE',
                   error_message => 'caught up');

-- the call's values replace the stored ones: omitted arguments become NULL,
-- status ACTIVE; created_at stays, updated_at moves
SELECT id, source_id, wal_lsn, wal_position, last_wal_received,
       replication_slot_name, replication_lag_bytes, status, error_message
FROM walmon_upsert(2);

-- the largest LSN that fits wal_position, and explicit zeroes
SELECT wal_lsn, wal_position, replication_lag_bytes
FROM walmon_upsert(2, '7FFFFFFF/FFFFFFFF', replication_lag_bytes => 0);
SELECT wal_lsn, wal_position FROM walmon_upsert(2, 'FFFFFFFF/FFFFFFFF', 0);
SELECT wal_lsn, wal_position FROM walmon_upsert(2, '0/0');

-- the result is a wal_monitor row, usable as one
SELECT (walmon_upsert(100, status => 'error', error_message => 'slot lost')).status;

--
-- walmon_status
--
SELECT source_id, wal_lsn, status, error_message FROM walmon_status(1);
SELECT count(*) AS rows_for_unknown FROM walmon_status(999);
SELECT source_id, status FROM walmon_status();
SELECT pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered
FROM walmon_status();

--
-- the rules of the columns hold for plain SQL too (as domains: 23514)
--
SELECT * FROM regress.try($$UPDATE wal_monitor SET status = 'BAD' WHERE source_id = 1$$);
SELECT * FROM regress.try($$UPDATE wal_monitor SET wal_position = -1 WHERE source_id = 1$$);
SELECT * FROM regress.try($$UPDATE wal_monitor SET replication_lag_bytes = -1 WHERE source_id = 1$$);
-- (the detail shows the row, with its timestamps)
SELECT state, message FROM regress.try($$UPDATE wal_monitor SET status = NULL WHERE source_id = 1$$);

--
-- walmon_set_status changes only status, error_message and updated_at
--
CREATE TEMP TABLE before AS SELECT * FROM wal_monitor WHERE source_id = 1;
SELECT source_id, wal_lsn, status, error_message
FROM walmon_set_status(1, 'error', 'Connection timeout');
SELECT (b.id, b.wal_lsn, b.wal_position, b.last_wal_received, b.last_transaction_time,
        b.replication_slot_name, b.replication_lag_bytes, b.created_at)
     IS NOT DISTINCT FROM (w.id, w.wal_lsn, w.wal_position, w.last_wal_received, w.last_transaction_time,
        w.replication_slot_name, w.replication_lag_bytes, w.created_at) AS rest_unchanged,
       w.updated_at > b.updated_at AS updated_at_moved
FROM before b JOIN wal_monitor w USING (source_id);
-- (a copy of wal_monitor's rows keeps its domains: it would hold DROP EXTENSION)
DROP TABLE before;
-- the error message defaults to NULL
SELECT status, error_message FROM walmon_set_status(1, 'Active');

--
-- walmon_upsert_batch
--
SELECT source_id, wal_lsn, wal_position, status, error_message
FROM walmon_upsert_batch('[
  {"source_id": 101, "wal_lsn": "0/3000000", "status": "idle"},
  {"source_id": 1, "wal_lsn": "0/1A2B3D00", "replication_lag_bytes": 10},
  {"source_id": "102", "wal_lsn": "0/4000000", "wal_position": 7},
  {"source_id": 101, "wal_lsn": "0/3000100", "error_message": "later element wins"},
  {"source_id": 2, "error_message": null, "wal_lsn": null}
]'::jsonb || '[]'::jsonb) ORDER BY source_id;
-- an empty array writes nothing
SELECT count(*) FROM walmon_upsert_batch('[]');
SELECT source_id, wal_lsn, status, error_message FROM walmon_status(101);

-- past a few elements, one set-based statement: rows that exist keep their
-- id and consume none, each first row draws one
SELECT count(walmon_add_source('bulk ' || g, NULL, 200 + g)) FROM generate_series(1, 12) AS g;
SELECT count(*) FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 200 + g, 'wal_lsn', '0/10'))
                                         FROM generate_series(1, 6) AS g));
CREATE TEMP TABLE bulk_ids AS SELECT source_id, id FROM wal_monitor WHERE source_id > 200;
SELECT last_value AS bulk_seq_before FROM wal_monitor_id_seq \gset
SELECT count(*) AS rows, pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered,
       count(*) FILTER (WHERE wal_lsn = '0/20' AND status = 'IDLE') AS written
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 200 + g, 'wal_lsn', '0/20', 'status', 'idle')
                                           ORDER BY -g)
                          FROM generate_series(1, 12) AS g));
-- six kept their ids, six drew one each
SELECT (SELECT count(*) FROM wal_monitor w JOIN bulk_ids b USING (source_id) WHERE w.id = b.id) AS kept,
       (SELECT last_value FROM wal_monitor_id_seq) - :bulk_seq_before AS ids_drawn;
-- now every source has its row: one UPDATE, which draws no id, records
-- the status changes, returns the rows by source_id and leaves the
-- session's planner settings as they were
SELECT last_value AS bulk_seq_before FROM wal_monitor_id_seq \gset
SELECT count(*) AS bulk_hist_before FROM wal_monitor_history WHERE source_id > 200 AND new_status = 'ERROR' \gset
SELECT count(*) AS rows, pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered,
       count(*) FILTER (WHERE wal_lsn = '0/30' AND status = 'ERROR' AND error_message = 'e' || source_id) AS written
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 200 + g, 'wal_lsn', '0/30', 'status', 'error',
                                                              'error_message', 'e' || (200 + g))
                                           ORDER BY g % 5, g)
                          FROM generate_series(1, 12) AS g));
SELECT (SELECT count(*) FROM wal_monitor w JOIN bulk_ids b USING (source_id) WHERE w.id = b.id) AS kept,
       (SELECT last_value FROM wal_monitor_id_seq) - :bulk_seq_before AS ids_drawn,
       (SELECT count(*) FROM wal_monitor_history WHERE source_id > 200 AND new_status = 'ERROR') - :bulk_hist_before AS history_rows;
SHOW enable_hashjoin;
SHOW enable_seqscan;
-- an error in the middle of that UPDATE, caught by the caller: nothing of
-- the batch stays, and the session goes on
CREATE FUNCTION regress_refuse_205() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN IF NEW.source_id = 205 THEN RAISE EXCEPTION 'refused 205'; END IF; RETURN NEW; END$$;
CREATE TRIGGER regress_refuse_205 BEFORE UPDATE ON wal_monitor FOR EACH ROW EXECUTE FUNCTION regress_refuse_205();
DO $$
BEGIN
	PERFORM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 200 + g, 'wal_lsn', '0/40'))
	                             FROM generate_series(1, 12) AS g));
EXCEPTION WHEN raise_exception THEN
	RAISE NOTICE 'caught: %', SQLERRM;
END
$$;
DROP TRIGGER regress_refuse_205 ON wal_monitor;
DROP FUNCTION regress_refuse_205();
SELECT count(*) FILTER (WHERE wal_lsn = '0/30') AS unchanged FROM wal_monitor WHERE source_id > 200;
SELECT count(*) FILTER (WHERE wal_lsn = '0/40') AS written
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 200 + g, 'wal_lsn', '0/40'))
                          FROM generate_series(1, 12) AS g));
DROP TABLE bulk_ids;
-- rows that spill to disk (past work_mem) while the UPDATE that returned
-- them is undone: sources 1001..3000, every row but the last (then one in
-- the middle) there before, each value a kilobyte that does not compress
CREATE FUNCTION pg_temp.noise(id int, tag text) RETURNS text LANGUAGE sql AS
$$SELECT tag || pg_catalog.string_agg(pg_catalog.md5(id || '.' || i), '') FROM pg_catalog.generate_series(1, 30) AS i$$;
SELECT count(walmon_add_source('spill ' || g, NULL, 1000 + g)) FROM generate_series(1, 2000) AS g;
SELECT count(*) FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 1000 + g))
                                         FROM generate_series(1, 1999) AS g));
SET work_mem = '64kB';
SELECT count(*) AS rows, count(*) FILTER (WHERE error_message = pg_temp.noise(source_id, 'x')) AS written,
       pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 1000 + g, 'error_message', pg_temp.noise(1000 + g, 'x')))
                          FROM generate_series(1, 2000) AS g));
SELECT walmon_delete(2000) AS deleted;
SELECT count(*) AS rows, count(*) FILTER (WHERE error_message = pg_temp.noise(source_id, 'y')) AS written,
       pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 1000 + g, 'error_message', pg_temp.noise(1000 + g, 'y')))
                          FROM generate_series(1, 2000) AS g));
-- and kept
SELECT count(*) AS rows, count(*) FILTER (WHERE error_message = pg_temp.noise(source_id, 'z')) AS written,
       pg_catalog.array_agg(source_id) = pg_catalog.array_agg(source_id ORDER BY source_id) AS ordered
FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 1000 + g, 'error_message', pg_temp.noise(1000 + g, 'z')))
                          FROM generate_series(1, 2000) AS g));
RESET work_mem;
SELECT count(*) AS rows, count(*) FILTER (WHERE error_message = pg_temp.noise(source_id, 'z')) AS as_returned
FROM wal_monitor WHERE source_id > 1000;
SELECT count(walmon_drop_source(1000 + g)) FROM generate_series(1, 2000) AS g;

--
-- walmon_delete and walmon_drop_source
--
SELECT walmon_delete(101) AS deleted, walmon_delete(101) AS again;
SELECT count(*) FROM wal_monitor WHERE source_id = 101;
-- the source is still registered: a new upsert creates a new row
SELECT id > 0 AS has_id, source_id FROM walmon_upsert(101);
-- dropping a source removes its monitor row too
SELECT walmon_drop_source(101) AS dropped, walmon_drop_source(101) AS again;
SELECT count(*) FROM wal_monitor WHERE source_id = 101;
SELECT count(*) FROM walmon_source WHERE id = 101;
SELECT walmon_drop_source(999) AS unknown;

-- one row per source, whatever happened
SELECT source_id, count(*) FROM wal_monitor GROUP BY source_id HAVING count(*) > 1;

DROP EXTENSION walmon;
