"""The UPDATE state's commit (pop3srv.update): what QUIT deletes and what it answers, with a
memory store; a store that stops answering is given up after COMMIT_TIMEOUT, with a log line
saying how far the commit got (before, the reply was the only trace)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pytest
import trio
from prometheus_client import CollectorRegistry

from pop3srv.metrics import create_metrics
from pop3srv.protocol import events as ev
from pop3srv.storage.base import DeleteResult
from pop3srv.storage.memory import MemoryStore
from pop3srv.update import COMMIT_BATCH, COMMIT_TIMEOUT, commit

MESSAGES = {f"m{n:05}": b"x\r\n" for n in range(COMMIT_BATCH + 5)}


class _StallsAfterFirstBatch(MemoryStore):
    """Deletes the first batch, then never answers."""

    def __init__(self) -> None:
        super().__init__(MESSAGES)
        self.calls = 0

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        self.calls += 1
        if self.calls > 1:
            await trio.sleep_forever()
        return await super().delete(keys, expected=expected)


async def test_all_marked_deleted_gives_ok_with_what_is_left() -> None:
    store = MemoryStore(MESSAGES)
    metrics = create_metrics(CollectorRegistry())
    reply = await commit(store, len(MESSAGES), ["m00000", "m00001"], metrics)
    assert reply == ev.Ok(f"pop3srv signing off ({len(MESSAGES) - 2} messages left)")
    assert len(await store.list_messages()) == len(MESSAGES) - 2


async def test_a_store_that_stops_answering_is_given_up_and_logged(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    store = _StallsAfterFirstBatch()
    metrics = create_metrics(CollectorRegistry())
    start = trio.current_time()
    with caplog.at_level(logging.WARNING, logger="pop3srv.update"):
        reply = await commit(store, len(MESSAGES), sorted(MESSAGES), metrics)
    assert trio.current_time() - start == pytest.approx(COMMIT_TIMEOUT)
    assert isinstance(reply, ev.Err) and reply.code == "SYS/TEMP"
    [record] = caplog.records
    text = record.getMessage()
    assert f"{COMMIT_BATCH} of {len(MESSAGES)} marked messages removed" in text
    assert len(await store.list_messages()) == len(MESSAGES) - COMMIT_BATCH


async def test_removed_now_counts_only_what_a_stalled_commit_removed(
    autojump_clock: object,
) -> None:
    """The ``logout`` line's ``deleted``/``kept`` (ops-7): a commit that stops after its
    first batch reports exactly that batch; the rest stays marked (``kept``)."""
    removed: list[int] = []
    reply = await commit(
        _StallsAfterFirstBatch(),
        len(MESSAGES),
        sorted(MESSAGES),
        create_metrics(CollectorRegistry()),
        removed_now=removed.append,
    )
    assert isinstance(reply, ev.Err)
    assert removed == [COMMIT_BATCH]


class _SlowButSteady(MemoryStore):
    """Takes most of COMMIT_TIMEOUT for every batch, and deletes it (a remote S3, a trash
    copy per message): a big QUIT that makes progress all along."""

    def __init__(self) -> None:
        super().__init__({f"m{n:05}": b"x\r\n" for n in range(3 * COMMIT_BATCH)})

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        await trio.sleep(COMMIT_TIMEOUT * 0.6)
        return await super().delete(keys, expected=expected)


async def test_a_long_commit_that_makes_progress_is_not_cut(autojump_clock: object) -> None:
    """The timeout bounds each batch, not the whole QUIT: 3,000 deletions taking 1.8x
    COMMIT_TIMEOUT in all finish with +OK (before, the third batch was cut and the client
    told -ERR with two thirds of its mail gone)."""
    store = _SlowButSteady()
    keys = sorted(m.key for m in await store.list_messages())
    metrics = create_metrics(CollectorRegistry())
    reply = await commit(store, len(keys), keys, metrics)
    assert reply == ev.Ok("pop3srv signing off (0 messages left)")
    assert await store.list_messages() == []


async def test_a_slow_commit_stops_at_the_first_batch_after_the_lease_is_lost(
    autojump_clock: object,
) -> None:
    """A store that answers each batch just under COMMIT_TIMEOUT cannot keep a QUIT going
    once the maildrop's lease is lost: the lease proof before the next batch stops it, the
    client is told -ERR and the rest of the mail stays."""
    store = _SlowButSteady()
    keys = sorted(m.key for m in await store.list_messages())
    proofs: list[bool] = []

    async def confirm() -> bool:  # the lease is lost while the first batch runs
        proofs.append(not proofs)
        return proofs[-1]

    reply = await commit(
        store, len(keys), keys, create_metrics(CollectorRegistry()), confirm=confirm
    )
    assert reply == ev.Err("some deleted messages not removed", "SYS/TEMP")
    assert proofs == [True, False]
    assert len(await store.list_messages()) == len(keys) - COMMIT_BATCH
