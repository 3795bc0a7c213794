"""Issue 13, the info items (10-19), one test each."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth.base import AuthFailed, LoginContext
from pop3srv.auth.static import StaticAuthenticator
from pop3srv.config import load_settings, main_check_config
from pop3srv.storage.base import EmptyLocation
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
