# contrib/postgres_exporter/walmon_queries.yaml with the real
# postgres_exporter: started against a throwaway cluster on its unix
# socket, as a pg_monitor member whose search_path holds look-alike
# functions and operators, it exports every monitor row with its labels and
# values as walmon's tables hold them (1.1's numbers included), the
# worker's counters, and the server's WAL rate and disk forecast; every
# alert of contrib/prometheus/walmon_alerts.yml reads series it exports.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use File::Spec;
use Time::HiRes qw(time usleep);
use CPAN::Meta::YAML;

my $exporter_bin = $ENV{WALMON_POSTGRES_EXPORTER};
unless ($exporter_bin)
{
	for my $candidate ('/usr/bin/prometheus-postgres-exporter',
		map { "$_/postgres_exporter" } split /:/, $ENV{PATH})
	{
		if (-x $candidate)
		{
			$exporter_bin = $candidate;
			last;
		}
	}
}
plan skip_all => 'postgres_exporter is not installed (prometheus-postgres-exporter)'
  unless $exporter_bin && -x $exporter_bin;

my $queries =
  File::Spec->rel2abs('contrib/postgres_exporter/walmon_queries.yaml');
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $node = PostgreSQL::Test::Cluster->new('exported');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '100ms'
max_connections = 20
# so that safe_wal_size is reported
max_slot_wal_keep_size = '1GB'
# nothing but the test writes: the rows stand still between scrapes
autovacuum = off
});
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sub wait_cycles
{
	my ($n) = @_;
	my $c = sql('SELECT cycles FROM walmon_worker_status()');
	$node->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_worker_status()")
	  or die 'the walmon worker made no progress';
}

# ---- what is exported ----

sql('CREATE EXTENSION walmon');
$node->wait_for_log(qr/walmon worker is refreshing replication slots/);

sql("SELECT pg_create_physical_replication_slot('standby_1', true)");
sql("SELECT pg_create_logical_replication_slot('cdc_slot', 'test_decoding')");
# registered before the applications' sources take their own ids (which
# move the sequence the worker takes its ids from)
$node->poll_query_until('postgres',
	q{SELECT count(*) = 2 FROM walmon_source WHERE slot_name IN ('standby_1', 'cdc_slot')})
  or die 'the worker did not register the slots';
# sources of applications: one that reports a lag, in ERROR, with a name
# that needs escaping in a label; one that reports only a status (no lag,
# no WAL time: NaN); one without a monitor row (no series)
sql(qq{SELECT walmon_add_source(E'orders "db" \\\\ ~ \\u00e9\\nline 2', id => 41)});
sql(q{SELECT walmon_upsert(41, wal_lsn => '0/1A2B3C4D', replication_lag_bytes => 2048)});
sql(q{SELECT walmon_set_status(41, 'ERROR', 'replica unreachable')});
sql(q{SELECT walmon_add_source('status-only', id => 42)});
sql(q{SELECT walmon_upsert(42, status => 'idle')});
sql(q{SELECT walmon_add_source('no-row', id => 43)});
# a source of a remote server (which the worker leaves alone), whose name
# needs escaping too
sql(q{BEGIN;
SELECT walmon_add_source('far', 'far_slot', id => 44);
UPDATE walmon_source SET server = E'east "1" \\\\' WHERE id = 44;
COMMIT;});
sql(q{SELECT walmon_upsert(44, wal_lsn => '0/100', replication_lag_bytes => 7)});
# foreign WAL: the slots lag
sql("SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))");
$node->poll_query_until(
	'postgres', q{
	SELECT count(*) = 2 AND bool_and(w.replication_lag_bytes > 0
	                                 AND w.replication_lag_bytes = st.wal_end - w.wal_lsn)
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id,
	     walmon_worker_status() st
	WHERE s.slot_name IS NOT NULL AND s.server IS NULL})
  or die 'the worker did not follow the slots';
is(sql("SELECT name FROM walmon_source WHERE id = 41"),
	"orders \"db\" \\ ~ \x{c3}\x{a9}\nline 2", 'the odd name is stored as meant');
is(sql("SELECT server FROM walmon_source WHERE id = 44"),
	'east "1" \\', 'and the odd server name');
# the slots' 1.1 numbers: a safe size (max_slot_wal_keep_size), a
# forecast once there is a WAL rate (more WAL, a second later: a rate needs
# a second of WAL history), the logical slot's catalog_xmin
usleep(1_100_000);
sql("SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))");
$node->poll_query_until(
	'postgres', q{
	SELECT bool_and(w.seconds_to_invalidation IS NOT NULL)
	       AND bool_or(w.catalog_xmin_age IS NOT NULL)
	       AND bool_or(w.replication_lag_seconds > 0)
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	WHERE s.slot_name IS NOT NULL AND s.server IS NULL})
  or die 'the worker computed no forecast';

# ---- the exporter's role: pg_monitor, and a hostile search_path ----

sql(q{
CREATE ROLE walmon_exporter LOGIN IN ROLE pg_monitor;
-- Debian's README.Debian suggests this search_path for the exporter's role;
-- here the schema holds traps for unqualified SQL
CREATE SCHEMA prometheus;
GRANT USAGE ON SCHEMA prometheus TO walmon_exporter;
CREATE FUNCTION prometheus.now() RETURNS timestamptz LANGUAGE sql
  AS $$SELECT '2000-01-01 00:00:00+00'::timestamptz$$;
CREATE FUNCTION prometheus.always(integer, integer) RETURNS boolean
  LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR prometheus.= (LEFTARG = integer, RIGHTARG = integer,
  FUNCTION = prometheus.always);
CREATE FUNCTION prometheus.always(text, text) RETURNS boolean
  LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR prometheus.= (LEFTARG = text, RIGHTARG = text,
  FUNCTION = prometheus.always);
CREATE TABLE prometheus.wal_monitor (LIKE public.wal_monitor);
GRANT SELECT ON prometheus.wal_monitor TO walmon_exporter;
ALTER ROLE walmon_exporter SET search_path = prometheus, pg_catalog;
});
# control: the traps do fire on unqualified SQL
is( $node->safe_psql(
		'postgres',
		q{SELECT 1 = 2, 'a' = 'b', now() < '2001-01-01', (SELECT count(*) FROM wal_monitor)},
		extra_params => [ '-U', 'walmon_exporter' ]),
	't|t|t|0',
	'the exporter role\'s search_path redirects unqualified SQL');

# ---- the exporter ----

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $url = "http://127.0.0.1:$port/metrics";
my $dsn = 'host=' . $node->host . ' port=' . $node->port
  . ' user=walmon_exporter dbname=postgres sslmode=disable';
my ($exp_out, $exp_err) = ('', '');
my $exporter;
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	$exporter = IPC::Run::start(
		[
			$exporter_bin,
			"--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$queries",
			'--disable-default-metrics',
			'--disable-settings-metrics',
			'--no-collector.database',
			'--no-collector.bgwriter',
		],
		'>', \$exp_out, '2>', \$exp_err);
}

my $http = HTTP::Tiny->new(timeout => 30);

# the processes this test started, whatever way it ends
my $recvlogical;
END
{
	# (killing sets $?, which is the test's exit status here)
	local $?;
	for my $h ($exporter, $recvlogical)
	{
		$h->kill_kill if $h && $h->pumpable;
	}
}

# one scrape: ({ name => [ [ {labels}, value ], ... ] }, the text), or
# (undef, the error)
sub scrape
{
	my $deadline = time + $timeout;
	my $res;
	while (1)
	{
		$res = $http->get($url);
		last if $res->{success};
		# 599: no connection yet, while the exporter starts
		return (undef, "$res->{status} $res->{content}\n$exp_err")
		  if $res->{status} != 599 || time > $deadline || !$exporter->pumpable;
		usleep(100_000);
	}
	my %m;
	for my $line (split /\n/, $res->{content})
	{
		next if $line =~ /^#/ || $line eq '';
		my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/
		  or die "unparsable line: $line";
		my %l;
		while (($labels // '') =~ /\G,?([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/gc)
		{
			my ($k, $v) = ($1, $2);
			$v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
			$l{$k} = $v;
		}
		push @{ $m{$name} }, [ \%l, $value ];
	}
	return (\%m, $res->{content});
}

# the series of a metric whose labels include these
sub series
{
	my ($m, $name, %want) = @_;
	return grep {
		my $l = $_->[0];
		!grep { !defined $l->{$_} || $l->{$_} ne $want{$_} } keys %want
	} @{ $m->{$name} // [] };
}

# the value of the one series of a metric whose labels include these
sub value
{
	my @s = series(@_);
	return @s == 1 ? $s[0][1] : undef;
}

# walmon's state, as the exporter should show it, read in one statement:
# a digest of everything a scrape reads (to know the state did not change
# around a scrape), and per source the expected values
sub walmon_state
{
	my $rows = sql(
		q{SELECT s.id, w.replication_lag_bytes, w.retained_wal_bytes,
		         w.safe_wal_size, w.status,
		         extract(epoch FROM now() - w.last_wal_received),
		         coalesce(s.slot_name, ''), coalesce(s.server, ''),
		         CASE WHEN w.replication_lag_seconds > 0
		              THEN w.replication_lag_seconds
		                   + extract(epoch FROM now() - w.updated_at)
		              ELSE w.replication_lag_seconds END,
		         CASE WHEN s.slot_name IS NULL OR s.server IS NOT NULL
		              THEN w.seconds_to_invalidation
		              WHEN w.safe_wal_size <= 0 THEN 0
		              WHEN ws.wal_rate_bytes_per_second > 0
		              THEN w.safe_wal_size / ws.wal_rate_bytes_per_second END,
		         w.xmin_age, w.catalog_xmin_age
		  FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id,
		       walmon_worker_status() ws
		  ORDER BY s.id});
	my %by_id;
	for my $r (split /\n/, $rows)
	{
		my @f = split /\|/, $r, -1;
		$by_id{ $f[0] } = {
			lag => $f[1],
			retained => $f[2],
			safe => $f[3],
			status => $f[4],
			age => $f[5],
			slot => $f[6],
			server => $f[7],
			lag_seconds => $f[8],
			to_invalidation => $f[9],
			xmin_age => $f[10],
			catalog_xmin_age => $f[11]
		};
	}
	my $digest = sql(
		q{SELECT md5(string_agg(w::text, ',' ORDER BY w.id)) || ':' || st.wal_end
		         || ':' || st.rows_written || ':' || coalesce(st.last_error_at::text, '')
		         || ':' || st.errors || ':' || st.wal_trail_bytes
		  FROM wal_monitor w, walmon_worker_status() st
		  GROUP BY st.wal_end, st.rows_written, st.last_error_at, st.errors, st.wal_trail_bytes});
	my $worker = sql(
		q{SELECT cycles, rows_written, extract(epoch FROM last_cycle_end),
		         coalesce(extract(epoch FROM last_error_at)::text, 'NaN'),
		         wal_end - '0/0', database, errors, wal_trail_bytes,
		         wal_rate_bytes_per_second, wal_rate_15min_bytes_per_second,
		         pg_wal_free_bytes, seconds_to_disk_full
		  FROM walmon_worker_status()});
	my @w = split /\|/, $worker, -1;
	return ($digest, \%by_id,
		{ cycles => $w[0], rows => $w[1], cycle_end => $w[2],
		  error_at => $w[3], wal_end => $w[4], database => $w[5],
		  errors => $w[6], trail => $w[7], rate => $w[8], rate_15min => $w[9],
		  free => $w[10], disk_full => $w[11] });
}

sub is_num
{
	my ($got, $want, $what) = @_;
	if ($want eq '' || $want eq 'NaN')
	{
		is($got, 'NaN', "$what is NaN");
	}
	else
	{
		ok(defined $got && $got == $want, "$what") or diag("got " . ($got // 'none') . ", want $want");
	}
}

# Scrape while walmon's state stands still (the same before and after), and
# compare every walmon series with walmon's tables.
sub check_scrape
{
	my ($label) = @_;
	my ($m, $text, $before, $after, $state, $worker0, $worker1, $name_of);
	for my $attempt (1 .. 50)
	{
		my ($d0, $s0, $w0) = walmon_state();
		($m, $text) = scrape();
		if (!$m)
		{
			fail("$label: the exporter answered");
			diag($text);
			return;
		}
		my ($d1, $s1, $w1) = walmon_state();
		($before, $after, $state, $worker0, $worker1) = ($s0, $s1, $s1, $w0, $w1);
		# the worker's E and trail too: they move without a table write
		# (a running-transactions record, say), and the WAL rate with E
		last if $d0 eq $d1 && $w0->{wal_end} eq $w1->{wal_end} && $w0->{trail} eq $w1->{trail};
		note("$label: walmon wrote, or its E moved, during scrape $attempt, again");
	}
	$name_of = { map { split /\|/, $_, 2 } split /\n(?=\d+\|)/,
		sql(q{SELECT id || '|' || name FROM walmon_source ORDER BY id}) };

	is($m->{pg_up}[0][1], '1', "$label: the exporter reached the server");
	is($m->{pg_exporter_last_scrape_error}[0][1],
		'0', "$label: its last scrape had no error");
	my @load = series($m, 'pg_exporter_user_queries_load_error', filename => $queries);
	is(scalar(@load), 1, "$label: the queries file was loaded");
	is($load[0][1], '0', "$label: without error");

	note("$label: the walmon series:\n" . join("\n", grep { /^walmon_/ } split /\n/, $text));

	my @ids = sort { $a <=> $b } keys %$state;
	my $server = $node->host . ':' . $node->port;
	for my $metric (qw(walmon_replication_lag_bytes walmon_replication_lag_seconds
		walmon_retained_wal_bytes walmon_safe_wal_size_bytes
		walmon_seconds_to_invalidation walmon_xmin_age_transactions
		walmon_catalog_xmin_age_transactions walmon_seconds_since_last_wal
		walmon_status_code))
	{
		is( join(',', sort { $a <=> $b } map { $_->[0]{source_id} } @{ $m->{$metric} // [] }),
			join(',', @ids),
			"$label: $metric has one series per source with a monitor row");
	}
	for my $id (@ids)
	{
		my $want = $state->{$id};
		my %labels = (source_id => $id, source => $name_of->{$id}, slot => $want->{slot},
			source_server => $want->{server});
		my ($lag) = series($m, 'walmon_replication_lag_bytes', %labels);
		ok($lag, "$label: source $id has its labels (source_id, source, slot, source_server)")
		  or diag(explain($m->{walmon_replication_lag_bytes}));
		next unless $lag;
		is( join(',', sort keys %{ $lag->[0] }),
			'server,slot,source,source_id,source_server',
			"$label: and no other label than the exporter's server");
		is($lag->[0]{server}, $server, "$label: server is the exporter's fingerprint");
		is_num($lag->[1], $want->{lag}, "$label: source $id: replication_lag_bytes");
		is_num(value($m, 'walmon_retained_wal_bytes', %labels),
			$want->{retained}, "$label: source $id: retained_wal_bytes");
		is_num(value($m, 'walmon_safe_wal_size_bytes', %labels),
			$want->{safe}, "$label: source $id: safe_wal_size");
		# a local slot's as of now, at the WAL rate of the moment, which
		# slides with the clock and not always one way (a sample leaving
		# the rate's window can move it either way): between the readings
		# before and after, give or take a tenth.  What is checked here is
		# that the exporter carries walmon's number; the forecast's own
		# accuracy is t/085's.
		my $fc = value($m, 'walmon_seconds_to_invalidation', %labels) // 'none';
		my ($fc0, $fc1) = ($before->{$id}{to_invalidation}, $after->{$id}{to_invalidation});
		if ($fc0 eq '' || $fc1 eq '')
		{
			is($fc, 'NaN', "$label: source $id: seconds_to_invalidation is NaN");
		}
		else
		{
			my ($lo, $hi) = $fc0 < $fc1 ? ($fc0, $fc1) : ($fc1, $fc0);
			ok( $fc ne 'none' && $fc ne 'NaN'
				  && $fc >= $lo * 0.9 - 1e-6 && $fc <= $hi * 1.1 + 1e-6,
				"$label: source $id: seconds_to_invalidation between the readings before and after the scrape"
			) or diag("got $fc, want $fc0 .. $fc1");
		}
		is_num(value($m, 'walmon_xmin_age_transactions', %labels),
			$want->{xmin_age}, "$label: source $id: xmin_age");
		is_num(value($m, 'walmon_catalog_xmin_age_transactions', %labels),
			$want->{catalog_xmin_age}, "$label: source $id: catalog_xmin_age");
		# as of now: between the readings before and after the scrape
		my $lag_s = value($m, 'walmon_replication_lag_seconds', %labels) // 'none';
		if ($want->{lag_seconds} eq '')
		{
			is($lag_s, 'NaN', "$label: source $id: replication_lag_seconds is NaN");
		}
		else
		{
			ok( $lag_s ne 'NaN'
				  && $lag_s >= $before->{$id}{lag_seconds} - 1e-6
				  && $lag_s <= $after->{$id}{lag_seconds} + 1e-6,
				"$label: source $id: replication_lag_seconds between the readings before and after the scrape"
			) or diag("got $lag_s, want $before->{$id}{lag_seconds} .. $after->{$id}{lag_seconds}");
		}
		my $age = value($m, 'walmon_seconds_since_last_wal', %labels) // 'none';
		if ($want->{age} eq '')
		{
			is($age, 'NaN', "$label: source $id: seconds_since_last_wal is NaN");
		}
		else
		{
			ok( $age >= $before->{$id}{age} - 1e-6 && $age <= $after->{$id}{age} + 1e-6,
				"$label: source $id: seconds_since_last_wal between the readings before and after the scrape"
			) or diag("got $age, want $before->{$id}{age} .. $after->{$id}{age}");
		}
		my %code = (ACTIVE => 0, IDLE => 1, ERROR => 2);
		is(value($m, 'walmon_status_code', %labels),
			$code{ $want->{status} }, "$label: source $id: status_code ($want->{status})");
		is( join(',',
				map { $_->[0]{status} . '=' . $_->[1] }
				  sort { $a->[0]{status} cmp $b->[0]{status} }
				  series($m, 'walmon_status_current', %labels)),
			join(',', map { "$_=" . ($_ eq $want->{status} ? 1 : 0) } qw(ACTIVE ERROR IDLE)),
			"$label: source $id: walmon_status_current, one series per status");
	}

	# the worker
	my %worker = map { $_ => value($m, "walmon_worker_$_", database => $worker1->{database}) }
	  qw(up in_recovery cycles_total rows_written_total errors_total
	  last_cycle_timestamp_seconds last_error_timestamp_seconds wal_end_bytes
	  wal_trail_bytes);
	is($worker{up}, '1', "$label: walmon_worker_up is 1");
	is($worker{in_recovery}, '0', "$label: walmon_worker_in_recovery is 0");
	ok( $worker{cycles_total} >= $worker0->{cycles}
		  && $worker{cycles_total} <= $worker1->{cycles},
		"$label: walmon_worker_cycles_total between the readings before and after");
	is_num($worker{rows_written_total}, $worker1->{rows}, "$label: walmon_worker_rows_written_total");
	ok( $worker{last_cycle_timestamp_seconds} >= $worker0->{cycle_end} - 1e-6
		  && $worker{last_cycle_timestamp_seconds} <= $worker1->{cycle_end} + 1e-6,
		"$label: walmon_worker_last_cycle_timestamp_seconds between the readings before and after");
	is_num($worker{last_error_timestamp_seconds}, $worker1->{error_at},
		"$label: walmon_worker_last_error_timestamp_seconds");
	is_num($worker{wal_end_bytes}, $worker1->{wal_end}, "$label: walmon_worker_wal_end_bytes");
	is_num($worker{errors_total}, $worker1->{errors}, "$label: walmon_worker_errors_total");
	is_num($worker{wal_trail_bytes}, $worker1->{trail}, "$label: walmon_worker_wal_trail_bytes");

	# the server's numbers, read at the scrape: the rate slides with the
	# clock and the free space moves with everything on the disk
	my %server = map { $_ => value($m, "walmon_$_") }
	  qw(wal_rate_bytes_per_second wal_rate_15min_bytes_per_second
	  pg_wal_free_bytes seconds_to_disk_full);
	for my $rate (
		[ 'wal_rate_bytes_per_second', 'rate' ],
		[ 'wal_rate_15min_bytes_per_second', 'rate_15min' ])
	{
		my ($name, $key) = @$rate;
		my $got = $server{$name} // 'none';
		if ($worker0->{$key} eq '' && $worker1->{$key} eq '')
		{
			is($got, 'NaN', "$label: walmon_$name is NaN without WAL history");
		}
		else
		{
			ok($got ne 'none' && $got ne 'NaN' && $got >= 0,
				"$label: walmon_$name is a rate") or diag("got $got");
		}
	}
	my $free = $server{pg_wal_free_bytes} // 'none';
	ok( $free ne 'NaN' && $free > 0
		  && abs($free - $worker1->{free}) <= 0.05 * $worker1->{free},
		"$label: walmon_pg_wal_free_bytes is about the free space of pg_wal")
	  or diag("got $free, read $worker1->{free}");
	my $full = $server{seconds_to_disk_full} // 'none';
	if ($server{wal_rate_bytes_per_second} && $server{wal_rate_bytes_per_second} ne 'NaN'
		&& $server{wal_rate_bytes_per_second} > 0)
	{
		ok( $full ne 'NaN'
			  && abs($full * $server{wal_rate_bytes_per_second} - $free) <= 0.05 * $free,
			"$label: walmon_seconds_to_disk_full is the free space at the rate")
		  or diag("got $full, rate $server{wal_rate_bytes_per_second}, free $free");
	}
	else
	{
		is($full, 'NaN', "$label: walmon_seconds_to_disk_full is NaN without a rate");
	}

	# every walmon series is one of the above
	my @unknown = grep {
		/^walmon_/
		  && !/^walmon_(replication_lag_bytes|replication_lag_seconds|retained_wal_bytes|safe_wal_size_bytes|seconds_to_invalidation|xmin_age_transactions|catalog_xmin_age_transactions|seconds_since_last_wal|status_code|status_current|worker_\w+|wal_rate_bytes_per_second|wal_rate_15min_bytes_per_second|pg_wal_free_bytes|seconds_to_disk_full)$/
	} keys %$m;
	is("@unknown", '', "$label: no other walmon metric");

	# promtool's lint of the walmon metrics (the exporter's own are not ours)
	if (my $promtool = (grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH})[0])
	{
		my $ours = join '', map { "$_\n" } grep { /^(# (HELP|TYPE) )?walmon_/ } split /\n/, $text;
		my ($out, $err) = ('', '');
		IPC::Run::run([ $promtool, 'check', 'metrics' ], '<', \$ours, '>', \$out, '2>', \$err);
		is("$out$err", '', "$label: promtool check metrics finds nothing to say");
	}
	return $m;
}

my $m = check_scrape('first scrape') || {};
is( scalar(series($m, 'walmon_replication_lag_bytes', source_id => 43)),
	0, 'a source without a monitor row has no series');

# Every alert of contrib/prometheus/walmon_alerts.yml reads a metric the
# exporter exports, and every metric it reads is the exporter's or
# walmon_prometheus()'s (the status has other names in each): an alert
# whose metric is misspelt would never fire.
{
	my $yaml = CPAN::Meta::YAML->read(
		File::Spec->rel2abs('contrib/prometheus/walmon_alerts.yml'))
	  or die CPAN::Meta::YAML->errstr;
	my %function_family = map { $_ => 1 }
	  sql(q{SELECT walmon_prometheus()}) =~ /^# TYPE (\w+) /mg;
	my $nalerts = 0;
	for my $rule (map { @{ $_->{rules} } } @{ $yaml->[0]{groups} })
	{
		next unless $rule->{alert};
		$nalerts++;
		my %reads = map { $_ => 1 } $rule->{expr} =~ /\b(walmon_\w+)/g;
		my @ours = grep { $m->{$_} } sort keys %reads;
		ok(@ours, "alert $rule->{alert} reads a series of the exporter")
		  or diag("it reads " . join(', ', sort keys %reads));
		my @unknown = grep { !$m->{$_} && !$function_family{$_} } sort keys %reads;
		is("@unknown", '', "alert $rule->{alert} reads no metric nobody exports");
	}
	ok($nalerts > 0, 'the alerts file has alerts');
}

# ---- the state changes: the next scrape follows ----

# a failing cycle (its time is exported), a status change, a consumer
sql(q{CREATE FUNCTION regress_boom() RETURNS trigger LANGUAGE plpgsql
	  AS $$BEGIN RAISE EXCEPTION 'walmon test failure'; END$$});
sql(q{CREATE TRIGGER regress_boom BEFORE UPDATE ON wal_monitor
	  FOR EACH ROW EXECUTE FUNCTION regress_boom()});
sql("SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 1000))");
$node->poll_query_until('postgres',
	q{SELECT last_error_at IS NOT NULL FROM walmon_worker_status()})
  or die 'the cycle did not fail';
sql('DROP TRIGGER regress_boom ON wal_monitor');
sql(q{SELECT walmon_set_status(41, 'active')});
my ($recv_out, $recv_err) = ('', '');
$recvlogical = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $node->connstr('postgres'),
		'-S', 'cdc_slot', '--start', '-f', '/dev/null', '-F', '0', '-s', '1', '-n'
	],
	'>', \$recv_out, '2>', \$recv_err);
$node->poll_query_until(
	'postgres', q{
	SELECT w.status = 'ACTIVE' AND w.replication_lag_bytes = 0
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	WHERE s.slot_name = 'cdc_slot'})
  or die 'the consumer did not catch up';
wait_cycles(2);

$m = check_scrape('second scrape') || {};
is(value($m, 'walmon_status_code', source_id => 41), '0',
	'the application source is ACTIVE in the next scrape');
isnt(value($m, 'walmon_worker_last_error_timestamp_seconds') // 'NaN', 'NaN',
	'and the failed cycle has its time');

# a status a superuser set to NULL: no status code, and no status current
sql(q{ALTER TABLE wal_monitor ALTER COLUMN status DROP NOT NULL;
ALTER TABLE wal_monitor DISABLE TRIGGER walmon_history_update;
UPDATE wal_monitor SET status = NULL WHERE source_id = 42;
ALTER TABLE wal_monitor ENABLE TRIGGER walmon_history_update;});
($m) = scrape();
$m ||= {};
is(value($m, 'walmon_status_code', source_id => 42), 'NaN',
	'a NULL status has no status code');
is( join(',',
		map { $_->[0]{status} . '=' . $_->[1] }
		  sort { $a->[0]{status} cmp $b->[0]{status} }
		  series($m, 'walmon_status_current', source_id => 42)),
	'ACTIVE=0,ERROR=0,IDLE=0',
	'and is none of the three statuses');

$recvlogical->kill_kill;
$exporter->kill_kill;
note("exporter's output:\n$exp_out$exp_err");
$node->stop;
done_testing();
