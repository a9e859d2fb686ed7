\set s random(1, 40)
\set st random(0, 2)
SELECT source_id FROM walmon_set_status(:s, (ARRAY['ACTIVE', 'IDLE', 'ERROR'])[:st + 1], 'set by soak');
