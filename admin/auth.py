"""Who may use the admin app.

- API and websocket: ``Authorization: Bearer <admin-token>``, compared in constant time.
- Web UI: a login form exchanges the admin token for a random session id kept in memory and sent
  back as an HttpOnly, SameSite=Strict cookie. ``Secure`` is set on https and whenever the app
  is reached on a loopback address (browsers treat http://127.0.0.1 and http://localhost as
  secure contexts and keep Secure cookies there); it is left off only for plain http on a
  non-loopback address, which ``serve_admin`` warns about.
- The UI may call the API with its cookie: state-changing requests then need the session's CSRF
  token in ``X-CSRF-Token`` and a same-origin ``Origin`` (when the browser sends one); the live
  websocket needs a same-origin ``Origin``. The login form itself uses a double-submit CSRF cookie.

Sessions live in memory: a restart logs the UI out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pop3srv.netaddr import is_loopback_host

SESSION_COOKIE = "pop3srv_admin"
LOGIN_COOKIE = "pop3srv_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
MAX_UI_SESSIONS = 256


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (of the UTF-8 bytes, so any text is safe to compare)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header value, '' for another scheme, None if
    there is no header."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str | None) -> bool:
    return is_loopback_host(host)


def cookie_secure(scheme: str, server: object) -> bool:
    """Whether a cookie may carry ``Secure``: https, or an app reached on a loopback address."""
    if scheme in ("https", "wss"):
        return True
    if isinstance(server, (tuple, list)) and server:
        return is_loopback(str(server[0]))
    return False


def same_origin(origin: str | None, scheme: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is this app's (``ws``/``wss`` count as http/https). An
    app reached over plain http also accepts ``https://`` + its Host: the TLS proxy in front
    that docs/admin.md asks for (the browser is on https, the app sees http). Never the other
    way round (an http page for an https app)."""
    if origin is None:
        return False
    http_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    schemes = ("http", "https") if http_scheme == "http" else (http_scheme,)
    given = origin.encode()
    return any(hmac.compare_digest(given, f"{s}://{host}".encode()) for s in schemes)


@dataclass
class UiSession:
    csrf: str
    expires: float


class UiSessions:
    """Logged-in browser sessions, keyed by a hash of the cookie value."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._sessions: dict[str, UiSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self) -> tuple[str, UiSession]:
        """A new session: (cookie value, session)."""
        now = self._clock()
        self._expire(now)
        while len(self._sessions) >= MAX_UI_SESSIONS:  # oldest first
            del self._sessions[next(iter(self._sessions))]
        cookie = new_secret()
        session = UiSession(csrf=new_secret(), expires=now + self.ttl)
        self._sessions[_key(cookie)] = session
        return cookie, session

    def get(self, cookie: str | None) -> UiSession | None:
        if not cookie:
            return None
        session = self._sessions.get(_key(cookie))
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._sessions[_key(cookie)]
            return None
        return session

    def drop(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(_key(cookie), None)

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
