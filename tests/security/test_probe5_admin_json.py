"""Probe 5: a deeply nested JSON body to the admin API was a 500 with a traceback.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) for ~1,000 nested arrays, well
inside the 64 KiB body cap: the request ended in the generic error handler and the log got a
traceback per request. It is a malformed body: 400, like invalid JSON (the login callback's
reader already treated it so)."""

from __future__ import annotations

import pytest

from tests.admin.conftest import BEARER, Harness


@pytest.mark.parametrize("path", ["/api/tokens", "/api/app-passwords"])
async def test_deep_nesting_is_a_malformed_body(harness: Harness, path: str) -> None:
    body = b"[" * 20_000 + b"]" * 20_000
    response = await harness.client().post(path, data=body, headers=BEARER)
    assert response.status_code == 400
    assert (await response.get_json())["field"] == "body"
