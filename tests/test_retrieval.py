"""Sending a message that was read ahead gives exactly the replies streaming gives: whole
messages, a TOP answered from the first range, a prefix that is not enough (streamed afresh),
and a failure kept for its command."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from pop3srv.protocol import events as ev
from pop3srv.readahead import Prefetched
from pop3srv.retrieval import send_message, send_prefetched
from pop3srv.storage.base import MessageGone, StoreUnavailable
from pop3srv.storage.memory import MemoryStore

HEAD = b"From: a@example.com\r\nSubject: s\r\n\r\n"
BODY = b"".join(b"line %d\r\n" % n for n in range(2000))  # ~19 KB of body lines
RAW = HEAD + BODY


class Recorder:
    def __init__(self) -> None:
        self.replies: list[ev.Reply] = []

    async def send(self, reply: ev.Reply) -> None:
        self.replies.append(reply)


def _joined(replies: list[ev.Reply]) -> list[object]:
    """Replies with the data pieces joined (pieces may be cut differently)."""
    out: list[object] = []
    for reply in replies:
        if isinstance(reply, ev.Data) and out and isinstance(out[-1], bytes):
            out[-1] += reply.chunk
        else:
            out.append(reply.chunk if isinstance(reply, ev.Data) else reply)
    return out


async def _streamed(top: int | None, size: int | None) -> list[object]:
    recorder = Recorder()
    await send_message(MemoryStore({"m": RAW}), "m", recorder, size=size, top=top)
    return _joined(recorder.replies)


def _item(data: bytes, *, complete: bool, top: bool) -> Prefetched:
    item = Prefetched("m", top, len(RAW), len(data), data=data, complete=complete)
    item.done.set()
    return item


@pytest.mark.parametrize(
    ("data", "complete", "top", "lines"),
    [
        (RAW, True, False, None),  # RETR of a message read whole
        (RAW[:1000], False, False, None),  # RETR, but the object grew: streamed afresh
        (RAW[:1000], False, True, 0),  # TOP n 0: the header block is in the first range
        (RAW[:1000], False, True, 5),  # TOP n 5: so are five body lines
        (RAW[:1000], False, True, 500),  # TOP n 500: not in the prefix, streamed afresh
        (RAW, True, True, 5000),  # TOP past the end of a whole message
    ],
)
async def test_prefetched_replies_equal_streamed_ones(
    data: bytes, complete: bool, top: bool, lines: int | None
) -> None:
    size = None if top else len(RAW)
    recorder = Recorder()
    store = MemoryStore({"m": RAW})
    await send_prefetched(
        _item(data, complete=complete, top=top), store, recorder, size=size, top=lines
    )
    assert _joined(recorder.replies) == await _streamed(lines, size)


async def test_a_prefetched_failure_is_the_same_err() -> None:
    item = _item(b"", complete=False, top=False)
    item.error = MessageGone("gone")
    recorder = Recorder()
    await send_prefetched(item, MemoryStore({}), recorder, size=10, top=None)
    plain = Recorder()
    await send_message(MemoryStore({}), "m", plain, size=10, top=None)
    assert recorder.replies == plain.replies == [ev.Err("message no longer exists", "SYS/TEMP")]


class _FailsAtOnce(MemoryStore):
    """A store whose ``stream`` fails when called, before any read (a folder it cannot open)."""

    def stream(self, key: str, *, first_chunk: int | None = None) -> AsyncGenerator[bytes, None]:
        raise StoreUnavailable("mail folder cannot be opened")


async def test_a_store_failing_before_its_first_read_is_the_same_err() -> None:
    recorder = Recorder()
    await send_message(_FailsAtOnce({"m": RAW}), "m", recorder, size=len(RAW), top=None)
    (reply,) = recorder.replies
    assert isinstance(reply, ev.Err) and reply.code == "SYS/TEMP"
    assert reply.text.startswith("cannot read message")
