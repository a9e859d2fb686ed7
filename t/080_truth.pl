# How far walmon's numbers may differ from PostgreSQL's (issue 10; the rule
# is at the top of src/cycle.c): measured, cycle by cycle, against
# pg_replication_slots and the WAL insert position while a VACUUM (FREEZE)
# writes tens of MB of bookkeeping WAL, of a user's table and of walmon's
# own wal_metrics, with walmon.lag_error_bytes turning the row ERROR before
# PostgreSQL invalidates the slot; the effective WAL end E following a
# gigabyte of checkpoints and segment switches with every scan under its
# cap; walmon_refresh() sampling and pruning on a server that does not
# preload walmon; and no WAL of walmon's own without a foreign cause over a
# minute of an idle server with autovacuum on, record by record
# (pg_walinspect).  Each part says how it fails.
use strict;
use warnings;
use feature 'state';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $naptime_ms = 100;
my $seg = 1024 * 1024;          # --wal-segsize=1
my $allowance = 65536;          # WALMON_BOOKKEEPING_ALLOWANCE
my $scan_cap = 16 * 1024 * 1024;    # WALMON_SCAN_MAX_BYTES

# The trail T (insert position minus E) is walmon's own WAL since E was set,
# at most 64 kB of other bookkeeping, and what is inserted after the newest
# important record that the cycle's scan accounted for: running-transaction
# snapshots (tens of bytes each), and the records another backend inserts
# between the cycle's reading of the newest important record and of the
# insert position (a few microseconds apart: a record or two, one 8 kB page
# image each at most).  No archive_timeout here, so no switch of walmon's.
my $slack = 32768;

# ---- helpers ----

sub lsn
{
	my ($s) = @_;
	return undef if !defined $s || $s eq '';
	my ($hi, $lo) = split m{/}, $s;
	return hex($hi) * 4294967296 + hex($lo);
}

sub fmt_lsn
{
	my ($n) = @_;
	return sprintf('%X/%X', int($n / 4294967296), $n % 4294967296);
}

sub status_rank
{
	my ($s) = @_;
	my %rank = (reserved => 0, extended => 1, unreserved => 2, lost => 3);
	return defined $s && exists $rank{$s} ? $rank{$s} : -1;
}

# wait until the worker of a node has completed n more cycles
sub wait_cycles
{
	my ($node, $n) = @_;
	my $c = $node->safe_psql('postgres', 'SELECT cycles FROM walmon_worker_status()');
	$node->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_worker_status()")
	  or die 'the walmon worker made no progress';
}

# The sampler, a function in the database under test: at every cycle of
# the worker, what walmon shows next to what PostgreSQL shows just before
# the cycle started and just after it committed.
#
# Every few milliseconds it reads the insert position and the slot's line of
# pg_replication_slots, then the time (a "pre" reading).  When the worker's
# cycle count moves, the cycle that walmon_worker_status().last_cycle_start
# names has committed (the count and the start are recorded after the
# commit): it reads the monitor row (a fresh snapshot, which sees that
# commit, maybe a later one), then walmon_worker_status() again for what E is
# made of, then the insert position and the view once more ("post").  It
# returns that with the latest pre reading taken before the cycle started.
# The row's cycle started at or after last_cycle_start, so after that pre
# reading: its E is at least the pre insert position minus the trail, and at
# most the post insert position.
my $sampler = q{
CREATE FUNCTION truth_watch(p_slot name, p_max_seconds float8, p_until text, p_extra int)
RETURNS TABLE (cyc bigint, cyc_start timestamptz,
	pre_t timestamptz, pre_i pg_lsn, pre_status text, pre_safe bigint,
	row_lsn pg_lsn, row_lag bigint, row_retained bigint, row_safe bigint,
	row_wal_status text, row_status text, row_error text,
	st_end pg_lsn, st_trail bigint, st_own bigint, st_bk bigint, st_scan bigint,
	st_errors bigint, post_t timestamptz, post_i pg_lsn, post_status text,
	post_safe bigint, post_restart pg_lsn)
LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => p_max_seconds);
	last_c bigint;
	c bigint;
	cs timestamptz;
	pt timestamptz[] := '{}';
	pi pg_lsn[] := '{}';
	pst text[] := '{}';
	psf bigint[] := '{}';
	i pg_lsn;
	t timestamptz;
	vs text;
	vsf bigint;
	k int;
	b boolean;
	taken int := 0;
	done_at int;
BEGIN
	SELECT s.cycles INTO last_c FROM walmon_worker_status() s;
	LOOP
		-- pre: the insert position, then the view, then the time
		i := pg_current_wal_insert_lsn();
		SELECT r.wal_status, r.safe_wal_size INTO vs, vsf
		FROM pg_replication_slots r WHERE r.slot_name = p_slot;
		t := clock_timestamp();
		pt := pt || t; pi := pi || i; pst := pst || vs; psf := psf || vsf;
		IF array_length(pt, 1) > 2000 THEN
			pt := pt[1001:]; pi := pi[1001:]; pst := pst[1001:]; psf := psf[1001:];
		END IF;

		SELECT s.cycles, s.last_cycle_start INTO c, cs FROM walmon_worker_status() s;
		IF c > last_c THEN
			last_c := c;
			cyc := c;
			cyc_start := cs;
			SELECT w.wal_lsn, w.replication_lag_bytes, w.retained_wal_bytes,
			       w.safe_wal_size, w.wal_status, w.status, w.error_message
			INTO row_lsn, row_lag, row_retained, row_safe, row_wal_status,
			     row_status, row_error
			FROM wal_monitor w JOIN walmon_source so ON so.id = w.source_id
			WHERE so.slot_name = p_slot;
			SELECT s.wal_end, s.wal_trail_bytes, s.wal_own_bytes,
			       s.wal_bookkeeping_bytes, s.wal_scan_bytes, s.errors
			INTO st_end, st_trail, st_own, st_bk, st_scan, st_errors
			FROM walmon_worker_status() s;
			post_i := pg_current_wal_insert_lsn();
			SELECT r.wal_status, r.safe_wal_size, r.restart_lsn
			INTO post_status, post_safe, post_restart
			FROM pg_replication_slots r WHERE r.slot_name = p_slot;
			post_t := clock_timestamp();

			k := NULL;
			FOR j IN REVERSE array_length(pt, 1) .. 1 LOOP
				IF pt[j] < cs THEN k := j; EXIT; END IF;
			END LOOP;
			IF k IS NOT NULL THEN
				pre_t := pt[k]; pre_i := pi[k]; pre_status := pst[k]; pre_safe := psf[k];
				RETURN NEXT;
			END IF;

			taken := taken + 1;
			IF done_at IS NULL THEN
				EXECUTE 'SELECT ' || p_until INTO b;
				IF b THEN done_at := taken; END IF;
			END IF;
			EXIT WHEN done_at IS NOT NULL AND taken >= done_at + p_extra;
		END IF;
		EXIT WHEN clock_timestamp() > deadline;
		PERFORM pg_sleep(0.003);
	END LOOP;
END $$;
};

my @sample_cols = qw(cyc cyc_start pre_t pre_i pre_status pre_safe
  row_lsn row_lag row_retained row_safe row_wal_status row_status row_error
  st_end st_trail st_own st_bk st_scan st_errors post_t post_i post_status
  post_safe post_restart);

# run truth_watch in the background; returns a handle for finish_watch
sub start_watch
{
	my ($node, @args) = @_;
	# (into files: nothing reads a pipe while it runs)
	state $n = 0;
	$n++;
	my %h = (
		out => "$PostgreSQL::Test::Utils::tmp_check/080_watch_$n.out",
		err => "$PostgreSQL::Test::Utils::tmp_check/080_watch_$n.err");
	my $q = sprintf(
		"SELECT * FROM truth_watch('%s', %s, \$u\$%s\$u\$, %d)", @args);
	$h{run} = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-F', '|', '-d',
			$node->connstr('postgres'), '-c', $q ],
		'>', $h{out}, '2>', $h{err},
		IPC::Run::timeout(3 * $PostgreSQL::Test::Utils::timeout_default));
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'SELECT * FROM truth_watch(%'")
	  or die 'the sampler did not start';
	return \%h;
}

# wait for the sampler; returns its samples as hashes
sub finish_watch
{
	my ($h) = @_;
	$h->{run}->finish;
	die 'the sampler failed: ' . slurp_file($h->{err}) if $? != 0;
	my @samples;
	foreach my $line (split /\n/, slurp_file($h->{out}))
	{
		my @v = split /\|/, $line, -1;
		my %s;
		@s{@sample_cols} = map { $_ eq '' ? undef : $_ } @v;
		push @samples, \%s;
	}
	return @samples;
}

# ====================================================================
# (a) VACUUM (FREEZE): tens of MB of bookkeeping WAL, with a slot under
# max_slot_wal_keep_size, checked at every cycle
# ====================================================================

my $node = PostgreSQL::Test::Cluster->new('truth');
$node->init(allows_streaming => 1, extra => ['--wal-segsize=1']);
$node->append_conf(
	'postgresql.conf', qq{
shared_buffers = '128MB'
max_connections = 30
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '${naptime_ms}ms'
walmon.metrics_interval = '1s'
walmon.lag_error_bytes = '8MB'
max_slot_wal_keep_size = '16MB'
wal_keep_size = 0
# checkpoints every 16 segments or so, and every one removes WAL (but
# none during the VACUUMs: see vacuum_scenario)
max_wal_size = '32MB'
min_wal_size = '4MB'
wal_init_zero = off
autovacuum = off
log_checkpoints = on
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION walmon');
sql($sampler);

# Create a slot reserving WAL from now, run VACUUM (FREEZE) of a table of
# 1.1M rows no one has frozen yet under the sampler, until the slot is lost
# and 50 cycles more; returns what the checks need.
sub vacuum_scenario
{
	my ($slot, $table) = @_;
	my %r = (slot => $slot);

	# No checkpoint during the VACUUM: the one after it invalidates the
	# slot.  PostgreSQL 14 to 18 have a bug there: a checkpointer that
	# invalidates an inactive slot releases it with ReplicationSlotRelease(),
	# which writes the checkpointer's status flags (none) into the first
	# entry of the procarray's flags (an auxiliary process is not in the
	# procarray; its pgxactoff is 0).  A VACUUM in that entry loses its
	# PROC_IN_VACUUM there, and an assert-enabled build then aborts at the
	# VACUUM's commit ("proc->statusFlags ==
	# ProcGlobal->statusFlags[proc->pgxactoff]", seen on 14.13 and 16.2).
	sql(q{ALTER SYSTEM SET max_wal_size = '1GB'; SELECT pg_reload_conf()});
	sql('CHECKPOINT');
	# reserves WAL from the redo point of that checkpoint
	sql("SELECT pg_create_physical_replication_slot('$slot', true)");
	$node->poll_query_until('postgres',
		qq{SELECT w.status = 'IDLE' FROM wal_monitor w JOIN walmon_source so ON so.id = w.source_id
		   WHERE so.slot_name = '$slot'})
	  or die "slot $slot was not registered";
	wait_cycles($node, 2);

	$r{restart} = lsn(sql(qq{SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$slot'}));
	# as PostgreSQL computes safe_wal_size: the slot loses its WAL when the
	# position reaches the start of segment seg(restart_lsn) + 16 + 1
	$r{fail_lsn} = (int($r{restart} / $seg) + 16 + 1) * $seg;
	$r{start} = lsn(sql('SELECT pg_current_wal_insert_lsn()'));
	$r{log_offset} = -s $node->logfile;

	# (pg_locks, not pg_stat_activity: a transaction sees one snapshot of
	# the latter; the VACUUM holds its ShareUpdateExclusiveLock until done)
	my $watch = start_watch($node, $slot, 300,
		qq{(SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = '$slot')
		   AND NOT EXISTS (SELECT FROM pg_locks WHERE relation = '$table'::regclass
		                   AND mode = 'ShareUpdateExclusiveLock')},
		50);
	# throttled, so that the slot takes seconds, not one cycle, to go from
	# 8 MB of lag (walmon.lag_error_bytes) to lost
	my ($out, $err);
	$node->psql('postgres',
		qq{SET vacuum_cost_delay = '20ms'; SET vacuum_cost_limit = 200; VACUUM (FREEZE, VERBOSE) $table},
		stdout => \$out, stderr => \$err, on_error_die => 1);
	$r{end} = lsn(sql('SELECT pg_current_wal_insert_lsn()'));
	# the checkpoint removes what the slot had kept, and invalidates it
	sql('CHECKPOINT');
	$r{samples} = [ finish_watch($watch) ];
	sql(q{ALTER SYSTEM RESET max_wal_size; SELECT pg_reload_conf()});

	# (its WAL is gone with the slot: VACUUM VERBOSE says what it wrote)
	my ($usage) = $err =~ /(WAL usage: [^\n]*)/;
	note(sprintf('VACUUM (FREEZE) %s: %.1f MB of WAL; %s',
			$table, ($r{end} - $r{start}) / 1048576, $usage // $err));
	cmp_ok($r{end} - $r{start}, '>', 20 * 1048576,
		"the VACUUM (FREEZE) of $table wrote tens of MB of WAL");
	return \%r;
}

# ---- the checks, at every sampled cycle ----
#
# For a cycle that started after the pre reading (insert position I_pre,
# at pre_t) and committed before the post reading (I_post), with
# restart_lsn R (the slot is inactive: R does not move until it is lost),
# E the row's WAL end (wal_lsn + replication_lag_bytes, as the row says
# itself) and fail = the position at which PostgreSQL lets the slot go:
#
#   the truth at the cycle is at least as bad as at pre_t and at most as
#   bad as at the post reading, since the WAL only grows; walmon may be
#   more optimistic than the truth by at most the trail
#   B = 64 kB + wal_own_bytes + slack (own from the walmon_worker_status()
#   that shows the same E, read after the row: within one E the own bytes
#   only grow), so
#
#   lag, retained:  (I_pre - R) - B  <=  walmon  <=  I_post - R
#   safe_wal_size:  fail - I_post   <=  walmon  <=  (fail - I_pre) + B
#                   (view_pre.safe_wal_size = fail - write position
#                    >= fail - I_pre, so also walmon <= view_pre + B)
#   trail:          wal_trail_bytes <= own + bookkeeping + slack,
#                   bookkeeping <= 64 kB
#   never positive: safe_wal_size <= 0 (or NULL) once the view said
#                   unreserved or lost before the cycle, or the row says so
#   wal_status:     between the view's before and after the cycle
#
# Each fails when E trails by more than that (a scan that keeps E through
# more bookkeeping than 64 kB, a marker that skips records), when E runs
# ahead of the WAL, when the clamp is missing, when wal_status is not the
# view's, or when the row's numbers do not follow from its own E.
sub check_samples
{
	my ($r) = @_;
	my ($slot, $restart, $fail_lsn) = @$r{qw(slot restart fail_lsn)};
	my %fails;
	my ($checked, $consistent, $lost_checked) = (0, 0, 0);
	my ($max_opt, $max_trail, $max_excess, $max_bk, $max_own) = (0, 0, 0, 0, 0);
	foreach my $s (@{ $r->{samples} })
	{
		my $id = "cycle $s->{cyc}";
		push @{ $fails{errors} }, $id if ($s->{st_errors} // 0) != 0;

		my $pre_i = lsn($s->{pre_i});
		my $post_i = lsn($s->{post_i});
		my $trail = $s->{st_trail} // 0;
		my $own = $s->{st_own} // 0;
		my $bk = $s->{st_bk} // 0;
		my $bound = $allowance + $own + $slack;

		$max_trail = $trail if $trail > $max_trail;
		$max_bk = $bk if $bk > $max_bk;
		$max_own = $own if $own > $max_own;
		my $excess = $trail - $own - $bk;
		$max_excess = $excess if $excess > $max_excess;
		push @{ $fails{trail} }, "$id: trail $trail, own $own, bookkeeping $bk"
		  if $excess > $slack;
		push @{ $fails{bookkeeping} }, "$id: $bk" if $bk > $allowance;

		# the view, around the cycle
		if (($s->{pre_status} // '') eq 'lost')
		{
			$r->{first_lost_t} //= $s->{pre_t};
		}
		my $rank = status_rank($s->{row_wal_status});
		push @{ $fails{wal_status} },
		  "$id: view " . ($s->{pre_status} // 'NULL') . " before, row "
		  . ($s->{row_wal_status} // 'NULL') . ", view "
		  . ($s->{post_status} // 'NULL') . " after"
		  if $rank < status_rank($s->{pre_status})
		  || $rank > status_rank($s->{post_status});

		if (   ($s->{pre_status} // '') =~ /^(unreserved|lost)$/
			|| ($s->{row_wal_status} // '') =~ /^(unreserved|lost)$/)
		{
			push @{ $fails{positive} }, "$id: safe_wal_size $s->{row_safe} while "
			  . "the view said $s->{pre_status} before the cycle, the row $s->{row_wal_status}"
			  if defined $s->{row_safe} && $s->{row_safe} > 0;
		}

		if (($s->{row_wal_status} // '') eq 'lost')
		{
			$lost_checked++;
			push @{ $fails{lost} }, "$id: lost, but " . join(', ',
				map { "$_ = " . ($s->{$_} // 'NULL') } qw(row_status row_safe row_retained))
			  unless ($s->{row_status} // '') eq 'ERROR'
			  && !defined $s->{row_safe} && !defined $s->{row_retained};
			next;
		}
		next unless defined $s->{row_lsn} && defined $s->{row_lag};
		$checked++;

		my $e = lsn($s->{row_lsn}) + $s->{row_lag};
		# the row's own arithmetic, against its own E
		push @{ $fails{arith} }, "$id: wal_lsn $s->{row_lsn} is not min(restart_lsn, E)"
		  unless lsn($s->{row_lsn}) == ($restart < $e ? $restart : $e);
		push @{ $fails{arith} }, "$id: retained " . ($s->{row_retained} // 'NULL')
		  . " is not E - restart_lsn"
		  unless defined $s->{row_retained}
		  && $s->{row_retained} == ($e > $restart ? $e - $restart : 0);
		if (defined $s->{row_safe} && $s->{row_safe} > 0)
		{
			push @{ $fails{arith} }, "$id: safe_wal_size $s->{row_safe}, fail - E = "
			  . ($fail_lsn - $e)
			  unless $s->{row_safe} == $fail_lsn - $e;
		}
		# the test's fail position against the view's (which uses the write
		# position, at most the insert position)
		push @{ $fails{fail_lsn} }, "$id: view says $s->{pre_safe}, fail - I_pre = "
		  . ($fail_lsn - $pre_i)
		  if defined $s->{pre_safe} && $fail_lsn - $pre_i > $s->{pre_safe};

		# never more pessimistic than PostgreSQL after the cycle
		push @{ $fails{ahead} }, "$id: E $e is past the insert position $post_i"
		  if $e > $post_i;
		push @{ $fails{ahead} }, "$id: safe_wal_size $s->{row_safe} < fail - I_post"
		  if defined $s->{row_safe} && $s->{row_safe} < $fail_lsn - $post_i;

		# never more optimistic than PostgreSQL before the cycle by more than B
		next unless $e == lsn($s->{st_end});
		$consistent++;
		my $opt = ($pre_i - $restart) - $s->{row_lag};
		$max_opt = $opt if $opt > $max_opt;
		push @{ $fails{optimistic} },
		  "$id: lag $s->{row_lag} (retained $s->{row_retained}, safe "
		  . ($s->{row_safe} // 'NULL')
		  . "); view before the cycle: I - restart_lsn = "
		  . ($pre_i - $restart)
		  . ", safe_wal_size " . ($s->{pre_safe} // 'NULL')
		  . "; optimistic by $opt > $bound (trail $trail, own $own, bookkeeping $bk)"
		  if $opt > $bound
		  || $s->{row_retained} < ($pre_i - $restart) - $bound
		  || (defined $s->{row_safe} && $s->{row_safe} > ($fail_lsn - $pre_i) + $bound);
	}

	my $report = sub {
		my ($key, $what) = @_;
		my @f = @{ $fails{$key} // [] };
		ok(!@f, "$slot: $what") or diag(join("\n", @f[ 0 .. ($#f < 20 ? $#f : 19) ]));
	};
	note(sprintf('%s: %d cycles sampled, %d with the slot reserved, %d of them with the E of walmon_worker_status(), %d with the slot lost',
			$slot, scalar @{ $r->{samples} }, $checked, $consistent, $lost_checked));
	note(sprintf('%s: largest trail %d bytes (own %d, bookkeeping %d, beyond both %d); walmon at most %d bytes more optimistic than the view before the cycle',
			$slot, $max_trail, $max_own, $max_bk, $max_excess, $max_opt));
	cmp_ok($consistent, '>=', 20, "$slot: enough cycles were sampled while the slot kept its WAL");
	cmp_ok($lost_checked, '>=', 20, "$slot: and after it was lost");
	$report->('errors', 'no cycle failed');
	$report->('trail', "the trail is walmon's own WAL, bookkeeping and at most $slack bytes more");
	$report->('bookkeeping', 'the bookkeeping under E is at most 64 kB');
	$report->('arith', "the row's wal_lsn, retained WAL and safe WAL size follow from its E");
	$report->('fail_lsn', 'the test computes the position of invalidation as PostgreSQL does');
	$report->('ahead', 'walmon is never more pessimistic than PostgreSQL after the cycle');
	$report->('optimistic', 'walmon is never more optimistic than PostgreSQL before the cycle by more than the trail');
	$report->('positive', 'safe_wal_size is never positive once the view says unreserved or lost');
	$report->('wal_status', "the row's wal_status is the view's during the cycle");
	$report->('lost', 'a lost slot is ERROR with no retained or safe WAL');
	return $max_trail;
}

# ---- walmon.lag_error_bytes: ERROR before the slot is lost ----
#
# Fails when walmon sees the lag only after PostgreSQL let the slot go (its
# first ERROR then says "invalidated"), or never.
sub check_error_before_lost
{
	my ($r) = @_;
	my $slot = $r->{slot};
	my $log = slurp_file($node->logfile, $r->{log_offset});
	my ($inval_ts) = $log =~
	  /^(\S+ \S+ \S+) \[\d+\] LOG:  invalidating (?:obsolete replication )?slot "$slot"/m;
	ok(defined $inval_ts, "$slot: PostgreSQL invalidated the slot (server log)");
	$inval_ts //= 'infinity';
	is( sql(qq{SELECT string_agg(coalesce(h.old_status, '-') || '>' || h.new_status, ',' ORDER BY h.id)
			   FROM wal_monitor_history h JOIN walmon_source so ON so.id = h.source_id
			   WHERE so.slot_name = '$slot'}),
		'->IDLE,IDLE>ERROR', "$slot: the slot went IDLE, then ERROR, once");
	my ($err_at, $err_msg, $before_log, $before_poll) = split /\|/, sql(qq{
		SELECT h.changed_at, h.error_message, h.changed_at < '$inval_ts'::timestamptz,
		       h.changed_at < '@{[ $r->{first_lost_t} // 'infinity' ]}'::timestamptz
		FROM wal_monitor_history h JOIN walmon_source so ON so.id = h.source_id
		WHERE so.slot_name = '$slot' AND h.new_status = 'ERROR' ORDER BY h.id LIMIT 1});
	is($err_msg,
		qq{replication lag of slot "$slot" exceeds walmon.lag_error_bytes (8388608 bytes)},
		"$slot: the ERROR was for the lag, not for the invalidation");
	is($before_log, 't',
		"$slot: the ERROR (" . ($err_at // 'none') . ") came before PostgreSQL invalidated the slot ($inval_ts)");
	is($before_poll, 't',
		"$slot: and before the view first showed lost (" . ($r->{first_lost_t} // 'never') . ')');
	is(sql(qq{SELECT w.status || ': ' || w.error_message FROM wal_monitor w
			  JOIN walmon_source so ON so.id = w.source_id WHERE so.slot_name = '$slot'}),
		qq{ERROR: replication slot "$slot" is invalidated: required WAL was removed},
		"$slot: then the row says the slot is invalidated");
}

# 1.1M rows that no one has frozen yet
sql(q{CREATE TABLE frozen (i int) WITH (autovacuum_enabled = off);
	  INSERT INTO frozen SELECT generate_series(1, 1100000);});
my $r = vacuum_scenario('s', 'frozen');
check_samples($r);
check_error_before_lost($r);

# ---- the same VACUUM (FREEZE) of walmon's own wal_metrics ----
#
# Freezing is bookkeeping whoever's table it is: the WAL a VACUUM writes on
# walmon's tables consumes the slot's max_slot_wal_keep_size like any
# other, so it must count against the 64 kB allowance and move E; only
# what walmon's own cycles write (their transactions, and the pruning and
# hint bits their reads cause) is walmon's.  1.1M samples, as a server
# with many sources keeps for a week, frozen by hand here, by autovacuum's
# freeze or anti-wraparound vacuum in life.  Fails when E stays behind
# the freeze records: the lag stays near 0, walmon.lag_error_bytes never
# fires, and the slot is lost while walmon says it is fine; and when E
# lets the VACUUM's hint-bit images of walmon's pages pass as walmon's own
# (free) WAL: they come before its records of each page, 8 kB a page, and
# 17's compact freeze records let megabytes of them through between two
# moves of E.
sql(q{INSERT INTO wal_metrics (source_id, sampled_at, status)
	  SELECT 0, now(), 'IDLE' FROM generate_series(1, 1100000)});
$r = vacuum_scenario('s_walmon', 'wal_metrics');
my $trail = check_samples($r);
cmp_ok($trail, '<=', 131072,
	"s_walmon: E trails by at most 128 kB (the 64 kB allowance; walmon's own cycles write a few kB each); it trailed by $trail bytes");
check_error_before_lost($r);

# ====================================================================
# (b) a gigabyte of bookkeeping alone: checkpoints and segment switches
# ====================================================================
#
# Each CHECKPOINT; pg_switch_wal() is a checkpoint record and the rest of a
# 1 MB segment, all bookkeeping.  E must follow (the allowance is 64 kB),
# and no cycle may read more than the 16 MB cap to find that out: the scan
# stops at the first record past the allowance.  Fails when E stays where
# it was or trails the burst by more than the allowance, or a scan reads
# the whole burst.

# keep the segments a cycle's scan starts in: without it the checkpoints
# remove them first, and the cycle moves E without reading anything
sql(q{ALTER SYSTEM SET wal_keep_size = '256MB'});
$node->reload;
my $burst_start = lsn(sql('SELECT pg_current_wal_insert_lsn()'));
# (the burst holds advisory lock 80 while it runs)
my $watch = start_watch($node, 's', 600,
	qq{pg_current_wal_insert_lsn() - '@{[fmt_lsn($burst_start)]}' > 1000 * 1048576
	   AND NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND objid = 80)}, 20);
sql(q{SELECT pg_advisory_lock(80);
DO $$BEGIN
	FOR i IN 1 .. 1024 LOOP
		CHECKPOINT;
		PERFORM pg_switch_wal();
	END LOOP;
END$$});
my $burst_end = lsn(sql('SELECT pg_current_wal_insert_lsn()'));
my @samples = finish_watch($watch);

my ($max_scan, $burst_cycles, $moved) = (0, 0, 0);
my %burst_fails;
my $prev_e;
foreach my $s (@samples)
{
	my $e = lsn($s->{st_end});
	my $id = "cycle $s->{cyc}";
	next if lsn($s->{pre_i}) < $burst_start;
	$burst_cycles++;
	$max_scan = $s->{st_scan} if $s->{st_scan} > $max_scan;
	$moved++ if defined $prev_e && $e != $prev_e;
	$prev_e = $e;
	push @{ $burst_fails{trail} }, "$id: trail $s->{st_trail}, own $s->{st_own}, bookkeeping $s->{st_bk}"
	  if $s->{st_trail} - $s->{st_own} - $s->{st_bk} > $slack || $s->{st_bk} > $allowance;
	# E of a cycle that started after the pre reading
	push @{ $burst_fails{behind} }, "$id: E $s->{st_end}, insert position before the cycle $s->{pre_i}"
	  if $e < lsn($s->{pre_i}) - ($allowance + $s->{st_own} + $slack);
	push @{ $burst_fails{errors} }, $id if $s->{st_errors} != 0;
}
note(sprintf('burst: %.0f MB of checkpoints and switches, %d cycles sampled, E moved in %d, largest wal_scan_bytes %d',
		($burst_end - $burst_start) / 1048576, $burst_cycles, $moved, $max_scan));
cmp_ok($burst_end - $burst_start, '>=', 1000 * 1048576, 'the burst wrote about 1 GB of WAL');
cmp_ok($burst_cycles, '>=', 20, 'cycles were sampled during the burst');
cmp_ok($max_scan, '>', 0, 'the cycles read the WAL of the burst');
cmp_ok($max_scan, '<=', $scan_cap, "every cycle's scan stayed under the 16 MB cap");
ok(!$burst_fails{behind}, 'E followed the burst: never behind the insert position before the cycle by more than the trail')
  or diag(join("\n", grep { defined } @{ $burst_fails{behind} }[ 0 .. 9 ]));
ok(!$burst_fails{trail}, 'the trail stayed within own + 64 kB + slack during the burst')
  or diag(join("\n", grep { defined } @{ $burst_fails{trail} }[ 0 .. 9 ]));
ok(!$burst_fails{errors}, 'no cycle failed during the burst');
my ($e_after, $own_after) = split /\|/,
  sql('SELECT wal_end, wal_own_bytes FROM walmon_worker_status()');
cmp_ok(lsn($e_after), '>', $burst_start, 'E moved past the start of the burst');
cmp_ok(lsn($e_after), '>=', $burst_end - ($allowance + $own_after + $slack),
	'E is within the trail of the end of the burst');

$node->stop;

# ====================================================================
# (c) walmon_refresh() on a server that does not preload walmon: it
# samples and prunes as the worker does
# ====================================================================
#
# The schedule of samples and retention is kept per process: a session's
# first walmon_refresh() takes its samples and prunes at once.  Fails when
# a refresh without the worker writes no sample, or leaves samples older
# than walmon.metrics_retention behind (or prunes more than a batch).

my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init(allows_streaming => 1);
$plain->append_conf('postgresql.conf', q{
walmon.metrics_retention = '1min'
});
$plain->start;

sub psql_plain { return $plain->safe_psql('postgres', $_[0]); }

psql_plain('CREATE EXTENSION walmon');
psql_plain("SELECT pg_create_physical_replication_slot('p', true)");
is(psql_plain('SELECT count(*) FROM walmon_worker_status()'), '0',
	'no worker: walmon is not preloaded');
is(psql_plain('SELECT walmon_refresh()'), '1',
	"walmon_refresh() registers the slot's source and writes its row");
my $pid = psql_plain(q{SELECT id FROM walmon_source WHERE slot_name = 'p'});
is( psql_plain(qq{SELECT count(*), bool_and(m.status = w.status AND m.wal_lsn = w.wal_lsn
				  AND m.replication_lag_bytes = w.replication_lag_bytes)
			   FROM wal_metrics m JOIN wal_monitor w USING (source_id) WHERE source_id = $pid}),
	'1|t', 'and takes a sample of it at once');

# 25,000 samples an hour old: more than two batches of 10,000
psql_plain(qq{INSERT INTO wal_metrics (source_id, sampled_at, wal_lsn, replication_lag_bytes, status)
			  SELECT $pid, now() - interval '1 hour' - g * interval '1 ms', '0/1', 0, 'IDLE'
			  FROM generate_series(1, 25000) g});
my $old = "SELECT count(*) FROM wal_metrics WHERE sampled_at < now() - interval '1 minute'";
# a new session: its first refresh prunes one batch, each next one the next
is( psql_plain(qq{SELECT walmon_refresh() >= 0; $old;
				  SELECT walmon_refresh() >= 0; $old;
				  SELECT walmon_refresh() >= 0; $old;}),
	"t\n15000\nt\n5000\nt\n0",
	'walmon_refresh() removes the samples older than walmon.metrics_retention, a batch of 10,000 per call');
cmp_ok(psql_plain(qq{SELECT count(*) FROM wal_metrics WHERE source_id = $pid}),
	'>=', 1, 'the recent sample stays');
$plain->stop;

# ====================================================================
# (d) no WAL of walmon's own over 60 idle seconds, autovacuum on
# ====================================================================
#
# A physical slot, a logical slot with a connected pg_recvlogical, the
# worker every 200 ms, autovacuum on.  After walmon has answered the setup,
# the server's users write a table one last time; autovacuum ANALYZEs and
# VACUUMs it during the next 60 s, the consumer receives everything, and
# then nothing happens.  Every record of the window is classified
# (pg_walinspect):
#   walmon    a record of a transaction that wrote one of walmon's
#             relations (its tables, their indexes, toast and sequences, by
#             relfilenode in block_ref), with its subtransactions and commit;
#   own-maint a page pruning or hint-bit image without a transaction that
#             touches walmon's relations only: what reading walmon's own
#             pages costs (autovacuum's VACUUM of them is foreign);
#   walmon-seq a sequence record of one of walmon's sequences without a
#             transaction: nextval() in a walmon subtransaction that has no
#             xid yet logs ahead this way (never a cause);
#   idle      a running-transactions snapshot or a checkpoint;
#   foreign   anything else (autovacuum's work on other tables included).
# Every walmon transaction of the window must have a foreign cause since
# walmon's previous write: a foreign record, or a move of a slot's
# position that walmon reports (min(position, E)), or of its consumer,
# which a procedure watching pg_replication_slots every 10 ms (it writes
# nothing) sees: a consumer that confirms the foreign WAL after walmon's
# first answer to it makes the row change again, and that change is real.
# The sampler's pass every walmon.metrics_interval samples the changes the
# cycles wrote since its previous pass: that write's cause is the change.
# Fails when walmon answers its own WAL, a checkpoint, a snapshot, its own
# sample (a second pass after one change, or a pass more than an interval
# after it), or its consumer's progress over walmon's own WAL, with another
# write.
# (A foreign record alone cannot be the rule with a connected consumer:
# its confirmation of the foreign WAL comes after walmon's first answer
# and is no WAL.  The notes count the transactions each cause explains.)

my $idle = PostgreSQL::Test::Cluster->new('idle');
$idle->init(allows_streaming => 'logical');
$idle->append_conf(
	'postgresql.conf', q{
shared_buffers = '32MB'
max_connections = 30
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
# longer than the consumer takes to confirm (its status interval is 1 s),
# so that a second change of a monitor falls within one interval of its
# first sample
walmon.metrics_interval = '10s'
autovacuum = on
# visiting the database every 5 s, so that its work on the table written
# just before the window falls inside it
autovacuum_naptime = '5s'
# a timed checkpoint falls inside the window: skipped only when nothing
# important was written since the last one
checkpoint_timeout = '30s'
});
$idle->start;

sub isql { return $idle->safe_psql('postgres', $_[0]); }

# PostgreSQL 14 has no pg_walinspect (it is new in 15), and the records of
# the window cannot be read without it
if (!isql(q{SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_walinspect'}))
{
	$idle->stop;
  SKIP:
	{
		skip 'no WAL of walmon\'s own over 60 idle seconds: needs pg_walinspect (PostgreSQL 15 and later)', 1;
	}
	done_testing();
	exit 0;
}

isql('CREATE EXTENSION pg_walinspect');
isql('CREATE EXTENSION walmon');
# every change of what the slots show, with E; one transaction per look,
# so that no snapshot is held
isql(q{CREATE PROCEDURE truth_slot_watch(p_seconds float8) LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => p_seconds);
	cur text;
	last text := '';
BEGIN
	LOOP
		SELECT string_agg(format('%s,%s,%s,%s', slot_name, confirmed_flush_lsn, restart_lsn, active),
		                  ';' ORDER BY slot_name)
		       || (SELECT format('|%s|%s|%s', wal_end, extract(epoch FROM last_cycle_start),
		                         extract(epoch FROM last_cycle_end))
		           FROM walmon_worker_status())
		INTO cur FROM pg_replication_slots;
		IF cur IS DISTINCT FROM last THEN
			RAISE NOTICE 'obs %|%', extract(epoch FROM clock_timestamp()), cur;
			last := cur;
		END IF;
		COMMIT;
		EXIT WHEN clock_timestamp() > deadline;
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$});
isql("SELECT pg_create_physical_replication_slot('phys', true)");
isql("SELECT pg_create_logical_replication_slot('logi', 'test_decoding')");
my $lookback = isql('SELECT pg_current_wal_insert_lsn()');
my $recvlogical = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $idle->connstr('postgres'),
		'-S', 'logi', '--start', '-f', '/dev/null', '-F', '0', '-s', '1'
	],
	'>', "$PostgreSQL::Test::Utils::tmp_check/080_recvlogical.log", '2>&1');

# walmon's answer to the setup: the consumer is ACTIVE and has confirmed
# everything walmon counts, and every monitor's latest sample is its state
ok( $idle->poll_query_until('postgres',
		q{SELECT w.status = 'ACTIVE' AND w.replication_lag_bytes = 0 AND w.retained_wal_bytes = 0
		  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'logi'}),
	'the consumer is ACTIVE and caught up');
ok( $idle->poll_query_until('postgres',
		q{SELECT bool_and(p.status = w.status
			AND p.wal_lsn IS NOT DISTINCT FROM w.wal_lsn
			AND p.replication_lag_bytes IS NOT DISTINCT FROM w.replication_lag_bytes)
		  FROM wal_monitor w
		  LEFT JOIN LATERAL (SELECT * FROM wal_metrics m WHERE m.source_id = w.source_id
		                     ORDER BY m.id DESC LIMIT 1) p ON true}),
	'the sampler has caught up with every monitor');
wait_cycles($idle, 5);

# walmon's relations, by relfilenode
my %walmon_rel = map { split /\|/ } split /\n/, isql(q{
	WITH ext AS (
		SELECT d.objid AS oid FROM pg_depend d
		WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
		  AND d.refclassid = 'pg_extension'::regclass
		  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'walmon')),
	rels AS (
		SELECT oid FROM ext
		UNION SELECT i.indexrelid FROM pg_index i JOIN ext ON i.indrelid = ext.oid
		UNION SELECT c.reltoastrelid FROM pg_class c JOIN ext USING (oid) WHERE c.reltoastrelid <> 0
		UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON i.indrelid = c.reltoastrelid
		      JOIN ext ON c.oid = ext.oid)
	SELECT (SELECT oid FROM pg_database WHERE datname = current_database()) || '/' || pg_relation_filenode(oid),
	       oid::regclass
	FROM rels WHERE pg_relation_filenode(oid) IS NOT NULL});
cmp_ok(scalar keys %walmon_rel, '>=', 10, 'walmon\'s relations are known by relfilenode');

# (its notices go to a file: nothing reads a pipe while it runs)
my $watch_log = "$PostgreSQL::Test::Utils::tmp_check/080_slot_watch.log";
my $slot_watch = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $idle->connstr('postgres'),
		'-c', 'CALL truth_slot_watch(63)' ],
	'>', $watch_log, '2>&1',
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
$idle->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query = 'CALL truth_slot_watch(63)'})
  or die 'the slot watcher did not start';

# the last write of the server's users, just before the window
my ($lsn0, $t_window0) = split /\|/, isql('SELECT pg_current_wal_insert_lsn(), now()');
isql('CREATE TABLE last_write AS SELECT g AS i FROM generate_series(1, 10000) g');
my $cycles0 = isql('SELECT cycles FROM walmon_worker_status()');
sleep(60);    # the measurement window
my $lsn1 = isql('SELECT pg_current_wal_insert_lsn()');
my $idle_cycles = isql('SELECT cycles FROM walmon_worker_status()') - $cycles0;
$slot_watch->finish;
my $watch_err = slurp_file($watch_log);
die "the slot watcher failed: $watch_err" if $? != 0;
$idle->poll_query_until('postgres', "SELECT pg_current_wal_flush_lsn() >= '$lsn1'")
  or die 'the WAL of the window was not flushed';

# What the slots showed, and when walmon would have seen it change: of
# each slot min(position, E) with the E of the moment (a move of E alone is
# foreign WAL, which the records show), and whether it had a consumer;
# and every cycle of the worker, [start, end].
my (@slot_moves, @cycles);    # [epoch, what, previous observation]; [start, end]
{
	my %prev;
	my $prev_t;
	foreach my $obs ($watch_err =~ /NOTICE:  obs (\S+)/g)
	{
		my ($t, $state, $e, $cstart, $cend) = split /\|/, $obs, -1;
		# (the start and the end are recorded one after the other)
		if ($cstart ne '' && @cycles && $cycles[-1][0] == $cstart)
		{
			$cycles[-1][1] = $cend;
		}
		elsif ($cstart ne '')
		{
			push @cycles, [ $cstart, $cend ];
		}
		$e = lsn($e);
		my $vis = sub {
			my ($raw) = @_;
			my ($confirmed, $restart, $active) = split /,/, $raw, -1;
			return join(',', map { !defined $_ ? '' : defined $e && $_ >= $e ? 'E' : $_ }
				  lsn($confirmed), lsn($restart)) . ",$active";
		};
		foreach my $p (split /;/, $state)
		{
			my ($name, $raw) = split /,/, $p, 2;
			push @slot_moves, [ $t, "$name $prev{$name} -> $raw (E " . fmt_lsn($e // 0) . ')', $prev_t ]
			  if defined $prev{$name} && $vis->($prev{$name}) ne $vis->($raw);
			$prev{$name} = $raw;
		}
		$prev_t = $t;
	}
}

# the start of the worker's cycle that committed at time t
sub cycle_start_of
{
	my ($t) = @_;
	return undef unless defined $t;
	foreach my $c (@cycles)
	{
		return $c->[0] if $c->[0] <= $t && $t <= $c->[1];
	}
	return undef;
}

my @records;
foreach my $line (split /\n/, isql(qq{
	SELECT start_lsn, end_lsn, xid, resource_manager, record_type,
	       record_length + fpi_length, replace(coalesce(description, ''), '|', '/'),
	       replace(coalesce(block_ref, ''), E'\\n', ' '),
	       CASE WHEN resource_manager = 'Transaction' AND record_type = 'COMMIT'
	            THEN extract(epoch FROM substring(description FROM '^[^;]+')::timestamptz) END
	FROM pg_get_wal_records_info('$lookback', '$lsn1') ORDER BY start_lsn}))
{
	my %rec;
	@rec{qw(start end xid rmgr type len desc blocks commit_t)} = split /\|/, $line, -1;
	$rec{pos} = lsn($rec{start});
	push @records, \%rec;
}

# the transactions that wrote walmon's relations, with their subtransactions
my %xid_top;
foreach my $rec (@records)
{
	next unless $rec->{rmgr} eq 'Transaction' && $rec->{desc} =~ /subxacts: ([\d ]+)/;
	my @sub = split ' ', $1;
	# an assignment record (wal_level logical) names its top transaction
	my $top = $rec->{desc} =~ /xtop (\d+)/ ? $1 : $rec->{xid};
	$xid_top{$_} = $top foreach @sub;
}
my %walmon_xact;
foreach my $rec (@records)
{
	next if $rec->{xid} eq '0';
	my @rels = $rec->{blocks} =~ m{rel \d+/(\d+/\d+)}g;
	$walmon_xact{ $xid_top{ $rec->{xid} } // $rec->{xid} } = 1
	  if grep { $walmon_rel{$_} } @rels;
}

my %bytes;
my @xacts;    # walmon's transactions: [top xid, first record, last record, relations]
my %xact_at;
foreach my $rec (@records)
{
	my $top = $xid_top{ $rec->{xid} } // $rec->{xid};
	my @rels = $rec->{blocks} =~ m{rel \d+/(\d+/\d+)}g;
	if ($rec->{xid} ne '0' && $walmon_xact{$top})
	{
		$rec->{class} = 'walmon';
		if (!defined $xact_at{$top})
		{
			push @xacts, [ $top, $rec, $rec, {} ];
			$xact_at{$top} = $#xacts;
		}
		my $x = $xacts[ $xact_at{$top} ];
		$x->[2] = $rec;
		$x->[3]{ $walmon_rel{$_} // $_ }++ foreach @rels;
	}
	elsif ($rec->{xid} eq '0' && @rels && !(grep { !$walmon_rel{$_} } @rels)
		&& "$rec->{rmgr}/$rec->{type}" =~ m{^(Heap2/PRUNE|XLOG/FPI_FOR_HINT)$})
	{
		$rec->{class} = 'own-maint';
	}
	elsif ($rec->{xid} eq '0' && @rels && !(grep { !$walmon_rel{$_} } @rels)
		&& $rec->{rmgr} eq 'Sequence')
	{
		# nextval() of walmon's own sequence (a sample, a history row)
		# logs ahead in a subtransaction that has no xid yet
		$rec->{class} = 'walmon-seq';
	}
	elsif (($rec->{rmgr} eq 'Standby' && $rec->{type} eq 'RUNNING_XACTS')
		|| ($rec->{rmgr} eq 'XLOG' && $rec->{type} =~ /^CHECKPOINT_/))
	{
		$rec->{class} = 'idle';
	}
	else
	{
		$rec->{class} = 'foreign';
	}
	$bytes{ $rec->{class} } += $rec->{len} if $rec->{pos} >= lsn($lsn0);
}

sub describe
{
	my ($rec) = @_;
	return "$rec->{start} $rec->{class} $rec->{rmgr}/$rec->{type} xid $rec->{xid} "
	  . "($rec->{len} B) $rec->{desc} $rec->{blocks}";
}

# the records, runs of the same kind in one line
sub summarize
{
	my @lines;
	my ($key, $n, $first, $bytes) = ('', 0);
	foreach my $rec (@_, undef)
	{
		my $k = $rec ? "$rec->{class} $rec->{rmgr}/$rec->{type} xid $rec->{xid}" : '';
		if ($k ne $key && $n)
		{
			push @lines, $n == 1 ? describe($first) : "$first->{start} $n x $key ($bytes B)";
			$n = 0;
		}
		last unless $rec;
		($key, $first, $bytes) = ($k, $rec, 0) if $n == 0;
		$n++;
		$bytes += $rec->{len};
	}
	return join("\n", @lines);
}

# A slot move is the cause of a walmon write when the watcher saw it after
# the start of the cycle of walmon's previous write (which read the slots
# after its start) and it happened before this write's commit: the watcher
# polls, so a move it reports happened after its previous observation, and
# a loaded machine can delay the report past walmon's commit.
#
# A transaction that wrote only samples (wal_metrics, its indexes and its
# sequence) is the sampler's pass every walmon.metrics_interval, which
# samples the changes the cycles wrote since the previous pass: its cause
# is such a change, a write of wal_monitor after the previous sample-only
# transaction and at most one interval (and 2 s of a cycle) before it.
my @uncaused;
my ($in_window, $after_foreign, $after_move, $deferred) = (0, 0, 0, 0);
my ($prev_last, $prev_commit) = (lsn($lookback), undef);
my $unsampled_change;    # commit time of the last monitor write not yet sampled
foreach my $x (@xacts)
{
	my ($top, $first, $last, $rels) = @$x;
	my $commit_t = $last->{commit_t};
	my $samples_only = !grep { !/^wal_metrics/ } keys %$rels;
	my $sampled_change;
	if ($samples_only && defined $unsampled_change && defined $commit_t
		&& $commit_t - $unsampled_change <= 10 + 2)
	{
		$sampled_change = $unsampled_change;
	}
	if ($samples_only)
	{
		undef $unsampled_change;
	}
	elsif ($rels->{wal_monitor})
	{
		$unsampled_change = $commit_t;
	}
	if ($first->{pos} >= lsn($lsn0))
	{
		$in_window++;
		my @between = grep { $_->{pos} > $prev_last && $_->{pos} < $first->{pos} } @records;
		my @causes = grep { $_->{class} eq 'foreign' } @between;
		my $prev_start = cycle_start_of($prev_commit) // $prev_commit;
		my @moves = grep {
			(!defined $prev_start || $_->[0] > $prev_start)
			  && (!defined $commit_t || $_->[0] <= $commit_t
				|| (defined $_->[2] && $_->[2] < $commit_t))
		} @slot_moves;
		my $wrote = join(', ', map { "$_ x$rels->{$_}" } sort keys %$rels);
		my $cause =
			@causes ? 'after ' . describe($causes[0])
		  : @moves  ? "after a slot move at $moves[0][0]: $moves[0][1]"
		  : defined $sampled_change ? "the sampler's pass after a change committed at $sampled_change"
		  :           'NO FOREIGN CAUSE';
		note("walmon transaction $top at $first->{start}, committed at "
			  . ($commit_t // '?') . " (wrote $wrote): $cause");
		$after_foreign++ if @causes;
		$after_move++ if !@causes && @moves;
		$deferred++ if !@causes && !@moves && defined $sampled_change;
		push @uncaused, "walmon transaction $top at $first->{start}, committed at "
		  . ($commit_t // '?') . " (wrote $wrote), since walmon's previous write:\n  "
		  . join("\n  ", map { describe($_) } @between, $first)
		  unless @causes || @moves || defined $sampled_change;
	}
	$prev_last = $last->{pos};
	$prev_commit = $commit_t;
}
note(sprintf('the window %s .. %s: %d cycles, %d walmon transactions (%d after foreign WAL, %d after a slot move, %d sampler passes after a change, %d without a cause); bytes: %s',
		$lsn0, $lsn1, $idle_cycles, $in_window, $after_foreign, $after_move, $deferred, scalar @uncaused,
		join(', ', map { "$_ $bytes{$_}" } sort keys %bytes) || 'no WAL at all'));
note('slot moves: ' . join('; ', map { "$_->[0] $_->[1]" } @slot_moves));
cmp_ok($idle_cycles, '>=', 150, "the worker kept cycling ($idle_cycles cycles)");
my $samples_in_window = isql(qq{
	SELECT string_agg(format('%s source %s (%s): %s lag %s %s', m.sampled_at, m.source_id,
	                         s.slot_name, m.wal_lsn, m.replication_lag_bytes, m.status), E'\\n' ORDER BY m.id)
	FROM wal_metrics m JOIN walmon_source s ON s.id = m.source_id
	WHERE m.sampled_at >= '$t_window0'::timestamptz - interval '10 s'});
ok(!@uncaused, 'every walmon transaction of the window had a foreign cause since walmon\'s previous write')
  or diag(join("\n", @uncaused), "\nwalmon's samples:\n$samples_in_window\nall the records of the window:\n",
	summarize(grep { $_->{pos} >= lsn($lsn0) } @records));

$recvlogical->kill_kill;
$idle->stop;

done_testing();
