--
-- search_path safety (contract section 7): look-alike functions and
-- operators in a schema placed before pg_catalog must not run inside a
-- walmon call or change its result.
--
CREATE EXTENSION walmon;
SELECT walmon_add_source('a'), walmon_add_source('b');

CREATE ROLE regress_walmon_attacker;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO regress_walmon_attacker;
CREATE SCHEMA evil AUTHORIZATION regress_walmon_attacker;

SET ROLE regress_walmon_attacker;
-- every trap says so, and returns something wrong
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: now()'; RETURN '1999-01-01 00:00:00+00'; END$$;
CREATE FUNCTION evil.upper(text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: upper()'; RETURN 'ERROR'; END$$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: lower()'; RETURN 'error'; END$$;
CREATE FUNCTION evil.setval(regclass, bigint) RETURNS bigint LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: setval()'; RETURN 0; END$$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: nextval()'; RETURN 1; END$$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: length()'; RETURN 0; END$$;
CREATE FUNCTION evil.jsonb_array_elements(jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: jsonb_array_elements()'; END$$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: jsonb_typeof()'; RETURN 'object'; END$$;
CREATE FUNCTION evil.int_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: integer = integer'; RETURN true; END$$;
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_eq);
CREATE FUNCTION evil.int_lt(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: integer < integer'; RETURN $1 > $2; END$$;
CREATE OPERATOR evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int_lt);
CREATE FUNCTION evil.int8_gt(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: bigint > bigint'; RETURN true; END$$;
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_gt);
CREATE FUNCTION evil.int8_minus(bigint, integer) RETURNS bigint LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: bigint - integer'; RETURN 0; END$$;
CREATE OPERATOR evil.- (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.int8_minus);
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE 'trap: text = text'; RETURN true; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
-- look-alike tables too
CREATE TABLE evil.wal_monitor (id integer, source_id integer, status text);
CREATE TABLE evil.walmon_source (id integer, name text, slot_name name);

SET search_path = evil, pg_catalog, public;

-- control: the traps do fire on unqualified SQL
SELECT 1 = 1 AS hijacked, now() AS fake_now;

-- the attacker calling walmon: no trap fires, results are right
SELECT source_id, wal_lsn, wal_position, status,
       pg_catalog.date_part('year', updated_at) OPERATOR(pg_catalog.>) 2000 AS real_now
FROM public.walmon_upsert(1, '0/10', status => 'idle');
SELECT source_id, wal_lsn, status FROM public.walmon_upsert(1, '0/20');
SELECT source_id, status FROM public.walmon_set_status(1, 'error', 'x');
SELECT source_id, status FROM public.walmon_status(1);
SELECT source_id FROM public.walmon_status();
SELECT source_id, wal_lsn FROM public.walmon_upsert_batch('[{"source_id": 2, "wal_lsn": "0/30"}, {"source_id": 1}]');
SELECT public.walmon_add_source('c', 'c_slot', 10) AS with_id, public.walmon_add_source('d') AS generated;
SELECT public.walmon_delete(2) AS deleted, public.walmon_drop_source(10) AS dropped;
-- nothing reached the look-alike tables
SELECT (SELECT count(*) FROM evil.wal_monitor) AS evil_monitors,
       (SELECT count(*) FROM evil.walmon_source) AS evil_sources;
RESET ROLE;

-- a superuser with the attacker's schema first is just as safe
SET search_path = evil, pg_catalog, public;
SELECT source_id, wal_lsn, status FROM public.walmon_upsert(1, '0/40');
SELECT public.walmon_add_source('e', id => 20) AS with_id;
SELECT source_id, status FROM public.walmon_upsert_batch('[{"source_id": 20}]');
RESET search_path;

SELECT source_id, wal_lsn, status FROM walmon_status();
SELECT id, name, slot_name FROM walmon_source ORDER BY id;
SELECT last_value FROM walmon_source_id_seq;

DROP EXTENSION walmon;
DROP SCHEMA evil CASCADE;
DROP ROLE regress_walmon_attacker;
