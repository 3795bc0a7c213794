"""s-nail (Debian package s-nail), the mailx of Debian, as an unmodified client: plaintext, STLS
and implicit TLS. It opens the POP3 mailbox as a folder in batch mode (``-#``), copies every
message into a Maildir, and with ``delete *`` + ``quit`` removes them (DELE, then QUIT).

How s-nail stores a message (and how it is compared): Unix line ends (`lf_line_ends`), and a
message ends with an empty line as in a mail folder (one LF added where it does not:
`_as_stored`). Nothing else changes: dots, 8-bit bytes, NULs and long lines arrive as sent.
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
)

SNAIL = shutil.which("s-nail")  # installed by `make test` (scripts/ensure-system-packages)


def _as_stored(wire: bytes) -> bytes:
    stored = lf_line_ends(wire)
    return stored if stored.endswith(b"\n\n") else stored + b"\n"


async def _snail(
    server: Endpoint,
    base: Path,
    transport: str,
    *,
    keep: bool,
    password: str = PASSWORD,
    trust: str | None = None,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    """One s-nail run with its own HOME; returns what it copied into its Maildir."""
    assert SNAIL is not None
    maildir = make_maildir(base / "Maildir")
    scheme = "pop3s" if transport == "tls" else "pop3"
    url = f"{scheme}://{user}@{host_for(transport)}:{port_for(server, transport)}"
    options = [
        "-Sv15-compat", "-Serrexit", f"-Spassword={password}", "-Spop3-no-apop",
        "-Spop3-auth=plain", f"-Stls-ca-file={trust or trust_file(server)}",
        "-Stls-ca-no-defaults", "-Stls-verify=strict",
    ]  # fmt: skip
    if transport == "stls":
        options.append("-Spop3-use-starttls")
    commands = f"copy * maildir://{maildir}\n" + ("" if keep else "delete *\n") + "quit\n"
    script = base / "commands"
    script.write_text(commands)
    argv = ["sh", "-c", 'exec "$0" "$@" < "$SCRIPT"', SNAIL, "-#:/", *options, "-f", url]
    env = client_env(base / "home", SCRIPT=str(script))
    run = await run_client(argv, env, cwd=base)
    return run, maildir_messages(maildir)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_snail_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        return await _snail(server, base, transport, keep=keep)

    await check_keeps_then_deletes(server, tmp_path, transport, fetch, _as_stored)


async def test_snail_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _snail(server, base, "plain", keep=False, password="wrong")

    # errexit: the first command without a mailbox ends s-nail with status 1
    await check_failure_keeps_all(server, fetch, tmp_path, 1, b"-ERR [AUTH]")


async def test_snail_rejects_a_certificate_it_does_not_trust(
    server: RunningServer, tmp_path: Path
) -> None:
    other_ca = str(untrusted_ca_file(tmp_path))

    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _snail(server, base, "tls", keep=False, trust=other_ca)

    await check_failure_keeps_all(server, fetch, tmp_path, 1, b"certificate verify failed")
