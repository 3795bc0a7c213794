"""mpop (Debian package mpop) as an unmodified client: plaintext, STLS and implicit TLS.

mpop delivers into a Maildir. Its documented transformations, and how they are handled:
- a Received header is prepended unless `received_header off` (set below, so none is added);
- Maildir files are Unix text: each CRLF of the wire format becomes LF (undone by comparing
  against `lf_line_ends(expected_on_wire(raw))`).
Nothing else changes: dot-unstuffing, 8-bit bytes, NULs, long lines and the header-only
message arrive as pop3srv sent them.
"""

from __future__ import annotations

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
    lf_line_ends,
    maildir_messages,
    make_maildir,
    port_for,
    run_client,
    trust_file,
    untrusted_ca_file,
    write_private,
)

MPOP = shutil.which("mpop")  # installed by `make test` (scripts/ensure-system-packages)

# sysexits.h, which mpop uses for its exit status (man mpop, EXIT STATUS)
EX_UNAVAILABLE = 69
EX_NOPERM = 77


def _quoted(value: str) -> str:
    assert '"' not in value and "\\" not in value
    return f'"{value}"'


def _config(
    server: Endpoint,
    transport: str,
    *,
    maildir: Path,
    uidls: Path,
    keep: bool,
    password: str,
    trust: str,
    user: str = USER,
) -> str:
    """An mpoprc for one account; option names are those of man mpop(1)."""
    lines = [
        "defaults",
        "timeout 60",
        "received_header off",
        f"delivery maildir {maildir}",
        f"uidls_file {uidls}",
        "",
        "account default",
        f"host {host_for(transport)}",
        f"port {port_for(server, transport)}",
        f"user {user}",
        f"password {_quoted(password)}",
        f"keep {'on' if keep else 'off'}",
    ]
    if transport == "plain":
        # Without TLS mpop only picks methods that hide the password, so USER/PASS (which
        # pop3srv allows on loopback) has to be chosen explicitly.
        lines += ["tls off", "auth user"]
    else:
        lines += [
            "tls on",
            f"tls_starttls {'on' if transport == 'stls' else 'off'}",
            f"tls_trust_file {trust}",
            "tls_certcheck on",
        ]
    return "\n".join(lines) + "\n"


async def _mpop(
    server: Endpoint,
    base: Path,
    transport: str,
    *,
    keep: bool,
    password: str = PASSWORD,
    trust: str | None = None,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    """One mpop run with its own HOME, Maildir and UIDL file; returns the delivered messages."""
    assert MPOP is not None
    maildir = make_maildir(base / "Maildir")
    config = write_private(
        base / "mpoprc",
        _config(
            server,
            transport,
            maildir=maildir,
            uidls=base / "uidls",
            keep=keep,
            password=password,
            trust=trust or trust_file(server),
            user=user,
        ),
    )
    run = await run_client(
        [MPOP, "--half-quiet", f"--file={config}"], client_env(base / "home"), cwd=base
    )
    return run, maildir_messages(maildir)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_mpop_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    # keep off is mpop's default: DELE every delivered message, committed by QUIT.
    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        return await _mpop(server, base, transport, keep=keep)

    await check_keeps_then_deletes(server, tmp_path, transport, fetch, lf_line_ends)


@pytest.mark.parametrize("transport", ["plain", "stls"])  # USER/PASS, then AUTH PLAIN
async def test_mpop_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _mpop(server, base, transport, keep=False, password="wrong")

    await check_failure_keeps_all(server, fetch, tmp_path, EX_NOPERM, b"authentication failed")


async def test_mpop_rejects_a_certificate_it_does_not_trust(
    server: RunningServer, tmp_path: Path
) -> None:
    other_ca = str(untrusted_ca_file(tmp_path))

    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _mpop(server, base, "tls", keep=False, trust=other_ca)

    await check_failure_keeps_all(
        server, fetch, tmp_path, EX_UNAVAILABLE, b"TLS certificate verification failed"
    )
