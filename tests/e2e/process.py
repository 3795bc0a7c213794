"""``pop3srv serve`` as a child process on free loopback ports, for tests that kill or probe it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import server_env

if TYPE_CHECKING:
    from tests.s3.servers import S3Server


@dataclass(frozen=True)
class Certificate:
    self_signed_cert: str | None


@dataclass
class ServerProcess:
    popen: subprocess.Popen[str]
    plain: int
    tls: int
    cert: str
    #: where stderr goes instead of a pipe (a long-lived server's log fills a pipe nobody reads)
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    # what the client helpers read (``tests.e2e.clients.Endpoint``), as on a ``RunningServer``
    @property
    def plain_port(self) -> int:
        return self.plain

    @property
    def tls_port(self) -> int:
        return self.tls

    @property
    def bound(self) -> Certificate:
        return Certificate(self.cert)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> str:
        """SIGTERM, wait, and return stderr; the exit status must be 0."""
        self.popen.send_signal(signal.SIGTERM)
        _out, err = self.popen.communicate(timeout=30)
        if self.log is not None:
            err = self.log.read_text(errors="replace")
        assert self.popen.returncode == 0, err[-2000:]
        return err


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This process' environment without its ``POP3_*`` variables, HOME in ``tmp``, plus the
    test settings of ``conftest.server_env`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POP3_")}
    env.update(server_env(tmp, **extra), HOME=str(tmp))
    return env


def s3_mailbox(
    s3: S3Server, bucket: str, prefix: str, endpoint_url: str | None = None
) -> dict[str, str]:
    """A ``POP3_MAILBOXES`` entry for ``prefix`` in ``bucket`` of ``s3`` (reached through
    ``endpoint_url`` when given, e.g. a proxy's)."""
    return {
        "bucket": bucket,
        "prefix": prefix,
        "region": s3.region,
        "endpoint-url": endpoint_url or s3.endpoint_url,
        "aws-access-key-id": s3.access_key_id,
        "aws-secret-access-key": s3.secret_access_key,
    }


def run_pop3srv(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``pop3srv ARGS`` run to its end in ``tmp`` with :func:`child_env`; output as text."""
    return subprocess.run(
        [sys.executable, "-m", "pop3srv", *args],
        cwd=tmp,
        env=child_env(tmp, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def spawn_server(tmp: Path, *args: str, **extra: str) -> ServerProcess:
    """Start ``pop3srv serve ARGS`` with :func:`child_env` (``extra`` added)."""
    return spawn_server_with(tmp, None, extra, args)


def spawn_logging_server(tmp: Path, **extra: str) -> ServerProcess:
    """``spawn_server`` for a server that serves many sessions: its log goes to ``tmp/log``
    (with stderr a pipe, the server blocks once ~64 KiB of log lines are unread)."""
    return spawn_server_with(tmp, None, extra, log=tmp / "log")


def spawn_server_with(
    tmp: Path,
    preexec_fn: Callable[[], object] | None,
    extra: dict[str, str],
    args: tuple[str, ...] = (),
    log: Path | None = None,
) -> ServerProcess:
    """``spawn_server`` with ``preexec_fn`` run in the child first (e.g. to set limits), and
    stderr into ``log`` when given."""
    ports = tmp / "ports.json"
    ports.unlink(missing_ok=True)
    command = ["serve", "--any-free-port", "--ports-file", str(ports), *args]
    with contextlib.ExitStack() as files:
        stderr = subprocess.PIPE if log is None else files.enter_context(log.open("wb"))
        popen = subprocess.Popen(
            [sys.executable, "-m", "pop3srv", *command],
            cwd=tmp,
            env=child_env(tmp, **extra),
            stderr=stderr,
            text=True,
            preexec_fn=preexec_fn,  # noqa: PLW1509 - only sets limits
        )
    deadline = time.monotonic() + 30
    while not ports.exists() or not ports.read_text():
        if popen.poll() is not None or time.monotonic() > deadline:
            popen.kill()
            err = popen.communicate()[1] if log is None else log.read_text(errors="replace")
            raise AssertionError(f"server did not start: {err[-2000:]}")
        time.sleep(0.05)
    bound = json.loads(ports.read_text())
    cert = str(tmp / "state" / "tls" / "self-signed.crt")
    return ServerProcess(popen, bound["plain"][0][1], bound["tls"][0][1], cert, log)
