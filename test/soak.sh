#!/usr/bin/env bash
#
# test/soak.sh (make soak): a bounded soak of walmon, minutes long, not part
# of CI.  Many pgbench clients mix upserts, batches, status changes,
# deletes, source churn, reads, manual refresh cycles and replication slots
# created and dropped, while the worker runs every 200 ms.  At the end:
# zero errors (pgbench and server log), one row per source, and a history
# consistent with the final states (test/soak/checks.sql).
#
#   SOAK_SECONDS (default 180), SOAK_CLIENTS (default 8)

set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

seconds=${SOAK_SECONDS:-180}
clients=${SOAK_CLIENTS:-8}
port=54333
dir=$(walmon_scratch_dir soak)
trap 'walmon_cluster_stop "$dir"' EXIT

walmon_install_deps
walmon_build_install
bindir=$("$(walmon_pg_config)" --bindir)

say "cluster in $dir"
walmon_cluster_start "$dir" "$port" <<CONF
walmon.naptime = '200ms'
walmon.metrics_interval = '1s'
max_connections = 50
log_min_messages = warning
CONF
walmon_psql "$dir" "$port" <<'SQL'
CREATE EXTENSION walmon;
SELECT count(walmon_add_source('soak_source_' || g, id => g)) FROM generate_series(1, 50) g;
SELECT count(*) FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', g)) FROM generate_series(1, 50) g));
SQL

cp -r "$WALMON_TOP/test/soak" "$dir/scripts"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir/scripts"
s=$dir/scripts
say "soak: $clients clients for $seconds s"
as_pg "$bindir/pgbench" -n -h "$dir" -p "$port" -U postgres -c "$clients" -j 2 -T "$seconds" \
	-f "$s/upsert.sql@20" -f "$s/batch.sql@5" -f "$s/status.sql@5" -f "$s/delete.sql@3" \
	-f "$s/sources.sql@2" -f "$s/read.sql@3" -f "$s/refresh.sql@1" -f "$s/slots.sql@1" \
	postgres >"$dir/pgbench.log" 2>&1 || true

failures=0
grep -E '^(number of transactions actually processed|number of failed transactions|latency average|tps)' "$dir/pgbench.log" || true
if grep -qE 'aborted|ERROR' "$dir/pgbench.log"; then
	echo "pgbench reported errors:"
	grep -E 'aborted|ERROR' "$dir/pgbench.log" | head -20
	failures=$((failures + 1))
fi
# (autovacuum logs its own cancellation, when a lock request preempts it,
# as an ERROR: that is PostgreSQL working as designed, not a failure)
errors=$(grep -E '(ERROR|FATAL|PANIC):' "$dir/server.log" | grep -v 'canceling autovacuum task' || true)
if [ -n "$errors" ]; then
	echo "the server log has errors:"
	echo "$errors" | sort | uniq -c | sort -rn | head -20
	failures=$((failures + 1))
fi

say "checks"
while IFS= read -r line; do
	case $line in
		t) echo "   ok" ;;
		f) echo "   FAILED"; failures=$((failures + 1)) ;;
		*) echo "$line" ;;
	esac
done < <(walmon_psql "$dir" "$port" -f "$s/checks.sql")
walmon_psql "$dir" "$port" -c "SELECT count(*) AS monitors, (SELECT count(*) FROM wal_monitor_history) AS history_rows, (SELECT count(*) FROM wal_metrics) AS samples FROM wal_monitor"

echo
if [ $failures -eq 0 ]; then
	echo "soak: 0 failures"
else
	echo "soak: $failures failures (cluster kept in $dir)"
	trap - EXIT
	walmon_cluster_stop "$dir"
	exit 1
fi
rm -rf "$dir"
