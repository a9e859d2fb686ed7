-- One worker cycle when nothing changed since the previous one.
SELECT walmon_refresh();
