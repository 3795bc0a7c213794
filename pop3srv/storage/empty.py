"""A mailbox that holds nothing (the original's ``none`` provider)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence

from pop3srv.storage.base import DeleteResult, MessageGone, MessageInfo


class EmptyStore:
    """``MessageStore`` with no messages."""

    async def check_access(self) -> None:
        return None

    async def list_messages(self) -> list[MessageInfo]:
        return []

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        raise MessageGone(key)
        yield b""  # pragma: no cover - makes this an async generator

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        return DeleteResult(deleted=tuple(keys))
