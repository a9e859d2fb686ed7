# walmon runs its statements as the extension's owner, a superuser.  No
# role that is not trusted may ever get its code run that way: not by
# renaming walmon's schema out of the way and planting look-alike tables
# under the old name, not by owning the schema walmon was installed in.
#
# The attacker is a role with CREATE on the database (and, in the second
# database, the owner of walmon's schema).  Every object it plants calls a
# function that records current_user in a table anyone may write, warns
# "pwned by <user>" in the server log and tries COPY ... TO PROGRAM; the
# test asserts that none of it ever ran, while a pooled session that used
# walmon before the rename and the background worker keep working on
# walmon's own tables.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init(allows_streaming => 1);
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'walmon'
walmon.database = 'postgres'
walmon.naptime = '200ms'
max_replication_slots = 10
});
$node->start;

my $proof = $node->basedir . '/pwned';

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

sub cycles
{
	return sql('postgres', 'SELECT cycles FROM walmon_home.walmon_worker_status()');
}

sub wait_cycles
{
	my ($n) = @_;
	my $c = cycles();
	$node->poll_query_until('postgres',
		"SELECT cycles >= $c + $n FROM walmon_home.walmon_worker_status()")
	  or die "the walmon worker made no progress";
}

# The attacker's kit: a table of proofs anyone can write, and a function
# every planted object calls.
sub plant_kit
{
	my ($db, $schema) = @_;
	sql(
		$db, qq{
		SET ROLE mallory;
		CREATE SCHEMA IF NOT EXISTS mallory;
		CREATE TABLE IF NOT EXISTS mallory.proof (who name, what text);
		GRANT USAGE ON SCHEMA mallory TO PUBLIC;
		GRANT INSERT, SELECT ON mallory.proof TO PUBLIC;
		CREATE OR REPLACE FUNCTION mallory.pwn(what text) RETURNS void
		LANGUAGE plpgsql AS \$\$
		BEGIN
			INSERT INTO mallory.proof VALUES (current_user, what);
			RAISE WARNING 'pwned by %: %', current_user, what;
			BEGIN
				EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch $proof''';
			EXCEPTION WHEN OTHERS THEN NULL;
			END;
		END \$\$;
		GRANT EXECUTE ON FUNCTION mallory.pwn(text) TO PUBLIC;
		CREATE OR REPLACE FUNCTION mallory.pwn_trigger() RETURNS trigger
		LANGUAGE plpgsql AS \$\$
		BEGIN
			PERFORM mallory.pwn(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME || ' ' || TG_OP);
			RETURN NULL;
		END \$\$;
		RESET ROLE;});
}

# Look-alike tables (same names and columns as walmon's, each with
# triggers calling the kit) and functions and an operator that shadow
# pg_catalog's, in a schema the attacker controls.
sub plant_lookalikes
{
	my ($db, $schema) = @_;
	my $tables = '';
	foreach my $t (
		[ 'walmon_source', 'id int, name text, slot_name name, created_at timestamptz' ],
		[
			'wal_monitor',
			'id int, source_id int, wal_lsn pg_lsn, wal_position bigint, '
			  . 'last_wal_received timestamptz, last_transaction_time timestamptz, '
			  . 'replication_slot_name text, replication_lag_bytes bigint, status text, '
			  . 'error_message text, created_at timestamptz, updated_at timestamptz, '
			  . 'retained_wal_bytes bigint, wal_status text, safe_wal_size bigint, '
			  . 'inactive_since timestamptz'
		],
		[
			'wal_monitor_history',
			'id bigint, source_id int, old_status text, new_status text, error_message text, '
			  . 'wal_lsn pg_lsn, replication_lag_bytes bigint, changed_at timestamptz'
		],
		[
			'wal_metrics',
			'id bigint, source_id int, sampled_at timestamptz, wal_lsn pg_lsn, '
			  . 'replication_lag_bytes bigint, status text'
		])
	{
		my ($name, $cols) = @$t;
		$tables .= qq{
			CREATE TABLE $schema.$name ($cols);
			INSERT INTO $schema.$name (id) VALUES (1), (2);
			GRANT ALL ON $schema.$name TO PUBLIC;
			CREATE TRIGGER pwn_row BEFORE INSERT OR UPDATE OR DELETE ON $schema.$name
				FOR EACH ROW EXECUTE FUNCTION mallory.pwn_trigger();
			CREATE TRIGGER pwn_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON $schema.$name
				FOR EACH STATEMENT EXECUTE FUNCTION mallory.pwn_trigger();
			CREATE RULE pwn_select AS ON INSERT TO $schema.$name
				DO ALSO SELECT mallory.pwn('rule on $name');};
	}
	sql(
		$db, qq{
		SET ROLE mallory;
		$tables
		CREATE SEQUENCE $schema.walmon_source_id_seq;
		CREATE SEQUENCE $schema.wal_monitor_id_seq;
		CREATE FUNCTION $schema.now() RETURNS timestamptz LANGUAGE sql
			AS \$\$ SELECT mallory.pwn('now()'); SELECT pg_catalog.now() \$\$;
		CREATE FUNCTION $schema.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql
			AS \$\$ SELECT mallory.pwn('unnest()'); SELECT pg_catalog.unnest(\$1) \$\$;
		CREATE FUNCTION $schema.int4eq_pwn(int, int) RETURNS bool LANGUAGE sql
			AS \$\$ SELECT mallory.pwn('='); SELECT \$1 OPERATOR(pg_catalog.=) \$2 \$\$;
		CREATE OPERATOR $schema.= (FUNCTION = $schema.int4eq_pwn, LEFTARG = int, RIGHTARG = int);
		GRANT USAGE ON SCHEMA $schema TO PUBLIC;
		RESET ROLE;});
}

sub no_proof
{
	my ($what) = @_;
	my $proofs = '';
	foreach my $db (split /\n/,
		sql('postgres', q{SELECT datname FROM pg_database WHERE datname IN ('postgres', 'db2')}))
	{
		$proofs .= sql($db,
			q{SELECT coalesce(string_agg(who || ': ' || what, '; '), '') FROM mallory.proof}
		) if sql($db, q{SELECT to_regclass('mallory.proof') IS NOT NULL}) eq 't';
	}
	is($proofs, '', "$what: no code of the attacker ran");
	ok(!-e $proof, "$what: COPY ... TO PROGRAM never ran");
	my $log = slurp_file($node->logfile);
	unlike($log, qr/WARNING:  pwned by/, "$what: nothing of the attacker's in the server log");
}

# ---- database postgres: walmon in public, the worker working there ----

sql('postgres', 'CREATE EXTENSION walmon');
sql('postgres', q{CREATE ROLE mallory LOGIN; GRANT CREATE ON DATABASE postgres TO mallory});
sql('postgres',
	q{SELECT walmon_add_source('app'), pg_create_physical_replication_slot('phys1', true)});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM wal_monitor w JOIN walmon_source s ON s.id = w.source_id
	  WHERE s.slot_name = 'phys1'})
  or die 'the worker did not register phys1';
plant_kit('postgres');

# a pooled session: it used walmon before, so its plans are kept
my $pooled = $node->background_psql('postgres', on_error_stop => 0);
$pooled->query_safe(q{SELECT status FROM walmon_upsert(1, '0/1')});
$pooled->query_safe(q{SELECT count(*) FROM walmon_upsert_batch('[{"source_id": 1}]')});
$pooled->query_safe(q{SELECT walmon_prometheus()});

# the DBA renames walmon's schema
sql('postgres', 'ALTER SCHEMA public RENAME TO walmon_home');
my $errors = sql('postgres', q{SELECT coalesce(last_error, 'none') FROM walmon_home.walmon_worker_status()});

# the rename alone: the pooled session and the worker follow it
# (trimmed: PostgreSQL 16.2's BackgroundPsql can leave a newline around
# a result)
is( $pooled->query_safe(
		q{SELECT status || ' ' || wal_lsn FROM walmon_home.walmon_upsert(1, '0/2')})
	  =~ s/^\s+|\s+\z//gr,
	'ACTIVE 0/2',
	'after the rename, a pooled session upserts into walmon\'s own table');
sql('postgres', q{SELECT pg_drop_replication_slot('phys1')});
$node->poll_query_until('postgres',
	q{SELECT w.status = 'ERROR' FROM walmon_home.wal_monitor w
	  JOIN walmon_home.walmon_source s ON s.id = w.source_id WHERE s.slot_name = 'phys1'})
  or die 'the worker did not follow the rename';
pass('after the rename, the worker refreshes walmon\'s own rows');

# the attacker takes the old name
$node->safe_psql('postgres', 'CREATE SCHEMA public AUTHORIZATION mallory', );
plant_lookalikes('postgres', 'public');

my @calls = (
	q{SELECT status FROM walmon_home.walmon_upsert(1, '0/3')},
	q{SELECT status FROM walmon_home.walmon_upsert_batch('[{"source_id": 1, "wal_lsn": "0/4"}]')},
	q{SELECT status FROM walmon_home.walmon_set_status(1, 'ERROR', 'set by the pool')},
	q{SELECT count(*) FROM walmon_home.walmon_status()},
	q{SELECT length(walmon_home.walmon_prometheus()) > 0},
	q{SELECT walmon_home.walmon_add_source('pool-added') > 0},
	q{SELECT walmon_home.walmon_add_source('pool-fixed', id => 500)},
	q{SELECT walmon_home.walmon_drop_source(500)},
	q{SELECT walmon_home.walmon_delete(1)},
	q{SELECT status FROM walmon_home.walmon_upsert(1, '0/5')},
	q{SELECT walmon_home.walmon_refresh() >= 0},
	q{SELECT count(*) FROM walmon_home.walmon_overview});
foreach my $call (@calls)
{
	my $ok = eval { $pooled->query_safe($call); 1 };
	ok($ok, "pooled session, after the takeover: $call") or diag($@);
}
is( sql('postgres',
		q{SELECT wal_lsn || ' ' || status FROM walmon_home.wal_monitor WHERE source_id = 1}),
	'0/5 ACTIVE',
	'the pooled session wrote walmon\'s own table');
is(sql('postgres', 'SELECT count(*) FROM public.wal_monitor'),
	'2', 'the look-alike table was not touched');

# the worker: a new slot is registered in walmon's own table
sql('postgres', q{SELECT pg_create_physical_replication_slot('phys2', true)});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM walmon_home.wal_monitor w
	  JOIN walmon_home.walmon_source s ON s.id = w.source_id WHERE s.slot_name = 'phys2'})
  or die 'the worker did not register phys2';
pass('after the takeover, the worker registers a new slot in walmon\'s own tables');
wait_cycles(3);
is(sql('postgres', q{SELECT coalesce(last_error, 'none') FROM walmon_home.walmon_worker_status()}),
	$errors, 'no worker cycle failed through the rename and the takeover');
no_proof('database postgres');

# a new session after the takeover, with the attacker's schema first
is( sql('postgres',
		q{SET search_path = public, walmon_home;
		  SELECT status FROM walmon_home.walmon_upsert(1, '0/6')}),
	'ACTIVE', 'a new session with the look-alikes on its search_path');
no_proof('a new session');
$pooled->quit;

# ---- database db2: walmon in a schema the attacker owns ----

sql('postgres', 'CREATE DATABASE db2');
sql('db2', q{CREATE ROLE mallory2; GRANT CREATE ON DATABASE db2 TO mallory});
sql('db2', 'CREATE SCHEMA m AUTHORIZATION mallory');
sql('db2', 'CREATE EXTENSION walmon SCHEMA m');
plant_kit('db2');
my $pooled2 = $node->background_psql('db2', on_error_stop => 0);
$pooled2->query_safe(q{SELECT m.walmon_add_source('a'), m.walmon_add_source('b')});
$pooled2->query_safe(q{SELECT status FROM m.walmon_upsert(1, '0/1')});
$pooled2->query_safe(q{SELECT count(*) FROM m.walmon_upsert_batch('[{"source_id": 2}]')});

# the schema's owner moves walmon aside and plants look-alikes under its
# name, and shadows pg_catalog's functions and operators inside walmon's
# own schema
$node->safe_psql('db2',
	q{SET ROLE mallory; ALTER SCHEMA m RENAME TO m_old; CREATE SCHEMA m; RESET ROLE});
plant_lookalikes('db2', 'm');
$node->safe_psql(
	'db2', q{
	SET ROLE mallory;
	CREATE FUNCTION m_old.now() RETURNS timestamptz LANGUAGE sql
		AS $$ SELECT mallory.pwn('m_old.now()'); SELECT pg_catalog.now() $$;
	CREATE FUNCTION m_old.int4eq_pwn(int, int) RETURNS bool LANGUAGE sql
		AS $$ SELECT mallory.pwn('m_old.='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
	CREATE OPERATOR m_old.= (FUNCTION = m_old.int4eq_pwn, LEFTARG = int, RIGHTARG = int);
	RESET ROLE;});

# what the schema's owner still cannot do
my ($rc, $out, $err) = $node->psql('db2',
	q{SET ROLE mallory; DROP TABLE m_old.wal_monitor CASCADE});
like($err, qr/extension walmon requires it|must be owner/,
	'the schema\'s owner cannot drop walmon\'s table');
($rc, $out, $err) = $node->psql('db2',
	q{SET ROLE mallory; CREATE TRIGGER t AFTER INSERT ON m_old.wal_monitor
	  FOR EACH ROW EXECUTE FUNCTION mallory.pwn_trigger()});
like($err, qr/permission denied|must be owner/,
	'the schema\'s owner cannot put a trigger on walmon\'s table');

foreach my $call (
	q{SELECT status FROM m_old.walmon_upsert(1, '0/2')},
	q{SELECT count(*) FROM m_old.walmon_upsert_batch('[{"source_id": 1}, {"source_id": 2, "status": "IDLE"}]')},
	q{SELECT status FROM m_old.walmon_set_status(2, 'ERROR', 'x')},
	q{SELECT m_old.walmon_add_source('c', id => 42)},
	q{SELECT m_old.walmon_refresh()},
	q{SELECT length(m_old.walmon_prometheus()) > 0},
	q{SELECT m_old.walmon_drop_source(42)})
{
	my $ok = eval { $pooled2->query_safe($call); 1 };
	ok($ok, "pooled session in db2: $call") or diag($@);
}
is( sql('db2',
		q{SELECT string_agg(source_id || ' ' || status, ', ' ORDER BY source_id) FROM m_old.wal_monitor
		  WHERE source_id IN (1, 2)}),
	'1 ACTIVE, 2 ERROR',
	'walmon wrote its own tables in the renamed schema');
$pooled2->quit;
no_proof('database db2');

$node->stop;
done_testing();
