"""The plaintext socket short cut on real loopback TCP sockets: whole and partial writes, reads
that wait, end of stream, a closed socket, and other streams left to their own methods."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from pop3srv import sockio


async def _pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    async with listener:
        client = await trio.open_tcp_stream("127.0.0.1", port)
        server = await listener.accept()
    return server, client


async def test_a_small_reply_is_written_at_once_and_read_whole() -> None:
    server, client = await _pair()
    async with server, client:
        assert sockio.send_now(server, b"+OK hello\r\n") == len(b"+OK hello\r\n")
        assert await sockio.receive_some(client, 1024) == b"+OK hello\r\n"


async def test_a_read_waits_for_data_and_sees_the_end_of_the_stream() -> None:
    server, client = await _pair()
    async with server, trio.open_nursery() as nursery:

        async def later() -> None:
            await trio.sleep(0.05)
            await client.send_all(b"RETR 1\r\n")
            await client.aclose()

        nursery.start_soon(later)
        assert await sockio.receive_some(server, 1024) == b"RETR 1\r\n"
        assert await sockio.receive_some(server, 1024) == b""


async def test_a_write_the_socket_cannot_take_whole_is_partial_and_the_rest_follows() -> None:
    server, client = await _pair()
    data = bytes(range(256)) * 64 * 1024  # 16 MiB: more than the socket buffers hold
    view = memoryview(data)
    async with server, client:
        sent = sockio.send_now(server, data)
        assert 0 < sent < len(data)
        while more := sockio.send_now(server, view[sent:]):  # until the buffers are full
            sent += more
        assert sent < len(data)  # a write that would block wrote nothing
        received = bytearray()
        async with trio.open_nursery() as nursery:

            async def rest() -> None:
                await server.send_all(view[sent:])
                await server.aclose()

            nursery.start_soon(rest)
            while chunk := await sockio.receive_some(client, 65536):
                received += chunk
        assert received == data


async def test_a_closed_socket_or_a_reset_connection_is_a_trio_error() -> None:
    server, client = await _pair()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    await client.aclose()  # linger 0: a reset
    await trio.sleep(0.05)
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(3):  # the first write may still be accepted
            sockio.send_now(server, b"+OK\r\n")
            await trio.sleep(0.01)
    await server.aclose()
    with pytest.raises(trio.ClosedResourceError):
        sockio.send_now(server, b"+OK\r\n")
    with pytest.raises(trio.ClosedResourceError):
        await sockio.receive_some(server, 1024)


async def test_other_streams_use_their_own_methods() -> None:
    left, right = trio.testing.memory_stream_pair()
    assert sockio.send_now(left, b"+OK\r\n") == 0  # not a socket: nothing written here
    await left.send_all(b"+OK\r\n")
    assert await sockio.receive_some(right, 1024) == b"+OK\r\n"


async def test_read_now_takes_only_what_is_waiting() -> None:
    server, client = await _pair()
    async with server, client:
        assert sockio.read_now(server, 1024) is None  # nothing waiting: no wait either
        await client.send_all(b"STAT\r\n")
        await trio.sleep(0.05)
        assert sockio.read_now(server, 1024) == b"STAT\r\n"
        await client.aclose()
        await trio.sleep(0.05)
        assert sockio.read_now(server, 1024) == b""  # the end of the stream
    left, _ = trio.testing.memory_stream_pair()
    assert sockio.read_now(left, 1024) is None  # other streams: their own methods


async def test_receive_after_finding_nothing_waits_first() -> None:
    server, client = await _pair()
    async with server, client, trio.open_nursery() as nursery:

        async def later() -> None:
            await trio.sleep(0.05)
            await client.send_all(b"LIST\r\n")

        nursery.start_soon(later)
        assert sockio.read_now(server, 1024) is None
        assert await sockio.receive_some(server, 1024, wait_first=True) == b"LIST\r\n"
