\set sid random(1, :sources)
SELECT * FROM orig.upsert_monitor(:sid, '0/1A2B3C4D', 439041101, now()::timestamp, NULL, 'slot_a', 1024, 'ACTIVE', NULL);
