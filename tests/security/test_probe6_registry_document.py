"""Probe 6: a token registry document (``tokens.json`` in the state dir, or the object under
``lock-prefix`` in the bucket) that is JSON but not a registry of the right shape. Whoever can
write it (a bucket writer, a broken tool) made every mint and revoke answer 500 with a
traceback: JSON nested too deeply raised ``RecursionError`` and a record with
``expires_at: "x"`` a ``TypeError`` (in ``prune``). They are a malformed registry now
(``ValueError``): the admin app answers 503 "token registry unavailable", the refresh logs a
warning, logins keep the last good copy."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pop3srv.auth.ledger import LedgerState
from tests.admin.conftest import BEARER, Harness


def _record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "jti": "j1",
        "mailbox": "alice",
        "label": "",
        "created_at": 1,
        "expires_at": None,
        "minted_by": "x",
        "revoked_at": None,
    }
    return {**record, **changes}


DOCUMENTS = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "expires-text": json.dumps({"format": 1, "tokens": [_record(expires_at="x")]}).encode(),
    "created-null": json.dumps({"format": 1, "tokens": [_record(created_at=None)]}).encode(),
    "revoked-list": json.dumps({"format": 1, "tokens": [_record(revoked_at=[1])]}).encode(),
    "mailbox-number": json.dumps({"format": 1, "tokens": [_record(mailbox=5)]}).encode(),
    "expires-bool": json.dumps({"format": 1, "tokens": [_record(expires_at=True)]}).encode(),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_malformed_document_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="registry"):
        LedgerState.from_bytes(DOCUMENTS[name])


def test_a_good_document_still_reads() -> None:
    document = {"format": 1, "tokens": [_record(expires_at=2.5e9, revoked_at=3)]}
    state = LedgerState.from_bytes(json.dumps(document).encode())
    assert state.tokens["j1"].revoked_at == 3


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
async def test_mint_and_revoke_answer_503_not_500(
    harness: Harness, tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "tokens.json").write_bytes(DOCUMENTS[name])
    client = harness.client()
    with caplog.at_level(logging.ERROR):
        mint = await client.post("/api/tokens", json={"mailbox": "work"}, headers=BEARER)
        revoke = await client.delete("/api/tokens/j1", headers=BEARER)
    assert mint.status_code == 503, await mint.get_data()
    assert revoke.status_code == 503, await revoke.get_data()
    assert not [r.getMessage() for r in caplog.records if r.exc_info]
