"""Probe 5 (finding 3) in a real browser: logging out in one tab ends the live feed of another,
and that tab goes to the login page instead of reconnecting for ever (close code 1008)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from playwright.sync_api import expect

from tests.admin.conftest import ADMIN_TOKEN, CHROMIUM
from tests.admin.test_browser import chromium_context
from tests.admin.test_live_server import start_with_admin
from tests.conftest import RunningServer

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (Debian package chromium)"
)


def two_tabs_then_logout(server: RunningServer) -> None:
    host, port = server.bound.admin[0]
    base = f"http://{host}:{port}"
    with chromium_context() as context:
        first = context.new_page()
        first.goto(base + "/login")
        first.fill("#token", ADMIN_TOKEN)
        first.click("button[type=submit]")
        expect(first).to_have_url(base + "/")
        expect(first.locator("#live-status")).to_have_text("live")
        second = context.new_page()
        second.goto(base + "/")
        expect(second.locator("#live-status")).to_have_text("live")
        second.click("form.logout button")
        expect(second).to_have_url(base + "/login")
        expect(first).to_have_url(base + "/login")  # before: stayed "live"


async def test_logout_in_one_tab_ends_the_live_view_of_another(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    await trio.to_thread.run_sync(two_tabs_then_logout, server)
    server.shutdown.set()
