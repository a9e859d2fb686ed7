# The upgrade from 1.0 to 1.1 of an install with data: everything written
# through 1.0's API (sources with generated and explicit ids, a dropped
# source, upserts, status changes and their history, a batch, sources bound
# to slots, samples) survives ALTER EXTENSION walmon UPDATE row for row, id
# for id, with every sequence where it was; the updated catalog is a fresh
# 1.1 install's; and the updated install works.  Fails when the upgrade
# script rewrites or loses a row, moves a sequence, leaves the catalog
# different from a fresh install, or leaves something 1.1 needs missing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('upgrade_data');
$node->init(allows_streaming => 1);
# the worker works in database postgres, which has no walmon: it leaves
# the upgraded database to the test
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
});
$node->start;

sub sql { return $node->safe_psql('up', $_[0]); }

# as t/020_upgrade.pl: the member objects of walmon, as pg_dump describes
# them, without the OIDs and frozen xids binary-upgrade mode pins, and
# without the sequences' positions
sub catalog_of
{
	my ($db) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $node->connstr($db) ],
		'>', \$stdout, '2>', \$stderr);
	die "pg_dump $db failed: $stderr" unless $ok;
	my @lines = grep {
		!/binary_upgrade_set_next_|^--|^\s*$|^\\(un)?restrict /
	} split /\n/, $stdout;
	foreach (@lines)
	{
		# binary-upgrade mode dumps the sequences' positions, which are
		# data: this test compares them exactly, before and after
		s/(pg_catalog\.setval\('[^']+'), \d+, (true|false)\)/$1, n, b)/;
		s/'\{[0-9,]*\}'/'{oids}'/g;
		s/(relfrozenxid|relminmxid) = '\d+'/$1 = 'n'/g;
		s/oid = '\d+'/oid = 'n'/g;
	}
	return join("\n", @lines);
}

$node->safe_psql('postgres', 'CREATE DATABASE up');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION walmon');

sql(q{CREATE EXTENSION walmon VERSION '1.0'});
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'walmon'}), '1.0',
	'walmon 1.0 installed');

# ---- 1.0, filled through its API ----
is( sql(q{
	SELECT walmon_add_source('orders-db');
	SELECT walmon_add_source('legacy-db', id => 100);
	SELECT walmon_add_source('billing-db', 'billing_slot');
	SELECT walmon_add_source('s1', 's1');
	SELECT walmon_add_source('gone');
	SELECT walmon_drop_source(105);
	SELECT walmon_add_source('unbound');}),
	"1\n100\n101\n102\n103\nf\n104",
	'sources with generated and explicit ids; a generated id after an explicit one');
is(sql(q{SELECT walmon_drop_source(103)}), 't', 'a source dropped: a gap in the ids');
sql(q{
	SELECT walmon_upsert(1, wal_lsn => '0/1A2B3C4D');
	SELECT walmon_upsert(1, wal_lsn => '0/1A2B3C5E', replication_lag_bytes => 2048,
	                     last_transaction_time => '2026-01-02 03:04:05+00');
	SELECT walmon_set_status(1, 'ERROR', 'Connection timeout');
	SELECT walmon_set_status(1, 'active');
	SELECT walmon_upsert(100, status => 'idle');
	SELECT walmon_delete(100);
	SELECT walmon_upsert(100, status => 'ERROR', error_message => 'replica "db2" unreachable');
	SELECT count(*) FROM walmon_upsert_batch('[
		{"source_id": 101, "wal_lsn": "0/3000000", "replication_slot_name": "billing_slot",
		 "replication_lag_bytes": 10},
		{"source_id": 102, "wal_lsn": "0/3000010", "replication_slot_name": "s1", "status": "idle"},
		{"source_id": 104, "wal_position": 42, "status": "idle"}]');
	INSERT INTO wal_metrics (source_id, sampled_at, wal_lsn, replication_lag_bytes, status)
	VALUES (1, now() - interval '2 hours', '0/1A2B3C4D', 0, 'ACTIVE'),
	       (1, now() - interval '1 hour', '0/1A2B3C5E', 2048, 'ACTIVE'),
	       (101, now() - interval '30 minutes', '0/3000000', 10, 'ACTIVE');
	INSERT INTO wal_metrics (id, source_id, sampled_at, status)
	VALUES (500, 100, now() - interval '10 minutes', 'ERROR');
});

my ($code, $out, $err) = (0, '', '');
$code = $node->psql('up', 'SELECT walmon_refresh()', stdout => \$out, stderr => \$err);
like($err, qr/the installed version of extension "walmon" is older than its library/,
	'the 1.1 library refuses walmon_refresh() on the 1.0 schema');

# every row of every table in 1.0's columns, and every sequence
my %columns;
foreach my $t (qw(walmon_source wal_monitor wal_monitor_history wal_metrics))
{
	$columns{$t} = sql(qq{SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$t'});
}
my @sequences = split /\n/, sql(q{
	SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'walmon'
	WHERE c.relkind = 'S' ORDER BY 1});
is(scalar @sequences, 4, 'walmon 1.0 has four sequences: ' . join(', ', @sequences));

sub contents
{
	my %c;
	foreach my $t (sort keys %columns)
	{
		$c{$t} = sql("SELECT $columns{$t} FROM $t ORDER BY id");
	}
	foreach my $s (@sequences)
	{
		$c{$s} = sql("SELECT last_value, is_called FROM $s");
	}
	return \%c;
}
my $before = contents();
is(scalar(() = $before->{walmon_source} =~ /\n/g) + 1, 5, 'five sources');
is(scalar(() = $before->{wal_monitor} =~ /\n/g) + 1, 5, 'five monitor rows');
like($before->{wal_monitor_history}, qr/ACTIVE\|ERROR\|Connection timeout/,
	'the history holds the status changes');
note("before the update: $_ = " . ($before->{$_} =~ tr/\n/\n/ + 1) . ' rows'
	  . ($_ =~ /seq$/ ? " ($before->{$_})" : ''))
  foreach sort keys %$before;

# ---- the update ----
sql('ALTER EXTENSION walmon UPDATE');
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'walmon'}), '1.1', 'updated to 1.1');

my $after = contents();
foreach my $k (sort keys %$before)
{
	is($after->{$k}, $before->{$k}, "$k: every row and value kept"
		  . ($k =~ /seq$/ ? " (last_value, is_called = $before->{$k})" : ''));
}
is( sql(q{SELECT string_agg(id || ':' || auto_registered || ':' || coalesce(server::text, '-'), ',' ORDER BY id)
		  FROM walmon_source}),
	'1:false:-,100:false:-,101:false:-,102:true:-,104:false:-',
	'1.1\'s walmon_source columns: auto_registered for the source named after its slot, no server');
is( sql(q{SELECT count(*) FROM wal_monitor
		  WHERE replication_lag_seconds IS NULL AND seconds_to_invalidation IS NULL
		    AND xmin_age IS NULL AND catalog_xmin_age IS NULL AND conflicting IS NULL
		    AND failover IS NULL AND synced IS NULL AND invalidation_reason IS NULL}),
	'5', "1.1's wal_monitor columns are NULL in the rows 1.0 wrote");
is( sql(q{SELECT count(*) FILTER (WHERE spill_bytes IS NULL AND stream_bytes IS NULL) || '/' || count(*)
		  FROM wal_metrics}),
	sql('SELECT count(*) FROM wal_metrics') . '/' . sql('SELECT count(*) FROM wal_metrics'),
	"1.1's wal_metrics columns are NULL in the samples 1.0 took");
cmp_ok(sql('SELECT count(*) FROM wal_metrics'), '>', 0, 'and 1.0 took samples');
is(sql('SELECT count(*) FROM walmon_ignored_slot'), '0', 'walmon_ignored_slot is empty');

my ($cat_up, $cat_fresh) = (catalog_of('up'), catalog_of('fresh'));
ok($cat_up eq $cat_fresh,
	'the updated install with its data has the catalog of a fresh 1.1 install')
  or do
{
	my $dir = $PostgreSQL::Test::Utils::tmp_check;
	append_to_file("$dir/021_catalog_up.sql", "$cat_up\n");
	append_to_file("$dir/021_catalog_fresh.sql", "$cat_fresh\n");
	my ($diff, $e);
	IPC::Run::run([ 'diff', '-u', "$dir/021_catalog_fresh.sql", "$dir/021_catalog_up.sql" ],
		'>', \$diff, '2>', \$e);
	diag($diff);
};

# ---- the updated install works ----
my $monitor_seq = $after->{wal_monitor_id_seq};
is( sql(q{SELECT id, wal_lsn, replication_lag_bytes, status
		  FROM walmon_upsert(1, wal_lsn => '0/1A2B3D00', replication_lag_bytes => 0)}),
	sql(q{SELECT id FROM wal_monitor WHERE source_id = 1}) . '|0/1A2B3D00|0|ACTIVE',
	'an upsert updates the same row');
is(sql('SELECT last_value, is_called FROM wal_monitor_id_seq'), $monitor_seq,
	'and consumes no monitor id');
is(sql(q{SELECT walmon_add_source('after-update')}), '105',
	'a new source gets the next id after those of 1.0');
is(sql(q{SELECT walmon_add_source('remote-bound', 'rslot', server => NULL)}), '106',
	"1.1's walmon_add_source");

sql(q{SELECT pg_create_physical_replication_slot('billing_slot', true),
	         pg_create_physical_replication_slot('s1', true)});
cmp_ok(sql('SELECT walmon_refresh()'), '>=', 2, 'walmon_refresh() works on the updated install');
# (1.0's samples are 10 minutes old and older)
is( sql(q{SELECT string_agg(s.name || ':' || coalesce(m.spill_bytes::text, 'null')
		                     || ':' || coalesce(m.stream_bytes::text, 'null'), ',' ORDER BY s.id)
		   FROM wal_metrics m JOIN walmon_source s ON s.id = m.source_id
		   WHERE m.sampled_at > now() - interval '5 minutes'}),
	'orders-db:null:null,billing-db:null:null,s1:null:null,unbound:null:null,remote-bound:null:null',
	'it samples every changed monitor, and no sample (of a physical slot, of no slot) has decoding statistics');
is( sql(q{SELECT string_agg(s.name || ':' || w.status || ':' || (w.wal_lsn = r.restart_lsn)
		                    || ':' || (w.retained_wal_bytes IS NOT NULL) || ':' || w.wal_status,
		                    ',' ORDER BY s.id)
		  FROM walmon_source s JOIN wal_monitor w ON w.source_id = s.id
		  JOIN pg_replication_slots r ON r.slot_name = s.slot_name}),
	'billing-db:IDLE:true:true:reserved,s1:IDLE:true:true:reserved',
	'the sources 1.0 bound to slots follow them');
is( sql(q{SELECT string_agg(coalesce(old_status, '-') || '>' || new_status, ',' ORDER BY id)
		  FROM wal_monitor_history WHERE source_id = 101}),
	'->ACTIVE,ACTIVE>IDLE', 'and their history goes on');
is(sql(q{SELECT count(*) FROM walmon_overview}), '7', 'walmon_overview shows every source');
like(sql('SELECT walmon_prometheus()'), qr/walmon_status\{source_id="101",source="billing-db",slot="billing_slot",server="",status="IDLE"\} 1/,
	'walmon_prometheus() too');

$node->stop;
done_testing();
