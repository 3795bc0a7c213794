"""The admin UI in a real browser: headless Chromium (Debian's) driven by Playwright's sync API
in a worker thread while the server runs in the test's trio loop. Log in, mint a mailbox
password, log in over POP3 with it, watch the session appear live, end it from the UI."""

from __future__ import annotations

import os
import poplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

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


@contextmanager
def chromium_context(**options: Any) -> Iterator[BrowserContext]:
    """A fresh context (``options`` for ``new_context``) of Debian's headless Chromium, 10 s
    for each wait; the browser is closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**options)
            context.set_default_timeout(10_000)
            yield context
        finally:
            browser.close()


def browser_scenario(server: RunningServer) -> list[str]:
    """Runs in a worker thread; returns the browser's console errors."""
    host, port = server.bound.admin[0]
    base = f"http://{host}:{port}"
    errors: list[str] = []
    with chromium_context() as context:
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


ARTIFACTS = Path(os.environ.get("POP3_TEST_ARTIFACTS", "test-artifacts"))
#: every visible element whose box reaches past the viewport's right edge (CSS pixels)
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      out.push(`${element.tagName}#${element.id}.${element.className} ${box.left}-${box.right}`);
    }
  }
  const page = document.documentElement.scrollWidth;
  if (page > width) out.push(`page ${page}`);
  return out;
}"""


def _fail_logins(port: int, times: int) -> None:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    for _ in range(times):
        client.user("mallory")
        with pytest.raises(poplib.error_proto):
            client.pass_("wrong")
    client.close()


def _screens(page: Page, name: str) -> list[str]:
    """Screenshots at 1280 and 390 px; what overflows horizontally at 390 px."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    overflowing: list[str] = page.evaluate(OVERFLOWING)
    page.screenshot(path=str(ARTIFACTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    return overflowing


def console_scenario(server: RunningServer) -> tuple[list[str], list[str]]:
    """Forgive a delayed address, mint with a label, see it in the registry, kick a session
    with confirmation (Esc cancels), revoke the token, read the audit; screenshots.
    Returns (console errors, elements overflowing at 390 px)."""
    host, port = server.bound.admin[0]
    base = f"http://{host}:{port}"
    errors: list[str] = []
    with chromium_context(viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        page.set_default_timeout(15_000)
        expect.set_options(timeout=15_000)  # the security view is polled every 5 s
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.goto(base + "/login")
        page.fill("#token", ADMIN_TOKEN)
        page.click("button[type=submit]")
        expect(page.locator("#ov-version")).not_to_have_text("…")
        expect(page.locator("#ov-store")).to_have_text("no errors")

        _fail_logins(server.plain_port, 3)
        delayed = page.locator("#delayed-body tr[data-address='127.0.0.1']")
        expect(delayed).to_have_count(1)
        expect(page.locator("#failed-body tr").first).to_contain_text("mallory")
        delayed.locator("button.forgive").click()
        page.click("#confirm-ok")
        expect(delayed).to_have_count(0)

        page.check("input[name=kind][value=mailbox]")
        page.select_option("#mint-mailbox", "work")
        page.fill("#mint-label", "Jane's phone")
        page.click("#mint-submit")
        expect(page.locator("#result-label")).to_have_text("Jane's phone")
        token = page.locator("#result-secret").inner_text()
        registry_row = page.locator("#tokens-body tr", has_text="Jane's phone")
        expect(registry_row.locator("td.token-status")).to_have_text("active")
        page.click("#result-done")

        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=10)
        client.user("jane")
        client.pass_(token)
        row = page.locator("#sessions-body tr", has_text="jane")
        expect(row.locator("td.mailbox")).to_have_text("work")
        row.locator("button.end-session").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#confirm")).to_be_visible()
        page.keyboard.press("Escape")  # no: the session stays
        expect(page.locator("#confirm")).to_be_hidden()
        expect(row).to_have_count(1)
        assert client.noop().startswith(b"+OK")
        overflowing = _screens(page, "admin-console")

        registry_row.locator("button.revoke").click()
        expect(page.locator("#confirm-text")).to_contain_text("Jane's phone")
        page.click("#confirm-ok")
        expect(registry_row.locator("td.token-status")).to_contain_text("revoked")
        expect(row).to_have_count(0)  # its session ended
        with pytest.raises((poplib.error_proto, OSError)):
            client.noop()
            client.noop()
        client.close()

        audit = page.locator("#audit-body td.action")
        expect(audit.first).to_have_text("revoke")
        actions = audit.all_inner_texts()
        for action in ("revoke", "mint", "forgive", "admin-login"):
            assert action in actions, actions
    return errors, overflowing


async def test_console_forgive_mint_kick_revoke_audit_and_narrow_layout(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    (server.mail_dir / "work").mkdir(parents=True)
    (server.mail_dir / "work" / "hello.eml").write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    errors, overflowing = await trio.to_thread.run_sync(console_scenario, server)
    assert [e for e in errors if "401" not in e] == []  # the failed POP3 logins are not HTTP
    assert overflowing == []
    assert (ARTIFACTS / "admin-console-390.png").stat().st_size > 0
    assert (ARTIFACTS / "admin-console-1280.png").stat().st_size > 0
    server.shutdown.set()
