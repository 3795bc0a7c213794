"""The JSON API: live sessions (ending one, or every session of a mailbox), minting mailbox
passwords. The token registry, security and audit routes are in ``admin.registry_api``.

Errors are JSON ``{"error": ..., "field": ...}``; a bad field gets 400 naming it, a password the
configuration cannot mint gets 409 saying what to configure.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict
from typing import Any

from quart import Quart, Response, jsonify, request

from admin.deps import AdminContext
from admin.guards import api_denied, json_error
from admin.minting import (
    FieldError,
    MintingUnavailable,
    UnknownMailbox,
    new_jti,
    parse_label,
    token_record,
)
from pop3srv.auth.ledgerstore import REGISTRY_ERRORS
from pop3srv.registry import SessionSnapshot

MAX_NAME = 1024

#: characters of a user name shown (a client may send 16 KiB)
MAX_SHOWN = 256


def session_json(snapshot: SessionSnapshot) -> dict[str, Any]:
    """A session for the API and the live view; the client-chosen user name (and the mailbox)
    with control, bidi and other invisible characters shown as escapes."""
    data = asdict(snapshot)
    data["user"] = visible(snapshot.user)
    data["mailbox"] = visible(snapshot.mailbox)
    return data


def visible(text: str | None, limit: int = MAX_SHOWN) -> str | None:
    """``text`` with every control, format (bidi, zero-width) or separator character other
    than a plain space written as ``\\uXXXX`` (a backslash as two), cut to ``limit``
    characters."""
    if text is None:
        return None
    shown = "".join(_visible_char(char) for char in text[:limit])
    return shown + ("…" if len(text) > limit else "")


def _visible_char(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char != " " and unicodedata.category(char)[0] in "CZ":
        return f"\\u{ord(char):04x}"
    return char


def admin_address() -> str:
    return request.remote_addr or "unknown"


def admin_actor() -> str:
    """Who did it, for the token registry: the address and how they authenticated."""
    how = "api" if request.headers.get("Authorization") else "ui"
    return f"{admin_address()} ({how})"


def register(app: Quart, ctx: AdminContext) -> None:
    deps = ctx.deps

    @app.get("/api/sessions")
    async def list_sessions() -> Response:
        if (denied := api_denied(ctx, unsafe=False)) is not None:
            return denied
        return jsonify([session_json(s) for s in deps.registry.snapshots()])

    @app.delete("/api/sessions/<session_id>")
    async def end_session(session_id: str) -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        held = {s.id: s.mailbox for s in deps.registry.snapshots()}
        if not deps.registry.kick(session_id):
            return json_error(404, f"no live session {session_id!r}", "id")
        deps.metrics.admin_sessions_ended_total.inc()
        deps.audit.record("kick", admin_address(), session_id, detail=held.get(session_id) or "")
        return jsonify({"id": session_id, "ended": True})

    @app.delete("/api/sessions")
    async def end_mailbox_sessions() -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        mailbox = request.args.get("mailbox", "").strip()
        if not mailbox or len(mailbox) > MAX_NAME:
            return json_error(400, "mailbox: required, e.g. ?mailbox=NAME", "mailbox")
        # the name as sent, or as the API showed it (control characters escaped)
        ended = deps.registry.kick_where(
            lambda record: mailbox in (record.mailbox, visible(record.mailbox))
        )
        deps.metrics.admin_sessions_ended_total.inc(len(ended))
        outcome, detail = ("ok", " ".join(ended)) if ended else ("none", "no live session")
        deps.audit.record(
            "kick", admin_address(), f"mailbox {mailbox}", outcome=outcome, detail=detail
        )
        return jsonify({"mailbox": mailbox, "ended": ended})

    @app.post("/api/tokens")
    async def mint_token() -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        body = await json_body()
        if isinstance(body, Response):
            return body
        return await _mint(ctx, body)

    @app.post("/api/app-passwords")
    async def mint_app_password() -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        body = await json_body()
        if isinstance(body, Response):
            return body
        mailbox = _mailbox_field(body)
        if isinstance(mailbox, Response):
            return mailbox
        try:
            password = deps.minter.app_password(mailbox, ctx.app_password_version(mailbox))
        except MintingUnavailable as exc:
            return json_error(409, str(exc))
        except UnknownMailbox:
            return json_error(404, f"mailbox: unknown mailbox {mailbox!r}", "mailbox")
        deps.metrics.admin_passwords_minted_total.labels("app-password").inc()
        deps.audit.record("app-password", admin_address(), mailbox)
        return jsonify({"password": password, "mailbox": mailbox})

    @app.after_request
    async def no_store(response: Response) -> Response:
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response


async def _mint(ctx: AdminContext, body: object) -> Response:
    """Mint a JWT with a fresh ``jti`` and register it (label, mailbox, who minted it)."""
    deps = ctx.deps
    try:
        body, label = parse_label(body)
        mint_request = deps.minter.parse(body)
        jti = new_jti() if deps.ledger is not None else None
        minted = deps.minter.mint(mint_request, jti=jti)
    except MintingUnavailable as exc:
        return json_error(409, str(exc))
    except FieldError as exc:
        return json_error(400, str(exc), exc.field)
    mailbox = deps.minter.describe(mint_request)
    if deps.ledger is not None and jti is not None:
        try:
            await deps.ledger.register(
                token_record(mint_request, minted, jti, label, admin_actor())
            )
        except REGISTRY_ERRORS as exc:
            deps.audit.record("mint", admin_address(), mailbox, outcome="failed")
            return json_error(503, f"token registry unavailable, nothing minted: {exc}")
    deps.metrics.admin_passwords_minted_total.labels("jwt").inc()
    deps.audit.record("mint", admin_address(), mailbox, detail=_mint_detail(jti, label))
    return jsonify({"token": minted.token, "expires_at": minted.expires_at, "jti": jti})


def _mint_detail(jti: str | None, label: str) -> str:
    parts = [f"jti {jti}" if jti else "unregistered", f"label {label!r}" if label else ""]
    return ", ".join(p for p in parts if p)


def _mailbox_field(body: object) -> str | Response:
    if not isinstance(body, dict):
        return json_error(400, "body: must be a JSON object", "body")
    unknown = sorted(set(body) - {"mailbox"})
    if unknown:
        return json_error(400, f"{unknown[0]}: unknown field; use mailbox", unknown[0])
    mailbox = body.get("mailbox")
    if not isinstance(mailbox, str) or not mailbox.strip():
        return json_error(400, "mailbox: required, the name of a mailboxes entry", "mailbox")
    return mailbox.strip()


async def json_body() -> object | Response:
    raw = await request.get_data(as_text=False)
    try:
        body: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: recursion
        return json_error(400, "body: not valid JSON", "body")
    return body
