"""An in-memory store: the ``demo`` mailbox's sample message (and a fake for tests)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence

from pop3srv.protocol.octets import wire_size
from pop3srv.storage.base import CHUNK_SIZE, DeleteResult, MessageGone, MessageInfo

DEMO_MESSAGE = (
    b"From: pop3srv <demo@pop3srv.invalid>\r\n"
    b"To: you@pop3srv.invalid\r\n"
    b"Subject: Hello from pop3srv\r\n"
    b"Date: Mon, 20 Apr 2020 11:13:14 +0200\r\n"
    b"Message-ID: <demo@pop3srv.invalid>\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"This is the demo mailbox: your client is set up correctly.\r\n"
)


class MemoryStore:
    """``MessageStore`` over a fixed set of messages; deletions affect this instance only."""

    def __init__(self, messages: Mapping[str, bytes]) -> None:
        self._messages = dict(messages)

    async def check_access(self) -> None:
        return None

    async def list_messages(self) -> list[MessageInfo]:
        return sorted(
            MessageInfo(arrived=0.0, key=key, size=wire_size(body))
            for key, body in self._messages.items()
        )

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        body = self._messages.get(key)
        if body is None:
            raise MessageGone(key)
        for start in range(0, len(body), CHUNK_SIZE):
            yield body[start : start + CHUNK_SIZE]

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        for key in keys:
            self._messages.pop(key, None)
        return DeleteResult(deleted=tuple(keys))


def demo_store() -> MemoryStore:
    return MemoryStore({"demo-message-1": DEMO_MESSAGE})
