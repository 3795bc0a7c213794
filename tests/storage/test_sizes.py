"""The transfer-size cache: persistence, bounds, and measuring folder files once."""

from __future__ import annotations

import json
import os
from contextlib import aclosing
from pathlib import Path

from pop3srv.storage.base import MessageInfo
from pop3srv.storage.memory import MemoryStore
from pop3srv.storage.sizes import FILE_NAME, SizeCache, SizedStore, folder_size, state_cache


def test_cache_round_trips_through_its_file(tmp_path: Path) -> None:
    cache = state_cache(tmp_path / "state")
    cache.put("a", 1)
    cache.put("b", 2)
    cache.save()
    again = state_cache(tmp_path / "state")
    assert (again.get("a"), again.get("b"), again.get("c")) == (1, 2, None)
    assert [p.name for p in (tmp_path / "state").iterdir()] == [FILE_NAME]  # no temp left


def test_unreadable_cache_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    for content in ("not json", json.dumps({"version": 2, "sizes": {"a": 1}}), "[]"):
        path.write_text(content)
        assert len(SizeCache(path)) == 0
    path.write_text(json.dumps({"version": 1, "sizes": {"a": 1, "b": -5, "c": "x"}}))
    assert SizeCache(path).get("a") == 1 and len(SizeCache(path)) == 1


def test_cache_is_bounded_oldest_first() -> None:
    cache = SizeCache(max_entries=3)
    for index in range(5):
        cache.put(str(index), index)
    assert [cache.get(str(i)) for i in range(5)] == [None, None, 2, 3, 4]


def test_unwritable_state_dir_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = SizeCache(blocker / FILE_NAME)  # a file where the folder should be
    cache.put("a", 1)
    cache.save()  # logged, not raised
    assert cache.get("a") == 1


def test_folder_size_measures_once_per_file_version(tmp_path: Path) -> None:
    cache = SizeCache()
    path = tmp_path / "m"
    path.write_bytes(b"a\nb")
    st = os.stat(path)
    assert folder_size(cache, path, st) == 6
    assert len(cache) == 1
    assert folder_size(cache, path, st) == 6  # known: not read again
    path.write_bytes(b"a\r\n")  # same length, rewritten: a new version
    os.utime(path, ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
    assert folder_size(cache, path, os.stat(path)) == 3
    assert len(cache) == 2


def test_folder_size_of_a_vanished_file_is_the_stored_size(tmp_path: Path) -> None:
    path = tmp_path / "gone"
    path.write_bytes(b"x\n")
    st = os.stat(path)
    path.unlink()
    cache = SizeCache()
    assert folder_size(cache, path, st) == 2
    assert len(cache) == 0


class _TaggedStore(MemoryStore):
    """A memory store that lists stored sizes with ETags, as the S3 store does."""

    async def list_messages(self) -> list[MessageInfo]:
        return sorted(
            MessageInfo(0.0, key, len(body), etag=f'"{key}"')
            for key, body in self._messages.items()
        )


async def test_sized_store_learns_from_a_whole_read_only() -> None:
    messages = {"crlf": b"a\r\n", "lf": b"a\nb\n"}
    cache = SizeCache()
    store = SizedStore(_TaggedStore(messages), cache)
    assert [m.size for m in await store.list_messages()] == [3, 4]  # stored sizes at first
    async with aclosing(store.stream("lf", first_chunk=1)) as top:
        assert b"".join([chunk async for chunk in top]) == b"a\nb\n"
    assert len(cache) == 0  # a TOP does not count
    assert b"".join([c async for c in store.stream("lf")]) == b"a\nb\n"
    assert b"".join([c async for c in store.stream("crlf")]) == b"a\r\n"
    assert len(cache) == 1  # only sizes that differ are kept
    fresh = SizedStore(_TaggedStore(messages), cache)
    assert [m.size for m in await fresh.list_messages()] == [3, 6]


async def test_each_object_is_counted_once_and_sizes_stay_exact() -> None:
    """An exact (CRLF) object is remembered as measured, so a later RETR is handed straight
    to the store (no counting layer); the sizes listed stay exact either way."""
    messages = {"crlf": b"a\r\nb\r\n", "lf": b"a\nb\n"}
    cache = SizeCache()
    inner = _TaggedStore(messages)
    store = SizedStore(inner, cache)
    await store.list_messages()
    for key in ("crlf", "lf"):
        assert not cache.measured(f'etag:"{key}"', len(messages[key]))
        assert b"".join([c async for c in store.stream(key)]) == messages[key]
        assert cache.measured(f'etag:"{key}"', len(messages[key]))
    # counted reads are wrapped; measured ones are the inner store's own generator
    again = store.stream("crlf")
    assert again.ag_code is inner.stream("crlf").ag_code  # type: ignore[attr-defined]
    assert b"".join([c async for c in again]) == messages["crlf"]
    assert len(cache) == 1  # only the size that differs is stored (and saved)
    fresh = SizedStore(_TaggedStore(messages), cache)
    assert [m.size for m in await fresh.list_messages()] == [6, 6]
    # an object whose stored size changed (same key, new content, new ETag) is counted anew
    assert not cache.measured('etag:"other"', 6)
    assert not cache.measured('etag:"crlf"', 7)  # exact only at the size it was found exact


async def test_an_abandoned_read_marks_nothing() -> None:
    messages = {"crlf": b"a\r\n" * 10}
    cache = SizeCache()
    store = SizedStore(_TaggedStore(messages), cache)
    await store.list_messages()
    async with aclosing(store.stream("crlf")) as chunks:
        async for _ in chunks:
            break
    assert not cache.measured('etag:"crlf"', 30)
