"""Security probe 4: revocations survive the registry document being deleted or rolled back.

With ``aws-s3-prefix`` equal to ``lock-prefix`` (accepted by check-config), a POP3 user of that
mailbox saw ``tokens.json`` as a message and deleted it with DELE; on its next re-read the
server adopted the empty registry and a revoked token logged in again (measured on moto). The
ledger now keeps every revocation it knows of (and app-password versions, which only go up)
and writes lost ones back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pop3srv.auth.ledger import LedgerState, TokenLedger, TokenRecord
from pop3srv.auth.ledgerstore import FileBackend


def _record(jti: str, expires: int | None = None) -> TokenRecord:
    return TokenRecord(jti, "work", "phone", 1000, expires, "127.0.0.1")


async def test_a_deleted_document_does_not_unrevoke(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    ledger = TokenLedger(FileBackend(path))
    await ledger.register(_record("lost-phone"))
    await ledger.register(_record("desk"))
    await ledger.revoke("lost-phone")
    await ledger.bump_app_password("work", 1)
    path.unlink()  # what DELE did to the S3 object
    with caplog.at_level(logging.WARNING):
        await ledger.load()
    assert ledger.revoked("lost-phone")
    assert ledger.app_password_version("work", 1) == 2
    assert "lost 1 revocation(s) and 1 app-password version(s)" in caplog.text
    stored = LedgerState.from_bytes(path.read_bytes())  # written back
    assert stored.tokens["lost-phone"].revoked_at is not None
    assert "desk" not in stored.tokens  # nothing else is invented


async def test_a_rolled_back_document_does_not_unrevoke(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    ledger = TokenLedger(FileBackend(path))
    await ledger.register(_record("old"))
    before = path.read_bytes()
    await ledger.revoke("old")
    path.write_bytes(before)  # an older copy of the document put back
    await ledger.load()
    assert ledger.revoked("old")
    assert LedgerState.from_bytes(path.read_bytes()).tokens["old"].revoked_at is not None


async def test_long_expired_revocations_may_go(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    now = [2000.0]
    ledger = TokenLedger(FileBackend(path), clock=lambda: now[0])
    await ledger.register(_record("expired", expires=3000))
    await ledger.revoke("expired")
    assert ledger.revoked("expired")
    path.unlink()
    now[0] = 3000 + 2 * 24 * 3600  # long past its exp: the token is refused anyway
    await ledger.load()
    assert not path.exists()  # nothing written back
