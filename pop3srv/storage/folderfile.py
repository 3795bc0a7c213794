"""Reading one message file of a local mail folder: opened relative to the mailbox directory
without following a symlink, regular files only, a small file read at once in the event loop
and a big one in chunks in a worker thread (``FolderStore.stream``).

``MessageFile`` is the stream a RETR consumes: a plain object, not an async generator, so a
small message costs one ``__anext__`` that opens, reads and closes the file (an async generator
per message, with trio's first-iteration hook and a frame resumed to end it, was a measurable
share of the CPU per small message).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import AsyncGenerator, Callable
from typing import Any

import trio

from pop3srv.storage.base import MessageGone, StoreUnavailable

#: Messages up to this size are read in the event loop rather than in a worker thread.
INLINE_READ_LIMIT = 64 * 1024


class MessageFile(AsyncGenerator[bytes, None]):
    """The chunks of one message file: the whole file at once if it is small, else pieces of
    ``chunk_size`` read in a worker thread. Nothing is opened before the first ``__anext__``,
    not even the mailbox directory (``directory`` gives its descriptor, opening it the first
    time): a missing or unsafe file, or a folder that cannot be opened, is an error of the
    first read, as for every store. Closed when read to its end, by ``aclose``, or when
    collected."""

    __slots__ = ("_chunk_size", "_directory", "_fd", "_left", "_name", "_safe")

    def __init__(
        self,
        name: str,
        directory: Callable[[], int | None],
        chunk_size: int,
        *,
        safe: bool,
    ) -> None:
        self._name: str | None = name  # None once opened
        self._safe = safe  # False: not a message's name (the first read says MessageGone)
        self._directory = directory
        self._chunk_size = chunk_size
        self._fd = -1
        self._left = 0  # octets of the file's size not read yet

    async def __anext__(self) -> bytes:
        if self._name is not None:
            name, self._name = self._name, None
            if not self._safe:
                raise MessageGone(name)
            fd, size = open_regular(name, self._directory())
            if size <= INLINE_READ_LIMIT:
                # A small file from a local disk costs microseconds to read: cheaper in the
                # event loop than the two thread hand-offs of a worker thread (profiled: they
                # were the largest share of CPU when serving many small messages).
                try:
                    chunk = read(fd, INLINE_READ_LIMIT)
                finally:
                    os.close(fd)
                if not chunk:
                    raise StopAsyncIteration
                return chunk
            self._fd, self._left = fd, size
        if self._fd < 0:
            raise StopAsyncIteration
        try:
            chunk = await trio.to_thread.run_sync(read, self._fd, self._chunk_size)
        except BaseException:
            self._close()
            raise
        # counted, not asked of the kernel (a tell() was one lseek per message)
        self._left -= len(chunk)
        if not chunk or self._left <= 0:
            self._close()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def asend(self, value: None) -> bytes:
        return await self.__anext__()

    async def athrow(self, *args: Any) -> bytes:
        self._close()
        raise args[1] if len(args) > 1 and args[1] is not None else args[0]

    async def aclose(self) -> None:
        self._name = None
        self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self._close()


def open_regular(name: str, dir_fd: int | None) -> tuple[int, int]:
    """Open a message file (relative to the mailbox directory): its descriptor and size; a
    symlink, FIFO, device or directory swapped in after the listing is not a message (never
    followed, never blocks the event loop). A bare descriptor read with ``os.read``: a file
    object would cost a second ``fstat`` and its own bookkeeping per message."""
    if dir_fd is None:
        raise MessageGone(name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError as exc:
        raise MessageGone(name) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink
            raise MessageGone(name) from exc
        raise StoreUnavailable(f"cannot open message: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise MessageGone(name)
    return fd, st.st_size


def read(fd: int, size: int) -> bytes:
    try:
        return os.read(fd, size)
    except OSError as exc:
        raise StoreUnavailable(f"cannot read message: {exc.strerror}") from exc
