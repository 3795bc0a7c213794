"""stdlib poplib against a live server: plain with STLS, implicit TLS, every RFC 1939 command."""

from __future__ import annotations

import base64
import poplib
import ssl
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer
from tests.corpus import CORPUS, expected_on_wire, write_corpus


def _plain(server: RunningServer) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", server.plain_port, timeout=30)


def _stls(server: RunningServer) -> poplib.POP3:
    client = _plain(server)
    client.stls(server.client_tls_context())
    return client


def _tls(server: RunningServer) -> poplib.POP3_SSL:
    return poplib.POP3_SSL(
        "localhost", server.tls_port, context=server.client_tls_context(), timeout=30
    )


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def _names_in_order() -> list[str]:
    return list(CORPUS)


@pytest.mark.parametrize("connect", [_stls, _tls], ids=["stls", "implicit-tls"])
async def test_every_command_over_tls(
    server: RunningServer, connect: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        poplib, "_MAXLINE", 100_000
    )  # poplib's own cap is 2,048; RFC 5322 allows more
    messages = write_corpus(server.mail_dir)

    def run() -> None:
        client = connect(server)  # type: ignore[operator]
        capa = client.capa()
        assert {"TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING"} <= set(capa)
        assert "STLS" not in capa
        client.user(USER)
        assert client.pass_(PASSWORD).startswith(b"+OK")
        count, octets = client.stat()
        assert count == len(messages)
        assert octets == sum(len(expected_on_wire(raw)) for raw in messages.values())
        _resp, listing, _ = client.list()
        sizes = [int(line.split()[1]) for line in listing]
        assert sizes == [len(expected_on_wire(raw)) for raw in messages.values()]
        _resp, uids, _ = client.uidl()
        assert [line.split()[1].decode() for line in uids] == _names_in_order()
        for number, raw in enumerate(messages.values(), 1):
            _resp, lines, _octets = client.retr(number)
            assert _joined(lines) == expected_on_wire(raw)
        assert client.quit().startswith(b"+OK")

    await trio.to_thread.run_sync(run)


async def test_plain_capa_offers_stls_and_user_on_loopback(server: RunningServer) -> None:
    def run() -> list[str]:
        client = _plain(server)
        capa = list(client.capa())
        client.quit()
        return capa

    capa = await trio.to_thread.run_sync(run)
    assert "STLS" in capa
    assert "USER" in capa
    assert "IMPLEMENTATION" in capa


async def test_top_sends_headers_blank_line_and_n_lines(server: RunningServer) -> None:
    write_corpus(server.mail_dir)

    def run() -> tuple[list[bytes], list[bytes]]:
        client = _tls(server)
        client.user(USER)
        client.pass_(PASSWORD)
        _r, zero, _o = client.top(1, 0)
        _r, two, _o = client.top(1, 2)
        client.quit()
        return zero, two

    zero, two = await trio.to_thread.run_sync(run)
    header = [b"From: a@example.com", b"To: b@example.com", b"Subject: dots"]
    assert zero == [*header, b""]
    assert two == [*header, b"", b".leading dot", b"..two dots"]


async def test_auth_plain_login(server: RunningServer) -> None:
    write_corpus(server.mail_dir)

    def run() -> tuple[int, int]:
        client = _stls(server)
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        reply: bytes = client._shortcmd(f"AUTH PLAIN {token}")  # type: ignore[attr-defined]
        assert reply.startswith(b"+OK")
        stat = client.stat()
        client.quit()
        return stat

    count, _octets = await trio.to_thread.run_sync(run)
    assert count == len(CORPUS)


async def test_dele_then_rset_keeps_everything(server: RunningServer) -> None:
    write_corpus(server.mail_dir)

    def run() -> None:
        client = _tls(server)
        client.user(USER)
        client.pass_(PASSWORD)
        client.dele(1)
        client.dele(2)
        with pytest.raises(poplib.error_proto, match="already deleted"):
            client.retr(1)
        assert client.stat()[0] == len(CORPUS) - 2
        client.rset()
        assert client.stat()[0] == len(CORPUS)
        client.quit()

    await trio.to_thread.run_sync(run)
    assert sorted(p.name for p in server.mail_dir.iterdir()) == sorted(CORPUS)


async def test_dele_quit_removes_and_relogin_sees_rest(server: RunningServer) -> None:
    write_corpus(server.mail_dir)
    first, second = list(CORPUS)[:2]

    def run() -> list[str]:
        client = _tls(server)
        client.user(USER)
        client.pass_(PASSWORD)
        client.dele(1)
        client.dele(2)
        assert client.quit().startswith(b"+OK")
        again = _tls(server)
        again.user(USER)
        again.pass_(PASSWORD)
        _r, uids, _ = again.uidl()
        again.quit()
        return [line.split()[1].decode() for line in uids]

    remaining = await trio.to_thread.run_sync(run)
    assert remaining == list(CORPUS)[2:]
    assert not (server.mail_dir / first).exists()
    assert not (server.mail_dir / second).exists()


async def test_wrong_password_gets_auth_code(server: RunningServer) -> None:
    def run() -> str:
        client = _tls(server)
        client.user(USER)
        with pytest.raises(poplib.error_proto) as info:
            client.pass_("wrong")
        client.quit()
        return str(info.value)

    assert "-ERR [AUTH]" in await trio.to_thread.run_sync(run)


async def test_second_login_takes_over_an_idle_first(server: RunningServer) -> None:
    """lock-takeover (default): the idle first session is ended; tests/e2e/test_takeover.py
    covers busy holders and strict refusal."""

    def run() -> bytes:
        first = _tls(server)
        first.user(USER)
        first.pass_(PASSWORD)
        second = _tls(server)
        second.user(USER)
        reply = second.pass_(PASSWORD)
        with pytest.raises((poplib.error_proto, OSError, EOFError)):
            first.noop()
        first.close()
        second.quit()
        return reply

    assert (await trio.to_thread.run_sync(run)).startswith(b"+OK")


async def test_tls_1_2_client_connects_and_server_floor_is_1_2(server: RunningServer) -> None:
    assert server.runtime.tls_context is not None
    assert server.runtime.tls_context.minimum_version == ssl.TLSVersion.TLSv1_2

    def run() -> str:
        context = server.client_tls_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        client = poplib.POP3_SSL("localhost", server.tls_port, context=context, timeout=10)
        assert isinstance(client.sock, ssl.SSLSocket)
        version = client.sock.version()
        client.quit()
        return str(version)

    assert await trio.to_thread.run_sync(run) == "TLSv1.2"


def test_corpus_names_are_unique(tmp_path: Path) -> None:
    assert len(write_corpus(tmp_path)) == len(CORPUS)
