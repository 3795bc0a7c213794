"""fetchmail (Debian package fetchmail) as an unmodified client: plaintext, STLS, implicit TLS.

fetchmail hands each message to an MDA we control (a script storing its input). Its
transformations (man fetchmail), and how they are handled:
- the Received header fetchmail adds is turned off with `set invisible`;
- address rewriting of To/From/Cc is turned off with `no rewrite`;
- CR stripping, on by default with an MDA, is turned off with `no stripcr`: the MDA then gets
  the wire format with CRLF line ends;
- fetchmail always writes the empty line that ends the header section, also for a message that
  has none (the corpus' "headers-only"); this cannot be turned off and is undone by
  `with_header_separator`.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RunningServer
from tests.e2e.clients import (
    TRANSPORTS,
    ClientRun,
    Endpoint,
    check_failure_keeps_all,
    check_keeps_then_deletes,
    client_env,
    host_for,
    make_mda,
    port_for,
    run_client,
    stored_messages,
    trust_file,
    untrusted_ca_file,
    with_header_separator,
    write_private,
)

FETCHMAIL = shutil.which("fetchmail")  # installed by `make test` (scripts/ensure-system-packages)

# man fetchmail, EXIT CODES
SOCKET_ERROR = 2
AUTH_FAILED = 3


def _quoted(value: str) -> str:
    assert '"' not in value and "\\" not in value
    return f'"{value}"'


def _rcfile(
    server: Endpoint,
    transport: str,
    *,
    mda: Path,
    keep: bool,
    password: str,
    trust: str,
    user: str = USER,
) -> str:
    """A .fetchmailrc with one poll entry; keywords are those of man fetchmail(1)."""
    if transport == "plain":
        security = "sslproto ''"  # the empty string disables opportunistic STLS
    elif transport == "stls":
        # sslproto without ssl: STLS on the plain port, and it is mandatory
        security = f"sslproto 'TLS1.2+' sslcertck sslcertfile {_quoted(trust)}"
    else:
        security = f"ssl sslcertck sslcertfile {_quoted(trust)}"
    return (
        "set no bouncemail\n"
        "set invisible\n"
        f"poll {host_for(transport)} service {port_for(server, transport)} protocol pop3\n"
        "    timeout 60 auth password\n"
        f"    user {_quoted(user)} there with password {_quoted(password)}\n"
        f"    options {security}\n"
        f"    no rewrite no stripcr fetchall {'keep' if keep else 'nokeep'}\n"
        f"    mda {_quoted(shlex.quote(str(mda)))}\n"
    )


async def _fetchmail(
    server: Endpoint,
    base: Path,
    transport: str,
    *,
    keep: bool,
    password: str = PASSWORD,
    trust: str | None = None,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    """One fetchmail run with its own HOME/FETCHMAILHOME and MDA output directory."""
    assert FETCHMAIL is not None
    home = base / "home"
    out = base / "delivered"
    mda = make_mda(base, out)
    rcfile = write_private(
        base / "fetchmailrc",
        _rcfile(
            server,
            transport,
            mda=mda,
            keep=keep,
            password=password,
            trust=trust or trust_file(server),
            user=user,
        ),
    )
    command = [
        FETCHMAIL,
        "--fetchmailrc",
        str(rcfile),
        "--pidfile",
        str(home / "fetchmail.pid"),  # as root the default would be /var/run/fetchmail.pid
        "--nosyslog",
        "--verbose",
    ]
    env = client_env(home, FETCHMAILHOME=str(home))
    run = await run_client(command, env, cwd=base)
    return run, stored_messages(out)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_fetchmail_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        return await _fetchmail(server, base, transport, keep=keep)

    run = await check_keeps_then_deletes(server, tmp_path, transport, fetch, with_header_separator)
    if transport == "stls":
        assert b"upgrade to TLS succeeded" in run.stdout + run.stderr, run


@pytest.mark.parametrize("transport", ["plain", "stls"])
async def test_fetchmail_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fetchmail(server, base, transport, keep=False, password="wrong")

    await check_failure_keeps_all(server, fetch, tmp_path, AUTH_FAILED, None)


async def test_fetchmail_rejects_a_certificate_it_does_not_trust(
    server: RunningServer, tmp_path: Path
) -> None:
    other_ca = str(untrusted_ca_file(tmp_path))

    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fetchmail(server, base, "tls", keep=False, trust=other_ca)

    await check_failure_keeps_all(
        server, fetch, tmp_path, SOCKET_ERROR, b"certificate verify failed"
    )
