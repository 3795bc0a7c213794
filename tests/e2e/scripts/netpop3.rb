# Ruby's Net::POP3 (net-pop) fetching every message, as a Ruby program would: each message
# saved with Net::POPMail#pop to OUT/N.eml, deleted unless KEEP, then QUIT (at the block's end).
# net-pop speaks plaintext and implicit TLS only (it has no STLS).
# Usage: ruby netpop3.rb HOST PORT plain|tls USER PASSWORD CA_FILE OUT KEEP(0|1)
require "net/pop"
require "openssl"

host, port, mode, user, password, ca, out, keep = ARGV
pop = Net::POP3.new(host, Integer(port))
pop.open_timeout = 60
pop.read_timeout = 60
pop.enable_ssl(verify_mode: OpenSSL::SSL::VERIFY_PEER, ca_file: ca) if mode == "tls"
begin
  pop.start(user, password) do |session|
    session.mails.each do |mail|
      File.open(File.join(out, "#{mail.number}.eml"), "wb") { |file| mail.pop(file) }
      mail.delete if keep == "0"
    end
  end
rescue StandardError => e
  warn "net-pop failed: #{e.class}: #{e.message}"
  exit 1
end
