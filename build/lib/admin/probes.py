"""Unauthenticated probes: liveness, readiness, Prometheus exposition."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Quart, Response, jsonify

from admin.deps import AdminContext


def register(app: Quart, ctx: AdminContext) -> None:
    deps = ctx.deps

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        """200 once the POP3 listeners are bound; 503 before that and while draining."""
        if deps.ready() and not ctx.closing.is_set():
            return jsonify({"status": "ready"})
        response = jsonify({"status": "not ready"})
        response.status_code = 503
        return response

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(deps.prometheus), 200, content_type=CONTENT_TYPE_LATEST)
