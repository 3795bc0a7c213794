"""A session's ``MessageStore`` with its failures logged (``FailureLog.store_failed``, one
line per failure, with the session, user and mailbox), then re-raised: ``LoggedStore`` and the
message stream it hands out. The session opens its store through it (``opening.py``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from pop3srv.failures import FailureLog, Who
from pop3srv.storage.base import DeleteResult, Location, MessageInfo, MessageStore, StoreError


class LoggedStore:
    """A ``MessageStore`` whose failures are logged for the session using it, then re-raised."""

    def __init__(self, store: MessageStore, failures: FailureLog, who: Who, location: Location):
        self._store = store
        self._failures = failures
        self.who = who
        self._location = location

    def _failed(self, exc: StoreError, action: str) -> None:
        self._failures.store_failed(exc, action, self.who, self._location)

    def __getattr__(self, name: str) -> object:
        """Anything else a store offers (e.g. a newer protocol method) is the store's own."""
        return getattr(self._store, name)

    async def check_access(self) -> None:
        try:
            await self._store.check_access()
        except StoreError as exc:
            self._failed(exc, "open")
            raise

    async def list_messages(self) -> list[MessageInfo]:
        try:
            return await self._store.list_messages()
        except StoreError as exc:
            self._failed(exc, "list")
            raise

    def stream(self, key: str, *, first_chunk: int | None = None) -> AsyncGenerator[bytes, None]:
        return _LoggedStream(self._store.stream(key, first_chunk=first_chunk), self._failed)

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        try:
            result = await self._store.delete(keys, expected=expected)
        except StoreError as exc:
            self._failed(exc, "delete")
            raise
        if result.failed:
            self._failures.delete_incomplete(result, self.who, self._location)
        return result


class _LoggedStream(AsyncGenerator[bytes, None]):
    """A store's message stream whose failures are logged (as ``retrieve``), then re-raised.

    A plain class, not an async generator wrapping the store's: that was a second generator
    per message (trio's first-iteration hook, a frame resumed per chunk), a measurable share
    of the CPU per small message."""

    __slots__ = ("_failed", "_inner")

    def __init__(
        self, inner: AsyncGenerator[bytes, None], failed: Callable[[StoreError, str], None]
    ) -> None:
        self._inner = inner
        self._failed = failed

    async def __anext__(self) -> bytes:
        try:
            return await self._inner.__anext__()
        except StoreError as exc:
            self._failed(exc, "retrieve")
            raise

    async def asend(self, value: None) -> bytes:
        try:
            return await self._inner.asend(value)
        except StoreError as exc:
            self._failed(exc, "retrieve")
            raise

    async def athrow(self, *args: Any) -> bytes:
        try:
            return await self._inner.athrow(*args)
        except StoreError as exc:
            self._failed(exc, "retrieve")
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()
