# walmon_prometheus() on a server with walmon preloaded and every kind of
# source: a physical slot that a standby streams from with
# hot_standby_feedback (ACTIVE, with an xmin), a logical slot nobody
# consumes (IDLE, behind, with a catalog_xmin), both limited by
# max_slot_wal_keep_size (a safe size and a forecast), applications'
# sources (one whose name needs escaping, one without numbers, one whose
# status a superuser set to NULL), a source of a remote server, and a
# worker with a failed cycle behind it.  The text
#   - passes "promtool check metrics" with nothing to say (skipped, and
#     counted, without promtool: Debian's package prometheus);
#   - has, for every family, one HELP and one TYPE line before its samples,
#     the samples of a family together, no series twice, label values
#     escaped as the format wants, and every family walmon documents;
#   - holds the values of walmon's tables and walmon_worker_status(), read
#     in the same statement, with every label value as stored;
# and every alert of contrib/prometheus/walmon_alerts.yml reads a family
# the text has (or, for the status, the exporter's name of it).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use File::Spec;
use CPAN::Meta::YAML;
use Time::HiRes qw(usleep);

my $promtool = $ENV{WALMON_PROMTOOL};
unless ($promtool)
{
	for my $candidate ('/usr/bin/promtool', map { "$_/promtool" } split /:/, $ENV{PATH})
	{
		if (-x $candidate)
		{
			$promtool = $candidate;
			last;
		}
	}
}

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 'logical');
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '100ms'
# so that slots have a safe size and a forecast
max_slot_wal_keep_size = '1GB'
autovacuum = off
});
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sub poll
{
	my ($query, $what) = @_;
	$node->poll_query_until('postgres', $query) or die "timed out: $what";
}

sub wait_cycles
{
	my ($n) = @_;
	my $c = sql('SELECT cycles FROM walmon_worker_status()');
	poll("SELECT cycles >= $c + $n FROM walmon_worker_status()", 'worker cycles');
}

# ---- the sources ----

sql('CREATE EXTENSION walmon');
$node->wait_for_log(qr/walmon worker is refreshing replication slots/);
sql("SELECT pg_create_physical_replication_slot('standby_1', true)");
sql("SELECT pg_create_logical_replication_slot('cdc_slot', 'test_decoding')");
poll(q{SELECT count(*) = 2 FROM walmon_source WHERE slot_name IN ('standby_1', 'cdc_slot')},
	'the worker registers the slots');

$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->append_conf(
	'postgresql.conf', q{
primary_slot_name = 'standby_1'
hot_standby_feedback = on
});
$standby->start;
poll(
	q{SELECT w.status = 'ACTIVE' AND w.xmin_age IS NOT NULL
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'standby_1'},
	'the standby streams from its slot and holds an xmin');

sql(qq{SELECT walmon_add_source(E'orders "db" \\\\ ~ \\u00e9\\nline 2', id => 41)});
sql(q{SELECT walmon_upsert(41, wal_lsn => '0/1A2B3C4D', replication_lag_bytes => 2048)});
sql(q{SELECT walmon_set_status(41, 'ERROR', 'replica unreachable')});
sql(q{SELECT walmon_add_source('status-only', id => 42)});
sql(q{SELECT walmon_upsert(42, status => 'idle')});
sql(q{SELECT walmon_add_source('null-status', id => 43)});
sql(q{SELECT walmon_upsert(43, replication_lag_bytes => 1)});
# a source of a remote server (the worker leaves it alone), with a server
# name that needs escaping
sql(q{BEGIN;
SELECT walmon_add_source('far', 'far_slot', id => 44);
UPDATE walmon_source SET server = E'east "1" \\\\' WHERE id = 44;
COMMIT;});
sql(q{SELECT walmon_upsert(44, wal_lsn => '0/100', replication_lag_bytes => 7)});

# failed cycles (a column walmon needs is missing for a while): their
# time and count are exported
sql(q{ALTER TABLE wal_monitor RENAME COLUMN wal_position TO regress_wal_position});
poll(q{SELECT errors > 0 AND last_error_at IS NOT NULL FROM walmon_worker_status()},
	'a cycle fails');
sql(q{ALTER TABLE wal_monitor RENAME COLUMN regress_wal_position TO wal_position});
sql("SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))");

# foreign WAL twice, a second apart: a WAL rate, so forecasts
usleep(1_100_000);
sql("SELECT pg_logical_emit_message(true, 'walmon-test', repeat('x', 10000))");
poll(
	q{SELECT bool_and(w.seconds_to_invalidation IS NOT NULL AND w.safe_wal_size IS NOT NULL)
	     AND bool_or(w.replication_lag_seconds > 0)
	     AND bool_or(w.catalog_xmin_age IS NOT NULL)
	     AND bool_or(w.xmin_age IS NOT NULL)
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name IS NOT NULL AND s.server IS NULL},
	'the worker computes every number of the slots');
poll(q{SELECT seconds_to_disk_full IS NOT NULL FROM walmon_worker_status()},
	'the worker has a WAL rate');

# The worker stops writing (walmon.enabled off), so that the tables stand
# still while they are compared with the text.
sql(q{ALTER SYSTEM SET walmon.enabled = off});
sql(q{SELECT pg_reload_conf()});
poll(q{SELECT state = 'disabled' FROM walmon_worker_status()}, 'the worker idles');

# a superuser's mistake: a NULL status
sql(q{ALTER TABLE wal_monitor ALTER COLUMN status DROP NOT NULL;
ALTER TABLE wal_monitor DISABLE TRIGGER walmon_history_update;
UPDATE wal_monitor SET status = NULL WHERE source_id = 43;
ALTER TABLE wal_monitor ENABLE TRIGGER walmon_history_update;});

# ---- the text, and what walmon holds, in one statement ----

# (the forecast of a local slot is computed anew, from its safe size; the
# JSON as bytes: the text stays UTF-8, as a scraper reads it)
my $state = JSON::PP->new->decode(
	sql(q{
SELECT json_build_object(
  'text', walmon_prometheus(),
  'sources', (SELECT json_agg(json_build_object(
      'source_id', s.id, 'source', s.name,
      'slot', coalesce(s.slot_name::text, ''), 'server', coalesce(s.server::text, ''),
      'status', w.status,
      'walmon_replication_lag_bytes', w.replication_lag_bytes,
      'walmon_seconds_since_last_wal', date_part('epoch', now() - w.last_wal_received),
      'walmon_replication_lag_seconds',
        CASE WHEN w.replication_lag_seconds > 0
             THEN w.replication_lag_seconds + date_part('epoch', now() - w.updated_at)
             ELSE w.replication_lag_seconds END,
      'walmon_retained_wal_bytes', w.retained_wal_bytes,
      'walmon_safe_wal_size_bytes', w.safe_wal_size,
      'walmon_seconds_to_invalidation', w.seconds_to_invalidation,
      'walmon_xmin_age_transactions', w.xmin_age,
      'walmon_catalog_xmin_age_transactions', w.catalog_xmin_age) ORDER BY s.id)
    FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id),
  'worker', (SELECT json_build_object(
      'walmon_worker_up', CASE WHEN pid IS NOT NULL THEN 1 ELSE 0 END,
      'walmon_worker_in_recovery', CASE WHEN in_recovery THEN 1 ELSE 0 END,
      'walmon_worker_cycles_total', cycles,
      'walmon_worker_rows_written_total', rows_written,
      'walmon_worker_errors_total', errors,
      'walmon_worker_last_cycle_timestamp_seconds', date_part('epoch', last_cycle_end),
      'walmon_worker_last_error_timestamp_seconds', date_part('epoch', last_error_at),
      'walmon_worker_wal_end_bytes', wal_end - '0/0',
      'walmon_worker_wal_trail_bytes', wal_trail_bytes,
      'walmon_wal_rate_bytes_per_second', wal_rate_bytes_per_second,
      'walmon_wal_rate_15min_bytes_per_second', wal_rate_15min_bytes_per_second,
      'walmon_pg_wal_free_bytes', pg_wal_free_bytes,
      'walmon_seconds_to_disk_full', seconds_to_disk_full)
    FROM walmon_worker_status()))}));
my $text = $state->{text};
note("walmon_prometheus():\n$text");

# ---- promtool ----

SKIP:
{
	skip 'promtool is not installed (Debian: prometheus)', 2
	  unless $promtool && -x $promtool;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $promtool, 'check', 'metrics' ],
		'<', \$text, '>', \$out, '2>', \$err);
	ok($ok, 'promtool check metrics exits with 0');
	is("$out$err", '', 'and has nothing to say');
}

# ---- the format, read strictly ----

my (%help, %type, %samples, %closed, @problems, %seen);
my $current = '';
my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $value_re = qr/(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf)/;
ok($text =~ /\n\z/, 'the text ends with a newline');
for my $line (split /\n/, $text)
{
	if ($line =~ /^# HELP ($name_re) (\S.*)$/)
	{
		my $f = $1;
		push @problems, "a second HELP for $f" if $help{$f};
		push @problems, "HELP of $f after its samples or another family" if $closed{$f} || $samples{$f};
		$closed{$current} = 1 if $current ne '' && $current ne $f;
		$current = $f;
		$help{$f} = $2;
	}
	elsif ($line =~ /^# TYPE ($name_re) (counter|gauge|untyped)$/)
	{
		my $f = $1;
		push @problems, "a second TYPE for $f" if $type{$f};
		push @problems, "TYPE of $f not right after its HELP" if $f ne $current || $samples{$f};
		$type{$f} = $2;
	}
	elsif ($line =~ /^($name_re)(?:\{(.*)\})? ($value_re)$/)
	{
		my ($f, $labels, $value) = ($1, $2 // '', $3);
		push @problems, "a sample of $f outside its family: $line"
		  if $f ne $current || !$type{$f} || !$help{$f};
		my %l;
		pos($labels) = 0;
		while ($labels =~ /\G([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|\z)/gc)
		{
			my ($k, $v, $sep) = ($1, $2, $3);
			push @problems, "label $k twice: $line" if exists $l{$k};
			$v =~ s/\\([\\"n])/$1 eq 'n' ? "\n" : $1/ge;
			$l{$k} = $v;
			last if $sep eq '';
		}
		push @problems, "malformed labels: $line"
		  unless (pos($labels) // 0) == length($labels);
		my $key = $f . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
		push @problems, "a series twice: $line" if $seen{$key}++;
		push @{ $samples{$f} }, [ \%l, $value ];
	}
	elsif ($line ne '')
	{
		push @problems, "not a line of the format: $line";
	}
}
is(join("\n", @problems), '', 'every family: one HELP, one TYPE, then its samples, no series twice');

my %family_type = (
	walmon_replication_lag_bytes => 'gauge',
	walmon_status => 'gauge',
	walmon_seconds_since_last_wal => 'gauge',
	walmon_replication_lag_seconds => 'gauge',
	walmon_retained_wal_bytes => 'gauge',
	walmon_safe_wal_size_bytes => 'gauge',
	walmon_seconds_to_invalidation => 'gauge',
	walmon_xmin_age_transactions => 'gauge',
	walmon_catalog_xmin_age_transactions => 'gauge',
	walmon_worker_up => 'gauge',
	walmon_worker_in_recovery => 'gauge',
	walmon_worker_cycles_total => 'counter',
	walmon_worker_rows_written_total => 'counter',
	walmon_worker_errors_total => 'counter',
	walmon_worker_last_cycle_timestamp_seconds => 'gauge',
	walmon_worker_last_error_timestamp_seconds => 'gauge',
	walmon_worker_wal_end_bytes => 'gauge',
	walmon_worker_wal_trail_bytes => 'gauge',
	walmon_wal_rate_bytes_per_second => 'gauge',
	walmon_wal_rate_15min_bytes_per_second => 'gauge',
	walmon_pg_wal_free_bytes => 'gauge',
	walmon_seconds_to_disk_full => 'gauge');
is( join(' ', map { "$_:$type{$_}" } sort keys %type),
	join(' ', map { "$_:$family_type{$_}" } sort keys %family_type),
	'every family, with its type');
is( join(' ', sort grep { !$samples{$_} } keys %family_type),
	'', 'every family has samples (this server knows every number)');

# ---- the values ----

# the one sample of a family whose labels are exactly these
sub sample
{
	my ($f, %want) = @_;
	my @s = grep {
		my $l = $_->[0];
		keys %$l == keys %want && !grep { !exists $l->{$_} || $l->{$_} ne $want{$_} } keys %want
	} @{ $samples{$f} // [] };
	return @s == 1 ? $s[0][1] : @s ? 'several' : undef;
}

# a value as the text should show it: integers exactly, others to the
# three decimals printed
sub same_value
{
	my ($got, $want) = @_;
	return 0 unless defined $got && $got ne 'NaN' && $got ne 'several';
	return $got eq "$want" if "$want" =~ /^-?[0-9]+$/ && $got =~ /^-?[0-9]+$/;
	return abs($got - $want) <= 0.0005 + 1e-12 * abs($want);
}

my @per_source = qw(walmon_replication_lag_bytes walmon_seconds_since_last_wal
  walmon_replication_lag_seconds walmon_retained_wal_bytes
  walmon_safe_wal_size_bytes walmon_seconds_to_invalidation
  walmon_xmin_age_transactions walmon_catalog_xmin_age_transactions);
my @sources = @{ $state->{sources} };
is(scalar(@sources), 6, 'six sources have a monitor row');
for my $src (@sources)
{
	my $id = $src->{source_id};
	my %labels = map { $_ => $src->{$_} } qw(source_id source slot server);
	for my $f (@per_source)
	{
		my $got = sample($f, %labels);
		if ($f eq 'walmon_seconds_to_invalidation' && $src->{slot} ne '' && $src->{server} eq '')
		{
			# a local slot's, as of now: its safe size at the WAL rate the
			# text shows (printed to three decimals)
			my $safe = $src->{walmon_safe_wal_size_bytes};
			my $rate = sample('walmon_wal_rate_bytes_per_second');
			my $want = !defined $safe ? undef
			  : $safe <= 0 ? 0
			  : defined $rate && $rate > 0 ? $safe / $rate
			  : undef;
			if (!defined $want)
			{
				is($got, undef, "source $id: no $f (no safe size or no rate)");
			}
			else
			{
				ok( defined $got && $got ne 'NaN' && $got ne 'several'
					  && abs($got - $want) <= 0.0005 + 1e-6 * $want,
					"source $id: $f, as of now: safe_wal_size at the WAL rate of the last minute")
				  or diag("got " . ($got // 'none') . ", want $want");
			}
			next;
		}
		if (!defined $src->{$f})
		{
			is($got, undef, "source $id: no $f (null)");
		}
		else
		{
			ok(same_value($got, $src->{$f}), "source $id: $f")
			  or diag("got " . ($got // 'none') . ", want $src->{$f}");
		}
	}
	my $status = $src->{status} // '';
	is( join(',',
			map { "$_=" . (sample('walmon_status', %labels, status => $_) // 'none') }
			  qw(ACTIVE IDLE ERROR)),
		join(',', map { "$_=" . ($_ eq $status ? 1 : 0) } qw(ACTIVE IDLE ERROR)),
		"source $id: walmon_status, one series per status ("
		  . ($status eq '' ? 'none: NULL' : $status) . ')');
}
my %by_id = map { $_->{source_id} => $_ } @sources;
is($by_id{43}{status}, undef, 'source 43 has a NULL status');
is($by_id{44}{server}, 'east "1" \\', 'source 44 has its server');
# the escapes themselves, as a scraper reads them
like($text, qr/^walmon_status\{source_id="41",source="orders \\"db\\" \\\\ ~ \x{c3}\x{a9}\\nline 2",slot="",server="",status="ERROR"\} 1$/m,
	'a source name is escaped: backslash, quote, newline');
# (whatever its status: a worker that polls remote servers finds none of
# that name)
like($text, qr/^walmon_replication_lag_bytes\{source_id="44",source="far",slot="far_slot",server="east \\"1\\" \\\\"\} [0-9]+$/m,
	'a server name is escaped');
# what the slots show (so that the comparisons above compared something)
my ($phys) = grep { $_->{slot} eq 'standby_1' } @sources;
my ($logical) = grep { $_->{slot} eq 'cdc_slot' } @sources;
ok(defined $phys->{walmon_xmin_age_transactions}, 'the physical slot has an xmin age');
ok($logical->{walmon_replication_lag_bytes} > 0 && $logical->{walmon_replication_lag_seconds} > 0,
	'the logical slot is behind, in bytes and in seconds');
ok(defined $logical->{walmon_catalog_xmin_age_transactions}, 'and has a catalog_xmin age');

# the worker: its counters stand still (it is idle); the rate and the free
# space are read anew by each call
my $w = $state->{worker};
for my $f (qw(walmon_worker_up walmon_worker_in_recovery walmon_worker_cycles_total
	walmon_worker_rows_written_total walmon_worker_errors_total
	walmon_worker_last_cycle_timestamp_seconds walmon_worker_last_error_timestamp_seconds
	walmon_worker_wal_end_bytes walmon_worker_wal_trail_bytes))
{
	ok(same_value(sample($f), $w->{$f}), "$f")
	  or diag("got " . (sample($f) // 'none') . ", want " . ($w->{$f} // 'null'));
}
is(sample('walmon_worker_up'), 1, 'the worker is up');
ok(sample('walmon_worker_errors_total') >= 1, 'and counted its failed cycle');
for my $f (qw(walmon_wal_rate_bytes_per_second walmon_wal_rate_15min_bytes_per_second
	walmon_pg_wal_free_bytes walmon_seconds_to_disk_full))
{
	my $got = sample($f) // 'none';
	ok( $got ne 'none' && $got ne 'NaN' && $got > 0
		  && abs($got - $w->{$f}) <= 0.02 * $w->{$f},
		"$f: about walmon_worker_status()'s") or diag("got $got, want $w->{$f}");
}

# ---- the alerts read what is exported ----

{
	my $alerts = CPAN::Meta::YAML->read(
		File::Spec->rel2abs('contrib/prometheus/walmon_alerts.yml'))
	  or die CPAN::Meta::YAML->errstr;
	my $queries = CPAN::Meta::YAML->read(
		File::Spec->rel2abs('contrib/postgres_exporter/walmon_queries.yaml'))
	  or die CPAN::Meta::YAML->errstr;
	# the exporter's metrics: <query>_<column> for every column not a label
	my %exporter;
	for my $q (keys %{ $queries->[0] })
	{
		for my $col (@{ $queries->[0]{$q}{metrics} })
		{
			my ($name, $def) = %$col;
			$exporter{"${q}_$name"} = 1 if $def->{usage} ne 'LABEL';
		}
	}
	ok($exporter{walmon_status_current}, 'the exporter\'s metrics are read from its file');
	my $n = 0;
	for my $rule (map { @{ $_->{rules} } } @{ $alerts->[0]{groups} })
	{
		next unless $rule->{alert};
		$n++;
		my %reads = map { $_ => 1 } $rule->{expr} =~ /\b(walmon_\w+)/g;
		ok((grep { $samples{$_} } keys %reads),
			"alert $rule->{alert} reads a family walmon_prometheus() exports")
		  or diag('it reads ' . join(', ', sort keys %reads));
		is(join(' ', grep { !$type{$_} && !$exporter{$_} } sort keys %reads),
			'', "alert $rule->{alert} reads no metric nobody exports");
	}
	ok($n >= 10, "the alerts file has its alerts ($n)");
}

$standby->stop;
$node->stop;
done_testing();
