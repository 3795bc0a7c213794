"""The local folder store: what counts as a message, ordering, streaming, deletion."""

from __future__ import annotations

import os
import time
from contextlib import aclosing
from pathlib import Path

import pytest

from pop3srv.storage.base import (
    SES_SETUP_NOTIFICATION,
    FolderLocation,
    MessageGone,
    StoreDenied,
)
from pop3srv.storage.folder import FolderStore, ListingCache


def _write(path: Path, data: bytes, mtime: int) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


async def test_lists_messages_by_mtime_then_name_skipping_non_messages(tmp_path: Path) -> None:
    box = tmp_path / "inbox"
    box.mkdir()
    _write(box / "zzz", b"late", 300)
    _write(box / "bbb", b"second", 100)
    _write(box / "aaa", b"first", 100)
    _write(box / SES_SETUP_NOTIFICATION, b"setup", 50)
    _write(box / ".incoming.tmp", b"partial", 50)
    (box / "sub").mkdir()
    _write(box / "sub" / "nested", b"nested", 10)
    store = FolderStore(FolderLocation(tmp_path, "inbox/"))
    listed = await store.list_messages()
    # transfer sizes: each unterminated last line counts the CRLF RETR adds
    assert [(m.key, m.size) for m in listed] == [("aaa", 7), ("bbb", 8), ("zzz", 6)]


async def test_missing_folder_is_an_empty_mailbox(tmp_path: Path) -> None:
    store = FolderStore(FolderLocation(tmp_path / "nothing"))
    await store.check_access()
    assert await store.list_messages() == []


async def test_stream_yields_bounded_chunks_and_stops_early(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    (tmp_path / "m").write_bytes(data)
    store = FolderStore(FolderLocation(tmp_path), chunk_size=4096)
    chunks = [chunk async for chunk in store.stream("m")]
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) == 4096
    async with aclosing(store.stream("m")) as stream:
        async for chunk in stream:
            assert chunk == data[:4096]
            break


@pytest.mark.parametrize("key", ["gone", "../etc/passwd", ".hidden", SES_SETUP_NOTIFICATION])
async def test_stream_of_missing_or_unsafe_key_is_message_gone(tmp_path: Path, key: str) -> None:
    store = FolderStore(FolderLocation(tmp_path))
    with pytest.raises(MessageGone):
        async for _ in store.stream(key):
            pass


async def test_delete_removes_and_counts_missing_as_deleted(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    store = FolderStore(FolderLocation(tmp_path))
    result = await store.delete(["a", "already-gone"])
    assert result.deleted == ("a", "already-gone")
    assert result.failed == ()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


async def test_delete_failure_is_reported_and_keeps_the_entry(tmp_path: Path) -> None:
    (tmp_path / "stuck").mkdir()  # unlink() of a directory fails, even for root
    result = await FolderStore(FolderLocation(tmp_path)).delete(["stuck"])
    assert result.failed == ("stuck",)
    assert result.deleted == ()
    assert (tmp_path / "stuck").exists()


async def test_symlink_or_fifo_swapped_in_is_not_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"PRIVATE KEY")
    box = tmp_path / "box"
    box.mkdir()
    (box / "link").symlink_to(secret)
    os.mkfifo(box / "fifo")
    store = FolderStore(FolderLocation(box))
    assert await store.list_messages() == []
    for key in ("link", "fifo"):  # as if swapped in after the listing
        with pytest.raises(MessageGone):
            async for _ in store.stream(key):
                pass


def _age(path: Path, seconds: float = 60) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


async def test_listing_cache_reuses_a_settled_folder_until_it_changes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"one")
    _age(tmp_path)
    cache = ListingCache()
    store = FolderStore(FolderLocation(tmp_path), listings=cache)
    first = await store.list_messages()
    assert await store.list_messages() == first
    assert cache.hits == 1
    (tmp_path / "b").write_bytes(b"two")  # a delivery moves the folder's mtime
    assert [m.key for m in await store.list_messages()] == ["a", "b"]
    _age(tmp_path)
    await store.list_messages()
    (tmp_path / "a").unlink()  # so does a deletion (another client's QUIT)
    assert [m.key for m in await store.list_messages()] == ["b"]


async def test_listing_cache_skips_a_folder_that_just_changed(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"one")  # mtime: now, not settled
    cache = ListingCache(settle=2.0)
    store = FolderStore(FolderLocation(tmp_path), listings=cache)
    await store.list_messages()
    await store.list_messages()
    assert cache.hits == 0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_small_message_comes_whole_and_its_file_is_closed(tmp_path: Path) -> None:
    data = b"Subject: small\r\n\r\n" + b"x" * 60_000 + b"\r\n"
    (tmp_path / "m").write_bytes(data)
    store = FolderStore(FolderLocation(tmp_path), chunk_size=4096)
    await store.check_access()  # the mailbox directory, opened once per store
    before = _open_fds()
    stream = store.stream("m")
    assert await anext(stream) == data  # one chunk, read in the event loop
    assert _open_fds() == before
    assert await anext(stream, None) is None
    await stream.aclose()


async def test_a_stream_is_opened_at_its_first_read(tmp_path: Path) -> None:
    store = FolderStore(FolderLocation(tmp_path))
    stream = store.stream("../outside")  # nothing raised, nothing opened yet
    (tmp_path / "late").write_bytes(b"arrived after the call\r\n")
    late = store.stream("late")
    with pytest.raises(MessageGone):
        await anext(stream)
    assert await anext(late) == b"arrived after the call\r\n"


async def test_a_folder_that_cannot_be_opened_fails_at_the_first_read(tmp_path: Path) -> None:
    """Not at ``stream()``: the folder is opened at the first read too, as every store fails."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "m").write_bytes(b"Subject: not yours\r\n\r\n")
    (tmp_path / "box").symlink_to(tmp_path / "elsewhere")
    store = FolderStore(FolderLocation(tmp_path, "box"))
    stream = store.stream("m")  # nothing opened, nothing raised
    with pytest.raises(StoreDenied):
        await anext(stream)
    await stream.aclose()


async def test_a_big_message_file_is_closed_at_its_end_or_when_left(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "m").write_bytes(data)
    store = FolderStore(FolderLocation(tmp_path), chunk_size=65536)
    await store.check_access()  # the mailbox directory, opened once per store
    before = _open_fds()
    stream = store.stream("m")
    first = await anext(stream)
    assert len(first) == 65536
    assert _open_fds() == before + 1
    rest = [chunk async for chunk in stream]
    assert first + b"".join(rest) == data
    assert _open_fds() == before
    async with aclosing(store.stream("m")) as left:
        await anext(left)
        assert _open_fds() == before + 1
    assert _open_fds() == before
