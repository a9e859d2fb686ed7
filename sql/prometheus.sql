--
-- walmon_prometheus(): the current state in the Prometheus text format.
--
CREATE EXTENSION walmon;

-- The text exactly as a scraper reads it.  The worker's families (walmon
-- is preloaded here) follow the sources'; their values vary, so they are
-- shown as <n>, and those that exist only once something is known (a
-- cycle's time, the WAL end, the WAL rate, the disk forecast) depend on
-- what the files before this one did: regress.prom() leaves them out, and
-- regress.prom_worker_ok() checks that each of them, when present, is a
-- HELP, a TYPE and one sample of a number.
CREATE FUNCTION regress.prom() RETURNS SETOF text
LANGUAGE sql AS $$
SELECT regexp_replace(line, '^(walmon_worker_[a-z_]+) [0-9]+$', '\1 <n>')
FROM regexp_split_to_table(walmon_prometheus(), E'\n') WITH ORDINALITY AS t(line, n)
WHERE line !~ '^(# (HELP|TYPE) )?walmon_(worker_(last_cycle_timestamp_seconds|last_error_timestamp_seconds|wal_end_bytes|wal_trail_bytes)|wal_rate_bytes_per_second|wal_rate_15min_bytes_per_second|pg_wal_free_bytes|seconds_to_disk_full)\M'
ORDER BY n
$$;
CREATE FUNCTION regress.prom_worker_ok() RETURNS boolean
LANGUAGE sql AS $$
WITH l AS (
	SELECT line, (regexp_match(line, '^(?:# (?:HELP|TYPE) )?(walmon_\w+)'))[1] AS family
	FROM regexp_split_to_table(walmon_prometheus(), E'\n') AS line)
SELECT coalesce(bool_and(ok), true) FROM (
	SELECT family,
		count(*) = 3
		AND count(*) FILTER (WHERE line ~ ('^# HELP ' || family || ' \S')) = 1
		AND count(*) FILTER (WHERE line = '# TYPE ' || family || ' gauge') = 1
		AND count(*) FILTER (WHERE line ~ ('^' || family || ' [0-9]+(\.[0-9]{3})?$')) = 1 AS ok
	FROM l
	WHERE family IN ('walmon_worker_last_cycle_timestamp_seconds',
		'walmon_worker_last_error_timestamp_seconds', 'walmon_worker_wal_end_bytes',
		'walmon_worker_wal_trail_bytes', 'walmon_wal_rate_bytes_per_second',
		'walmon_wal_rate_15min_bytes_per_second', 'walmon_pg_wal_free_bytes',
		'walmon_seconds_to_disk_full')
	GROUP BY family) AS f
$$;

\pset format unaligned
\pset tuples_only on
-- nothing monitored yet: only the headers of the sources' families, and the
-- worker's
SELECT * FROM regress.prom();
\pset format aligned
\pset tuples_only off
SELECT regress.prom_worker_ok();

SELECT walmon_add_source('orders-db'), walmon_add_source('billing "eu"\west', 'billing_slot'),
       walmon_add_source('unmonitored');
SELECT count(*) FROM walmon_upsert_batch('[
  {"source_id": 1, "wal_lsn": "0/10", "replication_lag_bytes": 2048},
  {"source_id": 2, "status": "error", "error_message": "slot lost"}
]');

-- seconds since the last WAL change with time: show them as <s> after
-- checking they are numbers
\pset format unaligned
\pset tuples_only on
SELECT regexp_replace(line,
	'(walmon_seconds_since_last_wal\{[^}]*\}) [0-9]+\.[0-9]{3}$', '\1 <s>')
FROM regress.prom() AS line;
\pset format aligned
\pset tuples_only off

-- 1.1's numbers of slot-bound rows (which the refresh writes; here, a
-- plain UPDATE, and a server with a name that needs escaping).  The lag in
-- seconds is as of now: 5 s at updated_at, 10 s ago, is 15 s; one that is
-- caught up (0) stays 0.  Values a plain UPDATE can store and printf
-- would spell otherwise come out as the format spells them.
BEGIN;
UPDATE walmon_source SET server = E'east "2"\\\n' WHERE id = 2;
UPDATE wal_monitor SET replication_lag_seconds = 5, updated_at = now() - interval '10 s',
	retained_wal_bytes = 4096, safe_wal_size = 1073741824,
	seconds_to_invalidation = 3600.5, xmin_age = 7, catalog_xmin_age = 2147483647
WHERE source_id = 1;
UPDATE wal_monitor SET replication_lag_seconds = 0, updated_at = now() - interval '10 s',
	retained_wal_bytes = 0, safe_wal_size = -16, seconds_to_invalidation = 0
WHERE source_id = 2;
\pset format unaligned
\pset tuples_only on
SELECT line FROM regress.prom() AS line
WHERE line ~ '^walmon_(replication_lag_seconds|retained_wal_bytes|safe_wal_size_bytes|seconds_to_invalidation|xmin_age_transactions|catalog_xmin_age_transactions|status)\{';
UPDATE wal_monitor SET replication_lag_seconds = 'NaN', seconds_to_invalidation = 'Infinity'
WHERE source_id = 1;
UPDATE wal_monitor SET replication_lag_seconds = 1e300, seconds_to_invalidation = '-Infinity'
WHERE source_id = 2;
SELECT line FROM regress.prom() AS line
WHERE line ~ '^walmon_(replication_lag_seconds|seconds_to_invalidation)\{';
-- the forecast of a local slot is computed again, as of now, from its safe
-- size and the WAL rate of the last minute (the stored one is as of
-- updated_at): 0 once the slot is unreserved, whatever is stored; none
-- without a safe size
UPDATE walmon_source SET server = NULL WHERE id = 2;
UPDATE wal_monitor SET safe_wal_size = 0, seconds_to_invalidation = 3600
WHERE source_id = 2;
SELECT line FROM regress.prom() AS line
WHERE line ~ '^walmon_seconds_to_invalidation\{';
UPDATE wal_monitor SET safe_wal_size = NULL WHERE source_id = 2;
SELECT line FROM regress.prom() AS line
WHERE line ~ '^walmon_seconds_to_invalidation\{';
\pset format aligned
\pset tuples_only off
ROLLBACK;

-- pg_monitor members may read it, PUBLIC may not
CREATE ROLE regress_walmon_prom_reader IN ROLE pg_monitor;
CREATE ROLE regress_walmon_prom_nobody;
SET ROLE regress_walmon_prom_reader;
SELECT length(walmon_prometheus()) > 0 AS readable;
SET ROLE regress_walmon_prom_nobody;
SELECT state, message FROM regress.try('SELECT walmon_prometheus()');
RESET ROLE;
DROP ROLE regress_walmon_prom_reader, regress_walmon_prom_nobody;

DROP FUNCTION regress.prom(), regress.prom_worker_ok();
DROP EXTENSION walmon;
