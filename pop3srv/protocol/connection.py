"""The POP3 server side of one connection, as a sans-I/O state machine (h11-style).

``Connection`` owns the session state (RFC 1939 section 3) and the pairing of commands with
replies: bytes go in with ``receive_data``, commands come out one at a time from ``next_event``,
and each reply given to ``send`` is checked against the command awaiting it (``pairing`` says
which replies may answer which command), turned into bytes and applied to the state. Because the
next pipelined command (RFC 2449 PIPELINING) is parsed only after the previous one was answered,
it is always parsed in the current state. Framing, syntax, the state table and the wire format
are delegated to ``buffer``, ``parser``, ``state`` and ``writer``; this module does no I/O and
knows nothing about mailboxes or credentials.
"""

from __future__ import annotations

from pop3srv.protocol.buffer import TOO_LONG, LineBuffer, Overlong
from pop3srv.protocol.errors import LocalProtocolError
from pop3srv.protocol.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthResponse,
    BadCommand,
    BeginData,
    Command,
    ConnectionClosed,
    Continue,
    Data,
    EndData,
    Err,
    Event,
    Ok,
    Pass,
    Quit,
    Reply,
    Sentinel,
    Stls,
    User,
    Utf8,
)
from pop3srv.protocol.pairing import VALID_BY_TYPE, valid_replies
from pop3srv.protocol.parser import TOO_LONG_REPLY, parse_command, parse_sasl_response
from pop3srv.protocol.state import State
from pop3srv.protocol.writer import BodyEncoder, encode_reply

#: a tuple, not ``Data | EndData``: the union would be built anew on every call
_BODY_PARTS = (Data, EndData)
#: the commands whose reply changes the connection's state (see ``_after_reply``)
_STATEFUL = frozenset({User, Pass, Auth, AuthResponse, Utf8, Quit, Stls})


class Connection:
    """One POP3 session seen from the server; see the module docstring."""

    def __init__(
        self,
        *,
        stls_available: bool,
        is_tls: bool,
        max_line: int = 255,
        max_auth_line: int = 16384,
    ) -> None:
        if not 0 < max_line <= max_auth_line:
            raise ValueError("need 0 < max_line <= max_auth_line")
        self._buffer = LineBuffer(max_auth_line)
        self._max_line = max_line
        self._stls_available = stls_available
        self._is_tls = is_tls
        self._state = State.AUTHORIZATION
        self._user: str | None = None
        self._pending: Command | None = None
        self._body: BodyEncoder | None = None
        self._in_sasl = False  # a Continue was sent: the next line is a SASL response
        self._utf8 = False  # UTF8 was accepted (RFC 6856; USER takes UTF-8 either way)
        self._eof = False
        self._spoken = False  # anything was sent (the greeting must come first)

    @property
    def state(self) -> State:
        return self._state

    @property
    def is_tls(self) -> bool:
        return self._is_tls

    @property
    def user(self) -> str | None:
        """The name given by the last accepted USER (kept after login), else None."""
        return self._user

    @property
    def utf8(self) -> bool:
        """Whether the client enabled UTF-8 mode with UTF8 (RFC 6856 section 2)."""
        return self._utf8

    @property
    def stls_available(self) -> bool:
        return self._stls_available

    @property
    def stls_allowed(self) -> bool:
        """Whether STLS would be accepted now (and should be listed in CAPA)."""
        return self._stls_available and not self._is_tls and self._state is State.AUTHORIZATION

    @property
    def pending(self) -> Command | None:
        """The command awaiting its reply (until ``EndData`` for a streamed body), else None."""
        return self._pending

    @property
    def streaming(self) -> bool:
        """Whether a body was opened with ``BeginData`` and not yet ended with ``EndData``."""
        return self._body is not None

    @property
    def command_waiting(self) -> bool:
        """Whether another complete command line is already buffered (the client pipelined,
        RFC 2449), so ``next_event`` will not return ``NEED_DATA`` after this reply."""
        return self._buffer.has_line

    @property
    def unfinished_line_from(self) -> int | None:
        """Where the command line received only in part began (an octet offset in what was
        received, unique per line), or None if what was received ends with a whole line."""
        return self._buffer.unfinished_from

    def receive_data(self, data: bytes) -> None:
        """Adds bytes received from the client; ``b""`` means the client closed its side.

        Read (and call this) only when ``next_event`` returned ``NEED_DATA``: the buffer bounds
        the unfinished line to ``max_auth_line`` octets, but not what is fed while ``PAUSED``.
        """
        if not data:
            self._eof = True  # also harmless when already closed
            return
        if self._state is State.CLOSED:
            raise LocalProtocolError("data received on a closed connection")
        if self._eof:
            raise LocalProtocolError("data received after EOF")
        self._buffer.feed(data)

    def next_event(self) -> Event | Sentinel:
        """The next command, ``ConnectionClosed``, ``NEED_DATA`` or ``PAUSED``.

        ``PAUSED`` while a command awaits its reply. QUIT in TRANSACTION moves to UPDATE here.
        """
        if self._state is State.CLOSED:
            return ConnectionClosed()
        if self._pending is not None:
            return PAUSED
        line = self._buffer.next_line()
        if line is None:
            if self._eof:
                self._close()
                return ConnectionClosed()
            return NEED_DATA
        event = self._parse(line)
        if isinstance(event, Quit) and self._state is State.TRANSACTION:
            self._state = State.UPDATE
        self._pending = event
        return event

    def send(self, reply: Reply) -> bytes:
        """The bytes of ``reply`` to the pending command; updates the state accordingly."""
        if isinstance(reply, _BODY_PARTS):
            return self._send_body(reply)
        if self._body is not None:
            raise LocalProtocolError("a body is being sent: finish it with EndData first")
        command = self._pending
        if command is None:
            raise LocalProtocolError("no command is awaiting a reply")
        valid = VALID_BY_TYPE.get(type(command)) or valid_replies(command)
        if not isinstance(reply, valid):
            raise LocalProtocolError(
                f"{type(reply).__name__} is not a valid reply to {type(command).__name__}"
            )
        data = encode_reply(reply)  # raises before any state change
        self._spoken = True
        if isinstance(reply, BeginData):
            self._body = BodyEncoder()
            return data
        self._pending = None
        if type(command) in _STATEFUL:
            self._after_reply(command, reply)
        else:
            self._in_sasl = False  # only AUTH exchanges are answered with a continuation
        return data

    def greeting(self, text: str) -> bytes:
        """The ``+OK`` banner sent on connect (RFC 1939 section 4); only before anything else."""
        if self._spoken or self._state is not State.AUTHORIZATION or self._pending is not None:
            raise LocalProtocolError("the greeting must be the first thing sent")
        data = encode_reply(Ok(text))
        self._spoken = True
        return data

    def goodbye(self, reply: Err) -> bytes:
        """An unsolicited ``-ERR`` (idle timeout, shutdown) after which the session is CLOSED.

        It answers a pending command if there is one. No UPDATE happens (RFC 1939 section 6).
        Not possible inside a streamed body: close the connection without a reply then.
        """
        if not isinstance(reply, Err):
            raise LocalProtocolError("goodbye needs an Err")
        if self._state is State.CLOSED:
            raise LocalProtocolError("the connection is already closed")
        if self._body is not None:
            raise LocalProtocolError("cannot reply inside a body; close the connection instead")
        data = encode_reply(reply)
        self._spoken = True
        self._close()
        return data

    def _parse(self, line: bytes | Overlong) -> Command:
        if line is TOO_LONG:
            return BadCommand(TOO_LONG_REPLY, too_long=True)
        if self._in_sasl:
            return parse_sasl_response(line)
        return parse_command(
            line,
            state=self._state,
            have_user=self._user is not None,
            stls_available=self._stls_available,
            is_tls=self._is_tls,
            max_line=self._max_line,
        )

    def _send_body(self, reply: Data | EndData) -> bytes:
        if self._body is None:
            raise LocalProtocolError(f"{type(reply).__name__} outside a body (send BeginData)")
        if isinstance(reply, Data):
            return self._body.encode(reply.chunk)
        data = self._body.finish()
        self._body = None
        self._pending = None
        return data

    def _after_reply(self, command: Command, reply: Reply) -> None:
        """What the reply to one of ``_STATEFUL`` commands changes (``send`` calls it for no
        other)."""
        ok = isinstance(reply, Ok)
        self._in_sasl = isinstance(reply, Continue)
        match command:
            case User(name=name):
                self._user = name if ok else None
            case Pass():
                if ok:
                    self._state = State.TRANSACTION
                else:
                    self._user = None
            case Auth() | AuthResponse():
                if ok:
                    self._state = State.TRANSACTION
            case Utf8():
                self._utf8 = self._utf8 or ok
            case Quit():
                self._close()
            case Stls():
                if ok:
                    # RFC 2595 section 4 / CVE-2011-0411: plaintext pipelined after STLS is
                    # dropped, and nothing learned before TLS (the USER name) is kept.
                    self._buffer.clear()
                    self._is_tls = True
                    self._user = None
                    self._utf8 = False

    def _close(self) -> None:
        self._state = State.CLOSED
        self._pending = None
        self._in_sasl = False
        self._buffer.clear()
