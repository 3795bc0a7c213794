"""curl as an unmodified third-party client: pop3:// (with and without STLS) and pop3s://."""

from __future__ import annotations

import shutil

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer
from tests.corpus import expected_on_wire, write_corpus

CURL = shutil.which("curl")  # installed by `make test` (scripts/ensure-system-packages)


async def _curl(server: RunningServer, url: str, *extra: str) -> bytes:
    assert CURL is not None
    command = [
        CURL,
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--user",
        f"{USER}:{PASSWORD}",
        *extra,
        url,
    ]
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("scheme", ["pop3", "pop3-stls", "pop3s"])
async def test_curl_lists_and_retrieves_byte_exact(server: RunningServer, scheme: str) -> None:
    messages = write_corpus(server.mail_dir)
    cert = server.bound.self_signed_cert
    assert cert is not None
    if scheme == "pop3s":
        base, extra = f"pop3s://localhost:{server.tls_port}", ["--cacert", cert]
    elif scheme == "pop3-stls":
        base, extra = f"pop3://localhost:{server.plain_port}", ["--ssl-reqd", "--cacert", cert]
    else:
        base, extra = f"pop3://127.0.0.1:{server.plain_port}", []
    listing = await _curl(server, base + "/", *extra)
    sizes = [int(line.split()[1]) for line in listing.decode().splitlines()]
    assert sizes == [len(expected_on_wire(raw)) for raw in messages.values()]  # RFC 1939 s. 11
    for number, raw in enumerate(messages.values(), 1):
        body = await _curl(server, f"{base}/{number}", *extra)
        assert body == expected_on_wire(raw), f"message {number}"


async def test_curl_wrong_password_fails(server: RunningServer) -> None:
    assert CURL is not None
    command = [CURL, "--silent", "--user", f"{USER}:nope", f"pop3://127.0.0.1:{server.plain_port}/"]
    result = await trio.run_process(command, capture_stdout=True, check=False)
    assert result.returncode == 67  # CURLE_LOGIN_DENIED
