"""Turning replies into bytes: status lines, multi-line replies and streamed message bodies.

This module owns the wire format of everything the server says (RFC 1939 section 3, RFC 2449
response codes, RFC 5034 continuations): ``encode_reply`` for the single-shot replies and
``BodyEncoder`` for a body streamed in chunks of any size. The encoder ends every line with
CRLF (a bare LF becomes CRLF, CRLF stays, a CR not followed by LF is passed through unchanged),
byte-stuffs every line starting with ``.``, and terminates the body with ``.`` CRLF. It keeps
one octet of state across chunks (a trailing CR) so chunk boundaries never change the output.
It does not know which reply is allowed when; ``Connection`` checks that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pop3srv.protocol.errors import LocalProtocolError
from pop3srv.protocol.events import BeginData, Continue, Err, MultiLine, Ok

# RFC 2449 section 8: resp-code = "[" resp-level *("/" resp-level) "]".
_RESP_CODE = re.compile(r"[\x21-\x2e\x30-\x5c\x5e-\x7e]+(?:/[\x21-\x2e\x30-\x5c\x5e-\x7e]+)*")

TERMINATOR = b".\r\n"
_POSITIVE = (Ok, BeginData)  # a tuple built once


def encode_text(text: str) -> bytes:
    """Encodes one line of reply text (UTF-8); CR and LF are refused."""
    if "\r" in text or "\n" in text:
        raise LocalProtocolError("reply text must not contain CR or LF")
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError("reply text is not encodable") from exc


def _status(indicator: bytes, *parts: bytes) -> bytes:
    return b" ".join([indicator, *(part for part in parts if part)]) + b"\r\n"


def encode_reply(reply: Ok | Err | Continue | MultiLine | BeginData) -> bytes:
    """The bytes of a complete reply (or, for ``BeginData``, of the status line opening a body)."""
    if isinstance(reply, _POSITIVE):
        text = encode_text(reply.text)
        return b"+OK " + text + b"\r\n" if text else b"+OK\r\n"
    if isinstance(reply, Err):
        code = b""
        if reply.code is not None:
            if not _RESP_CODE.fullmatch(reply.code):
                raise LocalProtocolError(f"invalid response code {reply.code!r}")
            code = b"[" + reply.code.encode("ascii") + b"]"
        return _status(b"-ERR", code, encode_text(reply.text))
    if isinstance(reply, Continue):
        return b"+ " + encode_text(reply.challenge) + b"\r\n"
    if isinstance(reply, MultiLine):
        return _status(b"+OK", encode_text(reply.text)) + encode_lines(reply.lines)
    raise LocalProtocolError(f"not a complete reply: {reply!r}")


def encode_lines(lines: Iterable[str]) -> bytes:
    """The body of a multi-line reply from text lines: each dot-stuffed, then the terminator."""
    out = bytearray()
    for line in lines:
        data = encode_text(line)
        if data.startswith(b"."):
            out += b"."
        out += data + b"\r\n"
    return bytes(out + TERMINATOR)


class BodyEncoder:
    """Incrementally encodes a message body of a multi-line reply (RETR, TOP).

    Feed raw message chunks to ``encode``; call ``finish`` once at the end. The concatenated
    output does not depend on how the message was split into chunks.
    """

    def __init__(self) -> None:
        self._at_line_start = True  # the output so far ends a line (or is empty)
        self._held_cr = False  # the last chunk ended with a CR whose successor is unknown
        self._finished = False

    def encode(self, chunk: bytes) -> bytes:
        """Encodes the next chunk; may return less than fed, holding back one trailing CR."""
        if self._finished:
            raise LocalProtocolError("body already finished")
        if self._held_cr:
            chunk = b"\r" + chunk
        self._held_cr = chunk.endswith(b"\r")
        if self._held_cr:
            chunk = chunk[:-1]
        if not chunk:
            return b""
        if chunk.count(b"\n") == chunk.count(b"\r\n"):  # already CRLF (what SES stores)
            # split/join: the same as replace(b"\n.", b"\n.."), in about half the time for a
            # small message; with no dot line it hands back ``chunk`` itself
            out = b"\n..".join(chunk.split(b"\n."))
        else:
            out = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\n.", b"\n..")
        if self._at_line_start and out.startswith(b"."):
            out = b"." + out
        self._at_line_start = out.endswith(b"\n")
        return out

    def finish(self) -> bytes:
        """Flushes a held CR, completes an unterminated last line, and adds ``.`` CRLF."""
        if self._finished:
            raise LocalProtocolError("body already finished")
        self._finished = True
        if self._held_cr:  # a CR at the very end is not followed by LF: pass it through
            return b"\r\r\n" + TERMINATOR
        return TERMINATOR if self._at_line_start else b"\r\n" + TERMINATOR
