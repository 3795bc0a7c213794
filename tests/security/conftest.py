"""The admin fixtures (``harness``, ``harness_with``) for the security tests, and ``client``:
an httpx client for the login-callback probes."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.admin.conftest import harness, harness_with

__all__ = ["client", "harness", "harness_with"]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
