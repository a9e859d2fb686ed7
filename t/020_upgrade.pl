# Extension upgrades: for every installable version of walmon with an
# update path to the default version, an install of that version updated
# with ALTER EXTENSION walmon UPDATE must have exactly the catalog of a fresh
# install of the default version.  The comparison is pg_dump
# --binary-upgrade --schema-only, which lists every member object of the
# extension (a plain schema-only dump shows only CREATE EXTENSION).
#
# While 1.0 is the only version this compares nothing but still proves the
# comparison works; the first upgrade script is tested without anyone
# having to remember it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'walmon'\n");
$node->start;

# The member objects of walmon in a database, as pg_dump describes them,
# without what differs between any two databases: the OIDs and frozen xids
# binary-upgrade mode pins, and the random key of \restrict (recent pg_dump
# releases).
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
		s/'\{[0-9,]*\}'/'{oids}'/g;
		s/(relfrozenxid|relminmxid) = '\d+'/$1 = 'n'/g;
		s/oid = '\d+'/oid = 'n'/g;
	}
	return join("\n", @lines);
}

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'walmon'");
ok($default ne '', "default version is $default");

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION walmon');
my $fresh = catalog_of('fresh');
like($fresh, qr/CREATE TABLE public\.wal_monitor /,
	'the binary-upgrade dump lists the extension\'s member objects');

# the comparison itself: a second fresh install compares equal
$node->safe_psql('postgres', 'CREATE DATABASE fresh2');
$node->safe_psql('fresh2', 'CREATE EXTENSION walmon');
is(catalog_of('fresh2'), $fresh, 'two fresh installs have identical catalogs');

# every other installable version must lead to the default one
my @versions = split /\n/, $node->safe_psql('postgres', qq{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'walmon' AND version <> '$default' ORDER BY version});
my %path = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('postgres', qq{
	SELECT source, coalesce(path, '') FROM pg_extension_update_paths('walmon')
	WHERE target = '$default'});

note(@versions
	? 'older versions: ' . join(', ', @versions)
	: "no version but $default yet: nothing to upgrade");
foreach my $v (@versions)
{
	ok(($path{$v} // '') ne '', "version $v has an update path to $default");
	my $db = "from_$v";
	$db =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION walmon VERSION '$v'");
	$node->safe_psql($db, 'ALTER EXTENSION walmon UPDATE');
	is($node->safe_psql($db,
			"SELECT extversion FROM pg_extension WHERE extname = 'walmon'"),
		$default, "$v updated to $default");
	is(catalog_of($db), $fresh,
		"$v updated to $default has the catalog of a fresh $default install");
}

$node->stop;
done_testing();
