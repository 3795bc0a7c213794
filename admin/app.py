"""The admin app factory: ``create_app(deps)`` builds a Quart-Trio app over what the composition
root hands it (session registry, Prometheus registry, metrics, admin token, token minter,
readiness, client settings). It never imports the transport; ``admin.serve`` runs it."""

from __future__ import annotations

from quart import Response, has_request_context, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from admin import api, live, overview, probes, registry_api, ui
from admin.auth import UiSessions
from admin.deps import EXTENSION, AdminContext, AdminDeps
from admin.guards import json_error, register_host_check

MAX_BODY = 64 * 1024


def create_app(deps: AdminDeps) -> QuartTrio:
    app = QuartTrio(__name__, template_folder="templates", static_folder="static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0
    ctx = AdminContext(deps=deps, sessions=UiSessions(deps.ui_session_ttl))
    app.extensions[EXTENSION] = ctx
    register_host_check(app, ctx)
    probes.register(app, ctx)
    api.register(app, ctx)
    registry_api.register(app, ctx)
    overview.register(app, ctx)
    live.register(app, ctx)
    ui.register(app, ctx)

    @app.after_request
    async def close_connection(response: Response) -> Response:
        """No HTTP keep-alive: with Quart-Trio, Hypercorn never starts the idle timer of a
        kept-alive connection, so one idle browser connection would hold up shutdown for the
        whole ``graceful_timeout`` (and idle connections would never be reaped)."""
        response.headers["Connection"] = "close"
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response | HTTPException:
        """JSON errors under /api/ (404, 405, 413 ...); the default pages elsewhere."""
        if has_request_context() and request.path.startswith("/api/"):
            return json_error(error.code or 500, error.description or error.name)
        return error

    return app
