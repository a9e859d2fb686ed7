--
-- Hostile and extreme input, table-driven: every case has its expected
-- SQLSTATE, or succeeds with the documented result.  Failed calls change
-- no table, and the server stays up.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a'), walmon_add_source('b');
SELECT status FROM walmon_upsert(1, '0/10');
CREATE TEMP TABLE server AS SELECT pg_postmaster_start_time() AS started;

-- 10 MB of text: one that compresses to nothing, one that does not
CREATE TEMP TABLE big AS
SELECT repeat('A', 10 * 1024 * 1024) AS flat,
       (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 330000) i) AS noisy;

CREATE TEMP TABLE fp AS SELECT regress.fingerprint() AS before;

CREATE TEMP TABLE bad (n serial, stmt text, expect text);
INSERT INTO bad (stmt, expect) VALUES
	-- extreme integers
	($$SELECT walmon_upsert(2147483647)$$, '23503'),
	($$SELECT walmon_upsert(-2147483648)$$, '23503'),
	($$SELECT walmon_upsert(0)$$, '23503'),
	($$SELECT walmon_upsert(2147483648::integer)$$, '22003'),
	($$SELECT walmon_upsert(1, wal_position => -9223372036854775808)$$, '22023'),
	($$SELECT walmon_upsert(1, replication_lag_bytes => -1)$$, '22023'),
	($$SELECT walmon_upsert(1, wal_position => 9223372036854775808::bigint)$$, '22003'),
	($$SELECT walmon_set_status(2147483647, 'IDLE')$$, 'P0002'),
	($$SELECT walmon_add_source('x', id => -2147483648)$$, '22023'),
	-- LSN edge values
	($$SELECT walmon_upsert(1, '')$$, '22P02'),
	($$SELECT walmon_upsert(1, '/')$$, '22P02'),
	($$SELECT walmon_upsert(1, '0/')$$, '22P02'),
	($$SELECT walmon_upsert(1, 'G/0')$$, '22P02'),
	($$SELECT walmon_upsert(1, '-1/0')$$, '22P02'),
	($$SELECT walmon_upsert(1, '0/1 ')$$, '22P02'),
	($$SELECT walmon_upsert(1, '8000000000000000/0')$$, '22P02'),
	($$SELECT walmon_upsert(1, '80000000/0')$$, '22003'),
	-- NULLs where they are not allowed
	($$SELECT walmon_upsert(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$, '22004'),
	($$SELECT walmon_upsert(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$$, '22004'),
	($$SELECT walmon_set_status(NULL, NULL, NULL)$$, '22004'),
	($$SELECT walmon_set_status(1, NULL, NULL)$$, '22004'),
	($$SELECT walmon_status(NULL)$$, '22004'),
	($$SELECT walmon_delete(NULL)$$, '22004'),
	($$SELECT walmon_drop_source(NULL)$$, '22004'),
	($$SELECT walmon_add_source(NULL, NULL, NULL)$$, '22004'),
	($$SELECT walmon_upsert_batch(NULL)$$, '22004'),
	-- statuses that only look right
	($$SELECT walmon_upsert(1, status => (SELECT flat FROM big))$$, '22023'),
	($$SELECT walmon_set_status(1, (SELECT noisy FROM big))$$, '22023'),
	($$SELECT walmon_upsert(1, status => 'ACTIVE''; DROP TABLE wal_monitor; --')$$, '22023'),
	($$SELECT walmon_upsert(1, status => 'ÄCTIVE')$$, '22023'),
	($$SELECT walmon_upsert(1, status => 'actİve')$$, '22023'),
	($$SELECT walmon_upsert(1, status => E'ACTIVE\n')$$, '22023'),
	($$SELECT walmon_set_status(1, 'IDLE ')$$, '22023'),
	-- names and slots
	($$SELECT walmon_add_source('')$$, '22023'),
	($$SELECT walmon_add_source('x', '')$$, '42602'),
	($$SELECT walmon_add_source('x', 'slot-with-dash')$$, '42602'),
	($$SELECT walmon_add_source('x', 'Ünïcode')$$, '42602'),
	($$SELECT walmon_add_source('x', 'x; DROP TABLE walmon_source')$$, '42602'),
	($$SELECT walmon_add_source((SELECT noisy FROM big))$$, '54000'),
	($$SELECT walmon_add_source((SELECT flat FROM big))$$, '54000'),
	($$SELECT walmon_add_source('a')$$, '23505'),
	-- malformed JSON shapes
	($$SELECT walmon_upsert_batch('null')$$, '22023'),
	($$SELECT walmon_upsert_batch('"[]"')$$, '22023'),
	($$SELECT walmon_upsert_batch('{}')$$, '22023'),
	($$SELECT walmon_upsert_batch('[null]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[[]]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{}]')$$, '22004'),
	($$SELECT walmon_upsert_batch('[{"SOURCE_ID": 1}]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{"source_id": "1e3"}]')$$, '22P02'),
	($$SELECT walmon_upsert_batch('[{"source_id": " 1"}]')$$, '00000'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_position": 9223372036854775808}]')$$, '22003'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_lsn": "FFFFFFFF/FFFFFFFF"}]')$$, '22003'),
	($$SELECT walmon_upsert_batch('[{"source_id": 2.0}]')$$, '22P02'),
	($$SELECT walmon_upsert_batch('[{"source_id": 2147483648}]')$$, '22003'),
	($$SELECT walmon_upsert_batch('[{"source_id": -2147483649}]')$$, '22003'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "replication_lag_bytes": 5.0}]')$$, '22P02'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "replication_lag_bytes": -1}]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_position": 1e19}]')$$, '22003'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "status": ""}]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "last_transaction_time": "2026-13-45"}]')$$, '22008'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "error_message": {"a": [1, {"b": null}]}}]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "replication_slot_name": ["s"]}]')$$, '22023'),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "error_message": 42}]')$$, '22023'),
	($$SELECT walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', 1)) || '[{"source_id": 1, "status": "nope"}]' FROM generate_series(1, 9999)))$$, '22023');

-- the " 1" case above is the one documented success in this list: integer
-- strings are read by int4in, which allows surrounding spaces; it is run
-- separately below so that this list changes nothing
DELETE FROM bad WHERE expect = '00000';

SELECT n, left(stmt, 90) AS stmt, t.state, t.state = expect AS as_expected, left(t.message, 110) AS message
FROM bad, LATERAL regress.try(stmt) t ORDER BY n;

SELECT count(*) AS cases, count(*) FILTER (WHERE t.state = expect) AS as_expected
FROM bad, LATERAL regress.try(stmt) t;

-- no failed call changed any table; the server is the same one
SELECT before = regress.fingerprint() AS unchanged FROM fp;
SELECT started = pg_postmaster_start_time() AS same_server FROM server;

--
-- Extreme input that is valid, with its documented result
--
-- names are stored as given: quotes, SQL, unicode, long ones (up to what
-- a btree entry holds, about 2.7 kB after compression: 10 MB fails, above)
SELECT walmon_add_source($$x'); DROP TABLE walmon_source; --$$) AS sql_looking,
       walmon_add_source('数据库-源 🚀') AS unicode,
       walmon_add_source(repeat('n', 2000)) AS long_name;
SELECT id, CASE WHEN name = '数据库-源 🚀' THEN '(the unicode name, kept exactly)' ELSE left(name, 40) END AS name,
       length(name), octet_length(name)
FROM walmon_source ORDER BY id;
-- a slot name is a "name": longer text is cut to 63 bytes, like any name
SELECT walmon_add_source('long-slot', repeat('s', 100)) AS id \gset
SELECT slot_name, length(slot_name) FROM walmon_source WHERE id = :id;
-- integer strings in a batch are read like SQL integers
SELECT source_id FROM walmon_upsert_batch('[{"source_id": " 1"}]');
-- JSON numbers without a fraction, in any notation, and byte counts beyond
-- an int4
SELECT source_id, wal_position, replication_lag_bytes
FROM walmon_upsert_batch('[{"source_id": 1e0, "wal_position": 5e9, "replication_lag_bytes": 3000000000}]');
SELECT source_id, wal_position, replication_lag_bytes
FROM walmon_upsert_batch('[{"source_id": 0.01e2, "wal_position": -0, "replication_lag_bytes": 2147483647}]');
-- a batch's wal_lsn strings are read as pg_lsn's input function reads
-- them (walmon reads the common form itself): the same value, or the same
-- error with the element named (wal_position given: the largest LSNs have
-- no wal_position of their own)
SELECT s, l.state AS lsn_state, b.state AS batch_state,
       CASE WHEN l.state = '00000' THEN
         (SELECT wal_lsn FROM walmon_upsert_batch(jsonb_build_array(jsonb_build_object('source_id', 1, 'wal_lsn', s, 'wal_position', 0))))
         = s::pg_lsn
       ELSE b.message = 'monitors[0]: ' || l.message END AS same
FROM unnest(ARRAY['0/0', '0/16B3748', 'FFFFFFFF/FFFFFFFF', 'ffffffff/0', 'aBcDeF/12',
                  '00000001/00000002', '12345678/9ABCDEF0', '7/8', '000000001/0',
                  '0/000000001', '/0', '0/', '', '/', '0//0', ' 0/0', '0/0 ', '0x1/0',
                  'G/0', '1/2/3', '+1/0', '-1/0', '1/-2', '1/ 2', '0/0' || chr(10),
                  '１/2']) AS s,
     LATERAL regress.try(format('SELECT %L::pg_lsn', s)) AS l,
     LATERAL regress.try(format('SELECT walmon_upsert_batch(%L)',
                                jsonb_build_array(jsonb_build_object('source_id', 1, 'wal_lsn', s, 'wal_position', 0)))) AS b;
-- the largest values
SELECT wal_lsn, wal_position, replication_lag_bytes
FROM walmon_upsert(1, 'FFFFFFFF/FFFFFFFF', 9223372036854775807, replication_lag_bytes => 9223372036854775807);
-- infinite timestamps have no age, and every reader computes one: refused
-- with 22008, in single calls and batches alike; the extremes of the range
-- are stored, and the readers cope with them
SELECT * FROM regress.try($$SELECT walmon_upsert(1, last_wal_received => 'infinity')$$);
SELECT * FROM regress.try($$SELECT walmon_upsert(1, last_transaction_time => '-infinity')$$);
SELECT * FROM regress.try($$SELECT walmon_upsert_batch('[{"source_id": 1, "last_wal_received": "-infinity"}]')$$);
SELECT * FROM regress.try($$SELECT walmon_upsert_batch('[{"source_id": 1, "last_transaction_time": "infinity"}]')$$);
-- (shown in UTC: in the session's PST8PDT a year before 1883 is LMT with
-- tzdata 2024b and later, PST with the older data 14.13 and 16.2 bundle)
SELECT last_wal_received AT TIME ZONE 'UTC' AS last_wal_received,
       last_transaction_time AT TIME ZONE 'UTC' AS last_transaction_time
FROM walmon_upsert(1, last_wal_received => '294276-12-31 23:59:59+00', last_transaction_time => '4713-01-01 00:00:00+00 BC');
SELECT count(*) AS overview_rows FROM walmon_overview;
SELECT count(*) > 0 AS exported FROM regexp_split_to_table(walmon_prometheus(), E'\n');
-- a value stored behind walmon's back (a plain UPDATE) breaks no reader
UPDATE wal_monitor SET last_wal_received = 'infinity' WHERE source_id = 1;
SELECT source_id, seconds_since_wal FROM walmon_overview WHERE source_id = 1;
SELECT line FROM regexp_split_to_table(walmon_prometheus(), E'\n') AS line
WHERE line LIKE 'walmon_seconds_since_last_wal{%';
UPDATE wal_monitor SET last_wal_received = now() WHERE source_id = 1;
-- 10 MB slot and error texts are stored whole; a status change records the
-- whole message in the history (its alert carries the first 1024 bytes)
SELECT length(replication_slot_name), length(error_message), status
FROM walmon_upsert(1, replication_slot_name => (SELECT noisy FROM big),
                   error_message => (SELECT noisy FROM big), status => 'ERROR');
SELECT length(error_message) FROM wal_monitor_history ORDER BY id DESC LIMIT 1;
-- a batch of 10,000 elements for one source: the last one wins
SELECT source_id, wal_lsn FROM walmon_upsert_batch(
	(SELECT jsonb_agg(jsonb_build_object('source_id', 2, 'wal_lsn', format('0/%s', to_hex(i))) ORDER BY i)
	 FROM generate_series(1, 10000) i));
-- an id of one's own at the top of the range uses up generated ids
SELECT walmon_add_source('top', id => 2147483647);
SELECT state, message FROM regress.try($$SELECT walmon_add_source('after-top')$$);
-- queries that find nothing
SELECT count(*) FROM walmon_status(2147483647);
SELECT walmon_delete(-1), walmon_drop_source(0);

SELECT started = pg_postmaster_start_time() AS same_server FROM server;
DROP EXTENSION walmon;
