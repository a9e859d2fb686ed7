--
-- Every error of the contract's table (section 3), with its SQLSTATE, and
-- proof that no failed call changes any table.
--
CREATE EXTENSION walmon;

SELECT walmon_add_source('a'), walmon_add_source('b', 'b_slot');
SELECT source_id, status FROM walmon_upsert(1, '0/10');
-- ten more with a row, for a batch long enough to be one statement
SELECT count(walmon_add_source('e' || g, NULL, 10 + g)), count(walmon_upsert(10 + g, '0/10'))
FROM generate_series(1, 10) AS g;

CREATE TEMP TABLE fp AS
SELECT regress.fingerprint() AS before,
       (SELECT last_value FROM wal_monitor_id_seq) AS monitor_ids;

CREATE TEMP TABLE cases (n serial, stmt text);
INSERT INTO cases (stmt) VALUES
	-- source_id NULL: 22004
	($$SELECT walmon_upsert(NULL)$$),
	($$SELECT walmon_upsert(NULL, '0/1', status => 'IDLE')$$),
	($$SELECT walmon_status(NULL)$$),
	($$SELECT walmon_set_status(NULL, 'IDLE')$$),
	($$SELECT walmon_delete(NULL)$$),
	($$SELECT walmon_drop_source(NULL)$$),
	-- source not registered: 23503
	($$SELECT walmon_upsert(3)$$),
	($$SELECT walmon_upsert(-1, '0/1')$$),
	-- status not ACTIVE/IDLE/ERROR: 22023 (NULL: 22004)
	($$SELECT walmon_upsert(1, status => 'RUNNING')$$),
	($$SELECT walmon_upsert(1, status => '')$$),
	($$SELECT walmon_upsert(1, status => ' ACTIVE')$$),
	($$SELECT walmon_upsert(1, status => NULL)$$),
	($$SELECT walmon_set_status(1, 'PAUSED')$$),
	($$SELECT walmon_set_status(1, NULL)$$),
	-- malformed LSN: 22P02
	($$SELECT walmon_upsert(1, 'not-an-lsn')$$),
	($$SELECT walmon_upsert(1, '0/1/2')$$),
	($$SELECT walmon_upsert(1, '100000000/0')$$),
	-- negative wal_position or replication_lag_bytes: 22023
	($$SELECT walmon_upsert(1, wal_position => -1)$$),
	($$SELECT walmon_upsert(1, replication_lag_bytes => -9223372036854775808)$$),
	-- an LSN too large for wal_position, unless one is given: 22003
	($$SELECT walmon_upsert(1, 'FFFFFFFF/FFFFFFFF')$$),
	-- walmon_set_status without a monitor row: P0002
	($$SELECT walmon_set_status(2, 'IDLE')$$),
	($$SELECT walmon_set_status(3, 'IDLE')$$),
	-- malformed batches: 22023 / 22P02, naming the array index
	($$SELECT walmon_upsert_batch(NULL)$$),
	($$SELECT walmon_upsert_batch('{"source_id": 1}')$$),
	($$SELECT walmon_upsert_batch('1')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1}, [1]]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1}, "x"]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "lsn": "0/1"}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1}, {"source_id": true}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_lsn": 16}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "status": {"a": 1}}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1.5}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1e10}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1}, {"source_id": 1, "wal_lsn": "0/X"}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "last_wal_received": "yesterday-ish"}]')$$),
	($$SELECT walmon_upsert_batch('[{"wal_lsn": "0/1"}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": null}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "status": "bad"}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "status": null}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_position": -5}]')$$),
	($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_lsn": "0/20"}, {"source_id": 3}]')$$),
	-- the same in a batch that is written by one statement (more than 8 elements)
	($$SELECT walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', CASE WHEN g = 7 THEN 3 ELSE 10 + g END,
	                                                                   'wal_lsn', '0/30')) FROM generate_series(1, 10) AS g))$$),
	-- walmon_add_source
	($$SELECT walmon_add_source(NULL)$$),
	($$SELECT walmon_add_source('')$$),
	($$SELECT walmon_add_source('a')$$),
	($$SELECT walmon_add_source('c', 'b_slot')$$),
	($$SELECT walmon_add_source('c', 'Bad-Slot')$$),
	($$SELECT walmon_add_source('c', id => 0)$$),
	($$SELECT walmon_add_source('c', id => 1)$$);

SELECT n, stmt, t.* FROM cases, LATERAL regress.try(stmt) t ORDER BY n;

-- no failed call changed any table, nor consumed a monitor id
SELECT before = regress.fingerprint() AS unchanged,
       monitor_ids = (SELECT last_value FROM wal_monitor_id_seq) AS no_monitor_id_used
FROM fp;

-- a whole batch is undone when one element fails, even a late one
SELECT count(*) FROM walmon_upsert_batch('[{"source_id": 1, "wal_lsn": "0/99"}]');
SELECT wal_lsn FROM walmon_status(1);
SELECT state, message FROM regress.try($$SELECT walmon_upsert_batch('[{"source_id": 1, "wal_lsn": "0/AA"}, {"source_id": 2}, {"source_id": 4}]')$$);
SELECT wal_lsn FROM walmon_status(1);
SELECT count(*) FROM walmon_status(2);

-- errors as psql shows them
\set VERBOSITY sqlstate
SELECT walmon_upsert(NULL);
SELECT walmon_upsert(42);
SELECT walmon_set_status(2, 'IDLE');
\set VERBOSITY default

DROP EXTENSION walmon;
