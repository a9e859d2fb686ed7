#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# bench/fleet.sh: the fleet's cycle time (bench/README.md, "The fleet").
#
# walmon_refresh() in one session with 10, 100 and 200 servers of walmon_fdw
# bound, every one pointing at one of a few throwaway source clusters of
# this machine (round-robin: many servers may point at one cluster; each
# is a connection, a query and a set of rows of its own to walmon).  For
# each number of servers, from scratch: the servers and their user
# mappings are created, bound with walmon_add_server() while the sources
# have no slot (timed: what binding costs), then the slots are created and
# one fresh session times the first cycle (it connects to every server and
# registers and inserts every slot's source), cycles with nothing changed,
# and cycles after WAL was written on every source cluster (not timed), so
# that every remote slot's lag changed and every row is rewritten.
#
# bench/run.sh sources this file and calls fleet_start_sources,
# fleet_measure and fleet_stop_sources with its own monitor cluster, and
# fleet_goal_rows and fleet_report for its report.  Run alone (as root:
# `bash bench/fleet.sh`), it builds and installs walmon like run.sh, starts
# a monitor cluster of its own in the benchmark's directory, measures,
# writes bench/results/fleet.csv and bench/results/fleet.md and prints the
# latter.  Every cluster it starts is stopped when it exits, however it
# exits.
#
# Settings (environment), beside run.sh's BENCH_WORKDIR, BENCH_PORT (the
# monitor's port when run alone) and PG_CONFIG:
#   BENCH_FLEET_SERVERS    numbers of bound servers, ascending ("10 100 200")
#   BENCH_FLEET_CLUSTERS   source clusters the servers point at (3)
#   BENCH_FLEET_PHYSICAL   physical slots on each source cluster (3)
#   BENCH_FLEET_LOGICAL    logical slots on each source cluster (2)
#   BENCH_FLEET_RUNS       cycles timed with nothing changed, and as many
#                          with every row changed, per number of servers (20)
#   BENCH_FLEET_PORT       the first source cluster's port (on its unix
#                          socket only); the others follow (BENCH_PORT + 1)

# fleet_init: the settings, checked (BENCH_PORT must be set)
fleet_init() {
	BENCH_FLEET_SERVERS=${BENCH_FLEET_SERVERS:-10 100 200}
	BENCH_FLEET_CLUSTERS=${BENCH_FLEET_CLUSTERS:-3}
	BENCH_FLEET_PHYSICAL=${BENCH_FLEET_PHYSICAL:-3}
	BENCH_FLEET_LOGICAL=${BENCH_FLEET_LOGICAL:-2}
	BENCH_FLEET_RUNS=${BENCH_FLEET_RUNS:-20}
	BENCH_FLEET_PORT=${BENCH_FLEET_PORT:-$((BENCH_PORT + 1))}
	local v n last=0
	for v in BENCH_FLEET_CLUSTERS BENCH_FLEET_RUNS BENCH_FLEET_PORT; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
	done
	for v in BENCH_FLEET_PHYSICAL BENCH_FLEET_LOGICAL; do
		[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
	done
	((BENCH_FLEET_PHYSICAL + BENCH_FLEET_LOGICAL > 0)) ||
		die "BENCH_FLEET_PHYSICAL + BENCH_FLEET_LOGICAL must be at least 1: a server without slots has no rows"
	for n in $BENCH_FLEET_SERVERS; do
		if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n <= last)); then
			die "BENCH_FLEET_SERVERS must list ascending positive integers, not '$BENCH_FLEET_SERVERS'"
		fi
		last=$n
	done
	((last > 0)) || die "BENCH_FLEET_SERVERS is empty"
	fleet_max=$last
	fleet_slots=$((BENCH_FLEET_PHYSICAL + BENCH_FLEET_LOGICAL))	# per server
	fleet_dirs=()
}

# ---------------------------------------------------------------------------
# The source clusters: BENCH_FLEET_CLUSTERS throwaway clusters in
# WORK/fleet1, WORK/fleet2, ..., as the postgres user, each on a unix
# socket in its own directory only.  They must stay quiet when the
# benchmark writes nothing (no autovacuum; walmon is not preloaded there),
# so that "nothing changed" means it, and they take every connection the
# servers pointing at them open, twice over (the session that bound them
# may still be leaving when the next one connects).

# fleet_start_sources WORK: start them; fleet_dirs lists them
fleet_start_sources() {
	local base=$1 k dir conns
	conns=$((2 * ((fleet_max + BENCH_FLEET_CLUSTERS - 1) / BENCH_FLEET_CLUSTERS) + 20))
	for ((k = 1; k <= BENCH_FLEET_CLUSTERS; k++)); do
		dir=$base/fleet$k
		[[ $dir == *"'"* ]] && die "the fleet's directory must hold no quote: $dir"
		mkdir -p "$dir"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
		fleet_dirs+=("$dir")	# before it starts: fleet_stop_sources stops it whatever happens
		walmon_cluster_start "$dir" "$((BENCH_FLEET_PORT + k - 1))" <<CONF
# a source of the fleet benchmark
shared_preload_libraries = ''
max_connections = $conns
shared_buffers = 16MB
autovacuum = off
max_replication_slots = $((fleet_slots + 5))
CONF
	done
}

# fleet_stop_sources: stop every source cluster started (by pg_ctl, which
# reads its postmaster.pid); harmless when there is none
fleet_stop_sources() {
	local dir
	for dir in "${fleet_dirs[@]}"; do
		walmon_cluster_stop "$dir"
	done
	fleet_dirs=()
}

# fleet_src K SQL: run SQL on source cluster K (1-based), tuples only
fleet_src() {
	walmon_psql "${fleet_dirs[$1 - 1]}" "$((BENCH_FLEET_PORT + $1 - 1))" -A -t -c "$2"
}

# ---------------------------------------------------------------------------
# Measuring.

# fleet_parse SERVERS SOURCES: the output of a psql session of the
# benchmark on standard input -> one CSV line of fleet.csv per case.  The
# session marks each case with "\echo fleet:case NAME" and may print
# "fleet:cpu M S" (the CPU probe) before the first case and after each;
# every "Time: 1.234 ms" line is a timed call, every line of digits alone
# what walmon_refresh() or walmon_add_server() returned.  p90: nearest
# rank; CPU: per call, empty without probes.
fleet_parse() {
	awk -v n="$1" -v want="$2" '
		function put(c,    k, i, j, t, m, p) {
			k = cnt[c]
			for (i = 1; i <= k; i++) t[i] = ms[c, i]
			for (i = 2; i <= k; i++)	# insertion sort: a few dozen values
				for (j = i; j > 1 && t[j - 1] > t[j]; j--) { x = t[j]; t[j] = t[j - 1]; t[j - 1] = x }
			m = k ? ((k % 2) ? t[(k + 1) / 2] : (t[k / 2] + t[k / 2 + 1]) / 2) : 0
			p = k ? t[int(k * 0.9 + 0.999)] : 0
			printf "%d,%d,%s,%d,%.2f,%.2f,%.2f,%s,%s,%s,%s\n", n, want, c, k, m, p, sum[c],
				lo[c], hi[c], (c in mcpu) ? sprintf("%.1f", mcpu[c] / 1e6 / k) : "",
				(c in scpu) ? sprintf("%.1f", scpu[c] / 1e6 / k) : ""
		}
		$1 == "fleet:case" { cur = $2; order[++ncase] = cur; next }
		$1 == "fleet:cpu" {
			if (cur != "" && have) { mcpu[cur] = $2 - m0; scpu[cur] = $3 - s0 }
			m0 = $2; s0 = $3; have = 1; next
		}
		/^Time: / { ms[cur, ++cnt[cur]] = $2; sum[cur] += $2; next }
		/^[0-9]+$/ {
			if (!(cur in lo) || $1 + 0 < lo[cur]) lo[cur] = $1 + 0
			if (!(cur in hi) || $1 + 0 > hi[cur]) hi[cur] = $1 + 0
		}
		END { for (i = 1; i <= ncase; i++) put(order[i]) }'
}

# fleet_drop_servers DIR PORT: on the monitor in DIR, every server of the
# benchmark unbound (its sources and rows go) and dropped with its user
# mapping
fleet_drop_servers() {
	walmon_psql "$1" "$2" -c "SET client_min_messages = warning" -c "DO \$\$DECLARE s name;
		BEGIN
			FOR s IN SELECT srvname FROM pg_foreign_server WHERE srvname LIKE 'fleet\_%' LOOP
				PERFORM walmon_drop_server(s);
				EXECUTE format('DROP SERVER %I CASCADE', s);
			END LOOP;
		END\$\$" >/dev/null
}

# fleet_measure DIR PORT CSV: measure on the monitor cluster in DIR (walmon
# installed in its database postgres, its worker paused), append to CSV:
#   servers,sources,case,runs,median_ms,p90_ms,total_ms,rows_min,rows_max,
#   monitor_cpu_ms,sources_cpu_ms
# case bind: walmon_add_server() per call; first: the first cycle of a
# fresh session; unchanged, changed: the cycles after it; reconnect: the
# first cycle of the next session.  The CPU columns are per cycle (a
# mean); none for bind.
fleet_csv_header=servers,sources,case,runs,median_ms,p90_ms,total_ms,rows_min,rows_max,monitor_cpu_ms,sources_cpu_ms
fleet_measure() {
	local mdir=$1 mport=$2 csv=$3
	local n i k c sql lines probe first unchanged changed lo hi scpu want_rows emit=""
	mq() { walmon_psql "$mdir" "$mport" -A -t -c "$1"; }

	# only this session's cycles may run: a worker cycle would poll the
	# servers too, and hold the refresh lock while it does
	# (a reload just asked for may take a moment to reach new sessions)
	for ((i = 0; ; i++)); do
		[ "$(mq "SELECT current_setting('walmon.enabled', true)")" = off ] && break
		((i < 50)) || die "the fleet is measured with walmon.enabled = off on the monitor"
		sleep 0.1
	done

	# CPU time: a script psql's \! runs between the timed cycles, printing
	# "fleet:cpu M S", the nanoseconds on CPU so far of the monitor's
	# session (FLEET_PID, set by the session) and of every process of the
	# source clusters but their postmasters (/proc/PID/schedstat): what the
	# monitor spends per cycle, and what its servers spend answering, which
	# on a real fleet is their own CPU's and here shares this machine's
	local cpu=$mdir/fleet_cpu.sh
	# shellcheck disable=SC2016 # the probe's own expansions
	{
		echo "# bench/fleet.sh's CPU probe"
		echo 'ns() { local a=0; { read -r a _ <"/proc/$1/schedstat"; } 2>/dev/null; echo "${a:-0}"; }'
		echo 'm=$(ns "$FLEET_PID") s=0'
		printf 'for pm in $(head -qn 1'
		printf " '%s/data/postmaster.pid'" "${fleet_dirs[@]}"
		printf '); do
'
		echo '	for p in $(pgrep -P "$pm"); do s=$((s + $(ns "$p"))); done'
		echo 'done'
		echo 'echo "fleet:cpu $m $s"'
	} >"$cpu"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$cpu"

	# the foreign WAL of the changed cycles: a committed transaction on each
	# source cluster (its commit moves pg_current_wal_lsn() at once)
	for ((k = 1; k <= BENCH_FLEET_CLUSTERS; k++)); do
		emit+="${emit:+ && }'$bindir/psql' -X -q -h '${fleet_dirs[k - 1]}' -p $((BENCH_FLEET_PORT + k - 1)) -U postgres -d postgres -c \"SELECT pg_logical_emit_message(true, 'walmon-bench', 'x')\" >/dev/null"
	done

	for n in $BENCH_FLEET_SERVERS; do
		want_rows=$((n * fleet_slots))
		progress "fleet: $n servers on $BENCH_FLEET_CLUSTERS clusters, $want_rows remote slots"

		# from scratch: no server of an earlier size, no slot on the sources,
		# and a cycle that writes what the monitor's own slots changed (the
		# earlier steps' slots were dropped), so that the timed cycles
		# write only the fleet's rows
		fleet_drop_servers "$mdir" "$mport"
		mq "SELECT walmon_refresh()" >/dev/null
		for ((k = 1; k <= BENCH_FLEET_CLUSTERS; k++)); do
			fleet_src "$k" "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots
				WHERE slot_name LIKE 'fleet\_%'" >/dev/null
		done

		# the servers, round-robin over the clusters, and walmon's owner's
		# user mappings (a superuser's server on a trusted unix socket needs
		# no password: remote.c)
		sql=""
		for ((i = 1; i <= n; i++)); do
			k=$(((i - 1) % BENCH_FLEET_CLUSTERS))
			sql+=$(printf "CREATE SERVER fleet_%04d FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%d', dbname 'postgres');\nCREATE USER MAPPING FOR CURRENT_USER SERVER fleet_%04d OPTIONS (user 'postgres');\n" \
				"$i" "${fleet_dirs[k]}" "$((BENCH_FLEET_PORT + k))" "$i")$'\n'
		done
		walmon_psql "$mdir" "$mport" -1 -f - <<<"$sql" >/dev/null

		# binding: one walmon_add_server() each, which polls its server at
		# once; no slot yet, so it registers nothing and writes no row
		lines=$({
			printf '\\echo fleet:case bind\n\\timing on\n'
			for ((i = 1; i <= n; i++)); do
				printf "SELECT walmon_add_server('fleet_%04d');\n" "$i"
			done
		} | walmon_psql "$mdir" "$mport" -A -t | fleet_parse "$n" "$want_rows")
		IFS=, read -r _ _ _ k _ _ _ lo hi _ <<<"$lines"
		[ "$k $lo $hi" = "$n 0 0" ] ||
			die "walmon_add_server of $n slotless servers: $k calls, $lo to $hi sources registered"

		# now the slots, the same on every cluster
		for ((k = 1; k <= BENCH_FLEET_CLUSTERS; k++)); do
			fleet_src "$k" "SELECT count(pg_create_physical_replication_slot('fleet_physical_' || g, true))
				FROM generate_series(1, $BENCH_FLEET_PHYSICAL) AS g" >/dev/null
			fleet_src "$k" "SELECT count(pg_create_logical_replication_slot('fleet_logical_' || g, 'pgoutput'))
				FROM generate_series(1, $BENCH_FLEET_LOGICAL) AS g" >/dev/null
		done

		# one fresh session, which has no connection yet: the first cycle,
		# then BENCH_FLEET_RUNS with nothing changed, then BENCH_FLEET_RUNS
		# each after foreign WAL on every cluster (untimed, psql's \!);
		# then another fresh session's first cycle, which connects to every
		# server again but has nothing to register (the worker's first
		# cycle after a restart)
		probe=$(printf 'SELECT pg_backend_pid() AS fleet_pid \\gset\n\\setenv FLEET_PID :fleet_pid\n\\! bash %s' "'$cpu'")
		lines+=$'\n'$({
			printf '%s\n\\echo fleet:case first\n\\timing on\nSELECT walmon_refresh();\n' "$probe"
			printf '\\! bash %s\n\\echo fleet:case unchanged\n' "'$cpu'"
			for ((i = 1; i <= BENCH_FLEET_RUNS; i++)); do
				printf 'SELECT walmon_refresh();\n'
			done
			printf '\\! bash %s\n\\echo fleet:case changed\n' "'$cpu'"
			for ((i = 1; i <= BENCH_FLEET_RUNS; i++)); do
				printf '\\timing off\n\\! %s\n\\timing on\nSELECT walmon_refresh();\n' "$emit"
			done
			printf '\\! bash %s\n' "'$cpu'"
		} | walmon_psql "$mdir" "$mport" -A -t | fleet_parse "$n" "$want_rows")
		lines+=$'\n'$({
			printf '%s\n\\echo fleet:case reconnect\n\\timing on\nSELECT walmon_refresh();\n' "$probe"
			printf '\\! bash %s\n' "'$cpu'"
		} | walmon_psql "$mdir" "$mport" -A -t | fleet_parse "$n" "$want_rows")

		# every server answered: each slot has its source and a row that is
		# no error, the first cycle inserted them all, the changed cycles
		# really rewrote every row
		[ "$(mq "SELECT count(*) FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
			WHERE s.server LIKE 'fleet\_%' AND w.status <> 'ERROR'")" -eq "$want_rows" ] ||
			die "after $n servers' cycles not every one of their $want_rows slots has a row without error: $(mq "SELECT coalesce(min(w.error_message), 'no row') FROM walmon_source s
				LEFT JOIN wal_monitor w ON w.source_id = s.id WHERE s.server LIKE 'fleet\_%'")"
		for c in first unchanged changed reconnect; do
			grep -q "^$n,$want_rows,$c," <<<"$lines" || die "no $c cycle of $n servers was timed"
		done
		IFS=, read -r _ _ _ _ first _ _ lo _ _ <<<"$(grep ",first," <<<"$lines")"
		[ "$lo" -ge "$want_rows" ] ||
			die "the first cycle of $n servers wrote $lo rows, fewer than $want_rows"
		IFS=, read -r _ _ _ _ changed _ _ lo _ _ scpu <<<"$(grep ",changed," <<<"$lines")"
		[ "$lo" -ge "$want_rows" ] ||
			die "a changed cycle of $n servers wrote $lo rows, fewer than $want_rows"
		IFS=, read -r _ _ _ _ unchanged _ _ lo hi _ <<<"$(grep ",unchanged," <<<"$lines")"
		printf '%s\n' "$lines" >>"$csv"
		progress "$n servers: first cycle $first ms, nothing changed $unchanged ms (rows written $lo–$hi), every row changed $changed ms (the sources' CPU $scpu ms of it)"
	done

	# leave the monitor as it was
	fleet_drop_servers "$mdir" "$mport"
}

# ---------------------------------------------------------------------------
# The report.

# fleet_get CSV SERVERS CASE COLUMN: one figure of fleet.csv ("" when absent)
fleet_get() {
	awk -F, -v n="$2" -v c="$3" -v col="$4" '
		NR == 1 { for (i = 1; i <= NF; i++) at[$i] = i; next }
		$1 == n && $3 == c { print $(at[col]); exit }' "$1"
}

# fleet_linearity CSV CASE: "per-server ms at each size; ms per server
# added between consecutive sizes; the last of those ÷ the first" as
# three fields separated by "|"
fleet_linearity() {
	local csv=$1 c=$2
	awk -F, -v c="$c" '
		NR > 1 && $3 == c { n[++k] = $1; t[k] = $5 }
		END {
			for (i = 1; i <= k; i++)
				per = per sprintf("%s%.2f ms at %d", i > 1 ? ", " : "", t[i] / n[i], n[i])
			for (i = 2; i <= k; i++) {
				m[i] = (t[i] - t[i - 1]) / (n[i] - n[i - 1])
				add = add sprintf("%s%.2f ms from %d to %d", i > 2 ? ", " : "", m[i], n[i - 1], n[i])
			}
			r = (k >= 3 && m[2] > 0) ? sprintf("%.2f", m[k] / m[2]) : ""
			printf "%s|%s|%s\n", per, add, r
		}' "$csv"
}

# fleet_goal_rows CSV: the goals' table rows of the fleet
fleet_goal_rows() {
	local csv=$1 med p90 first runs lin r shown
	med=$(fleet_get "$csv" "$fleet_max" changed median_ms)
	runs=$(fleet_get "$csv" "$fleet_max" changed runs)
	p90=$(fleet_get "$csv" "$fleet_max" changed p90_ms)
	first=$(fleet_get "$csv" "$fleet_max" first median_ms)
	echo "| cycle (walmon_refresh()) at $fleet_max bound servers ($((fleet_max * fleet_slots)) remote slots on $BENCH_FLEET_CLUSTERS clusters), every row changed, median of ${runs:-–} | ${med:-–} ms (p90 ${p90:-–} ms; the first cycle, connecting to every server: ${first:-–} ms) | < 1000 ms | $(met "${med:-–}" "<" 1000) |"
	lin=$(fleet_linearity "$csv" changed)
	r=${lin##*|}
	if [ -n "$r" ]; then shown="${r}×"; else shown="n/a: three numbers of servers needed"; fi
	echo "| linear growth of that cycle: ms per server added from the next-to-largest to the largest number of servers ÷ from the smallest to the next ($(cut -d'|' -f2 <<<"$lin")) | $shown | ≤ 1.25× | $(met "$r" "<=" 1.25) |"
}

# fleet_report CSV: the fleet's section of the report
fleet_report() {
	local csv=$1 n c lin r
	echo "### The fleet"
	echo
	echo "Milliseconds of walmon_refresh() in one session, the worker paused, with N servers of walmon_fdw bound, pointing round-robin at $BENCH_FLEET_CLUSTERS source clusters of this machine (unix sockets; $BENCH_FLEET_PHYSICAL physical and $BENCH_FLEET_LOGICAL logical slots each, so $fleet_slots remote slots per server). Binding: walmon_add_server() per call, which polls its server at once (no slot yet). First cycle: the first of a fresh session, which connects to every server and registers and inserts every slot's source; first cycle of a later session: the next fresh session's, which connects again but registers nothing (as the worker's first cycle after a restart). Then the median and p90 of $BENCH_FLEET_RUNS cycles with nothing changed on any source (rows written: fewest–most; a source's own bookkeeping WAL, such as a running-transactions record, moves its lags), and of $BENCH_FLEET_RUNS each after a committed transaction on every source cluster, which rewrite every row (checked). CPU: milliseconds on CPU per cycle (mean) of the monitor's session and of the source clusters' processes (/proc/PID/schedstat): on a real fleet the sources' share is spent on their own machines, at the same time; here they share this machine's $(nproc) cores with the monitor, so the cycle's time holds their CPU too."
	echo
	echo "| servers | remote slots | walmon_add_server, median per call | first cycle | first cycle of a later session | nothing changed: median / p90 (rows written) | every row changed: median / p90 | per server, changed | monitor's CPU per cycle: first / later first / nothing / every row changed | sources' CPU per cycle: first / every row changed |"
	echo "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for n in $BENCH_FLEET_SERVERS; do
		g() { fleet_get "$csv" "$n" "$1" "$2"; }
		echo "| $n | $((n * fleet_slots)) | $(g bind median_ms) | $(g first median_ms) | $(g reconnect median_ms) | $(g unchanged median_ms) / $(g unchanged p90_ms) ($(g unchanged rows_min)–$(g unchanged rows_max)) | $(g changed median_ms) / $(g changed p90_ms) | $(awk -v t="$(g changed median_ms)" -v n="$n" 'BEGIN { printf "%.2f", t / n }') | $(g first monitor_cpu_ms) / $(g reconnect monitor_cpu_ms) / $(g unchanged monitor_cpu_ms) / $(g changed monitor_cpu_ms) | $(g first sources_cpu_ms) / $(g changed sources_cpu_ms) |"
	done
	echo
	for c in changed unchanged first reconnect; do
		lin=$(fleet_linearity "$csv" "$c")
		case $c in
		changed) printf '%s' "- every row changed" ;;
		unchanged) printf '%s' "- nothing changed" ;;
		first) printf '%s' "- first cycle" ;;
		reconnect) printf '%s' "- first cycle of a later session" ;;
		esac
		r=${lin##*|}
		echo ": per server $(cut -d'|' -f1 <<<"$lin"); per server added $(cut -d'|' -f2 <<<"$lin")${r:+ (the last ÷ the first: ${r}×; 1 is linear, more grows faster than the number of servers)}."
	done
}

# ---------------------------------------------------------------------------
# Alone: build, a monitor cluster of our own, measure, report.

fleet_main() {
	set -euo pipefail
	# shellcheck source=../scripts/lib.sh
	. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
	BENCH_PORT=${BENCH_PORT:-54331}
	[[ $BENCH_PORT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PORT must be a positive integer, not '$BENCH_PORT'"
	fleet_init
	progress() { printf '  %s\n' "$*" >&2; }
	# run.sh's goal judgement: **met** or **missed**
	met() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
		if (v == "–" || v == "") { print "n/a"; exit }
		ok = (op == ">=") ? v >= g : (op == "<=") ? v <= g : (op == "=") ? v == g : v < g; print ok ? "**met**" : "**missed**" }'; }

	walmon_install_deps
	walmon_build_install
	bindir=$("$(walmon_pg_config)" --bindir)
	local bench=$WALMON_TOP/bench results=$WALMON_TOP/bench/results started
	started=$(date +%s)
	work=${BENCH_WORKDIR:-$bench/work}
	mkdir -p "$work"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work"
	if ! as_pg test -w "$work" 2>/dev/null || [ ${#work} -gt 80 ]; then
		work=$(walmon_scratch_dir bench)
	fi
	cd "$work"		# the postgres user may not be able to enter our directory

	fleet_on_exit() {
		local rc=$?
		fleet_stop_sources
		walmon_cluster_stop "$work"
		if [ "$rc" -ne 0 ]; then
			echo "fleet bench failed (exit $rc); monitor log: $work/server.log" >&2
			[ -f "$work/server.log" ] && tail -n 20 "$work/server.log" >&2
		fi
		exit "$rc"
	}
	trap fleet_on_exit EXIT
	trap 'exit 130' INT TERM

	say "starting a monitor cluster in $work/data and $BENCH_FLEET_CLUSTERS source clusters"
	walmon_cluster_start "$work" "$BENCH_PORT" <<CONF
# the fleet benchmark's monitor: only the benchmark's sessions run cycles
walmon.enabled = off
CONF
	walmon_psql "$work" "$BENCH_PORT" -c "CREATE EXTENSION walmon" >/dev/null
	fleet_start_sources "$work"

	mkdir -p "$results"
	local csv=$results/fleet.csv report=$results/fleet.md
	echo "$fleet_csv_header" >"$csv"
	say "the fleet: walmon_refresh() with $BENCH_FLEET_SERVERS bound servers"
	fleet_measure "$work" "$BENCH_PORT" "$csv"
	fleet_stop_sources
	local version
	version=$(walmon_psql "$work" "$BENCH_PORT" -A -t -c "SELECT version()")
	walmon_cluster_stop "$work"

	{
		echo "# walmon benchmark: the fleet"
		echo
		echo "- machine: $(nproc) × $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r); $version"
		echo "- command: \`BENCH_FLEET_SERVERS=\"$BENCH_FLEET_SERVERS\" BENCH_FLEET_CLUSTERS=$BENCH_FLEET_CLUSTERS BENCH_FLEET_PHYSICAL=$BENCH_FLEET_PHYSICAL BENCH_FLEET_LOGICAL=$BENCH_FLEET_LOGICAL BENCH_FLEET_RUNS=$BENCH_FLEET_RUNS bash bench/fleet.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo
		echo "| goal | measured | target | |"
		echo "|---|---|---|---|"
		fleet_goal_rows "$csv"
		echo
		fleet_report "$csv"
	} >"$report"
	echo
	cat "$report"
	echo
	echo "report: $report"
	echo "raw:    $csv"
	echo "took $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	fleet_main "$@"
fi
