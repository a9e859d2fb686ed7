# bench/idle_wal.awk: whose WAL the idle window holds (bench/README.md,
# "Idle WAL", defines every term used here).
#
# Reads the output of pg_waldump TWICE (give the file two times):
#
#   awk -v db=OID -v nodes="16400=wal_monitor ..." -v from=X/Y -v to=X/Y -v csv=FILE \
#       -f idle_wal.awk dump.txt dump.txt
#
#   db     oid of the database walmon works in
#   nodes  walmon's relations there as relfilenode=name pairs (tables,
#          their indexes, sequences, TOAST tables and TOAST indexes)
#   from   first LSN of the idle window; the dump may start earlier (it
#          must, to know walmon's write before the window)
#   to     end of the window
#   csv    where one line per walmon transaction of the window goes
#
# Pass 1 finds walmon's transactions: every transaction id with a record
# on one of walmon's relations, and the subtransactions and top-level
# transaction a commit, abort or assignment record ties to it.  Pass 2
# classifies every record, in LSN order, as
#
#   W  walmon: a record of a walmon transaction (its commit included)
#   M  maintenance of walmon's relations: a record on one of them that
#      belongs to no transaction (pruning, vacuum, visibility map, hint-bit
#      image)
#   B  bookkeeping: XLOG CHECKPOINT_ONLINE, CHECKPOINT_SHUTDOWN, NOOP,
#      SWITCH, FPI_FOR_HINT; Standby RUNNING_XACTS
#   F  foreign: every other record
#
# and a walmon transaction as *prompted* when at least one F record lies
# between the first record of the walmon transaction before it and its own
# first record (for the first one of the dump: since the dump's start,
# which the caller puts just after a foreign change, the idle slots'
# creation), or when it wrote samples only (wal_metrics) and is the first
# such transaction after a prompted one that wrote wal_monitor: the
# sampler's pass, which samples that change ("sampler" in the csv).
# Prints "key value" lines; the figure the goal is judged on is
# unprompted_bytes.

function hexval(s,    i, c, v) {
	v = 0
	s = toupper(s)
	for (i = 1; i <= length(s); i++) {
		c = index("0123456789ABCDEF", substr(s, i, 1))
		if (c == 0)
			return -1
		v = v * 16 + c - 1
	}
	return v
}

function lsnnum(s,    p) {
	split(s, p, "/")
	return hexval(p[1]) * 4294967296 + hexval(p[2])
}

function bookkeeping(rm, type) {
	if (rm == "XLOG")
		return type == "CHECKPOINT_ONLINE" || type == "CHECKPOINT_SHUTDOWN" ||
			type == "NOOP" || type == "SWITCH" || type == "FPI_FOR_HINT"
	if (rm == "Standby")
		return type == "RUNNING_XACTS"
	return 0
}

# the fields of the current record: rm, type, desc, tot, xid, lsn, touches
# (whether it is on a walmon relation) and names (which ones)
function parse(    t, l, r, f) {
	rm = $2
	t = $0
	sub(/.*len \(rec\/tot\): */, "", t)
	split(t, l, /[\/,]/)
	tot = l[2] + 0
	t = $0
	sub(/.*tx: */, "", t)
	sub(/,.*/, "", t)
	xid = t + 0
	t = $0
	sub(/.*lsn: */, "", t)
	sub(/,.*/, "", t)
	lsn = t
	desc = $0
	sub(/.*desc: /, "", desc)
	type = desc
	sub(/ .*/, "", type)
	touches = 0
	names = ""
	r = $0
	while (match(r, /rel [0-9]+\/[0-9]+\/[0-9]+/)) {
		split(substr(r, RSTART + 4, RLENGTH - 4), f, "/")
		if (f[2] == db && (f[3] in walmon_node)) {
			touches = 1
			if (index(" " names " ", " " walmon_node[f[3]] " ") == 0)
				names = names (names == "" ? "" : " ") walmon_node[f[3]]
		}
		r = substr(r, RSTART + RLENGTH)
	}
}

# "subxacts: 741 742" of a commit, abort or assignment record: tie them to
# the top-level transaction
function tie(top,    s, n, a, i) {
	s = desc
	if (!sub(/.*subxacts: */, "", s))
		return
	sub(/;.*/, "", s)
	n = split(s, a, " ")
	for (i = 1; i <= n; i++)
		if (a[i] ~ /^[0-9]+$/) {
			top_of[a[i] + 0] = top
			nsub[top]++
			sub_list[top, nsub[top]] = a[i] + 0
		}
}

BEGIN {
	n = split(nodes, a, " ")
	for (i = 1; i <= n; i++) {
		split(a[i], kv, "=")
		walmon_node[kv[1]] = kv[2]
	}
	lo = lsnnum(from)
	hi = lsnnum(to)
	foreign_seen = 1		# the dump starts just after the slots' creation
	foreign_count = 0
}

# pass 1: walmon's transaction ids
FNR == NR && /^rmgr: / {
	parse()
	if (xid != 0 && touches)
		walmon_xid[xid] = 1
	if (rm == "Transaction") {
		if (type == "ASSIGNMENT") {
			t = desc
			sub(/^ASSIGNMENT xtop */, "", t)
			sub(/:.*/, "", t)
			tie(t + 0)
		} else if (xid != 0)
			tie(xid)
	}
	next
}

# between the passes: a transaction is walmon's when any of its parts is
FNR != NR && !linked {
	linked = 1
	for (top in nsub) {
		mine = (top in walmon_xid)
		for (i = 1; i <= nsub[top]; i++)
			if (sub_list[top, i] in walmon_xid)
				mine = 1
		if (mine) {
			walmon_xid[top] = 1
			for (i = 1; i <= nsub[top]; i++)
				walmon_xid[sub_list[top, i]] = 1
		}
	}
}

# pass 2: classify
/^rmgr: / {
	parse()
	num = lsnnum(lsn)
	if (xid != 0 && (xid in walmon_xid))
		cls = "W"
	else if (touches)
		cls = "M"
	else if (bookkeeping(rm, type))
		cls = "B"
	else
		cls = "F"

	if (cls == "W") {
		key = (xid in top_of) ? top_of[xid] : xid
		if (!(key in first)) {
			first[key] = num
			first_lsn[key] = lsn
			ntx++
			tx_order[ntx] = key
			prompted[key] = foreign_seen
			foreign_before[key] = foreign_count
			foreign_seen = 0
			foreign_count = 0
		}
		tx_bytes[key] += tot
		tx_records[key]++
		split(names, nm, " ")
		for (j in nm)
			if (index(" " tx_rels[key] " ", " " nm[j] " ") == 0)
				tx_rels[key] = tx_rels[key] (tx_rels[key] == "" ? "" : " ") nm[j]
	} else if (cls == "F") {
		foreign_seen = 1
		foreign_count++
	}

	if (num >= lo && num < hi) {
		bytes[cls] += tot
		records[cls]++
		if (cls == "F")
			foreign_kind[rm " " type] += tot
	}
}

# whether a transaction wrote samples only (wal_metrics, its indexes, its
# sequence)
function samples_only(key,    n, nm, j) {
	n = split(tx_rels[key], nm, " ")
	if (n == 0)
		return 0
	for (j = 1; j <= n; j++)
		if (nm[j] !~ /^wal_metrics/)
			return 0
	return 1
}

END {
	# The sampler's pass every walmon.metrics_interval samples the monitor
	# rows the cycles rewrote since its previous pass: a pass that writes
	# samples only is prompted by the last such rewrite when that one was
	# prompted (once: the pass after it has nothing of it left to sample).
	pending = 0
	for (i = 1; i <= ntx; i++) {
		key = tx_order[i]
		if (samples_only(key)) {
			if (!prompted[key] && pending)
				prompted[key] = 2
			pending = 0
		} else if (index(" " tx_rels[key] " ", " wal_monitor ") > 0)
			pending = prompted[key] ? 1 : 0
	}

	if (csv != "")
		print "xid,first_lsn,records,bytes,prompted,foreign_records_since_previous,relations" > csv
	for (i = 1; i <= ntx; i++) {
		key = tx_order[i]
		if (first[key] < lo || first[key] >= hi)
			continue
		w_tx++
		w_bytes += tx_bytes[key]
		if (prompted[key])
			w_prompted++
		else {
			w_unprompted++
			w_unprompted_bytes += tx_bytes[key]
			n = split(tx_rels[key], nm, " ")
			for (j = 1; j <= n; j++)
				if (index(" " unprompted_rels " ", " " nm[j] " ") == 0)
					unprompted_rels = unprompted_rels (unprompted_rels == "" ? "" : " ") nm[j]
		}
		if (csv != "")
			printf "%s,%s,%d,%d,%s,%d,%s\n", key, first_lsn[key], tx_records[key],
				tx_bytes[key], prompted[key] == 2 ? "sampler" : prompted[key] ? "yes" : "no",
				foreign_before[key], tx_rels[key] > csv
	}
	# the three kinds of foreign record with the most bytes
	top = ""
	for (k = 1; k <= 3; k++) {
		best = ""
		for (kind in foreign_kind)
			if (!(kind in shown) && (best == "" || foreign_kind[kind] > foreign_kind[best]))
				best = kind
		if (best == "")
			break
		shown[best] = 1
		top = top (top == "" ? "" : ", ") best " " foreign_kind[best] " B"
	}
	printf "walmon_transactions %d\n", w_tx
	printf "walmon_bytes %d\n", w_bytes
	printf "prompted %d\n", w_prompted
	printf "unprompted %d\n", w_unprompted
	printf "unprompted_bytes %d\n", w_unprompted_bytes
	printf "unprompted_relations %s\n", (unprompted_rels == "" ? "none" : unprompted_rels)
	printf "walmon_records_bytes %d\n", bytes["W"]
	printf "maintenance_bytes %d\n", bytes["M"]
	printf "bookkeeping_bytes %d\n", bytes["B"]
	printf "foreign_bytes %d\n", bytes["F"]
	printf "foreign_records %d\n", records["F"]
	printf "foreign_top %s\n", (top == "" ? "none" : top)
}
