SELECT count(*) FROM pg_create_physical_replication_slot('soak_' || :client_id, true);
SELECT walmon_refresh();
SELECT pg_drop_replication_slot('soak_' || :client_id);
