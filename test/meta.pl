#!/usr/bin/perl
#
# test/meta.pl: META.json against the PGXN Meta Spec 1.0.0
# (https://pgxn.org/spec/), offline, and against the versions the rest of
# the distribution declares.  Prints one "ok - ..." or "not ok - ..." line
# per check; exits 1 when any failed.
#
#   perl test/meta.pl [path/to/META.json]    (default: the tree's own)
#
# Files the META.json names are looked up next to it, so the same check
# runs on an unpacked release archive.

use strict;
use warnings;
use File::Basename qw(dirname);
use JSON::PP;

my $file = shift // dirname(__FILE__) . '/../META.json';
my $top = dirname($file);
my $failed = 0;

sub check {
	my ($what, $ok) = @_;
	print $ok ? "ok - $what\n" : "not ok - $what\n";
	$failed++ unless $ok;
	return $ok;
}

sub slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return undef;
	local $/;
	return scalar <$fh>;
}

sub is_str { my ($v) = @_; return defined $v && !ref $v && length $v; }
sub is_hash { my ($v) = @_; return ref $v eq 'HASH'; }

# Semantic Versioning 1.0.0, which the spec's versions follow
my $semver = qr/^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:[A-Za-z][0-9A-Za-z-]*)?$/;
# a prereq's version: 0, a semver, or comparisons of semvers joined by commas
my $cmp = qr/(?:(?:[<>]=?|==|!=)\s*)?\d+\.\d+\.\d+[0-9A-Za-z-]*/;
my $range = qr/^(?:0|$cmp(?:\s*,\s*$cmp)*)$/;
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1
	artistic_2 bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1
	lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql qpl_1_0
	ssleay sun zlib open_source restricted unrestricted unknown);

my $text = slurp($file);
check("$file is readable", defined $text) or exit 1;
my $meta = eval { JSON::PP->new->utf8->decode($text) };
check("META.json is a JSON object" . ($@ ? ": $@" : ''), is_hash($meta)) or exit 1;

# the required keys
for my $key (qw(name abstract version maintainer license provides meta-spec)) {
	check("has the required key \"$key\"", exists $meta->{$key});
}
my $version = is_str($meta->{version}) ? $meta->{version} : '';
check("name is two or more characters, no whitespace or slashes",
	is_str($meta->{name}) && $meta->{name} =~ /^[^\s\/\\]{2,}$/);
check("abstract is a string", is_str($meta->{abstract}));
check("version \"$version\" is a semantic version", $version =~ $semver);
my $m = $meta->{maintainer};
check("maintainer is a string or a list of strings",
	is_str($m) || (ref $m eq 'ARRAY' && @$m && !grep { !is_str($_) } @$m));
my $l = $meta->{license};
check("license is one the spec names (or a list of them, or name => URL)",
	(is_str($l) && $licenses{$l})
	|| (ref $l eq 'ARRAY' && @$l && !grep { !is_str($_) || !$licenses{$_} } @$l)
	|| (is_hash($l) && %$l && !grep { !is_str($_) } values %$l));
my $spec = $meta->{'meta-spec'};
check("meta-spec.version is 1.0.0", is_hash($spec) && ($spec->{version} // '') eq '1.0.0');

my $p = $meta->{provides};
if (check("provides names at least one extension", is_hash($p) && %$p)) {
	for my $ext (sort keys %$p) {
		my $e = is_hash($p->{$ext}) ? $p->{$ext} : {};
		check("provides.$ext.file names a file of the distribution",
			is_str($e->{file}) && -f "$top/$e->{file}");
		check("provides.$ext.version is a semantic version",
			is_str($e->{version}) && $e->{version} =~ $semver);
		check("provides.$ext.docfile names a file of the distribution",
			!exists $e->{docfile} || (is_str($e->{docfile}) && -f "$top/$e->{docfile}"));
	}
}

# the optional keys walmon uses, in the spec's shapes
my $pr = $meta->{prereqs};
my $ok = !defined $pr || is_hash($pr);
for my $phase (is_hash($pr) ? keys %$pr : ()) {
	my $rels = $pr->{$phase};
	$ok &&= $phase =~ /^(?:configure|build|runtime|test|develop)$/ && is_hash($rels);
	for my $rel (is_hash($rels) ? keys %$rels : ()) {
		my $reqs = $rels->{$rel};
		$ok &&= $rel =~ /^(?:requires|recommends|suggests|conflicts)$/ && is_hash($reqs);
		for my $v (is_hash($reqs) ? values %$reqs : ()) {
			$ok &&= is_str($v) && $v =~ $range;
		}
	}
}
check("prereqs has the spec's phases, relationships and versions", $ok);
check("prereqs.runtime.requires names PostgreSQL",
	is_hash($pr) && is_hash($pr->{runtime}) && is_hash($pr->{runtime}{requires})
	&& is_str($pr->{runtime}{requires}{PostgreSQL}));
check("release_status is stable, testing or unstable",
	!exists $meta->{release_status}
	|| (is_str($meta->{release_status}) && $meta->{release_status} =~ /^(?:stable|testing|unstable)$/));
my $tags = $meta->{tags};
check("tags is a list of strings of at most 255 characters",
	!exists $meta->{tags} || (ref $tags eq 'ARRAY' && !grep { !is_str($_) || length($_) > 255 } @$tags));
my $res = $meta->{resources};
check("resources is an object of the spec's keys",
	!exists $meta->{resources}
	|| (is_hash($res) && !grep { !/^(?:homepage|bugtracker|repository|x_.*|X_.*)$/ } keys %$res));

# walmon's own rule: the PGXN version is the extension's version with a
# patch number (1.1.0 for extension version 1.1; a release changing only C
# code would be 1.1.1), Debian's upstream version is the PGXN version
# without a trailing ".0".
my $control = slurp("$top/walmon.control") // '';
my ($default) = $control =~ /^\s*default_version\s*=\s*'([^']*)'/m;
$default //= '';
my $w = is_hash($p) && is_hash($p->{walmon}) ? $p->{walmon} : {};
check("describes the extension walmon", ($meta->{name} // '') eq 'walmon' && %$w);
my ($major_minor) = $version =~ /^(\d+\.\d+)\./;
check("version $version is a release of walmon.control's default_version '$default'",
	defined $major_minor && $major_minor eq $default);
check("provides.walmon.version is the distribution's version", ($w->{version} // '') eq $version);
my $changelog = slurp("$top/debian/changelog") // '';
my ($deb) = $changelog =~ /^walmon \(([^)]*)\)/;
$deb //= '';
(my $upstream = $deb) =~ s/-[^-]*$//;
(my $short = $version) =~ s/\.0$//;
check("debian/changelog's version '$deb' is the same release as $version",
	$short ne '' && $upstream eq $short);

exit($failed ? 1 : 0);
