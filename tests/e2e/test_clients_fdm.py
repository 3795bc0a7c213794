"""fdm (Debian package fdm) as an unmodified client: plaintext, STLS and implicit TLS, into a
Maildir, keeping or deleting (DELE, then QUIT).

fdm's documented transformations, and how they are handled:
- its Received header is turned off (`set no-received`);
- Maildir files are Unix text: CRLF becomes LF (`lf_line_ends`);
- fdm keeps a message's lines as C strings, so a line is cut at its first NUL byte: the
  corpus' "nul-and-controls" message is compared as fdm stores it (`_as_fdm_stores`); other
  clients (mpop, poplib, curl) show that pop3srv sends the NUL and what follows it.
Certificates: fdm checks them only against the system's CA store (`verify-certificates`),
where pop3srv's self-signed test certificate cannot be put, so TLS runs use `no-verify` (and
STLS, which has no such option, runs without `verify-certificates`); a run with
`verify-certificates` shows that fdm refuses the certificate. fdm 1.9 exits 0 even when a
fetch failed, so failures are recognised by what it says.
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
    write_private,
)

FDM = shutil.which("fdm")  # installed by `make test` (scripts/ensure-system-packages)


def _as_fdm_stores(wire: bytes) -> bytes:
    lines = lf_line_ends(wire).split(b"\n")
    return b"\n".join(line.split(b"\0", 1)[0] for line in lines)


def _quoted(value: str) -> str:
    assert '"' not in value and "\\" not in value
    return f'"{value}"'


async def _fdm(
    server: Endpoint,
    base: Path,
    transport: str,
    *,
    keep: bool,
    password: str = PASSWORD,
    verify: bool = False,
    user: str = USER,
) -> tuple[ClientRun, list[bytes]]:
    """One fdm run with its own HOME, configuration and Maildir."""
    assert FDM is not None
    maildir = make_maildir(base / "Maildir")
    for path in (maildir, *maildir.iterdir()):
        path.chmod(0o700)  # else fdm warns about the permissions
    kind = "pop3s" if transport == "tls" else "pop3"
    account = (
        f"account \"pop\" {kind} server {_quoted(host_for(transport))} "
        f"port {port_for(server, transport)} user {_quoted(user)} pass {_quoted(password)} "
        "no-apop" + (" starttls" if transport == "stls" else "")
        + (" no-verify" if transport == "tls" and not verify else "")
        + (" keep" if keep else "")
    )  # fmt: skip
    config = write_private(
        base / "fdm.conf",
        "\n".join(
            [
                "set no-received",
                "set maximum-size 64M",  # the default, 32M, would skip the 40 MiB message
                f"set lock-file {_quoted(str(base / 'fdm.lock'))}",
                *(["set verify-certificates"] if verify else []),
                account,
                f'action "maildir" maildir {_quoted(str(maildir))}',
                'match all action "maildir"',
                "",
            ]
        ),
    )
    # As root, fdm hands each mail to its unprivileged fetching child in a shared-memory file in
    # TMPDIR, which that child must be able to reach: the system's /tmp, not one in tmp_path.
    env = client_env(base / "home", TMPDIR="/tmp")
    run = await run_client([FDM, "-f", str(config), "fetch"], env, cwd=base)
    return run, maildir_messages(maildir)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_fdm_delivers_corpus_byte_exact_keeps_then_deletes(
    server: RunningServer, tmp_path: Path, transport: str
) -> None:
    async def fetch(base: Path, keep: bool) -> tuple[ClientRun, list[bytes]]:
        return await _fdm(server, base, transport, keep=keep)

    run = await check_keeps_then_deletes(server, tmp_path, transport, fetch, _as_fdm_stores)
    assert b"messages processed" in run.stdout + run.stderr, run


async def test_fdm_wrong_password_fails_and_deletes_nothing(
    server: RunningServer, tmp_path: Path
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fdm(server, base, "plain", keep=False, password="wrong")

    await check_failure_keeps_all(server, fetch, tmp_path, 0, b"-ERR [AUTH]")


async def test_fdm_verifying_certificates_refuses_the_self_signed_one(
    server: RunningServer, tmp_path: Path
) -> None:
    async def fetch(base: Path) -> tuple[ClientRun, list[bytes]]:
        return await _fdm(server, base, "tls", keep=False, verify=True)

    await check_failure_keeps_all(server, fetch, tmp_path, 0, b"certificate verification failed")
