-- bench/sql/limits_schema.sql: the two "limits" the benchmark compares
-- walmon_upsert with, in a schema of their own, "limits".  Run with psql
-- variable :sources (the number of sources the throughput runs pick from)
-- after walmon's wal_monitor holds those sources' rows.
--
-- limits.wal_monitor: a copy of walmon's wal_monitor with the same columns,
-- defaults, storage parameters (fillfactor) and indexes (its primary key on
-- id, its unique constraint on source_id) but none of what walmon adds on
-- top of a plain table: no CHECK constraints or domains, no foreign key to
-- walmon_source, no triggers.  It is built from the live table (LIKE and
-- pg_class.reloptions), so it follows walmon's schema when that changes.
-- bare_update.sql runs on it the UPDATE walmon runs for an existing row.
--
-- limits.counter: the smallest write transaction there is, a HOT update of
-- one int by primary key on a 100-row table (counter_update.sql).

CREATE SCHEMA limits;

CREATE TABLE limits.wal_monitor
	(LIKE wal_monitor INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES);

DO $$
DECLARE
	opts text;
BEGIN
	SELECT pg_catalog.array_to_string(reloptions, ', ') INTO opts
	FROM pg_catalog.pg_class WHERE oid = 'wal_monitor'::regclass;
	IF opts IS NOT NULL THEN
		EXECUTE format('ALTER TABLE limits.wal_monitor SET (%s)', opts);
	END IF;
END
$$;

-- LIKE copies the columns' types, and walmon's rules are domains
-- (walmon_status_value, walmon_nonnegative_bytes): the copy takes their
-- base types, so that no rule is checked
DO $$
DECLARE
	col record;
BEGIN
	FOR col IN
		SELECT a.attname, pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = 'limits.wal_monitor'::regclass AND a.attnum > 0
		  AND NOT a.attisdropped AND t.typtype = 'd'
	LOOP
		EXECUTE format('ALTER TABLE limits.wal_monitor ALTER COLUMN %I TYPE %s',
					   col.attname, col.base);
	END LOOP;
END
$$;

-- the rows walmon_upsert left in wal_monitor, ids included
INSERT INTO limits.wal_monitor OVERRIDING SYSTEM VALUE
SELECT * FROM wal_monitor WHERE source_id BETWEEN 1 AND :sources;

CREATE TABLE limits.counter (
	id integer PRIMARY KEY,
	n integer NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

INSERT INTO limits.counter (id) SELECT g FROM generate_series(1, 100) AS g;

VACUUM ANALYZE limits.wal_monitor, limits.counter;
