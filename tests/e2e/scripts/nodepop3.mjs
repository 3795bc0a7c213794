// node-pop3 (npm) fetching every message as a Node program would: RETR each message listed
// by UIDL and save the string it resolves to in OUT/N.eml, DELE unless KEEP, then QUIT.
// node-pop3 is loaded from NODE_POP3_DIR (where `make test` installs it). It has no STLS.
// Usage: node nodepop3.mjs HOST PORT plain|tls USER PASSWORD CA_FILE OUT KEEP(0|1)
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const Pop3Command = createRequire(join(process.env.NODE_POP3_DIR, "/"))("node-pop3");
const [host, port, mode, user, password, ca, out, keep] = process.argv.slice(2);
const pop3 = new Pop3Command({
  user, password, host, port: Number(port), timeout: 60000, servername: host,
  tls: mode === "tls", tlsOptions: { ca: readFileSync(ca), rejectUnauthorized: true },
});
try {
  for (const [number] of await pop3.UIDL()) {
    writeFileSync(join(out, `${number}.eml`), await pop3.RETR(number), "utf8");
    if (keep === "0") await pop3.DELE(number);
  }
  await pop3.QUIT();
} catch (error) {
  console.error(`node-pop3 failed: ${error.message}`);
  process.exit(1);
}
