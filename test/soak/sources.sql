\set n random(1, 1000000)
SELECT walmon_drop_source(walmon_add_source('churn_' || :client_id || '_' || :n));
