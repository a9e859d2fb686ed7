#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# bench/profile.sh: CPU instructions per call of walmon_upsert and of the
# statements the benchmark compares it with, counted by valgrind's callgrind
# on one single-user backend (`postgres --single`): deterministic, unlike
# wall-clock figures on a shared machine.  Not part of `make bench`;
# bench/README.md ("Profiling") says how to read it.
#
#   bash bench/profile.sh                       # walmon raw_own bare counter batch raw_set
#   bash bench/profile.sh walmon bare           # some of them
#   PROFILE_CALLS=5000 bash bench/profile.sh    # more calls per contender
#
# Contenders (each one the statement of the benchmark's pgbench script, so
# both measure the same thing):
#   walmon    bench/sql/walmon_upsert.sql        SELECT * FROM walmon_upsert(...)
#   raw_own   bench/sql/raw_upsert.sql           INSERT ... ON CONFLICT on walmon's table
#   bare      bench/sql/bare_update.sql          the UPDATE walmon runs, on a copy of
#                                                wal_monitor without CHECKs, FK, triggers
#   counter   bench/sql/counter_update.sql       UPDATE of one int by primary key
#   raw_orig  bench/sql/orig_raw_upsert.sql      the raw statement on the original schema
#   plpgsql   bench/sql/orig_plpgsql_upsert.sql  the original design's service, in PL/pgSQL
#   batch     bench/sql/batch_upsert.sql         walmon_upsert_batch of 1,000 elements
#   raw_set   bench/sql/raw_batch_upsert.sql     set-based INSERT ... SELECT FROM unnest(...)
#                                                ON CONFLICT of 1,000 rows
#
# How: a template cluster holds walmon with sources 1..1000 that all have
# their row, the original design's schema and the limits (the benchmark's
# SQL files).  For each contender, two copies of it run one single-user
# backend each under callgrind, fed PREPARE and then EXECUTE statements on
# standard input (sources 1..100 in turn): one with PROFILE_WARMUP
# executions, one with PROFILE_WARMUP + N.  The difference of the two,
# divided by N, is the cost of one call with everything around it (parsing
# the EXECUTE, the executor, formatting the returned row, commit), and
# nothing of the backend's start, the first calls' catalog and plan cache
# loading or its shutdown.  The same difference per function, from
# callgrind_annotate, gives the top functions by inclusive and self cost.
#
# Settings (environment):
#   PROFILE_CALLS        calls per contender (2000)
#   PROFILE_BATCH_CALLS  calls of the batch contenders, 1,000 rows each (20)
#   PROFILE_WARMUP       calls before the counted ones (50; 3 for batches)
#   PROFILE_TOP          functions listed per contender and cost (15)
#   PROFILE_OUT          the report (bench/results/profile.md)
#   PROFILE_KEEP         1: keep the scratch directory (callgrind files)
#   PG_CONFIG            the PostgreSQL to build and run against
#
# The rows returned are printed by the single-user backend to its standard
# output (debugtup: each column through its output function, as printtup
# does for a client, without the socket).  synchronous_commit is on, fsync
# off: the WAL flush's system calls are not instructions of the backend.

set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"

PROFILE_CALLS=${PROFILE_CALLS:-2000}
PROFILE_BATCH_CALLS=${PROFILE_BATCH_CALLS:-20}
PROFILE_WARMUP=${PROFILE_WARMUP:-50}
PROFILE_TOP=${PROFILE_TOP:-15}
SOURCES=100
BATCH_SIZE=1000

for v in PROFILE_CALLS PROFILE_BATCH_CALLS PROFILE_WARMUP PROFILE_TOP; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done

declare -A script_of=(
	[walmon]=walmon_upsert.sql
	[raw_own]=raw_upsert.sql
	[bare]=bare_update.sql
	[counter]=counter_update.sql
	[raw_orig]=orig_raw_upsert.sql
	[plpgsql]=orig_plpgsql_upsert.sql
	[batch]=batch_upsert.sql
	[raw_set]=raw_batch_upsert.sql
)
if [ $# -gt 0 ]; then
	contenders=("$@")
else
	contenders=(walmon raw_own bare counter batch raw_set)
fi
for c in "${contenders[@]}"; do
	[ -n "${script_of[$c]:-}" ] || die "unknown contender '$c' (one of: ${!script_of[*]})"
done

sqldir=$WALMON_TOP/bench/sql
out=${PROFILE_OUT:-$WALMON_TOP/bench/results/profile.md}

walmon_install_deps
walmon_install_valgrind
walmon_build_install
bindir=$("$(walmon_pg_config)" --bindir)

dir=$(walmon_scratch_dir profile)
cleanup() {
	walmon_cluster_stop "$dir"
	if [ "${PROFILE_KEEP:-0}" = 1 ]; then
		echo "kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$dir"

# ---------------------------------------------------------------------------
# The template: the benchmark's schema, every row there already, so that
# every counted call updates.

say "template cluster in $dir/data"
walmon_cluster_start "$dir" 54339 <<CONF
fsync = off
autovacuum = off
walmon.enabled = off
CONF
cp "$sqldir"/*.sql "$dir/"
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"/*.sql
p() { walmon_psql "$dir" 54339 "$@"; }
p -c "CREATE EXTENSION walmon" \
	-c "SELECT count(walmon_add_source('source ' || g, NULL, g)) FROM generate_series(1, $BATCH_SIZE) AS g" \
	-c "SELECT count(*) FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', g, 'wal_lsn', '0/1A2B3C4D'))
		FROM generate_series(1, $BATCH_SIZE) AS g))" >/dev/null
p -f "$dir/orig_schema.sql" >/dev/null
p -c "INSERT INTO orig.sources (name) SELECT 'source ' || g FROM generate_series(1, $BATCH_SIZE) AS g" \
	-c "SELECT count(orig.upsert_monitor(g, '0/1A2B3C4D')) FROM generate_series(1, $BATCH_SIZE) AS g" >/dev/null
# the copy holds every source's row, as wal_monitor does here (same size, same plans)
p -v sources="$BATCH_SIZE" -f "$dir/limits_schema.sql" >/dev/null
p -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
pg_version=$(p -A -t -c "SELECT version()")

# script_parts SCRIPT: from a pgbench script, the statement (one line, its
# variables as $1, $2, ... in order of appearance), the names of those
# variables, the query of its \if :loaded = 0 block (which sets variables
# with \gset) and the variable its \set ... random(1, N) draws with N
#   -> four lines: statement, variables, setup query, "name N"
script_parts() {
	awk -v sources="$SOURCES" '
	/^\\if / { inif = 1; next }
	/^\\endif/ { inif = 0; next }
	/^\\set / { if (match($0, /random\(1, *[^)]*\)/)) {
			n = substr($0, RSTART + 10, RLENGTH - 11); gsub(/ /, "", n)
			sub(/^:sources$/, sources, n); rnd = $2 " " n }
		next }
	/^--/ || /^[ \t]*$/ { next }
	inif { sub(/ *\\gset *$/, ""); setup = setup " " $0; next }
	{ stmt = stmt " " $0 }
	END {
		# :name -> $k, but not the casts (::type)
		out = ""; nv = 0; s = stmt
		while ((i = index(s, ":")) > 0) {
			out = out substr(s, 1, i - 1)
			if (substr(s, i + 1, 1) == ":") { out = out "::"; s = substr(s, i + 2); continue }
			if (match(substr(s, i + 1), /^[A-Za-z_][A-Za-z0-9_]*/)) {
				name = substr(s, i + 1, RLENGTH)
				if (!(name in k)) { k[name] = ++nv; vars = vars (nv > 1 ? " " : "") name }
				out = out "$" k[name]; s = substr(s, i + 1 + RLENGTH); continue
			}
			out = out ":"; s = substr(s, i + 1)
		}
		out = out s
		sub(/^ +/, "", out); sub(/ *; *$/, "", out); sub(/^ +/, "", setup)
		print out; print vars; print setup; print rnd
	}' "$1"
}

# inputs CONTENDER CALLS: the single-user input of CALLS executions
inputs() {
	local c=$1 calls=$2 stmt vars setup rnd args i name n
	{ read -r stmt; read -r vars; read -r setup; read -r rnd; } < <(script_parts "$sqldir/${script_of[$c]}")
	echo "PREPARE p AS $stmt"
	if [ -n "$setup" ]; then
		# the variables come from the script's setup query, as constants
		args=$(p -A -t -v batch_size="$BATCH_SIZE" -v sources="$SOURCES" <<SQL
SELECT string_agg(pg_catalog.quote_literal(j ->> v), ', ' ORDER BY o)
FROM (SELECT pg_catalog.row_to_json(s)::jsonb AS j FROM ($setup) AS s) AS t,
     unnest(string_to_array('$vars', ' ')) WITH ORDINALITY AS u(v, o);
SQL
)
		for ((i = 0; i < calls; i++)); do echo "EXECUTE p($args)"; done
	else
		read -r name n <<<"$rnd"
		[ "$vars" = "$name" ] || die "${script_of[$c]}: cannot bind variables '$vars'"
		for ((i = 0; i < calls; i++)); do echo "EXECUTE p($((i % n + 1)))"; done
	fi
}

# callgrind CONTENDER TAG: one single-user backend on a fresh copy of the
# template, fed $dir/CONTENDER-TAG.sql; prints the callgrind file
callgrind() {
	local c=$1 tag=$2 copy=$dir/run-$1-$2
	rm -rf "$copy"
	cp -a "$dir/data" "$copy"
	rm -f "$copy/postmaster.pid"
	as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$c.$tag" \
		--dump-instr=no --collect-jumps=no \
		"$bindir/postgres" --single -D "$copy" -c exit_on_error=on postgres \
		<"$dir/$c-$tag.sql" >"$dir/$c-$tag.out" 2>&1 ||
		{ tail -n 20 "$dir/$c-$tag.out" >&2; die "$c: the single-user backend failed"; }
	rm -rf "$copy"
	echo "$dir/callgrind.$c.$tag"
}

# costs FILE [inclusive]: "Ir<TAB>function (object)" for every function
costs() {
	# from /: callgrind_annotate names a function twice when its source file
	# is found from the working directory
	(cd / && callgrind_annotate --auto=no --threshold=100 ${2:+--inclusive=yes} "$1") | awk '
		/^-+$/ { next }
		/file:function/ { body = 1; next }
		body && /^ *[0-9,]+ / {
			ir = $1; gsub(/,/, "", ir)
			f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f)
			obj = ""
			if (match(f, / \[[^]]*\]$/)) { obj = substr(f, RSTART + 2, RLENGTH - 3); f = substr(f, 1, RSTART - 1) }
			sub(/.*\//, "", obj)
			sub(/^.*:/, "", f)
			printf "%s\t%s (%s)\n", ir, f, obj
		}'
}

# total FILE: the program's total Ir
total() {
	(cd / && callgrind_annotate --auto=no "$1") | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1 }'
}

# top BASE FULL CALLS [inclusive]: the PROFILE_TOP functions by the
# difference of their cost, per call, as markdown rows
top() {
	local base=$1 full=$2 calls=$3 inc=${4:-} per_call=$5
	awk -F'\t' -v calls="$calls" -v top="$PROFILE_TOP" -v whole="$per_call" '
		FNR == NR { b[$2] = $1; next }
		{ d[$2] = ($1 - b[$2]) / calls }
		END {
			# the frames around every statement (main, PostgresMain,
			# exec_simple_query ...) hold the whole call: left out
			for (f in d) if (d[f] >= 0.99 * whole) shown[f] = 1
			for (k = 1; k <= top; k++) {
				best = ""
				for (f in d) if (!(f in shown) && (best == "" || d[f] > d[best])) best = f
				if (best == "" || d[best] <= 0) break
				shown[best] = 1
				printf "| %s | %.0f | %.1f%% |\n", best, d[best], (whole > 0 ? 100 * d[best] / whole : 0)
			}
		}' <(costs "$base" "$inc") <(costs "$full" "$inc")
}

# ---------------------------------------------------------------------------

# the inputs, while the template runs (the setup queries need it)
declare -A per_call=() per_row=() calls_of=() warm_of=() rows_of=()
for c in "${contenders[@]}"; do
	rows_of[$c]=1 calls_of[$c]=$PROFILE_CALLS warm_of[$c]=$PROFILE_WARMUP
	if [[ $c == batch || $c == raw_set ]]; then
		rows_of[$c]=$BATCH_SIZE calls_of[$c]=$PROFILE_BATCH_CALLS
		((PROFILE_WARMUP > 3)) && warm_of[$c]=3
	fi
	inputs "$c" "${warm_of[$c]}" >"$dir/$c-base.sql"
	inputs "$c" "$((${warm_of[$c]} + ${calls_of[$c]}))" >"$dir/$c-full.sql"
done
walmon_cluster_stop "$dir"

details=""
for c in "${contenders[@]}"; do
	rows=${rows_of[$c]} calls=${calls_of[$c]} warm=${warm_of[$c]}
	say "$c: $warm and $((warm + calls)) calls of ${script_of[$c]} under callgrind"
	base=$(callgrind "$c" base)
	full=$(callgrind "$c" full)
	pc=$(awk -v a="$(total "$base")" -v b="$(total "$full")" -v n="$calls" 'BEGIN { printf "%.0f", (b - a) / n }')
	per_call[$c]=$pc
	per_row[$c]=$(awk -v a="$pc" -v r="$rows" 'BEGIN { printf "%.0f", a / r }')
	progress_line="$c: $pc instructions per call"
	((rows > 1)) && progress_line+=", ${per_row[$c]} per row"
	printf '  %s\n' "$progress_line" >&2
	details+=$'\n'"### $c: \`${script_of[$c]}\`, ${per_call[$c]} instructions per call"$'\n\n'
	details+="| function, inclusive | per call | share |"$'\n'"|---|--:|--:|"$'\n'
	details+=$(top "$base" "$full" "$calls" inclusive "$pc")$'\n\n'
	details+="| function, self | per call | share |"$'\n'"|---|--:|--:|"$'\n'
	details+=$(top "$base" "$full" "$calls" "" "$pc")$'\n'
done

mkdir -p "$(dirname "$out")"
{
	echo "# Instructions per call (callgrind)"
	echo
	echo "- $pg_version; walmon built from \`$(git -C "$WALMON_TOP" describe --always --dirty 2>/dev/null || echo '?')\`; $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- one single-user backend per run, \`PREPARE\` once, then \`EXECUTE\`; the difference between $PROFILE_WARMUP (batches: at most 3) and $PROFILE_WARMUP + N calls, divided by N; every call updates an existing row (sources 1..$SOURCES in turn; batches: 1..$BATCH_SIZE)"
	echo
	echo "| contender | statement | calls (N) | instructions per call | per row | ÷ walmon_upsert's per row |"
	echo "|---|---|--:|--:|--:|--:|"
	for c in "${contenders[@]}"; do
		r="–"
		[ -n "${per_row[walmon]:-}" ] && r=$(awk -v a="${per_row[$c]}" -v b="${per_row[walmon]}" 'BEGIN { printf "%.2f", a / b }')
		echo "| $c | \`${script_of[$c]}\` | ${calls_of[$c]} | ${per_call[$c]} | ${per_row[$c]} | $r |"
	done
	echo
	echo "## Top $PROFILE_TOP functions per contender"
	echo
	echo "Instructions per call (the difference of the two runs, divided by N) and their share of the call's total; inclusive counts a function with everything it calls. Functions that hold 99% or more of the call (main, PostgresMain, exec_simple_query ...) are left out."
	printf '%s' "$details"
} >"$out"
echo
cat "$out"
echo
echo "report: $out"
