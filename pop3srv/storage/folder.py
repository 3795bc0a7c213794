"""Local mail folder store: one raw message per file under ``root/prefix``, as in the bucket.

Files are listed with ``stat`` (a file is read once to measure its transfer size, which
``sizes.py`` caches by inode, size and mtime), streamed in chunks in a worker thread, and
deleted only when asked (on QUIT). Hidden files (a delivery in progress writes ``.name.tmp``
then renames), sub-folders and SES's setup notification are not messages.
"""

from __future__ import annotations

import errno
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path

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
    listing_order,
)
from pop3srv.storage.folderfile import MessageFile
from pop3srv.storage.sizes import SizeCache, folder_size


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
        sizes: SizeCache | None = None,
    ) -> None:
        self._location = location
        self._dir = location.directory
        self._chunk_size = chunk_size
        self._listings = listings
        self._fd: int | None = None
        self._fd_lock = threading.Lock()
        self._sizes = SizeCache() if sizes is None else sizes  # transfer sizes (sizes.py)

    @property
    def directory(self) -> Path:
        return self._dir

    def _directory_fd(self) -> int | None:
        """The mailbox directory, opened once (None while it does not exist): every later
        access is relative to it, so a directory swapped for a symlink is never followed.
        Once opened it is never replaced: read without the lock (once per message)."""
        fd = self._fd
        if fd is not None:
            return fd
        with self._fd_lock:
            if self._fd is None:
                self._fd = open_mail_folder(self._location)
                if self._fd is not None:
                    weakref.finalize(self, os.close, self._fd)
            return self._fd

    async def check_access(self) -> None:
        """A few system calls on a local folder: done in the event loop."""
        fd = self._directory_fd()
        if fd is None:
            return  # an empty mailbox: nothing has been delivered yet
        if not os.access(".", os.R_OK | os.X_OK, dir_fd=fd):
            raise StoreDenied("mail folder is not a readable directory")

    async def list_messages(self) -> list[MessageInfo]:
        return await trio.to_thread.run_sync(self._list_sync)

    def _list_sync(self) -> list[MessageInfo]:
        fd = self._directory_fd()
        if fd is None:
            return []
        try:
            st = os.fstat(fd)
        except OSError as exc:
            raise StoreUnavailable(f"cannot list mail folder: {exc.strerror}") from exc
        if self._listings is not None and (cached := self._listings.get(self._dir, st)):
            return cached
        listing = self._scan(fd)
        self._sizes.save()
        if self._listings is not None:
            self._listings.put(self._dir, st, listing)
        return listing

    def _scan(self, fd: int) -> list[MessageInfo]:
        try:
            entries = list(os.scandir(fd))
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
            size = folder_size(self._sizes, entry.name, st, dir_fd=fd)
            messages.append(
                MessageInfo(arrived=st.st_mtime, key=entry.name, size=size, etag=file_identity(st))
            )
        messages.sort(key=listing_order)
        return messages

    def stream(self, key: str, *, first_chunk: int | None = None) -> AsyncGenerator[bytes, None]:
        """The file's chunks (``first_chunk`` is a hint for remote stores: a local file is read
        whole, or in chunks of ``chunk_size``); the folder and the file are opened at the
        first read, so any failure to open them is an error of that read."""
        safe = _is_message_name(key)
        return MessageFile(key, self._directory_fd, self._chunk_size, safe=safe)

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        """Unlink the files; one whose identity is no longer the ``expected`` one (a file
        renamed over it, rewritten in place) is left (``changed``)."""
        return await trio.to_thread.run_sync(self._delete_sync, list(keys), dict(expected or {}))

    def _delete_sync(self, keys: list[str], expected: dict[str, str]) -> DeleteResult:
        deleted: list[str] = []
        failed: list[str] = []
        changed: list[str] = []
        fd = self._directory_fd()
        for key in keys:
            try:
                if fd is not None:
                    name = self._name(key)
                    want = expected.get(key)
                    if (
                        want
                        and file_identity(os.stat(name, dir_fd=fd, follow_symlinks=False)) != want
                    ):
                        changed.append(key)
                        continue
                    os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                failed.append(key)
                continue
            deleted.append(key)
        return DeleteResult(deleted=tuple(deleted), failed=tuple(failed), changed=tuple(changed))

    def _name(self, key: str) -> str:
        if not _is_message_name(key):
            raise MessageGone(key)
        return key


def file_identity(st: os.stat_result) -> str:
    """What tells a message file from another under the same name: a file renamed over it
    has another inode, one rewritten in place another size or mtime."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def open_mail_folder(location: FolderLocation) -> int | None:
    """The mailbox directory: ``root`` (as configured) then each part of the prefix below it,
    none of them followed if it is a symlink, none ``..``; None if one does not exist."""
    root, parts = location.root, location.parts
    if ".." in parts:
        raise StoreDenied("mail folder must stay inside mail-dir")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = os.open(root, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _directory_error(exc) from exc
    for part in parts:
        try:
            child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _directory_error(exc) from exc
        finally:
            os.close(fd)
        fd = child
    return fd


def _directory_error(exc: OSError) -> Exception:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EACCES, errno.EPERM):
        return StoreDenied("mail folder is not a readable directory (or is a symlink)")
    return StoreUnavailable(f"cannot open mail folder: {exc.strerror}")


def _is_message_name(name: str) -> bool:
    return (
        bool(name)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and name != SES_SETUP_NOTIFICATION
    )
