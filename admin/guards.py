"""Request-level checks shared by the routes: the Host allow-list, JSON errors, API and
websocket authentication, the UI's cookie session. See ``admin.auth`` for the rules."""

from __future__ import annotations

import ipaddress
import math
from urllib.parse import urlsplit

from quart import Quart, Response, jsonify, request, websocket

from admin.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    UiSession,
    bearer_token,
    same_origin,
    token_matches,
)
from admin.deps import AdminContext
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.netaddr import is_loopback_host

BEARER_CHALLENGE = 'Bearer realm="pop3srv admin"'
#: answered whatever the Host (Kubernetes probes send the pod's address): they reveal nothing
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def json_error(status: int, message: str, field: str | None = None) -> Response:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = BEARER_CHALLENGE
    return response


def api_denied(ctx: AdminContext, *, unsafe: bool) -> Response | None:
    """None if the request may use the API, else the 401/403 JSON answer."""
    given = bearer_token(request.headers.get("Authorization"))
    if given is not None:
        return _check_bearer(ctx, given, request.remote_addr)
    session = ui_session(ctx)
    if session is None:
        return json_error(401, "authentication required: send Authorization: Bearer <admin-token>")
    if not unsafe:
        return None
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin, request.scheme, request.host):
        return json_error(403, "cross-origin request refused")
    csrf = request.headers.get(CSRF_HEADER, "")
    if not csrf or not token_matches(csrf, session.csrf):
        return json_error(403, f"missing or wrong CSRF token ({CSRF_HEADER} header)")
    return None


def websocket_denied(ctx: AdminContext) -> Response | None:
    """Bearer header (scripts, ``pop3srv sessions --follow``), or the UI's session cookie from
    a same-origin page. No token in the URL: it would end up in logs and browser history."""
    given = bearer_token(websocket.headers.get("Authorization"))
    if given is not None:
        return _check_bearer(ctx, given, websocket.remote_addr)
    if ctx.sessions.get(websocket.cookies.get(SESSION_COOKIE)) is None:
        return json_error(401, "authentication required")
    if not same_origin(websocket.headers.get("Origin"), websocket.scheme, websocket.host):
        return json_error(403, "cross-origin websocket refused")
    return None


def _check_bearer(ctx: AdminContext, given: str, address: str | None) -> Response | None:
    """None for the right token; wrong ones count against the client's address, which is then
    refused (429) for the growing delay its last failure earned, and only for that long (as
    Retry-After says), so a short admin-token cannot be guessed and the right one is never
    locked out for longer; a generated token is never locked out (``token_unguessable``)."""
    penalty, where = ctx.deps.penalty, address or "unknown"
    right = token_matches(given, ctx.deps.token)
    if (refused := too_many_attempts(penalty, where)) and not (
        right and ctx.deps.token_unguessable
    ):
        return refused
    if right:
        penalty.succeeded(where)
        return None
    penalty.failed(where)
    ctx.deps.audit.record("admin-login", where, "api (bearer)", outcome="failed")
    return json_error(401, "invalid admin token")


def too_many_attempts(penalty: LoginPenalty, address: str) -> Response | None:
    """The 429 (with Retry-After) for an address within its current delay, else None."""
    wait = penalty.retry_after(address)
    if wait <= 0:
        return None
    response = json_error(429, f"too many wrong admin tokens; retry in {math.ceil(wait)} s")
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


def register_host_check(app: Quart, ctx: AdminContext) -> None:
    """Answer only requests whose Host names this app (DNS rebinding: a page of the attacker's
    domain, re-pointed at 127.0.0.1, must not read /metrics or the API). Allowed: loopback
    names, ``admin-host``, ``admin-allowed-hosts``, and any IP address literal (rebinding needs
    a DNS name). Requests without Host (HTTP/1.0 health checks) and the probes are answered."""
    allowed = frozenset(name.strip("[]").lower().rstrip(".") for name in ctx.deps.allowed_hosts)

    def refusal(host: str, path: str) -> Response | None:
        if not host or path in OPEN_PATHS or host_allowed(host, allowed):
            return None
        response = Response("unknown Host\n", 421, content_type="text/plain")
        if path.startswith("/api/"):
            response = json_error(421, "unknown Host header (see admin-allowed-hosts)")
        return response

    @app.before_request
    async def check_request_host() -> Response | None:
        return refusal(request.headers.get("Host", ""), request.path)

    @app.before_websocket
    async def check_websocket_host() -> Response | None:
        return refusal(websocket.headers.get("Host", ""), websocket.path)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """Whether a Host header value (``name``, ``name:port``, ``[v6]:port``) is allowed."""
    try:  # "[x" and "a]b" are not URLs (ValueError): a 500 and a traceback per request before
        name = urlsplit(f"//{host}").hostname if host.count(":") <= 1 or "]" in host else host
    except ValueError:
        return False
    if not name:
        return False
    name = name.strip("[]").lower().rstrip(".")
    if name in allowed or is_loopback_host(name):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def ui_session(ctx: AdminContext) -> UiSession | None:
    return ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
