"""The lean path's HTTP connections against a tiny HTTP/1.1 server on 127.0.0.1: reuse, a
connection the server closed while idle, a response left half read, a short body."""

from __future__ import annotations

from functools import partial

import pytest
import trio

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
