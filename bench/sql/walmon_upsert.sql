\set sid random(1, :sources)
SELECT * FROM walmon_upsert(:sid, '0/1A2B3C4D', NULL, NULL, NULL, 'slot_a', 1024, 'ACTIVE', NULL);
