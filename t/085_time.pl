# walmon's numbers in time (issue 11): the lag in seconds of a streaming
# standby against pg_stat_replication.flush_lag, growing with the clock
# once the standby is gone and 0 once it has caught up on an idle server;
# and the forecast of a slot's invalidation under a steady WAL rate, which
# turns the row ERROR before PostgreSQL invalidates the slot and predicts
# when that happens.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $naptime = 0.2;

sub lsn
{
	my ($s) = @_;
	return undef if !defined $s || $s eq '';
	my ($hi, $lo) = split m{/}, $s;
	return hex($hi) * 4294967296 + hex($lo);
}

# ====================================================================
# (a) the lag in seconds of a streaming standby
# ====================================================================

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
shared_buffers = '64MB'
max_connections = 30
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '@{[ $naptime * 1000 ]}ms'
autovacuum = off
});
$primary->start;

sub psql_p { return $primary->safe_psql('postgres', $_[0]); }

psql_p('CREATE EXTENSION walmon');
psql_p("SELECT pg_create_physical_replication_slot('standby_slot')");
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'standby_slot'");
$standby->start;
ok( $primary->poll_query_until('postgres',
		q{SELECT w.status = 'ACTIVE' FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'standby_slot'}),
	'the standby streams from its slot');

$primary->command_ok([ 'pgbench', '-i', '-s', '5', '-q', $primary->connstr('postgres') ],
	'pgbench -i');
$primary->wait_for_catchup($standby);

# pgbench in the background, long enough for everything below
# (its output goes to a file: nothing reads a pipe while it runs)
my $bench_log = "$PostgreSQL::Test::Utils::tmp_check/085_pgbench.log";
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-T', '40', '-c', '2',
		$primary->connstr('postgres') . ' application_name=walmon_bench' ],
	'>', $bench_log, '2>&1');
$primary->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'walmon_bench'})
  or die 'pgbench did not start';

# walmon's lag in seconds and PostgreSQL's flush_lag, in one query.  The
# column is as of updated_at (the row is rewritten at every cycle under
# load); flush_lag is as of the standby's latest reply.  They agree within
# one naptime (walmon interpolates the time its WAL end passed the slot's
# position between two cycles) plus 0.3 s: the replies and the cycle are
# not at the same moment, and on a loaded 2-core machine a cycle, a reply
# or the standby's flush may be late by a scheduling quantum or two.
# flush_lag is NULL when the standby's latest reply found it entirely
# caught up (PostgreSQL clears the lag times then): that is a lag of 0.
my $tolerance = $naptime + 0.3;
my $agree = q{
	SELECT w.replication_lag_seconds, extract(epoch FROM r.flush_lag),
	       extract(epoch FROM now() - w.updated_at), w.wal_lsn, r.flush_lsn
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	JOIN pg_replication_slots sl ON sl.slot_name = s.slot_name
	JOIN pg_stat_replication r ON r.pid = sl.active_pid
	WHERE s.slot_name = 'standby_slot'};
my (@diffs, @bad);
my $measured_lags = 0;
for my $i (1 .. 12)
{
	my $c = psql_p('SELECT cycles FROM walmon_worker_status()');
	$primary->poll_query_until('postgres', "SELECT cycles >= $c + 2 FROM walmon_worker_status()")
	  or die 'the worker made no progress';
	my ($lag, $flush_lag, $age, $wal_lsn, $flush_lsn) = split /\|/, psql_p($agree);
	if ($lag eq '')
	{
		push @bad, "sample $i: no replication_lag_seconds";
		next;
	}
	$measured_lags++ if $flush_lag ne '';
	$flush_lag = 0 if $flush_lag eq '';
	my $d = $lag - $flush_lag;
	push @diffs, $d;
	note(sprintf('replication_lag_seconds %.3f, flush_lag %.3f (difference %+.3f; row %.3f s old; wal_lsn %s, flush_lsn %s)',
			$lag, $flush_lag, $d, $age, $wal_lsn, $flush_lsn));
	push @bad, sprintf('sample %d: replication_lag_seconds %.3f, flush_lag %.3f', $i, $lag, $flush_lag)
	  if abs($d) > $tolerance;
}
my ($maxd) = sort { $b <=> $a } map { abs } @diffs;
ok(!@bad && @diffs == 12 && $measured_lags >= 4,
	sprintf('under pgbench, replication_lag_seconds agrees with flush_lag within %.1f s (%d samples, %d with a measured flush_lag; largest difference %.3f s)',
		$tolerance, scalar @diffs, $measured_lags, $maxd // -1))
  or diag(join("\n", @bad));

# ---- the standby stops; pgbench goes on ----
my $t_before = time;
$standby->stop('fast');
my $t_after = time;
ok( $primary->poll_query_until('postgres',
		q{SELECT w.status = 'IDLE' FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'standby_slot'}),
	'the row turns IDLE without its standby');

# the column (as of updated_at), updated_at, the overview's lag_time (which
# adds the time since updated_at), and the clock
my $reading = q{
	SELECT w.replication_lag_seconds, extract(epoch FROM w.updated_at),
	       extract(epoch FROM o.lag_time), extract(epoch FROM now()),
	       w.replication_lag_seconds + extract(epoch FROM now() - w.updated_at)
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	JOIN walmon_overview o ON o.source_id = s.id
	WHERE s.slot_name = 'standby_slot'};
my ($lag1, $upd1, $lt1, $now1, $exact1) = split /\|/, psql_p($reading);
sleep(3);    # the measurement window
my ($lag2, $upd2, $lt2, $now2, $exact2) = split /\|/, psql_p($reading);
note(sprintf('standby stopped: column %.3f s then %.3f s, updated_at %.3f s apart; overview %s s then %s s, %.3f s apart by the clock',
		$lag1, $lag2, $upd2 - $upd1, $lt1, $lt2, $now2 - $now1));
is(psql_p(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'walmon_bench'}),
	'2', 'pgbench was still writing');

# the position is fixed: the time E passed it is fixed, and the lag is the
# time since, exactly; the row is rewritten every cycle, so updated_at
# follows the clock within one naptime and a cycle
cmp_ok(abs(($lag2 - $lag1) - ($upd2 - $upd1)), '<', 0.01,
	'the column grows exactly as updated_at does');
cmp_ok(abs(($upd2 - $upd1) - ($now2 - $now1)), '<', $naptime + 0.3,
	'and updated_at as the clock does: two readings 3 s apart differ by about 3 s');
# the overview's lag_time: the column plus the time since updated_at,
# truncated to the second
cmp_ok(abs(($exact2 - $exact1) - ($now2 - $now1)), '<', 0.01,
	'the overview\'s lag grows exactly with the clock');
ok($lt1 <= $exact1 && $exact1 < $lt1 + 1 && $lt2 <= $exact2 && $exact2 < $lt2 + 1,
	'walmon_overview.lag_time is that, to the second');
# the truth: the standby's last flushed WAL was written while it streamed,
# just before it was stopped
my $crossed = $upd1 - $lag1;
note(sprintf('the slot\'s position was passed %.3f s after the stop began (stop took %.3f s)',
		$crossed - $t_before, $t_after - $t_before));
ok($crossed >= $t_before - ($naptime + 0.5) && $crossed <= $t_after + $naptime,
	'the lag is the time since the standby stopped, within a naptime');

# ---- back, caught up, idle: 0 ----
$standby->start;
$bench->finish;
note('pgbench: ' . join(' ', slurp_file($bench_log) =~ /^(tps = [\d.]+)/m));
$primary->wait_for_catchup($standby);
ok( $primary->poll_query_until('postgres',
		q{SELECT w.replication_lag_seconds = 0 AND w.replication_lag_bytes = 0
		         AND w.status = 'ACTIVE' AND o.lag_time = '0'
		  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  JOIN walmon_overview o ON o.source_id = s.id
		  WHERE s.slot_name = 'standby_slot'}),
	'caught up on an idle server: the lag is 0 s, in the column and in the overview');
sleep(2);    # the measurement window: it stays 0 as the clock goes on
is( psql_p(q{SELECT w.replication_lag_seconds || ' ' || o.lag_time
			 FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
			 JOIN walmon_overview o ON o.source_id = s.id
			 WHERE s.slot_name = 'standby_slot'}),
	'0 00:00:00', 'and stays 0 while the clock goes on');
$standby->stop;
$primary->stop;

# ====================================================================
# (b) the forecast: a steady WAL rate towards max_slot_wal_keep_size
# ====================================================================
#
# 2 MB/s of logical messages (foreign WAL) and a CHECKPOINT every second
# (which removes the WAL no slot keeps); after a minute of that, so that
# walmon's rate of the last minute is the rate, an inactive slot reserving
# WAL under max_slot_wal_keep_size = 64MB: about 32 s to live.  With
# walmon.forecast_error_seconds = 20s the row must turn ERROR before
# PostgreSQL invalidates the slot, and an early sample's
# seconds_to_invalidation must predict the invalidation within 30 % of
# the time left.  Fails when the rate is not the foreign WAL rate, the
# forecast ignores the slot's position or the keep size, or the ERROR
# comes too late.

my $fc = PostgreSQL::Test::Cluster->new('forecast');
$fc->init(allows_streaming => 1, extra => ['--wal-segsize=1']);
$fc->append_conf(
	'postgresql.conf', q{
shared_buffers = '64MB'
max_connections = 30
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
walmon.forecast_error_seconds = '20s'
max_slot_wal_keep_size = '64MB'
wal_keep_size = 0
max_wal_size = '64MB'
min_wal_size = '4MB'
wal_init_zero = off
autovacuum = off
log_checkpoints = on
});
$fc->start;

sub psql_f { return $fc->safe_psql('postgres', $_[0]); }

psql_f('CREATE EXTENSION walmon');
my $rate = 2 * 1048576;
# 20 messages of 100 kB a second on a fixed schedule, a CHECKPOINT every
# second; it stops once slot fc is lost (or after 200 s)
my $writer_log = "$PostgreSQL::Test::Utils::tmp_check/085_writer.log";
my $writer = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $fc->connstr('postgres'), '-c', qq{
DO \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	k int := 0;
BEGIN
	LOOP
		PERFORM pg_logical_emit_message(false, 'walmon-rate', repeat('x', @{[ int($rate / 20) ]}));
		k := k + 1;
		IF k % 20 = 0 THEN
			CHECKPOINT;
		END IF;
		EXIT WHEN clock_timestamp() > t0 + interval '200 s'
			OR EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'fc' AND wal_status = 'lost');
		PERFORM pg_sleep(extract(epoch FROM t0 + k * interval '50 ms' - clock_timestamp()));
	END LOOP;
END \$\$} ],
	'>', $writer_log, '2>&1',
	IPC::Run::timeout(2 * $PostgreSQL::Test::Utils::timeout_default));
my ($l0, $t0) = (lsn(psql_f('SELECT pg_current_wal_insert_lsn()')), time);
sleep(65);    # the measurement window: a minute of the steady rate
my ($l1, $t1) = (lsn(psql_f('SELECT pg_current_wal_insert_lsn()')), time);
my $measured = ($l1 - $l0) / ($t1 - $t0);
my $walmon_rate = psql_f('SELECT wal_rate_bytes_per_second FROM walmon_worker_status()');
note(sprintf('WAL rate: %.2f MB/s by the insert position, walmon says %.2f MB/s',
		$measured / 1048576, ($walmon_rate || 0) / 1048576));
cmp_ok(abs($walmon_rate - $measured) / $measured, '<', 0.15,
	'walmon_worker_status().wal_rate_bytes_per_second is the WAL rate of the last minute');

my $log_offset = -s $fc->logfile;
my $t_create = time;
psql_f("SELECT pg_create_physical_replication_slot('fc', true)");
# an early sample: the first one written 3 s after the slot was created
my $early = qq{
	SELECT extract(epoch FROM w.updated_at), w.seconds_to_invalidation, w.safe_wal_size, w.status
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	WHERE s.slot_name = 'fc' AND w.seconds_to_invalidation IS NOT NULL
	  AND w.updated_at > to_timestamp($t_create + 3)};
$fc->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($early) e")
  or die 'no forecast for slot fc';
my ($t_sample, $secs, $safe, $status) = split /\|/, psql_f($early);
my $predicted = $t_sample + $secs;
note(sprintf('%.1f s after the slot was created: safe_wal_size %.1f MB, seconds_to_invalidation %.1f s, %s',
		$t_sample - $t_create, $safe / 1048576, $secs, $status));
is($status, 'IDLE', 'the slot is IDLE while it has more than 20 s to live');

ok( $fc->poll_query_until('postgres',
		q{SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = 'fc'}),
	'PostgreSQL invalidates the slot');
my $t_lost_polled = time;
$writer->finish;
my ($inval_ts) = slurp_file($fc->logfile, $log_offset) =~
  /^(\S+ \S+ \S+) \[\d+\] LOG:  invalidating (?:obsolete replication )?slot "fc"/m;
ok(defined $inval_ts, 'the server log says when');
my $t_lost = defined $inval_ts ? psql_f("SELECT extract(epoch FROM '$inval_ts'::timestamptz)") : $t_lost_polled;

my $error = abs($predicted - $t_lost) / ($t_lost - $t_sample);
note(sprintf('forecast at %.1f s: invalidation at %.1f s; invalidated at %.1f s (view: %.1f s); error %.1f s, %.0f %% of the %.1f s left',
		$t_sample - $t_create, $predicted - $t_create, $t_lost - $t_create,
		$t_lost_polled - $t_create, $predicted - $t_lost, 100 * $error, $t_lost - $t_sample));
cmp_ok($error, '<=', 0.3, 'the forecast predicted the invalidation within 30 %');

my ($err_at, $err_msg, $before) = split /\|/, psql_f(qq{
	SELECT extract(epoch FROM h.changed_at), h.error_message, h.changed_at < to_timestamp($t_lost)
	FROM wal_monitor_history h JOIN walmon_source s ON s.id = h.source_id
	WHERE s.slot_name = 'fc' AND h.new_status = 'ERROR' ORDER BY h.id LIMIT 1});
like($err_msg // '', qr/^replication slot "fc" will be invalidated in about \d+ s at the current WAL rate of [\d.]+ MB\/s$/,
	'the row turned ERROR for the forecast');
is($before, 't',
	sprintf('before PostgreSQL invalidated the slot (%.1f s before; %.1f s after the slot was created)',
		$t_lost - ($err_at // 0), ($err_at // 0) - $t_create));
# (a cycle after the view said lost: on a loaded machine it may come later)
$fc->poll_query_until('postgres',
	q{SELECT w.error_message LIKE '%is invalidated%' FROM wal_monitor w
	  JOIN walmon_source s ON s.id = w.source_id WHERE s.slot_name = 'fc'});
is(psql_f(q{SELECT w.status || ': ' || w.error_message FROM wal_monitor w
			JOIN walmon_source s ON s.id = w.source_id WHERE s.slot_name = 'fc'}),
	'ERROR: replication slot "fc" is invalidated: required WAL was removed',
	'then the row says the slot is invalidated');
$fc->stop;

done_testing();
