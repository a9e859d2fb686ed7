--
-- Helpers for the other regress files (pg_regress runs them in one
-- database, this one first).
--
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;

-- Run a statement; report its SQLSTATE and message, detail and hint
-- ('00000' when it succeeded), so expected files show SQLSTATEs without
-- the source line numbers of VERBOSITY verbose.
CREATE FUNCTION regress.try(stmt text,
	OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	state := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;

-- Every row of every walmon table in schema s, as one value: equal
-- fingerprints mean no table changed.  Sequences are left out on purpose:
-- a failed INSERT consumes a value like anywhere in PostgreSQL.
CREATE FUNCTION regress.fingerprint(s text DEFAULT 'public') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE pg_catalog.format($q$
		SELECT pg_catalog.md5(pg_catalog.concat_ws('|',
			(SELECT pg_catalog.string_agg(t::text, ',' ORDER BY t.id) FROM %1$I.walmon_source t),
			(SELECT pg_catalog.string_agg(t::text, ',' ORDER BY t.id) FROM %1$I.wal_monitor t),
			(SELECT pg_catalog.string_agg(t::text, ',' ORDER BY t.id) FROM %1$I.wal_monitor_history t),
			(SELECT pg_catalog.string_agg(t::text, ',' ORDER BY t.id) FROM %1$I.wal_metrics t)))$q$, s)
	INTO result;
	RETURN result;
END $$;
