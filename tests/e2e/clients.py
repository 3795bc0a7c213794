"""Helpers for driving unmodified third-party POP3 clients (mpop, fetchmail, getmail6, s-nail,
fdm, and the client libraries of Perl, Ruby and Node.js through small scripts).

Each client runs as a child process with HOME in the test's tmp_path, a minimal environment,
configuration files written with mode 0600, and delivery into a directory the test owns.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio
import trustme

from tests.conftest import RunningServer
from tests.corpus import BIG_NAME, digest, expected_on_wire, write_corpus

#: The three ways into pop3srv: plaintext on plain_port (loopback, so USER/PASS is allowed),
#: STLS on plain_port, implicit TLS on tls_port.
TRANSPORTS = ("plain", "stls", "tls")

#: Seconds one client run may take (the 40 MiB message included) before the test fails.
CLIENT_TIMEOUT = 120

#: The self-signed certificate is issued for localhost and 127.0.0.1; TLS clients connect to
#: "localhost" because fetchmail matches the host only against DNS names, not IP addresses
#: ("Server CommonName mismatch: vm != 127.0.0.1"); the other clients do the same for symmetry.
TLS_HOST = "localhost"
PLAIN_HOST = "127.0.0.1"


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: HOME (and TMPDIR) inside the test's directory, C locale."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "TMPDIR": str(tmp),
    }
    env.update(extra)
    return env


def write_private(path: Path, text: str) -> Path:
    """Write a configuration file readable by its owner only (it holds the password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


class _Certificate(Protocol):
    @property
    def self_signed_cert(self) -> str | None: ...


class Endpoint(Protocol):
    """Where a client connects: the in-process ``RunningServer`` or a spawned server."""

    @property
    def plain_port(self) -> int: ...

    @property
    def tls_port(self) -> int: ...

    @property
    def bound(self) -> _Certificate: ...


def port_for(server: Endpoint, transport: str) -> int:
    return server.tls_port if transport == "tls" else server.plain_port


def host_for(transport: str) -> str:
    return PLAIN_HOST if transport == "plain" else TLS_HOST


def trust_file(server: Endpoint) -> str:
    cert = server.bound.self_signed_cert
    assert cert is not None
    return cert


def untrusted_ca_file(directory: Path) -> Path:
    """A CA certificate that did not sign the server's certificate."""
    path = directory / "other-ca.pem"
    directory.mkdir(parents=True, exist_ok=True)
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def make_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def maildir_messages(path: Path) -> list[bytes]:
    return [file.read_bytes() for sub in ("new", "cur") for file in sorted((path / sub).iterdir())]


def take_maildir_messages(path: Path) -> list[bytes]:
    """The Maildir's messages, as `maildir_messages`; the Maildir is emptied after."""
    messages = maildir_messages(path)
    for sub in ("new", "cur"):
        for file in (path / sub).iterdir():
            file.unlink()
    return messages


def make_mda(directory: Path, out: Path) -> Path:
    """An MDA we control: stores its standard input, byte for byte, as a new file in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    script = directory / "store-mda.sh"
    target = shlex.quote(f"{out}/msg.XXXXXXXX")
    script.write_text(f'#!/bin/sh\nexec cat > "$(mktemp {target})"\n')
    script.chmod(0o700)
    return script


def stored_messages(out: Path) -> list[bytes]:
    return [file.read_bytes() for file in sorted(out.iterdir())]


def mail_left(server: RunningServer) -> list[str]:
    return sorted(path.name for path in server.mail_dir.iterdir())


@dataclass
class ClientRun:
    """Exit status and output of one client run; str() is meant for assertion messages."""

    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes

    def __str__(self) -> str:
        def tail(data: bytes) -> str:
            text = data.decode(errors="replace")
            return text if len(text) <= 4000 else "...\n" + text[-4000:]

        return (
            f"$ {shlex.join(self.argv)}\nexit status {self.returncode}\n"
            f"--- stdout\n{tail(self.stdout)}\n--- stderr\n{tail(self.stderr)}"
        )


async def run_client(argv: list[str], env: Mapping[str, str], cwd: Path) -> ClientRun:
    """Run a client to completion without blocking the trio thread (the server shares it)."""
    with trio.fail_after(CLIENT_TIMEOUT):
        result = await trio.run_process(
            argv,
            env=dict(env),
            cwd=str(cwd),
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    return ClientRun(argv, result.returncode, result.stdout, result.stderr)


def _sample(server: RunningServer, name: str, **labels: str) -> float:
    return server.runtime.prometheus.get_sample_value(name, labels) or 0.0


def assert_transport_used(server: RunningServer, transport: str) -> None:
    """The server's own counters show that every connection went the intended way."""
    plain = _sample(server, "pop3_connections_total", listener="plain")
    tls = _sample(server, "pop3_connections_total", listener="tls")
    stls = _sample(server, "pop3_commands_total", command="STLS", outcome="ok")
    used = {"plain connections": plain, "tls connections": tls, "STLS": stls}
    if transport == "plain":
        assert plain > 0 and tls == 0 and stls == 0, used
    elif transport == "stls":
        assert plain > 0 and tls == 0 and stls == plain, used
    else:
        assert tls > 0 and plain == 0, used


# --- what a client is expected to store, given what pop3srv put on the wire ----------------


def lf_line_ends(wire: bytes) -> bytes:
    """Unix delivery (Maildir files, mbox, most MDAs): each CRLF of the wire format becomes LF."""
    return wire.replace(b"\r\n", b"\n")


def with_header_separator(wire: bytes) -> bytes:
    """Clients that split header and body always write the empty line between the two.

    Only a message without that line (the corpus' "headers-only") changes: it gains a CRLF.
    """
    if wire.startswith(b"\r\n") or b"\r\n\r\n" in wire:
        return wire
    return wire + b"\r\n"


_SUBJECT = re.compile(rb"^Subject: ?(.*?)\r?$", re.MULTILINE)


def _subject(message: bytes) -> bytes | None:
    match = _SUBJECT.search(message[:4096])
    return match.group(1) if match else None


def _preview(message: bytes) -> str:
    head = message[:160]
    more = f" ... ({len(message)} bytes)" if len(message) > len(head) else ""
    return repr(head) + more


def _first_difference(left: bytes, right: bytes) -> int:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return index
    return min(len(left), len(right))


def assert_delivered(
    delivered: Iterable[bytes],
    messages: Mapping[str, bytes],
    transform: Callable[[bytes], bytes],
) -> None:
    """Every corpus message was delivered exactly once, byte for byte as `transform(wire)`.

    Delivery order is not compared (Maildir file names and mktemp names do not keep it).
    """
    wanted = {name: transform(expected_on_wire(raw)) for name, raw in messages.items()}
    by_digest = {digest(body): name for name, body in wanted.items()}
    found: list[str] = []
    problems: list[str] = []
    for body in delivered:
        name = by_digest.get(digest(body))
        if name is not None:
            found.append(name)
            continue
        same_subject = [n for n, w in wanted.items() if _subject(w) == _subject(body)]
        hint = ""
        if same_subject:
            want = wanted[same_subject[0]]
            offset = _first_difference(body, want)
            hint = (
                f"\n    looks like {same_subject[0]!r}; first difference at byte {offset}: "
                f"got {body[offset : offset + 40]!r}, want {want[offset : offset + 40]!r}"
            )
        problems.append(f"unexpected delivery {_preview(body)}{hint}")
    for name in sorted(set(wanted) - set(found)):
        problems.append(f"not delivered byte-exactly: {name!r} ({_preview(wanted[name])})")
    for name in sorted({n for n in found if found.count(n) > 1}):
        problems.append(f"delivered {found.count(name)} times: {name!r}")
    assert not problems, "\n".join(problems)


#: One client run into a fresh directory: (the run, the messages it delivered).
Fetch = Callable[[Path], Awaitable[tuple[ClientRun, list[bytes]]]]


async def check_keeps_then_deletes(
    server: RunningServer,
    base: Path,
    transport: str,
    fetch: Callable[[Path, bool], Awaitable[tuple[ClientRun, list[bytes]]]],
    transform: Callable[[bytes], bytes],
    *,
    big: bool = True,
) -> ClientRun:
    """The scenario every client passes: the corpus (with the 40 MiB message over implicit TLS)
    fetched keeping it, byte-exact and nothing deleted, then fetched deleting it, byte-exact and
    nothing left once QUIT committed the deletions, over the transport asked for.
    ``fetch(directory, keep)`` runs the client once; returns the deleting run. ``big=False``
    leaves the 40 MiB message out (for clients that take minutes over it)."""
    messages = write_corpus(server.mail_dir, big=big and transport == "tls")
    assert not big or transport != "tls" or BIG_NAME in messages
    run, delivered = await fetch(base / "keep", True)
    assert run.returncode == 0, run
    assert_delivered(delivered, messages, transform)
    assert mail_left(server) == sorted(messages), "keeping must not delete anything"
    run, delivered = await fetch(base / "delete", False)
    assert run.returncode == 0, run
    assert_delivered(delivered, messages, transform)
    assert mail_left(server) == []
    assert_transport_used(server, transport)
    return run


async def check_failure_keeps_all(
    server: RunningServer, fetch: Fetch, base: Path, returncode: int, says: bytes | None
) -> None:
    """A run that must fail (wrong password, untrusted certificate): the client's exit status
    and message, nothing delivered, and every message still in the mailbox."""
    messages = write_corpus(server.mail_dir)
    run, delivered = await fetch(base)
    assert run.returncode == returncode, run
    assert says is None or says in run.stdout + run.stderr, run
    assert delivered == []
    assert mail_left(server) == sorted(messages)
