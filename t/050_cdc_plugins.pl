# The walmon worker following logical slots that real consumers use:
# wal2json and Debezium's decoderbufs through pg_recvlogical, and pgoutput
# through a subscriber cluster.  For each: the row turns ACTIVE with the
# consumer; while the publisher writes, wal_lsn never passes the slot's
# confirmed_flush_lsn and the lag is never negative; once the writes stop
# and the consumer confirmed, wal_lsn is min(confirmed_flush_lsn, wal_end)
# and the lag 0; without the consumer the row is IDLE and wal_lsn is the
# slot's position exactly.  The subscription's initial copy leaves no
# tablesync slot behind in walmon.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $naptime_ms = 100;

# seconds a condition may take to come true (the framework's default, 180 s
# unless PG_TEST_TIMEOUT_DEFAULT says otherwise)
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $pub = PostgreSQL::Test::Cluster->new('publisher');

# the plugins installed (Debian: postgresql-15-wal2json, postgresql-15-decoderbufs)
# (PostgreSQL 14's test modules have no config_data: the pg_config on the
# PATH, which the TAP suite puts first, is the server's)
my $pkglibdir =
  $pub->can('config_data')
  ? $pub->config_data('--pkglibdir')
  : `pg_config --pkglibdir`;
chomp $pkglibdir;
my %installed = map { $_ => -f "$pkglibdir/$_.so" } qw(wal2json decoderbufs);
# decoderbufs' README asks for it to be preloaded (its _PG_init does
# nothing; Debezium's users follow the README)
my $preload = $installed{decoderbufs} ? 'walmon, decoderbufs' : 'walmon';

$pub->init(allows_streaming => 'logical');
$pub->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = '$preload'
walmon.database = 'postgres'
walmon.naptime = '${naptime_ms}ms'
max_replication_slots = 20
max_wal_senders = 20
max_connections = 40
shared_buffers = '16MB'
# so that safe_wal_size is reported
max_slot_wal_keep_size = '1GB'
});
$pub->start;

# ---- helpers ----

# the session the test writes and samples through
my $writer;

sub sql
{
	my ($query) = @_;
	return $pub->safe_psql('postgres', $query);
}

sub poll
{
	my ($query, $what) = @_;
	ok($pub->poll_query_until('postgres', $query), $what);
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
	$pub->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_worker_status()")
	  or die 'the walmon worker made no progress';
}

# wait until a file contains a string
sub wait_for_file
{
	my ($file, $needle) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1 if -f $file && index(slurp_file($file), $needle) >= 0;
		usleep(100_000);
	}
	return 0;
}

# The join every check below reads: a slot's monitor row, the slot as
# PostgreSQL reports it, its walsender, and the worker's WAL end E, all in
# one statement (one snapshot of the views).
sub slot_join
{
	my ($slot) = @_;
	return qq{
	  FROM wal_monitor w
	  JOIN walmon_source s ON s.id = w.source_id
	  JOIN pg_replication_slots r ON r.slot_name = s.slot_name
	  LEFT JOIN pg_stat_replication sr ON sr.pid = r.active_pid,
	  walmon_worker_status() st
	  WHERE s.slot_name = '$slot'};
}

# numbers for a failure message (and for the report)
sub slot_numbers
{
	my ($slot) = @_;
	return sql(
		qq{SELECT 'status=' || w.status || ' active=' || r.active
		  || ' wal_lsn=' || w.wal_lsn || ' confirmed_flush=' || r.confirmed_flush_lsn
		  || ' restart=' || r.restart_lsn || ' wal_end=' || st.wal_end
		  || ' insert=' || pg_current_wal_insert_lsn()
		  || ' lag=' || w.replication_lag_bytes
		  || ' view_lag=' || (pg_current_wal_lsn() - r.confirmed_flush_lsn)
		  || ' retained=' || coalesce(w.retained_wal_bytes::text, 'NULL')
		  || ' view_retained=' || (pg_current_wal_lsn() - r.restart_lsn)
		  || ' safe_wal_size=' || coalesce(w.safe_wal_size::text, 'NULL')
		  || ' view_safe_wal_size=' || coalesce(r.safe_wal_size::text, 'NULL')
		  || ' sr.flush=' || coalesce(sr.flush_lsn::text, 'NULL')
		  } . slot_join($slot));
}

# pg_recvlogical's standard error, but for what it says when it is stopped
# (PostgreSQL 15 reports the end of the stream it asked for as unexpected)
# and the plugins' own chatter
sub recvlogical_errors
{
	my ($name, $stderr) = @_;
	my @lines = grep {
		!/^pg_recvlogical: error: unexpected termination of replication stream: $/
		  && !/^INFO:  Exiting startup callback$/
	} split /\n/, $stderr;
	is(join("\n", @lines), '', "$name: pg_recvlogical reported no error");
}

# The end of a WAL record written after the test's last write: a
# non-transactional logical message, which is foreign WAL to walmon.  Its
# end is known exactly, where a later pg_current_wal_insert_lsn() could
# include walmon's own next write, which E rightly never covers.
sub foreign_wal_end
{
	return bg_query($writer,
		"SELECT pg_logical_emit_message(false, 'walmon-test', 'end')");
}

# A query's result in a background session, trimmed: PostgreSQL 16.2's
# BackgroundPsql can leave a newline around a result (later minors do not).
sub bg_query
{
	my ($session, $query) = @_;
	return $session->query_safe($query) =~ s/^\s+|\s+\z//gr;
}

# ---- setup ----

# PostgreSQL 15.19 and later (CVE-2026-6471) load only the output plugins
# that output_plugin_libraries names: pgoutput and test_decoding by default
if (sql(q{SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'}) eq '1')
{
	# (a list: one quoted string would be one library named with commas)
	sql(q{ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json, decoderbufs});
	$pub->reload;
	$pub->poll_query_until('postgres',
		q{SELECT current_setting('output_plugin_libraries') = 'pgoutput, test_decoding, wal2json, decoderbufs'})
	  or die 'output_plugin_libraries was not reloaded';
}

sql('CREATE EXTENSION walmon');
$pub->wait_for_log(qr/walmon worker is refreshing replication slots/);
sql('CREATE TABLE cdc_rows (id bigserial PRIMARY KEY, payload text NOT NULL)');
# the subscription's initial copy: enough rows that the copy is real
sql(q{INSERT INTO cdc_rows (payload)
	  SELECT 'initial-' || g FROM generate_series(1, 20000) g});

$writer = $pub->background_psql('postgres');

# Follow one slot through a consumer's life.  start and stop run the
# consumer; output(tag) says whether the consumer received the row whose
# payload is tag.
sub follow
{
	my (%c) = @_;
	my $slot = $c{slot};
	my $name = $c{name};

	# the slot is registered and IDLE before its consumer starts
	poll(
		qq{SELECT w.status = 'IDLE' AND w.inactive_since IS NOT NULL
		   } . slot_join($slot),
		"$name: slot $slot is registered and IDLE without a consumer");

	$c{start}->();
	poll(
		qq{SELECT w.status = 'ACTIVE' AND w.inactive_since IS NULL
		          AND r.active AND sr.pid IS NOT NULL} . slot_join($slot),
		"$name: the consumer makes the row ACTIVE");

	# ---- the publisher writes while the consumer follows ----

	# Every sample is one statement over the row, the views and the WAL
	# position.  The row is the worker's last cycle's, so it may be older
	# than the views; these must hold whatever its age:
	#   - the row stays ACTIVE;
	#   - wal_lsn is never past the slot's confirmed_flush_lsn, nor past
	#     the flush position the walsender was told (pg_stat_replication);
	#   - the lag is never negative, and wal_lsn + lag (the WAL end it was
	#     measured against) is never past the server's WAL position;
	#   - wal_lsn never passes the worker's WAL end.
	my $sample = qq{
	  SELECT w.status = 'ACTIVE' AND r.active,
	         w.wal_lsn <= r.confirmed_flush_lsn,
	         sr.flush_lsn IS NULL OR w.wal_lsn <= sr.flush_lsn,
	         w.replication_lag_bytes >= 0,
	         w.wal_lsn + w.replication_lag_bytes <= pg_current_wal_insert_lsn(),
	         w.wal_lsn <= st.wal_end,
	         w.replication_lag_bytes,
	         w.wal_lsn,
	         w.replication_lag_bytes = st.wal_end - w.wal_lsn,
	         w.wal_lsn = r.confirmed_flush_lsn,
	         (pg_current_wal_insert_lsn() - r.confirmed_flush_lsn)
	           - w.replication_lag_bytes
	  } . slot_join($slot);
	my @names = (
		'the row stays ACTIVE',
		'wal_lsn never passes confirmed_flush_lsn',
		"wal_lsn never passes pg_stat_replication's flush_lsn",
		'the lag is never negative',
		'wal_lsn + lag never passes the WAL insert position',
		'wal_lsn never passes walmon_worker_status().wal_end');
	my @violations = (0) x @names;
	my %lsns;
	my ($samples, $lagging, $max_lag, $exact, $at_slot, $max_behind) =
	  (0, 0, 0, 0, 0, 0);
	my $first_violation = '';
	my $started = time;
	my $batch = 0;

	while (1)
	{
		$batch++;
		$writer->query_safe(
			qq{INSERT INTO cdc_rows (payload)
			   SELECT '$name-load-$batch-' || g FROM generate_series(1, 200) g});
		my @v = split /\|/, bg_query($writer, $sample);
		$samples++;
		for my $i (0 .. $#names)
		{
			next if $v[$i] eq 't';
			$violations[$i]++;
			$first_violation ||= "sample $samples: $names[$i]: " . slot_numbers($slot);
		}
		$lagging++ if $v[6] > 0;
		$max_lag = $v[6] if $v[6] > $max_lag;
		$lsns{ $v[7] } = 1;
		$exact++ if $v[8] eq 't';
		$at_slot++ if $v[9] eq 't';
		$max_behind = $v[10] if $v[10] > $max_behind;

		# long enough for several confirmations of the consumer (it
		# reports every second), and until the row showed the consumer
		# behind and then following
		last
		  if time - $started >= 4
		  && $lagging > 0
		  && keys %lsns >= 3;
		if (time - $started > $timeout)
		{
			diag("$name: no lag seen or wal_lsn did not move: " . slot_numbers($slot));
			last;
		}
	}
	for my $i (0 .. $#names)
	{
		is($violations[$i], 0, "$name: under load, $names[$i] ($samples samples)");
	}
	diag($first_violation) if $first_violation;
	cmp_ok($lagging, '>', 0,
		"$name: under load the row showed the consumer behind ($lagging of $samples samples, at most $max_lag bytes)"
	);
	cmp_ok(scalar(keys %lsns), '>=', 3,
		"$name: and wal_lsn followed the consumer (" . scalar(keys %lsns) . " positions)");
	note(
		"$name: under load, lag = wal_end - wal_lsn in $exact of $samples samples, "
		  . "wal_lsn = confirmed_flush_lsn in $at_slot, "
		  . "the view's lag exceeded walmon's by at most $max_behind bytes");

	# ---- the writes stop: the consumer confirms, the lag goes to 0 ----

	$writer->query_safe(
		qq{INSERT INTO cdc_rows (payload) VALUES ('$name-last')});
	my $after = foreign_wal_end();
	ok($c{output}->("$name-last"), "$name: the consumer received the last row");
	poll(
		qq{SELECT st.wal_end >= '$after'
		          AND st.wal_end <= pg_current_wal_insert_lsn()
		          AND w.status = 'ACTIVE'
		          AND w.wal_lsn = least(r.confirmed_flush_lsn, st.wal_end)
		          AND w.replication_lag_bytes = st.wal_end - w.wal_lsn
		          AND w.replication_lag_bytes = 0
		          AND w.retained_wal_bytes = st.wal_end - least(r.restart_lsn, st.wal_end)
		   } . slot_join($slot),
		"$name: once the consumer confirmed the last write, wal_lsn = min(confirmed_flush_lsn, wal_end) and the lag is 0"
	) or diag(slot_numbers($slot));
	note("$name: caught up: " . slot_numbers($slot));

	# ---- the consumer stops: IDLE, and wal_lsn is the slot's position ----

	$c{stop}->();
	poll(
		qq{SELECT w.status = 'IDLE' AND w.inactive_since IS NOT NULL
		          AND NOT r.active} . slot_join($slot),
		"$name: the row turns IDLE when the consumer stops");

	# writes without a consumer: the slot stands still, walmon's row must
	# match it exactly and show the whole lag
	$writer->query_safe(
		qq{INSERT INTO cdc_rows (payload)
		   SELECT '$name-idle-' || g FROM generate_series(1, 500) g});
	$after = foreign_wal_end();
	poll(
		qq{SELECT st.wal_end >= '$after'
		          AND st.wal_end <= pg_current_wal_insert_lsn()
		          AND w.status = 'IDLE'
		          AND w.wal_lsn = r.confirmed_flush_lsn
		          AND w.wal_position = r.confirmed_flush_lsn - '0/0'
		          AND w.replication_lag_bytes = st.wal_end - r.confirmed_flush_lsn
		          AND w.replication_lag_bytes >= '$after' - r.confirmed_flush_lsn
		          AND w.retained_wal_bytes = st.wal_end - r.restart_lsn
		          AND w.wal_status = r.wal_status
		          AND w.safe_wal_size = r.safe_wal_size + (pg_current_wal_lsn() - st.wal_end)
		   } . slot_join($slot),
		"$name: without the consumer, wal_lsn is confirmed_flush_lsn and the lag, retained WAL and safe_wal_size follow pg_replication_slots against wal_end"
	) or diag(slot_numbers($slot));
	note("$name: idle: " . slot_numbers($slot));
}

# (-n: pg_recvlogical exits when its connection is lost, rather than
# trying again forever)
my ($w2j, $dbufs);
END
{
	# (killing sets $?, which is the test's exit status here)
	local $?;
	for my $h ($w2j, $dbufs)
	{
		$h->kill_kill if $h && $h->pumpable;
	}
}

# ---- wal2json through pg_recvlogical ----

SKIP:
{
	skip 'wal2json is not installed (postgresql-15-wal2json)', 1
	  unless $installed{wal2json};
	my $w2j_file = $PostgreSQL::Test::Utils::tmp_check . '/wal2json.out';
	my ($w2j_out, $w2j_err) = ('', '');
	sql("SELECT pg_create_logical_replication_slot('cdc_wal2json', 'wal2json')");
	follow(
		name => 'wal2json',
		slot => 'cdc_wal2json',
		start => sub {
			$w2j = IPC::Run::start(
				[
					'pg_recvlogical', '-d', $pub->connstr('postgres'),
					'-S', 'cdc_wal2json', '--start', '-f', $w2j_file,
					'-o', 'format-version=2', '-F', '1', '-s', '1', '-n'
				],
				'>', \$w2j_out, '2>', \$w2j_err);
		},
		stop => sub {
			$w2j->signal('INT');
			$w2j->finish;
			recvlogical_errors('wal2json', $w2j_err);
		},
		output => sub {
			my ($tag) = @_;
			return wait_for_file($w2j_file, qq{"table":"cdc_rows"})
			  && wait_for_file($w2j_file, $tag);
		});
}

# ---- decoderbufs (Debezium) through pg_recvlogical ----

SKIP:
{
	skip 'decoderbufs is not installed (postgresql-15-decoderbufs)', 1
	  unless $installed{decoderbufs};
	my $dbufs_file = $PostgreSQL::Test::Utils::tmp_check . '/decoderbufs.out';
	my ($dbufs_out, $dbufs_err) = ('', '');
	sql("SELECT pg_create_logical_replication_slot('cdc_decoderbufs', 'decoderbufs')");
	follow(
		name => 'decoderbufs',
		slot => 'cdc_decoderbufs',
		start => sub {
			$dbufs = IPC::Run::start(
				[
					'pg_recvlogical', '-d', $pub->connstr('postgres'),
					'-S', 'cdc_decoderbufs', '--start', '-f', $dbufs_file,
					'-F', '1', '-s', '1', '-n'
				],
				'>', \$dbufs_out, '2>', \$dbufs_err);
		},
		stop => sub {
			$dbufs->signal('INT');
			$dbufs->finish;
			recvlogical_errors('decoderbufs', $dbufs_err);
		},
		output => sub {
			# protobuf carries strings as they are
			my ($tag) = @_;
			return wait_for_file($dbufs_file, 'cdc_rows')
			  && wait_for_file($dbufs_file, $tag);
		});
}

# ---- pgoutput: a subscriber, with an initial copy ----

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf(
	'postgresql.conf', q{
# the apply worker confirms at least every second
wal_receiver_status_interval = 1
});
$sub->start;

sql('CREATE PUBLICATION cdc_pub FOR TABLE cdc_rows');
$sub->safe_psql('postgres',
	'CREATE TABLE cdc_rows (id bigint PRIMARY KEY, payload text NOT NULL)');

# Hold the initial copy until walmon has seen the tablesync slot: a row
# trigger (ENABLE ALWAYS, so the sync worker fires it) waits for an advisory
# lock the test holds.
$sub->safe_psql(
	'postgres', q{
CREATE FUNCTION hold_copy() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_advisory_xact_lock_shared(5050); RETURN NEW; END$$;
CREATE TRIGGER hold_copy BEFORE INSERT ON cdc_rows
  FOR EACH ROW EXECUTE FUNCTION hold_copy();
ALTER TABLE cdc_rows ENABLE ALWAYS TRIGGER hold_copy;
});
my $holder = $sub->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(5050)');

my $sync_re = '^pg_[0-9]+_sync_[0-9]+_[0-9]+$';
my $pub_connstr = 'host=' . $pub->host . ' port=' . $pub->port . ' dbname=postgres';
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION cdc_sub CONNECTION '$pub_connstr' PUBLICATION cdc_pub WITH (copy_data = true)"
);

# PostgreSQL created the tablesync slot, and the copy is held (the worker
# that copies is a "logical replication worker" until 16, a "logical
# replication tablesync worker" from 17)
poll(
	qq{SELECT count(*) = 1 FROM pg_replication_slots
	   WHERE slot_name ~ '$sync_re' AND NOT temporary},
	'the subscription made a (permanent) tablesync slot on the publisher');
my $sync_slot = sql(
	"SELECT slot_name FROM pg_replication_slots WHERE slot_name ~ '$sync_re'");
note("tablesync slot: $sync_slot");
ok( $sub->poll_query_until(
		'postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity
		  WHERE backend_type IN ('logical replication worker',
		                         'logical replication tablesync worker')
		    AND wait_event = 'advisory'}),
	'the initial copy waits on the test');
# the worker has had two whole cycles while the tablesync slot existed
wait_cycles(3);
is(sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$sync_slot'"),
	'1', 'the tablesync slot still existed after the worker\'s cycles');
is(sql("SELECT count(*) FROM walmon_source WHERE name ~ '$sync_re' OR slot_name ~ '$sync_re'"),
	'0', 'walmon did not register the tablesync slot while it existed');

# let the copy go, and wait until the sync finished and dropped its slot
$holder->query_safe('SELECT pg_advisory_unlock(5050)');
$holder->quit;
ok( $sub->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate <> 'r'}),
	'the initial copy finished');
poll(qq{SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name ~ '$sync_re'},
	'PostgreSQL dropped the tablesync slot');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM cdc_rows'),
	sql('SELECT count(*) FROM cdc_rows'),
	'the subscriber has every row of the initial copy');
$sub->safe_psql('postgres', 'DROP TRIGGER hold_copy ON cdc_rows');

wait_cycles(3);
is(sql("SELECT count(*) FROM walmon_source WHERE name ~ '$sync_re' OR slot_name ~ '$sync_re'"),
	'0', 'no tablesync source is left in walmon_source after the copy');
is( sql(
		qq{SELECT count(*) FROM wal_monitor_history h
		   LEFT JOIN walmon_source s ON s.id = h.source_id
		   WHERE h.new_status = 'ERROR'
		     AND (s.name ~ '$sync_re' OR s.slot_name ~ '$sync_re'
		          OR h.error_message LIKE '%"pg\\_%\\_sync\\_%'
		          OR s.id IS NULL)}),
	'0',
	'and wal_monitor_history has no ERROR row for a tablesync slot')
  or diag(
	sql(qq{SELECT string_agg(h.changed_at || ' source ' || h.source_id || ' '
	                         || coalesce(s.name, '(dropped)') || ': '
	                         || coalesce(h.old_status, '-') || '>' || h.new_status
	                         || coalesce(' (' || h.error_message || ')', ''), E'\n' ORDER BY h.id)
	       FROM wal_monitor_history h LEFT JOIN walmon_source s ON s.id = h.source_id
	       WHERE s.name ~ '$sync_re' OR s.slot_name ~ '$sync_re'
	          OR h.error_message LIKE '%"pg\\_%\\_sync\\_%'}));

# the subscription's own slot is followed like the others, from a stop
$sub->safe_psql('postgres', 'ALTER SUBSCRIPTION cdc_sub DISABLE');
poll(q{SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'cdc_sub'},
	'the disabled subscription leaves its slot');
follow(
	name => 'pgoutput',
	slot => 'cdc_sub',
	start => sub {
		$sub->safe_psql('postgres', 'ALTER SUBSCRIPTION cdc_sub ENABLE');
	},
	stop => sub {
		$sub->safe_psql('postgres', 'ALTER SUBSCRIPTION cdc_sub DISABLE');
	},
	output => sub {
		my ($tag) = @_;
		return $sub->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM cdc_rows WHERE payload = '$tag'");
	});

# ---- nothing else went wrong ----

is( sql(
		q{SELECT count(*) FROM wal_monitor_history WHERE new_status = 'ERROR'}),
	'0', 'no source turned ERROR during the test');
is(sql('SELECT last_error FROM walmon_worker_status()'),
	'', 'the worker recorded no failed cycle');

$writer->quit;
$sub->stop;
$pub->stop;
done_testing();
