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
# small shared buffers: resident memory counts the shared buffers a backend
# touches, and the peak measurements below are about private memory
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'walmon'\nshared_buffers = '16MB'\n");
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
				PERFORM count(*) FROM walmon_upsert_batch(
					(SELECT jsonb_agg(jsonb_build_object('source_id', g, 'wal_lsn', '0/' || i))
					 FROM generate_series(1, 10) g));
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

# ---- the peak memory of one batch ----
#
# A batch of 100,000 first rows, and one of a single 50 MB element: the
# growth of the backend's peak resident memory (VmHWM) over the call,
# beyond what reading the argument alone costs, must stay under 150 MB
# (resident memory includes up to shared_buffers, 16 MB, of shared pages).
# (walmon 1.0 peaked near 900 MB and 600 MB.)  The arguments are read from
# a table, as an application's prepared statement would pass them.
SKIP:
{
	skip 'no /proc on this system', 2 unless -r "/proc/$$/status";

	$node->safe_psql('postgres', q{
		SELECT count(walmon_add_source('b' || g)) FROM generate_series(1, 100000) g;
		CREATE TABLE args (k text PRIMARY KEY, j jsonb);
		INSERT INTO args SELECT 'rows', jsonb_agg(jsonb_build_object('source_id', s.id, 'wal_lsn', '0/1'))
		FROM walmon_source s WHERE s.name LIKE 'b%';
		INSERT INTO args SELECT 'big', jsonb_build_array(jsonb_build_object('source_id', 1,
			'error_message', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 1638400) g)));
	});

	# the peak memory growth of a fresh backend running one statement, in MB
	sub peak_mb
	{
		my ($query) = @_;
		my $bg = $node->background_psql('postgres');
		# (trimmed: PostgreSQL 16.2's BackgroundPsql can leave a newline
		# around a result)
		my $pid = $bg->query_safe('SELECT pg_backend_pid()') =~ s/\s+//gr;
		my $hwm = sub {
			my $status = slurp_file("/proc/$pid/status");
			$status =~ /^VmHWM:\s+(\d+) kB/m or die "no VmHWM for $pid";
			return $1 / 1024;
		};
		my $before = $hwm->();
		$bg->query_safe($query);
		my $after = $hwm->();
		$bg->quit;
		return $after - $before;
	}

	my $rows_arg = peak_mb(q{SELECT jsonb_array_length(j) FROM args WHERE k = 'rows'});
	my $rows = peak_mb(q{SELECT count(*) FROM args, walmon_upsert_batch(j) WHERE k = 'rows'});
	note sprintf('100,000 first rows: peak +%.0f MB (reading the argument alone: +%.0f MB)',
		$rows, $rows_arg);
	cmp_ok($rows - $rows_arg, '<', 150,
		'a batch of 100,000 first rows peaks under 150 MB');

	my $big_arg = peak_mb(q{SELECT jsonb_array_length(j) FROM args WHERE k = 'big'});
	my $big = peak_mb(q{SELECT count(*) FROM args, walmon_upsert_batch(j) WHERE k = 'big'});
	note sprintf('one 50 MB element: peak +%.0f MB (reading the argument alone: +%.0f MB)',
		$big, $big_arg);
	cmp_ok($big - $big_arg, '<', 150,
		'a batch of one 50 MB element peaks under 150 MB beyond its argument');
}

$node->stop;
done_testing();
