"""The transport's short cut for plaintext TCP sockets: a reply written at once, a command read
at once, without trio's stream layers when the kernel can take or give the bytes right away.

Used by ``transport`` (which owns every POP3 socket) and by ``storage.s3http`` (the lean S3
GET path's HTTP connections), and only for a plain ``trio.SocketStream``; TLS streams and
memory streams always take the stream methods. Per small message, ``SocketStream.send_all``
and ``receive_some`` spend more CPU in their wrappers (conflict detectors, error-translating
and try-then-wait context managers, a schedule point after each successful send) than in the
system calls themselves (py-spy, ``bench/compare_dovecot.py``). What these functions skip is
only that bookkeeping: a write that would block, and any wait, still go through trio; a read
of waiting data is no schedule point, so its caller makes them (the POP3 transport at least
every ``transport.UNCHECKED_COMMANDS`` commands or reads, ``receive_some`` after every such
read), and a session never runs long without letting others in and stays cancellable.
"""

from __future__ import annotations

import os

import trio

__all__ = ["read_now", "receive_some", "send_now"]


def send_now(stream: trio.abc.Stream, data: bytes | memoryview) -> int:
    """Writes what a plaintext socket takes at once (0 if it would block, or if ``stream`` is
    not a plain socket stream: the caller sends the rest through the stream).

    Raises ``trio.BrokenResourceError`` if the connection is gone (reset, broken pipe) and
    ``trio.ClosedResourceError`` if the socket was closed here.
    """
    if type(stream) is not trio.SocketStream or not data:
        return 0
    fd = stream.socket.fileno()
    if fd == -1:
        raise trio.ClosedResourceError("socket was already closed")
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError as exc:
        raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc


def read_now(stream: trio.abc.Stream, max_bytes: int) -> bytes | None:
    """What a plaintext socket has waiting (``b""``: the peer closed), without waiting and
    without a schedule point (the caller makes one); None if nothing is waiting, or if
    ``stream`` is not a plain socket stream. Errors as ``send_now``'s."""
    if type(stream) is not trio.SocketStream:
        return None
    fd = stream.socket.fileno()
    if fd == -1:
        raise trio.ClosedResourceError("socket was already closed")
    try:
        return os.read(fd, max_bytes)
    except BlockingIOError:
        return None
    except OSError as exc:
        raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc


async def receive_some(
    stream: trio.abc.Stream, max_bytes: int, *, wait_first: bool = False
) -> bytes:
    """``stream.receive_some(max_bytes)``, done with one ``read`` when data is waiting (then a
    schedule point, as trio does) or after waiting for the socket to be readable
    (``wait_first``: the caller just found nothing waiting, so no read is tried before)."""
    if type(stream) is not trio.SocketStream:
        return bytes(await stream.receive_some(max_bytes))
    sock = stream.socket
    if sock.fileno() == -1:
        raise trio.ClosedResourceError("socket was already closed")
    if not wait_first:
        data = read_now(stream, max_bytes)
        if data is not None:
            await trio.lowlevel.checkpoint()
            return data
    while True:
        await trio.lowlevel.wait_readable(sock)
        data = read_now(stream, max_bytes)
        if data is not None:  # else a spurious wake-up
            return data
