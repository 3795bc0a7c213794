"""The operator's routes beyond sessions and minting: the token registry and revocation,
app-password revocation, the security view (failed logins, delayed addresses, forgive) and the
audit trail. Every route needs the admin token (or the UI's session and CSRF token)."""

from __future__ import annotations

import ipaddress

from quart import Quart, Response, jsonify

from admin.api import admin_address, visible
from admin.deps import AdminContext
from admin.guards import api_denied, json_error
from pop3srv.auth.apppassword import app_password_id
from pop3srv.auth.ledgerstore import REGISTRY_ERRORS

MAX_FAILED = 100
MAX_DELAYED = 200
MAX_ADDRESS = 64


def register(app: Quart, ctx: AdminContext) -> None:
    """Adds this module's routes to ``app``, one group per concern."""
    register_token_routes(app, ctx)
    register_app_password_routes(app, ctx)
    register_security_routes(app, ctx)
    register_audit_routes(app, ctx)


def register_token_routes(app: Quart, ctx: AdminContext) -> None:
    """The token registry: list the minted tokens, revoke one (ending its sessions)."""
    deps = ctx.deps

    @app.get("/api/tokens")
    async def list_tokens() -> Response:
        if (denied := api_denied(ctx, unsafe=False)) is not None:
            return denied
        records = deps.ledger.records() if deps.ledger is not None else []
        return jsonify([record.public() for record in records])

    @app.delete("/api/tokens/<jti>")
    async def revoke_token(jti: str) -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        if deps.ledger is None:
            return json_error(409, "no token registry: minted tokens cannot be revoked")
        try:
            record = await deps.ledger.revoke(jti)
        except REGISTRY_ERRORS as exc:
            return json_error(503, f"token registry unavailable: {exc}")
        if record is None:
            return json_error(404, f"jti: unknown token {jti!r}", "jti")
        ended = deps.registry.kick_where(lambda session: session.token_id == jti)
        detail = f"{record.mailbox} {record.label!r}".strip() + _ended(ended)
        deps.audit.record("revoke", admin_address(), f"jti {jti}", detail=detail)
        return jsonify({**record.public(), "sessions_ended": ended})


def register_app_password_routes(app: Quart, ctx: AdminContext) -> None:
    """Revoking every app password of a mailbox (its version bumped, its sessions ended)."""
    deps = ctx.deps

    @app.post("/api/app-passwords/<mailbox>/revoke")
    async def revoke_app_passwords(mailbox: str) -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        entry = deps.minter.mailboxes.get(mailbox)
        if entry is None:
            return json_error(404, f"mailbox: unknown mailbox {mailbox!r}", "mailbox")
        if deps.ledger is None:
            return json_error(409, "no token registry: bump app-password-version instead")
        try:
            version = await deps.ledger.bump_app_password(mailbox, entry.app_password_version)
        except REGISTRY_ERRORS as exc:
            return json_error(503, f"token registry unavailable: {exc}")
        token_id = app_password_id(mailbox)
        ended = deps.registry.kick_where(lambda session: session.token_id == token_id)
        deps.audit.record(
            "app-password-revoke", admin_address(), mailbox, detail=f"version {version}"
        )
        return jsonify({"mailbox": mailbox, "version": version, "sessions_ended": ended})


def register_security_routes(app: Quart, ctx: AdminContext) -> None:
    """The security view: recent failed logins and delayed addresses; forgiving an address."""
    deps = ctx.deps

    @app.get("/api/security")
    async def security() -> Response:
        if (denied := api_denied(ctx, unsafe=False)) is not None:
            return denied
        delayed = [
            {"address": entry.address, "delay_seconds": entry.delay, "failures": entry.failures}
            for entry in deps.login_penalty.delayed()[:MAX_DELAYED]
        ]
        # client-chosen names: control, bidi and zero-width characters shown as escapes
        failed = [
            {**failure.public(), "user": visible(failure.user)}
            for failure in deps.failures.recent(MAX_FAILED)
        ]
        return jsonify({"failed_logins": failed, "delayed": delayed})

    @app.delete("/api/penalties/<path:address>")
    async def forgive(address: str) -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        if not valid_address(address):
            return json_error(400, "address: must be an IP address or network", "address")
        known = deps.login_penalty.forgive(address)
        deps.penalty.forgive(address)  # wrong admin tokens from it, too
        if not known:
            return json_error(404, f"address: {address} has no failures", "address")
        deps.audit.record("forgive", admin_address(), address)
        return jsonify({"address": address, "forgiven": True})


def register_audit_routes(app: Quart, ctx: AdminContext) -> None:
    """The audit trail of the admin's actions."""
    deps = ctx.deps

    @app.get("/api/audit")
    async def audit() -> Response:
        if (denied := api_denied(ctx, unsafe=False)) is not None:
            return denied
        return jsonify([entry.public() for entry in deps.audit.entries()])


def valid_address(text: str) -> bool:
    """An IPv4/IPv6 address, or a network (the penalty groups IPv6 clients by prefix)."""
    if len(text) > MAX_ADDRESS:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            return text == "unknown"
    return True


def _ended(ended: list[str]) -> str:
    return f"; ended {' '.join(ended)}" if ended else ""
