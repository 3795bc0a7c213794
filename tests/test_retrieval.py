"""Sending a message that was read ahead gives exactly the replies streaming gives: whole
messages, a TOP answered from the first range, a prefix that is not enough (streamed afresh),
and a failure kept for its command."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import trio
import trio.testing

from pop3srv.protocol import events as ev
from pop3srv.readahead import Prefetched
from pop3srv.retrieval import send_message, send_prefetched, store_error_reply
from pop3srv.storage.base import (
    FolderLocation,
    Location,
    MessageGone,
    MessageInfo,
    MessageStore,
    StoreDenied,
)
from pop3srv.storage.folder import FolderStore
from pop3srv.storage.memory import MemoryStore
from pop3srv.transport import ConnectionHandler
from tests.test_transport import folder_handler, read_all

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


async def test_a_folder_failing_at_its_first_read_is_a_clean_err(tmp_path: Path) -> None:
    """The folder store opens its folder at the first read (as every store fails): a folder
    that cannot be opened is the -ERR of a failed read, before any ``+OK``."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "m").write_bytes(RAW)
    (tmp_path / "box").symlink_to(tmp_path / "elsewhere")
    recorder = Recorder()
    store = FolderStore(FolderLocation(tmp_path, "box"))
    await send_message(store, "m", recorder, size=len(RAW), top=None)
    assert recorder.replies == [store_error_reply(StoreDenied("-"), "cannot read message")]
    assert recorder.replies[0] == ev.Err("cannot read message: access denied", "SYS/PERM")


async def _session(handler: ConnectionHandler, script: bytes, replies: int) -> list[bytes]:
    """Runs ``script`` (its last command QUIT) on a memory stream: the first ``replies``
    status lines, multi-line bodies skipped."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await client.send_all(script)
        data = await read_all(client)
    lines, body = [], False
    for line in data.split(b"\r\n"):
        if body:
            body = line != b"."
        elif line:
            lines.append(line)
            body = line.startswith(b"+OK") and b"octets" in line and b"maildrop" not in line
    return lines[:replies]


@pytest.mark.parametrize("swap", ["unlinked", "a directory", "a fifo", "a symlink"])
async def test_a_message_gone_between_list_and_retr_is_a_clean_err(
    tmp_path: Path, swap: str
) -> None:
    """Gone (or made unreadable as a message) after the listing: RETR of it is
    ``-ERR [SYS/TEMP]`` and the session goes on (the next RETR, QUIT without deletions)."""
    for name in ("m1", "m2"):
        (tmp_path / name).write_bytes(b"Subject: %s\r\n\r\nbody\r\n" % name.encode())
        os.utime(tmp_path / name, (1000 + int(name[1]), 1000 + int(name[1])))

    class SwappedAfterListing(FolderStore):
        async def list_messages(self) -> list[MessageInfo]:
            listing = await super().list_messages()  # the session's listing: m1, m2
            (tmp_path / "m1").unlink()
            if swap == "a directory":
                (tmp_path / "m1").mkdir()
            elif swap == "a fifo":
                os.mkfifo(tmp_path / "m1")
            elif swap == "a symlink":
                (tmp_path / "m1").symlink_to(tmp_path / "m2")
            return listing

    handler = folder_handler(tmp_path)

    def open_store(location: Location) -> MessageStore:
        assert isinstance(location, FolderLocation)
        return SwappedAfterListing(location)

    handler.deps = replace(handler.deps, open_store=open_store)
    script = b"USER u\r\nPASS p\r\nRETR 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n"
    lines = await _session(handler, script, 7)
    assert lines[3] == b"-ERR [SYS/TEMP] message no longer exists"
    assert lines[4] == b"+OK %d octets" % len(b"Subject: m2\r\n\r\nbody\r\n")
    assert lines[5:] == [b"+OK message 2 deleted", b"+OK pop3srv signing off (1 messages left)"]
    assert not (tmp_path / "m2").exists()  # QUIT deleted it
