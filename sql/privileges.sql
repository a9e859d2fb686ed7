--
-- Privileges (contract section 7): PUBLIC gets nothing, pg_monitor reads,
-- and EXECUTE on a write function is all a role needs to use it.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a'), walmon_add_source('b');
SELECT source_id FROM walmon_upsert(1);

CREATE ROLE regress_walmon_nobody;
CREATE ROLE regress_walmon_app;
CREATE ROLE regress_walmon_reader IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION walmon_upsert(integer, pg_lsn, bigint, timestamptz,
	timestamptz, text, bigint, text, text) TO regress_walmon_app;

-- no walmon function or table grants anything to PUBLIC
SELECT p.oid::regprocedure AS function
FROM pg_proc p, aclexplode(p.proacl) a
WHERE p.proname LIKE 'walmon%' AND a.grantee = 0;
SELECT c.relname, a.privilege_type
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.relnamespace = 'public'::regnamespace AND c.relname ~ '^(wal|walmon)_' AND a.grantee = 0;
-- every function has an ACL (none runs on the default, which includes PUBLIC)
SELECT p.oid::regprocedure AS function_without_acl
FROM pg_proc p WHERE p.proname LIKE 'walmon%' AND p.proacl IS NULL;

-- what each role may do, function by function: a role with nothing (as
-- PUBLIC), one granted walmon_upsert, a pg_monitor member, and the owner
-- (the role that created the extension)
CREATE TEMP VIEW matrix_roles AS
SELECT rolname, oid, CASE WHEN rolname = current_user THEN 'owner' ELSE rolname END AS who
FROM pg_roles
WHERE rolname IN ('regress_walmon_nobody', 'regress_walmon_app', 'regress_walmon_reader', current_user);
SELECT p.oid::regprocedure AS function,
       string_agg(r.who || '=' || CASE WHEN has_function_privilege(r.oid, p.oid, 'EXECUTE') THEN 'X' ELSE '-' END,
                  ' ' ORDER BY r.who) AS execute
FROM pg_proc p, matrix_roles r
WHERE p.proname LIKE 'walmon%'
GROUP BY p.oid ORDER BY p.oid::regprocedure::text;

-- any SECURITY DEFINER function of the extension pins its search_path
SELECT p.oid::regprocedure AS unpinned_security_definer
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- and table by table (r = SELECT, w = INSERT/UPDATE/DELETE)
SELECT c.relname,
       string_agg(r.who || '=' ||
                  CASE WHEN has_table_privilege(r.oid, c.oid, 'SELECT') THEN 'r' ELSE '-' END ||
                  CASE WHEN has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE') THEN 'w' ELSE '-' END,
                  ' ' ORDER BY r.who) AS privileges
FROM pg_class c, matrix_roles r
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
GROUP BY c.relname ORDER BY 1;

-- a role with nothing: 42501 for every function and table
SET ROLE regress_walmon_nobody;
SELECT stmt, t.state, t.message
FROM (VALUES ($$SELECT walmon_upsert(1)$$), ($$SELECT walmon_status(1)$$),
	($$SELECT walmon_status()$$), ($$SELECT walmon_set_status(1, 'IDLE')$$),
	($$SELECT walmon_delete(1)$$), ($$SELECT walmon_add_source('x')$$),
	($$SELECT walmon_drop_source(1)$$), ($$SELECT walmon_upsert_batch('[]')$$),
	($$SELECT * FROM wal_monitor$$), ($$SELECT * FROM walmon_source$$),
	($$SELECT * FROM wal_monitor_history$$)) v(stmt), LATERAL regress.try(stmt) t;
RESET ROLE;

-- EXECUTE on walmon_upsert is enough to upsert, with no table privilege...
SET ROLE regress_walmon_app;
SELECT source_id, wal_lsn, status FROM walmon_upsert(2, '0/42', status => 'idle');
SELECT source_id FROM walmon_upsert(1, '0/43');
-- ...and grants nothing else
SELECT stmt, t.state, t.message
FROM (VALUES ($$SELECT * FROM wal_monitor$$),
	($$UPDATE wal_monitor SET status = 'ERROR'$$),
	($$SELECT walmon_set_status(1, 'IDLE')$$),
	($$SELECT walmon_add_source('x')$$),
	($$SELECT walmon_status()$$)) v(stmt), LATERAL regress.try(stmt) t;
RESET ROLE;
SELECT source_id, wal_lsn, status FROM wal_monitor ORDER BY source_id;

-- pg_monitor members read tables and status, and write nothing
SET ROLE regress_walmon_reader;
SELECT source_id, wal_lsn, status FROM walmon_status();
SELECT source_id, status FROM walmon_status(2);
SELECT count(*) FROM wal_monitor;
SELECT count(*) FROM walmon_source;
SELECT count(*) FROM wal_monitor_history;
SELECT stmt, t.state, t.message
FROM (VALUES ($$SELECT walmon_upsert(1)$$), ($$DELETE FROM wal_monitor$$),
	($$SELECT walmon_delete(1)$$)) v(stmt), LATERAL regress.try(stmt) t;
RESET ROLE;

-- how a DBA grants an application role the write functions
GRANT EXECUTE ON FUNCTION walmon_set_status(integer, text, text),
	walmon_upsert_batch(jsonb) TO regress_walmon_app;
SET ROLE regress_walmon_app;
SELECT source_id, status FROM walmon_set_status(1, 'error', 'replica down');
SELECT source_id, status FROM walmon_upsert_batch('[{"source_id": 2}]');
RESET ROLE;

DROP EXTENSION walmon;
DROP ROLE regress_walmon_nobody, regress_walmon_app, regress_walmon_reader;
