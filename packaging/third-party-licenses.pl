#!/usr/bin/env perl
# The licences of every crate compiled into the shipped binaries (bifsmn-workbench, bifsmn,
# bifsmn-runner), for /usr/share/doc/bifsmn-workbench/THIRD-PARTY-LICENSES.
#
#   packaging/third-party-licenses.pl > THIRD-PARTY-LICENSES
#
# Reads `cargo metadata` (Cargo.lock, Linux x86-64), follows normal dependencies (not build or
# dev ones) from the workspace crates listed in @shipped, and prints a summary table
# followed by each crate's licence files (LICENSE*, COPYING*, NOTICE*, UNLICENSE*), printed once
# per distinct text. Perl with core modules only (dpkg-dev already needs perl).
use strict;
use warnings;
use JSON::PP;
use File::Basename qw(dirname);

my $json = `cargo metadata --locked --format-version 1 --filter-platform x86_64-unknown-linux-gnu`;
die "third-party-licenses: cargo metadata failed\n" if $? != 0;
my $meta = JSON::PP->new->decode($json);

my %pkg = map { $_->{id} => $_ } @{ $meta->{packages} };
my %node = map { $_->{id} => $_ } @{ $meta->{resolve}{nodes} };
my %member = map { $_ => 1 } @{ $meta->{workspace_members} };

# The workspace crates whose code ships in the binaries.
my @shipped = qw(bifsmn-app bifsmn-cli bifsmn-engine bifsmn-deploy bifsmn-kernels);
my %shipped = map { $_ => 1 } @shipped;
my @roots = grep { $shipped{ $pkg{$_}{name} } } @{ $meta->{workspace_members} };
die "third-party-licenses: workspace crates not found (want @shipped)\n" unless @roots == @shipped;

my %seen;
my @queue = @roots;
while (my $id = shift @queue) {
    next if $seen{$id}++;
    for my $dep (@{ $node{$id}{deps} }) {
        my $normal = grep { !defined $_->{kind} } @{ $dep->{dep_kinds} };
        push @queue, $dep->{pkg} if $normal;
    }
}

my @crates = sort { $pkg{$a}{name} cmp $pkg{$b}{name} || $pkg{$a}{version} cmp $pkg{$b}{version} }
    grep { !$member{$_} } keys %seen;

print "Third-party software in BiFSMN Workbench\n";
print "=" x 40, "\n\n";
print "The programs in this package are statically linked with the following Rust crates\n";
print "(name, version, licence as declared in the crate's Cargo.toml). Their licence texts\n";
print "follow, as shipped in each crate. The source code of every listed crate, unmodified,\n";
print "is available from crates.io: https://crates.io/crates/<name>/<version> (this is where\n";
print "the MPL-2.0 crates, symphonia among them, can be obtained in source form).\n\n";
for my $id (@crates) {
    my $p = $pkg{$id};
    my $lic = $p->{license} // ($p->{license_file} ? "see $p->{license_file}" : 'unknown');
    printf "%-32s %-12s %s\n", $p->{name}, $p->{version}, $lic;
}
print "\n";

# Licence files per crate; identical texts are printed once with every crate that ships them.
my (%texts, @order);
for my $id (@crates) {
    my $p = $pkg{$id};
    my $dir = dirname($p->{manifest_path});
    opendir(my $dh, $dir) or next;
    my @files = sort grep { /^(LICEN[CS]E|COPYING|NOTICE|UNLICENSE)/i && -f "$dir/$_" } readdir $dh;
    closedir $dh;
    for my $f (@files) {
        open(my $fh, '<:raw', "$dir/$f") or next;
        local $/;
        my $text = <$fh>;
        close $fh;
        $text =~ s/\r\n/\n/g;
        $text =~ s/\s+\z/\n/;
        push @order, $text unless $texts{$text};
        push @{ $texts{$text} }, "$p->{name} $p->{version} ($f)";
    }
}
for my $text (@order) {
    print "-" x 78, "\n";
    print "Used by: ", join(', ', @{ $texts{$text} }), "\n\n";
    print $text, "\n";
}
