--
-- Extension life cycle within one session: kept plans follow the extension
-- through DROP and CREATE, into another schema, with a quoted name.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a');
SELECT id, source_id, wal_lsn FROM walmon_upsert(1, '0/1');
SELECT source_id FROM walmon_status();

-- the same session, plans already kept: drop and create again
DROP EXTENSION walmon;
CREATE EXTENSION walmon;
SELECT walmon_add_source('a2');
SELECT id, source_id, wal_lsn FROM walmon_upsert(1, '0/2');
SELECT source_id, wal_lsn FROM walmon_status();
DROP EXTENSION walmon;

-- into a schema whose name needs quoting
CREATE SCHEMA "Walmon Schema";
CREATE EXTENSION walmon SCHEMA "Walmon Schema";
SELECT e.extname, n.nspname, e.extrelocatable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'walmon';
SELECT "Walmon Schema".walmon_add_source('q', id => 7);
SELECT "Walmon Schema".walmon_add_source('r');
SELECT id, source_id, wal_lsn FROM "Walmon Schema".walmon_upsert(7, '0/3');
SELECT source_id, wal_lsn FROM "Walmon Schema".walmon_upsert_batch('[{"source_id": 8, "wal_lsn": "0/4"}]');
SELECT source_id FROM "Walmon Schema".walmon_status();
SELECT "Walmon Schema".walmon_drop_source(8);
-- nothing was left behind in public
SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname ~ '^wal';
-- not relocatable
ALTER EXTENSION walmon SET SCHEMA public;
-- and back into public: the session follows again
DROP EXTENSION walmon;
DROP SCHEMA "Walmon Schema";
CREATE EXTENSION walmon;
SELECT walmon_add_source('back');
SELECT id, source_id FROM walmon_upsert(1);

-- DROP EXTENSION removes everything it created
DROP EXTENSION walmon;
SELECT count(*) AS leftovers FROM pg_class WHERE relname ~ '^(wal_monitor|walmon_)';
SELECT count(*) AS leftovers FROM pg_proc WHERE proname LIKE 'walmon%';
