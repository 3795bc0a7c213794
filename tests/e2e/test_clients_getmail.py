"""getmail6 (Debian package getmail6) as an unmodified client: plaintext and implicit TLS.

getmail6 has no STLS support for POP3 (getmailcore has only SimplePOP3Retriever, plaintext,
and SimplePOP3SSLRetriever, TLS from the first byte), so STLS is not tested here.

getmail re-generates each message with Python's email package before handing it to the
MDA_external destination (a script storing its input). Its transformations (configuration
documentation in /usr/share/doc/getmail6, getmailcore/message.py), and how they are handled:
- the Received and Delivered-To headers are turned off with `received = false` and
  `delivered_to = false`;
- a `Return-Path: <unknown>` line is always prepended (it cannot be turned off): the test
  checks that it is there and strips it;
- lines end with os.linesep (LF) instead of CRLF: compared with `lf_line_ends`;
- the empty line ending the header section is always written, also for the corpus'
  "headers-only" message that has none: `with_header_separator`.
"""

from __future__ import annotations

import shutil
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
    make_mda,
    port_for,
    run_client,
    stored_messages,
    trust_file,
    untrusted_ca_file,
    with_header_separator,
    write_private,
)

GETMAIL = shutil.which("getmail")  # installed by `make test` (scripts/ensure-system-packages)

GETMAIL_TRANSPORTS = ["plain", "tls"]

# getmail exits 127 whenever a retriever failed (login, socket or TLS errors alike).
GETMAIL_FAILED = 127

RETURN_PATH = b"Return-Path: <unknown>\n"


def _rcfile(
    server: Endpoint,
    transport: str,
    *,
    mda: Path,
    delete: bool,
    password: str,
    trust: str,
    user: str = USER,
) -> str:
    """A getmailrc; parameter names are those of getmail6's configuration documentation."""
    assert "\n" not in password and "%" not in password
    retriever = [
        "[retriever]",
        f"server = {host_for(transport)}",
        f"port = {port_for(server, transport)}",
        f"username = {user}",
        f"password = {password}",
        "timeout = 60",
    ]
    if transport == "plain":
        retriever.insert(1, "type = SimplePOP3Retriever")
    else:
        # ca_certs turns on certificate and host name verification
        retriever[1:1] = ["type = SimplePOP3SSLRetriever", f"ca_certs = {trust}"]
    return "\n".join(
        [
            *retriever,
            "",
            "[destination]",
            "type = MDA_external",
            f"path = {mda}",
            # getmail refuses to run commands as root unless told to (containers often run
            # the test suite as root); it has no effect for other users.
            "allow_root_commands = true",
            "",
            "[options]",
            "verbose = 2",
            "read_all = true",
            f"delete = {'true' if delete else 'false'}",
            "received = false",
            "delivered_to = false",
            "",
        ]
    )


async def _getmail(
    server: Endpoint,
    base: Path,
    transport: str,
    *,
    delete: bool,
    password: str = PASSWORD,
    trust: str | None = None,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    """One getmail run with its own HOME, getmail directory and MDA output directory."""
    assert GETMAIL is not None
    getmaildir = base / "getmail"
    getmaildir.mkdir(parents=True)
    out = base / "delivered"
    mda = make_mda(base, out)
    write_private(
        getmaildir / "getmailrc",
        _rcfile(
            server,
            transport,
            mda=mda,
            delete=delete,
            password=password,
            trust=trust or trust_file(server),
            user=user,
        ),
    )
    command = [GETMAIL, f"--getmaildir={getmaildir}", "--rcfile=getmailrc"]
    run = await run_client(command, client_env(base / "home"), cwd=base)
    return run, stored_messages(out)


def _without_return_path(delivered: list[bytes]) -> list[bytes]:
    for message in delivered:
        assert message.startswith(RETURN_PATH), message[:200]
    return [message[len(RETURN_PATH) :] for message in delivered]


def _as_getmail_delivers(wire: bytes) -> bytes:
    return lf_line_ends(with_header_separator(wire))


@pytest.mark.parametrize("transport", GETMAIL_TRANSPORTS)
async def test_getmail_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    # delete = true: DELE after each successful delivery, committed by QUIT.
    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        run, delivered = await _getmail(server, base, transport, delete=not keep)
        return run, _without_return_path(delivered)

    await check_keeps_then_deletes(server, tmp_path, transport, fetch, _as_getmail_delivers)


@pytest.mark.parametrize("transport", GETMAIL_TRANSPORTS)
async def test_getmail_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _getmail(server, base, transport, delete=True, password="wrong")

    await check_failure_keeps_all(server, fetch, tmp_path, GETMAIL_FAILED, b"-ERR [AUTH]")


async def test_getmail_rejects_a_certificate_it_does_not_trust(
    server: RunningServer, tmp_path: Path
) -> None:
    other_ca = str(untrusted_ca_file(tmp_path))

    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _getmail(server, base, "tls", delete=True, trust=other_ca)

    await check_failure_keeps_all(
        server, fetch, tmp_path, GETMAIL_FAILED, b"CERTIFICATE_VERIFY_FAILED"
    )
