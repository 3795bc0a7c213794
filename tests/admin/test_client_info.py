"""What the UI tells mail-client users after minting: the ``public-*`` settings; without them
this server's own ports plus the names of the settings to set, never a loopback address."""

from __future__ import annotations

from pathlib import Path

from pop3srv.runtime import Bound
from pop3srv.service import client_info
from tests.admin.conftest import load, make_harness
from tests.admin.test_ui import ui_login

BOUND = Bound(plain=[("0.0.0.0", 2110)], tls=[("0.0.0.0", 2995)])


def test_public_settings_feed_the_panel(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        POP3_PUBLIC_HOST="mail.example.org",
        POP3_PUBLIC_TLS_PORT="995",
        POP3_PUBLIC_PLAIN_PORT="110",
    )
    info = client_info(settings, BOUND, tls=True)
    assert (info.host, info.tls_port, info.plain_port, info.missing) == (
        "mail.example.org",
        995,
        110,
        (),
    )


def test_without_them_the_panel_names_the_settings(tmp_path: Path) -> None:
    info = client_info(load(tmp_path), BOUND, tls=True)
    assert info.host is None
    assert (info.tls_port, info.plain_port) == (2995, 2110)
    assert info.missing == ("public-host", "public-tls-port", "public-plain-port")


async def test_page_says_which_setting_to_set(tmp_path: Path) -> None:
    info = client_info(load(tmp_path), BOUND, tls=True)
    harness = make_harness(load(tmp_path), client=info)
    response, client = await ui_login(harness.app)
    cookie = response.headers["Set-Cookie"].split(";")[0]
    page = await (await client.get("/", headers={"Cookie": cookie})).get_data(True)
    assert 'id="result-server-missing"' in page and "POP3_PUBLIC_HOST" in page
    assert "127.0.0.1" not in page
    assert 'id="result-tls-port">2995<' in page and "public-tls-port" in page
