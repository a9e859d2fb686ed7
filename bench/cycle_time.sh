#!/usr/bin/env bash
#
# bench/cycle_time.sh: how long one walmon refresh cycle takes with 10, 100
# and 1,000 physical replication slots.
#
# Builds nothing: walmon must be installed into the PostgreSQL of PG_CONFIG
# (default: pg_config on PATH).  Starts a throwaway cluster (as the postgres
# user when run as root), creates the slots, and times `SELECT
# walmon_refresh()` with psql's \timing, each call its own transaction, in
# three situations:
#
#   first    the first cycle: registers every slot and inserts its row
#   idle     nothing changed since the last cycle: reads, compares, writes
#            nothing (what the worker does on a quiet server)
#   changed  foreign WAL was written just before (not timed): every slot's
#            lag changed, so every row is rewritten
#
# Prints the median and the 90th percentile of each, in milliseconds, and
# writes them to bench/results/cycle_time.csv.  The worker is preloaded but
# disabled (walmon.enabled = off) so that only the timed calls run cycles.
#
# Usage: bench/cycle_time.sh [runs per size, default 50] [sizes, default "10 100 1000"]

set -euo pipefail

runs=${1:-50}
sizes=${2:-"10 100 1000"}
top=$(cd "$(dirname "$0")/.." && pwd)
pgc=${PG_CONFIG:-pg_config}
bindir=$("$pgc" --bindir)

# PostgreSQL refuses to run as root
if [ "$(id -u)" -eq 0 ]; then
	work=$(mktemp -d /tmp/walmon-bench.XXXXXX)
	chown postgres: "$work"
	cp "$0" "$work/cycle_time.sh"
	mkdir -p "$top/bench/results"
	runuser -u postgres -- env PG_CONFIG="$pgc" WALMON_BENCH_WORK="$work" \
		WALMON_BENCH_OUT="$work/cycle_time.csv" \
		bash "$work/cycle_time.sh" "$runs" "$sizes"
	cp "$work/cycle_time.csv" "$top/bench/results/cycle_time.csv"
	rm -rf "$work"
	exit 0
fi

work=${WALMON_BENCH_WORK:-$(mktemp -d /tmp/walmon-bench.XXXXXX)}
out=${WALMON_BENCH_OUT:-$top/bench/results/cycle_time.csv}
data=$work/data
port=$((50000 + RANDOM % 10000))

cleanup() {
	"$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
	[ -n "${WALMON_BENCH_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

"$bindir/initdb" -D "$data" -A trust -N >/dev/null
cat >>"$data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'walmon'
walmon.enabled = off
wal_level = replica
max_replication_slots = 1100
max_wal_senders = 10
fsync = off
autovacuum = off
EOF
"$bindir/pg_ctl" -D "$data" -l "$work/log" -w start >/dev/null

psql() { "$bindir/psql" -X -q -h "$work" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"; }

# "Time: 1.234 ms" lines -> sorted numbers -> "median p90"
stats() {
	sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan nan"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			p = v[int(NR * 0.9 + 0.999)]
			printf "%.2f %.2f\n", m, p
		}'
}

mkdir -p "$(dirname "$out")"
echo "slots,case,runs,median_ms,p90_ms" >"$out"
printf '%-7s %-8s %10s %10s\n' slots case median_ms p90_ms

for n in $sizes; do
	psql -c "DROP EXTENSION IF EXISTS walmon" \
		-c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" \
		-c "CREATE EXTENSION walmon" \
		-c "SELECT count(pg_create_physical_replication_slot('bench_' || g, true)) FROM generate_series(1, $n) g" \
		>/dev/null

	first=$(printf '\\timing on\nSELECT walmon_refresh();\n' | psql | stats)
	rows=$(psql -At -c "SELECT count(*) FROM wal_monitor")
	[ "$rows" -eq "$n" ] || { echo "expected $n rows, got $rows" >&2; exit 1; }

	idle=$(for _ in $(seq "$runs"); do
		printf '\\timing on\nSELECT walmon_refresh();\n'
	done | psql | stats)

	changed=$(for _ in $(seq "$runs"); do
		printf '\\timing off\nSELECT pg_logical_emit_message(true, %s, %s);\n' "'bench'" "'x'"
		printf '\\timing on\nSELECT walmon_refresh();\n'
	done | psql | stats)

	# the changed case must really have rewritten every row each time
	written=$(psql -At -c "SELECT pg_logical_emit_message(true, 'bench', 'x')" -c "SELECT walmon_refresh()" | tail -n 1)
	[ "$written" -eq "$n" ] || { echo "expected $n rows written, got $written" >&2; exit 1; }

	for c in first idle changed; do
		read -r med p90 <<<"${!c}"
		printf '%-7s %-8s %10s %10s\n' "$n" "$c" "$med" "$p90"
		echo "$n,$c,$([ "$c" = first ] && echo 1 || echo "$runs"),$med,$p90" >>"$out"
	done
done

echo "PostgreSQL: $("$bindir/postgres" --version); results in $out"
