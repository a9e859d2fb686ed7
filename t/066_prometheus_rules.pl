# contrib/prometheus/walmon_alerts.yml: every alert has a severity, a
# summary and a description; walmon_alerts_test.yml tests every alert both
# firing and not firing; "promtool check rules" accepts the rules and
# "promtool test rules" passes their tests (both skipped, and counted,
# without promtool: Debian's package prometheus).  That the alerts read
# series walmon really exports is checked where the series are:
# t/065_prometheus.pl (walmon_prometheus()) and t/060_postgres_exporter.pl.
use strict;
use warnings;

use Test::More;
use IPC::Run;
use File::Spec;
use CPAN::Meta::YAML;

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

my $rules_file = File::Spec->rel2abs('contrib/prometheus/walmon_alerts.yml');
my $tests_file = File::Spec->rel2abs('contrib/prometheus/walmon_alerts_test.yml');

sub read_yaml
{
	my ($file) = @_;
	my $y = CPAN::Meta::YAML->read($file)
	  or BAIL_OUT("cannot read $file: " . CPAN::Meta::YAML->errstr);
	return $y->[0];
}

my $rules = read_yaml($rules_file);
my $tests = read_yaml($tests_file);

my @alerts = grep { $_->{alert} } map { @{ $_->{rules} } } @{ $rules->{groups} };
ok(@alerts >= 10, 'the rules file has its alerts (' . scalar(@alerts) . ')');
is( join(' ', sort map { $_->{alert} } @alerts),
	'WalmonDiskFullForecast WalmonReplicationLagBytes WalmonReplicationLagSeconds '
	  . 'WalmonSlotCatalogXminAge WalmonSlotInactive WalmonSlotInvalidationForecast '
	  . 'WalmonSlotXminAge WalmonSourceError WalmonWorkerDown WalmonWorkerErrors '
	  . 'WalmonWorkerStalled',
	'the alerts README.md documents');

is_deeply($tests->{rule_files}, ['walmon_alerts.yml'], 'the tests load the rules file');
my (%fires, %quiet);
for my $t (@{ $tests->{tests} })
{
	for my $case (@{ $t->{alert_rule_test} // [] })
	{
		if (@{ $case->{exp_alerts} // [] })
		{
			$fires{ $case->{alertname} }++;
		}
		else
		{
			$quiet{ $case->{alertname} }++;
		}
	}
}
for my $a (@alerts)
{
	my $name = $a->{alert};
	ok($a->{labels}{severity} && $a->{labels}{severity} =~ /^(warning|critical)$/,
		"$name has a severity");
	ok($a->{annotations}{summary} && $a->{annotations}{description},
		"$name has a summary and a description");
	ok($fires{$name}, "$name is tested firing");
	ok($quiet{$name}, "$name is tested not firing");
}
my %known = map { $_->{alert} => 1 } @alerts;
is(join(' ', grep { !$known{$_} } sort(keys %fires, keys %quiet)),
	'', 'the tests test no alert the rules do not have');

SKIP:
{
	skip 'promtool is not installed (Debian: prometheus)', 4
	  unless $promtool && -x $promtool;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $promtool, 'check', 'rules', $rules_file ],
		'>', \$out, '2>', \$err);
	ok($ok, 'promtool check rules accepts the rules') or diag("$out$err");
	like($out, qr/SUCCESS: ${\ scalar(@alerts)} rules found/, 'all of them');

	($out, $err) = ('', '');
	$ok = IPC::Run::run([ $promtool, 'test', 'rules', $tests_file ],
		'>', \$out, '2>', \$err);
	ok($ok, 'promtool test rules: the unit tests pass') or diag("$out$err");
	unlike("$out$err", qr/FAILED/, 'none failed');
}

done_testing();
