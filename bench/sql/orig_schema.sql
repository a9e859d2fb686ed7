-- bench/sql/orig_schema.sql: the original REST design's schema
-- (../shared/docs/original-design.md), in a schema of its own, "orig", so
-- that it sits beside walmon's tables in the benchmark database.
--
-- The wal_monitor DDL and its three indexes are copied from the design
-- unchanged.  The design references a "sources" table without showing it;
-- the one below is the smallest that fits (SERIAL id, unique name).
-- orig.upsert_monitor() does in PL/pgSQL what the design's service did per
-- request: check that the source exists, then run the repository's upsert.

CREATE SCHEMA orig;
SET search_path = orig;

CREATE TABLE sources (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL UNIQUE,
    created_at TIMESTAMP DEFAULT NOW()
);

-- from original-design.md, "Table: wal_monitor"
CREATE TABLE IF NOT EXISTS wal_monitor (
    id SERIAL PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    wal_lsn VARCHAR(255),           -- Log Sequence Number (e.g., '0/1A2B3C4D')
    wal_position BIGINT,            -- WAL position as numeric value
    last_wal_received TIMESTAMP,   -- Last time WAL data was received
    last_transaction_time TIMESTAMP, -- Last transaction timestamp
    replication_slot_name VARCHAR(255), -- Name of the replication slot
    replication_lag_bytes BIGINT,   -- Replication lag in bytes
    status VARCHAR(20) DEFAULT 'ACTIVE', -- 'ACTIVE', 'IDLE', 'ERROR'
    error_message TEXT,             -- Error details if any
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    CONSTRAINT unique_source_wal UNIQUE (source_id) -- Ensures 1 source = 1 row
);

-- Indexes for performance
CREATE INDEX idx_wal_monitor_source_id ON wal_monitor(source_id);
CREATE INDEX idx_wal_monitor_status ON wal_monitor(status);
CREATE INDEX idx_wal_monitor_last_received ON wal_monitor(last_wal_received);

-- The service: "Validates source exists before upsert", then the
-- repository's INSERT ... ON CONFLICT ... RETURNING.
CREATE FUNCTION upsert_monitor(
    p_source_id integer,
    p_wal_lsn varchar DEFAULT NULL,
    p_wal_position bigint DEFAULT NULL,
    p_last_wal_received timestamp DEFAULT NULL,
    p_last_transaction_time timestamp DEFAULT NULL,
    p_replication_slot_name varchar DEFAULT NULL,
    p_replication_lag_bytes bigint DEFAULT NULL,
    p_status varchar DEFAULT 'ACTIVE',
    p_error_message text DEFAULT NULL)
RETURNS wal_monitor
LANGUAGE plpgsql
AS $$
DECLARE
    result orig.wal_monitor;
BEGIN
    PERFORM 1 FROM orig.sources WHERE id = p_source_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Source % not found', p_source_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    INSERT INTO orig.wal_monitor AS w
        (source_id, wal_lsn, wal_position, last_wal_received,
         last_transaction_time, replication_slot_name,
         replication_lag_bytes, status, error_message)
    VALUES (p_source_id, p_wal_lsn, p_wal_position, p_last_wal_received,
            p_last_transaction_time, p_replication_slot_name,
            p_replication_lag_bytes, p_status, p_error_message)
    ON CONFLICT ON CONSTRAINT unique_source_wal DO UPDATE SET
        wal_lsn = EXCLUDED.wal_lsn,
        wal_position = EXCLUDED.wal_position,
        last_wal_received = EXCLUDED.last_wal_received,
        last_transaction_time = EXCLUDED.last_transaction_time,
        replication_slot_name = EXCLUDED.replication_slot_name,
        replication_lag_bytes = EXCLUDED.replication_lag_bytes,
        status = EXCLUDED.status,
        error_message = EXCLUDED.error_message,
        updated_at = NOW()
    RETURNING * INTO result;
    RETURN result;
END
$$;

RESET search_path;
