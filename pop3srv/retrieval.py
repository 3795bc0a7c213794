"""Streaming a stored message into reply events (RETR, TOP), and store errors as -ERR replies.

The first chunk is fetched before ``+OK`` is sent, so a store failure up to then is a clean
``-ERR [SYS/TEMP]``; a failure after it can only end the connection (``StreamAborted``).
A message read ahead (``readahead``; ``send_numbered`` takes it and plans the next ones) is
sent from memory with the same replies; when what was read ahead is not enough (a TOP needing
more than the first range, an object that grew since it was listed) the message is streamed
afresh instead, before anything was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Protocol

from pop3srv.maildrop import Maildrop, NoSuchMessage
from pop3srv.protocol import events as ev
from pop3srv.protocol.top import TopFilter
from pop3srv.readahead import Prefetched, ReadAhead, Upcoming
from pop3srv.storage.base import (
    MessageGone,
    MessageStore,
    MessageUndecryptable,
    StoreDenied,
    StoreError,
    StoreUnavailable,
)

#: TOP asks the store for this much first; most header blocks fit.
TOP_FIRST_CHUNK = 64 * 1024


class Outbox(Protocol):
    """Where replies go (the transport's send side)."""

    async def send(self, reply: ev.Reply) -> None: ...


class StreamAborted(Exception):
    """A message body failed after ``+OK`` was sent: the connection must be cut."""


async def send_message(
    store: MessageStore, key: str, out: Outbox, *, size: int | None, top: int | None
) -> None:
    """Send message ``key`` whole (``top`` None) or its headers and ``top`` body lines."""
    # every store fails inside the iteration (``MessageStore.stream``), never at this call
    chunks = store.stream(key, first_chunk=TOP_FIRST_CHUNK if top is not None else None)
    try:  # what ``aclosing`` does, without its two coroutines per message
        try:
            head = await anext(chunks, b"")
        except StoreError as exc:
            await out.send(store_error_reply(exc, "cannot read message"))
            return
        await out.send(ev.BeginData(f"{size} octets" if size is not None else "top of message"))
        try:
            await _pump(head, chunks, TopFilter(top) if top is not None else None, out)
        except StoreError as exc:
            raise StreamAborted(str(exc)) from exc
    finally:
        await chunks.aclose()
    await out.send(ev.EndData())


async def send_numbered(
    store: MessageStore,
    drop: Maildrop,
    ahead: ReadAhead | None,
    number: int,
    *,
    key: str,
    out: Outbox,
    size: int | None,
    top: int | None,
) -> None:
    """RETR/TOP of message ``number`` of a login: from its read-ahead when there is one (and
    the next messages planned), else streamed."""
    if ahead is None:
        await send_message(store, key, out, size=size, top=top)
        return
    is_top = top is not None
    item = ahead.take(number, key, top=is_top)
    ahead.plan(upcoming(drop, ahead.start_after(number, top=is_top)), top=is_top)
    if item is None:
        await send_message(store, key, out, size=size, top=top)
        return
    try:
        await send_prefetched(item, store, out, size=size, top=top)
    finally:
        ahead.release(item)


def upcoming(drop: Maildrop, number: int) -> Iterator[Upcoming]:
    """The live messages after ``number``, in order (what read-ahead fetches)."""
    for later in range(number + 1, len(drop) + 1):
        try:
            info = drop.get(later).info
        except NoSuchMessage:
            continue  # marked deleted
        yield Upcoming(later, info.key, info.size)


async def send_prefetched(
    item: Prefetched,
    store: MessageStore,
    out: Outbox,
    *,
    size: int | None,
    top: int | None,
) -> None:
    """Send a message that was read ahead (waiting for its fetch to finish), exactly as
    ``send_message`` would."""
    if not item.done.is_set():  # Event.wait() on a set event still yields to the scheduler:
        await item.done.wait()  # the command's receive was this task's schedule point
    if item.error is not None:
        await out.send(store_error_reply(item.error, "cannot read message"))
        return
    if top is None:
        data = item.data
        usable = item.complete
    else:  # a prefix is enough if the TOP ends inside it
        lines = TopFilter(top)
        data = lines.feed(item.data)
        usable = item.complete or lines.done
    if not usable:
        await send_message(store, item.key, out, size=size, top=top)
        return
    await out.send(ev.BeginData(f"{size} octets" if size is not None else "top of message"))
    if data or top is None:
        await out.send(ev.Data(data))
    await out.send(ev.EndData())


def store_error_reply(exc: StoreError, what: str) -> ev.Err:
    """The -ERR for a store failure, with its RFC 3206 code."""
    match exc:
        case StoreDenied():
            return ev.Err(f"{what}: access denied", "SYS/PERM")
        case MessageGone():
            return ev.Err("message no longer exists", "SYS/TEMP")
        case MessageUndecryptable():
            return ev.Err("message cannot be decrypted", "SYS/PERM")
        case StoreUnavailable():
            return ev.Err(f"{what}: storage temporarily unavailable", "SYS/TEMP")
    return ev.Err(f"{what}: storage error", "SYS/TEMP")


async def _pump(
    head: bytes, chunks: AsyncIterator[bytes], top: TopFilter | None, out: Outbox
) -> None:
    chunk: bytes | None = head
    while chunk is not None:
        if top is None:
            await out.send(ev.Data(chunk))
        else:
            passed = top.feed(chunk)
            if passed:
                await out.send(ev.Data(passed))
            if top.done:
                return
        chunk = await anext(chunks, None)
