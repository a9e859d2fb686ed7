# No memory leak across calls: one session calls every walmon function many
# times (committing every 1,000 iterations, as an application would), and
# its backend's memory, summed over pg_backend_memory_contexts, must not
# grow between a warmed-up start and the end.
#
# WALMON_MEMCHECK_CALLS sets the number of iterations (default 100,000;
# each runs an upsert, and a status read, a status change, a batch, a
# source add and drop or an export at their own intervals).  The README
# quotes a run with 1,000,000.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $calls = $ENV{WALMON_MEMCHECK_CALLS} // 100000;
my $limit_kb = 64;

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'walmon'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION walmon;
	SELECT walmon_add_source('s' || g) FROM generate_series(1, 10) g;
	CREATE PROCEDURE exercise(n integer) LANGUAGE plpgsql AS $$
	BEGIN
		FOR i IN 1 .. n LOOP
			PERFORM walmon_upsert(1 + i % 10, pg_lsn '0/16B3748' + i,
				replication_lag_bytes => i, status => 'active');
			IF i % 10 = 0 THEN
				PERFORM count(*) FROM walmon_status();
				PERFORM walmon_status(1 + i % 10);
			END IF;
			IF i % 100 = 0 THEN
				PERFORM walmon_set_status(1 + i % 10, 'error', 'e' || i);
				PERFORM count(*) FROM walmon_upsert_batch(
					'[{"source_id": 3, "wal_lsn": "0/10"}, {"source_id": 4}, {"source_id": 3}]');
				PERFORM walmon_prometheus();
			END IF;
			IF i % 1000 = 0 THEN
				PERFORM walmon_drop_source(walmon_add_source('tmp' || i));
				PERFORM walmon_delete(5);
				COMMIT;
			END IF;
		END LOOP;
	END $$;
});

my $sum = 'SELECT sum(total_bytes) FROM pg_backend_memory_contexts';
my $out = $node->safe_psql('postgres', qq{
	CALL exercise(5000);
	$sum;
	CALL exercise($calls);
	$sum;
});
my ($before, $after) = split /\n/, $out;
my $growth_kb = ($after - $before) / 1024;
note sprintf('backend memory after warm-up %.0f kB, after %d iterations %.0f kB (%+.1f kB)',
	$before / 1024, $calls, $after / 1024, $growth_kb);
cmp_ok($growth_kb, '<', $limit_kb,
	"backend memory flat over $calls iterations (grew $growth_kb kB)");

$node->stop;
done_testing();
