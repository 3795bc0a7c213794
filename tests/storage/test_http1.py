"""The lean GET path's HTTP/1.1 codec, sans-I/O: requests formatted, responses parsed from
the pieces they arrive in (tables, synchronous)."""

from __future__ import annotations

import pytest

from pop3srv.storage import http1
from pop3srv.storage.http1 import ProtocolError, ResponseParser


def parse(pieces: list[bytes], *, eof: bool = False) -> tuple[ResponseParser, bytes]:
    """Feed ``pieces`` one by one (then the end, if ``eof``); the parser and the body read."""
    parser = ResponseParser()
    body = b""
    feed = [*pieces, b""] if eof else list(pieces)
    for piece in feed:
        parser.receive_data(piece)
        if parser.next_head() is None:
            continue
        while (part := parser.next_body()) is not None and part:
            body += part
    return parser, body


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


OK = b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "abc"\r\nX-Amz-Meta-A:  v 1 \r\n\r\nhello'
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
)


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
@pytest.mark.parametrize(
    ("wire", "body", "reusable"),
    [
        (OK, b"hello", True),
        (CHUNKED, b"hello world", True),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, b"hello", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"", True),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            b"hello",
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", b"hello", True),
        (OK + b"HTTP/1.1", b"hello", False),  # stray bytes after the response: not reused
    ],
)
def test_responses_parse_whatever_pieces_they_arrive_in(
    wire: bytes, body: bytes, reusable: bool, size: int
) -> None:
    parser, read = parse(split_every(wire, size))
    assert read == body
    assert parser.complete
    assert parser.reusable is reusable


def test_head_status_and_headers() -> None:
    parser, _ = parse([OK])
    assert parser.head is not None
    assert parser.head.status == 200
    assert parser.head.headers == {"content-length": "5", "etag": '"abc"', "x-amz-meta-a": "v 1"}


def test_repeated_headers_are_joined() -> None:
    parser, _ = parse([b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n"])
    assert parser.head is not None and parser.head.headers["x-a"] == "1, 2"


def test_a_body_up_to_the_connections_end() -> None:
    parser, body = parse([b"HTTP/1.1 200 OK\r\n\r\nsome", b" more"], eof=True)
    assert body == b"some more"
    assert parser.complete and not parser.reusable


def test_need_data_until_the_head_is_whole() -> None:
    parser = ResponseParser()
    parser.receive_data(b"HTTP/1.1 200 OK\r\nContent-Le")
    assert parser.next_head() is None
    parser.receive_data(b"ngth: 2\r\n\r\n")
    assert parser.next_head() is not None
    assert parser.next_body() is None  # the body has not arrived
    parser.receive_data(b"ab")
    assert parser.next_body() == b"ab"
    assert parser.next_body() == b""
    assert parser.complete


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # cut short
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",  # chunk cut
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\nContent-",  # head cut
        b"",  # closed before any response
    ],
)
def test_a_connection_ending_early_is_an_error(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse([wire], eof=True)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (http1.MAX_HEAD + 10),
    ],
)
def test_malformed_responses_are_errors(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse([wire])


def test_a_request_is_formatted_and_refuses_line_breaks() -> None:
    data = http1.request("GET", "/b/k%20x?list-type=2", [("host", "h:1"), ("range", "bytes=0-9")])
    assert data == b"GET /b/k%20x?list-type=2 HTTP/1.1\r\nhost: h:1\r\nrange: bytes=0-9\r\n\r\n"
    with pytest.raises(ValueError, match="line break"):
        http1.request("GET", "/b/k", [("if-match", '"x"\r\nX-Injected: 1')])
    with pytest.raises(ValueError, match="request target"):
        http1.request("GET", "/b/k HTTP/1.1\r\n", [])
