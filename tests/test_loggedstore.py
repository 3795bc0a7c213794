"""The store wrapper that logs a session's store failures and re-raises them."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing

import pytest

from pop3srv.failures import FailureLog
from pop3srv.loggedstore import LoggedStore
from pop3srv.logsetup import fields_of
from pop3srv.storage.base import (
    DeleteResult,
    MessageGone,
    MessageInfo,
    StoreDenied,
    StoreUnavailable,
)
from tests.test_failures import LOCATION, WHO, denied, records


class Failing:
    """A store whose every operation fails (``stream`` after one chunk)."""

    async def check_access(self) -> None:
        raise denied()

    async def list_messages(self) -> list[MessageInfo]:
        raise StoreUnavailable("list")

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        yield b"first"
        raise StoreUnavailable("cut")

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        return DeleteResult(deleted=(), failed=tuple(keys), codes=("AccessDenied",))


async def test_the_logged_store_logs_each_failure_and_raises_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store = LoggedStore(Failing(), FailureLog(), WHO, LOCATION)
    with pytest.raises(StoreDenied):
        await store.check_access()
    with pytest.raises(StoreUnavailable):
        await store.list_messages()
    chunks = []
    with pytest.raises(StoreUnavailable):
        async for chunk in store.stream("m1"):
            chunks.append(chunk)
    assert chunks == [b"first"]
    result = await store.delete(["m1", "m2"])
    assert result.failed == ("m1", "m2")
    actions = [fields_of(r)["action"] for r in records(caplog)]
    assert actions == ["open", "list", "retrieve", "delete"]
    last = records(caplog)[-1]
    assert last.getMessage() == "store failure: 2 of 2 messages not deleted"
    assert fields_of(last)["code"] == "AccessDenied"


def test_the_logged_store_passes_on_what_it_does_not_wrap() -> None:
    class Extra(Failing):
        read_ahead = 4

    store = LoggedStore(Extra(), FailureLog(), WHO, LOCATION)
    assert store.read_ahead == 4


async def test_the_logged_stream_logs_a_failure_taken_with_anext_and_closes_the_store_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As retrieval and read-ahead use it: ``anext`` under ``aclosing``; a failure before the
    first chunk is logged once; closing early closes the store's own stream."""
    caplog.set_level(logging.INFO)
    closed: list[str] = []

    class Store(Failing):
        async def stream(
            self, key: str, *, first_chunk: int | None = None
        ) -> AsyncGenerator[bytes, None]:
            try:
                if key == "gone":
                    raise MessageGone("gone")
                yield b"one"
                yield b"two"
            finally:
                closed.append(key)

    store = LoggedStore(Store(), FailureLog(), WHO, LOCATION)
    async with aclosing(store.stream("gone")) as chunks:
        with pytest.raises(MessageGone):
            await anext(chunks, b"")
    async with aclosing(store.stream("m1")) as chunks:
        assert await anext(chunks, b"") == b"one"  # then abandoned
    assert closed == ["gone", "m1"]
    assert [fields_of(r)["action"] for r in records(caplog)] == ["retrieve"]
