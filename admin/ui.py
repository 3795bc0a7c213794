"""The web UI: login/logout and the single page (live sessions, minting mailbox passwords).

Everything dynamic on the page is done by ``static/admin.js`` through the API and the live
websocket, with the session cookie and the page's CSRF token.
"""

from __future__ import annotations

import logging
import math

from quart import Quart, Response, render_template, request

from admin.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    cookie_secure,
    new_secret,
    token_matches,
)
from admin.deps import AdminContext
from admin.guards import ui_session
from admin.minting import DAY, DEFAULT_TTL

log = logging.getLogger(__name__)

LOGIN_FORM_SECONDS = 900
LIFETIMES = (
    ("1 day", DAY),
    ("30 days", 30 * DAY),
    ("90 days", DEFAULT_TTL),
    ("1 year", 365 * DAY),
    ("never expires", None),
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _redirect(location: str) -> Response:
    return Response("", 303, {"Location": location})


def _secure() -> bool:
    return cookie_secure(request.scheme, request.server)


def register(app: Quart, ctx: AdminContext) -> None:
    deps = ctx.deps

    @app.get("/")
    async def index() -> Response | str:
        session = ui_session(ctx)
        if session is None:
            return _redirect("/login")
        info = deps.client()
        page = await render_template(
            "index.html",
            csrf=session.csrf,
            client=info,
            mailboxes=sorted(deps.minter.mailboxes),
            jwt_problem=deps.minter.jwt_problem,
            app_password_problem=deps.minter.app_password_problem,
            lifetimes=LIFETIMES,
            default_ttl=DEFAULT_TTL,
        )
        response = Response(page, 200, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/login")
    async def login_form() -> Response:
        return await _login_page(None, 200)

    @app.post("/login")
    async def login() -> Response:
        """Wrong tokens delay the address (as for the API): within the delay, and while another
        login of the same address is in progress, attempts are refused at once with 429."""
        address = request.remote_addr or "unknown"
        with deps.penalty.attempt(address, exclusive=True) as allowed:
            if not allowed:
                return await _refused(1.0)
            wait = deps.penalty.retry_after(address)
            if wait and not deps.token_unguessable:
                return await _refused(wait)
            return await _check_login(address, wait)

    async def _check_login(address: str, wait: float) -> Response:
        """``wait``: the address is delayed that long (a generated token is still checked:
        only a wrong one is refused, and not counted, as within the delay before)."""
        form = await request.form
        expected = request.cookies.get(LOGIN_COOKIE, "")
        given = form.get(CSRF_FIELD, "")
        if not expected or not given or not token_matches(given, expected):
            return await _login_page("The form expired; please try again.", 403)
        if not token_matches(form.get("token", "").strip(), deps.token):
            if wait:
                return await _refused(wait)
            deps.penalty.failed(address)
            deps.metrics.admin_logins_total.labels("failed").inc()
            deps.audit.record("admin-login", address, "ui", outcome="failed")
            return await _login_page("Wrong admin token.", 401)
        deps.penalty.succeeded(address)
        deps.metrics.admin_logins_total.labels("ok").inc()
        deps.audit.record("admin-login", address, "ui")
        cookie, _ = ctx.sessions.create()
        response = _redirect("/")
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(ctx.sessions.ttl),
            path="/",
            secure=_secure(),
            httponly=True,
            samesite="Strict",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    async def logout() -> Response:
        session = ui_session(ctx)
        form = await request.form
        if session is not None and token_matches(form.get(CSRF_FIELD, ""), session.csrf):
            ctx.sessions.drop(request.cookies.get(SESSION_COOKIE))
        elif session is not None:
            return Response("missing or wrong CSRF token", 403, content_type="text/plain")
        response = _redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.after_request
    async def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


async def _refused(wait: float) -> Response:
    seconds = math.ceil(wait)
    response = await _login_page(f"Too many wrong tokens; try again in {seconds} s.", 429)
    response.headers["Retry-After"] = str(seconds)
    return response


async def _login_page(error: str | None, status: int) -> Response:
    csrf = new_secret()
    page = await render_template("login.html", csrf=csrf, error=error)
    response = Response(page, status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        LOGIN_COOKIE,
        csrf,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )
    return response
