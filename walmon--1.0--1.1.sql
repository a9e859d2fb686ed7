/* walmon--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION walmon UPDATE TO '1.1'" to load this file. \quit

--
-- walmon 1.1.  A fresh install of 1.1 runs walmon--1.0.sql and then this
-- script, so an updated 1.0 and a fresh 1.1 are the same by construction;
-- t/020_upgrade.pl checks it, with data.  Every name is qualified, as in
-- walmon--1.0.sql.
--

--
-- The overview: every reader copes with any timestamp a row may hold,
-- including an infinite one stored by a plain UPDATE (walmon's functions
-- refuse them).
--
DROP VIEW @extschema@.walmon_overview;

CREATE VIEW @extschema@.walmon_overview AS
SELECT s.id AS source_id,
	s.name,
	s.slot_name,
	w.status,
	st.since AS status_since,
	CASE WHEN pg_catalog.isfinite(st.since)
		THEN pg_catalog.date_trunc('second', pg_catalog.now() OPERATOR(pg_catalog.-) st.since)
	END AS in_status_for,
	w.replication_lag_bytes AS lag_bytes,
	pg_catalog.pg_size_pretty(w.replication_lag_bytes) AS lag,
	CASE WHEN pg_catalog.isfinite(w.last_wal_received)
		THEN pg_catalog.round(pg_catalog.date_part('epoch',
			pg_catalog.now() OPERATOR(pg_catalog.-) w.last_wal_received)::pg_catalog.numeric, 3)
	END AS seconds_since_wal,
	CASE WHEN s.slot_name IS NOT NULL AND ws.last_cycle_end IS NOT NULL
		THEN ws.last_cycle_end ELSE w.updated_at END AS last_checked,
	w.error_message
FROM @extschema@.walmon_source AS s
LEFT JOIN @extschema@.wal_monitor AS w ON w.source_id OPERATOR(pg_catalog.=) s.id
LEFT JOIN LATERAL (
	SELECT COALESCE((SELECT h.changed_at FROM @extschema@.wal_monitor_history AS h
					 WHERE h.source_id OPERATOR(pg_catalog.=) s.id
					 ORDER BY h.id DESC LIMIT 1),
					w.created_at) AS since) AS st ON w.source_id IS NOT NULL
LEFT JOIN @extschema@.walmon_worker_status() AS ws ON true;

COMMENT ON VIEW @extschema@.walmon_overview IS
'One row per source: status and for how long, lag, seconds since WAL was last received, when it was last checked, and the error';

REVOKE ALL ON TABLE @extschema@.walmon_overview FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.walmon_overview TO pg_monitor;
