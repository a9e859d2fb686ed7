# The fleet: one walmon (the monitor) follows the replication slots of two
# other servers over libpq.  Their slots appear with the values of their
# own pg_replication_slots; a server that is down, one that accepts
# connections and never answers, and one whose password is wrong turn only
# their own sources ERROR, within walmon.remote_timeout, and hold up
# nothing else; no password ever shows in a row, an error or a log.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $naptime_ms = 300;
my $timeout_ms = 2000;
my $secret = 'Wr0ng-S3cret-xyzzy';

# ---- two sources: A (a standby and a logical consumer), B ----

my $a = PostgreSQL::Test::Cluster->new('source_a');
$a->init(allows_streaming => 'logical');
$a->append_conf('postgresql.conf', "max_replication_slots = 10\n");
# a role that must log in with a password
$a->append_conf('pg_hba.conf', '');
my $hba = slurp_file($a->data_dir . '/pg_hba.conf');
open my $fh, '>', $a->data_dir . '/pg_hba.conf' or die $!;
print $fh "local all pwuser scram-sha-256\nhost all pwuser 127.0.0.1/32 scram-sha-256\n$hba";
close $fh;
$a->start;
$a->safe_psql('postgres', q{
	SET password_encryption = 'scram-sha-256';
	CREATE ROLE pwuser LOGIN PASSWORD 'the-right-one';
	SELECT pg_create_physical_replication_slot('a_standby');
	SELECT pg_create_logical_replication_slot('a_logical', 'test_decoding');
	CREATE TABLE t (n int);
});
$a->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby_a');
$standby->init_from_backup($a, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_slot_name = 'a_standby'\n");
$standby->start;

my $recv = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $a->connstr('postgres'), '-S', 'a_logical',
		'--start', '-f', '/dev/null', '-F', '1', '-s', '1'
	],
	'>', \my $recv_out, '2>', \my $recv_err);

my $b = PostgreSQL::Test::Cluster->new('source_b');
$b->init(allows_streaming => 1);
# the monitor's worker and sessions connect once per server bound to B
$b->append_conf('postgresql.conf', "max_connections = 60\n");
$b->start;
$b->safe_psql('postgres', q{SELECT pg_create_physical_replication_slot('b_phys', true);
	CREATE TABLE t (n int)});

# a listener that accepts connections and never answers
my $listener = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
  or die "listen: $!";
my $hang_port = $listener->sockport;
my $hang_pid = fork;
die "fork: $!" unless defined $hang_pid;
if ($hang_pid == 0)
{
	my @held;
	while (my $c = $listener->accept) { push @held, $c; }
	exit 0;
}
close $listener;
# however the test ends, the listener goes with it
END { kill 'KILL', $hang_pid if $hang_pid; }

# ---- the monitor ----

my $m = PostgreSQL::Test::Cluster->new('monitor');
$m->init;
$m->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '${naptime_ms}ms'
walmon.remote_timeout = '${timeout_ms}ms'
log_statement = 'all'
});
$m->start;

sub msql { return $m->safe_psql('postgres', $_[0]); }

msql('CREATE EXTENSION walmon');
my $os_user = msql('SELECT current_user');
msql(sprintf(
	q{CREATE SERVER srv_a FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%s', dbname 'postgres');
	  CREATE USER MAPPING FOR CURRENT_USER SERVER srv_a OPTIONS (user '%s');
	  CREATE SERVER srv_b FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%s', dbname 'postgres');
	  CREATE USER MAPPING FOR CURRENT_USER SERVER srv_b OPTIONS (user '%s');},
	$a->host, $a->port, $os_user, $b->host, $b->port, $os_user));

# the validator: credentials in user mappings only, no local files
my ($rc, $out, $err) = $m->psql('postgres',
	q{CREATE SERVER bad1 FOREIGN DATA WRAPPER walmon_fdw OPTIONS (password 'x')});
like($err, qr/invalid option "password" for a server of walmon_fdw/,
	'a password in a server\'s options is refused');
($rc, $out, $err) = $m->psql('postgres',
	q{CREATE SERVER bad2 FOREIGN DATA WRAPPER walmon_fdw OPTIONS (passfile '/etc/passwd')});
like($err, qr/invalid option "passfile"/, 'an option that reads a local file is refused');
($rc, $out, $err) = $m->psql('postgres',
	q{CREATE SERVER bad3 FOREIGN DATA WRAPPER walmon_fdw OPTIONS (sslkey '/x')});
like($err, qr/invalid option "sslkey"/, 'an SSL key file is refused');

is(msql(q{SELECT walmon_add_server('srv_a')}), '2',
	'walmon_add_server registers the two slots of A at once');
is(msql(q{SELECT walmon_add_server('srv_b')}), '1', 'and the one of B');
is( msql(q{SELECT string_agg(name || ' ' || server || ' ' || slot_name, ', ' ORDER BY name)
		   FROM walmon_source}),
	'srv_a/a_logical srv_a a_logical, srv_a/a_standby srv_a a_standby, srv_b/b_phys srv_b b_phys',
	'remote sources are named <server>/<slot>');

# a role without USAGE on the server may not bind it
msql(q{CREATE ROLE binder; GRANT EXECUTE ON FUNCTION walmon_add_server(name) TO binder});
($rc, $out, $err) = $m->psql('postgres', q{SET ROLE binder; SELECT walmon_add_server('srv_b')});
like($err, qr/permission denied for foreign server srv_b/,
	'binding needs USAGE on the foreign server');

# ---- A's slots, as A itself shows them ----

$a->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 1000)');
$a->wait_for_catchup($standby);
my $compare = q{
	SELECT string_agg(s.slot_name || ' ' || w.wal_lsn || ' ' || w.replication_lag_bytes || ' ' || w.status,
		', ' ORDER BY s.slot_name)
	FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.server = 'srv_a'};
my $a_view = q{
	SELECT string_agg(slot_name || ' ' || p || ' ' || (pg_current_wal_lsn() - p)::bigint || ' '
		|| CASE WHEN active THEN 'ACTIVE' ELSE 'IDLE' END, ', ' ORDER BY slot_name)
	FROM (SELECT slot_name, active,
		  CASE slot_type WHEN 'logical' THEN confirmed_flush_lsn ELSE restart_lsn END AS p
		  FROM pg_replication_slots) x};
my $same = 0;
for (my $i = 0; $i < 600 && !$same; $i++)
{
	$same = msql($compare) eq $a->safe_psql('postgres', $a_view);
	usleep(100_000) unless $same;
}
ok($same, 'the monitor shows A\'s slots with the wal_lsn, lag and status of A\'s pg_replication_slots')
  or diag(msql($compare) . "\n" . $a->safe_psql('postgres', $a_view));

# ---- a server that hangs, one with a wrong password ----

msql(sprintf(
	q{CREATE SERVER srv_hang FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '127.0.0.1', port '%d', dbname 'postgres');
	  CREATE USER MAPPING FOR CURRENT_USER SERVER srv_hang OPTIONS (user 'x');
	  CREATE SERVER srv_pw FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%s', dbname 'postgres');
	  CREATE USER MAPPING FOR CURRENT_USER SERVER srv_pw OPTIONS (user 'pwuser', password '%s');},
	$hang_port, $a->host, $a->port, $secret));
msql(q{SELECT walmon_add_source('hang-src', 'anything', server => 'srv_hang')});
my $t0 = time;
($rc, $out, $err) = $m->psql('postgres', q{SELECT walmon_add_server('srv_pw')});
like($err, qr/cannot be reached now/, 'walmon_add_server warns of a server it cannot reach');
unlike($err, qr/\Q$secret\E/, 'the warning holds no password');
msql(q{SELECT walmon_add_source('pw-src', 'a_standby', server => 'srv_pw')});

$m->poll_query_until('postgres',
	q{SELECT w.status = 'ERROR' AND w.error_message LIKE '%did not answer within 2000 ms%'
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'hang-src'})
  or die 'no timeout error';
pass('a server that accepts and never answers gives a timeout ERROR');
$m->poll_query_until('postgres',
	q{SELECT w.status = 'ERROR' AND w.error_message LIKE '%password authentication failed%'
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'pw-src'})
  or die 'no password error';
pass('a wrong password gives an ERROR');
is(msql(qq{SELECT count(*) FROM wal_monitor WHERE error_message LIKE '%$secret%'}),
	'0', 'no row holds the password');

# a server that a role other than a superuser made must log in with a
# password of its own: never with the monitor's trust (B trusts it)
msql(sprintf(
	q{CREATE ROLE fdw_maker;
	  GRANT USAGE ON FOREIGN DATA WRAPPER walmon_fdw TO fdw_maker;
	  SET ROLE fdw_maker;
	  CREATE SERVER srv_nosu FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%s', dbname 'postgres');
	  CREATE USER MAPPING FOR %s SERVER srv_nosu OPTIONS (user '%s');
	  RESET ROLE;},
	$b->host, $b->port, $os_user, $os_user));
msql(q{SELECT walmon_add_source('nosu-src', 'b_phys', server => 'srv_nosu')});
$m->poll_query_until('postgres',
	q{SELECT w.status = 'ERROR' AND w.error_message LIKE '%password is required%'
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'nosu-src'})
  or die 'a non-superuser\'s server connected without a password';
pass('a server made by a non-superuser, with no password in its mapping, is refused');

# the others are not held up: B follows a change within a few cycles
my $b_before = msql(q{SELECT w.updated_at FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	WHERE s.name = 'srv_b/b_phys'});
$b->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 100)');
my $b_lsn = $b->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$t0 = time;
$m->poll_query_until('postgres',
	qq{SELECT w.replication_lag_bytes >= ('$b_lsn'::pg_lsn - w.wal_lsn)
	   AND w.updated_at > '$b_before'
	   FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'srv_b/b_phys'})
  or die 'B not followed';
my $b_delay = time - $t0;
cmp_ok($b_delay, '<', $timeout_ms / 1000,
	"B is followed while srv_hang hangs, sooner than srv_hang's timeout ($b_delay s)");

# ---- A goes down ----

$recv->kill_kill;
$standby->stop;
$a->stop('immediate');
$t0 = time;
$m->poll_query_until('postgres',
	q{SELECT bool_and(w.status = 'ERROR' AND w.error_message LIKE 'could not connect to server "srv_a"%')
	  FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.server = 'srv_a'})
  or die 'A\'s sources did not turn ERROR';
my $down = time - $t0;
cmp_ok($down, '<=', ($timeout_ms + $naptime_ms) / 1000 + 3,
	"A's sources turn ERROR (connection failed) within timeout + naptime ($down s)");
$b->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 100)');
$b_lsn = $b->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$m->poll_query_until('postgres',
	qq{SELECT w.wal_lsn <= '$b_lsn' AND w.wal_lsn + w.replication_lag_bytes >= '$b_lsn'
	   AND w.status <> 'ERROR'
	   FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id WHERE s.name = 'srv_b/b_phys'})
  or die 'B not fresh';
pass('B\'s source stays fresh while A is down');

# ---- no password anywhere ----

# log_statement logs the test's own statements, the CREATE USER MAPPING
# among them: every other line must be free of the password
my @leaks = grep { /\Q$secret\E/ && !/ LOG:  statement: / }
  split /\n/, slurp_file($m->logfile);
is(join("\n", @leaks), '', 'the password is in no server log line walmon wrote');
@leaks = grep { /\Q$secret\E/ && !/ LOG:  statement: / }
  split /\n/, slurp_file($a->logfile);
is(join("\n", @leaks), '', 'nor in the source server\'s log');
is(msql(qq{SELECT count(*) FROM wal_monitor_history WHERE error_message LIKE '%$secret%'}),
	'0', 'nor in the history');
unlike(msql(q{SELECT coalesce(last_error, '') FROM walmon_worker_status()}),
	qr/\Q$secret\E/, 'nor in the worker\'s status');

# ---- walmon_drop_server ----

is(msql(q{SELECT walmon_drop_server('srv_hang')}), 't', 'walmon_drop_server');
is(msql(q{SELECT count(*) FROM walmon_source WHERE server = 'srv_hang'}),
	'0', 'its sources are gone');
is(msql(q{SELECT walmon_drop_server('srv_hang')}), 'f', 'a second drop finds nothing');

# ---- more servers than a process first makes room for ----

# The worker knows four servers; seventeen more make it grow its list of
# servers in the middle of a cycle, while it holds pointers to the first
# ones (the benchmark's 20 servers once made a session spin there).
my $many = 17;
msql(join '', map {
	sprintf(q{CREATE SERVER srv_many_%02d FOREIGN DATA WRAPPER walmon_fdw OPTIONS (host '%s', port '%s', dbname 'postgres');
	  CREATE USER MAPPING FOR CURRENT_USER SERVER srv_many_%02d OPTIONS (user '%s');
	  SELECT walmon_add_server('srv_many_%02d');},
		$_, $b->host, $b->port, $_, $os_user, $_)
} 1 .. $many);
$b->safe_psql('postgres', 'INSERT INTO t SELECT generate_series(1, 100)');
$b_lsn = $b->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
$m->poll_query_until('postgres',
	qq{SELECT count(*) = $many FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	   WHERE s.server LIKE 'srv\\_many\\_%' AND w.status <> 'ERROR'
	   AND w.wal_lsn + w.replication_lag_bytes >= '$b_lsn'})
  or die 'the worker did not follow 21 servers';
pass("the worker follows $many more servers of B, 21 in all");
my $cycles = msql(q{SELECT cycles FROM walmon_worker_status()});
$m->poll_query_until('postgres', qq{SELECT cycles > $cycles FROM walmon_worker_status()})
  or die 'the worker stopped cycling';
pass('and keeps cycling');

kill 'KILL', $hang_pid;
waitpid($hang_pid, 0);
$hang_pid = 0;
$m->stop;
$b->stop;
done_testing();
