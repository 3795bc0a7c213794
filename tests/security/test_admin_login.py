"""Issue 13, items 2 and 4: wrong admin tokens (UI login form and API bearer tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from admin.auth import LOGIN_COOKIE
from pop3srv.config import ConfigError, load_settings
from tests.admin.conftest import ADMIN_TOKEN, BEARER, Harness
from tests.conftest import server_env

LOOPBACK = {"server": ("127.0.0.1", 8080)}
CHOSEN = "attacker-chosen-csrf-value"  # the double-submit pair is the client's to pick


async def _guess(harness: Harness, token: str) -> int:
    client = harness.app.test_client(use_cookies=False)
    response = await client.post(
        "/login",
        form={"token": token, "csrf": CHOSEN},
        headers={"Cookie": f"{LOGIN_COOKIE}={CHOSEN}"},
        scope_base=LOOPBACK,
    )
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status_code


async def test_i02_parallel_admin_logins_from_a_delayed_address_are_refused_at_once(
    harness: Harness, autojump_clock: object
) -> None:
    """Item 2: 100 parallel guesses: only the free failures are checked, the rest get 429 at
    once, whatever they guess (before: each waited its own delay and was checked)."""
    statuses: list[int] = []
    started = trio.current_time()

    async def guess(index: int) -> None:
        statuses.append(await _guess(harness, f"{index:03d}"))

    async with trio.open_nursery() as nursery:
        for index in range(100):
            nursery.start_soon(guess, index)
    assert statuses.count(401) <= 3
    assert statuses.count(429) >= 97
    assert trio.current_time() - started < 1
    while await _guess(harness, "wrong") == 401:  # the free failures used up
        pass
    assert await _guess(harness, ADMIN_TOKEN) == 429  # within the delay even the right one waits
    await trio.sleep(2)
    assert await _guess(harness, ADMIN_TOKEN) == 303


def test_i02_check_config_refuses_a_short_admin_token(tmp_path: Path) -> None:
    """Item 2: ``admin-token`` shorter than 20 characters is a configuration problem."""
    env = server_env(tmp_path, POP3_ADMIN_TOKEN="123")
    with pytest.raises(ConfigError) as info:
        load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    assert any(p.startswith("admin-token: shorter than 20") for p in info.value.problems)
    assert not any("123" in p for p in info.value.problems)
    env = server_env(tmp_path, POP3_ADMIN_TOKEN="x" * 20)
    assert load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")


async def test_i04_right_bearer_token_works_once_the_delay_is_over(
    harness: Harness, autojump_clock: object
) -> None:
    """Item 4: after 3 wrong bearer tokens the right one is refused only for the Retry-After
    it is told (before: 429 for 15 minutes)."""
    client = harness.client()
    for _ in range(3):
        wrong = await client.get("/api/sessions", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
    refused = await client.get("/api/sessions", headers=BEARER)
    assert refused.status_code == 429
    await trio.sleep(int(refused.headers["Retry-After"]))
    assert (await client.get("/api/sessions", headers=BEARER)).status_code == 200
