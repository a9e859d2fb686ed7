#!/usr/bin/env bash
#
# bench/cycle_profile.sh: CPU instructions of one worker cycle with N
# physical replication slots (default 1,000), every row changed, counted by
# valgrind's callgrind on a single-user backend: deterministic, where the
# milliseconds of `make bench` vary with whatever else the machine does.
# Not part of `make bench`; bench/README.md ("Profiling the cycle") says how
# to read it.
#
#   bash bench/cycle_profile.sh              # 1,000 slots
#   CYCLE_SLOTS=100 bash bench/cycle_profile.sh
#
# How: a template cluster holds N slots and walmon with every slot's row
# (one cycle ran).  Two copies of it run one single-user backend each under
# callgrind, fed CYCLE_WARMUP, then CYCLE_WARMUP + CYCLE_COUNT times the
# pair "pg_logical_emit_message() (foreign WAL: every slot's lag changes);
# walmon_refresh()".  The difference of the two totals, divided by
# CYCLE_COUNT, is one cycle that rewrites and samples every row, with its
# commit, and nothing of the backend's start or its first cycles' catalog
# and plan loading.  The top functions by inclusive cost come the same way.
#
# Settings (environment): CYCLE_SLOTS (1000), CYCLE_WARMUP (10),
# CYCLE_COUNT (20), CYCLE_TOP (25), CYCLE_OUT
# (bench/results/cycle_profile.md), PG_CONFIG.

set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"

CYCLE_SLOTS=${CYCLE_SLOTS:-1000}
CYCLE_WARMUP=${CYCLE_WARMUP:-10}
CYCLE_COUNT=${CYCLE_COUNT:-20}
CYCLE_TOP=${CYCLE_TOP:-25}
for v in CYCLE_SLOTS CYCLE_WARMUP CYCLE_COUNT CYCLE_TOP; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
out=${CYCLE_OUT:-$WALMON_TOP/bench/results/cycle_profile.md}

walmon_install_deps
walmon_install_valgrind
walmon_build_install
bindir=$("$(walmon_pg_config)" --bindir)

dir=$(walmon_scratch_dir cycle-profile)
cleanup() {
	walmon_cluster_stop "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "template cluster with $CYCLE_SLOTS slots in $dir/data"
walmon_cluster_start "$dir" 54341 <<CONF
max_replication_slots = $((CYCLE_SLOTS + 10))
fsync = off
autovacuum = off
walmon.enabled = off
CONF
p() { walmon_psql "$dir" 54341 "$@"; }
p -c "CREATE EXTENSION walmon" \
	-c "SELECT count(pg_create_physical_replication_slot('bench_' || g, true)) FROM generate_series(1, $CYCLE_SLOTS) AS g" \
	-c "SELECT walmon_refresh()" >/dev/null
rows=$(p -A -t -c "SELECT count(*) FROM wal_monitor")
[ "$rows" -eq "$CYCLE_SLOTS" ] || die "expected $CYCLE_SLOTS monitor rows, got $rows"
pg_version=$(p -A -t -c "SELECT version()")
walmon_cluster_stop "$dir"

# run CYCLES: callgrind of a single-user backend running CYCLES cycles on a
# copy of the template; prints the callgrind file
run() {
	local n=$1 copy=$dir/run-$1
	rm -rf "$copy"
	cp -a "$dir/data" "$copy"
	rm -f "$copy/postmaster.pid"
	for ((i = 0; i < n; i++)); do
		echo "SELECT pg_catalog.pg_logical_emit_message(false, 'walmon-bench', 'x')"
		echo "SELECT walmon_refresh()"
	done >"$dir/cycles-$n.sql"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/cycles-$n.sql"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$n" \
		--dump-instr=no --collect-jumps=no \
		"$bindir/postgres" --single -D "$copy" -c exit_on_error=on \
		-c walmon.enabled=off postgres <"$dir/cycles-$n.sql" >"$dir/cycles-$n.out" 2>&1 ||
		{ tail -n 20 "$dir/cycles-$n.out" >&2; die "the single-user backend failed"; }
	# every cycle rewrote every row
	written=$(grep -c "walmon_refresh = \"$CYCLE_SLOTS\"" "$dir/cycles-$n.out" || true)
	[ "$written" -eq "$n" ] || die "$written of $n cycles rewrote all $CYCLE_SLOTS rows"
	rm -rf "$copy"
	echo "$dir/callgrind.$n"
}

# costs FILE: "Ir<TAB>function" for every function, inclusive
costs() {
	(cd / && callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$1") | awk '
		/^-+$/ { next }
		/PROGRAM TOTALS/ { ir = $1; gsub(/,/, "", ir); print ir "\tPROGRAM TOTALS"; next }
		/file:function/ { body = 1; next }
		body && /^ *[0-9,]+ / {
			ir = $1; gsub(/,/, "", ir)
			f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f)
			sub(/ \[[^]]*\]$/, "", f); sub(/^.*:/, "", f)
			if (!(f in seen) || ir > seen[f]) seen[f] = ir
		}
		END { for (f in seen) printf "%s\t%s\n", seen[f], f }'
}

say "callgrind: $CYCLE_WARMUP and $((CYCLE_WARMUP + CYCLE_COUNT)) cycles"
base=$(run "$CYCLE_WARMUP")
full=$(run "$((CYCLE_WARMUP + CYCLE_COUNT))")
costs "$base" >"$dir/base.tsv"
costs "$full" >"$dir/full.tsv"
mkdir -p "$(dirname "$out")"
{
	echo "# walmon: instructions of one refresh cycle"
	echo
	echo "- $pg_version; commit $(git -C "$WALMON_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- command: \`CYCLE_SLOTS=$CYCLE_SLOTS CYCLE_WARMUP=$CYCLE_WARMUP CYCLE_COUNT=$CYCLE_COUNT bash bench/cycle_profile.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	total=$(awk -F'\t' -v n="$CYCLE_COUNT" 'FNR == NR { b[$2] = $1; next }
		$2 == "PROGRAM TOTALS" { printf "%.1f", ($1 - b[$2]) / n / 1e6 }' "$dir/base.tsv" "$dir/full.tsv")
	echo "One cycle at $CYCLE_SLOTS physical slots, every row changed: **${total}M instructions**"
	echo "((those of $((CYCLE_WARMUP + CYCLE_COUNT)) cycles - those of $CYCLE_WARMUP) / $CYCLE_COUNT)."
	echo
	echo "| instructions per cycle (inclusive) | function |"
	echo "|--:|---|"
	awk -F'\t' -v n="$CYCLE_COUNT" 'FNR == NR { b[$2] = $1; next }
		{ printf "%.0f\t%s\n", ($1 - b[$2]) / n, $2 }' "$dir/base.tsv" "$dir/full.tsv" |
		grep -Ev $'\t(PROGRAM TOTALS|\\?\\?\\?.*|0x[0-9a-f]+.*|\\(below main\\)|main|__libc_start_main.*|PostgresMain|PostgresSingleUserMain|PortalRun|ExecutorRun|standard_ExecutorRun|ExecInterpExprStillValid)$' |
		sort -t$'\t' -k1,1nr |
		awk -F'\t' -v top="$CYCLE_TOP" 'NR <= top { printf "| %.1fM | `%s` |\n", $1 / 1e6, $2 }'
} >"$out"
cat "$out"
