#!/usr/bin/perl
# Perl's Net::POP3 (libnet, with IO::Socket::SSL for TLS) fetching every message, as a Perl
# program would: each message saved with get() to OUT/N.eml, deleted unless KEEP, then QUIT.
# Usage: netpop3.pl HOST PORT plain|stls|tls USER PASSWORD CA_FILE OUT KEEP(0|1)
use strict;
use warnings;
use Net::POP3;

sub fail { print STDERR "Net::POP3 failed: @_\n"; exit 1; }

my ($host, $port, $mode, $user, $password, $ca, $out, $keep) = @ARGV;
my %tls = (SSL_ca_file => $ca, SSL_verify_mode => 1, SSL_verifycn_scheme => 'default',
           SSL_verifycn_name => $host);
my $pop = Net::POP3->new($host, Port => $port, Timeout => 60,
                         ($mode eq 'tls' ? (SSL => 1, %tls) : ()))
    or fail("connect failed: $@ $IO::Socket::SSL::SSL_ERROR");
if ($mode eq 'stls') {
    $pop->starttls(%tls) or fail("STLS failed: $IO::Socket::SSL::SSL_ERROR");
}
defined $pop->login($user, $password) or fail("login failed: " . $pop->message);
my $list = $pop->list or fail("LIST failed: " . $pop->message);
for my $number (sort { $a <=> $b } keys %$list) {
    open(my $fh, '>:raw', "$out/$number.eml") or fail("cannot write: $!");
    $pop->get($number, $fh) or fail("RETR $number failed: " . $pop->message);
    close($fh) or fail("cannot close: $!");
    $pop->delete($number) or fail("DELE $number failed: " . $pop->message) unless $keep;
}
$pop->quit or fail("QUIT failed: " . $pop->message);
