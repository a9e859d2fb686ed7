--
-- walmon_history_trigger writes history and sends alerts as walmon's owner:
-- it serves walmon's own wal_monitor and nothing else, whoever attaches it
-- and to whatever table.  Only the owner may execute it, but a broad grant
-- (GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA) must not change that.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a');
SELECT status FROM walmon_upsert(1, '0/1');
CREATE TEMP TABLE server AS SELECT pg_postmaster_start_time() AS started;

-- nobody but the owner may execute it
SELECT r.rolname, has_function_privilege(r.oid, 'walmon_history_trigger()', 'EXECUTE')
FROM pg_roles r WHERE r.rolname IN ('pg_monitor', 'pg_read_all_data')
ORDER BY 1;

CREATE ROLE regress_walmon_attacker;
CREATE SCHEMA regress_attack AUTHORIZATION regress_walmon_attacker;
-- the careless broad grant
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO regress_walmon_attacker;
GRANT USAGE ON SCHEMA public TO regress_walmon_attacker;

SET ROLE regress_walmon_attacker;
-- a look-alike table: forged history and alerts are refused
CREATE TABLE regress_attack.fake (id int, source_id int, status text,
	error_message text, wal_lsn pg_lsn, replication_lag_bytes bigint,
	created_at timestamptz DEFAULT now());
CREATE TRIGGER forge AFTER INSERT OR UPDATE ON regress_attack.fake
	FOR EACH ROW EXECUTE FUNCTION public.walmon_history_trigger();
SELECT * FROM regress.try($$INSERT INTO regress_attack.fake (source_id, status, error_message) VALUES (1, 'ERROR', 'forged')$$);
-- a table whose status is not text: refused the same way, never a crash
CREATE TABLE regress_attack.odd (source_id int, status int, error_message int,
	wal_lsn int, replication_lag_bytes int);
CREATE TRIGGER forge AFTER INSERT ON regress_attack.odd
	FOR EACH ROW EXECUTE FUNCTION public.walmon_history_trigger();
SELECT * FROM regress.try($$INSERT INTO regress_attack.odd VALUES (1, 42, 42, 42, 42)$$);
-- not as a trigger at all
SELECT * FROM regress.try($$SELECT public.walmon_history_trigger()$$);
RESET ROLE;

-- a superuser attaching it to another table is refused too, and fired the
-- wrong way (BEFORE, FOR EACH STATEMENT) it says how it must be fired
CREATE TABLE regress_other (source_id int, status text);
CREATE TRIGGER t AFTER INSERT ON regress_other
	FOR EACH ROW EXECUTE FUNCTION walmon_history_trigger();
SELECT * FROM regress.try($$INSERT INTO regress_other VALUES (1, 'ERROR')$$);
CREATE TRIGGER wrong BEFORE UPDATE ON wal_monitor
	FOR EACH STATEMENT EXECUTE FUNCTION walmon_history_trigger();
SELECT * FROM regress.try($$UPDATE wal_monitor SET status = 'IDLE'$$);
DROP TRIGGER wrong ON wal_monitor;

-- nothing was forged
SELECT source_id, old_status, new_status, error_message FROM wal_monitor_history ORDER BY id;
SELECT pg_postmaster_start_time() = started AS same_server FROM server;

DROP TABLE regress_other;
DROP SCHEMA regress_attack CASCADE;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM regress_walmon_attacker;
REVOKE ALL ON SCHEMA public FROM regress_walmon_attacker;
DROP ROLE regress_walmon_attacker;
DROP EXTENSION walmon;
