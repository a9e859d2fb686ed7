# scripts/lib.sh: what scripts/demo, scripts/test and .ci/run share.
#
# Sourced, not run.  Finds PostgreSQL, installs what is missing (as root,
# with apt), builds and installs walmon, and runs commands as the postgres
# user when we are root (PostgreSQL refuses to run as root).

WALMON_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WALMON_PG_MAJOR=${WALMON_PG_MAJOR:-15}

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The packages a build, the demo and the tests need, by the command or file
# that shows each one is there.
walmon_install_deps() {
	local want=()
	command -v make >/dev/null || want+=(make)
	command -v gcc >/dev/null || want+=(gcc)
	command -v perl >/dev/null || want+=(perl)
	[ -x "/usr/lib/postgresql/$WALMON_PG_MAJOR/bin/postgres" ] || want+=("postgresql-$WALMON_PG_MAJOR")
	[ -d "/usr/include/postgresql/$WALMON_PG_MAJOR/server" ] || want+=("postgresql-server-dev-$WALMON_PG_MAJOR")
	perl -MIPC::Run -e1 2>/dev/null || want+=(libipc-run-perl)
	# t/050_cdc_plugins.pl's output plugins, t/060_postgres_exporter.pl's exporter
	[ -f "/usr/lib/postgresql/$WALMON_PG_MAJOR/lib/wal2json.so" ] || want+=("postgresql-$WALMON_PG_MAJOR-wal2json")
	[ -f "/usr/lib/postgresql/$WALMON_PG_MAJOR/lib/decoderbufs.so" ] || want+=("postgresql-$WALMON_PG_MAJOR-decoderbufs")
	command -v prometheus-postgres-exporter >/dev/null || want+=(prometheus-postgres-exporter)
	[ -n "${PG_CONFIG:-}" ] && want=()	# a PostgreSQL of the caller's own
	[ ${#want[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${want[*]} (install them as root)"
	say "installing ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null
}

# What building the Debian package and the release archive needs, for
# test/package.sh (the package suite): always Debian's PostgreSQL.
walmon_install_package_deps() {
	local want=()
	command -v dpkg-buildpackage >/dev/null || want+=(dpkg-dev)
	command -v dh >/dev/null || want+=(debhelper)
	# (pg_buildext alone does not show it: postgresql-common ships that too)
	[ "$(dpkg-query -W -f='${db:Status-Status}' postgresql-server-dev-all 2>/dev/null)" = installed ] ||
		want+=(postgresql-server-dev-all)
	command -v pg_virtualenv >/dev/null || want+=(postgresql-common)
	[ "$(dpkg-query -W -f='${db:Status-Status}' build-essential 2>/dev/null)" = installed ] ||
		want+=(build-essential)
	command -v unzip >/dev/null || want+=(unzip)
	command -v git >/dev/null || want+=(git)
	[ ${#want[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${want[*]} (install them as root)"
	say "installing ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null
}

# valgrind and callgrind_annotate, for the bench's profiles.
walmon_install_valgrind() {
	command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || die "valgrind is missing (install it as root)"
	say "installing valgrind"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends valgrind >/dev/null
}

# pg_config of the PostgreSQL to build against (PG_CONFIG wins).
walmon_pg_config() {
	if [ -n "${PG_CONFIG:-}" ]; then
		echo "$PG_CONFIG"
	elif [ -x "/usr/lib/postgresql/$WALMON_PG_MAJOR/bin/pg_config" ]; then
		echo "/usr/lib/postgresql/$WALMON_PG_MAJOR/bin/pg_config"
	else
		command -v pg_config || die "no pg_config found; set PG_CONFIG"
	fi
}

walmon_build_install() {
	local pgc stamp=$WALMON_TOP/.built-with
	pgc=$(walmon_pg_config)
	say "building walmon against $("$pgc" --version)"
	# objects built for another PostgreSQL must not be reused
	if [ "$(cat "$stamp" 2>/dev/null)" != "$pgc" ]; then
		make -s -C "$WALMON_TOP" PG_CONFIG="$pgc" clean >/dev/null
		echo "$pgc" >"$stamp"
	fi
	make -s -C "$WALMON_TOP" PG_CONFIG="$pgc" all
	make -s -C "$WALMON_TOP" PG_CONFIG="$pgc" install >/dev/null
	echo "installed into $("$pgc" --pkglibdir)"
	echo "           and $("$pgc" --sharedir)/extension"
}

# Run a command as the user PostgreSQL runs as: postgres when we are root,
# ourselves otherwise.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A fresh directory the PostgreSQL user owns.
walmon_scratch_dir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/walmon-$1.XXXXXX")
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	echo "$dir"
}

# A throwaway cluster in DIR/data, owned by the PostgreSQL user, listening
# on a unix socket in DIR only, with walmon preloaded and logical decoding
# on.  Extra postgresql.conf lines come on standard input.  An earlier
# cluster in DIR is stopped and removed first.
#   walmon_cluster_start DIR PORT < extra.conf
walmon_cluster_start() {
	local dir=$1 port=$2 bindir
	bindir=$("$(walmon_pg_config)" --bindir)
	walmon_cluster_stop "$dir"
	rm -rf "$dir/data"
	as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
	{
		cat <<CONF

# walmon's throwaway cluster
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
shared_preload_libraries = 'walmon'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 10
CONF
		cat
	} >>"$dir/data/postgresql.conf"
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

walmon_cluster_stop() {
	local dir=$1 bindir
	bindir=$("$(walmon_pg_config)" --bindir)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
	fi
}

# psql on the cluster in DIR: walmon_psql DIR PORT [psql arguments]
walmon_psql() {
	local dir=$1 port=$2 bindir
	shift 2
	bindir=$("$(walmon_pg_config)" --bindir)
	as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"
}
