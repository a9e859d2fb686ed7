-- One worker cycle after the WAL position moved: every slot's lag changed,
-- so every slot-bound row is rewritten (the worst case of a busy server).
SELECT pg_catalog.pg_logical_emit_message(false, 'walmon-bench', 'x');
SELECT walmon_refresh();
