"""Sans-I/O POP3 (RFC 1939, 2449, 2595, 5034, 3206, 6856).

Bytes in, typed events out; replies in, bytes out. This package re-exports the public names.
"""

from pop3srv.protocol.buffer import TOO_LONG, LineBuffer
from pop3srv.protocol.capabilities import capabilities
from pop3srv.protocol.connection import Connection
from pop3srv.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from pop3srv.protocol.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    BeginData,
    Capa,
    Command,
    ConnectionClosed,
    Continue,
    Data,
    Dele,
    EndData,
    Err,
    Event,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Quit,
    Reply,
    Retr,
    Rset,
    Sentinel,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
)
from pop3srv.protocol.pairing import valid_replies
from pop3srv.protocol.parser import parse_command, parse_sasl_response
from pop3srv.protocol.sasl import decode_plain, decode_response, encode_plain, encode_response
from pop3srv.protocol.state import State
from pop3srv.protocol.top import TopFilter
from pop3srv.protocol.writer import BodyEncoder, encode_reply

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "TOO_LONG",
    "Auth",
    "AuthCancel",
    "AuthResponse",
    "BadCommand",
    "BeginData",
    "BodyEncoder",
    "Capa",
    "Command",
    "Connection",
    "ConnectionClosed",
    "Continue",
    "Data",
    "Dele",
    "EndData",
    "Err",
    "Event",
    "LineBuffer",
    "List",
    "LocalProtocolError",
    "MultiLine",
    "Noop",
    "Ok",
    "Pass",
    "ProtocolError",
    "Quit",
    "RemoteProtocolError",
    "Reply",
    "Retr",
    "Rset",
    "Sentinel",
    "Stat",
    "State",
    "Stls",
    "Top",
    "TopFilter",
    "Uidl",
    "User",
    "Utf8",
    "capabilities",
    "decode_plain",
    "decode_response",
    "encode_plain",
    "encode_reply",
    "encode_response",
    "parse_command",
    "parse_sasl_response",
    "valid_replies",
]
