"""POP3 client libraries as programs use them: Perl's Net::POP3 and Mail::POP3Client, Ruby's
Net::POP3 (net-pop) and node-pop3 (npm), each driven by a small script in tests/e2e/scripts/
that logs in, RETRs every message into a file, DELEs unless told to keep, and QUITs.

What each library hands its caller, and how it is compared (the server sends the same bytes to
all of them; see tests/corpus.py for the messages):
- Net::POP3 (libnet) returns lines: on a plain socket Net::Cmd's getline splits on CRLF and ends
  each line with LF (`lf_line_ends`); over TLS the socket is an IO::Socket::SSL, whose getline
  keeps CRLF (compared as sent). Dot-unstuffing is done by the library.
- Mail::POP3Client (Debian libmail-pop3client-perl) hands the lines as read, CRLF and all,
  unstuffed (`HeadAndBodyToFile`). It has no STLS.
- Ruby's Net::POP3 returns the message as sent, CRLF and all, unstuffed. It has no STLS.
- node-pop3 0.11 returns the reply body as a UTF-8 string without dot-unstuffing and without
  the terminating line (`_as_node_pop3_returns`); it has no STLS. Whether it also drops the
  CRLF before ".", depends on how the reply was split into TCP reads, so trailing CRLFs are
  ignored on both sides (`_without_final_line_ends`). Its RETR concatenates buffers
  quadratically (45 s for 40 MiB here), so the 40 MiB message is left out for it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RunningServer
from tests.e2e.clients import (
    ClientRun,
    Endpoint,
    check_failure_keeps_all,
    check_keeps_then_deletes,
    client_env,
    host_for,
    lf_line_ends,
    port_for,
    run_client,
    trust_file,
    untrusted_ca_file,
)

SCRIPTS = Path(__file__).parent / "scripts"
#: where `make test` installs node-pop3 (npm install --prefix)
NODE_MODULES = Path(__file__).parents[2] / ".venv" / "node"


def _as_sent(wire: bytes) -> bytes:
    return wire


def _perl_lines(transport: str) -> Callable[[bytes], bytes]:
    return lf_line_ends if transport == "plain" else _as_sent


def _stuffed(wire: bytes) -> bytes:
    lines = wire.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)


def _without_final_line_ends(data: bytes) -> bytes:
    while data.endswith(b"\r\n"):
        data = data[:-2]
    return data


def _as_node_pop3_returns(wire: bytes) -> bytes:
    """The wire form (dot-stuffed), decoded as UTF-8 and written back, final CRLFs off."""
    text = _stuffed(wire).decode("utf-8", errors="replace").encode("utf-8")
    return _without_final_line_ends(text)


@dataclass(frozen=True)
class Library:
    name: str
    argv: list[str]  # the interpreter and script; arguments follow
    transports: tuple[str, ...]
    delivers: Callable[[str], Callable[[bytes], bytes]]  # transport -> transform of the wire
    untrusted: bytes  # what it says of a certificate it does not trust
    big: bool = True
    env: tuple[tuple[str, str], ...] = ()

    def normalise(self, delivered: bytes) -> bytes:
        return _without_final_line_ends(delivered) if self.name == "node-pop3" else delivered


LIBRARIES = {
    "perl": Library(
        "Net::POP3 (Perl)", ["perl", str(SCRIPTS / "netpop3.pl")], ("plain", "stls", "tls"),
        _perl_lines, b"certificate verify failed",
    ),
    "pop3client": Library(
        "Mail::POP3Client (Perl)", ["perl", str(SCRIPTS / "pop3client.pl")], ("plain", "tls"),
        lambda _transport: _as_sent, b"certificate verify failed",
    ),
    "ruby": Library(
        "Net::POP3 (Ruby)", ["ruby", str(SCRIPTS / "netpop3.rb")], ("plain", "tls"),
        lambda _transport: _as_sent, b"certificate verify failed",
    ),
    "node": Library(
        "node-pop3", ["node", str(SCRIPTS / "nodepop3.mjs")], ("plain", "tls"),
        lambda _transport: _as_node_pop3_returns, b"self-signed certificate", big=False,
        env=(("NODE_POP3_DIR", str(NODE_MODULES)),),
    ),
}  # fmt: skip
CASES = [(name, t) for name, lib in LIBRARIES.items() for t in lib.transports]


async def _fetch(
    server: Endpoint,
    library: Library,
    base: Path,
    transport: str,
    *,
    keep: bool,
    password: str = PASSWORD,
    trust: str | None = None,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    out = base / "out"
    out.mkdir(parents=True)
    assert shutil.which(library.argv[0]), f"{library.argv[0]} missing (make test installs it)"
    argv = [
        *library.argv, host_for(transport), str(port_for(server, transport)), transport, user,
        password, trust or trust_file(server), str(out), "1" if keep else "0",
    ]  # fmt: skip
    run = await run_client(argv, client_env(base / "home", **dict(library.env)), cwd=base)
    files = sorted(out.iterdir(), key=lambda path: int(path.stem))
    return run, [library.normalise(path.read_bytes()) for path in files]


@pytest.mark.parametrize(("name", "transport"), CASES)
async def test_library_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, name: str, transport: str
) -> None:
    library = LIBRARIES[name]

    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        return await _fetch(server, library, base, transport, keep=keep)

    await check_keeps_then_deletes(
        server, tmp_path, transport, fetch, library.delivers(transport), big=library.big
    )


@pytest.mark.parametrize("name", LIBRARIES)
async def test_library_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fetch(server, LIBRARIES[name], base, "plain", keep=False, password="wrong")

    await check_failure_keeps_all(server, fetch, tmp_path, 1, b"[AUTH]")


@pytest.mark.parametrize("name", LIBRARIES)
async def test_library_rejects_a_certificate_it_does_not_trust(
    server: RunningServer, tmp_path: Path, name: str
) -> None:
    other_ca = str(untrusted_ca_file(tmp_path))

    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fetch(server, LIBRARIES[name], base, "tls", keep=False, trust=other_ca)

    await check_failure_keeps_all(server, fetch, tmp_path, 1, LIBRARIES[name].untrusted)


def test_node_pop3_is_installed_where_the_tests_look() -> None:
    assert (NODE_MODULES / "node_modules" / "node-pop3" / "package.json").is_file(), (
        "make test installs node-pop3 with npm into .venv/node"
    )
    assert os.access(shutil.which("node") or "", os.X_OK)
