SELECT count(*) FROM walmon_status();
SELECT length(walmon_prometheus());
SELECT count(*) FROM walmon_overview;
