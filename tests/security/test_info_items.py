"""Issue 13, the info items (10-19), one test each."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
from pytest_httpserver import HTTPServer

from pop3srv.auth.base import AuthFailed, AuthUnavailable, LoginContext
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.http import HttpCallbackAuthenticator
from pop3srv.auth.static import StaticAuthenticator
from pop3srv.config import ConfigError, load_settings, main_check_config
from pop3srv.storage.base import EmptyLocation, FolderLocation, StoreDenied
from pop3srv.storage.folder import FolderStore
from pop3srv.tls import ensure_self_signed, server_context
from pop3srv.transport import TransportLimits
from tests.conftest import server_env
from tests.security.support import handler, login, static_users


def test_i10_check_config_redacts_user_info_without_password(
    tmp_path: Path, capsys: object
) -> None:
    """``https://TOKEN@host/`` is shown as ``https://***@host/`` (before: verbatim)."""
    env = server_env(tmp_path, POP3_HTTP_BASIC_AUTH_URL="https://tok-zz9-secret@auth.example.com/")
    main_check_config(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    out, err = capsys.readouterr()  # type: ignore[attr-defined]
    assert "tok-zz9-secret" not in out + err
    assert "https://***@auth.example.com/" in out


async def test_i11_default_password_from_afar_gets_the_generic_refusal() -> None:
    """A remote peer cannot tell the default password from a wrong one (before: its own text)."""
    auth = StaticAuthenticator.single("user", "changeit", EmptyLocation())
    remote = LoginContext(peer="192.0.2.1:1", loopback=False)
    texts = set()
    for password in ("changeit", "wrong"):
        with pytest.raises(AuthFailed) as info:
            await auth.authenticate("user", password, remote)
        texts.add(str(info.value))
    assert texts == {"invalid user name or password"}


async def test_i12_trust_loopback_false_refuses_plaintext_login_from_loopback(
    tmp_path: Path,
) -> None:
    """With ``trust-loopback: false`` a loopback peer (a same-host relay) gets no plaintext-auth
    exception (before: the setting was not used)."""
    settings = load_settings(
        server_env(tmp_path, POP3_TRUST_LOOPBACK="false"),
        cwd=tmp_path,
        home=tmp_path,
        etc_dir=tmp_path / "etc",
    )
    pop3 = handler(static_users(tmp_path, alice="secret"), TransportLimits.from_settings(settings))
    reply, _ = await login(pop3, "127.0.0.1:4000", "alice", "secret")
    assert reply.startswith(b"-ERR"), reply
    trusting = handler(static_users(tmp_path, alice="secret"), TransportLimits())
    reply, _ = await login(trusting, "127.0.0.1:4000", "alice", "secret")
    assert reply.startswith(b"+OK"), reply


def _callback(url: str, client: httpx.AsyncClient, timeout: float) -> HttpCallbackAuthenticator:
    return HttpCallbackAuthenticator(url, client, MailboxResolver(mail_dir=Path("/m")), timeout)


async def test_i13_callback_has_one_deadline_however_slowly_it_drips() -> None:
    """A callback sending one byte every 0.3 s is cut at the 1 s deadline (before: the
    timeout applied per read and the login stayed open as long as the drip went on)."""

    async def drip(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
        await stream.send_all(head)
        with contextlib.suppress(trio.BrokenResourceError):
            for _ in range(40):
                await stream.send_all(b" ")
                await trio.sleep(0.3)

    async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
        listeners = await nursery.start(partial(trio.serve_tcp, drip, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        auth = _callback(f"http://127.0.0.1:{port}/auth", client, timeout=1.0)
        started = time.monotonic()
        with pytest.raises(AuthUnavailable):
            await auth.authenticate("jane", "pw", LoginContext())
        assert time.monotonic() - started < 3
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("user", ["victim:guess", "victim\x00", "vic\ttim", "victim\x7f"])
async def test_i14_colon_and_control_characters_are_not_sent_to_the_callback(
    httpserver: HTTPServer, user: str
) -> None:
    """Refused without a request (before: ``victim:guess`` arrived as user ``victim``)."""
    httpserver.expect_request("/auth").respond_with_json({"provider": "none"})
    async with httpx.AsyncClient() as client:
        auth = _callback(httpserver.url_for("/auth"), client, timeout=5)
        with pytest.raises(AuthFailed):
            await auth.authenticate(user, "pw", LoginContext())
        assert (await auth.authenticate("victim", "pw", LoginContext())).user == "victim"
    assert len(httpserver.log) == 1  # only the clean name was sent


async def test_i15_deeply_nested_callback_body_is_a_malformed_body(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """``[AUTH]`` (AuthFailed) and a one-line log, no traceback (before: RecursionError)."""
    depth = 30_000  # 60 KB: under the body limit
    body = "[" * depth + "]" * depth
    httpserver.expect_request("/auth").respond_with_data(body, content_type="application/json")
    async with httpx.AsyncClient() as client:
        auth = _callback(httpserver.url_for("/auth"), client, timeout=5)
        with pytest.raises(AuthFailed):
            await auth.authenticate("jane", "pw", LoginContext())
    assert any("nested too deeply" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)


async def test_i16_folder_prefix_with_dotdot_is_refused(tmp_path: Path) -> None:
    """check-config refuses ``aws-s3-prefix: ../x`` for the folder store (as the mailboxes
    table does), and the store never leaves mail-dir (before: accepted and followed)."""
    env = server_env(tmp_path, POP3_AWS_S3_PREFIX="../outside/")
    with pytest.raises(ConfigError) as info:
        load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    assert any(
        p.startswith("aws-s3-prefix: must stay inside mail-dir") for p in info.value.problems
    )
    (tmp_path / "mail").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "m1").write_text("x")
    store = FolderStore(FolderLocation(tmp_path / "mail", "../outside/"))
    with pytest.raises(StoreDenied):
        await store.list_messages()


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256"])
def test_i19_tls12_offers_no_cbc_suites(tmp_path: Path, suite: str) -> None:
    """A TLS 1.2 client offering only a CBC suite fails the handshake (before: accepted)."""
    files = ensure_self_signed(tmp_path)
    server = server_context(files.cert, files.key)
    assert all(c["aead"] for c in server.get_ciphers() if c["protocol"] == "TLSv1.2"), (
        server.get_ciphers()
    )
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(files.cert)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers(suite)
    left, right = socket.socketpair()
    with left, right:
        errors: list[Exception] = []

        def serve() -> None:
            try:
                with server.wrap_socket(right, server_side=True):
                    pass
            except (ssl.SSLError, OSError) as exc:
                errors.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        with pytest.raises(ssl.SSLError):
            client.wrap_socket(left, server_hostname="localhost")
        thread.join(10)
    assert errors
