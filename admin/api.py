"""The JSON API: live sessions, ending one, minting mailbox passwords.

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
from admin.minting import FieldError, MintingUnavailable, UnknownMailbox
from pop3srv.registry import SessionSnapshot

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
        if not deps.registry.kick(session_id):
            return json_error(404, f"no live session {session_id!r}", "id")
        deps.metrics.admin_sessions_ended_total.inc()
        return jsonify({"id": session_id, "ended": True})

    @app.post("/api/tokens")
    async def mint_token() -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        body = await _json_body()
        if isinstance(body, Response):
            return body
        try:
            minted = deps.minter.mint(deps.minter.parse(body))
        except MintingUnavailable as exc:
            return json_error(409, str(exc))
        except FieldError as exc:
            return json_error(400, str(exc), exc.field)
        deps.metrics.admin_passwords_minted_total.labels("jwt").inc()
        return jsonify({"token": minted.token, "expires_at": minted.expires_at})

    @app.post("/api/app-passwords")
    async def mint_app_password() -> Response:
        if (denied := api_denied(ctx, unsafe=True)) is not None:
            return denied
        body = await _json_body()
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return json_error(400, "body: must be a JSON object", "body")
        unknown = sorted(set(body) - {"mailbox"})
        if unknown:
            return json_error(400, f"{unknown[0]}: unknown field; use mailbox", unknown[0])
        mailbox = body.get("mailbox")
        if not isinstance(mailbox, str) or not mailbox.strip():
            return json_error(400, "mailbox: required, the name of a mailboxes entry", "mailbox")
        mailbox = mailbox.strip()
        try:
            password = deps.minter.app_password(mailbox)
        except MintingUnavailable as exc:
            return json_error(409, str(exc))
        except UnknownMailbox:
            return json_error(404, f"mailbox: unknown mailbox {mailbox!r}", "mailbox")
        deps.metrics.admin_passwords_minted_total.labels("app-password").inc()
        return jsonify({"password": password, "mailbox": mailbox})

    @app.after_request
    async def no_store(response: Response) -> Response:
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response


async def _json_body() -> object | Response:
    raw = await request.get_data(as_text=False)
    try:
        body: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "body: not valid JSON", "body")
    return body
