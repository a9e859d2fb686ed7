\set s random(41, 50)
SELECT walmon_delete(:s);
SELECT source_id FROM walmon_upsert(:s, status => 'idle');
