"""IPv6 loopback and a CA-issued certificate, verified as clients really verify it (round 7,
docs/notes/clients-7.md).

pop3srv listens on [::1] only, with a certificate for "localhost", 127.0.0.1 and ::1 issued
by a trustme CA (not a self-signed one: the client trusts the CA, and the chain has to be
right). Each client connects to the address ::1 and verifies host and chain with the CA
file, no "insecure" switch, over implicit TLS and, where it has it, STLS.

Not here, found by hand: fetchmail matches the host only against DNS names (also with
``sslcommonname``), so it cannot verify a server it reaches by an IP address literal, and this
machine has no name for ::1; fdm has no CA-file option.
"""

from __future__ import annotations

import json
import poplib
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trustme

from tests.conftest import PASSWORD
from tests.e2e import test_clients_getmail as getmail
from tests.e2e import test_clients_libraries as libraries
from tests.e2e import test_clients_mpop as mpop
from tests.e2e import test_clients_snail as snail
from tests.e2e.clients import ClientRun
from tests.e2e.process import ServerProcess, spawn_logging_server
from tests.e2e.test_curl import CURL as _CURL

assert _CURL is not None
CURL: str = _CURL

LOGIN = "jane.doe+pop@example.com"
BODY = b"Subject: over ipv6\r\n\r\nreached at ::1\r\n"


@dataclass(frozen=True)
class Six:
    server: ServerProcess
    ca: str


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Six]:
    tmp = tmp_path_factory.mktemp("ipv6")
    (tmp / "mail" / "box").mkdir(parents=True)
    (tmp / "mail" / "box" / "m1").write_bytes(BODY)
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1", "::1")
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    issued.private_key_pem.write_to_path(str(tmp / "key.pem"))
    with (tmp / "cert.pem").open("wb") as chain:
        for pem in issued.cert_chain_pems:
            chain.write(pem.bytes())
    process = spawn_logging_server(
        tmp,
        POP3_HOST="::1",
        POP3_TLS_CERT_PATH=str(tmp / "cert.pem"),
        POP3_TLS_KEY_PATH=str(tmp / "key.pem"),
        POP3_TLS_SELF_SIGNED="false",
        POP3_MAILBOXES=json.dumps({"box": {"folder": "box"}}),
        POP3_USERS=json.dumps({LOGIN: {"password": PASSWORD, "mailbox": "box"}}),
        POP3_MAX_LOGINS_PER_USER="8",
    )
    try:
        yield Six(process, str(tmp / "ca.pem"))
    finally:
        process.stop()


def _at_ipv6(monkeypatch: pytest.MonkeyPatch, host: str = "::1") -> None:
    """Point the client helpers (which connect to localhost/127.0.0.1) at ::1."""
    for module in (getmail, libraries, mpop, snail):
        monkeypatch.setattr(module, "host_for", lambda _transport: host)


Run = Callable[[Six, Path, str], Awaitable[tuple[ClientRun, list[bytes]]]]


def _library(name: str) -> Run:
    library = libraries.LIBRARIES[name]

    async def run(s: Six, base: Path, transport: str) -> tuple[ClientRun, list[bytes]]:
        return await libraries._fetch(
            s.server, library, base, transport, keep=True, trust=s.ca, user=LOGIN
        )

    return run


CLIENTS: dict[str, tuple[Run, tuple[str, ...]]] = {
    "mpop": (
        lambda s, b, t: mpop._mpop(s.server, b, t, keep=True, trust=s.ca, user=LOGIN),
        ("tls", "stls"),
    ),
    "getmail": (
        lambda s, b, t: getmail._getmail(s.server, b, t, delete=False, trust=s.ca, user=LOGIN),
        ("tls",),
    ),
    **{
        name: (_library(name), ("tls", "stls") if name == "perl" else ("tls",))
        for name in ("perl", "pop3client", "ruby", "node")
    },
}
CASES = [(name, t) for name, (_run, transports) in CLIENTS.items() for t in transports]


@pytest.mark.parametrize(("name", "transport"), CASES)
async def test_client_verifies_a_ca_issued_certificate_at_ipv6_loopback(
    six: Six, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, transport: str
) -> None:
    _at_ipv6(monkeypatch)
    run, delivered = await CLIENTS[name][0](six, tmp_path, transport)
    assert run.returncode == 0, run
    assert len(delivered) == 1 and b"reached at ::1" in delivered[0], run


@pytest.mark.parametrize("transport", ["tls", "stls"])
async def test_snail_cannot_take_an_ipv6_literal(
    six: Six, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """s-nail 14.9 parses the port after the first ':' of a URL's host: it refuses
    ``pop3s://user@[::1]:port`` before it connects (its quirk; a host name for ::1 works)."""
    _at_ipv6(monkeypatch, "[::1]")
    user = "jane.doe%2Bpop%40example.com"  # s-nail takes the user from the URL
    run, delivered = await snail._snail(
        six.server, tmp_path, transport, keep=True, trust=six.ca, user=user
    )
    assert run.returncode != 0 and b"URL with invalid port number" in run.stderr, run
    assert delivered == []


@pytest.mark.parametrize(
    "url",
    ["pop3s://[::1]:{tls}/1", "pop3://[::1]:{plain}/1"],
)
async def test_curl_verifies_at_ipv6_loopback(six: Six, url: str) -> None:
    target = url.format(tls=six.server.tls_port, plain=six.server.plain_port)
    argv = [CURL, "-sS", "--ssl-reqd", "--cacert", six.ca, "-u", f"{LOGIN}:{PASSWORD}", target]
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"Subject: over ipv6\r\n") and b"reached at ::1" in done.stdout


def _poplib(six: Six, transport: str) -> tuple[int, int]:
    context = ssl.create_default_context(cafile=six.ca)
    if transport == "tls":
        client: poplib.POP3 = poplib.POP3_SSL("::1", six.server.tls_port, context=context)
    else:
        client = poplib.POP3("::1", six.server.plain_port, timeout=30)
        client.stls(context=context)
    try:
        client.user(LOGIN)
        client.pass_(PASSWORD)
        return client.stat()
    finally:
        client.quit()


@pytest.mark.parametrize("transport", ["tls", "stls"])
async def test_poplib_verifies_at_ipv6_loopback(six: Six, transport: str) -> None:
    assert await trio.to_thread.run_sync(_poplib, six, transport) == (1, len(BODY))


def test_nothing_listens_on_ipv4(six: Six) -> None:
    done = subprocess.run(
        [CURL, "-sS", f"pop3://127.0.0.1:{six.server.plain_port}/"],
        capture_output=True,
        check=False,
    )
    assert done.returncode != 0
