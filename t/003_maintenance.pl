# The worker's housekeeping (contract section 2, wal_metrics; issue 4):
# samples appear only for monitors that changed since their previous
# sample, samples older than walmon.metrics_retention are pruned (a backlog
# larger than one batch too), and walmon.monitor_retention removes a stale
# monitor row and records nothing else: no history row, no alert, no other
# row touched.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('maintenance');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
walmon.metrics_interval = '1s'
walmon.metrics_retention = '1d'
walmon.monitor_retention = '1h'
});
$node->start;

sub sql { return $node->safe_psql('postgres', shift); }

sub poll
{
	my ($query, $what) = @_;
	ok($node->poll_query_until('postgres', $query), $what);
}

# Wait until the worker has completed n more cycles.
sub wait_cycles
{
	my $n = shift;
	my $target = sql('SELECT cycles FROM walmon_worker_status()') + $n;
	$node->poll_query_until('postgres',
		"SELECT cycles >= $target FROM walmon_worker_status()")
	  or die 'the worker does not cycle';
}

sql(q{
	CREATE EXTENSION walmon;
	SELECT walmon_add_source('changing'), walmon_add_source('steady'),
	       walmon_add_source('stale'), walmon_add_source('bound', 'bound_slot');
	SELECT count(*) FROM walmon_upsert_batch('[
		{"source_id": 1, "wal_lsn": "0/10"}, {"source_id": 2, "wal_lsn": "0/20"},
		{"source_id": 3, "wal_lsn": "0/30"}, {"source_id": 4, "wal_lsn": "0/40"}]');
});

# ---- samples: one for each monitor, then only for the ones that change ----
poll(q{SELECT count(DISTINCT source_id) = 4 FROM wal_metrics},
	'every monitor gets a first sample');
# the worker turns the source bound to a slot that does not exist ERROR,
# with a sample of that change; a cycle that met the batch's rows locked
# does it in the next one, after the first samples
$node->poll_query_until('postgres',
	q{SELECT status = 'ERROR' FROM wal_monitor WHERE source_id = 4})
  or die 'the worker did not turn the slot-bound source ERROR';
my %base = map { split /:/ } split /,/, sql(q{SELECT string_agg(source_id || ':' || n, ',' ORDER BY source_id)
		 FROM (SELECT source_id, count(*) AS n FROM wal_metrics GROUP BY 1) c});
sql(q{SELECT walmon_upsert(1, '0/11')});
poll(qq{SELECT count(*) = $base{1} + 1 FROM wal_metrics WHERE source_id = 1},
	'a changed monitor gets a second sample');
is(sql(q{SELECT wal_lsn FROM wal_metrics WHERE source_id = 1 ORDER BY id DESC LIMIT 1}),
	'0/11', 'the sample holds the new state');
# several sampling intervals later, an upsert that changes nothing but
# updated_at, and the steady monitors still have one sample each
sql(q{SELECT walmon_upsert(2, '0/20', last_wal_received => (SELECT last_wal_received FROM wal_monitor WHERE source_id = 2))});
my $t0 = sql('SELECT now()');
$node->poll_query_until('postgres',
	"SELECT now() > '$t0'::timestamptz + interval '3 seconds'");
wait_cycles(2);
is(sql(q{SELECT string_agg(source_id || ':' || n, ',' ORDER BY source_id)
		 FROM (SELECT source_id, count(*) AS n FROM wal_metrics GROUP BY 1) c}),
	join(',', '1:' . ($base{1} + 1), map { "$_:$base{$_}" } 2 .. 4),
	'unchanged monitors got no new sample');

# ---- pruning: old samples go, in batches, recent ones stay ----
sql(q{INSERT INTO wal_metrics (source_id, sampled_at, status)
	  SELECT 2, now() - interval '2 days' - g * interval '1 second', 'ACTIVE'
	  FROM generate_series(1, 25000) g});
poll(q{SELECT count(*) = 0 FROM wal_metrics WHERE sampled_at < now() - interval '1 day'},
	'25,000 samples older than walmon.metrics_retention are pruned (three batches)');
is(sql(q{SELECT count(*) FROM wal_metrics WHERE source_id = 2}), '1',
	'the recent sample of the same source stays');

# ---- monitor retention ----
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN walmon');
my $history = sql('SELECT count(*) FROM wal_monitor_history');
my $others = sql(q{SELECT string_agg(w::text, E'\n' ORDER BY id) FROM wal_monitor w WHERE source_id IN (1, 2)});
sql(q{UPDATE wal_monitor SET updated_at = now() - interval '2 hours' WHERE source_id IN (3, 4)});
poll(q{SELECT NOT EXISTS (SELECT FROM wal_monitor WHERE source_id = 3)},
	'a monitor row not updated for walmon.monitor_retention is removed');
wait_cycles(2);
is(sql(q{SELECT count(*) FROM wal_monitor WHERE source_id = 4}), '1',
	'a stale row of a slot-bound source stays (the worker checks those itself)');
is(sql('SELECT count(*) FROM wal_monitor_history'), $history, 'no history row recorded');
is(sql(q{SELECT string_agg(w::text, E'\n' ORDER BY id) FROM wal_monitor w WHERE source_id IN (1, 2)}),
	$others, 'no other monitor row touched');
is(sql(q{SELECT count(*) FROM walmon_source WHERE id = 3}), '1', 'the source stays registered');
unlike($listener->query_safe('SELECT 1'), qr/Asynchronous notification/, 'no alert sent');
$listener->quit;

is(sql('SELECT last_error IS NULL FROM walmon_worker_status()'), 't',
	'the worker recorded no error');

$node->stop;
done_testing();
