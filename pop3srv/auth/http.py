"""The HTTP basic-auth callback (``http-basic-auth-url``), as in aws-ses-pop3-server: a GET with
the POP3 user and password as basic auth; 200 with a JSON body in the JWT-claims shape grants
the mailbox it describes.

Any 4xx, a redirect (never followed: credentials stay with the configured host) or a malformed
body (also one nested too deeply to parse) refuses the login (``[AUTH]``); a timeout (one
deadline for the whole call, however slowly the server drips), a connection error or a 5xx
is an outage (``[SYS/TEMP]``), so clients keep their password and retry. A user name with a
``:`` or a control character is refused without calling (RFC 7617).

The reply is asked for uncompressed; a gzip/deflate body sent anyway is inflated here, never
past ``MAX_BODY`` (httpx would inflate each received chunk whole: a 400 KB gzip bomb cost the
process 130 MB per login), and another content coding is a malformed body.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field

import httpx
import trio

from pop3srv.auth.base import AuthFailed, AuthUnavailable, LoginContext, Principal
from pop3srv.auth.claims import MailboxResolver, MalformedClaims
from pop3srv.netaddr import safe_url

log = logging.getLogger(__name__)
_CONTROLS = frozenset(chr(c) for c in [*range(32), 127])
MAX_BODY = 64 * 1024
#: ``Content-Encoding`` values inflated (zlib's header detection reads gzip and zlib streams)
_INFLATED = frozenset({"gzip", "x-gzip", "deflate"})
_REFUSED = "invalid user name or password"


@dataclass(frozen=True)
class HttpCallbackAuthenticator:
    url: str = field(repr=False)
    client: httpx.AsyncClient
    resolver: MailboxResolver
    timeout: float = 10.0

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        if not _basic_auth_safe(user, password):  # RFC 7617: no ":" in the user, no controls
            raise AuthFailed(_REFUSED)
        try:
            status, body = await self._call(user, password)
        except MalformedClaims as exc:  # a body too large, or coded in a way we do not read
            log.warning("auth callback %s returned a malformed body: %s", safe_url(self.url), exc)
            raise AuthFailed(_REFUSED) from None
        if status >= 500:
            log.warning("auth callback %s answered %d", safe_url(self.url), status)
            raise AuthUnavailable("authentication service unavailable, try again later")
        if status != 200:
            raise AuthFailed(_REFUSED)
        try:
            claims = json.loads(body)
            if not isinstance(claims, dict):
                raise MalformedClaims("not a JSON object")
            location = self.resolver.from_claims(claims)
        except (ValueError, RecursionError, MalformedClaims) as exc:  # deep nesting: recursion
            why = "nested too deeply" if isinstance(exc, RecursionError) else exc
            log.warning("auth callback %s returned a malformed body: %s", safe_url(self.url), why)
            raise AuthFailed(_REFUSED) from None
        return Principal(user=user, location=location, method="http")

    async def _call(self, user: str, password: str) -> tuple[int, bytes]:
        """One request, all of it (connect, headers, body) within ``timeout`` seconds."""
        try:
            with trio.fail_after(self.timeout):
                return await self._request(user, password)
        except trio.TooSlowError as exc:
            log.warning("auth callback %s took longer than %g s", safe_url(self.url), self.timeout)
            raise AuthUnavailable("authentication service unavailable, try again later") from exc

    async def _request(self, user: str, password: str) -> tuple[int, bytes]:
        try:
            async with self.client.stream(
                "GET",
                self.url,
                auth=(user, password),
                headers={"Accept-Encoding": "identity"},
                follow_redirects=False,
                timeout=self.timeout,
            ) as response:
                if response.status_code != 200:
                    return response.status_code, b""
                return 200, await _read_body(response)
        except httpx.HTTPError as exc:
            log.warning("auth callback %s failed: %s", safe_url(self.url), _why(exc, self.url))
            raise AuthUnavailable("authentication service unavailable, try again later") from exc


def _why(exc: httpx.HTTPError, url: str) -> str:
    """The error's class and, for the operator, the first text along its causes (a TLS
    verification failure, a refused connection), cut short, on one line, with the callback URL
    (which may carry a password) redacted."""
    cause: BaseException | None = exc
    for _ in range(6):
        if cause is None or str(cause):
            break
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(cause or "").replace(url, safe_url(url)).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _read_body(response: httpx.Response) -> bytes:
    """The body, at most ``MAX_BODY`` bytes after decoding; ``MalformedClaims`` if longer, or
    in a content coding other than gzip/deflate."""
    coding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS) if coding in _INFLATED else None
    if inflater is None and coding not in ("", "identity"):
        raise MalformedClaims(f"unsupported Content-Encoding {coding[:40]!r}")
    body = b""
    async for raw in response.aiter_raw():
        chunk = raw
        if inflater is not None:
            try:
                chunk = inflater.decompress(raw, MAX_BODY + 1 - len(body))
            except zlib.error:
                raise MalformedClaims("corrupt compressed body") from None
        body += chunk
        if len(body) > MAX_BODY:
            raise MalformedClaims(f"body larger than {MAX_BODY} bytes")
    return body


def _basic_auth_safe(user: str, password: str) -> bool:
    """Whether the pair survives basic auth unchanged: a ":" in the user name would shift the
    split (``victim:guess`` arriving as user ``victim``), and control characters are not
    allowed in either part (RFC 7617)."""
    return ":" not in user and not _CONTROLS.intersection(user + password)
