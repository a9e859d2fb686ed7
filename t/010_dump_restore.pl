# pg_dump / pg_restore of a database using walmon (contract section 1):
# every row of every walmon table comes back with the same ids, sequences
# continue above the restored ids, and the restore itself records no
# history and sends no notification; the worker then works in the
# restored database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'walmon'
# the worker follows the database restored below (it waits until then)
walmon.database = 'dst'
walmon.naptime = '200ms'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	CREATE EXTENSION walmon;
	SELECT walmon_add_source('orders'), walmon_add_source('billing', 'billing_slot'),
	       walmon_add_source('legacy', id => 100);
	SELECT walmon_upsert(1, '0/10');
	SELECT walmon_upsert(2, '0/20', status => 'idle');
	SELECT walmon_upsert(100, '0/30', replication_lag_bytes => 4096);
	SELECT walmon_set_status(1, 'ERROR', 'replica down');
	SELECT walmon_upsert(1, '0/40');
	SELECT walmon_delete(2);
	SELECT walmon_upsert(2, '0/50');
	INSERT INTO wal_metrics (source_id, wal_lsn, replication_lag_bytes, status)
	VALUES (1, '0/40', 0, 'ACTIVE');
});

# every walmon table and sequence, as text
my $state = q{
	SELECT string_agg(t::text, E'\n' ORDER BY t.id) FROM walmon_source t
	UNION ALL SELECT string_agg(t::text, E'\n' ORDER BY t.id) FROM wal_monitor t
	UNION ALL SELECT string_agg(t::text, E'\n' ORDER BY t.id) FROM wal_monitor_history t
	UNION ALL SELECT string_agg(t::text, E'\n' ORDER BY t.id) FROM wal_metrics t
};
my $before = $node->safe_psql('src', $state);
my $history_rows = $node->safe_psql('src', 'SELECT count(*) FROM wal_monitor_history');
is($history_rows, '6', 'source database has its history');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ],
	'pg_dump');

$node->safe_psql('postgres', 'CREATE DATABASE dst');
my $listener = $node->background_psql('dst');
$listener->query_safe('LISTEN walmon');

$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', $state), $before,
	'every row of every walmon table restored with the same ids and values');

my $heard = $listener->query_safe('SELECT 1');
unlike($heard, qr/Asynchronous notification/, 'the restore sent no notification');

# sequences continue above the restored ids
is($node->safe_psql('dst', "SELECT walmon_add_source('new')"), '101',
	'a new source gets an id above the restored ones');
my $max_monitor = $node->safe_psql('dst', 'SELECT max(id) FROM wal_monitor');
cmp_ok($node->safe_psql('dst', 'SELECT id FROM walmon_upsert(101)'),
	'>', $max_monitor, 'a new monitor row gets an id above the restored ones');
my $max_history = $node->safe_psql('src', 'SELECT max(id) FROM wal_monitor_history');
is($node->safe_psql('dst',
		"SELECT min(id) > $max_history FROM wal_monitor_history WHERE source_id = 101"),
	't', 'new history ids continue above the restored ones');

# the restored database works like the original one
is($node->safe_psql('dst', q{SELECT status FROM walmon_set_status(100, 'error', 'x')}),
	'ERROR', 'status changes work in the restored database');
is($node->safe_psql('dst',
		q{SELECT old_status || '>' || new_status FROM wal_monitor_history ORDER BY id DESC LIMIT 1}),
	'ACTIVE>ERROR', 'and are recorded in its history');

# the worker picks the restored database up and follows a new slot there
$node->poll_query_until('dst', "SELECT state = 'running' FROM walmon_worker_status()")
  or diag($node->safe_psql('dst', 'SELECT * FROM walmon_worker_status()'));
$node->safe_psql('dst', "SELECT pg_create_physical_replication_slot('restored_slot', true)");
ok($node->poll_query_until('dst', q{
	SELECT w.status = 'IDLE' AND w.wal_lsn IS NOT NULL
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	WHERE s.slot_name = 'restored_slot'}),
	'the worker registers and follows a slot in the restored database');
cmp_ok($node->safe_psql('dst', q{SELECT id FROM walmon_source WHERE slot_name = 'restored_slot'}),
	'>', 100, 'with a source id above the restored ones');

$listener->quit;
$node->stop;
done_testing();
