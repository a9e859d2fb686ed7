# No caller can stall the worker: whatever one row or one slot does, every
# cycle makes progress on every other slot.  Rows an application holds in
# an open transaction are skipped and caught up later; a first row or a
# source that cannot be written now (a conflicting open transaction, the
# source id sequence used up, a trigger that fails for one row) is skipped,
# reported once and tried again next cycle; pg_cancel_backend() on the idle
# worker does not end it; the worker's last error is valid text however it
# was cut; a slot acquired by a backend that is not streaming from it (a
# slot being created, or dropped) never shows ACTIVE.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
max_replication_slots = 20
});
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub poll
{
	my ($query, $what) = @_;
	ok($node->poll_query_until('postgres', $query), $what);
}

sub wait_cycles
{
	my ($n) = @_;
	my $c = sql('SELECT cycles FROM walmon_worker_status()');
	$node->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_worker_status()")
	  or die "the walmon worker made no progress";
}

sub status_of
{
	my ($slot) = @_;
	return sql(
		qq{SELECT coalesce(w.status, 'none') FROM walmon_source s
		   LEFT JOIN wal_monitor w ON w.source_id = s.id WHERE s.slot_name = '$slot'});
}

sub registered
{
	my ($slot) = @_;
	return qq{SELECT count(*) = 1 FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id
			  WHERE s.slot_name = '$slot'};
}

sql('CREATE EXTENSION walmon');
sql(q{SELECT pg_create_physical_replication_slot('held', true),
			 pg_create_physical_replication_slot('other', true)});
poll(registered('held') . ' AND (' . registered('other') . ')',
	'the worker registers both slots');
my $held = sql(q{SELECT id FROM walmon_source WHERE slot_name = 'held'});

# ---- a row held by an application's open transaction ----

my $app = $node->background_psql('postgres');
$app->query_safe('BEGIN');
$app->query_safe(qq{SELECT status FROM walmon_upsert($held, status => 'ERROR', error_message => 'held by the app')});

sql(q{SELECT pg_drop_replication_slot('other')});
poll(q{SELECT w.status = 'ERROR' FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	   WHERE s.slot_name = 'other'},
	'a dropped slot turns ERROR while another slot\'s row is held');
sql(q{SELECT pg_create_physical_replication_slot('new1', true)});
poll(registered('new1'), 'a new slot is registered while a row is held');
wait_cycles(3);
is(sql('SELECT last_error IS NULL FROM walmon_worker_status()'),
	't', 'skipping a held row is not an error');
$app->query_safe('ROLLBACK');
poll(qq{SELECT status = 'IDLE' FROM wal_monitor WHERE source_id = $held},
	'the held row is caught up once the transaction ends');

# ---- a first row being inserted by an open transaction ----

my $first = sql(q{SELECT walmon_add_source('app-first', 'first_slot')});
$app->query_safe('BEGIN');
$app->query_safe(qq{SELECT status FROM walmon_upsert($first, status => 'ACTIVE')});
sql(q{SELECT pg_create_physical_replication_slot('first_slot', true),
			 pg_create_physical_replication_slot('new2', true)});
poll(registered('new2'),
	'a new slot is registered while another source\'s first row is being inserted');
wait_cycles(2);
$app->query_safe('COMMIT');
poll(qq{SELECT status = 'IDLE' FROM wal_monitor WHERE source_id = $first},
	'the worker takes the row over once the transaction committed');

# ---- a source being added by an open transaction, with the slot's name ----

my $log_offset = -s $node->logfile;
$app->query_safe('BEGIN');
$app->query_safe(q{SELECT walmon_add_source('clash_slot', 'clash_slot')});
sql(q{SELECT pg_create_physical_replication_slot('clash_slot', true),
			 pg_create_physical_replication_slot('new3', true)});
poll(registered('new3'),
	'a new slot is registered while another slot\'s source is being added');
$node->wait_for_log(
	qr/WARNING:  walmon could not write a source for replication slot "clash_slot": canceling statement due to lock timeout/,
	$log_offset);
pass('the slot that could not be registered is reported');
wait_cycles(5);
my $log = slurp_file($node->logfile, $log_offset);
my @warnings = ($log =~ /could not write a source for replication slot "clash_slot"/g);
is(scalar @warnings, 1, 'and reported once, not every cycle');
$app->query_safe('COMMIT');
poll(registered('clash_slot'),
	'the application\'s source gets its row once the transaction committed');
is(sql(q{SELECT count(*) FROM walmon_source WHERE name = 'clash_slot'}),
	'1', 'one source for the slot');

# ---- the source id sequence used up ----

sql(q{SELECT setval('walmon_source_id_seq', 2147483647)});
$log_offset = -s $node->logfile;
sql(q{SELECT pg_create_physical_replication_slot('no_ids', true)});
$node->wait_for_log(
	qr/WARNING:  walmon could not write a source for replication slot "no_ids": nextval: reached maximum value/,
	$log_offset);
pass('a slot that cannot be registered for want of ids is reported');
sql(q{SELECT pg_drop_replication_slot('new1')});
poll(q{SELECT w.status = 'ERROR' FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	   WHERE s.slot_name = 'new1'},
	'the other slots are still refreshed');
like(sql('SELECT last_error FROM walmon_worker_status()'),
	qr/no_ids.*reached maximum value/, 'the worker\'s status shows the latest error');
is(sql('SELECT walmon_refresh() >= 0'), 't',
	'walmon_refresh() in a session goes on the same way');
sql(q{SELECT pg_drop_replication_slot('no_ids')});
sql(q{SELECT setval('walmon_source_id_seq', (SELECT max(id) FROM walmon_source))});

# ---- a trigger that fails for one row, with a long multibyte message ----

sql(q{CREATE FUNCTION regress_boom() RETURNS trigger LANGUAGE plpgsql
	  AS $$BEGIN
		IF NEW.replication_slot_name = 'boom' THEN
			RAISE EXCEPTION 'ünïcödé %', repeat('é', 2000);
		END IF;
		RETURN NEW;
	  END$$});
sql(q{CREATE TRIGGER regress_boom BEFORE INSERT OR UPDATE ON wal_monitor
	  FOR EACH ROW EXECUTE FUNCTION regress_boom()});
sql(q{SELECT pg_create_physical_replication_slot('boom', true),
			 pg_create_physical_replication_slot('new4', true)});
poll(registered('new4'), 'a row that fails alone does not hold up the others');
is(status_of('boom'), 'none', 'the failing row is not written');
poll(q{SELECT last_error LIKE '%ünïcödé%' FROM walmon_worker_status()},
	'its error is in the worker\'s status');
is( sql(q{SELECT octet_length(last_error) < 1024
			 AND convert_from(textsend(last_error), 'UTF8') = last_error
		  FROM walmon_worker_status()}),
	't',
	'the error was cut to fit, at a character boundary');
sql('DROP TRIGGER regress_boom ON wal_monitor');
poll(registered('boom'), 'once the trigger is gone, the row is written');

# ---- pg_cancel_backend() on the idle worker ----

my $pid = sql('SELECT pid FROM walmon_worker_status()');
sql("SELECT pg_cancel_backend($pid)");
wait_cycles(3);
is(sql('SELECT pid FROM walmon_worker_status()'),
	$pid, 'a cancel request does not end the worker');

# ---- a slot acquired by a backend that does not stream from it ----

# A logical slot being created waits for running transactions; meanwhile
# pg_replication_slots shows it permanent and active, acquired by the
# creating backend.  A drop acquires a slot the same way, for a moment.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN');
$blocker->query_safe('SELECT pg_current_xact_id()');
my $creator = $node->background_psql('postgres');
$creator->query_until(qr/creating/,
	q{\echo creating
	  SELECT pg_create_logical_replication_slot('being_created', 'test_decoding');
});
poll(q{SELECT active AND NOT temporary FROM pg_replication_slots
	   WHERE slot_name = 'being_created'},
	'the slot being created shows active');
wait_cycles(3);
is(status_of('being_created'), 'IDLE',
	'walmon shows it IDLE: nothing streams from it');
is(sql(q{SELECT count(*) FROM wal_monitor_history h JOIN walmon_source s ON s.id = h.source_id
		 WHERE s.slot_name = 'being_created' AND h.new_status = 'ACTIVE'}),
	'0', 'and it never was ACTIVE');
$blocker->query_safe('COMMIT');
$creator->quit;
$blocker->quit;

# ---- a rewrite locks rows only when another transaction holds one ----

# The cycle rewrites its rows without locking them first (a lock record per
# row, every cycle); only when that has to wait for a row an application
# holds does it lock the rows nobody holds (SKIP LOCKED) and rewrite those.
# The WAL of one walmon_refresh() says which way it went.
SKIP:
{
	skip 'pg_walinspect is there from PostgreSQL 15 on', 13
	  unless sql(q{SELECT count(*) FROM pg_available_extensions
				   WHERE name = 'pg_walinspect'});

	sql('CREATE EXTENSION pg_walinspect');
	sql(q{ALTER SYSTEM SET walmon.enabled = off});
	sql(q{SELECT pg_reload_conf()});
	poll(q{SELECT state = 'disabled' FROM walmon_worker_status()},
		'the worker idles');

	# one cycle after foreign WAL: its rows rewritten and its lock records
	my $cycle = sub {
		sql(q{SELECT pg_logical_emit_message(true, 'walmon-test', 'x')});
		my $start = sql('SELECT pg_current_wal_insert_lsn()');
		my $at = sql('SELECT now() FROM (SELECT walmon_refresh()) AS r');
		my $end = sql('SELECT pg_current_wal_insert_lsn()');
		return (
			sql(qq{SELECT count(*) FROM wal_monitor WHERE updated_at = '$at'}),
			sql(qq{SELECT count(*) FROM pg_get_wal_records_info('$start', '$end')
				   WHERE resource_manager = 'Heap' AND record_type = 'LOCK'}),
			sql(qq{SELECT updated_at = '$at' FROM wal_monitor WHERE source_id = $held}));
	};

	my ($rewritten, $locks) = $cycle->();
	cmp_ok($rewritten, '>=', 3, 'a cycle rewrites the rows of the slots');
	is($locks, '0', 'and writes no lock record');

	$app->query_safe('BEGIN');
	$app->query_safe(
		qq{SELECT status FROM walmon_upsert($held, status => 'ERROR', error_message => 'held by the app')});
	my $held_written;
	($rewritten, $locks, $held_written) = $cycle->();
	cmp_ok($rewritten, '>=', 2,
		'with a row held, the cycle rewrites the others');
	is($locks, $rewritten, 'each of them locked first, the held one not');
	# the rewrite that found the row held was undone; its records are
	# walmon's own, not activity that makes the next cycle write again
	is(sql('SELECT walmon_refresh()'), '0',
		'the next cycle, with no new WAL, writes nothing');
	$app->query_safe('ROLLBACK');
	is($held_written, 'f', 'and the held row is left for later');

	# Two transactions share-lock the row: its xmax is then a multixact,
	# which the read cannot tell from a finished transaction, so the
	# rewrite runs into the lock, waits a moment and is undone.
	my @sharers = map { $node->background_psql('postgres') } 1 .. 2;
	for my $s (@sharers)
	{
		$s->query_safe('BEGIN');
		$s->query_safe(
			qq{SELECT 1 FROM wal_monitor WHERE source_id = $held FOR SHARE});
	}
	($rewritten, $locks, $held_written) = $cycle->();
	cmp_ok($rewritten, '>=', 2,
		'with a row share-locked twice, the cycle rewrites the others');
	is($locks, $rewritten, 'locked first, the share-locked one not');
	is($held_written, 'f', 'and the share-locked row is left for later');
	is(sql('SELECT walmon_refresh()'), '0',
		'the undone rewrite is walmon\'s own WAL: the next cycle writes nothing');
	for my $s (@sharers)
	{
		$s->query_safe('COMMIT');
		$s->quit;
	}
	($rewritten, $locks, $held_written) = $cycle->();
	is($locks, '0', 'once they commit, the cycle rewrites without locking');
	is($held_written, 't', 'the share-locked row too');
}

$app->quit;
$node->stop;
done_testing();
