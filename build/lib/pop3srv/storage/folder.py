"""Local mail folder store: one raw message per file under ``root/prefix``, as in the bucket.

Files are listed without reading them (size and mtime from ``stat``), streamed in chunks in a
worker thread, and deleted only when asked (on QUIT). Hidden files (a delivery in progress
writes ``.name.tmp`` then renames), sub-folders and SES's setup notification are not messages.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import BinaryIO

import trio

from pop3srv.storage.base import (
    CHUNK_SIZE,
    SES_SETUP_NOTIFICATION,
    DeleteResult,
    FolderLocation,
    MessageGone,
    MessageInfo,
    StoreDenied,
    StoreUnavailable,
)

#: Messages up to this size are read in the event loop rather than in a worker thread.
INLINE_READ_LIMIT = 64 * 1024


class ListingCache:
    """Listings of mail folders, reused while a folder's modification time is unchanged.

    Messages are files that are added (created or renamed in) and removed, never rewritten in
    place; each such change moves the folder's mtime, and the next login lists it afresh. Only
    folders unchanged for ``settle`` seconds are cached, so two changes within one timestamp
    tick cannot hide each other. Shared by the sessions of a process (worker threads: locked).
    """

    def __init__(self, max_folders: int = 1024, settle: float = 2.0) -> None:
        self._max = max_folders
        self._settle = settle
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[tuple[int, int, int], list[MessageInfo]]] = (
            OrderedDict()
        )
        self.hits = 0

    def get(self, directory: Path, st: os.stat_result) -> list[MessageInfo] | None:
        with self._lock:
            entry = self._entries.get(str(directory))
            if entry is None or entry[0] != _identity(st):
                return None
            self._entries.move_to_end(str(directory))
            self.hits += 1
            return list(entry[1])

    def put(self, directory: Path, st: os.stat_result, listing: list[MessageInfo]) -> None:
        if time.time() - st.st_mtime < self._settle:
            return
        with self._lock:
            self._entries[str(directory)] = (_identity(st), list(listing))
            self._entries.move_to_end(str(directory))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_mtime_ns, st.st_ino, st.st_dev


class FolderStore:
    """``MessageStore`` over a directory of raw message files."""

    def __init__(
        self,
        location: FolderLocation,
        *,
        chunk_size: int = CHUNK_SIZE,
        listings: ListingCache | None = None,
    ) -> None:
        self._dir = location.root / location.prefix.strip("/")
        self._chunk_size = chunk_size
        self._listings = listings

    @property
    def directory(self) -> Path:
        return self._dir

    async def check_access(self) -> None:
        """A few stat calls on a local folder: done in the event loop."""
        if not self._dir.exists():
            return  # an empty mailbox: nothing has been delivered yet
        if not self._dir.is_dir() or not os.access(self._dir, os.R_OK | os.X_OK):
            raise StoreDenied("mail folder is not a readable directory")

    async def list_messages(self) -> list[MessageInfo]:
        return await trio.to_thread.run_sync(self._list_sync)

    def _list_sync(self) -> list[MessageInfo]:
        try:
            st = os.stat(self._dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreUnavailable(f"cannot list mail folder: {exc.strerror}") from exc
        if self._listings is not None and (cached := self._listings.get(self._dir, st)):
            return cached
        listing = self._scan()
        if self._listings is not None:
            self._listings.put(self._dir, st, listing)
        return listing

    def _scan(self) -> list[MessageInfo]:
        try:
            entries = list(os.scandir(self._dir))
        except FileNotFoundError:
            return []
        except PermissionError as exc:
            raise StoreDenied("mail folder is not readable") from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot list mail folder: {exc.strerror}") from exc
        messages = []
        for entry in entries:
            if not _is_message_name(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while listing
            messages.append(MessageInfo(arrived=st.st_mtime, key=entry.name, size=st.st_size))
        messages.sort()
        return messages

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        handle, size = _open_regular(self._path(key))
        try:
            if size <= INLINE_READ_LIMIT:
                # A small file from a local disk costs microseconds to read: cheaper in the
                # event loop than the two thread hand-offs of a worker thread (profiled: they
                # were the largest share of CPU when serving many small messages).
                chunk = _read(handle, INLINE_READ_LIMIT)
            else:
                chunk = await trio.to_thread.run_sync(_read, handle, self._chunk_size)
            while chunk:
                yield chunk
                if handle.tell() >= size:
                    return
                chunk = await trio.to_thread.run_sync(_read, handle, self._chunk_size)
        finally:
            handle.close()

    async def delete(self, keys: Sequence[str]) -> DeleteResult:
        return await trio.to_thread.run_sync(self._delete_sync, list(keys))

    def _delete_sync(self, keys: list[str]) -> DeleteResult:
        deleted: list[str] = []
        failed: list[str] = []
        for key in keys:
            try:
                self._path(key).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                failed.append(key)
                continue
            deleted.append(key)
        return DeleteResult(deleted=tuple(deleted), failed=tuple(failed))

    def _path(self, key: str) -> Path:
        if not _is_message_name(key):
            raise MessageGone(key)
        return self._dir / key


def _open_regular(path: Path) -> tuple[BinaryIO, int]:
    """Open a message file and its size; a symlink, FIFO, device or directory swapped in
    after the listing is not a message (never followed, never blocks the event loop)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise MessageGone(path.name) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink
            raise MessageGone(path.name) from exc
        raise StoreUnavailable(f"cannot open message: {exc.strerror}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise MessageGone(path.name)
    return os.fdopen(fd, "rb", buffering=0), st.st_size


def _read(handle: BinaryIO, size: int) -> bytes:
    try:
        return handle.read(size)
    except OSError as exc:
        raise StoreUnavailable(f"cannot read message: {exc.strerror}") from exc


def _is_message_name(name: str) -> bool:
    return (
        bool(name)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and name != SES_SETUP_NOTIFICATION
    )
