# The walmon worker when walmon.database does not exist yet, and on a
# standby: it waits quietly, writes nothing during recovery, and starts
# writing after promotion.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'walmondb'
walmon.naptime = '200ms'
});
$primary->start;

sub count_matches
{
	my ($node, $pattern, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @m = ($log =~ /$pattern/g);
	return scalar @m;
}

# ---- walmon.database does not exist yet ----

# the first connection fails once; the next worker waits for the database
$primary->wait_for_log(
	qr/walmon worker is waiting for database "walmondb" to be created/);
my $offset = -s $primary->logfile;
$primary->safe_psql('postgres', 'CREATE DATABASE walmondb');
$primary->wait_for_log(
	qr/walmon worker is waiting for extension "walmon" to be created in database "walmondb"/,
	$offset);
is(count_matches($primary, qr/database "walmondb" does not exist/, 0),
	1, 'the missing database made one failed connection');
is(count_matches($primary, qr/waiting for database/, 0),
	1, 'and one message while waiting for it');

$primary->safe_psql('walmondb', 'CREATE EXTENSION walmon');
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby_slot')");
$primary->poll_query_until('walmondb',
	q{SELECT count(*) = 1 FROM walmon_source WHERE slot_name = 'standby_slot'})
  or die 'the slot was not registered';

# ---- a standby ----

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"primary_slot_name = 'standby_slot'");
$standby->start;

ok( $primary->poll_query_until(
		'walmondb',
		q{SELECT w.status = 'ACTIVE' AND w.inactive_since IS NULL
		  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'standby_slot'}),
	'the standby makes its slot ACTIVE on the primary');

$standby->wait_for_log(qr/walmon worker is waiting for the end of recovery/);

# some activity on the primary, replayed on the standby
$primary->safe_psql('walmondb',
	"SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))"
);
$primary->wait_for_catchup($standby);
$standby->safe_psql('walmondb', "SELECT pg_create_physical_replication_slot('on_standby')");
$primary->safe_psql('walmondb',
	"SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))"
);
$primary->wait_for_catchup($standby);

is( $standby->safe_psql(
		'walmondb',
		'SELECT state, in_recovery, rows_written, cycles FROM walmon_worker_status()'),
	'standby|t|0|0',
	'on the standby the worker waits and writes nothing');
is(count_matches($standby, qr/\] (?:\S+ )?(?:ERROR|FATAL|WARNING):/, 0),
	0, 'and the standby logs no error');
is($standby->safe_psql('walmondb', 'SELECT walmon_refresh()'),
	'0', 'walmon_refresh() on a standby writes nothing');

# ---- promotion ----

my $standby_pid = $standby->safe_psql('walmondb', 'SELECT pid FROM walmon_worker_status()');
$offset = -s $standby->logfile;
$standby->promote;
ok( $standby->poll_query_until(
		'walmondb',
		q{SELECT state = 'running' AND NOT in_recovery AND rows_written > 0
		  FROM walmon_worker_status()}),
	'after promotion the worker writes');
ok( $standby->poll_query_until(
		'walmondb',
		q{SELECT string_agg(s.slot_name || ':' || w.status, ',' ORDER BY s.slot_name)
		         = 'on_standby:IDLE,standby_slot:ERROR'
		  FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id}),
	'its own slot appears, and the primary\'s slot, absent here, is an ERROR');
is( count_matches(
		$standby, qr/\[$standby_pid\] (?:\S+ )?(?:ERROR|FATAL|WARNING):/,
		$offset),
	0,
	'the worker logs no error after promotion either');

# ---- not preloaded: no worker, no status row, walmon_refresh() works ----

$standby->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$standby->restart;
is($standby->safe_psql('walmondb', 'SELECT count(*) FROM walmon_worker_status()'),
	'0', 'without preloading, walmon_worker_status() returns no row');
$standby->safe_psql('walmondb',
	"SELECT pg_create_physical_replication_slot('unpreloaded')");
is($standby->safe_psql('walmondb', 'SELECT walmon_refresh()'),
	'1', 'and walmon_refresh() registers the new slot');
is( $standby->safe_psql(
		'walmondb',
		q{SELECT w.status FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'unpreloaded'}),
	'IDLE',
	'with its row');

# ---- an invalidated slot (back on the old primary) ----

$primary->safe_psql('walmondb',
	"SELECT pg_create_physical_replication_slot('doomed', true)");
ok( $primary->poll_query_until(
		'walmondb',
		q{SELECT w.status = 'IDLE'
		  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'doomed'}),
	'a new slot on the old primary');
$primary->safe_psql('postgres',
	"ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
$primary->reload;
$primary->safe_psql('postgres', 'CREATE TABLE filler (a int)');
for (1 .. 3)
{
	$primary->safe_psql('postgres',
		'INSERT INTO filler VALUES (1); SELECT pg_switch_wal();');
}
$primary->safe_psql('postgres', 'CHECKPOINT');
is($primary->safe_psql('postgres',
		"SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'doomed'"),
	'lost', 'the checkpoint invalidated the slot');
ok( $primary->poll_query_until(
		'walmondb',
		q{SELECT w.status = 'ERROR'
		         AND w.error_message LIKE 'replication slot "doomed" is invalidated: %'
		         AND w.wal_status = 'lost'
		  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
		  WHERE s.slot_name = 'doomed'}),
	'an invalidated slot turns its row to ERROR');

$standby->stop;
$primary->stop;
done_testing();
