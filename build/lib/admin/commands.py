"""``pop3srv token mint`` and ``pop3srv sessions [--follow]``: the admin tasks from a shell.

``token mint`` signs offline with the configuration's secrets (same fields, checks and claims
as ``POST /api/tokens``); ``sessions`` talks to a running server's admin API with the admin token
from the configuration or ``state-dir/admin-token``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from typing import Any, TextIO

import httpx
import trio
from trio_websocket import ConnectionClosed, HandshakeError

from admin.client import (
    AdminApiError,
    admin_url,
    fetch_sessions,
    follow_sessions,
    format_event,
    format_table,
)
from admin.minting import FieldError, MintingUnavailable, TokenMinter, UnknownMailbox
from admin.tokenfile import admin_token_path, read_admin_token
from pop3srv.config_model import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: option dest -> claim name
CLAIM_OPTIONS = {
    "mailbox": "mailbox",
    "bucket": "bucket",
    "prefix": "prefix",
    "region": "region",
    "aws_access_key_id": "awsAccessKeyID",
    "aws_secret_access_key": "awsSecretAccessKey",
    "aws_session_token": "awsSessionToken",
    "provider": "provider",
}


def add_token_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser("token", help="mailbox passwords")
    sub = token.add_subparsers(dest="token_command", required=True)
    mint = sub.add_parser(
        "mint",
        help="print a signed JWT mailbox password (or a short app password)",
        description="Signs offline with jwt-secret from the configuration; the same claims as "
        "POST /api/tokens. Give --mailbox, or --bucket (with optional keys), or --provider.",
    )
    mint.add_argument("--mailbox", help="an entry of the mailboxes table")
    mint.add_argument("--bucket")
    mint.add_argument("--prefix")
    mint.add_argument("--region")
    mint.add_argument("--aws-access-key-id")
    mint.add_argument("--aws-secret-access-key")
    mint.add_argument("--aws-session-token")
    mint.add_argument("--provider", choices=("s3", "none", "demo"))
    lifetime = mint.add_mutually_exclusive_group()
    lifetime.add_argument("--ttl", type=int, help="lifetime in seconds (default 90 days)")
    lifetime.add_argument("--no-expiry", action="store_true", help="a token that never expires")
    mint.add_argument(
        "--app-password",
        metavar="MAILBOX",
        help="print the short app password of this mailboxes entry instead",
    )
    mint.add_argument("--json", action="store_true", help='print {"token", "expires_at"}')


def add_sessions_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = commands.add_parser("sessions", help="live sessions of a running server")
    sessions.add_argument("--follow", "-f", action="store_true", help="stream changes")
    sessions.add_argument("--url", help="admin app URL (default: from admin-host/admin-port)")
    sessions.add_argument("--json", action="store_true", help="print JSON")


def token_mint(settings: Settings, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    minter = TokenMinter.from_settings(settings)
    if args.app_password is not None:
        return _app_password(minter, args, out)
    body: dict[str, Any] = {
        claim: getattr(args, dest)
        for dest, claim in CLAIM_OPTIONS.items()
        if getattr(args, dest) is not None
    }
    if args.no_expiry:
        body["ttl"] = None
    elif args.ttl is not None:
        body["ttl"] = args.ttl
    try:
        minted = minter.mint(minter.parse(body))
    except MintingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FieldError as exc:
        message = exc.message
        for dest, claim in CLAIM_OPTIONS.items():
            if claim.startswith("aws"):
                message = message.replace(claim, "--" + dest.replace("_", "-"))
        print(f"error: {_option_of(exc.field)}: {message}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"token": minted.token, "expires_at": minted.expires_at}), file=out)
    else:
        print(minted.token, file=out)
        expires = (
            "never"
            if minted.expires_at is None
            else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(minted.expires_at))
        )
        print(f"expires: {expires}", file=sys.stderr)
    return EXIT_OK


def _option_of(field: str) -> str:
    """The command-line option of a request field (``awsAccessKeyID`` -> --aws-access-key-id)."""
    for dest, claim in CLAIM_OPTIONS.items():
        if claim == field:
            return "--" + dest.replace("_", "-")
    return "--ttl" if field == "ttl" else field


def _app_password(minter: TokenMinter, args: argparse.Namespace, out: TextIO) -> int:
    try:
        password = minter.app_password(args.app_password)
    except MintingUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnknownMailbox:
        print(f"error: --app-password: unknown mailbox {args.app_password!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"password": password, "mailbox": args.app_password}), file=out)
    else:
        print(password, file=out)
    return EXIT_OK


def sessions(settings: Settings, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    token = read_admin_token(settings.admin.token, settings.store.state_dir)
    if token is None:
        path = admin_token_path(settings.store.state_dir)
        print(
            f"error: no admin-token configured and no {path} (start the server once)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.url and not settings.admin.port:
        print("error: admin-port is 0 (admin app disabled); give --url", file=sys.stderr)
        return EXIT_USAGE
    base = args.url or admin_url(settings.admin.host, settings.admin.port)
    try:
        if args.follow:
            emit = partial(_emit, out, args.json)
            trio.run(partial(follow_sessions, base, token, emit))
        else:
            listed = trio.run(fetch_sessions, base, token)
            print(json.dumps(listed, indent=2) if args.json else format_table(listed), file=out)
    except KeyboardInterrupt:
        return EXIT_OK
    except AdminApiError as exc:
        print(f"error: {base}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (httpx.HTTPError, OSError, HandshakeError) as exc:
        print(f"error: cannot reach the admin app at {base}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ConnectionClosed as exc:
        print(f"connection closed: {exc.reason}", file=sys.stderr)
    return EXIT_OK


def _emit(out: TextIO, as_json: bool, message: dict[str, Any]) -> None:
    print(json.dumps(message) if as_json else format_event(message), file=out, flush=True)
