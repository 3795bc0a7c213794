"""The token registry: its document, the file backend (state-dir, survives a new instance), and
the S3 backend on real S3 servers (SeaweedFS, moto) where two replicas change the one object
at once with conditional writes and neither change is lost; a replica learns of the other's
revocations on its next refresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from pop3srv.auth.ledger import KEEP_EXPIRED, LedgerState, Revocation, TokenLedger, TokenRecord
from pop3srv.auth.ledgerstore import FileBackend, S3Backend, choose_backend
from pop3srv.storage.pool import S3Pool
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _record(jti: str, *, created: int = 1000, expires: int | None = None) -> TokenRecord:
    return TokenRecord(jti, "work", "phone", created, expires, "127.0.0.1")


def test_document_round_trip_and_prune() -> None:
    state = LedgerState({"a": _record("a"), "old": _record("old", expires=10)}, {"work": 3})
    again = LedgerState.from_bytes(state.to_bytes())
    assert again.tokens == state.tokens and again.app_password_versions == {"work": 3}
    again.prune(now=10 + KEEP_EXPIRED + 1)
    assert set(again.tokens) == {"a"}
    with pytest.raises(ValueError, match="token registry"):
        LedgerState.from_bytes(json.dumps({"format": 99}).encode())
    broken_documents: list[dict[str, object]] = [
        {"tokens": [{"jti": "a"}]},
        {"tokens": [3]},
        {"app_password_versions": []},
    ]
    for broken in broken_documents:
        with pytest.raises(ValueError, match="malformed"):
            LedgerState.from_bytes(json.dumps({"format": 1, **broken}).encode())


async def test_file_backend_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.json"
    first = TokenLedger(FileBackend(path), clock=lambda: 5000.0)
    await first.register(_record("a"))
    await first.register(_record("b"))
    assert (await first.revoke("a")) is not None
    assert await first.revoke("missing") is None
    assert await first.bump_app_password("work", configured=4) == 5
    assert path.stat().st_mode & 0o777 == 0o600

    second = TokenLedger(FileBackend(path))
    await second.load()
    assert second.revoked("a") and not second.revoked("b") and second.registered("b")
    assert not second.registered("c")
    assert second.app_password_version("work", 1) == 5
    assert second.app_password_version("work", 9) == 9  # the configuration can go higher
    assert {r.jti for r in second.records()} == {"a", "b"}


async def test_listeners_hear_each_revocation_once(tmp_path: Path) -> None:
    ledger = TokenLedger(FileBackend(tmp_path / "tokens.json"))
    heard: list[Revocation] = []
    ledger.listen(heard.append)
    await ledger.register(_record("a"))
    await ledger.revoke("a")
    await ledger.revoke("a")
    await ledger.load()
    await ledger.bump_app_password("work", 1)
    assert heard == [Revocation(jti="a"), Revocation(mailbox="work")]


async def test_s3_backend_concurrent_replicas_lose_nothing(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    location = s3_server.location(bucket)
    backend = choose_backend(pool, Path("unused"), location, ".pop3srv-locks/")
    assert isinstance(backend, S3Backend)
    first = TokenLedger(backend, refresh=0.2)
    key = ".pop3srv-locks/tokens.json"
    second, third, fourth = (
        TokenLedger(S3Backend(pool, location, key), refresh=0.2) for _ in range(3)
    )
    async with trio.open_nursery() as nursery:  # four replicas write at once
        for n in range(3):
            for name, ledger in zip("abcd", (first, second, third, fourth), strict=True):
                nursery.start_soon(ledger.register, _record(f"{name}{n}", created=n))
    await first.load()
    assert len(first.records()) == 12
    assert s3_server.keys(bucket) == [key]

    heard: list[Revocation] = []
    second.listen(heard.append)
    await second.load()
    async with trio.open_nursery() as nursery:
        await nursery.start(second.run)
        await first.revoke("b2")
        with trio.fail_after(5):
            while not second.revoked("b2"):
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert heard == [Revocation(jti="b2")]


async def test_file_backends_share_a_lock_across_instances(tmp_path: Path) -> None:
    """Two backends on one file (as the server and ``pop3srv token mint``) interleave their
    read-modify-writes only through the file lock: nothing is lost."""
    path = tmp_path / "state" / "tokens.json"
    first, second = TokenLedger(FileBackend(path)), TokenLedger(FileBackend(path))
    async with trio.open_nursery() as nursery:
        for n in range(15):
            nursery.start_soon(first.register, _record(f"a{n}", created=n))
            nursery.start_soon(second.register, _record(f"b{n}", created=n))
    await first.load()
    assert len(first.records()) == 30
