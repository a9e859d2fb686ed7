--
-- walmon_prometheus(): the current state in the Prometheus text format.
--
CREATE EXTENSION walmon;

-- the text exactly as a scraper reads it
\pset format unaligned
\pset tuples_only on
-- nothing monitored yet: only the metric headers, and the worker's
-- counters (walmon is preloaded here; their values vary, so shown as <n>)
SELECT regexp_replace(walmon_prometheus(), '^(walmon_worker_[a-z_]+) [0-9.]+$', '\1 <n>', 'gn');
\pset format aligned
\pset tuples_only off

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
SELECT regexp_replace(regexp_replace(walmon_prometheus(),
	'(walmon_seconds_since_last_wal\{[^}]*\}) [0-9]+\.[0-9]{3}', '\1 <s>', 'g'),
	'^(walmon_worker_[a-z_]+) [0-9.]+$', '\1 <n>', 'gn');
\pset format aligned
\pset tuples_only off

-- pg_monitor members may read it, PUBLIC may not
CREATE ROLE regress_walmon_prom_reader IN ROLE pg_monitor;
CREATE ROLE regress_walmon_prom_nobody;
SET ROLE regress_walmon_prom_reader;
SELECT length(walmon_prometheus()) > 0 AS readable;
SET ROLE regress_walmon_prom_nobody;
SELECT state, message FROM regress.try('SELECT walmon_prometheus()');
RESET ROLE;
DROP ROLE regress_walmon_prom_reader, regress_walmon_prom_nobody;

DROP EXTENSION walmon;
