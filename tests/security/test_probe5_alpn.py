"""ALPN on the TLS listeners (security probe 5, finding 9): a client whose handshake chooses an
HTTP protocol (ALPACA: a browser led to the POP3 port) is closed before any greeting, over
implicit TLS and after STLS; POP3 clients, with ``pop3`` or no ALPN at all, are served."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable

import pytest
import trio

from pop3srv.logsetup import fields_of
from tests.conftest import RunningServer


def _context(server: RunningServer, alpn: list[str] | None) -> ssl.SSLContext:
    context = server.client_tls_context()
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def _first_bytes(tls: ssl.SSLSocket) -> bytes:
    try:
        return tls.recv(100)
    except (ConnectionResetError, ssl.SSLError):
        return b""


def _implicit(server: RunningServer, alpn: list[str] | None) -> tuple[str | None, bytes]:
    raw = socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
    with _context(server, alpn).wrap_socket(raw, server_hostname="localhost") as tls:
        return tls.selected_alpn_protocol(), _first_bytes(tls)


def _after_stls(server: RunningServer, alpn: list[str] | None) -> tuple[str | None, bytes]:
    with socket.create_connection(("127.0.0.1", server.plain_port), timeout=10) as raw:
        assert raw.recv(100).startswith(b"+OK")
        raw.sendall(b"STLS\r\n")
        assert raw.recv(100).startswith(b"+OK")
        with _context(server, alpn).wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"CAPA\r\n")
            return tls.selected_alpn_protocol(), _first_bytes(tls)


@pytest.mark.parametrize(
    ("alpn", "chosen", "served"),
    [
        (None, None, True),
        (["pop3"], "pop3", True),
        (["h2", "http/1.1", "pop3"], "pop3", True),  # the server's order: pop3 first
        (["http/1.1"], "http/1.1", False),
        (["h2"], "h2", False),
        (["imap"], None, True),  # no overlap: no ALPN, as a client without it
    ],
)
@pytest.mark.parametrize("connect", [_implicit, _after_stls], ids=["implicit-tls", "stls"])
async def test_a_handshake_choosing_http_is_closed_before_any_reply(
    server: RunningServer,
    connect: Callable[[RunningServer, list[str] | None], tuple[str | None, bytes]],
    alpn: list[str] | None,
    chosen: str | None,
    served: bool,
) -> None:
    selected, first = await trio.to_thread.run_sync(connect, server, alpn)
    assert selected == chosen
    assert first.startswith(b"+OK") if served else first == b"", first


def _sessions(server: RunningServer, outcome: str) -> float:
    value = server.runtime.prometheus.get_sample_value("pop3_sessions_total", {"outcome": outcome})
    return value or 0.0


async def test_a_handshake_choosing_http_is_counted_and_logged_as_refused(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal is a ``refused`` session and a ``connection refused`` line naming ALPN, as
    the PROXY protocol's refusals are (not a dropped connection)."""
    caplog.set_level(logging.INFO, logger="pop3srv.failures")
    refused = _sessions(server, "refused")
    assert (await trio.to_thread.run_sync(_implicit, server, ["http/1.1"]))[1] == b""
    with trio.fail_after(5):  # the server's side may end just after the client's
        while _sessions(server, "refused") == refused:
            await trio.sleep(0.01)
    assert _sessions(server, "refused") == refused + 1
    (record,) = [r for r in caplog.records if r.getMessage() == "connection refused"]
    assert "ALPN chose 'http/1.1'" in str(fields_of(record)["reason"])
