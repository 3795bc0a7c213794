"""Request-level checks shared by the routes: JSON errors, API and websocket authentication,
the UI's cookie session. See ``admin.auth`` for the rules."""

from __future__ import annotations

from quart import Response, jsonify, request, websocket

from admin.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    UiSession,
    bearer_token,
    same_origin,
    token_matches,
)
from admin.deps import AdminContext

BEARER_CHALLENGE = 'Bearer realm="pop3srv admin"'


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
    """None for the right token; wrong ones count against the client's address, which then
    gets 429 for a growing time (as POP3 logins do), so a short admin-token cannot be guessed."""
    penalty, where = ctx.deps.penalty, address or "unknown"
    if wait := penalty.delay(where):
        response = json_error(429, f"too many wrong admin tokens; retry in {wait:g} s")
        response.headers["Retry-After"] = str(int(wait + 0.999))
        return response
    if token_matches(given, ctx.deps.token):
        penalty.succeeded(where)
        return None
    penalty.failed(where)
    return json_error(401, "invalid admin token")


def ui_session(ctx: AdminContext) -> UiSession | None:
    return ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
