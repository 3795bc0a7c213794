"""The UPDATE state (RFC 1939): after QUIT, the messages marked deleted are removed from the
store, within ``COMMIT_TIMEOUT``; the reply says whether all of them were. Mail is deleted
only here, never before QUIT; the caller shields the commit so it is never cut in half."""

from __future__ import annotations

import trio

from pop3srv.metrics import Metrics
from pop3srv.protocol import events as ev
from pop3srv.storage.base import MessageStore, StoreError

COMMIT_TIMEOUT = 120.0
NOT_REMOVED = "some deleted messages not removed"


async def commit(store: MessageStore, total: int, keys: list[str], metrics: Metrics) -> ev.Reply:
    """Delete ``keys`` (of a maildrop of ``total`` messages); the QUIT reply."""
    if not keys:
        return ev.Ok("pop3srv signing off")
    with trio.move_on_after(COMMIT_TIMEOUT):
        try:
            result = await store.delete(keys)
        except StoreError:
            return ev.Err(NOT_REMOVED, "SYS/TEMP")
        metrics.messages_deleted_total.inc(len(result.deleted))
        if result.failed:
            return ev.Err(NOT_REMOVED, "SYS/TEMP")
        return ev.Ok(f"pop3srv signing off ({total - len(keys)} messages left)")
    return ev.Err(NOT_REMOVED, "SYS/TEMP")
