"""The UPDATE state (RFC 1939): after QUIT, the messages marked deleted are removed from the
store, in batches of ``COMMIT_BATCH``, each within ``COMMIT_TIMEOUT`` (a store that stops
answering is given up; a big QUIT that keeps making progress is not cut, however long it
takes: 50,000 trash moves over a remote endpoint take minutes); the reply says whether all of
them were. Mail is deleted
only here, never before QUIT; the caller shields the commit so it is never cut in half.

Only while the session still holds its maildrop: before each ``COMMIT_BATCH`` of deletions
``confirm`` proves the lock is still the session's (with ``lock: s3``, a replica frozen past
its lease may have lost it to a session on another replica, which now owns the mailbox). A
lock found lost stops the commit; what was not deleted stays. Each message is deleted only if
it is still the one listed at login (``expected``: its ETag or file identity), so mail that
replaced a listed message under the same name is never deleted unseen."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import trio

from pop3srv.metrics import Metrics
from pop3srv.protocol import events as ev
from pop3srv.storage.base import MessageStore, StoreError

log = logging.getLogger(__name__)
#: the longest one batch (lease proof, then its deletions) may take
COMMIT_TIMEOUT = 120.0
#: deletions between two checks that the session still holds its maildrop lock
COMMIT_BATCH = 1000
NOT_REMOVED = "some deleted messages not removed"


async def commit(
    store: MessageStore,
    total: int,
    keys: list[str],
    metrics: Metrics,
    *,
    confirm: Callable[[], Awaitable[bool]] | None = None,
    expected: Mapping[str, str] | None = None,
    removed_now: Callable[[int], None] | None = None,
) -> ev.Reply:
    """Delete ``keys`` (of a maildrop of ``total`` messages, listed as ``expected``) while
    ``confirm`` says the maildrop is still locked; the QUIT reply. ``removed_now`` is told
    how many each batch removed (the session's ``logout`` line counts them)."""
    if not keys:
        return ev.Ok("pop3srv signing off")
    removed = 0
    for start in range(0, len(keys), COMMIT_BATCH):
        batch = keys[start : start + COMMIT_BATCH]
        with trio.move_on_after(COMMIT_TIMEOUT):
            if confirm is not None and not await confirm():
                return ev.Err(NOT_REMOVED, "SYS/TEMP")
            try:
                result = await store.delete(batch, expected=expected)
            except StoreError:
                return ev.Err(NOT_REMOVED, "SYS/TEMP")
            metrics.messages_deleted_total.inc(len(result.deleted))
            removed += len(result.deleted)
            if removed_now is not None:
                removed_now(len(result.deleted))
            if result.changed:
                log.warning(
                    "%d messages marked for deletion were replaced since login (same name, "
                    "new content) and are kept",
                    len(result.changed),
                )
            if result.failed:
                return ev.Err(NOT_REMOVED, "SYS/TEMP")
            continue
        log.warning(
            "QUIT commit stopped: a batch of %d deletions got no answer in %g seconds; %d of "
            "%d marked messages removed, the rest stay (the store is too slow or not answering)",
            len(batch),
            COMMIT_TIMEOUT,
            removed,
            len(keys),
        )
        return ev.Err(NOT_REMOVED, "SYS/TEMP")
    return ev.Ok(f"pop3srv signing off ({total - len(keys)} messages left)")
