#!/usr/bin/perl
# Mail::POP3Client (Debian libmail-pop3client-perl) fetching every message as a Perl program
# would: HeadAndBodyToFile into OUT/N.eml, Delete unless KEEP, then Close (QUIT).
# It has no STLS; over TLS (USESSL) IO::Socket::SSL's client defaults carry the CA file.
# Usage: pop3client.pl HOST PORT plain|tls USER PASSWORD CA_FILE OUT KEEP(0|1)
use strict;
use warnings;
use Mail::POP3Client;
use IO::Socket::SSL;

sub fail { print STDERR "Mail::POP3Client failed: @_\n"; exit 1; }

my ($host, $port, $mode, $user, $password, $ca, $out, $keep) = @ARGV;
$mode eq 'plain' or $mode eq 'tls' or fail("no STLS in Mail::POP3Client");
IO::Socket::SSL::set_client_defaults(SSL_ca_file => $ca, SSL_verify_mode => SSL_VERIFY_PEER,
                                     SSL_verifycn_scheme => 'default',
                                     SSL_verifycn_name => $host);
my $pop = Mail::POP3Client->new(HOST => $host, PORT => $port, USER => $user,
                                PASSWORD => $password, AUTH_MODE => 'PASS', TIMEOUT => 60,
                                USESSL => $mode eq 'tls' ? 1 : 0);
$pop->Alive or fail("connect failed: " . $pop->Message . " $IO::Socket::SSL::SSL_ERROR");
my $count = $pop->Count;
$count >= 0 or fail("login failed: " . $pop->Message);
for my $number (1 .. $count) {
    open(my $fh, '>:raw', "$out/$number.eml") or fail("cannot write: $!");
    $pop->HeadAndBodyToFile($fh, $number) or fail("RETR $number failed: " . $pop->Message);
    close($fh) or fail("cannot close: $!");
    $keep or $pop->Delete($number) or fail("DELE $number failed: " . $pop->Message);
}
$pop->Close or fail("QUIT failed: " . $pop->Message);
