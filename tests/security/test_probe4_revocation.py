"""Security probe 4: a revoked token stays revoked however many tokens are minted after it.

The token registry keeps at most ``MAX_RECORDS`` (20,000) records and dropped the oldest
beyond that, revoked or not; without ``require-jti`` a jti the registry no longer knows is
accepted, so the 20,001st mint silently un-revoked the oldest revoked token that had not
expired (a "never expires" one: forever). Through a whole server: the registry file holds a
revoked never-expiring token and 20,000 newer records, one more token is minted with
``POST /api/tokens``, and the revoked token still cannot log in."""

from __future__ import annotations

import json
import poplib
from pathlib import Path

import httpx
import jwt
import trio

from pop3srv.auth.ledger import FORMAT, MAX_RECORDS, LedgerState, TokenRecord
from tests.admin.conftest import BEARER, JWT_SECRET
from tests.admin.test_live_server import admin_base, start_with_admin

REVOKED = TokenRecord("old-revoked", "work", "lost phone", 1000, None, "127.0.0.1", 2000)


def _registry(count: int) -> bytes:
    records = [REVOKED] + [
        TokenRecord(f"t{n}", "work", "", 5000 + n, None, "127.0.0.1") for n in range(count)
    ]
    document = {"format": FORMAT, "tokens": [r.public() for r in records]}
    return json.dumps({**document, "app_password_versions": {}}).encode()


def test_prune_keeps_revoked_tokens_that_may_still_be_valid() -> None:
    state = LedgerState.from_bytes(_registry(MAX_RECORDS))
    state.prune(now=10_000)
    assert state.tokens["old-revoked"].revoked_at == 2000
    assert len(state.tokens) == MAX_RECORDS
    assert "t0" not in state.tokens  # the oldest record that is not revoked went instead
    state.tokens["t1"] = TokenRecord("t1", "work", "", 5001, 9000, "127.0.0.1", 9000)
    state.tokens["new"] = TokenRecord("new", "work", "", 99_999, None, "127.0.0.1")
    state.prune(now=9000 + 2 * 24 * 3600)
    assert "t1" not in state.tokens and "t2" in state.tokens  # long expired ones go first


async def test_minting_past_the_cap_does_not_unrevoke(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    (state_dir / "tokens.json").write_bytes(_registry(MAX_RECORDS))
    (state_dir / "tokens.json").chmod(0o600)
    server = await start_with_admin(nursery, tmp_path)
    (tmp_path / "mail" / "work").mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            admin_base(server) + "/api/tokens", json={"mailbox": "work"}, headers=BEARER
        )
    assert response.status_code == 200, response.text
    token = jwt.encode({"mailbox": "work", "jti": "old-revoked", "iat": 1000}, JWT_SECRET)

    def login() -> str:
        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        client.user("jwt")
        try:
            return client.pass_(token).decode()
        except poplib.error_proto as exc:
            return str(exc)
        finally:
            client.close()

    reply = await trio.to_thread.run_sync(login)
    server.shutdown.set()
    assert "-ERR [AUTH]" in reply, reply
