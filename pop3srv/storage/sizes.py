"""Transfer sizes of stored messages (RFC 1939 section 11), cached and kept across restarts.

LIST, STAT and the RETR status line must count the octets RETR sends: a bare LF as CRLF and
a missing final line end as the CRLF the encoder adds (``protocol.octets``). A stored size is
exact only for CRLF messages, which is what SES writes; mail dropped into the local folder or
put into the bucket by other tools often uses bare LFs. This module owns the cache of measured
sizes (``SizeCache``, one JSON file in ``state-dir``) and the two ways stores use it:

* folder store: ``folder_size`` measures a file once per (device, inode, size, mtime), so a
  10,000-file folder is read once, not at every login, and a new file costs one read;
* S3 store: ``SizedStore`` wraps the store; an object's size is its stored size until it has
  been read whole once (RETR), then the exact one, cached by ETag and stored size. SES objects
  are CRLF and so exact from the start; another writer's bare-LF object is exact from the next
  login after its first RETR (the login that first reads it was told the stored size). Each
  object is counted once: an exact one is remembered as such (in memory), and later reads of
  either kind go straight to the store, with no counting layer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path

import trio

from pop3srv.protocol.octets import WireSize
from pop3srv.storage.base import CHUNK_SIZE, DeleteResult, MessageInfo, MessageStore

log = logging.getLogger(__name__)

FILE_NAME = "transfer-sizes.json"
MAX_ENTRIES = 500_000  # ~40 MB of memory at most; the oldest entries go first


class SizeCache:
    """Measured transfer sizes by key, shared by every store of a process (thread-safe).

    With a ``path`` the cache is loaded from it at start and written back (atomically) by
    ``save``; without one it lives in memory only.
    """

    def __init__(self, path: Path | None = None, *, max_entries: int = MAX_ENTRIES) -> None:
        self.path = path
        self._max = max_entries
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._sizes: dict[str, int] = self._load() if path is not None else {}
        self._dirty = False
        #: keys whose stored size was measured and found exact (memory only, never saved:
        #: most objects, SES's CRLF mail; re-learnt with one count each after a restart)
        self._exact: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._sizes)

    def get(self, key: str) -> int | None:
        return self._sizes.get(key)

    def mark_exact(self, key: str, size: int) -> None:
        """``key``'s stored size ``size`` was measured and is its transfer size."""
        with self._lock:
            self._exact[key] = size
            while len(self._exact) > self._max:
                del self._exact[next(iter(self._exact))]

    def measured(self, key: str, stored_size: int) -> bool:
        """Whether ``key`` (listed at ``stored_size``) needs no counting: its transfer size
        is cached, or its stored size was found exact."""
        return key in self._sizes or self._exact.get(key) == stored_size

    def put(self, key: str, size: int) -> None:
        with self._lock:
            if self._sizes.get(key) == size:
                return
            self._sizes[key] = size
            self._dirty = True
            while len(self._sizes) > self._max:
                del self._sizes[next(iter(self._sizes))]

    def save(self) -> None:
        """Write the cache file if anything changed. Blocking (a worker thread's job)."""
        if self.path is None or not self._dirty:
            return
        with self._save_lock:
            with self._lock:
                snapshot, self._dirty = dict(self._sizes), False
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps({"version": 1, "sizes": snapshot}), encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError as exc:
                log.warning("transfer-size cache not saved to %s: %s", self.path, exc.strerror)
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)

    def _load(self) -> dict[str, int]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            sizes = data["sizes"] if data.get("version") == 1 else {}
            return {str(k): int(v) for k, v in sizes.items() if isinstance(v, int) and v >= 0}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            log.warning("transfer-size cache %s unreadable, starting afresh: %s", self.path, exc)
            return {}


def state_cache(state_dir: Path) -> SizeCache:
    """The process's cache, kept in ``state_dir``."""
    return SizeCache(state_dir / FILE_NAME)


# --- folder store ------------------------------------------------------------------------


def folder_size(
    cache: SizeCache, path: str | Path, st: os.stat_result, *, dir_fd: int | None = None
) -> int:
    """The transfer size of the message file ``path`` (relative to ``dir_fd`` when given, as
    the folder store opens its files; ``st`` from the listing). Blocking: call it from a worker
    thread. A file that cannot be read keeps its stored size (RETR will report the problem)."""
    key = f"file:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    if (known := cache.get(key)) is not None:
        return known
    try:
        size = _measure_file(path, st, dir_fd)
    except OSError:
        return st.st_size
    if size is None:
        return st.st_size  # replaced since it was listed: the next listing measures it
    cache.put(key, size)
    return size


def _measure_file(path: str | Path, st: os.stat_result, dir_fd: int | None) -> int | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        now = os.fstat(fd)
        same = (now.st_ino, now.st_size, now.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
        if not stat.S_ISREG(now.st_mode) or not same:
            return None
        counter = WireSize()
        while chunk := os.read(fd, CHUNK_SIZE):
            counter.feed(chunk)
        return counter.total
    finally:
        os.close(fd)


# --- S3 store ----------------------------------------------------------------------------


class SizedStore:
    """A ``MessageStore`` whose listed sizes are exact once a message was read whole.

    Wraps a store whose ``MessageInfo.etag`` identifies an object's content (S3). One instance
    per login: it remembers its listing to know what a completed read measured.
    """

    def __init__(self, inner: MessageStore, cache: SizeCache) -> None:
        self.inner = inner
        self._cache = cache
        self._listed: dict[str, MessageInfo] = {}

    def __getattr__(self, name: str) -> object:
        """Anything else the wrapped store offers is handed through unchanged."""
        return getattr(self.inner, name)

    async def check_access(self) -> None:
        await self.inner.check_access()

    async def list_messages(self) -> list[MessageInfo]:
        listing = await self.inner.list_messages()
        exact = [replace(info, size=self._known(info)) for info in listing]
        self._listed = {info.key: info for info in listing}
        return exact

    def _known(self, info: MessageInfo) -> int:
        if not info.etag:
            return info.size
        return self._cache.get(_object_key(info)) or info.size

    def stream(self, key: str, *, first_chunk: int | None = None) -> AsyncGenerator[bytes, None]:
        """The inner store's stream; a whole read of an object whose transfer size is not
        known yet is counted on the way (once per object: then it is known, exact or not)."""
        info = self._listed.get(key)
        if (
            first_chunk is not None
            or info is None
            or not info.etag
            or self._cache.measured(_object_key(info), info.size)
        ):
            return self.inner.stream(key, first_chunk=first_chunk)
        return self._counted(key, info)

    async def _counted(self, key: str, info: MessageInfo) -> AsyncGenerator[bytes, None]:
        counter = WireSize()
        async with aclosing(self.inner.stream(key)) as chunks:
            async for chunk in chunks:
                counter.feed(chunk)
                yield chunk
        if counter.total == info.size:
            self._cache.mark_exact(_object_key(info), info.size)
            return
        self._cache.put(_object_key(info), counter.total)
        await trio.to_thread.run_sync(self._cache.save)  # once per such object, ever

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        return await self.inner.delete(keys, expected=expected)


def _object_key(info: MessageInfo) -> str:
    """The ETag alone: the listed size of one object changes once a store learns more about it
    (an SES-encrypted object is listed at its ciphertext size until it has been decrypted)."""
    return f"etag:{info.etag}"
