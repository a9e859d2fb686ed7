#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# bench/run.sh: walmon's benchmark (`make bench`; bench/README.md explains
# every number).
#
# Builds and installs walmon, starts a throwaway cluster with walmon
# preloaded (as the postgres user, on a unix socket in its own directory
# only), measures, prints a markdown report and writes it, with a chart and
# the raw measurements, to bench/results/.  Every server it starts (the
# cluster, the REST service of the original design) is stopped when it
# exits, however it exits.
#
# Settings (environment):
#   BENCH_SECONDS       seconds per measurement (10)
#   BENCH_ROUNDS        rounds of each comparison; contenders alternate
#                       within a round and their order reverses from one
#                       round to the next (2; twice that at GOAL_CLIENTS
#                       clients and in the batch section)
#   BENCH_CLIENTS       client counts of the throughput matrix ("1 2 4 8")
#   BENCH_UPSERTS       upserts before the HOT ratio and table sizes (1000000)
#   BENCH_IDLE_SECONDS  length of the idle-WAL window (60)
#   BENCH_WORKDIR       where the cluster lives (bench/work)
#   BENCH_PORT          the cluster's port, on its unix socket only (54331)
#   BENCH_REST_DIR      the original design's REST service
#                       (../shared/peers/seed_rest beside the repository)
#   BENCH_REST_PORT     its HTTP port on 127.0.0.1 (8099)
#   BENCH_REST_SERVER   its uvicorn configuration: w2 (uvicorn --workers 2,
#                       seed_rest's best at 4 connections), w1, or rp2 (two
#                       processes on SO_REUSEPORT sockets)
#   BENCH_FLEET_*       the fleet's step (bench/fleet.sh): its numbers of
#                       servers, source clusters, slots, runs and ports
#   PG_CONFIG           the PostgreSQL to build and run against
#
# A missed goal is reported in the table, not as a failure: the exit status
# is non-zero only when the benchmark itself could not run.

set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=fleet.sh
. "$(dirname "$0")/fleet.sh"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
BENCH_CLIENTS=${BENCH_CLIENTS:-1 2 4 8}
BENCH_UPSERTS=${BENCH_UPSERTS:-1000000}
BENCH_IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
BENCH_PORT=${BENCH_PORT:-54331}
BENCH_REST_DIR=${BENCH_REST_DIR:-$WALMON_TOP/../shared/peers/seed_rest}
BENCH_REST_PORT=${BENCH_REST_PORT:-8099}
BENCH_REST_SERVER=${BENCH_REST_SERVER:-w2}

SOURCES=100			# sources of the throughput and HOT measurements
BATCH_SIZE=1000		# elements of one walmon_upsert_batch call
GOAL_CLIENTS=4		# the client count the goals name (and the REST run's)
GOAL_SYNC=off		# the synchronous_commit of the goals judged at one setting
CYCLE_SLOTS="10 100 1000"
REST_WARMUP=3		# seconds of wrk before the REST service is measured

for v in BENCH_SECONDS BENCH_ROUNDS BENCH_UPSERTS BENCH_IDLE_SECONDS BENCH_PORT BENCH_REST_PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
for c in $BENCH_CLIENTS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS must list positive integers, not '$c'"
done
[[ " $BENCH_CLIENTS " == *" $GOAL_CLIENTS "* ]] ||
	die "BENCH_CLIENTS must include $GOAL_CLIENTS, the client count of the goals"
[[ $BENCH_REST_SERVER =~ ^(w|rp)[1-9]$ ]] ||
	die "BENCH_REST_SERVER must be w1, w2 or rp2 (w<N>: uvicorn --workers N; rp<N>: N SO_REUSEPORT processes), not '$BENCH_REST_SERVER'"
fleet_init

bench=$WALMON_TOP/bench
results=$bench/results
sqldir=$bench/sql
port=$BENCH_PORT
started=$(date +%s)

progress() { printf '  %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Software: PostgreSQL and the build tools (scripts/lib.sh), gnuplot, and
# for the REST service Debian's python3 packages and wrk.

# apt_install PACKAGE...: install with apt (as root), waiting for a dpkg
# lock another apt holds
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >/dev/null
}
is_root() { [ "$(id -u)" -eq 0 ]; }

walmon_install_deps
if ! command -v gnuplot >/dev/null; then
	if is_root; then
		say "installing gnuplot-nox (for the chart)"
		apt_install gnuplot-nox
	else
		echo "warning: gnuplot is missing and we are not root: no chart" >&2
	fi
fi

# The REST service: seed_rest's own code, run from its directory (never
# copied into this repository).  rest_dir is empty when it cannot run, and
# rest_note then says why.
python=/usr/bin/python3		# Debian's, which has the python3-* packages
[ -x "$python" ] || python=$(command -v python3 || echo python3)
rest_dir="" rest_note=""
rest_imports='import fastapi, uvicorn, sqlalchemy, asyncpg, pydantic'
if [ -f "$BENCH_REST_DIR/app.py" ] && [ -f "$BENCH_REST_DIR/schema.sql" ] && [ -f "$BENCH_REST_DIR/upsert.lua" ]; then
	rest_dir=$(cd "$BENCH_REST_DIR" && pwd)
	# uvloop and httptools are optional (the service then runs on asyncio's
	# loop and h11, slower), but they are installed when they can be.
	if ! { "$python" -c "$rest_imports, uvloop, httptools" 2>/dev/null && command -v wrk >/dev/null; }; then
		if is_root; then
			say "installing the REST service's packages"
			apt_install python3-fastapi python3-uvicorn python3-uvloop python3-httptools \
				python3-sqlalchemy python3-asyncpg python3-pydantic wrk
		fi
	fi
	if ! "$python" -c "$rest_imports" 2>/dev/null; then
		rest_note="skipped: $python cannot import fastapi, uvicorn, sqlalchemy, asyncpg and pydantic (Debian's python3-* packages)"
		rest_dir=""
	elif ! command -v wrk >/dev/null; then
		rest_note="skipped: wrk is missing"
		rest_dir=""
	fi
else
	rest_note="skipped: the original design's REST service is not at $BENCH_REST_DIR (../shared/peers/seed_rest/ beside the repository; set BENCH_REST_DIR)"
fi
[ -n "$rest_note" ] && echo "warning: REST contender $rest_note" >&2

walmon_build_install
pg_config=$(walmon_pg_config)
bindir=$("$pg_config" --bindir)

# ---------------------------------------------------------------------------
# The cluster: a directory the postgres user owns, short enough for a unix
# socket path; bench/work/ of this tree when possible.

work=${BENCH_WORKDIR:-$bench/work}
mkdir -p "$work"
is_root && chown postgres: "$work"
if ! as_pg test -w "$work" 2>/dev/null || [ ${#work} -gt 80 ]; then
	work=$(walmon_scratch_dir bench)
fi
data=$work/data
cd "$work"		# the postgres user may not be able to enter our directory

# the REST service's uvicorn and the wrk run against it, while they run
rest_pid="" wrk_pid=""

# stop_rest: stop the REST service we started, by its PID (its workers too)
stop_rest() {
	local pid=$rest_pid i c
	rest_pid=""
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			for c in $(pgrep -P "$pid" || true); do kill -KILL "$c" 2>/dev/null || true; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

on_exit() {
	local rc=$?
	if [ -n "$wrk_pid" ]; then
		kill -TERM "$wrk_pid" 2>/dev/null || true
		wait "$wrk_pid" 2>/dev/null || true
	fi
	stop_rest
	fleet_stop_sources
	walmon_cluster_stop "$work"
	if [ "$rc" -ne 0 ]; then
		echo "bench failed (exit $rc); server log: $work/server.log" >&2
		[ -f "$work/server.log" ] && tail -n 20 "$work/server.log" >&2
		[ -s "$work/uvicorn.log" ] && { echo "uvicorn log: $work/uvicorn.log" >&2; tail -n 10 "$work/uvicorn.log" >&2; }
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

rm -rf "$work/sql" "$work/uvicorn.log"
say "starting a throwaway cluster in $data"
walmon_cluster_start "$work" "$port" <<CONF
# the benchmark's
max_connections = 60
shared_buffers = 256MB
max_replication_slots = 1100
max_wal_size = 4GB
checkpoint_timeout = 30min
CONF

# pgbench and psql run as postgres, which may not read this tree
mkdir -p "$work/sql"
cp "$sqldir"/*.sql "$work/sql/"
[ -n "$rest_dir" ] && cp "$rest_dir/schema.sql" "$work/sql/rest_schema.sql"
is_root && chown -R postgres: "$work/sql"

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

# the position of wal_monitor's id sequence (0 before its first value)
id_seq() {
	q "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('wal_monitor', 'id')::regclass), 0)"
}

# ---------------------------------------------------------------------------
# The databases' contents: walmon with sources 1..BATCH_SIZE, the original
# design's schema with the same sources; the REST service's database.

q "CREATE EXTENSION walmon" >/dev/null
q "SELECT count(walmon_add_source('source ' || g, NULL, g)) FROM generate_series(1, $BATCH_SIZE) AS g" >/dev/null
walmon_psql "$work" "$port" -f "$work/sql/orig_schema.sql" >/dev/null
q "INSERT INTO orig.sources (name) SELECT 'source ' || g FROM generate_series(1, $BATCH_SIZE) AS g" >/dev/null
has_worker=$(q "SELECT to_regprocedure('walmon_refresh()') IS NOT NULL")
has_fleet=$(q "SELECT to_regprocedure('walmon_refresh()') IS NOT NULL AND to_regprocedure('walmon_add_server(name)') IS NOT NULL")
if [ -n "$rest_dir" ]; then
	q "CREATE DATABASE walmon_rest" >/dev/null
	walmon_psql "$work" "$port" -d walmon_rest -f "$work/sql/rest_schema.sql" >/dev/null
fi

mkdir -p "$results"
rm -f "$results"/*.csv "$results"/idle_waldump.txt "$results"/fleet.md

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

# The limits, built now that wal_monitor holds the sources' rows: its copy
# without CHECKs, foreign key and triggers, and the 100-row counter table.
walmon_psql "$work" "$port" -v sources="$SOURCES" -f "$work/sql/limits_schema.sql" >/dev/null
limits_indexes=$(q "SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indexrelid)
	FROM pg_index WHERE indrelid = 'limits.wal_monitor'::regclass")
limits_options=$(q "SELECT coalesce(array_to_string(reloptions, ', '), 'none') FROM pg_class
	WHERE oid = 'limits.wal_monitor'::regclass")
progress "limits.wal_monitor: ($limits_options) $limits_indexes"

# ---------------------------------------------------------------------------
# The REST service of the original design: uvicorn running seed_rest's
# app.py from its own directory, on the database walmon_rest of this
# cluster (seed_rest's schema.sql), measured with wrk and seed_rest's
# upsert.lua (a POST of a random source 1..100) at GOAL_CLIENTS
# connections.  synchronous_commit comes from the database's setting, so
# the service starts again for each setting.

uvicorn_opts=(--no-access-log --log-level warning)
reuseport_opts=()
if "$python" -c 'import uvloop, httptools' 2>/dev/null; then
	uvicorn_opts+=(--loop uvloop --http httptools)
	reuseport_opts=(--loop uvloop --http httptools)
fi
case $BENCH_REST_SERVER in
w*) rest_server="uvicorn --workers ${BENCH_REST_SERVER#w}" ;;
rp*) rest_server="${BENCH_REST_SERVER#rp} uvicorn processes on SO_REUSEPORT sockets (seed_rest's reuseport.py)" ;;
esac
rest_config="$rest_server ${uvicorn_opts[*]}"

rest_url="http://127.0.0.1:$BENCH_REST_PORT"

# start_rest SYNC: the service, its connections at synchronous_commit SYNC,
# warmed up
start_rest() {
	local sync=$1 i
	q "ALTER DATABASE walmon_rest SET synchronous_commit = $sync" >/dev/null
	if ss -ltnH "( sport = :$BENCH_REST_PORT )" 2>/dev/null | grep -q .; then
		die "127.0.0.1:$BENCH_REST_PORT is in use; set BENCH_REST_PORT"
	fi
	local -a env_vars=(PYTHONDONTWRITEBYTECODE=1 WALMON_PGHOST="$work" WALMON_PGPORT="$port"
		WALMON_PGDATABASE=walmon_rest WALMON_PGUSER=postgres WALMON_LOG_LEVEL=WARNING)
	case $BENCH_REST_SERVER in
	w*)
		(cd "$rest_dir" && exec env "${env_vars[@]}" "$python" -m uvicorn app:app \
			--host 127.0.0.1 --port "$BENCH_REST_PORT" --workers "${BENCH_REST_SERVER#w}" \
			"${uvicorn_opts[@]}") >>"$work/uvicorn.log" 2>&1 &
		;;
	rp*)
		(cd "$rest_dir" && exec env "${env_vars[@]}" "$python" reuseport.py \
			--procs "${BENCH_REST_SERVER#rp}" --host 127.0.0.1 --port "$BENCH_REST_PORT" \
			"${reuseport_opts[@]}") >>"$work/uvicorn.log" 2>&1 &
		;;
	esac
	rest_pid=$!
	for ((i = 0; i < 150; i++)); do
		"$python" -c "import urllib.request; urllib.request.urlopen('$rest_url/healthz', timeout=1)" \
			2>/dev/null && break
		kill -0 "$rest_pid" 2>/dev/null || die "the REST service exited at start (see $work/uvicorn.log)"
		sleep 0.2
	done
	((i < 150)) || die "the REST service did not answer on $rest_url/healthz"
	# fills the connection pool (and, the first time, inserts the 100 rows)
	wrk -t1 -c"$GOAL_CLIENTS" -d"${REST_WARMUP}s" -s "$rest_dir/upsert.lua" "$rest_url" >/dev/null
}

# client connections per server process during a run, e.g. "4" or "3/1"
conn_spread() {
	ss -tnpH state established "( sport = :$BENCH_REST_PORT )" 2>/dev/null |
		grep -o 'pid=[0-9]*' | sort | uniq -c | awk '{ print $1 }' | sort -rn | paste -sd/ -
}

# kv KEY: the value of KEY=value in the wrk RESULT line $r
kv() { tr ' ' '\n' <<<"$r" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# measure_rest: one wrk run of BENCH_SECONDS at GOAL_CLIENTS connections;
# sets m_rate (requests/s), m_count (requests), m_extra (p50/p99 ms,
# errors, connections per process)
measure_rest() {
	local out r spread
	wrk -t1 -c"$GOAL_CLIENTS" -d"${BENCH_SECONDS}s" --timeout 5s -s "$rest_dir/upsert.lua" \
		"$rest_url" >"$work/wrk.out" 2>&1 &
	wrk_pid=$!
	sleep "$(awk -v s="$BENCH_SECONDS" 'BEGIN { printf "%.1f", s / 2 }')"
	spread=$(conn_spread || true)
	wait "$wrk_pid" || { cat "$work/wrk.out" >&2; wrk_pid=""; die "wrk failed"; }
	wrk_pid=""
	out=$(cat "$work/wrk.out")
	r=$(grep '^RESULT' <<<"$out") || { printf '%s\n' "$out" >&2; die "no RESULT line from wrk"; }
	m_rate=$(kv rps)
	m_count=$(kv requests)
	m_extra="$(kv p50_ms),$(kv p99_ms),$(($(kv non2xx) + $(kv sockerr))),${spread:-?}"
}

# ---------------------------------------------------------------------------
# 2. Throughput.  The contenders alternate within each round, and each
#    round reverses the previous one's order (ABCD DCBA ...), so a drift of
#    the machine's speed during a round pair weighs on all of them alike.
#    The REST service runs in the GOAL_CLIENTS cells only (its load
#    generator is wrk, not pgbench).

contenders=(walmon bare counter raw_own raw_orig plpgsql)
[ -n "$rest_dir" ] && contenders+=(rest)
declare -A script_of=(
	[walmon]=walmon_upsert.sql
	[bare]=bare_update.sql
	[counter]=counter_update.sql
	[raw_own]=raw_upsert.sql
	[raw_orig]=orig_raw_upsert.sql
	[plpgsql]=orig_plpgsql_upsert.sql
	[batch]=batch_upsert.sql
	[single]=walmon_upsert.sql
	[raw_set]=raw_batch_upsert.sql
)
declare -A label_of=(
	[walmon]="walmon_upsert"
	[bare]="bare row write"
	[counter]="smallest write"
	[raw_own]="raw, walmon's table"
	[raw_orig]="raw, original schema"
	[plpgsql]="PL/pgSQL, original schema"
	[rest]="REST, original design"
)

# measure SYNC CLIENTS CONTENDER: one measurement of BENCH_SECONDS; sets
# m_rate (per second: transactions, rows for the batch contenders, requests
# for REST), m_count (the same, in total), m_ids (values wal_monitor's id
# sequence moved by) and m_extra (REST's details)
measure() {
	local sync=$1 clients=$2 c=$3 out s0 s1 rows=1
	local -a extra=()
	s0=$(id_seq)
	m_extra=""
	if [ "$c" = rest ]; then
		measure_rest
	else
		case $c in
		batch | raw_set) rows=$BATCH_SIZE ;;
		single) extra=(-D sources="$BATCH_SIZE") ;;	# the batch's sources
		esac
		out=$(run_pgbench "$sync" -c "$clients" -j "$((clients < 2 ? clients : 2))" \
			-T "$BENCH_SECONDS" "${extra[@]}" -f "$work/sql/${script_of[$c]}")
		m_rate=$(awk -v n="$rows" '/^tps = / { printf "%.1f", $3 * n; found = 1 } END { exit !found }' <<<"$out") ||
			die "no tps in pgbench output: $out"
		m_count=$(awk -v n="$rows" '/^number of transactions actually processed: / {
			split($6, a, "/"); print a[1] * n }' <<<"$out")
	fi
	s1=$(id_seq)
	m_ids=$((s1 - s0))
}

# reversed NAME...: the names in reverse order
reversed() {
	local i
	for ((i = $#; i >= 1; i--)); do printf '%s\n' "${!i}"; done
}

say "throughput: ${#contenders[@]} contenders × clients $BENCH_CLIENTS × synchronous_commit on/off, $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s"
[ -n "$rest_dir" ] && progress "REST service: $rest_config, wrk -t1 -c$GOAL_CLIENTS, $GOAL_CLIENTS-client cells only"
[ -n "$rest_note" ] && progress "REST service $rest_note"
matrix_csv=$results/throughput.csv
rest_csv=$results/rest.csv
echo "synchronous_commit,clients,contender,round,per_second,calls,ids_used" >"$matrix_csv"
echo "synchronous_commit,round,req_per_s,requests,p50_ms,p99_ms,errors,conns_per_process" >"$rest_csv"
for sync in on off; do
	[ -n "$rest_dir" ] && start_rest "$sync"
	for clients in $BENCH_CLIENTS; do
		line="sync=$sync clients=$clients:"
		cell=()
		for c in "${contenders[@]}"; do
			[[ $c == rest && $clients != "$GOAL_CLIENTS" ]] || cell+=("$c")
		done
		# the goals are read from the GOAL_CLIENTS cells: twice the rounds there
		rounds=$BENCH_ROUNDS
		[[ $clients == "$GOAL_CLIENTS" ]] && rounds=$((2 * BENCH_ROUNDS))
		for ((round = 1; round <= rounds; round++)); do
			order=("${cell[@]}")
			((round % 2 == 0)) && mapfile -t order < <(reversed "${cell[@]}")
			for c in "${order[@]}"; do
				measure "$sync" "$clients" "$c"
				echo "$sync,$clients,$c,$round,$m_rate,$m_count,$m_ids" >>"$matrix_csv"
				[ "$c" = rest ] && echo "$sync,$round,$m_rate,$m_count,$m_extra" >>"$rest_csv"
				line+=" $c=${m_rate%.*}"
			done
		done
		progress "$line"
	done
	stop_rest
done

# ---------------------------------------------------------------------------
# 3. Batch: one walmon_upsert_batch call of BATCH_SIZE elements, single
#    walmon_upsert calls on the same BATCH_SIZE sources, and the set-based
#    INSERT ... SELECT FROM unnest(...) ON CONFLICT a skilled user would
#    write instead, one connection, alternating.  Rows per second = tps ×
#    rows per call.  Every source has its row first, so all three update.
#    A goal is read from these cells: twice the rounds, like the
#    GOAL_CLIENTS cells of the throughput table.

say "batch: walmon_upsert_batch of $BATCH_SIZE, single walmon_upsert and set-based raw SQL, 1 connection"
q "SELECT count(*) FROM walmon_upsert_batch((SELECT jsonb_agg(jsonb_build_object('source_id', g, 'wal_lsn', '0/1A2B3C4D'))
	FROM generate_series(1, $BATCH_SIZE) AS g))" >/dev/null
batch_contenders=(batch single raw_set)
batch_csv=$results/batch.csv
echo "synchronous_commit,contender,round,rows_per_s,rows,ids_used" >"$batch_csv"
for sync in on off; do
	line="sync=$sync:"
	for ((round = 1; round <= 2 * BENCH_ROUNDS; round++)); do
		order=("${batch_contenders[@]}")
		((round % 2 == 0)) && mapfile -t order < <(reversed "${batch_contenders[@]}")
		for c in "${order[@]}"; do
			measure "$sync" 1 "$c"
			echo "$sync,$c,$round,$m_rate,$m_count,$m_ids" >>"$batch_csv"
			line+=" $c=${m_rate%.*}rows/s"
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
idle_csv=$results/idle_wal.csv
declare -A idle=()
for k in walmon_transactions walmon_bytes prompted unprompted unprompted_bytes unprompted_relations walmon_records_bytes \
	maintenance_bytes bookkeeping_bytes foreign_bytes foreign_records foreign_top; do
	idle[$k]="?"
done
idle_bytes="" idle_note=""
if [ "$has_worker" = t ]; then
	say "worker cycle time at $CYCLE_SLOTS physical slots, at 1,000 of which 500 logical, and at 1,000 with a snapshot held elsewhere"
	# the background worker pauses: only this session's cycles run
	set_conf "walmon.enabled = off"
	# time_cycles LABEL ROWS: the first cycle after new slots appeared, then
	# cycles with every row changed and with nothing changed; one line of
	# cycle.csv
	# A snapshot anyone holds (an ANALYZE autovacuum runs after the load
	# phases, a long transaction) keeps every version the cycles write:
	# each cycle rewrites every row, so each row's HOT chain, which every
	# later read walks, grows by one per cycle, and the cycle slows down
	# as the measurement goes on.  That measures the snapshot, not walmon:
	# each step waits (at most 2 minutes) until no other backend holds one.
	# The step after them measures it on purpose.
	wait_no_snapshot() {
		local i busy
		for ((i = 0; i < 240; i++)); do
			busy=$(q "SELECT count(*) FROM pg_stat_activity
			          WHERE pid <> pg_backend_pid()
			            AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)")
			[ "$busy" = 0 ] && return 0
			sleep 0.5
		done
		progress "after 2 minutes, $busy other backends still hold a snapshot or an xid"
	}
	time_cycles() {
		local first changed unchanged t0 rows
		# (with a third argument, the step times a snapshot held on purpose)
		[ $# -gt 2 ] || wait_no_snapshot
		# the first cycle registers the new slots' sources and writes their rows
		first=$(walmon_psql "$work" "$port" -A -t -c '\timing on' -c 'SELECT walmon_refresh()' |
			awk '/^Time: / { print $2 }')
		t0=$(q "SELECT clock_timestamp()")
		changed=$(run_pgbench off -c 1 -T "$BENCH_SECONDS" -r -f "$work/sql/refresh.sql" |
			awk '/walmon_refresh/ { print $1 }')
		unchanged=$(run_pgbench off -c 1 -T "$BENCH_SECONDS" -r -f "$work/sql/refresh_idle.sql" |
			awk '/walmon_refresh/ { print $1 }')
		# every slot has its source and its row, and the changed cycles
		# rewrote them all
		rows=$(q "SELECT count(*) FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		          JOIN pg_replication_slots r ON r.slot_name = s.slot_name
		          WHERE s.server IS NULL AND r.slot_name LIKE 'bench\_%slot\_%'
		            AND w.updated_at > '$t0'::timestamptz")
		[ "$rows" = "$2" ] ||
			die "after the cycles at $1 slots, $rows of their $2 rows were rewritten by the cycles after a change"
		echo "$1,$first,$changed,$unchanged" >>"$cycle_csv"
		progress "$1 slots: first ${first} ms, all changed ${changed} ms, nothing changed ${unchanged} ms"
	}
	drop_bench_slots() {
		q "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots
		   WHERE slot_name LIKE 'bench\_%slot\_%'" >/dev/null
		q "SELECT count(walmon_drop_source(id)) FROM walmon_source
		   WHERE slot_name LIKE 'bench\_%slot\_%'" >/dev/null
	}
	have=0
	for n in $CYCLE_SLOTS; do
		q "SELECT count(pg_create_physical_replication_slot(format('bench_slot_%s', g), true))
		   FROM generate_series($((have + 1)), $n) AS g" >/dev/null
		have=$n
		time_cycles "$n" "$n"
	done
	# logical slots too (pgoutput, no consumer): their samples also look up
	# the slot's decoding statistics
	# (new names: a dropped source's slot stays excluded until a cycle
	# saw it gone)
	drop_bench_slots
	q "SELECT count(pg_create_physical_replication_slot(format('bench_pslot_%s', g), true))
	   FROM generate_series(1, 500) AS g" >/dev/null
	q "SELECT count(pg_create_logical_replication_slot(format('bench_lslot_%s', g), 'pgoutput'))
	   FROM generate_series(1, 500) AS g" >/dev/null
	time_cycles "1000 (500 logical)" 1000
	drop_bench_slots
	# and at 1,000 physical slots while another session holds a snapshot
	# (REPEATABLE READ, idle in its transaction) from before the first
	# cycle to after the last: how much a long transaction elsewhere costs
	q "SELECT count(pg_create_physical_replication_slot(format('bench_hslot_%s', g), true))
	   FROM generate_series(1, 1000) AS g" >/dev/null
	as_pg env PGOPTIONS="-c default_transaction_isolation=repeatable\ read" \
		"$bindir/psql" -X -q -h "$work" -p "$port" -U postgres -d postgres \
		-c "BEGIN" -c "SELECT count(*) FROM pg_class" \
		-c "SELECT pg_sleep($((2 * BENCH_SECONDS + 30)))" >/dev/null 2>&1 &
	holder=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%' AND backend_xmin IS NOT NULL")" = 1 ] && break
		sleep 0.1
	done
	time_cycles "1000 (a snapshot held elsewhere)" 1000 held
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%'" >/dev/null
	drop_bench_slots

	# The idle window, as a user's server is after a burst of work: the
	# benchmark's load just ended and autovacuum (on, with its default
	# settings) is free to vacuum and analyze whatever it left.  Whatever
	# autovacuum or anyone else writes is foreign WAL, to which walmon
	# rightly answers; the figure judged is walmon's WAL that answered
	# nothing (bench/idle_wal.awk, bench/README.md).
	say "walmon's WAL over ${BENCH_IDLE_SECONDS}s of idleness (autovacuum on, naptime 200ms, a physical and a logical slot)"
	q "SELECT pg_create_physical_replication_slot('bench_idle_physical', true)" >/dev/null
	q "SELECT pg_create_logical_replication_slot('bench_idle_logical', 'pgoutput')" >/dev/null
	# the dump starts here: the slots hold the WAL from here on
	lsn_pre=$(q "SELECT pg_current_wal_lsn()")
	set_conf "walmon.enabled = on" "walmon.naptime = '200ms'" "walmon.metrics_interval = '1s'"
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
	# settle a little: the WAL position stays put for 10 naptimes, or 30 s
	# pass (autovacuum may be busy for longer; that does not matter to the
	# figure judged, only to the raw byte count)
	last="" still=0 waited=0
	while ((still < 10 && waited++ < 150)); do
		sleep 0.2
		lsn=$(q "SELECT pg_current_wal_lsn()")
		if [ "$lsn" = "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$lsn
	done
	((still >= 10)) || idle_note="the WAL position was still moving when the window began; "
	autovac_sql="SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_all_tables"
	autovac() {
		local n
		n=$(q "$autovac_sql")
		[ -n "$rest_dir" ] && n=$((n + $(walmon_psql "$work" "$port" -d walmon_rest -A -t -c "$autovac_sql")))
		echo "$n"
	}
	cycles_sql="SELECT coalesce(to_jsonb(s) ->> 'cycles', '?') FROM (SELECT * FROM walmon_worker_status()) AS s"
	cycles0=$(q "$cycles_sql")
	autovac0=$(autovac)
	lsn0=$(q "SELECT pg_current_wal_lsn()")
	sleep "$BENCH_IDLE_SECONDS"
	lsn1=$(q "SELECT pg_current_wal_lsn()")
	cycles1=$(q "$cycles_sql")
	autovac1=$(autovac)
	idle_bytes=$(q "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
	if [[ $cycles0 =~ ^[0-9]+$ && $cycles1 =~ ^[0-9]+$ ]]; then
		idle_note+="$((cycles1 - cycles0)) worker cycles ran"
	else
		idle_note+="worker cycles: unknown"
	fi
	idle_note+=", autovacuum vacuumed or analyzed a table $((autovac1 - autovac0)) times"
	# a commit with synchronous_commit on flushes the window's WAL to disk,
	# for pg_waldump (its own record lies after the window)
	q "SELECT txid_current()" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(q "SELECT pg_current_wal_flush_lsn() >= '$lsn1'")" = t ] && break
		sleep 0.1
	done

	# whose WAL: walmon's relations by relfilenode in walmon's database,
	# each named after its table (an index or TOAST relation after the
	# table it belongs to)
	walmon_db=$(q "SELECT oid FROM pg_database WHERE datname = current_database()")
	walmon_nodes=$(q "WITH ext AS (
			SELECT c.oid FROM pg_class c
			JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
			 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'walmon'),
		rels (oid, owner) AS (
			SELECT oid, oid FROM ext
			UNION SELECT indexrelid, indrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM ext)
			UNION SELECT reltoastrelid, oid FROM pg_class WHERE oid IN (SELECT oid FROM ext) AND reltoastrelid <> 0
			UNION SELECT i.indexrelid, c.oid FROM pg_index i JOIN pg_class c ON c.reltoastrelid = i.indrelid
			      WHERE c.oid IN (SELECT oid FROM ext))
		SELECT string_agg(pg_relation_filenode(r.oid) || '=' || o.relname, ' ')
		FROM rels r JOIN pg_class o ON o.oid = r.owner WHERE pg_relation_filenode(r.oid) IS NOT NULL")
	as_pg "$bindir/pg_waldump" -p "$data/pg_wal" -s "$lsn_pre" -e "$lsn1" \
		>"$results/idle_waldump.txt" 2>&1 || true
	while read -r k v; do
		idle[$k]=$v
	done < <(awk -v db="$walmon_db" -v nodes="$walmon_nodes" -v from="$lsn0" -v to="$lsn1" \
		-v csv="$idle_csv" -f "$bench/idle_wal.awk" "$results/idle_waldump.txt" "$results/idle_waldump.txt")
	progress "window $lsn0..$lsn1: $idle_bytes bytes; walmon: ${idle[walmon_transactions]} transactions, ${idle[unprompted]} unprompted (${idle[unprompted_bytes]} bytes); foreign ${idle[foreign_bytes]} bytes"
	q "SELECT pg_drop_replication_slot('bench_idle_logical')" >/dev/null
	q "SELECT pg_drop_replication_slot('bench_idle_physical')" >/dev/null
fi

# ---------------------------------------------------------------------------
# 6. The fleet (bench/fleet.sh): walmon_refresh() with 10, 100 and 200
#    servers of walmon_fdw bound, pointing round-robin at a few throwaway
#    source clusters; last, so that none of its servers and connections is
#    around any other measurement.

fleet_csv=$results/fleet.csv
echo "$fleet_csv_header" >"$fleet_csv"
if [ "$has_fleet" = t ]; then
	say "the fleet: walmon_refresh() with $BENCH_FLEET_SERVERS bound servers on $BENCH_FLEET_CLUSTERS source clusters"
	# the worker pauses again: only the step's sessions poll the servers
	set_conf "walmon.enabled = off"
	fleet_start_sources "$work"
	fleet_measure "$work" "$port" "$fleet_csv"
	fleet_stop_sources
fi

walmon_cluster_stop "$work"

# ---------------------------------------------------------------------------
# The report.

# mean per-second figure of a contender in a matrix cell ("" when it did
# not run there)
mean_tps() {
	awk -F, -v s="$1" -v n="$2" -v who="$3" \
		'$1 == s && $2 == n && $3 == who { sum += $5; k++ } END { if (k) printf "%.0f", sum / k }' \
		"$matrix_csv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "–"; else printf "%.2f", a / b }'; }
met() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
	if (v == "–" || v == "") { print "n/a"; exit }
	ok = (op == ">=") ? v >= g : (op == "<=") ? v <= g : (op == "=") ? v == g : v < g; print ok ? "**met**" : "**missed**" }'; }
fmt_bytes() { awk -v b="$1" 'BEGIN {
	if (b >= 1048576) printf "%.1f MB", b / 1048576; else printf "%.0f kB", b / 1024 }'; }
# column sums of the CSV rows whose contender column C is one of NAMES:
#   csv_sum FILE C NAMES... -> "sum of calls column, sum of ids column"
csv_sum() {
	local file=$1 col=$2
	shift 2
	awk -F, -v col="$col" -v names=" $* " 'NR > 1 && index(names, " " $col " ") {
		calls += $(NF - 1); ids += $NF } END { printf "%d %d\n", calls, ids }' "$file"
}

w_cell() { mean_tps "$1" "$GOAL_CLIENTS" "$2"; }
goal_ratio() { ratio "$(w_cell "$1" walmon)" "$(w_cell "$1" "$2")"; }

IFS=, read -r _ _ hot_pct _ total_bytes _ < <(sed -n 2p "$hot_csv")
batch_mean() { awk -F, -v s="$1" -v c="$2" '$1 == s && $2 == c { sum += $4; k++ }
	END { printf "%.0f", k ? sum / k : 0 }' "$batch_csv"; }
read -r walmon_calls walmon_ids < <(
	# walmon's update-only runs: the matrix's walmon_upsert runs, all on
	# existing rows (the HOT phase inserted them), and the batch section's
	read -r a b < <(csv_sum "$matrix_csv" 3 walmon)
	read -r c d < <(csv_sum "$batch_csv" 2 batch single)
	echo "$((a + c)) $((b + d))")
read -r raw_calls raw_ids < <(csv_sum "$matrix_csv" 3 raw_own)
read -r raw_set_rows raw_set_ids < <(csv_sum "$batch_csv" 2 raw_set)
na="n/a (no worker in this build)"
rest_goal_label="walmon_upsert ÷ the original design's REST service (wrk, $GOAL_CLIENTS connections, $rest_server)"

report=$results/results.md
{
	echo "# walmon benchmark"
	echo
	echo "- machine: $machine"
	echo "- command: \`BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS BENCH_CLIENTS=\"$BENCH_CLIENTS\" BENCH_UPSERTS=$BENCH_UPSERTS BENCH_IDLE_SECONDS=$BENCH_IDLE_SECONDS BENCH_FLEET_SERVERS=\"$BENCH_FLEET_SERVERS\" BENCH_FLEET_RUNS=$BENCH_FLEET_RUNS make bench\` ($BENCH_ROUNDS rounds of ${BENCH_SECONDS}s per measurement, $((2 * BENCH_ROUNDS)) at $GOAL_CLIENTS clients; pgbench \`-M prepared\`, $SOURCES sources, a random one per transaction), $(date -u '+%Y-%m-%d %H:%M UTC')"
	if [ -n "$rest_dir" ]; then
		echo "- REST service: \`$rest_dir\` (the original design: FastAPI, SQLAlchemy async, asyncpg), $rest_config, on its own database of this cluster; wrk -t1 -c$GOAL_CLIENTS with its upsert.lua"
	else
		echo "- REST service: $rest_note"
	fi
	echo
	echo "## Goals"
	echo
	echo "| goal | measured | target | |"
	echo "|---|---|---|---|"
	for sync in off on; do
		r=$(goal_ratio "$sync" bare)
		echo "| walmon_upsert ÷ bare row write (the same UPDATE on a copy of wal_monitor without CHECKs, foreign key, triggers), $GOAL_CLIENTS clients, synchronous_commit=$sync | ${r}× | ≥ 0.9× | $(met "$r" ">=" 0.9) |"
	done
	for sync in off on; do
		r=$(goal_ratio "$sync" raw_own)
		echo "| walmon_upsert ÷ raw INSERT ... ON CONFLICT on walmon's table, $GOAL_CLIENTS clients, synchronous_commit=$sync | ${r}× | ≥ 1.0× | $(met "$r" ">=" 1.0) |"
	done
	r=$(goal_ratio "$GOAL_SYNC" raw_orig)
	echo "| walmon_upsert ÷ raw statement on the original design's schema, $GOAL_CLIENTS clients, synchronous_commit=$GOAL_SYNC | ${r}× | ≥ 1.2× | $(met "$r" ">=" 1.2) |"
	r=$(goal_ratio "$GOAL_SYNC" plpgsql)
	echo "| walmon_upsert ÷ PL/pgSQL function on the original design's schema, $GOAL_CLIENTS clients, synchronous_commit=$GOAL_SYNC | ${r}× | ≥ 1.1× | $(met "$r" ">=" 1.1) |"
	for sync in off on; do
		if [ -n "$rest_dir" ]; then
			r=$(goal_ratio "$sync" rest)
			echo "| $rest_goal_label, synchronous_commit=$sync | ${r}× | ≥ 30× | $(met "$r" ">=" 30) |"
		else
			echo "| walmon_upsert ÷ the original design's REST service, synchronous_commit=$sync | $rest_note | ≥ 30× | |"
		fi
	done
	echo "| HOT updates of wal_monitor ($BENCH_UPSERTS upserts, $SOURCES sources) | ${hot_pct}% | ≥ 99% | $(met "$hot_pct" ">=" 99) |"
	echo "| size of wal_monitor with its indexes after $BENCH_UPSERTS upserts | $(fmt_bytes "$total_bytes") | < 1 MB | $(met "$total_bytes" "<" 1048576) |"
	echo "| ids of wal_monitor_id_seq consumed by walmon's $walmon_calls upserts of existing rows (walmon_upsert and batch elements) | $walmon_ids | 0 | $(met "$walmon_ids" "=" 0) |"
	r=$(ratio "$(batch_mean "$GOAL_SYNC" batch)" "$(batch_mean "$GOAL_SYNC" raw_set)")
	echo "| walmon_upsert_batch ($BATCH_SIZE elements) ÷ set-based INSERT ... SELECT FROM unnest(...) ON CONFLICT, rows/s, 1 connection, synchronous_commit=$GOAL_SYNC | ${r}× | ≥ 1.0× | $(met "$r" ">=" 1.0) |"
	r=$(ratio "$(batch_mean "$GOAL_SYNC" batch)" "$(batch_mean "$GOAL_SYNC" single)")
	echo "| walmon_upsert_batch ($BATCH_SIZE elements) ÷ single walmon_upsert, rows/s, 1 connection, synchronous_commit=$GOAL_SYNC | ${r}× | ≥ 10× | $(met "$r" ">=" 10) |"
	if [ "$has_worker" = t ]; then
		cyc=$(awk -F, '$1 == 1000 { print $3 }' "$cycle_csv")
		echo "| worker cycle at 1,000 slots, every row changed | ${cyc} ms | < 20 ms | $(met "$cyc" "<" 20) |"
		echo "| walmon's idle WAL: bytes of walmon transactions without a foreign cause (no foreign WAL since walmon's previous write, and not the sampler's pass that records that write), ${BENCH_IDLE_SECONDS}s idle, autovacuum on | ${idle[unprompted_bytes]} bytes (all WAL in the window: $idle_bytes bytes) | 0 | $(met "${idle[unprompted_bytes]}" "=" 0) |"
	else
		echo "| worker cycle at 1,000 slots | $na | < 20 ms | |"
		echo "| walmon's idle WAL over ${BENCH_IDLE_SECONDS}s | $na | 0 bytes | |"
	fi
	if [ "$has_fleet" = t ]; then
		fleet_goal_rows "$fleet_csv"
	else
		echo "| cycle at $fleet_max bound servers | n/a (no walmon_add_server in this build) | < 1000 ms | |"
	fi
	echo
	echo "## At $GOAL_CLIENTS clients"
	echo
	echo "Transactions (REST: requests) per second at $GOAL_CLIENTS clients (REST: $GOAL_CLIENTS connections), mean of $((2 * BENCH_ROUNDS)) rounds, and walmon_upsert's divided by each contender's (the layout of the README's Performance section)."
	echo
	echo "| contender | synchronous_commit=off | walmon_upsert ÷ | synchronous_commit=on | walmon_upsert ÷ |"
	echo "|---|--:|--:|--:|--:|"
	for c in "${contenders[@]}"; do
		row="| ${label_of[$c]} |"
		for sync in off on; do
			v=$(w_cell "$sync" "$c")
			row+=" ${v:-–} | $(goal_ratio "$sync" "$c")× |"
		done
		echo "$row"
	done
	echo
	echo "## Upsert throughput"
	echo
	echo "Transactions per second (mean of $BENCH_ROUNDS rounds, $((2 * BENCH_ROUNDS)) at $GOAL_CLIENTS clients; one upsert per transaction; the REST service: requests per second, at $GOAL_CLIENTS connections only) and walmon_upsert's throughput divided by each contender's."
	echo
	header="| synchronous_commit | clients |"
	rule="|---|--:|"
	for c in "${contenders[@]}"; do header+=" ${label_of[$c]} |"; rule+="--:|"; done
	for c in "${contenders[@]:1}"; do header+=" ÷ ${label_of[$c]} |"; rule+="--:|"; done
	echo "$header"
	echo "$rule"
	for sync in on off; do
		for clients in $BENCH_CLIENTS; do
			row="| $sync | $clients |"
			a=$(mean_tps "$sync" "$clients" walmon)
			for c in "${contenders[@]}"; do
				v=$(mean_tps "$sync" "$clients" "$c")
				row+=" ${v:-–} |"
			done
			for c in "${contenders[@]:1}"; do
				row+=" $(ratio "$a" "$(mean_tps "$sync" "$clients" "$c")") |"
			done
			echo "$row"
		done
	done
	echo
	echo "- bare row write: \`bench/sql/bare_update.sql\` on \`limits.wal_monitor\` (options: $limits_options; indexes: $limits_indexes)."
	echo "- smallest write: \`UPDATE limits.counter SET n = n + 1 WHERE id = :id\`, 100 rows, fillfactor 50."
	echo "- the raw statement on walmon's table consumed $raw_ids values of wal_monitor_id_seq in its $raw_calls calls (the id default is evaluated before the conflict is found); walmon's $walmon_calls updates consumed $walmon_ids."
	if [ -n "$rest_dir" ]; then
		echo
		echo "## REST service of the original design"
		echo
		echo "$rest_config, wrk -t1 -c$GOAL_CLIENTS, ${BENCH_SECONDS}s per round (after ${REST_WARMUP}s of warm-up each time the service started), \`synchronous_commit\` set on its database. conns/process: the client connections each server process held, read with \`ss\` in mid-run (\`uvicorn --workers 2\` often gives all of them to one worker)."
		echo
		echo "| synchronous_commit | round | requests/s | p50 ms | p99 ms | errors | conns/process |"
		echo "|---|--:|--:|--:|--:|--:|--:|"
		tail -n +2 "$rest_csv" | while IFS=, read -r s rd rps _ p50 p99 err spread; do
			echo "| $s | $rd | ${rps%.*} | $p50 | $p99 | $err | $spread |"
		done
		echo
		echo "For scale, the same ratio for the smallest write transaction (\`limits.counter\`, which no upsert can beat): $(ratio "$(w_cell off counter)" "$(w_cell off rest)")× at synchronous_commit=off, $(ratio "$(w_cell on counter)" "$(w_cell on rest)")× at synchronous_commit=on, where every contender waits for its commit's WAL flush on this machine's disk."
	fi
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
	echo "Rows per second on one connection, every row an update: one walmon_upsert_batch call of $BATCH_SIZE elements (sources 1..$BATCH_SIZE, shuffled) per transaction; one walmon_upsert call per transaction on the same sources; one set-based \`INSERT ... SELECT FROM unnest(\$1::integer[], ...) ORDER BY source_id ON CONFLICT ... DO UPDATE ... RETURNING *\` of $BATCH_SIZE rows per transaction (\`bench/sql/raw_batch_upsert.sql\`), alternating; mean of $((2 * BENCH_ROUNDS)) rounds."
	echo
	echo "| synchronous_commit | walmon_upsert_batch rows/s | single walmon_upsert rows/s | set-based raw SQL rows/s | batch ÷ raw SQL | batch ÷ single |"
	echo "|---|--:|--:|--:|--:|--:|"
	for sync in on off; do
		a=$(batch_mean "$sync" batch)
		b=$(batch_mean "$sync" single)
		c=$(batch_mean "$sync" raw_set)
		echo "| $sync | $a | $b | $c | $(ratio "$a" "$c")× | $(ratio "$a" "$b")× |"
	done
	echo
	echo "The set-based statement consumed $raw_set_ids values of wal_monitor_id_seq for its $raw_set_rows rows."
	echo
	echo "## Worker"
	echo
	if [ "$has_worker" = t ]; then
		echo "Milliseconds per walmon_refresh() cycle: the first after the slots appeared (registers their sources), with every slot's lag changed, with nothing changed. Each step starts when no other backend holds a snapshot, except the last, in which one session holds one throughout (a long transaction elsewhere: every version the cycles write stays, and each row's HOT chain grows by one per cycle)."
		echo
		echo "| slots (physical unless said) | first cycle | every row changed | nothing changed |"
		echo "|--:|--:|--:|--:|"
		tail -n +2 "$cycle_csv" | while IFS=, read -r n f ch un; do
			echo "| $n | $f | $ch | $un |"
		done
		echo
		echo "### Idle WAL"
		echo
		echo "${BENCH_IDLE_SECONDS}s right after the load, autovacuum on, walmon.naptime = 200ms, one physical and one logical slot ($idle_note). pg_waldump of the window: \`idle_waldump.txt\`, walmon's transactions one per line: \`idle_wal.csv\`."
		echo
		echo "| WAL in the window | bytes |"
		echo "|---|--:|"
		echo "| all (pg_current_wal_lsn() difference, page headers included) | $idle_bytes |"
		echo "| walmon's transactions: ${idle[walmon_transactions]}, of which ${idle[prompted]} followed foreign WAL | ${idle[walmon_bytes]} |"
		echo "| **walmon's transactions without a foreign cause: ${idle[unprompted]}** (they wrote: ${idle[unprompted_relations]}) | **${idle[unprompted_bytes]}** |"
		echo "| maintenance of walmon's relations outside any transaction (pruning, vacuum) | ${idle[maintenance_bytes]} |"
		echo "| bookkeeping (checkpoint, running transactions) | ${idle[bookkeeping_bytes]} |"
		echo "| foreign: ${idle[foreign_records]} records (most bytes: ${idle[foreign_top]}) | ${idle[foreign_bytes]} |"
		if [ "$has_fleet" = t ]; then
			echo
			fleet_report "$fleet_csv"
		fi
	else
		echo "Cycle time at $CYCLE_SLOTS slots: $na."
		echo
		echo "WAL over ${BENCH_IDLE_SECONDS}s of idleness: $na."
	fi
	echo
	echo "![throughput](throughput.png)"
} >"$report"

# ---------------------------------------------------------------------------
# The chart: per-second throughput by clients, one panel per
# synchronous_commit setting, every contender (REST at its client count only).

if command -v gnuplot >/dev/null; then
	for sync in on off; do
		for clients in $BENCH_CLIENTS; do
			printf '%s' "$clients"
			for c in "${contenders[@]}"; do
				v=$(mean_tps "$sync" "$clients" "$c")
				printf ' %s' "${v:-?}"
			done
			echo
		done >"$results/chart_$sync.dat"
	done
	colors=("#1b7837" "#e08214" "#fdb863" "#7fbf7b" "#af8dc3" "#762a83" "#b2182b")
	plot="" col=2
	for c in "${contenders[@]}"; do
		title=${label_of[$c]}
		[ "$c" = rest ] && title="REST ($GOAL_CLIENTS conns only)"
		if [ -z "$plot" ]; then
			plot="\"$results/chart_\".s.\".dat\" using $col:xtic(1)"
		else
			plot+=", '' using $col"
		fi
		plot+=" title \"$title\" lc rgb \"${colors[col - 2]}\""
		col=$((col + 1))
	done
	# the REST bar is small: its value goes into the panel's title
	rest_on="" rest_off=""
	if [ -n "$rest_dir" ]; then
		rest_on=" (REST: $(mean_tps on "$GOAL_CLIENTS" rest) requests/s)"
		rest_off=" (REST: $(mean_tps off "$GOAL_CLIENTS" rest) requests/s)"
	fi
	gnuplot <<GNUPLOT
set terminal pngcairo noenhanced size 1400,560 font "sans,10"
set output "$results/throughput.png"
set datafile missing "?"
set multiplot layout 1,2 title "walmon upsert throughput and its contenders, 100 sources ($(nproc) CPUs, ${BENCH_SECONDS}s × $BENCH_ROUNDS rounds)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xlabel "clients"
set ylabel "transactions (REST: requests) per second"
set key outside below center horizontal
do for [s in "on off"] {
	set title "synchronous_commit = ".s.(s eq "on" ? "$rest_on" : "$rest_off")
	plot $plot
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
