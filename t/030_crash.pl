# Crashes lose nothing: under concurrent upsert load, a backend killed with
# SIGKILL (which makes the postmaster restart every backend and recover),
# the walmon worker killed the same way, and an immediate shutdown each
# leave every acknowledged upsert in place, with one row per source, and
# the worker comes back by itself.
#
# Each pgbench client upserts its own source with a counter that grows by
# one per transaction; pgbench's per-transaction log (-l) records every
# transaction the server acknowledged, so after recovery each source's
# wal_position must be at least the last counter its client logged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 4;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
restart_after_crash = on
synchronous_commit = on
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION walmon;
	SELECT walmon_add_source('source_' || g) FROM generate_series(1, $clients) g;
});

my $script = $node->basedir . '/upsert.sql';
open my $fh, '>', $script or die $!;
print $fh <<'EOF';
\set n :n + 1
\set src :client_id + 1
SELECT source_id FROM walmon_upsert(:src, wal_position => :n, status => 'ACTIVE');
EOF
close $fh;

# Start pgbench; return its harness and its log prefix.
my $run = 0;
sub start_load
{
	$run++;
	# wait_for_load() below must see this run's progress, not the last one's
	$node->safe_psql('postgres', 'UPDATE wal_monitor SET wal_position = 0');
	my $prefix = $node->basedir . "/acked_$run";
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-M', 'prepared', '-c', $clients, '-j', '2',
			'-T', '120', '-D', 'n=0', '-f', $script, '-l',
			"--log-prefix=$prefix", '-h', $node->host, '-p', $node->port,
			'postgres'
		],
		'>', \$out, '2>', \$err);
	return ($h, $prefix);
}

# The last acknowledged counter of each client, from pgbench's logs.
sub acked
{
	my ($prefix) = @_;
	my %last;
	foreach my $file (glob("$prefix.*"))
	{
		open my $log, '<', $file or die $!;
		while (<$log>)
		{
			my ($client, $xact) = split;
			$last{$client} = $xact if !defined $last{$client} || $xact > $last{$client};
		}
		close $log;
	}
	return \%last;
}

# Wait until every client has committed a good number of upserts.
sub wait_for_load
{
	$node->poll_query_until('postgres', qq{
		SELECT count(*) = $clients AND min(wal_position) >= 200
		FROM wal_monitor WHERE source_id <= $clients})
	  or die 'load did not start';
}

# The worker is back: a new process, completing cycles again.
sub worker_back
{
	my ($old_pid, $what) = @_;
	ok($node->poll_query_until('postgres', qq{
		SELECT pid IS NOT NULL AND pid <> $old_pid AND cycles > 0
		FROM walmon_worker_status()}),
		"$what: the worker is back by itself");
}

sub worker_pid
{
	return $node->safe_psql('postgres', 'SELECT pid FROM walmon_worker_status()');
}

# SIGKILL a process, wait for the postmaster's crash restart and recovery.
sub kill_and_recover
{
	my ($pid) = @_;
	my $log_offset = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
	  or die 'server did not come back';
}

sub check_survivors
{
	my ($prefix, $what) = @_;
	my $acked = acked($prefix);
	is(scalar(keys %$acked), $clients, "$what: every client logged acknowledged upserts");
	foreach my $client (sort keys %$acked)
	{
		my $source = $client + 1;
		my $stored = $node->safe_psql('postgres',
			"SELECT wal_position FROM wal_monitor WHERE source_id = $source");
		cmp_ok($stored, '>=', $acked->{$client},
			"$what: source $source keeps its last acknowledged upsert ($acked->{$client})");
	}
	is($node->safe_psql('postgres',
			'SELECT count(*) FROM (SELECT source_id FROM wal_monitor GROUP BY source_id HAVING count(*) > 1) d'),
		'0', "$what: one row per source");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM wal_monitor'),
		$clients, "$what: no row lost, none added");
}

$node->poll_query_until('postgres', 'SELECT cycles > 0 FROM walmon_worker_status()')
  or die 'the worker does not run';

# 1. SIGKILL of a backend in the middle of the load
my $worker = worker_pid();
my ($bench, $prefix) = start_load();
wait_for_load();
my $victim = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity
	  WHERE query LIKE '%walmon_upsert(%' AND pid <> pg_backend_pid() LIMIT 1});
ok($victim =~ /^\d+$/, "found a pgbench backend ($victim)");
kill_and_recover($victim);
$bench->finish;
check_survivors($prefix, 'after SIGKILL');
worker_back($worker, 'after SIGKILL of a backend');
is($node->safe_psql('postgres', q{SELECT status FROM walmon_upsert(1, wal_position => 0)}),
	'ACTIVE', 'upserts work after the crash restart');

# 2. SIGKILL of the walmon worker in the middle of the load
$worker = worker_pid();
($bench, $prefix) = start_load();
wait_for_load();
kill_and_recover($worker);
$bench->finish;
check_survivors($prefix, 'after SIGKILL of the worker');
worker_back($worker, 'after SIGKILL of the worker');

# 3. immediate shutdown in the middle of the load, then a restart
$worker = worker_pid();
($bench, $prefix) = start_load();
wait_for_load();
$node->stop('immediate');
$bench->finish;
$node->start;
check_survivors($prefix, 'after immediate shutdown');
worker_back($worker, 'after immediate shutdown');

$node->stop;
done_testing();
