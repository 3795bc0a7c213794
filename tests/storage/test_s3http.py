"""The lean path's HTTP connections against a tiny HTTP/1.1 server on 127.0.0.1: reuse, a
connection the server closed while idle, a response left half read, a short body."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from pop3srv.storage import s3http
from pop3srv.storage.s3http import Endpoint, HttpError

BODY = b"x" * 1000


async def _serve(stream: trio.SocketStream, *, close_after: bool, length: int) -> None:
    """Answer each request with BODY (declaring ``length``); close after one if asked."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            data = await stream.receive_some(65536)
            if not data:
                return
            buffer += data
        _, buffer = buffer.split(b"\r\n\r\n", 1)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()
        await stream.send_all(head + BODY)
        if close_after or length != len(BODY):
            await stream.aclose()
            return


async def _endpoint(nursery: trio.Nursery, *, close_after: bool, length: int) -> Endpoint:
    listeners = await nursery.start(
        partial(
            trio.serve_tcp,
            partial(_serve, close_after=close_after, length=length),
            0,
            host="127.0.0.1",
        )
    )
    port = listeners[0].socket.getsockname()[1]
    return Endpoint("http", "127.0.0.1", port, max_connections=4, connect_timeout=2, read_timeout=2)


async def _get(endpoint: Endpoint) -> bytes:
    response = await endpoint.open("GET", "/b/k", [("Host", "127.0.0.1")])
    try:
        assert response.status == 200
        return await response.read()
    finally:
        response.release()


async def test_keep_alive_connections_are_reused(nursery: trio.Nursery) -> None:
    endpoint = await _endpoint(nursery, close_after=False, length=len(BODY))
    for _ in range(5):
        assert await _get(endpoint) == BODY
    assert endpoint.connections_opened == 1
    assert endpoint.idle == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    nursery: trio.Nursery,
) -> None:
    endpoint = await _endpoint(nursery, close_after=True, length=len(BODY))
    assert await _get(endpoint) == BODY
    await trio.sleep(0.05)  # the server's FIN arrives while the connection is idle
    assert await _get(endpoint) == BODY  # one attempt: no stale connection used
    assert endpoint.connections_opened == 2


async def test_a_response_left_half_read_closes_its_connection(nursery: trio.Nursery) -> None:
    endpoint = await _endpoint(nursery, close_after=False, length=len(BODY))
    response = await endpoint.open("GET", "/b/k", [("Host", "127.0.0.1")])
    assert response.status == 200  # the body is never read
    response.release()
    assert endpoint.idle == 0
    assert await _get(endpoint) == BODY
    assert endpoint.connections_opened == 2


async def test_a_body_shorter_than_its_content_length_fails(nursery: trio.Nursery) -> None:
    endpoint = await _endpoint(nursery, close_after=True, length=len(BODY) + 10)
    with pytest.raises(HttpError) as info:
        await _get(endpoint)
    assert info.value.code == "ResponseStreamingError"  # botocore's name for it
    assert endpoint.idle == 0


async def test_a_refused_connection_is_named_as_botocore_names_it() -> None:
    with trio.socket.socket() as sock:  # a port nothing listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = Endpoint(
        "http", "127.0.0.1", port, max_connections=1, connect_timeout=2, read_timeout=2
    )
    with pytest.raises(HttpError) as info:
        await _get(endpoint)
    assert info.value.code == "EndpointConnectionError"


async def _stalling(stream: trio.SocketStream, *, sent: bytes, served: list[int]) -> None:
    """Answer the first request with ``sent`` and then nothing more (the connection stays
    open); later connections are answered with BODY."""
    served.append(1)
    await stream.receive_some(65536)
    if len(served) == 1:
        await stream.send_all(sent)
        await trio.sleep_forever()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
    await stream.send_all(head + BODY)


async def _stalling_endpoint(nursery: trio.Nursery, sent: bytes) -> Endpoint:
    handler = partial(_stalling, sent=sent, served=[])
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return Endpoint("http", "127.0.0.1", port, max_connections=4, connect_timeout=2, read_timeout=3)


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # no answer at all: the wait for the head times out
        b"HTTP/1.1 200 OK\r\nContent-Len",  # half a head
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + BODY[:10],  # the body stalls
    ],
)
async def test_a_server_that_stops_answering_times_out_after_the_read_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, sent: bytes
) -> None:
    """The read timeout holds whether the server never answers, stops inside the head or
    inside the body; the connection is closed, not reused, and the next request works."""
    endpoint = await _stalling_endpoint(nursery, sent)
    start = trio.current_time()
    with pytest.raises(HttpError) as info:
        await _get(endpoint)
    assert info.value.code == "ReadTimeoutError"
    assert 3 <= trio.current_time() - start < 3.5
    assert endpoint.idle == 0
    assert await _get(endpoint) == BODY
    assert endpoint.connections_opened == 2


async def test_the_read_timeout_holds_for_each_wait_not_for_the_whole_response(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Pieces arriving every 2 s under a 3 s read timeout: no timeout (each wait is bounded,
    as botocore's read timeout is per socket read), whatever the whole takes."""

    async def slow(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\n\r\n".encode())
        for start in range(0, len(BODY), 250):
            await trio.sleep(2)
            await stream.send_all(BODY[start : start + 250])
        await trio.sleep_forever()

    listeners = await nursery.start(partial(trio.serve_tcp, slow, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    endpoint = Endpoint(
        "http", "127.0.0.1", port, max_connections=1, connect_timeout=2, read_timeout=3
    )
    start = trio.current_time()
    assert await _get(endpoint) == BODY
    assert trio.current_time() - start >= 8
    assert endpoint.idle == 1


async def test_the_read_timer_starts_again_after_it_ended(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The endpoint's timer task ends when no wait is left and the next wait starts it again:
    a server that never answers times out every request, not only the first."""

    async def silent(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await trio.sleep_forever()

    listeners = await nursery.start(partial(trio.serve_tcp, silent, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    endpoint = Endpoint(
        "http", "127.0.0.1", port, max_connections=1, connect_timeout=2, read_timeout=3
    )
    for _ in range(3):
        with trio.fail_after(10), pytest.raises(HttpError) as info:
            await _get(endpoint)
        assert info.value.code == "ReadTimeoutError"
        await trio.sleep(5)  # nothing to watch: the timer task has ended
    assert endpoint.connections_opened == 3 and endpoint.idle == 0


async def test_a_connection_the_timer_marked_as_its_answer_came_is_not_reused(
    nursery: trio.Nursery,
) -> None:
    """The race of the read timer with an answer: the deadline passes just as the wait was
    woken by its data (``_time_out`` finds no waiter to wake), so the response is read in
    full; the connection, marked timed out, is still closed, never given to the next request."""
    endpoint = await _endpoint(nursery, close_after=False, length=len(BODY))
    response = await endpoint.open("GET", "/b/k", [("Host", "127.0.0.1")])
    s3http._time_out(response._conn)  # the timer's mark, as it fires
    try:
        assert await response.read() == BODY
    finally:
        response.release()
    assert endpoint.idle == 0
    assert await _get(endpoint) == BODY
    assert endpoint.connections_opened == 2
