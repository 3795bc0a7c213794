"""The receive side's timers after login, on memory streams with trio's autojump clock: a
command line must be complete within the idle timeout of its first byte (a trickling client is
cut as an idle one is), while a slow client sending whole lines is never cut. Before login the
login deadline bounds the whole phase (``test_transport``'s trickling test)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from pop3srv.transport import ConnectionHandler
from tests.test_transport import folder_handler, read_all, read_line

IDLE = 600.0
AUTOLOGOUT = b"-ERR autologout; idle for too long\r\n"


def _handler(folder: Path) -> ConnectionHandler:
    (folder / "m1").write_bytes(b"Subject: one\r\n\r\nbody\r\n")
    return folder_handler(folder, login_timeout=60, idle_timeout=IDLE)


async def _logged_in(client: trio.abc.Stream) -> None:
    """Greeting, login and ``DELE 1`` (marked only: QUIT would delete it)."""
    await read_line(client)
    await client.send_all(b"USER u\r\nPASS p\r\nDELE 1\r\n")
    for _ in range(3):
        assert (await read_line(client)).startswith(b"+OK")


def _timeouts(handler: ConnectionHandler) -> float | None:
    return {
        sample.labels["outcome"]: sample.value
        for metric in handler.deps.metrics.sessions_total.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }.get("timeout")


@pytest.mark.parametrize(
    "first",
    [
        b"Q",  # a command line, one byte at a time
        b"X" * 20_000,  # an over-long line (answered -ERR at once), its rest trickled
    ],
)
async def test_a_line_trickled_after_login_is_cut_at_the_idle_timeout(
    tmp_path: Path, autojump_clock: object, first: bytes
) -> None:
    """A byte every ``IDLE - 1`` seconds restarts no timer: the session ends ``IDLE`` after the
    line's first byte, as an idle one does (autologout, no deletions: QUIT never completes)."""
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    ended: list[float] = []

    async def serve() -> None:
        await handler.serve_stream(server, "plain")
        ended.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        await _logged_in(client)
        start = trio.current_time()
        await client.send_all(first)
        if len(first) > 1:
            assert (await read_line(client)).startswith(b"-ERR")  # line too long
        sent = bytearray()
        with trio.move_on_after(10 * IDLE):
            for byte in b"UIT\r\n":
                await trio.sleep(IDLE - 1)
                try:
                    await client.send_all(bytes([byte]))
                except trio.BrokenResourceError:
                    break
                sent.append(byte)
        rest = await read_all(client)
    assert rest == AUTOLOGOUT
    assert bytes(sent) == b"U"  # cut before the second trickled byte
    assert ended == [pytest.approx(start + IDLE)]
    assert (tmp_path / "m1").exists(), "a cut session commits nothing"
    assert _timeouts(handler) == 1


async def test_a_slow_client_sending_whole_lines_is_not_cut(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Lines spaced just under the idle timeout, and lines split in two packets, each line
    complete within ``IDLE`` of its first byte (even when it began in the packet that ended
    the line before it): every command answered, QUIT commits."""
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await _logged_in(client)
        for _ in range(3):
            await trio.sleep(IDLE - 1)
            await client.send_all(b"NOOP\r\n")
            assert await read_line(client) == b"+OK\r\n"
        await trio.sleep(IDLE - 1)
        await client.send_all(b"NO")
        for packet in (b"OP\r\nST", b"AT\r\nNO", b"OP\r\n"):  # each line ends IDLE - 1 later
            await trio.sleep(IDLE - 1)
            await client.send_all(packet)
            assert (await read_line(client)).startswith(b"+OK")
        await trio.sleep(IDLE - 1)
        await client.send_all(b"QUIT\r\n")
        assert (await read_line(client)).startswith(b"+OK pop3srv signing off")
        assert await read_all(client) == b""
    assert not (tmp_path / "m1").exists(), "QUIT deleted the message"
    assert not _timeouts(handler)
