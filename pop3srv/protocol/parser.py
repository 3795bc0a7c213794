"""Turning one command line (bytes, terminator removed) into a command event.

This module owns POP3 command syntax: keywords (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034
AUTH, RFC 6856 UTF8), argument counts and formats, and the ``-ERR`` text for every malformed
line. It asks ``state`` whether a command is valid in the current state and decides nothing
else about the session. Err texts never echo what the client sent, so a password can never
leak into a reply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pop3srv.protocol.events import (
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    Capa,
    Command,
    Dele,
    Err,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
)
from pop3srv.protocol.sasl import NAME_CONTROL
from pop3srv.protocol.state import KNOWN_COMMANDS, State, allowed, not_allowed

#: Commands whose line may exceed the normal limit (a long password, a SASL initial response).
LONG_LINE_COMMANDS = frozenset({"PASS", "AUTH"})

_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_NUMBER = re.compile(rb"[0-9]{1,10}")  # no sign, no spaces, no non-ASCII digits
_DIGITS = re.compile(rb"[0-9]+")
#: TOP's line count is any non-negative number (RFC 1939 section 7); one beyond every message
#: means the whole body, so larger counts are cut to this
MAX_TOP_LINES = 2**63 - 1
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")  # RFC 4422 section 3.1 sasl-mech

TOO_LONG_REPLY = Err("line too long")

#: The shape of the commands a download repeats: a keyword alone or with one message number.
_SHORT = re.compile(rb"([A-Za-z]{4})(?: ([0-9]{1,10}))?")


def keyword_of(line: bytes) -> str | None:
    """The upper-cased keyword of ``line`` if it looks like one (3-4 ASCII letters or digits,
    as in UTF8), else None."""
    word = line.lstrip(b" ").partition(b" ")[0]
    if 3 <= len(word) <= 4 and word.isalnum():  # bytes.isalnum() is ASCII-only
        return word.decode("ascii").upper()
    return None


def parse_command(
    line: bytes,
    *,
    state: State,
    have_user: bool = False,
    stls_available: bool = False,
    is_tls: bool = False,
    max_line: int | None = None,
) -> Command:
    """Parses ``line`` as a command given in ``state``.

    ``have_user``: a USER was accepted (PASS is valid); ``stls_available``/``is_tls``: whether
    STLS can be offered; ``max_line``: the normal line limit, which PASS and AUTH may exceed.
    Every problem becomes a ``BadCommand`` holding the ``-ERR`` to reply with.
    """
    short = _SHORT.fullmatch(line)
    if short is not None:  # the usual "RETR 12": the same result as the full path, sooner
        make = _SHORT_COMMANDS[state].get((short[1].upper(), short[2] is not None))
        if make is not None and (max_line is None or len(line) <= max_line):
            return make(short[2])
    return full_parse(
        line,
        state=state,
        have_user=have_user,
        stls_available=stls_available,
        is_tls=is_tls,
        max_line=max_line,
    )


def full_parse(
    line: bytes,
    *,
    state: State,
    have_user: bool,
    stls_available: bool,
    is_tls: bool,
    max_line: int | None,
) -> Command:
    """``parse_command`` without its short path (which a test checks against this)."""
    keyword = keyword_of(line)
    if max_line is not None and len(line) > max_line and keyword not in LONG_LINE_COMMANDS:
        return BadCommand(TOO_LONG_REPLY, too_long=True)
    if not line.strip(b" "):
        return _bad("empty command")
    if keyword is None or keyword not in KNOWN_COMMANDS:
        return _bad("unknown command")
    if not allowed(keyword, state):
        return BadCommand(not_allowed(keyword, state))
    rest = line.lstrip(b" ")[len(keyword) :]  # empty or starting with a space
    if keyword == "PASS":
        return _pass(rest, have_user=have_user)
    if keyword == "AUTH":
        return _parse_auth(_split(rest.decode("utf-8", "surrogateescape")))
    if keyword == "USER":  # UTF-8 with or without UTF8: clients send names as they are
        return _utf8_user(rest)
    if keyword == "STLS" and (is_tls or not stls_available):
        return _bad("already using TLS" if is_tls else "STLS not available")
    if not _PRINTABLE.fullmatch(rest):
        return _bad("command must be printable ASCII")
    return _ARGUMENT_PARSERS[keyword](keyword, _split(rest.decode("ascii")))


def parse_sasl_response(line: bytes) -> AuthResponse | AuthCancel:
    """Parses the client's answer to a ``+`` continuation (RFC 5034 section 4)."""
    text = line.decode("utf-8", "surrogateescape")
    if text.strip(" ") == "*":
        return AuthCancel()
    return AuthResponse(text)


def _bad(text: str) -> BadCommand:
    return BadCommand(Err(text))


def _split(rest: str) -> list[str]:
    """Arguments are separated by spaces (only); repeated and trailing spaces are tolerated."""
    return [arg for arg in rest.split(" ") if arg]


def _number(arg: str) -> int | None:
    if _NUMBER.fullmatch(arg.encode("ascii")):
        return int(arg)
    return None


def _line_count(arg: str) -> int | None:
    if _DIGITS.fullmatch(arg.encode("ascii")):
        return min(int(arg), MAX_TOP_LINES)
    return None


def _no_arguments(keyword: str, args: Sequence[str]) -> Command:
    if args:
        return _bad(f"{keyword} takes no arguments")
    return _SIMPLE[keyword]()


def _user(rest: str) -> Command:
    """USER takes the rest of the line as the name, spaces inside it included (a user name
    may be an address with a space in its local part; PASS takes its line the same way, and
    Dovecot does so for USER); spaces around it are dropped."""
    name = rest.strip(" ")
    if not name:
        return _bad("USER needs a user name")
    return User(name)


def _pass(rest: bytes, *, have_user: bool) -> Command:
    """PASS takes the rest of the line as it is (spaces included), as UTF-8 where it can."""
    if not have_user:
        return _bad("PASS must follow a successful USER")
    if len(rest) < 2:
        return _bad("PASS needs a password")
    return Pass(rest[1:].decode("utf-8", "surrogateescape"))


def _utf8_user(rest: bytes) -> Command:
    """USER: any UTF-8 text without control characters, as RFC 6856 section 3 allows after
    UTF8, and before it too: no USER/PASS client tested sends UTF8 (fetchmail, getmail,
    s-nail, fdm, Perl, Ruby, node: clients-7 F2), PASS takes UTF-8 either way, and Dovecot
    accepts 8-bit names without UTF8."""
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError:
        return _bad("USER: the name is not UTF-8")
    if NAME_CONTROL.search(text):
        return _bad("USER: control characters in the name")
    return _user(text)


def _one_message(keyword: str, args: Sequence[str]) -> Command:
    if not args:
        return _bad(f"{keyword} needs a message number")
    if len(args) > 1:
        return _bad(f"{keyword}: too many arguments")
    msg = _number(args[0])
    if msg is None:
        return _bad("invalid message number")
    return Retr(msg) if keyword == "RETR" else Dele(msg)


def _optional_message(keyword: str, args: Sequence[str]) -> Command:
    if len(args) > 1:
        return _bad(f"{keyword}: too many arguments")
    msg = _number(args[0]) if args else None
    if args and msg is None:
        return _bad("invalid message number")
    return List(msg) if keyword == "LIST" else Uidl(msg)


def _top(keyword: str, args: Sequence[str]) -> Command:
    if len(args) < 2:
        return _bad("TOP needs a message number and a line count")
    if len(args) > 2:
        return _bad("TOP: too many arguments")
    msg, lines = _number(args[0]), _line_count(args[1])
    if msg is None:
        return _bad("invalid message number")
    if lines is None:
        return _bad("invalid line count")
    return Top(msg, lines)


def _parse_auth(args: Sequence[str]) -> Command:
    if not args:
        return Auth()
    if len(args) > 2:
        return _bad("AUTH: too many arguments")
    mechanism = args[0].upper()
    if not args[0].isascii() or not _MECHANISM.fullmatch(mechanism):  # "ß".upper() is "SS"
        return _bad("invalid SASL mechanism name")
    return Auth(mechanism, args[1] if len(args) == 2 else None)


_SIMPLE: dict[str, Callable[[], Command]] = {
    "QUIT": Quit,
    "STAT": Stat,
    "NOOP": Noop,
    "RSET": Rset,
    "CAPA": Capa,
    "STLS": Stls,
    "UTF8": Utf8,
}

_ARGUMENT_PARSERS: dict[str, Callable[[str, Sequence[str]], Command]] = {
    **dict.fromkeys(_SIMPLE, _no_arguments),
    "RETR": _one_message,
    "DELE": _one_message,
    "LIST": _optional_message,
    "UIDL": _optional_message,
    "TOP": _top,
}


def _numbered(event: Callable[[int], Command]) -> Callable[[bytes | None], Command]:
    return lambda number: event(int(number or b"0"))


def _alone(event: Callable[[], Command]) -> Callable[[bytes | None], Command]:
    return lambda _number: event()


def _listing(event: Callable[[int | None], Command]) -> Callable[[bytes | None], Command]:
    return lambda _number: event(None)


#: ``parse_command``'s short path: (upper-case keyword, with a number) -> the command, per
#: state; only well-formed commands valid in that state (everything else, and every -ERR, is
#: left to the full path). A test checks it against the full path.
_SHORT_COMMANDS: dict[State, dict[tuple[bytes, bool], Callable[[bytes | None], Command]]] = {
    State.AUTHORIZATION: {(b"CAPA", False): _alone(Capa), (b"QUIT", False): _alone(Quit)},
    State.TRANSACTION: {
        (b"RETR", True): _numbered(Retr),
        (b"DELE", True): _numbered(Dele),
        (b"LIST", True): _numbered(List),
        (b"UIDL", True): _numbered(Uidl),
        (b"LIST", False): _listing(List),
        (b"UIDL", False): _listing(Uidl),
        (b"STAT", False): _alone(Stat),
        (b"NOOP", False): _alone(Noop),
        (b"RSET", False): _alone(Rset),
        (b"QUIT", False): _alone(Quit),
        (b"CAPA", False): _alone(Capa),
    },
    State.UPDATE: {},
    State.CLOSED: {},
}
