"""SASL for POP3 AUTH (RFC 5034): the PLAIN (RFC 4616) and LOGIN mechanisms.

This module owns the base64 layer of SASL responses (``=`` is an empty initial response,
RFC 5034 section 4), the PLAIN message format ``[authzid] NUL authcid NUL passwd``, the LOGIN
exchange (``Username:`` and ``Password:`` challenges, one base64 answer each, as
draft-murchison-sasl-login describes) and ``SaslExchange``, which runs one AUTH exchange step
by step. It checks shape only; whether the credentials are good is for the authentication
backend.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

#: The mechanisms ``SaslExchange`` implements, in the order they are announced.
MECHANISMS = ("PLAIN", "LOGIN")
LOGIN_USER_CHALLENGE = base64.b64encode(b"Username:").decode("ascii")
LOGIN_PASSWORD_CHALLENGE = base64.b64encode(b"Password:").decode("ascii")
#: C0, DEL and C1: never in a user name (USER refuses them too); a password may hold them
NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Credentials:
    """What a finished SASL exchange yields; ``authzid`` is ``""`` unless PLAIN sent one."""

    authcid: str
    password: str = field(repr=False)
    authzid: str = ""


class SaslExchange:
    """One AUTH exchange in progress (sans-I/O).

    ``step`` takes first the initial response (None if the AUTH line had none), then each
    answer to a ``+`` challenge; it returns the next challenge (base64 text for a ``Continue``)
    or the ``Credentials``. ValueError for a malformed response: the exchange is then over.
    """

    def __init__(self, mechanism: str) -> None:
        if mechanism not in MECHANISMS:
            raise ValueError(f"unsupported SASL mechanism {mechanism}")
        self.mechanism = mechanism
        self._started = False
        self._user: str | None = None

    def step(self, response: str | None) -> str | Credentials:
        first, self._started = not self._started, True
        if response is None:
            if not first:
                raise ValueError("a SASL response is needed")
            return "" if self.mechanism == "PLAIN" else LOGIN_USER_CHALLENGE
        if self.mechanism == "PLAIN":
            authzid, authcid, password = decode_plain(response)
            return Credentials(_name(authcid), password, _name(authzid))
        text = _login_field(response)
        if self._user is None:
            self._user = _name(text)
            return LOGIN_PASSWORD_CHALLENGE
        return Credentials(self._user, text)


def _name(text: str) -> str:
    if NAME_CONTROL.search(text):
        raise ValueError("control characters in the name")
    return text


def _login_field(response: str) -> str:
    """A LOGIN answer: non-empty UTF-8 without NUL."""
    try:
        text = decode_response(response).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("LOGIN response is not UTF-8") from exc
    if not text or "\x00" in text:
        raise ValueError("LOGIN response must be non-empty, without NUL")
    return text


def decode_response(text: str) -> bytes:
    """Decodes a client's SASL response; ``=`` means empty. ValueError if not strict base64."""
    text = text.strip(" ")
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("invalid base64 in SASL response") from exc


def encode_response(data: bytes) -> str:
    """Base64 of a SASL message as a client sends it; empty data gives ``=``."""
    return base64.b64encode(data).decode("ascii") if data else "="


def decode_plain(b64: str) -> tuple[str, str, str]:
    """(authzid, authcid, password) from a base64 PLAIN response; authzid may be ``""``.

    ValueError if the base64, the UTF-8 or the shape is wrong (authcid and password must be
    non-empty, exactly two NUL separators, RFC 4616 section 2).
    """
    parts = decode_response(b64).split(b"\x00")
    if len(parts) != 3:
        raise ValueError("PLAIN response needs exactly two NUL separators")
    try:
        authzid, authcid, password = (part.decode("utf-8") for part in parts)
    except UnicodeDecodeError as exc:
        raise ValueError("PLAIN response is not UTF-8") from exc
    if not authcid or not password:
        raise ValueError("PLAIN response needs a user name and a password")
    return authzid, authcid, password


def encode_plain(authzid: str, authcid: str, password: str) -> str:
    """The base64 PLAIN response a client would send (the inverse of ``decode_plain``)."""
    for part in (authzid, authcid, password):
        if "\x00" in part:
            raise ValueError("PLAIN fields must not contain NUL")
    message = "\x00".join((authzid, authcid, password)).encode("utf-8")
    return encode_response(message)
