"""The admin UI in a real browser: headless Chromium (Debian's) driven by Playwright's sync API
in a worker thread while the server runs in the test's trio loop. Log in, mint a mailbox
password, log in over POP3 with it, watch the session appear live, end it from the UI."""

from __future__ import annotations

import poplib
from pathlib import Path

import pytest
import trio
from playwright.sync_api import expect, sync_playwright

from tests.admin.conftest import ADMIN_TOKEN, CHROMIUM
from tests.admin.test_live_server import start_with_admin
from tests.conftest import RunningServer

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (Debian package chromium)"
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
POP3_USER = "browser-user"


def browser_scenario(server: RunningServer) -> list[str]:
    """Runs in a worker thread; returns the browser's console errors."""
    host, port = server.bound.admin[0]
    base = f"http://{host}:{port}"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(base + "/")
            expect(page).to_have_url(base + "/login")
            page.fill("#token", "wrong")
            page.click("button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("Wrong admin token")
            errors.clear()  # the 401 answer is logged by the browser as a console error
            page.fill("#token", ADMIN_TOKEN)
            page.click("button[type=submit]")
            expect(page).to_have_url(base + "/")
            [cookie] = [c for c in context.cookies() if c["name"] == "pop3srv_admin"]
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
            expect(page.locator("#live-status")).to_have_text("live")
            expect(page.locator("#no-sessions")).to_be_visible()

            page.check("input[name=kind][value=mailbox]")
            page.select_option("#mint-mailbox", "work")
            page.select_option("#mint-ttl", label="1 day")
            page.click("#mint-submit")
            expect(page.locator("#result")).to_be_visible()
            token = page.locator("#result-secret").inner_text()
            assert token.count(".") == 2, token
            expect(page.locator("#result-plain-port")).to_have_text(str(server.plain_port))
            expect(page.locator("#result-server-missing")).to_contain_text("public-host")
            page.click("#copy-secret")
            expect(page.locator("#copy-status")).not_to_be_empty()

            client = poplib.POP3("127.0.0.1", server.plain_port, timeout=10)
            client.user(POP3_USER)
            client.pass_(token)
            assert client.stat() == (1, 22)

            row = page.locator("#sessions-body tr", has_text=POP3_USER)
            expect(row).to_have_count(1)
            expect(row.locator("td.state")).to_have_text("TRANSACTION")
            expect(page.locator("#no-sessions")).to_be_hidden()
            row.locator("button.end-session").click()
            expect(page.locator("#confirm")).to_be_visible()
            page.click("#confirm-ok")
            expect(row).to_have_count(0)
            expect(page.locator("#no-sessions")).to_be_visible()

            with pytest.raises((poplib.error_proto, OSError)):
                client.noop()
                client.noop()
            client.close()

            page.click("#result-done")
            expect(page.locator("#result")).to_be_hidden()
            expect(page.locator("#result-secret")).to_have_text("")
        finally:
            browser.close()
    return errors


async def test_login_mint_watch_and_end_a_session(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_with_admin(nursery, tmp_path)
    (server.mail_dir / "work").mkdir(parents=True)
    (server.mail_dir / "work" / "hello.eml").write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    errors = await trio.to_thread.run_sync(browser_scenario, server)
    assert errors == []
    assert (server.mail_dir / "work" / "hello.eml").exists()
    ended = server.runtime.metrics.admin_sessions_ended_total._value.get()
    assert ended == 1
    server.shutdown.set()
