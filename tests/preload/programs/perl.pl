# perl: hashes, regular expressions, sorting, sprintf and string growth.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my %h;
my $rng = 42;
for my $i (1 .. 200000) {
    $rng = ($rng * 1103515245 + 12345) % 2147483648;
    my $k = sprintf("key%05d", $rng % 30000);
    push @{ $h{$k} }, $rng % 1000;
}
my $text = "";
for my $k (sort keys %h) {
    $text .= "$k=" . join(",", sort { $a <=> $b } @{ $h{$k} }) . ";";
}
my @nums = ($text =~ /=(\d+),/g);
my %count;
$count{$_}++ for @nums;
my @top = (sort { $count{$b} <=> $count{$a} || $a <=> $b } keys %count)[0 .. 9];
print scalar(keys %h), " keys, ", length($text), " chars, md5 ", md5_hex($text), "\n";
print "top: @top\n";
(my $t2 = $text) =~ s/key(\d+)/K$1/g;
print "subst md5 ", md5_hex($t2), "\n";
my @words = map { scalar reverse $_ } split /;/, $text;
print "words ", scalar(@words), " ", md5_hex(join("|", sort @words)), "\n";
