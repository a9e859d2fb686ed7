#!/usr/bin/env bash
#
# bench/run.sh: walmon's benchmark (`make bench`; bench/README.md explains
# every number).
#
# Builds and installs walmon, starts a throwaway cluster with walmon
# preloaded (as the postgres user, on a unix socket in its own directory
# only), measures, prints a markdown report and writes it, with a chart and
# the raw measurements, to bench/results/.  Every server it starts is
# stopped when it exits, however it exits.
#
# Settings (environment):
#   BENCH_SECONDS       seconds per measurement (10)
#   BENCH_ROUNDS        rounds of each comparison; contenders alternate
#                       within a round and their order reverses from one
#                       round to the next (2)
#   BENCH_CLIENTS       client counts of the throughput matrix ("1 2 4 8")
#   BENCH_UPSERTS       upserts before the HOT ratio and table sizes (1000000)
#   BENCH_IDLE_SECONDS  length of the idle-WAL window (60)
#   BENCH_WORKDIR       where the cluster lives (bench/work)
#   PG_CONFIG           the PostgreSQL to build and run against
#
# A missed goal is reported in the table, not as a failure: the exit status
# is non-zero only when the benchmark itself could not run.

set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
BENCH_CLIENTS=${BENCH_CLIENTS:-1 2 4 8}
BENCH_UPSERTS=${BENCH_UPSERTS:-1000000}
BENCH_IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}

SOURCES=100			# sources of the throughput and HOT measurements
BATCH_SIZE=1000		# elements of one walmon_upsert_batch call
GOAL_CLIENTS=4		# the clients and synchronous_commit the goals name
GOAL_SYNC=off
CYCLE_SLOTS="10 100 1000"

for v in BENCH_SECONDS BENCH_ROUNDS BENCH_UPSERTS BENCH_IDLE_SECONDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
for c in $BENCH_CLIENTS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS must list positive integers, not '$c'"
done
[[ " $BENCH_CLIENTS " == *" $GOAL_CLIENTS "* ]] ||
	die "BENCH_CLIENTS must include $GOAL_CLIENTS, the client count of the goals"

bench=$WALMON_TOP/bench
results=$bench/results
sqldir=$bench/sql
port=54331
started=$(date +%s)

progress() { printf '  %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Software: PostgreSQL and the build tools (scripts/lib.sh), gnuplot.

walmon_install_deps
if ! command -v gnuplot >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		say "installing gnuplot-nox (for the chart)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null
	else
		echo "warning: gnuplot is missing and we are not root: no chart" >&2
	fi
fi
walmon_build_install
pg_config=$(walmon_pg_config)
bindir=$("$pg_config" --bindir)

# ---------------------------------------------------------------------------
# The cluster: a directory the postgres user owns, short enough for a unix
# socket path; bench/work/ of this tree when possible.

work=${BENCH_WORKDIR:-$bench/work}
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work"
if ! as_pg test -w "$work" 2>/dev/null || [ ${#work} -gt 80 ]; then
	work=$(walmon_scratch_dir bench)
fi
data=$work/data
cd "$work"		# the postgres user may not be able to enter our directory

on_exit() {
	local rc=$?
	walmon_cluster_stop "$work"
	if [ "$rc" -ne 0 ]; then
		echo "bench failed (exit $rc); server log: $work/server.log" >&2
		[ -f "$work/server.log" ] && tail -n 20 "$work/server.log" >&2
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

rm -rf "$work/sql"
say "starting a throwaway cluster in $data"
walmon_cluster_start "$work" "$port" <<CONF
# the benchmark's
max_connections = 40
shared_buffers = 256MB
max_replication_slots = 1100
max_wal_size = 4GB
checkpoint_timeout = 30min
CONF

# pgbench and psql run as postgres, which may not read this tree
mkdir -p "$work/sql"
cp "$sqldir"/*.sql "$work/sql/"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/sql"

# q SQL: run SQL, print unaligned tuples only
q() {
	walmon_psql "$work" "$port" -A -t -c "$1"
}

# set_conf SETTING...: append settings to postgresql.conf and reload (a
# file, not ALTER SYSTEM: a build without the worker has no walmon.* GUCs,
# and a placeholder in the file is harmless)
set_conf() {
	printf '%s\n' "$@" >>"$data/postgresql.conf"
	q "SELECT pg_reload_conf()" >/dev/null
}

# pgb SYNC PGBENCH_ARGS...: pgbench with -M prepared and the given
# synchronous_commit; prints pgbench's report
pgb() {
	local sync=$1
	shift
	as_pg env PGOPTIONS="-c synchronous_commit=$sync" \
		"$bindir/pgbench" -n -M prepared -h "$work" -p "$port" -U postgres \
		-D sources="$SOURCES" -D batch_size="$BATCH_SIZE" -D loaded=0 \
		"$@" postgres 2>&1
}

# run_pgbench SYNC PGBENCH_ARGS...: pgb, which must succeed
run_pgbench() {
	local out
	out=$(pgb "$@") || {
		printf '%s\n' "$out" >&2
		die "pgbench failed: ${*}"
	}
	printf '%s\n' "$out"
}

# tps SYNC CLIENTS SECONDS SCRIPT: transactions per second of one run
tps() {
	local sync=$1 clients=$2 secs=$3 script=$4 out
	out=$(run_pgbench "$sync" -c "$clients" -j "$((clients < 2 ? clients : 2))" \
		-T "$secs" -f "$work/sql/$script")
	awk '/^tps = / { print $3; found = 1 } END { exit !found }' <<<"$out" ||
		die "no tps in pgbench output: $out"
}

# ---------------------------------------------------------------------------
# The databases' contents: walmon with sources 1..BATCH_SIZE, the original
# design's schema with the same sources.

q "CREATE EXTENSION walmon" >/dev/null
q "SELECT count(walmon_add_source('source ' || g, NULL, g)) FROM generate_series(1, $BATCH_SIZE) AS g" >/dev/null
walmon_psql "$work" "$port" -f "$work/sql/orig_schema.sql" >/dev/null
q "INSERT INTO orig.sources (name) SELECT 'source ' || g FROM generate_series(1, $BATCH_SIZE) AS g" >/dev/null
has_worker=$(q "SELECT to_regprocedure('walmon_refresh()') IS NOT NULL")

mkdir -p "$results"
rm -f "$results"/*.csv "$results"/idle_waldump.txt

# ---------------------------------------------------------------------------
# The machine.

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
pg_version=$(q "SELECT version()")
machine="$(nproc) × ${cpu_model:-unknown CPU}, $mem_gib GiB RAM, Linux $(uname -r); $pg_version"

# ---------------------------------------------------------------------------
# 1. HOT updates and table size after BENCH_UPSERTS upserts on SOURCES
#    sources, on walmon's empty table and on the original design's.

# table_counters TABLE: inserts+updates, updates, HOT updates so far
table_counters() {
	q "SELECT n_tup_ins + n_tup_upd, n_tup_upd, n_tup_hot_upd
	   FROM pg_stat_user_tables WHERE relid = '$1'::regclass" | tr '|' ' '
}

# upsert_count SCRIPT TABLE LABEL: BENCH_UPSERTS upserts with pgbench -t,
# then one CSV line: label, upserts, HOT %, heap bytes, total bytes, seconds
upsert_count() {
	local script=$1 table=$2 label=$3
	local clients=4 before_n before_upd before_hot after_n upd hot t0 t1 waited=0

	read -r before_n before_upd before_hot < <(table_counters "$table")
	t0=$(date +%s.%N)
	run_pgbench off -c "$clients" -j 2 -t "$((BENCH_UPSERTS / clients))" \
		-f "$work/sql/$script" >/dev/null
	if ((BENCH_UPSERTS % clients)); then
		run_pgbench off -c 1 -t "$((BENCH_UPSERTS % clients))" \
			-f "$work/sql/$script" >/dev/null
	fi
	t1=$(date +%s.%N)

	# backends report their counters when they exit, just after pgbench
	while :; do
		read -r after_n upd hot < <(table_counters "$table")
		((after_n - before_n >= BENCH_UPSERTS)) && break
		((waited++ < 300)) || die "statistics of $table never caught up"
		sleep 0.1
	done
	upd=$((upd - before_upd))
	hot=$((hot - before_hot))
	printf '%s,%d,%s,%s,%s,%s\n' "$label" "$BENCH_UPSERTS" \
		"$(awk -v h="$hot" -v u="$upd" 'BEGIN { printf "%.3f", u ? 100 * h / u : 0 }')" \
		"$(q "SELECT pg_table_size('$table')")" \
		"$(q "SELECT pg_total_relation_size('$table')")" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
}

say "HOT updates and table size after $BENCH_UPSERTS upserts on $SOURCES sources"
hot_csv=$results/hot.csv
echo "table,upserts,hot_pct,table_bytes,total_bytes,seconds" >"$hot_csv"
upsert_count walmon_upsert.sql wal_monitor "walmon: wal_monitor" >>"$hot_csv"
progress "$(tail -n 1 "$hot_csv")"
upsert_count orig_raw_upsert.sql orig.wal_monitor "original design: orig.wal_monitor" >>"$hot_csv"
progress "$(tail -n 1 "$hot_csv")"

# ---------------------------------------------------------------------------
# 2. Throughput: the four contenders alternate within each round, and each
#    round reverses the previous one's order (ABCD DCBA ...), so a drift of
#    the machine's speed during a round pair weighs on all of them alike.

contenders=(walmon raw_own raw_orig plpgsql)
declare -A script_of=(
	[walmon]=walmon_upsert.sql
	[raw_own]=raw_upsert.sql
	[raw_orig]=orig_raw_upsert.sql
	[plpgsql]=orig_plpgsql_upsert.sql
)

say "throughput: ${#contenders[@]} contenders × clients $BENCH_CLIENTS × synchronous_commit on/off, $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s"
matrix_csv=$results/throughput.csv
echo "synchronous_commit,clients,contender,round,tps" >"$matrix_csv"
for sync in on off; do
	for clients in $BENCH_CLIENTS; do
		line="sync=$sync clients=$clients:"
		# the goals are read from one cell: twice the rounds there
		rounds=$BENCH_ROUNDS
		[[ $sync == "$GOAL_SYNC" && $clients == "$GOAL_CLIENTS" ]] && rounds=$((2 * BENCH_ROUNDS))
		for ((round = 1; round <= rounds; round++)); do
			order=("${contenders[@]}")
			if ((round % 2 == 0)); then
				order=()
				for ((i = ${#contenders[@]} - 1; i >= 0; i--)); do
					order+=("${contenders[i]}")
				done
			fi
			for c in "${order[@]}"; do
				t=$(tps "$sync" "$clients" "$BENCH_SECONDS" "${script_of[$c]}")
				echo "$sync,$clients,$c,$round,$t" >>"$matrix_csv"
				line+=" $c=${t%.*}"
			done
		done
		progress "$line"
	done
done

# ---------------------------------------------------------------------------
# 3. Batch: one walmon_upsert_batch call of BATCH_SIZE elements against
#    single walmon_upsert calls on the same BATCH_SIZE sources, one
#    connection, alternating.  Rows per second = tps × rows per call.

say "batch: walmon_upsert_batch of $BATCH_SIZE against single walmon_upsert, 1 connection"
batch_csv=$results/batch.csv
echo "synchronous_commit,contender,round,rows_per_s" >"$batch_csv"
for sync in on off; do
	line="sync=$sync:"
	for ((round = 1; round <= BENCH_ROUNDS; round++)); do
		order=(batch single)
		((round % 2 == 0)) && order=(single batch)
		for c in "${order[@]}"; do
			if [ "$c" = batch ]; then
				t=$(tps "$sync" 1 "$BENCH_SECONDS" batch_upsert.sql)
				rows=$(awk -v t="$t" -v n="$BATCH_SIZE" 'BEGIN { printf "%.1f", t * n }')
			else
				# sources 1..BATCH_SIZE: -D sources is overridden here
				out=$(run_pgbench "$sync" -c 1 -T "$BENCH_SECONDS" -D sources="$BATCH_SIZE" \
					-f "$work/sql/walmon_upsert.sql")
				rows=$(awk '/^tps = / { print $3 }' <<<"$out")
			fi
			echo "$sync,$c,$round,$rows" >>"$batch_csv"
			line+=" $c=${rows%.*}rows/s"
		done
	done
	progress "$line"
done

# ---------------------------------------------------------------------------
# 4. The worker's cycle (walmon_refresh() in a session) at 10, 100 and 1,000
#    physical slots, and 5. walmon's WAL over an idle window.  Both need the
#    worker; without it they say so.

cycle_csv=$results/cycle.csv
echo "slots,first_ms,changed_ms,unchanged_ms" >"$cycle_csv"
idle_bytes=""
idle_note=""
if [ "$has_worker" = t ]; then
	say "worker cycle time at $CYCLE_SLOTS physical slots"
	# the background worker pauses: only this session's cycles run
	set_conf "walmon.enabled = off"
	have=0
	for n in $CYCLE_SLOTS; do
		q "SELECT count(pg_create_physical_replication_slot(format('bench_slot_%s', g), true))
		   FROM generate_series($((have + 1)), $n) AS g" >/dev/null
		have=$n
		# the first cycle registers the new slots' sources and writes their rows
		first=$(walmon_psql "$work" "$port" -A -t -c '\timing on' -c 'SELECT walmon_refresh()' |
			awk '/^Time: / { print $2 }')
		changed=$(run_pgbench off -c 1 -T "$BENCH_SECONDS" -r -f "$work/sql/refresh.sql" |
			awk '/walmon_refresh/ { print $1 }')
		unchanged=$(run_pgbench off -c 1 -T "$BENCH_SECONDS" -r -f "$work/sql/refresh_idle.sql" |
			awk '/walmon_refresh/ { print $1 }')
		echo "$n,$first,$changed,$unchanged" >>"$cycle_csv"
		progress "$n slots: first ${first} ms, all changed ${changed} ms, nothing changed ${unchanged} ms"
	done
	q "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots
	   WHERE slot_name LIKE 'bench\_slot\_%'" >/dev/null
	q "SELECT count(walmon_drop_source(id)) FROM walmon_source
	   WHERE slot_name LIKE 'bench\_slot\_%'" >/dev/null

	say "walmon's WAL over ${BENCH_IDLE_SECONDS}s of idleness (naptime 200ms, a physical and a logical slot)"
	q "SELECT pg_create_physical_replication_slot('bench_idle_physical', true)" >/dev/null
	q "SELECT pg_create_logical_replication_slot('bench_idle_logical', 'pgoutput')" >/dev/null
	set_conf "walmon.enabled = on" "walmon.naptime = '200ms'" "walmon.metrics_interval = '1s'"
	# quiet the server the benchmark just loaded: no dead rows left for
	# anyone to prune, no statistics for autovacuum to gather, nothing for
	# the next checkpoint to write
	q "VACUUM ANALYZE" >/dev/null
	# the sampler has caught up: every monitor's latest sample is its state
	# (after activity it writes one last sample within metrics_interval)
	for ((i = 0; i < 300; i++)); do
		[ "$(q "SELECT coalesce(bool_and(p.status = w.status
				AND p.wal_lsn IS NOT DISTINCT FROM w.wal_lsn
				AND p.replication_lag_bytes IS NOT DISTINCT FROM w.replication_lag_bytes), true)
			FROM wal_monitor w
			LEFT JOIN LATERAL (SELECT * FROM wal_metrics m WHERE m.source_id = w.source_id
			                   ORDER BY m.id DESC LIMIT 1) p ON true")" = t ] && break
		sleep 0.2
	done
	q "CHECKPOINT" >/dev/null
	# settle: the worker writes the new slots' rows, autovacuum finishes;
	# then the WAL position stays put for 10 naptimes
	last="" still=0 waited=0
	while ((still < 10)); do
		sleep 0.2
		busy=$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
		lsn=$(q "SELECT pg_current_wal_lsn()")
		if [ "$lsn" = "$last" ] && [ "$busy" = 0 ]; then
			still=$((still + 1))
		else
			still=0
		fi
		last=$lsn
		((waited++ < 600)) || { idle_note="never settled; "; break; }
	done
	cycles_sql="SELECT coalesce(to_jsonb(s) ->> 'cycles', '?') FROM (SELECT * FROM walmon_worker_status()) AS s"
	cycles0=$(q "$cycles_sql")
	lsn0=$(q "SELECT pg_current_wal_lsn()")
	sleep "$BENCH_IDLE_SECONDS"
	lsn1=$(q "SELECT pg_current_wal_lsn()")
	cycles1=$(q "$cycles_sql")
	idle_bytes=$(q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
	if [[ $cycles0 =~ ^[0-9]+$ && $cycles1 =~ ^[0-9]+$ ]]; then
		idle_note+="$((cycles1 - cycles0)) worker cycles ran"
	else
		idle_note+="worker cycles: unknown"
	fi
	if [ "$idle_bytes" != 0 ]; then
		# whose WAL: records that touch a walmon relation, by pg_waldump
		walmon_nodes=$(q "SELECT string_agg(pg_relation_filenode(c.oid)::text, ' ')
			FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass
			 AND d.objid = c.oid AND d.refclassid = 'pg_extension'::regclass
			JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'walmon'
			WHERE pg_relation_filenode(c.oid) IS NOT NULL")
		as_pg "$bindir/pg_waldump" -p "$data/pg_wal" -s "$lsn0" -e "$lsn1" \
			>"$results/idle_waldump.txt" 2>&1 || true
		# a record is walmon's when it touches a walmon relation, or belongs
		# to a transaction that did (its commit record)
		walmon_wal=$(awk -v nodes="$walmon_nodes" '
			BEGIN { n = split(nodes, a, " "); for (i = 1; i <= n; i++) w[a[i]] = 1 }
			/^rmgr:/ {
				split($0, f, "len \\(rec/tot\\): *"); split(f[2], l, "[/,]")
				tx = $0; sub(/.*tx: */, "", tx); sub(/,.*/, "", tx)
				k++; len[k] = l[2] + 0; xid[k] = tx
				for (i = 1; i <= NF; i++)
					if ($i == "rel") { split($(i + 1), r, "/"); if (r[3] in w) mine[k] = 1 }
				if (k in mine && tx != 0) walmon_xid[tx] = 1
			}
			END {
				for (j = 1; j <= k; j++) if (j in mine || xid[j] in walmon_xid) sum += len[j]
				print sum + 0
			}' "$results/idle_waldump.txt")
		idle_note+="; $walmon_wal bytes in records on walmon's tables (pg_waldump: bench/results/idle_waldump.txt)"
	fi
	q "SELECT pg_drop_replication_slot('bench_idle_logical')" >/dev/null
	q "SELECT pg_drop_replication_slot('bench_idle_physical')" >/dev/null
fi

walmon_cluster_stop "$work"

# ---------------------------------------------------------------------------
# The report.

# mean TPS of a contender in a matrix cell
mean_tps() {
	awk -F, -v s="$1" -v c="$2" -v n="$3" \
		'$1 == s && $2 == c && $3 == n { sum += $5; k++ } END { printf "%.0f", k ? sum / k : 0 }' \
		"$matrix_csv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
met() { awk -v v="$1" -v op="$2" -v g="$3" \
	'BEGIN { ok = (op == ">=") ? v >= g : v < g; print ok ? "**met**" : "**missed**" }'; }
fmt_bytes() { awk -v b="$1" 'BEGIN {
	if (b >= 1048576) printf "%.1f MB", b / 1048576; else printf "%.0f kB", b / 1024 }'; }

w=$(mean_tps "$GOAL_SYNC" "$GOAL_CLIENTS" walmon)
r_own=$(ratio "$w" "$(mean_tps "$GOAL_SYNC" "$GOAL_CLIENTS" raw_own)")
r_orig=$(ratio "$w" "$(mean_tps "$GOAL_SYNC" "$GOAL_CLIENTS" raw_orig)")
r_plpgsql=$(ratio "$w" "$(mean_tps "$GOAL_SYNC" "$GOAL_CLIENTS" plpgsql)")
IFS=, read -r _ _ hot_pct table_bytes total_bytes _ < <(sed -n 2p "$hot_csv")
batch_mean() { awk -F, -v s="$1" -v c="$2" '$1 == s && $2 == c { sum += $4; k++ }
	END { printf "%.0f", k ? sum / k : 0 }' "$batch_csv"; }
r_batch=$(ratio "$(batch_mean "$GOAL_SYNC" batch)" "$(batch_mean "$GOAL_SYNC" single)")
na="n/a (no worker in this build)"

report=$results/results.md
{
	echo "# walmon benchmark"
	echo
	echo "- machine: $machine"
	echo "- command: \`BENCH_SECONDS=$BENCH_SECONDS make bench\` ($BENCH_ROUNDS rounds of ${BENCH_SECONDS}s per measurement, pgbench \`-M prepared\`, $SOURCES sources, a random one per transaction), $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "## Goals"
	echo
	echo "| goal | measured | target | |"
	echo "|---|---|---|---|"
	echo "| walmon_upsert ÷ raw INSERT ... ON CONFLICT on walmon's table ($GOAL_CLIENTS clients, synchronous_commit=$GOAL_SYNC) | ${r_own}× | ≥ 0.95× | $(met "$r_own" ">=" 0.95) |"
	echo "| walmon_upsert ÷ raw statement on the original design's schema | ${r_orig}× | ≥ 1.2× | $(met "$r_orig" ">=" 1.2) |"
	echo "| walmon_upsert ÷ PL/pgSQL function on the original design's schema | ${r_plpgsql}× | ≥ 1.1× | $(met "$r_plpgsql" ">=" 1.1) |"
	echo "| HOT updates of wal_monitor ($BENCH_UPSERTS upserts, $SOURCES sources) | ${hot_pct}% | ≥ 99% | $(met "$hot_pct" ">=" 99) |"
	echo "| size of wal_monitor with its indexes after $BENCH_UPSERTS upserts | $(fmt_bytes "$total_bytes") | < 1 MB | $(met "$total_bytes" "<" 1048576) |"
	echo "| walmon_upsert_batch ($BATCH_SIZE elements) ÷ single walmon_upsert, rows/s, 1 connection, synchronous_commit=$GOAL_SYNC | ${r_batch}× | ≥ 10× | $(met "$r_batch" ">=" 10) |"
	if [ "$has_worker" = t ]; then
		cyc=$(awk -F, '$1 == 1000 { print $3 }' "$cycle_csv")
		echo "| worker cycle at 1,000 slots, every row changed | ${cyc} ms | < 20 ms | $(met "$cyc" "<" 20) |"
		echo "| walmon's WAL over ${BENCH_IDLE_SECONDS}s idle | $idle_bytes bytes | 0 | $(met "$idle_bytes" "<" 1) |"
	else
		echo "| worker cycle at 1,000 slots | $na | < 20 ms | |"
		echo "| walmon's WAL over ${BENCH_IDLE_SECONDS}s idle | $na | 0 bytes | |"
	fi
	echo
	echo "## Upsert throughput"
	echo
	echo "Transactions per second (mean of $BENCH_ROUNDS rounds, $((2 * BENCH_ROUNDS)) for the goals' cell: $GOAL_CLIENTS clients, synchronous_commit=$GOAL_SYNC; one upsert per transaction) and walmon_upsert's throughput divided by each contender's."
	echo
	echo "| synchronous_commit | clients | walmon_upsert | raw, walmon's table | raw, original schema | PL/pgSQL, original schema | ÷ raw own | ÷ raw orig | ÷ PL/pgSQL |"
	echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
	for sync in on off; do
		for clients in $BENCH_CLIENTS; do
			a=$(mean_tps "$sync" "$clients" walmon)
			b=$(mean_tps "$sync" "$clients" raw_own)
			c=$(mean_tps "$sync" "$clients" raw_orig)
			d=$(mean_tps "$sync" "$clients" plpgsql)
			echo "| $sync | $clients | $a | $b | $c | $d | $(ratio "$a" "$b") | $(ratio "$a" "$c") | $(ratio "$a" "$d") |"
		done
	done
	echo
	echo "## Tables after $BENCH_UPSERTS upserts on $SOURCES sources"
	echo
	echo "| table | HOT updates | table (heap, FSM, VM, TOAST) | with indexes | time (4 clients, synchronous_commit=off) |"
	echo "|---|--:|--:|--:|--:|"
	tail -n +2 "$hot_csv" | while IFS=, read -r label _ hp tb tt secs; do
		echo "| $label | $hp% | $(fmt_bytes "$tb") | $(fmt_bytes "$tt") | ${secs} s |"
	done
	echo
	echo "## Batch"
	echo
	echo "Rows per second on one connection: one walmon_upsert_batch call of $BATCH_SIZE elements (sources 1..$BATCH_SIZE) per transaction, against one walmon_upsert call per transaction on the same sources."
	echo
	echo "| synchronous_commit | batch rows/s | single rows/s | ratio |"
	echo "|---|--:|--:|--:|"
	for sync in on off; do
		a=$(batch_mean "$sync" batch)
		b=$(batch_mean "$sync" single)
		echo "| $sync | $a | $b | $(ratio "$a" "$b")× |"
	done
	echo
	echo "## Worker"
	echo
	if [ "$has_worker" = t ]; then
		echo "Milliseconds per walmon_refresh() cycle: the first after the slots appeared (registers their sources), with every slot's lag changed, with nothing changed."
		echo
		echo "| physical slots | first cycle | every row changed | nothing changed |"
		echo "|--:|--:|--:|--:|"
		tail -n +2 "$cycle_csv" | while IFS=, read -r n f ch un; do
			echo "| $n | $f | $ch | $un |"
		done
		echo
		echo "WAL written over ${BENCH_IDLE_SECONDS}s of idleness with walmon.naptime = 200ms, one physical and one logical slot: **$idle_bytes bytes** ($idle_note)."
	else
		echo "Cycle time at $CYCLE_SLOTS slots: $na."
		echo
		echo "WAL over ${BENCH_IDLE_SECONDS}s of idleness: $na."
	fi
	echo
	echo "![throughput](throughput.png)"
} >"$report"

# ---------------------------------------------------------------------------
# The chart: TPS by clients, one panel per synchronous_commit setting.

if command -v gnuplot >/dev/null; then
	for sync in on off; do
		for clients in $BENCH_CLIENTS; do
			printf '%s' "$clients"
			for c in "${contenders[@]}"; do printf ' %s' "$(mean_tps "$sync" "$clients" "$c")"; done
			echo
		done >"$results/chart_$sync.dat"
	done
	gnuplot <<GNUPLOT
set terminal pngcairo noenhanced size 1200,520 font "sans,10"
set output "$results/throughput.png"
set multiplot layout 1,2 title "walmon upsert throughput, 100 sources ($(nproc) CPUs, ${BENCH_SECONDS}s × $BENCH_ROUNDS rounds)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xlabel "clients"
set ylabel "transactions per second"
set key below
do for [s in "on off"] {
	set title "synchronous_commit = ".s
	plot "$results/chart_".s.".dat" using 2:xtic(1) title "walmon_upsert" lc rgb "#1b7837", \
		'' using 3 title "raw, walmon's table" lc rgb "#7fbf7b", \
		'' using 4 title "raw, original schema" lc rgb "#af8dc3", \
		'' using 5 title "PL/pgSQL, original schema" lc rgb "#762a83"
}
unset multiplot
GNUPLOT
	rm -f "$results"/chart_*.dat
fi

echo
cat "$report"
echo
echo "report: $report"
echo "chart:  $results/throughput.png"
echo "raw:    $results/*.csv"
echo "took $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s"
