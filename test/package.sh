#!/usr/bin/env bash
#
# test/package.sh: walmon's release packaging, end to end; scripts/test's
# "package" suite (run last: it replaces, then removes, the system
# PostgreSQL's walmon files).
#
#   1. META.json against the PGXN Meta Spec (test/meta.pl), and make dist's
#      archive: its files, and that it builds with PGXS.
#   2. The Debian package, built as Debian builds it: dpkg-buildpackage
#      -us -uc -b in a scratch copy of the tree (so with the build-time
#      installcheck of debian/rules); the .deb's files and dependencies.
#   3. As root: dpkg -i; the installed files; a throwaway cluster with
#      walmon preloaded from them; CREATE EXTENSION and a few calls; the
#      autopkgtest (debian/tests/installcheck) against the installed
#      package; dpkg -r, and every file gone.
#
# The system is left as found: walmon files a "make install" had put into
# the system PostgreSQL are set aside before dpkg -i and put back after
# dpkg -r (also when the script fails or is interrupted).
#
# Prints one "ok N - ..." or "not ok N - ..." line per assertion, details
# as "# ..." lines; exits non-zero when any failed.  Needs Debian's
# PostgreSQL (/usr/lib/postgresql/<version>); PG_CONFIG is not used.

set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

n=0
nfailed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); nfailed=$((nfailed + 1)); echo "not ok $n - $*"; }
# check DESCRIPTION COMMAND...: one assertion, the command's output to $log
check() {
	local what=$1
	shift
	if "$@" >>"$log" 2>&1; then
		ok "$what"
	else
		not_ok "$what"
		return 1
	fi
}
# is DESCRIPTION GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "got: '$2'" "want: '$3'"
	fi
}
diag() { printf '# %s\n' "$@"; }
# the last lines of a log, as diagnostics
diag_tail() { tail -n "${2:-40}" "$1" | sed 's/^/#   /'; }
# one assertion per pg_regress/pg_isolation_regress test in a log
regress_results() {
	local label=$1 log=$2 name result
	while read -r name result; do
		if [ "$result" = ok ]; then ok "$label: $name"; else not_ok "$label: $name"; fi
	done < <(sed -nE 's/^(test |     )?([A-Za-z0-9_-]+) +\.\.\. (ok|FAILED|failed).*/\2 \3/p' "$log")
}

walmon_install_package_deps

top=$WALMON_TOP
tmp=$(walmon_scratch_dir package)
chmod 755 "$tmp"	# the test clusters' postgres reads the built files
log=$tmp/package.log
arch=$(dpkg --print-architecture)
debversion=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
upstream=${debversion%-*}

# a copy of the work tree without build and test products
copy_tree() {
	mkdir -p "$1"
	tar -C "$top" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude='./tmp_check*' --exclude=./output_iso \
		--exclude=./log --exclude='./regression.*' --exclude=./.built-with \
		--exclude=./.demo --exclude=./bench/work --exclude=./bench/results \
		--exclude='./walmon-*.zip' --exclude='./build-*' --exclude=./debian/.debhelper \
		--exclude=./debian/files --exclude='./debian/*.substvars' \
		--exclude='./debian/debhelper-build-stamp' --exclude='./debian/postgresql-*-walmon*' \
		--exclude=./debian/tmp -cf - . | tar -C "$1" -xf -
}

# --- 1. PGXN ---------------------------------------------------------------

while IFS= read -r line; do
	case $line in
		"ok - "*) ok "META.json: ${line#ok - }" ;;
		"not ok - "*) not_ok "META.json: ${line#not ok - }" ;;
		*) diag "$line" ;;
	esac
done < <(perl "$top/test/meta.pl" "$top/META.json" 2>&1)

pgxn_version=$(perl -MJSON::PP -0777 -ne 'print decode_json($_)->{version}' "$top/META.json" 2>/dev/null)
zip=$tmp/dist/walmon-$pgxn_version.zip
mkdir -p "$tmp/dist"
if ! git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	ok "make dist # SKIP $top is not a git work tree"
elif check "make dist writes walmon-$pgxn_version.zip" \
	make -s -C "$top" dist DISTDIR="$tmp/dist" && [ -s "$zip" ]; then
	listing=$(unzip -Z1 "$zip")
	is "every file of the archive is under walmon-$pgxn_version/" \
		"$(grep -vc "^walmon-$pgxn_version/" <<<"$listing")" 0
	# the archive is HEAD: compare with HEAD's files
	missing=
	for f in walmon.control Makefile META.json LICENSE README.md \
		$(git -C "$top" ls-tree -r --name-only HEAD -- src sql expected specs test | grep -v '^test/package') \
		$(git -C "$top" ls-tree --name-only HEAD | grep '^walmon--.*\.sql$'); do
		grep -qxF "walmon-$pgxn_version/$f" <<<"$listing" || missing="$missing $f"
	done
	is "the archive holds walmon.control, Makefile, META.json, LICENSE, every SQL script, src/ and the tests" \
		"${missing# }" ""
	# nothing a build, a test run or a patch tool leaves behind
	is "the archive holds no build product and no patch or merge leftover" \
		"$(grep -E '\.(o|so|bc|orig|rej)$|/(results|tmp_check|log)/|~$' <<<"$listing" | tr '\n' ' ')" ""
	is "the archive holds at least one SQL script" \
		"$(grep -c "^walmon-$pgxn_version/walmon--.*\.sql$" <<<"$listing")" \
		"$(git -C "$top" ls-tree --name-only HEAD | grep -c '^walmon--.*\.sql$')"
	# what "pgxn install" does first: unpack and build with PGXS
	(cd "$tmp/dist" && unzip -q "$zip") >>"$log" 2>&1
	check "the unpacked archive builds with PGXS" \
		make -s -C "$tmp/dist/walmon-$pgxn_version" PG_CONFIG="$(walmon_pg_config)" -j2
else
	diag_tail "$log" 10
fi

# --- 2. the Debian package -------------------------------------------------

build=$tmp/build
src=$build/walmon-$upstream
copy_tree "$src"
versions=$(cd "$src" && pg_buildext supported-versions 2>>"$log")
if [ -z "$versions" ]; then
	not_ok "debian/pgversions names a PostgreSQL version installed here"
	diag "debian/pgversions: $(tr '\n' ' ' <"$src/debian/pgversions")"
fi
pkgs=()
debs=()
for v in $versions; do
	pkgs+=("postgresql-$v-walmon")
	debs+=("$build/postgresql-$v-walmon_${debversion}_$arch.deb")
done

say "dpkg-buildpackage -us -uc -b in $src" >>"$log"
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$build/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds walmon $debversion"
else
	not_ok "dpkg-buildpackage -us -uc -b builds walmon $debversion"
	diag_tail "$build/build.log" 60
fi
regress_results "build-time installcheck (debian/ files)" "$build/build.log"

for v in $versions; do
	deb=$build/postgresql-$v-walmon_${debversion}_$arch.deb
	if ! [ -f "$deb" ]; then
		not_ok "$(basename "$deb") was built"
		continue
	fi
	ok "$(basename "$deb") was built"
	contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's,^\./,/,')
	missing=
	for f in /usr/lib/postgresql/$v/lib/walmon.so \
		/usr/share/postgresql/$v/extension/walmon.control \
		$(cd "$src" && ls walmon--*.sql | sed "s,^,/usr/share/postgresql/$v/extension/,") \
		/usr/share/doc/postgresql-$v-walmon/copyright; do
		grep -qxF "$f" <<<"$contents" || missing="$missing $f"
	done
	is "postgresql-$v-walmon holds walmon.so, walmon.control, every SQL script, the copyright" \
		"${missing# }" ""
	depends=$(dpkg-deb -f "$deb" Depends)
	is "postgresql-$v-walmon depends on postgresql-$v" \
		"$(grep -oE "(^|, )postgresql-$v( |,|$)" <<<"$depends" | head -n 1 | tr -d ', ')" "postgresql-$v"
done

# --- 3. installed ----------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
	diag "not root: the package is not installed (dpkg -i, dpkg -r need root)"
	if [ $nfailed -eq 0 ]; then rm -rf "$tmp"; else diag "the failed run is kept in $tmp"; fi
	exit $((nfailed > 0))
fi

saved=$tmp/saved
cluster=$tmp/cluster
port=54333
installed=
restored=1

# the walmon files of the system PostgreSQL v, installed or not
system_files() {
	local v=$1 lib=/usr/lib/postgresql/$1/lib ext=/usr/share/postgresql/$1/extension
	ls -d "$lib/walmon.so" "$lib/bitcode/walmon" "$lib/bitcode/walmon.index.bc" \
		"$ext/walmon.control" "$ext"/walmon--*.sql 2>/dev/null
}

restore() {
	[ -n "$restored" ] && return 0
	restored=1
	[ -d "$saved" ] || return 0
	# file by file: the system's directories keep their own attributes
	(cd "$saved" && find . -type f -o -type l) | while read -r f; do
		f=${f#.}
		mkdir -p "$(dirname "$f")" && cp -a "$saved$f" "$f"
	done
}

cleanup() {
	for v in $versions; do
		PG_CONFIG=/usr/lib/postgresql/$v/bin/pg_config walmon_cluster_stop "$cluster-$v"
	done
	if [ -n "$installed" ]; then
		dpkg -r "${pkgs[@]}" >/dev/null 2>&1
		installed=
	fi
	restore
}
trap 'cleanup; exit 1' INT TERM HUP
trap cleanup EXIT

# refuse to replace a walmon package someone installed
already=
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] && already="$already $p"
done
if [ -n "$already" ]; then
	not_ok "no walmon package is installed before the test"
	diag "installed:$already; remove them (dpkg -r) to run this test"
	versions=
fi

all_built=1
for d in "${debs[@]}"; do
	[ -f "$d" ] || all_built=
done
[ -n "$all_built" ] || versions=

# set aside what make install put there, so that only the package's files
# are there while it is installed
for v in $versions; do
	for f in $(system_files "$v"); do
		mkdir -p "$saved$(dirname "$f")"
		cp -a "$f" "$saved$f" && rm -rf "$f"
		restored=
	done
done
[ -n "$restored" ] || diag "set aside: $(cd "$saved" && find . -type f | sed 's,^\.,,' | tr '\n' ' ')"

if [ -n "$versions" ]; then
	installed=1	# perhaps partly when dpkg -i fails: dpkg -r at the end
	check "dpkg -i$(for d in "${debs[@]}"; do printf ' %s' "$(basename "$d")"; done)" \
		dpkg -i "${debs[@]}" || diag_tail "$log" 20
fi

for v in ${installed:+$versions}; do
	p=postgresql-$v-walmon
	export PG_CONFIG=/usr/lib/postgresql/$v/bin/pg_config
	is "$p is installed" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" installed
	check "$p's files are on disk with the package's checksums (dpkg --verify)" \
		bash -c "out=\$(dpkg --verify $p) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
	files=$(dpkg -L "$p" | while read -r f; do [ -d "$f" ] || echo "$f"; done)
	is "$p installed walmon.so into $("$PG_CONFIG" --pkglibdir)" \
		"$(grep -cxF "$("$PG_CONFIG" --pkglibdir)/walmon.so" <<<"$files")" 1
	is "$p installed walmon.control into $("$PG_CONFIG" --sharedir)/extension" \
		"$(grep -cxF "$("$PG_CONFIG" --sharedir)/extension/walmon.control" <<<"$files")" 1
	is "$p installed every SQL script of the tree" \
		"$(grep -c "^$("$PG_CONFIG" --sharedir)/extension/walmon--.*\.sql$" <<<"$files")" \
		"$(cd "$src" && ls walmon--*.sql | wc -l)"

	# a throwaway cluster with walmon preloaded from the installed files
	if walmon_cluster_start "$cluster-$v" "$port" >>"$log" 2>&1 </dev/null; then
		ok "PostgreSQL $v starts with shared_preload_libraries = 'walmon'"
	else
		not_ok "PostgreSQL $v starts with shared_preload_libraries = 'walmon'"
		diag_tail "$cluster-$v/server.log" 20
	fi
	q() { walmon_psql "$cluster-$v" "$port" -At -c "$1" 2>>"$log"; }
	control_version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$src/walmon.control")
	is "pg_available_extensions offers walmon $control_version" \
		"$(q "SELECT default_version FROM pg_available_extensions WHERE name = 'walmon'")" "$control_version"
	check "CREATE EXTENSION walmon" walmon_psql "$cluster-$v" "$port" -c "CREATE EXTENSION walmon"
	is "the extension's version is $control_version" \
		"$(q "SELECT extversion FROM pg_extension WHERE extname = 'walmon'")" "$control_version"
	is "a backend has the installed walmon.so mapped" \
		"$(q "SELECT count(*) > 0 FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\\n') AS l
		      WHERE l LIKE '% $("$PG_CONFIG" --pkglibdir)/walmon.so'")" t
	id=$(q "SELECT walmon_add_source('package-test')")
	is "walmon_add_source() registers a source" "$(grep -cE '^[0-9]+$' <<<"$id")" 1
	id=${id:-0}
	is "walmon_upsert() inserts the source's row" \
		"$(q "SELECT id || ' ' || status || ' ' || wal_lsn FROM walmon_upsert($id, wal_lsn => '0/1A2B3C4D')")" \
		"1 ACTIVE 0/1A2B3C4D"
	is "a second walmon_upsert() updates that row" \
		"$(q "SELECT id || ' ' || wal_lsn FROM walmon_upsert($id, wal_lsn => '0/1A2B3D00', status => 'idle')")" \
		"1 0/1A2B3D00"
	is "walmon_status() reads back the one row" \
		"$(q "SELECT count(*) || ' ' || min(status) || ' ' || min(wal_lsn::text) FROM walmon_status()")" \
		"1 IDLE 0/1A2B3D00"
	is "the background worker runs" \
		"$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walmon'")" 1
	is "walmon_refresh() runs a cycle" "$(q "SELECT walmon_refresh() >= 0")" t
	walmon_cluster_stop "$cluster-$v"
	unset PG_CONFIG
done

if [ -n "$installed" ]; then
	# autopkgtest's test, in a pristine copy of the source as autopkgtest has it
	copy_tree "$tmp/autopkgtest"
	if (cd "$tmp/autopkgtest" && debian/tests/installcheck) >"$tmp/autopkgtest.log" 2>&1; then
		ok "debian/tests/installcheck against the installed package"
	else
		not_ok "debian/tests/installcheck against the installed package"
		diag_tail "$tmp/autopkgtest.log" 60
	fi
	regress_results "installcheck (installed package)" "$tmp/autopkgtest.log"

	check "dpkg -r ${pkgs[*]}" dpkg -r "${pkgs[@]}"
	installed=
	for v in $versions; do
		p=postgresql-$v-walmon
		is "$p is no longer installed" \
			"$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -v not-installed)" ""
		is "$p's files are gone" "$(system_files "$v")" ""
	done
fi

if [ -z "$restored" ]; then
	restore
	bad=
	while read -r f; do
		cmp -s "$saved$f" "$f" || bad="$bad $f"
	done < <(cd "$saved" && find . -type f | sed 's,^\.,,')
	is "the walmon files installed before are back" "${bad# }" ""
fi

if [ $nfailed -eq 0 ]; then
	rm -rf "$tmp"
else
	diag "the failed run is kept in $tmp"
fi
exit $((nfailed > 0))
