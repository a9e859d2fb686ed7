# The walmon background worker on a primary: it waits for the extension,
# follows physical and logical slots (never temporary ones) into monitor
# rows, turns them ACTIVE/IDLE/ERROR, writes no WAL on an idle server even
# after a checkpoint, follows reloads, and survives SIGKILL and DROP
# EXTENSION.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $naptime_ms = 200;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '${naptime_ms}ms'
# samples follow changes within a second, so the idle measurement below
# can wait for the last one before it starts
walmon.metrics_interval = '1s'
track_commit_timestamp = on
max_replication_slots = 20
max_slot_wal_keep_size = '1GB'
# a timed checkpoint falls inside the idle measurement below: if walmon
# wrote after the last checkpoint, it would not be skipped
checkpoint_timeout = '30s'
# the idle measurement is about walmon's WAL: autovacuum processing the
# catalogs this test changes would move the WAL position by itself
autovacuum = off
# the SIGKILL test below wants the postmaster to restart everything
restart_after_crash = on
});
$node->start;

# pg_walinspect (15+) shows which records were written, if any
my $walinspect;

# ---- helpers ----

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sub poll
{
	my ($query, $what) = @_;
	ok($node->poll_query_until('postgres', $query), $what);
}

sub cycles
{
	return sql('SELECT cycles FROM walmon_worker_status()');
}

# wait until the worker has started n more cycles
sub wait_cycles
{
	my ($n) = @_;
	my $c = cycles();
	$node->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_worker_status()")
	  or die "the walmon worker made no progress";
}

# the monitor row of the source bound to a slot
sub row
{
	my ($slot, $cols) = @_;
	return sql(
		qq{SELECT $cols FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		   WHERE s.slot_name = '$slot'});
}

# WAL that is not walmon's: a transactional logical message, so that no
# table (and no autovacuum threshold) is involved
sub foreign_wal
{
	my ($bytes) = @_;
	return sql(
		"SELECT pg_current_xact_id(), pg_logical_emit_message(true, 'walmon-test', repeat('x', $bytes))"
	);
}

# on failure: the records written since a position
sub diag_wal
{
	my ($from) = @_;
	return unless $walinspect;
	diag(
		sql("SELECT string_agg(resource_manager || ' ' || record_type
		            || coalesce(' (' || block_ref || ')', ''), ', ')
		     FROM pg_get_wal_records_info('$from', pg_current_wal_flush_lsn())"
		));
}

sub count_matches
{
	my ($pattern, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @m = ($log =~ /$pattern/g);
	return scalar @m;
}

# ---- the extension is created after the worker started ----

$node->wait_for_log(
	qr/walmon worker is waiting for extension "walmon" to be created in database "postgres"/
);
is( sql(
		"SELECT backend_type, wait_event_type FROM pg_stat_activity WHERE backend_type = 'walmon'"
	),
	'walmon|Extension',
	'the worker shows in pg_stat_activity, waiting on its latch');

$walinspect = sql(
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_walinspect'")
  eq '1';

my $log_offset = -s $node->logfile;
sql('CREATE EXTENSION pg_walinspect') if $walinspect;
sql('CREATE EXTENSION walmon');
$node->wait_for_log(
	qr/walmon worker is refreshing replication slots in database "postgres" every 200 ms/,
	$log_offset);
is(count_matches(qr/waiting for extension/, 0),
	1, 'the wait for the extension was logged once');

# ---- slots appear, temporary ones never ----

sql("SELECT pg_create_physical_replication_slot('phys', true)");
sql("SELECT pg_create_logical_replication_slot('logi', 'test_decoding')");
my $tmp = $node->background_psql('postgres');
$tmp->query_safe(
	"SELECT pg_create_physical_replication_slot('tmp_slot', true, true)");

# within two naptimes: the second cycle that starts after the slots exist
wait_cycles(2);
is( sql(
		q{SELECT string_agg(s.name || ':' || s.slot_name || ':' || w.status, ',' ORDER BY s.name)
		  FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id}),
	'logi:logi:IDLE,phys:phys:IDLE',
	'both permanent slots were registered and got an IDLE row within two cycles'
);

# ---- the values: after foreign WAL, against the worker's WAL end ----

# (the message's own end: walmon may write between it and a later reading)
my ($xid, $after) = split /\|/, foreign_wal(10000);
poll(
	qq{SELECT st.wal_end >= '$after'
	          AND bool_and(w.replication_lag_bytes = st.wal_end - w.wal_lsn)
	   FROM walmon_worker_status() st, wal_monitor w GROUP BY st.wal_end},
	'the rows follow foreign WAL');

my $values = q{
	SELECT s.slot_name,
	       w.replication_slot_name = s.slot_name,
	       w.wal_lsn = CASE r.slot_type WHEN 'logical' THEN r.confirmed_flush_lsn
	                                    ELSE r.restart_lsn END,
	       w.wal_position = w.wal_lsn - '0/0',
	       w.replication_lag_bytes = st.wal_end - w.wal_lsn,
	       w.replication_lag_bytes > 0,
	       w.retained_wal_bytes = st.wal_end - r.restart_lsn,
	       w.wal_status = r.wal_status,
	       w.safe_wal_size = r.safe_wal_size + (pg_current_wal_lsn() - st.wal_end),
	       w.status, w.error_message IS NULL,
	       w.inactive_since IS NOT NULL, w.last_wal_received IS NOT NULL
	FROM wal_monitor w
	JOIN walmon_source s ON s.id = w.source_id
	JOIN pg_replication_slots r ON r.slot_name = s.slot_name,
	walmon_worker_status() st
	ORDER BY 1};
is( sql($values),
	"logi|t|t|t|t|t|t|t|t|IDLE|t|t|t\nphys|t|t|t|t|t|t|t|t|IDLE|t|t|t",
	'wal_lsn, wal_position, lag, retained WAL, wal_status, safe_wal_size and status follow the contract'
);
is( row('phys',
		"last_transaction_time = pg_xact_commit_timestamp('$xid'::xid)"),
	't',
	'last_transaction_time is the time of the last foreign commit');
my $logi_received = row('logi', 'last_wal_received');
is(sql("SELECT count(*) FROM walmon_source WHERE slot_name = 'tmp_slot' OR name = 'tmp_slot'"),
	'0', 'the temporary slot never appears');

# ---- a consumer makes its slot ACTIVE ----

my ($recv_out, $recv_err) = ('', '');
my $recvlogical = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $node->connstr('postgres'),
		'-S', 'logi', '--start', '-f', '/dev/null', '-F', '0', '-s', '1'
	],
	'>', \$recv_out, '2>', \$recv_err);
poll(
	q{SELECT w.status = 'ACTIVE' AND w.inactive_since IS NULL AND w.replication_lag_bytes = 0
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id, walmon_worker_status() st
	  WHERE s.slot_name = 'logi' AND w.wal_lsn = st.wal_end},
	'a pg_recvlogical consumer makes its slot ACTIVE and caught up');
isnt(row('logi', 'last_wal_received'),
	$logi_received, 'last_wal_received moved with wal_lsn');

# ---- an idle server: walmon writes no WAL, even after a checkpoint ----

# the consumer also confirms the slot's restart point past walmon's own WAL
poll(q{SELECT w.retained_wal_bytes = 0
	   FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	   WHERE s.slot_name = 'logi'},
	'the consumer has confirmed everything walmon counts');

# a checkpoint after activity: walmon must not answer it with a write (the
# next timed checkpoint, inside the window below, would then not be skipped)
# (everything this test reads from here on is read once before the
# checkpoint: wal_log_hints is on, and a first hint bit set after it would
# be WAL of the test's own)
sql("SELECT count(*) FROM pg_get_wal_records_info('$after', pg_current_wal_flush_lsn())")
  if $walinspect;
sql('SELECT walmon_refresh()');
my $written = sql('SELECT rows_written FROM walmon_worker_status()');
# the last changes have been sampled: every monitor's latest sample is its
# state, so the sampler has nothing left to write
poll(q{SELECT bool_and(p.status = w.status
			AND p.wal_lsn IS NOT DISTINCT FROM w.wal_lsn
			AND p.replication_lag_bytes IS NOT DISTINCT FROM w.replication_lag_bytes)
	   FROM wal_monitor w
	   LEFT JOIN LATERAL (SELECT * FROM wal_metrics m WHERE m.source_id = w.source_id
						  ORDER BY m.id DESC LIMIT 1) p ON true},
	'the sampler has caught up with every monitor');
sql('CHECKPOINT');
my $ckpt_lsn = sql('SELECT pg_current_wal_insert_lsn()');

# settled: the background writer has logged its snapshot after the
# checkpoint (it logs one after any important record), and nothing since
if ($walinspect)
{
	poll(
		qq{SELECT record_type = 'RUNNING_XACTS'
		   FROM pg_get_wal_records_info('$ckpt_lsn', pg_current_wal_flush_lsn())
		   ORDER BY start_lsn DESC LIMIT 1},
		'the background writer logged its snapshot after the checkpoint');
}
else
{
	# it logs one 15 s after its previous one at the latest, plus up to
	# 10 s of hibernation: wait until the WAL has not moved for longer
	my ($lsn, $since) = ('', time);
	while (time - $since < 30)
	{
		my $now = sql('SELECT pg_current_wal_insert_lsn()');
		($lsn, $since) = ($now, time) if $now ne $lsn;
		wait_cycles(2);
	}
	pass('the WAL stood still for 30 s after the checkpoint');
}
wait_cycles(3);

my $lsn0 = sql('SELECT pg_current_wal_insert_lsn()');
my $cycles0 = cycles();
sleep(30);    # the measurement window
my $lsn1 = sql('SELECT pg_current_wal_insert_lsn()');
my $idle_cycles = cycles() - $cycles0;

is($lsn1, $lsn0, 'no WAL at all over 30 idle seconds with slots and a consumer')
  or diag_wal($lsn0);
cmp_ok($idle_cycles, '>=', 50, "the worker kept cycling meanwhile ($idle_cycles cycles)");
is(sql('SELECT rows_written FROM walmon_worker_status()'),
	$written, 'walmon wrote no row after the checkpoint');
is(sql('SELECT walmon_refresh()'), '0',
	'walmon_refresh() finds nothing to write either');
is(sql('SELECT pg_current_wal_insert_lsn()'),
	$lsn0, 'and writes no WAL')
  or diag_wal($lsn0);

# ---- the consumer leaves: IDLE again ----

$recvlogical->kill_kill;
poll(
	q{SELECT w.status = 'IDLE' AND w.inactive_since IS NOT NULL
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'logi'},
	'the slot turns IDLE when its consumer leaves');

# ---- walmon.lag_error_bytes ----

sql("ALTER SYSTEM SET walmon.lag_error_bytes = '16kB'");
$node->reload;
foreign_wal(40000);
poll(
	q{SELECT w.status = 'ERROR'
	         AND w.error_message = 'replication lag of slot "phys" exceeds walmon.lag_error_bytes (16384 bytes)'
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'phys'},
	'a slot lagging more than walmon.lag_error_bytes turns to ERROR');
is( sql(
		q{SELECT string_agg(coalesce(h.old_status, '-') || '>' || h.new_status, ',' ORDER BY h.id)
		  FROM wal_monitor_history h JOIN walmon_source s ON s.id = h.source_id
		  WHERE s.slot_name = 'phys'}),
	'->IDLE,IDLE>ERROR',
	'the history records the change');
sql('ALTER SYSTEM RESET walmon.lag_error_bytes');
$node->reload;
poll(
	q{SELECT w.status = 'IDLE' AND w.error_message IS NULL
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'phys'},
	'and back to IDLE when the limit is lifted');

# ---- a dropped slot ----

sql("SELECT pg_drop_replication_slot('phys')");
poll(
	q{SELECT w.status = 'ERROR'
	         AND w.error_message = 'replication slot "phys" does not exist'
	         AND w.retained_wal_bytes IS NULL AND w.wal_lsn IS NOT NULL
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'phys'},
	'a dropped slot turns its row to ERROR, naming the slot');

# ---- a row that cannot be written is logged and recorded, the others are
# written, and the next cycle tries it again ----

# (the log offset first: a cycle may try a row as soon as the trigger exists)
$log_offset = -s $node->logfile;
sql(q{CREATE FUNCTION regress_boom() RETURNS trigger LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'walmon test failure'; END$$});
sql(q{CREATE TRIGGER regress_boom BEFORE UPDATE ON wal_monitor
	  FOR EACH ROW EXECUTE FUNCTION regress_boom()});
foreign_wal(100);
poll(q{SELECT last_error LIKE '%: walmon test failure' AND last_error_at IS NOT NULL
	   FROM walmon_worker_status()},
	'a row that could not be written is recorded in walmon_worker_status()');
$node->wait_for_log(qr/WARNING:  walmon could not write the monitor row of source \d+ \(replication slot "\w+"\): walmon test failure/, $log_offset);
wait_cycles(2);
pass('and cycles go on');
sql('DROP TRIGGER regress_boom ON wal_monitor');
poll(
	q{SELECT bool_and(w.replication_lag_bytes = st.wal_end - w.wal_lsn)
	  FROM walmon_worker_status() st, wal_monitor w
	  JOIN walmon_source s ON s.id = w.source_id WHERE s.slot_name = 'logi'},
	'once the fault is gone the next cycle writes');

# ---- a cycle that fails (a table locked for longer than the cycle's
# lock_timeout) is logged and recorded, and the next one runs ----

my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE wal_monitor IN ACCESS EXCLUSIVE MODE');
$log_offset = -s $node->logfile;
poll(q{SELECT last_error = 'canceling statement due to lock timeout' FROM walmon_worker_status()},
	'a failed cycle is recorded in walmon_worker_status()');
$node->wait_for_log(qr/ERROR:  canceling statement due to lock timeout/, $log_offset);
$locker->query_safe('COMMIT');
$locker->quit;
wait_cycles(2);
pass('and cycles go on once the lock is gone');

# ---- walmon.naptime follows a reload ----

# the average time between cycle starts over the next few cycles
sub cycle_gap
{
	my ($n) = @_;
	wait_cycles(1);
	my ($c1, $t1) = split /\|/,
	  sql('SELECT cycles, extract(epoch FROM last_cycle_start) FROM walmon_worker_status()');
	wait_cycles($n);
	my ($c2, $t2) = split /\|/,
	  sql('SELECT cycles, extract(epoch FROM last_cycle_start) FROM walmon_worker_status()');
	return ($t2 - $t1) / ($c2 - $c1);
}

sql("ALTER SYSTEM SET walmon.naptime = '2s'");
$node->reload;
wait_cycles(1);
my $slow = cycle_gap(2);
cmp_ok($slow, '>=', 1.95, "cycles are 2 s apart after a reload (${slow}s)");
sql('ALTER SYSTEM RESET walmon.naptime');
$node->reload;
wait_cycles(1);
my $fast = cycle_gap(5);
cmp_ok($fast, '<', 1, "and 200 ms apart again after the next one (${fast}s)");

# ---- SIGKILL: the worker comes back ----

my $pid = sql('SELECT pid FROM walmon_worker_status()');
$tmp->quit;
$log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/\(PID $pid\) was terminated by signal 9/, $log_offset);
poll(
	qq{SELECT pid <> $pid AND state = 'running' FROM walmon_worker_status()},
	'the worker is back after SIGKILL');

# ---- DROP EXTENSION while the worker runs: quiet; CREATE: picked up ----

$pid = sql('SELECT pid FROM walmon_worker_status()');
$log_offset = -s $node->logfile;
sql('DROP EXTENSION walmon');
$node->wait_for_log(qr/walmon worker is waiting for extension/, $log_offset);
my $dropped_at = sql('SELECT now()');
poll(
	qq{SELECT state_change > '$dropped_at'::timestamptz + interval '1 second'
	   FROM pg_stat_activity WHERE pid = $pid},
	'the worker keeps cycling without the extension');
sql('CREATE EXTENSION walmon');
$node->wait_for_log(qr/walmon worker is refreshing replication slots/,
	$log_offset);
poll(
	q{SELECT string_agg(s.slot_name || ':' || w.status, ',') = 'logi:IDLE'
	  FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id},
	'the new extension is picked up');
is(count_matches(qr/waiting for extension/, $log_offset),
	1, 'the drop was logged once');
is(count_matches(qr/\[$pid\] (?:\S+ )?(?:ERROR|FATAL|WARNING)/, $log_offset),
	0, 'and the worker reported no error meanwhile');

$node->stop;
done_testing();
